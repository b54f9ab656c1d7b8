"""WSSSInferencer: a photo and class names in, CAMs, seeds and an overlay out.

Built on mmengine's ``BaseInferencer`` as ``MMSegInferencer`` is, from

* an FMA-WSSS seed config (``mmwsss::fma/voc_mini_seeds_demo.py``, a path or
  a ``Config``) plus its prompt checkpoint: the trained classes only (any
  subset per image; images given no labels get the cls prompts'
  multi-label prediction, ``threshold``);
* the training-free CLIP-ES route (``config=None``, no checkpoint): any
  class names, fixed prompts;
* the training-free Grounding DINO + SAM route (``route='sam_text'`` or a
  ``SAMTextSeeder`` config): any class names, seeds only;
* the training-free SAM 3 concept route (``route='sam3'`` or a
  ``SAM3ConceptSeeder`` config): any class names, seeds only (no CAMs).

Per image it returns the CAMs (C x H x W at image size, channel 0 the
background = zeros), the CAA-refined CAMs, the seed of the config's seeder
(what the seed stage writes), the SAMS seed (when the config's seeder is
SAMS or a ``sam_generator`` / ``mask_dir`` is given: quasi-superpixels on the
fly, filling the mask cache when one is given) and an overlay with a legend
(:func:`mmwsss.io.render_seed_overlay`). Class indices of the seeds follow
``classes``: 0 background, 1..C in the order given.

Images are read as displayed (:func:`mmwsss.io.read_rgb_image`: EXIF
applied; greyscale, RGBA, palette and 16-bit images become 8-bit RGB);
arrays are (H, W), (H, W, 3) or (H, W, 4) RGB(A), any integer or float
dtype.
"""
import copy
import hashlib
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

__all__ = ['WSSSInferencer', 'InferenceError', 'CLIP_ES_CONFIG',
           'TINY_CLIP', 'IMAGE_EXTS']

CLIP_ES_CONFIG = 'mmwsss::clip_es/clip-es_vit-b16_voc12aug.py'
#: Training-free routes and their configs (``FMA-WSSS``: a config and a
#: checkpoint).
ROUTE_CONFIGS = {
    'clip_es': CLIP_ES_CONFIG,
    'sam3': 'mmwsss::sam3/voc_concept_seeds.py',
    'sam_text': 'mmwsss::sam_text/sam-text_gdino-swin-t_sam-vit-h_voc12aug.py',
}
#: Their tiny random stand-ins (no weights on disk).
TINY_SAM_TEXT = 'mmwsss::sam_text/sam-text_tiny_voc-mini.py'
ROUTES = ('clip_es', 'sam3', 'sam_text', 'fma')
SEED_ONLY = ('sam3', 'sam_text')
#: The tiny random CLIP of the demo (no weights needed).
TINY_CLIP = dict(
    model_name='mmwsss-tiny-ViT-16', pretrained=None, random_attn_scale=4.0)
IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
#: Smallest image side the CAMs work on (one CLIP patch).
MIN_SIDE = 2

try:  # mmengine's BaseInferencer (imported lazily by the stack otherwise)
    from mmengine.infer import BaseInferencer
except ImportError:  # pragma: no cover
    BaseInferencer = object


class InferenceError(ValueError):
    """A bad input or option, in one line."""


