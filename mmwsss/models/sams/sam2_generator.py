"""SAM 2 quasi-superpixels: SAM 2's automatic mask generator with the
FMA-WSSS level pipeline of :class:`~.levelled_amg.LevelledMaskGenerator`.

``sam2.SAM2AutomaticMaskGenerator`` is SAM's AMG on a SAM 2 image
predictor: prompts are normalised to the model resolution
(``transform_coords(normalize=True)``), each point is answered with SAM 2's
three multimask outputs, the predictor's ``max_hole_area`` /
``max_sprinkle_area`` are ``min_mask_region_area`` (they run only with
SAM 2's CUDA extension; without it SAM 2 warns and skips them, as here), and
masks are binarised at ``mask_threshold``. :class:`SAM2QuasiSuperpixel
Generator` keeps exactly that (without the optional ``use_m2m`` refinement,
which replaces the three levels by one mask) and adds the three changes: with
the changes off and ``min_mask_region_area=0`` its masks equal
``SAM2AutomaticMaskGenerator``'s (tested). One deliberate difference: sam2
1.1.0's ``generate`` never calls its own ``postprocess_small_regions``, so
``min_mask_region_area`` (100 in the paper) removes no island and fills no
hole on a machine without the CUDA extension; here the small-region
post-processing runs as for SAM (before the level filter), so the
quasi-superpixels of every family follow the paper's definition.

Models: the official SAM 2 / SAM 2.1 Hiera configs shipped in the sam2
package (hydra), e.g. ``'sam2.1_hiera_l'``; weights are local checkpoints
(``{'model': state_dict}``, SAM 2's key layout). ``'tiny'``, a small random
Hiera (the ``sam2.1_hiera_t`` config shrunk, 256 px input) for tests, is
added to :data:`SAM2_ARCHITECTURES` by :mod:`mmwsss.testing`.
"""
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import torch
from torch import nn

from mmseg.registry import MODELS
from ..architectures import ArchitectureTable
from .levelled_amg import LevelledMaskGenerator
from .mask_generator import build_generator_model
from .sam_builder import build_seeded_model, check_checkpoint_args

__all__ = [
    'SAM2_CONFIGS', 'SAM2_CHECKPOINT_URLS', 'SAM2_ARCHITECTURES',
    'build_sam2_model', 'sam2_model_config', 'SAM2QuasiSuperpixelGenerator'
]

_URL = 'https://dl.fbaipublicfiles.com/segment_anything_2/'
#: model_type -> (hydra config in the sam2 package, official checkpoint).
SAM2_CONFIGS: Dict[str, Tuple[str, str]] = {
    'sam2.1_hiera_t':
    ('configs/sam2.1/sam2.1_hiera_t.yaml', '092824/sam2.1_hiera_tiny.pt'),
    'sam2.1_hiera_s':
    ('configs/sam2.1/sam2.1_hiera_s.yaml', '092824/sam2.1_hiera_small.pt'),
    'sam2.1_hiera_b+': ('configs/sam2.1/sam2.1_hiera_b+.yaml',
                        '092824/sam2.1_hiera_base_plus.pt'),
    'sam2.1_hiera_l':
    ('configs/sam2.1/sam2.1_hiera_l.yaml', '092824/sam2.1_hiera_large.pt'),
    'sam2_hiera_t':
    ('configs/sam2/sam2_hiera_t.yaml', '072824/sam2_hiera_tiny.pt'),
    'sam2_hiera_s': ('configs/sam2/sam2_hiera_s.yaml',
                     '072824/sam2_hiera_small.pt'),
    'sam2_hiera_b+': ('configs/sam2/sam2_hiera_b+.yaml',
                      '072824/sam2_hiera_base_plus.pt'),
    'sam2_hiera_l': ('configs/sam2/sam2_hiera_l.yaml',
                     '072824/sam2_hiera_large.pt'),
}
#: Official SAM 2 checkpoints (the facebookresearch/sam2 README).
SAM2_CHECKPOINT_URLS: Dict[str, str] = {
    k: _URL + v[1]
    for k, v in SAM2_CONFIGS.items()
}

