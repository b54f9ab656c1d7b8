"""mmwsss models: frozen CLIP, prompt learners, CAM tools, SAMS, baselines.

Importing this package registers every model component into
``mmseg.registry.MODELS``. The pure numeric modules (``gradcam``, ``caa``,
``losses``, ``sams.seeding``, ``sams.mask_filter``) import nothing from
OpenMMLab; their registered wrappers are added here.
"""
from . import baselines, clip, decode_heads, sams  # noqa: F401
from mmseg.registry import MODELS  # noqa: E402

from .losses import CALLoss, MCLLoss  # noqa: E402

MODELS.register_module(module=MCLLoss)
MODELS.register_module(module=CALLoss)

from . import fma_prompt_model, prompt_learners, seeders  # noqa: E402,F401
from .fma_prompt_model import FMAPromptModel  # noqa: E402,F401

