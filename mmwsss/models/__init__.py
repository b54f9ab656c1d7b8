"""mmwsss models: frozen CLIP and DINOv2, prompt learners, the FMA-WSSS
model, SAM quasi-superpixel generators and SAMS TTA, seeders and baselines.

Importing this package registers the model components it defines into
``mmseg.registry.MODELS``. mmseg's models import mmcv's compiled ops, which
mmcv-lite lacks, so the stack additions of :mod:`mmwsss.compat` are made
first (idempotent; :func:`mmwsss.registration.register_all_modules` makes
them too).
"""
from mmwsss.compat import apply_all

apply_all()

from . import backbones, baselines, clip, decode_heads, sams  # noqa: E402,E501,F401
from . import fma_prompt_model, losses, prompt_learners, seeders  # noqa: E402,E501,F401
from . import weclip  # noqa: E402,F401
from .clip_cams import CLIPCAMExtractor  # noqa: E402
from .fma_prompt_model import FMAPromptModel  # noqa: E402
from .losses import CALLoss, MCLLoss  # noqa: E402
from .seed_predictor import SeedPredictor  # noqa: E402

__all__ = [
    'FMAPromptModel', 'CLIPCAMExtractor', 'SeedPredictor', 'MCLLoss',
    'CALLoss'
]