HW = Tuple[int, ...]


def _import_sam2() -> Any:
    try:
        import sam2  # noqa: F401  (initialises sam2's hydra config module)
        from sam2 import build_sam
    except ImportError as err:
        raise ImportError(
            'SAM 2 needs the sam2 package: SAM2_BUILD_CUDA=0 pip install '
            'sam2==1.1.0 (requirements/pinned.txt).') from err
    return build_sam


def sam2_model_config(config_name: str,
                      overrides: Optional[Dict[str, Any]] = None) -> Any:
    """The resolved OmegaConf ``model`` node of a SAM 2 hydra config.

    Args:
        config_name (str): Config in the sam2 package (e.g.
            ``'configs/sam2.1/sam2.1_hiera_l.yaml'``).
        overrides (dict, optional): Merged into the ``model`` node.
    """
    from hydra import compose
    from omegaconf import OmegaConf
    _import_sam2()
    cfg = compose(
        config_name=config_name,
        overrides=[
            # as sam2.build_sam.build_sam2(apply_postprocessing=True)
            '++model.sam_mask_decoder_extra_args.'
            'dynamic_multimask_via_stability=true',
            '++model.sam_mask_decoder_extra_args.'
            'dynamic_multimask_stability_delta=0.05',
            '++model.sam_mask_decoder_extra_args.'
            'dynamic_multimask_stability_thresh=0.98',
        ])
    model_cfg = cfg.model
    if overrides:
        OmegaConf.set_struct(model_cfg, False)
        model_cfg = OmegaConf.merge(model_cfg, overrides)
    OmegaConf.resolve(model_cfg)
    return model_cfg


def instantiate_sam2(model_cfg: Any) -> nn.Module:
    """Construct ``SAM2Base`` from its (resolved) ``model`` node."""
    from hydra.utils import instantiate
    return instantiate(model_cfg, _recursive_=True)


def _official(config_name: str) -> Callable[[], Any]:
    """Config reader of an official SAM 2 architecture."""
    return lambda: sam2_model_config(config_name)


#: model_type -> (reads the model config, constructs the model from it).
SAM2_ARCHITECTURES = ArchitectureTable(
    'SAM 2', {
        t: (_official(cfg), instantiate_sam2)
        for t, (cfg, _) in SAM2_CONFIGS.items()
    })


def build_sam2_model(model_type: str = 'sam2.1_hiera_l',
                     checkpoint: Optional[str] = None,
                     random_init: bool = False,
                     seed: int = 0,
                     device: Optional[str] = None) -> nn.Module:
    """Build a SAM 2 image model (``SAM2Base``).

    Args:
        model_type (str): A key of :data:`SAM2_ARCHITECTURES` (those of
            :data:`SAM2_CONFIGS`; ``'tiny'`` from :mod:`mmwsss.testing`).
        checkpoint (str, optional): Local checkpoint in SAM 2's layout
            (``{'model': state_dict}``; a bare state dict is accepted).
        random_init (bool): Allow an official architecture without a
            checkpoint (benchmarks and tests only).
        seed (int): Seed of the random initialisation.
        device (str, optional): None -> cuda if available, else cpu.

    Returns:
        nn.Module: The model in eval mode on ``device``.

    Raises:
        KeyError: Unknown ``model_type``.
        FileNotFoundError: ``checkpoint`` does not exist.
        ValueError: An official architecture with neither a checkpoint nor
            ``random_init``.
        RuntimeError: The checkpoint does not fit the architecture.
    """
    read_config, instantiate = SAM2_ARCHITECTURES.get(model_type)
    url = SAM2_CHECKPOINT_URLS.get(model_type)
    check_checkpoint_args('SAM 2', model_type, checkpoint, random_init, url)
    model_cfg = read_config()

    def construct() -> nn.Module:
        return instantiate(model_cfg)

    return build_seeded_model(
        'SAM 2',
        model_type,
        construct,
        checkpoint,
        seed,
        device,
        read_state=_read_sam2_state)