def _as_rgb_uint8(arr: np.ndarray, name: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a user array."""
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InferenceError(f'{name}: an image array must be (H, W), '
                             f'(H, W, 3) or (H, W, 4), got {arr.shape}')
    arr = arr[..., :3]
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.uint16:
        return (arr >> 8).astype(np.uint8)
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    arr = arr.astype(np.float64)
    if arr.max() <= 1.0:
        arr = arr * 255.
    return np.clip(np.round(arr), 0, 255).astype(np.uint8)


def _tiny_wanted(tiny: Optional[bool], *weights) -> bool:
    """Whether a route runs its tiny random models: asked for (``tiny``
    True), or not refused (None) and a weight file is not there.

    Args:
        tiny (bool, optional): The ``tiny_clip`` argument.
        *weights: The route's weight files (paths or None).

    Returns:
        bool: Use the tiny models.
    """
    if tiny is not None:
        return bool(tiny)
    return not all(w and osp.isfile(str(w)) for w in weights)


class WSSSInferencer(BaseInferencer):
    """Text to semantic mask for any photo.

    Args:
        config (str | Config, optional): An FMA-WSSS seed config (name,
            path or Config); None: the training-free CLIP-ES route.
        checkpoint (str, optional): Prompt checkpoint of ``config``.
        classes (Sequence[str], optional): Class names (CLIP-ES: required
            here or at call time; FMA-WSSS: a subset of the trained ones,
            default all).
        device (str): Torch device. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Config overrides.
        sam_generator (dict | str, optional): Quasi-superpixel generator
            config (a dict, or a generator config file with a
            ``sam_generator`` such as ``mmwsss::sams/felzenszwalb.py``) for
            the SAMS seed.
        mask_dir (str, optional): SAM mask cache used and filled.
        tiny_clip (bool, optional): CLIP-ES route: the tiny random CLIP.
            Default: when the configured CLIP's weights file is missing.
        show_progress (bool): Progress bar on several images.
    """
    preprocess_kwargs: set = set()
    forward_kwargs: set = set()
    visualize_kwargs: set = set()
    postprocess_kwargs: set = set()

    def __init__(self,
                 config=None,
                 checkpoint: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None,
                 device: str = 'cpu',
                 cfg_options: Optional[dict] = None,
                 sam_generator=None,
                 mask_dir: Optional[str] = None,
                 tiny_clip: Optional[bool] = None,
                 route: Optional[str] = None,
                 show_progress: bool = True) -> None:
        from mmwsss.apis.stage_io import load_config
        if route is not None and route not in ROUTES:
            raise InferenceError(f'route must be one of {ROUTES}, got '
                                 f'{route!r}')
        if config is None:
            route = route or 'clip_es'
            config = ROUTE_CONFIGS.get(route)
            if config is None:
                raise InferenceError(f'route {route!r} needs a config')
        cfg = load_config(config, cfg_options)
        if route is None:
            route = {
                'SAM3ConceptSeeder': 'sam3',
                'SAMTextSeeder': 'sam_text'
            }.get(cfg.model.get('type'), 'fma')
        self.route = route
        self.random_weights = False
        self._tmp = tempfile.TemporaryDirectory(prefix='mmwsss_infer_')
        if self.route == 'sam_text':
            if checkpoint is not None:
                raise InferenceError('the Grounding DINO + SAM route is '
                                     'training-free: no --checkpoint')
            det = cfg.model.get('detector_checkpoint')
            sam_ck = cfg.model.sam.get('checkpoint')
            if _tiny_wanted(tiny_clip, det, sam_ck):
                cfg = load_config(TINY_SAM_TEXT, cfg_options)
                cfg.model.detector.language_model.name = osp.join(
                    self._tmp.name, 'tiny_bert')
                self.random_weights = True
        elif self.route == 'sam3':
            if checkpoint is not None:
                raise InferenceError('the SAM 3 route is training-free: no '
                                     '--checkpoint')
            ck = cfg.model.sam3.get('checkpoint')
            if _tiny_wanted(tiny_clip, ck):
                cfg.model.sam3.update(
                    model_type='tiny', checkpoint=None,
                    confidence_threshold=0.3)
                self.random_weights = True
            cfg.model.device = device
        elif self.route == 'clip_es':
            if checkpoint is not None:
                raise InferenceError('the CLIP-ES route is training-free: '
                                     'give --config with --checkpoint')
            pre = cfg.model.clip.get('pretrained')
            if _tiny_wanted(tiny_clip, pre):
                cfg.model.clip.update(TINY_CLIP)
                self.random_weights = True
            cfg.model.reuse_seeds_from = None
            try:
                import pydensecrf  # noqa: F401
            except ImportError:  # CRF seeds need pydensecrf
                cfg.model.seeder = dict(
                    cls=dict(type='ThresholdSeeder', bg_threshold=0.5))
        else:
            if checkpoint is None:
                raise InferenceError(f'{config}: an FMA-WSSS config needs '
                                     'its prompt checkpoint (--checkpoint)')
            if not osp.isfile(checkpoint):
                raise InferenceError(f'checkpoint not found: {checkpoint}')
            cfg.model.reuse_seeds_from = None
            pre = cfg.model.clip.get('pretrained')
            if pre is None:
                self.random_weights = True
        if self.route in ('clip_es', 'fma'):
            cfg.model.output_cams = False
        self.sam_generator = self._generator_cfg(sam_generator)
        self.mask_dir = mask_dir
        if self.sam_generator is not None or mask_dir is not None:
            # the configured SAMS seeders take the given mask source
            for seeder in (cfg.model.get('seeder') or {}).values():
                if seeder and seeder.get('type') == 'SAMSSeeder':
                    seeder.update(
                        mask_dir=mask_dir, sam_generator=self.sam_generator,
                        fingerprint=None)
        self.checkpoint = checkpoint
        self.device = device
        self._base_cfg = cfg
        self._classes = None if classes is None else list(classes)
        if self.route in ('clip_es', 'sam_text'):
            self._set_clip_es_classes(cfg, self._classes or ['object'])
        super().__init__(
            model=cfg, weights=checkpoint, device=device, scope='mmseg',
            show_progress=show_progress)
        if self.route == 'sam3' and self._classes is not None:
            self._set_seed_only_classes(self._classes)
        self._check_classes(self._classes)

    def _set_seed_only_classes(self, classes: Sequence[str]) -> None:
        self.model.classes = ('background', ) + tuple(classes)
        self.model.text_names = list(classes)

    # ------------------------------------------------------------------
    # BaseInferencer parts
    # ------------------------------------------------------------------
    @staticmethod
    def _generator_cfg(gen):
        if gen is None or isinstance(gen, dict):
            return gen
        from mmwsss.apis.stage_io import load_config
        cfg = load_config(gen)
        if 'sam_generator' not in cfg:
            raise InferenceError(f'{gen}: no sam_generator in this config')
        return cfg.sam_generator.to_dict()

    @staticmethod
    def _set_clip_es_classes(cfg, classes: Sequence[str]) -> None:
        cfg.model.dataset = None
        cfg.model.classes = ['background'] + list(classes)
        cfg.model.pop('class_names', None)
        cfg.model.pop('text_names', None)

    def _init_model(self, cfg, weights, device='cpu'):
        import torch
        from mmengine.registry import init_default_scope
        from mmengine.runner import load_checkpoint
        from mmseg.registry import MODELS

        import mmwsss.registration  # noqa: F401
        init_default_scope('mmseg')
        rnd = cfg.get('randomness') or {}
        if rnd.get('seed') is not None:
            # as the Runner does before it builds the model: random weights
            # (a tiny or untrained CLIP) are those of the training / seed run
            from mmengine.runner import set_random_seed
            set_random_seed(rnd['seed'], rnd.get('deterministic', False),
                            rnd.get('diff_rank_seed', False))
        model = MODELS.build(copy.deepcopy(cfg.model))
        model.cfg = cfg
        if weights is not None:
            with torch.no_grad():
                load_checkpoint(model, weights, map_location='cpu',
                                logger='silent')
        model.to(device)
        model.eval()
        return model

    def _init_pipeline(self, cfg):
        return self._load_input

    def _init_collate(self, cfg):
        return lambda batch: batch

    def _init_visualizer(self, cfg):
        return None

    def visualize(self, inputs, preds, **kwargs):  # pragma: no cover
        return [p.get('vis') for p in preds]

    def postprocess(self, preds, visualization, return_datasamples=False,
                    **kwargs):  # pragma: no cover
        return preds

    # ------------------------------------------------------------------
    # classes
    # ------------------------------------------------------------------
    @property
    def trained_classes(self) -> List[str]:
        """Foreground classes of the model (FMA-WSSS: the trained ones)."""
        if self.route in SEED_ONLY:
            return list(self.model.classes[1:])
        return list(self.model.class_table.dataset_classes[1:])

    def _check_classes(self, classes: Optional[Sequence[str]]) -> None:
        if classes is None:
            return
        if len(classes) == 0:
            raise InferenceError('no class names given')
        if len(set(classes)) != len(classes):
            raise InferenceError(f'class names repeat: {list(classes)}')
        if self.route == 'fma':
            known = self.trained_classes
            bad = [c for c in classes if c not in known]
            if bad:
                raise InferenceError(
                    f'class {bad[0]!r} was not trained by this checkpoint; '
                    f'trained classes: {", ".join(known)}')

    def _use_classes(self, classes: Optional[Sequence[str]]) -> List[str]:
        """The class list of a call (CLIP-ES: rebuilds the model if the
        names change)."""
        classes = self._classes if classes is None else list(classes)
        if isinstance(classes, str):
            classes = [c.strip() for c in classes.split(',') if c.strip()]
        if self.route == 'sam3':
            if classes is None:
                raise InferenceError('the SAM 3 route needs class names '
                                     '(classes=[...] / --classes a,b)')
            self._check_classes(classes)
            self._set_seed_only_classes(classes)
            return list(classes)
        if self.route in ('clip_es', 'sam_text'):
            if classes is None:
                raise InferenceError(
                    f'the {self.route} route needs class names '
                    '(classes=[...] / --classes a,b)')
            self._check_classes(classes)
            if self.trained_classes != list(classes):
                self._set_clip_es_classes(self._base_cfg, classes)
                self.model = self._init_model(self._base_cfg, None,
                                              self.device)
            return list(classes)
        classes = self.trained_classes if classes is None else classes
        self._check_classes(classes)
        return list(classes)

    # ------------------------------------------------------------------
    # inputs
    # ------------------------------------------------------------------
    def _inputs_to_list(self, inputs) -> list:
        if isinstance(inputs, np.ndarray):
            return [inputs]
        if isinstance(inputs, (str, os.PathLike)):
            inputs = str(inputs)
            if osp.isdir(inputs):
                files = sorted(
                    osp.join(inputs, f) for f in os.listdir(inputs)
                    if f.lower().endswith(IMAGE_EXTS))
                if not files:
                    raise InferenceError(f'{inputs}: no image files '
                                         f'({", ".join(IMAGE_EXTS)})')
                return files
            return [inputs]
        return list(inputs)

    def _load_input(self, item, index: int = 0) -> dict:
        """``{'name', 'img_path', 'image'}`` of a path or an array (arrays
        are written to a temporary PNG: the seeders find masks by path)."""
        from mmwsss.io import read_rgb_image
        if isinstance(item, (str, os.PathLike)):
            path = str(item)
            if not osp.isfile(path):
                raise InferenceError(f'image not found: {path}')
            try:
                image = read_rgb_image(path)
            except Exception as err:  # cv2.error, ValueError, OSError
                msg = str(err).strip().splitlines()
                raise InferenceError(
                    f'{path}: not an image ({msg[-1] if msg else err})'
                ) from err
            name = osp.splitext(osp.basename(path))[0]
        else:
            image = _as_rgb_uint8(item, f'input {index}')
            digest = hashlib.sha1(image.tobytes() +
                                  str(image.shape).encode()).hexdigest()[:12]
            name = f'array_{digest}'
            path = osp.join(self._tmp.name, name + '.png')
            if not osp.isfile(path):
                from PIL import Image
                Image.fromarray(image).save(path)
        h, w = image.shape[:2]
        if min(h, w) < MIN_SIDE:
            raise InferenceError(f'{path}: image is {h}x{w}; both sides must '
                                 f'be at least {MIN_SIDE} pixels')
        return dict(name=name, img_path=path, image=image)

    # ------------------------------------------------------------------
    # prediction
    # ------------------------------------------------------------------
    def _sample(self, item: dict, labels: Sequence[int]):
        import torch
        from mmseg.structures import SegDataSample
        image = item['image']
        h, w = image.shape[:2]
        ds = SegDataSample(
            metainfo=dict(
                img_path=item['img_path'], img_shape=(h, w),
                ori_shape=(h, w), img_labels=[int(c) for c in labels]))
        bgr = np.ascontiguousarray(image[..., ::-1].transpose(2, 0, 1))
        data = self.model.data_preprocessor(
            dict(inputs=[torch.from_numpy(bgr)], data_samples=[ds]), False)
        return data['inputs'], data['data_samples']

    def predict_labels(self, image: np.ndarray,
                       threshold: float = 0.5) -> List[int]:
        """Model class ids (1..G) the cls prompts find in an image: softmax
        over the foreground logits, classes at or above ``threshold``
        (at least the top one)."""
        import torch
        item = dict(name='x', img_path='x', image=image)
        inputs, samples = self._sample(item, [])
        cam_ex = self.model.cam_extractor
        img = cam_ex.prepare_image(inputs, 0, samples[0])
        task = 'cls' if cam_ex.prompts.get('cls') is not None else 'seg'
        with torch.no_grad():
            logits = cam_ex.class_logits(img, task)[0, :self.model.num_fg]
        prob = logits.float().softmax(0)
        ids = torch.nonzero(prob >= threshold).flatten().tolist()
        if not ids:
            ids = [int(prob.argmax())]
        return [i + 1 for i in ids]

    def _sams_seeder(self):
        task = self.model.test_task
        seeder = self.model.seed_predictor.seeders.get(task)
        if type(seeder).__name__ == 'SAMSSeeder':
            return seeder
        if self.sam_generator is None and self.mask_dir is None:
            return None
        from mmseg.registry import MODELS
        alpha = getattr(seeder, 'alpha', 0.7)
        return MODELS.build(
            dict(type='SAMSSeeder', alpha=alpha, mask_dir=self.mask_dir,
                 sam_generator=self.sam_generator))

    def predict_one(self,
                    item: dict,
                    classes: Sequence[str],
                    labels: Optional[Sequence[str]] = None,
                    threshold: float = 0.5,
                    return_vis: bool = True) -> dict:
        """Everything for one loaded image (:meth:`_load_input`)."""
        import torch
        from mmwsss.functional.gradcam import normalized_at_size
        from mmwsss.io import render_seed_overlay
        table = self.trained_classes
        # model class id (1..G) -> output index (1..C, order of classes)
        out_index = {table.index(c) + 1: i + 1 for i, c in enumerate(classes)}
        if labels is not None:
            self._check_classes(list(labels))
            bad = [c for c in labels if c not in classes]
            if bad:
                raise InferenceError(f'label {bad[0]!r} is not one of the '
                                     f'classes {list(classes)}')
            ids = [table.index(c) + 1 for c in labels]
        elif self.route == 'fma':
            ids = [
                i for i in self.predict_labels(item['image'], threshold)
                if i in out_index
            ]
        else:
            ids = sorted(out_index)
        image = item['image']
        h, w = image.shape[:2]
        names = ['background'] + list(classes)
        if self.route in SEED_ONLY:  # seeds only: no CAMs
            with torch.no_grad():
                if self.route == 'sam3':
                    seed = self.model.seed_image(image, ids)
                else:
                    bgr = torch.from_numpy(
                        np.ascontiguousarray(
                            image[..., ::-1].transpose(2, 0, 1))).float()
                    seed = self.model.seed_image(bgr, ids, rgb=image)
            seed = seed.cpu().numpy().astype(np.uint8)
            res = dict(
                name=item['name'], img_path=item['img_path'], classes=names,
                labels=[names[i] for i in ids], cams=None, caa_cams=None,
                seed=seed, sams_seed=None, mask=seed)
            if return_vis:
                res['vis'] = render_seed_overlay(image, seed, names)
            return res
        inputs, samples = self._sample(item, ids)
        ds = samples[0]
        sp = self.model.seed_predictor
        task = self.model.test_task
        multi_hot = self.model.multi_hot(samples)
        fg = torch.nonzero(multi_hot[0]).flatten()
        C = len(classes) + 1
        cams_full = np.zeros((C, h, w), np.float32)
        caa_full = np.zeros((C, h, w), np.float32)
        if len(fg):
            raw, attn = self.model.cam_extractor.image_cams(
                inputs, 0, ds, multi_hot[0:1], task, sp.attn_layers(task))
            raw = raw.detach()
            with torch.autocast(inputs.device.type, enabled=False):
                refined = sp.refine(raw, attn, task)
            chans = [out_index[int(c) + 1] for c in fg]
            cams_full[chans] = normalized_at_size(raw.float(),
                                                  (h, w)).cpu().numpy()
            caa_full[chans] = normalized_at_size(refined.float(),
                                                 (h, w)).cpu().numpy()
        else:
            refined = inputs.new_zeros((0, 1, 1))
        lut = np.zeros(max(len(table) + 2, 256), np.uint8)
        for k, v in out_index.items():
            lut[k] = v
        lut[255] = 255

        def to_out(seed) -> np.ndarray:
            return lut[seed.cpu().numpy().astype(np.int64)]

        from mmwsss.io.mask_cache import MaskCacheError
        try:
            seed = to_out(sp.seeder(task)(refined, fg, (h, w),
                                          data_sample=ds))
            sams = self._sams_seeder()
            sams_seed = None
            if sams is not None:
                sams_seed = (seed if sams is sp.seeders.get(task) else to_out(
                    sams(refined, fg, (h, w), data_sample=ds)))
        except MaskCacheError as err:
            raise InferenceError(
                f'{err} (or give a generator: sam_generator= / '
                '--sam-generator mmwsss::sams/felzenszwalb.py)') from err
        final = seed if sams_seed is None else sams_seed
        res = dict(
            name=item['name'],
            img_path=item['img_path'],
            classes=names,
            labels=[names[out_index[i]] for i in ids],
            cams=cams_full,
            caa_cams=caa_full,
            seed=seed,
            sams_seed=sams_seed,
            mask=final)
        if return_vis:
            res['vis'] = render_seed_overlay(image, final, names)
        return res

    def __call__(self,
                 inputs,
                 classes: Optional[Sequence[str]] = None,
                 labels: Optional[Union[Sequence[str],
                                        Sequence[Sequence[str]]]] = None,
                 threshold: float = 0.5,
                 return_vis: bool = True,
                 out_dir: Optional[str] = None,
                 overwrite: bool = False) -> List[dict]:
        """Predict images.

        Args:
            inputs: An image path, an array, a folder, or a list of these.
            classes (Sequence[str] | str, optional): Class names (output
                indices 1..C in this order).
            labels: Classes present, for all images (a list of names) or per
                image (a list of lists); None: all ``classes`` (CLIP-ES) or
                the cls prompts' prediction (FMA-WSSS, ``threshold``).
            threshold (float): Presence threshold of the prediction.
            return_vis (bool): Add ``'vis'`` (overlay with legend).
            out_dir (str, optional): Write ``<name>.png`` (class indices)
                and ``overlays/<name>.jpg``; images with a finished mask
                there are skipped (their result is ``{'name', 'skipped'}``)
                unless ``overwrite``.
            overwrite (bool): Recompute finished images.

        Returns:
            list[dict]: Per image: ``name``, ``img_path``, ``classes``
            (background first), ``labels``, ``cams`` and ``caa_cams``
            ((C+1, H, W) float32 in [0, 1]), ``seed``, ``sams_seed`` (or
            None) and ``mask`` ((H, W) uint8), ``vis``.
        """
        from mmwsss.utils.progress import Progress
        classes = self._use_classes(classes)
        items = self._inputs_to_list(inputs)
        per_image = (labels is not None and len(labels) > 0
                     and not isinstance(labels[0], str))
        if per_image and len(labels) != len(items):
            raise InferenceError(f'{len(labels)} label lists for '
                                 f'{len(items)} images')
        results = []
        seq = list(enumerate(items))
        bar = (Progress(len(seq))
               if self.show_progress and len(seq) > 1 else None)
        for i, item in seq:
            results.append(
                self._one(i, item, classes,
                          labels[i] if per_image else labels, threshold,
                          return_vis, out_dir, overwrite))
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.close()
        return results

    def _one(self, i, item, classes, labels, threshold, return_vis, out_dir,
             overwrite) -> dict:
        if out_dir is not None and not overwrite and isinstance(
                item, (str, os.PathLike)):
            name = osp.splitext(osp.basename(str(item)))[0]
            if osp.isfile(osp.join(out_dir, name + '.png')):
                return dict(name=name, skipped=True)
        loaded = self._load_input(item, i)
        res = self.predict_one(loaded, classes, labels, threshold,
                               return_vis or bool(out_dir))
        if out_dir is not None:
            self._write(res, out_dir)
        return res

    @staticmethod
    def _write(res: dict, out_dir: str) -> None:
        import io

        from PIL import Image

        from mmwsss.io.atomic import atomic_write_bytes
        # the overlay first: the mask PNG marks the image finished
        for path, arr, fmt in (
            (osp.join(out_dir, 'overlays', res['name'] + '.jpg'),
             res['vis'], 'JPEG'),
            (osp.join(out_dir, res['name'] + '.png'), res['mask'], 'PNG')):
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, format=fmt)
            atomic_write_bytes(path, buf.getvalue())