def _read_sam2_state(checkpoint: str) -> dict:
    """A SAM 2 checkpoint's state dict (``{'model': state_dict}`` or a bare
    state dict), on the CPU."""
    from mmwsss.compat import load_local_checkpoint
    state = load_local_checkpoint(checkpoint, map_location='cpu')
    if isinstance(state, dict) and isinstance(state.get('model'), dict):
        state = state['model']
    return state


def sam2_image_predictor(model: nn.Module, mask_threshold: float,
                         min_mask_region_area: int) -> Any:
    """SAM 2's image predictor as its AMG builds it.

    The backbone feature sizes are derived from the model resolution (SAM 2
    hard-codes those of 1024 px, which every official model uses).
    """
    from sam2.sam2_image_predictor import SAM2ImagePredictor
    predictor = SAM2ImagePredictor(
        model,
        mask_threshold=mask_threshold,
        max_hole_area=min_mask_region_area,
        max_sprinkle_area=min_mask_region_area)
    size = int(model.image_size)
    predictor._bb_feat_sizes = [(size // s, size // s) for s in (4, 8, 16)]
    return predictor


@MODELS.register_module()
class SAM2QuasiSuperpixelGenerator(LevelledMaskGenerator):
    """FMA-WSSS quasi-superpixels from SAM 2's three multimask outputs.

    Args:
        model_type (str): A key of :data:`SAM2_ARCHITECTURES` (default
            ``'sam2.1_hiera_l'``; ``'tiny'`` from :mod:`mmwsss.testing`).
        checkpoint (str, optional): Local path of the SAM 2 weights.
        random_init (bool): Random weights for an official architecture.
        seed (int): Seed of a random initialisation.
        device (str, optional): None -> cuda if available, else cpu.
        mask_threshold (float): Logit threshold of the masks (SAM 2's AMG
            option, 0.0).
        **kwargs: AMG parameters and the three changes, see
            :class:`~.levelled_amg.LevelledMaskGenerator` (the paper's
            values by default).
    """

    family = 'sam2'

    def __init__(self,
                 model_type: str = 'sam2.1_hiera_l',
                 checkpoint: Optional[str] = None,
                 random_init: bool = False,
                 seed: int = 0,
                 device: Optional[str] = None,
                 mask_threshold: float = 0.0,
                 **kwargs: Any) -> None:
        model, weights = build_generator_model(build_sam2_model, 'SAM 2',
                                               model_type, checkpoint,
                                               random_init, seed, device)
        self._mask_threshold = float(mask_threshold)
        predictor = sam2_image_predictor(
            model, self._mask_threshold,
            int(kwargs.get('min_mask_region_area', 100)))
        super().__init__(
            predictor,
            model_type=model_type,
            weights=weights,
            extra_fingerprint=dict(mask_threshold=self._mask_threshold),
            **kwargs)
        self.checkpoint = checkpoint

    @property
    def mask_threshold(self) -> float:
        """Logit threshold that binarises masks (config option)."""
        return self._mask_threshold

    def _release(self) -> None:
        self.predictor.reset_predictor()

    def _predict_levels(self, points: np.ndarray,
                        im_size: HW) -> Tuple[torch.Tensor, torch.Tensor]:
        """SAM 2's three multimask outputs for each point prompt (arguments
        and outputs: :meth:`LevelledMaskGenerator._predict_levels`)."""
        pred = self.predictor
        pts = torch.as_tensor(points, dtype=torch.float32, device=pred.device)
        in_points = pred._transforms.transform_coords(
            pts, normalize=True, orig_hw=im_size)
        in_labels = torch.ones(
            in_points.shape[0], dtype=torch.int, device=in_points.device)
        masks, iou_preds, _ = pred._predict(
            in_points[:, None, :],
            in_labels[:, None],
            multimask_output=True,
            return_logits=True)
        return masks, iou_preds
