"""Reading and writing seed maps: one palette PNG per image.

A *seed* is an (H, W) uint8 map of class indices: 0 = background,
``1..C`` = foreground classes, optionally 255 where a method abstains. Every
seed producer of mmwsss (the FMA prompt model, the baselines, the seed
metric's writer) stores seeds with :func:`write_seed_png` at
:func:`seed_path`, and every consumer (the seed tools, PseudoLabelDataset)
reads them with :func:`read_seed_png`:

.. code-block:: python

    path = seed_path(seed_dir, data_sample.img_path)   # <seed_dir>/<stem>.png
    if finished_seed(seed_dir, data_sample.img_path) is None:   # resume
        write_seed_png(path, seed)                      # atomic, VOC palette

All writers are atomic (a hidden temporary file in the destination folder,
then :func:`os.replace`), so an interrupted run never leaves a truncated file
that a rerun would take as finished; existing files are kept unless
``overwrite=True``.

Resume has one rule, :func:`finished_seed`: a seed is finished when its PNG
in the seed folder is a non-empty file (:func:`~.atomic.is_done`) and the
run does not overwrite. Every path that skips finished images asks it (the
prompt model's ``reuse_seeds_from``, SeedMetric, ``LoadImageForSeeds``, the
coarse-seed stage of the training loop through :func:`pending_seeds`).
"""
import io
import os.path as osp
from typing import Iterable, List, Optional, Sequence, Union

import cv2
import numpy as np
from PIL import Image

from mmwsss.class_names import voc_colormap
from .atomic import atomic_write_bytes, is_done

__all__ = [
    'SEED_SUFFIX', 'seed_path', 'finished_seed', 'pending_seeds',
    'write_seed_png', 'read_seed_png',
    'seed_palette_colors', 'render_seed_overlay', 'write_seed_overlay'
]

#: File suffix of seed maps.
SEED_SUFFIX = '.png'


def seed_path(seed_dir: str, img_path: str) -> str:
    """Where the seed of an image lives: ``<seed_dir>/<image stem>.png``.

    Args:
        seed_dir (str): Folder of seed PNGs.
        img_path (str): Path (or file name) of the image.

    Returns:
        str: The seed file's path.
    """
    stem = osp.splitext(osp.basename(img_path))[0]
    return osp.join(seed_dir, stem + SEED_SUFFIX)


def finished_seed(seed_dir: Optional[str],
                  img_path: str,
                  overwrite: bool = False) -> Optional[str]:
    """The finished seed of an image, if a run may keep it (resume).

    The one place that answers "is this seed already written?": a seed is
    finished when :func:`seed_path` is a non-empty file (writers are atomic,
    so such a file is complete, see :func:`~.atomic.is_done`). A run that
    overwrites, or has no seed folder, keeps nothing.

    Args:
        seed_dir (str, optional): Folder of seed PNGs; None or ``''``: no
            folder, nothing is finished.
        img_path (str): Path (or file name) of the image.
        overwrite (bool): The run recomputes its seeds. Defaults to False.

    Returns:
        str | None: Path of the finished seed to keep (read it back, score
        it, skip the image), or None when the seed must be computed.
    """
    if not seed_dir or overwrite:
        return None
    path = seed_path(seed_dir, img_path)
    return path if is_done(path) else None


def pending_seeds(img_paths: Iterable[str],
                  seed_dirs: Union[str, Sequence[str], None],
                  overwrite: bool = False) -> List[int]:
    """Indices of the images that still need a seed.

    An image is pending when :func:`finished_seed` finds no finished seed
    of it in at least one of ``seed_dirs`` (a run that writes several
    folders at once, e.g. one per SAMS alpha, redoes an image unless all of
    them hold it).

    Args:
        img_paths (Iterable[str]): Image paths (or file names), in order.
        seed_dirs (str | Sequence[str] | None): The seed folder(s) the run
            writes; None: every image is pending.
        overwrite (bool): The run recomputes its seeds: every image is
            pending. Defaults to False.

    Returns:
        list[int]: Positions in ``img_paths`` of the pending images,
        ascending.
    """
    dirs = [seed_dirs] if isinstance(seed_dirs, str) else list(
        seed_dirs or [])
    return [
        i for i, img_path in enumerate(img_paths)
        if not dirs or any(
            finished_seed(d, img_path, overwrite) is None for d in dirs)
    ]


def seed_palette_colors(
        palette: Optional[Sequence[Sequence[int]]] = None) -> np.ndarray:
    """A full 256-entry colour table for seeds.

    Args:
        palette (sequence, optional): RGB triples for the first classes
            (e.g. ``dataset_meta['palette']``). Entries beyond it (and all
            entries when None) come from the VOC colour map, so 255 is drawn
            as VOC's ignore colour.

    Returns:
        np.ndarray: (256, 3) uint8 RGB.
    """
    colors = np.asarray(voc_colormap(256), dtype=np.uint8)
    if palette is not None and len(palette):
        pal = np.asarray(palette, dtype=np.int64).reshape(-1, 3)
        if len(pal) > 256 or pal.min() < 0 or pal.max() > 255:
            raise ValueError('palette must hold at most 256 RGB triples in '
                             f'0..255, got shape {pal.shape}')
        colors[:len(pal)] = pal
    return colors


def _check_seed(seed: np.ndarray, what: str) -> np.ndarray:
    seed = np.asarray(seed)
    if seed.ndim == 3 and seed.shape[0] == 1:
        seed = seed[0]
    if seed.ndim != 2:
        raise ValueError(f'{what}: a seed must be an (H, W) map of class '
                         f'indices, got shape {seed.shape}')
    if seed.dtype != np.uint8:
        if seed.size and (seed.min() < 0 or seed.max() > 255):
            raise ValueError(f'{what}: seed values must lie in 0..255, got '
                             f'{seed.min()}..{seed.max()}')
        seed = seed.astype(np.uint8)
    return seed


def write_seed_png(path: str,
                   seed: np.ndarray,
                   palette: Optional[Sequence[Sequence[int]]] = None,
                   overwrite: bool = False) -> bool:
    """Write a seed as a palette PNG, atomically.

    The pixel values are the class indices (what :func:`read_seed_png` and
    mmseg's ``LoadAnnotations`` read back); the palette only colours them
    for viewers.

    Args:
        path (str): Destination PNG (see :func:`seed_path`).
        seed (np.ndarray): (H, W) (or (1, H, W)) integer map, values in
            0..255 (0 background, 1..C classes, 255 optional ignore). A
            torch tensor is accepted too.
        palette (sequence, optional): RGB triples of the classes; the VOC
            colour map when None (see :func:`seed_palette_colors`).
        overwrite (bool): Replace an existing seed. Defaults to False
            (resume: finished seeds are skipped).

    Returns:
        bool: True if written, False if skipped because it exists.
    """
    if not overwrite and is_done(path):
        return False
    if hasattr(seed, 'detach'):
        seed = seed.detach().cpu().numpy()
    seed = _check_seed(seed, path)
    h, w = seed.shape
    img = Image.frombytes('P', (w, h), np.ascontiguousarray(seed).tobytes())
    img.putpalette(seed_palette_colors(palette).reshape(-1).tolist())
    buf = io.BytesIO()
    img.save(buf, format='PNG')
    return atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)


def read_seed_png(path: str) -> np.ndarray:
    """Read a seed PNG as class indices.

    Args:
        path (str): A palette (``P``) or grey (``L``) PNG; 16-bit or 32-bit
            integer PNGs are accepted when their values fit in 0..255.

    Returns:
        np.ndarray: (H, W) uint8.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it cannot be decoded or is not a single-channel map
            of class indices (e.g. an RGB colour rendering).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'seed file not found: {path}')
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            arr = np.array(img)
    except Exception as e:  # PIL raises several types for broken files
        raise ValueError(f'cannot read seed file {path}: {e}') from e
    if mode in ('P', 'L'):
        return arr.astype(np.uint8, copy=False)
    if mode in ('I', 'I;16', 'I;16B', 'I;16L') and arr.ndim == 2:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f'seed file {path} holds values '
                             f'{arr.min()}..{arr.max()} outside 0..255')
        return arr.astype(np.uint8)
    raise ValueError(
        f'seed file {path} has PIL mode {mode!r}; expected a palette (P) or '
        'grey (L) PNG whose pixel values are class indices, not colours')


def _blend(image: np.ndarray, labels: np.ndarray, colors: np.ndarray,
           alpha: float) -> np.ndarray:
    blend = (image.astype(np.float32) * (1 - alpha) +
             colors[labels].astype(np.float32) * alpha)
    return np.clip(blend + 0.5, 0, 255).astype(np.uint8)


def _caption(panel: np.ndarray, text: str, height: int = 20) -> np.ndarray:
    strip = np.full((height, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (4, height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, panel], axis=0)


def render_seed_overlay(image: np.ndarray,
                        seed: np.ndarray,
                        class_names: Sequence[str],
                        palette: Optional[Sequence[Sequence[int]]] = None,
                        alpha: float = 0.5,
                        gt: Optional[np.ndarray] = None) -> np.ndarray:
    """Blend a seed over its image and add a legend of the classes present.

    Without ``gt``: one panel, the seed blended over the image, then the
    legend. With ``gt``: three captioned panels side by side -- the image,
    the seed blended over it, the ground truth blended over it -- then the
    legend of the classes present in the seed or the ground truth; panels
    are separated by 4 white columns.

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB image.
        seed (np.ndarray): (H, W) class indices.
        class_names (sequence[str]): Names by class index; values outside
            (e.g. 255) are labelled ``'ignore'`` (255) or ``'#<value>'``.
        palette (sequence, optional): Class colours (VOC map by default).
        alpha (float): Weight of the seed colours. Defaults to 0.5.
        gt (np.ndarray, optional): (H, W) ground-truth class indices (255
            ignore), drawn as a third panel.

    Returns:
        np.ndarray: (max(panel height, legend height), panels width +
        legend width, 3) uint8 RGB; the legend is a white strip on the
        right with one colour swatch and name per class present (short
        panels are padded with white below so that no legend entry is cut).
    """
    seed = _check_seed(seed, 'overlay')
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError('image must be (H, W, 3) uint8 RGB, got '
                         f'{image.shape} {image.dtype}')
    if image.shape[:2] != seed.shape:
        raise ValueError(f'image size {image.shape[:2]} differs from seed '
                         f'size {seed.shape}')
    colors = seed_palette_colors(palette)
    counts = np.bincount(seed.ravel(), minlength=256)
    vis = _blend(image, seed, colors, alpha)
    if gt is not None:
        gt = _check_seed(gt, 'overlay ground truth')
        if gt.shape != seed.shape:
            raise ValueError(f'ground truth size {gt.shape} differs from '
                             f'seed size {seed.shape}')
        counts = counts + np.bincount(gt.ravel(), minlength=256)
        gap = np.full((image.shape[0] + 20, 4, 3), 255, np.uint8)
        vis = np.concatenate([
            _caption(image, 'image'), gap,
            _caption(vis, 'seed'), gap,
            _caption(_blend(image, gt, colors, alpha), 'ground truth')
        ], axis=1)

    present = np.flatnonzero(counts)
    names = []
    for v in present:
        if v < len(class_names):
            names.append(str(class_names[v]))
        else:
            names.append('ignore' if v == 255 else f'#{v}')
    h = vis.shape[0]
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1
    row, box = 20, 14
    text_w = max(
        [cv2.getTextSize(n, font, scale, thick)[0][0] for n in names] + [0])
    legend = np.full((max(h, row * len(names) + 8), box + text_w + 16, 3),
                     255, np.uint8)
    for i, (v, name) in enumerate(zip(present, names)):
        y = 6 + i * row
        legend[y:y + box, 4:4 + box] = colors[v]
        cv2.putText(legend, name, (box + 10, y + box - 2), font, scale,
                    (0, 0, 0), thick, cv2.LINE_AA)
    if legend.shape[0] > h:  # more classes than fit: extend the panels
        pad = np.full((legend.shape[0] - h, vis.shape[1], 3), 255, np.uint8)
        vis = np.concatenate([vis, pad], axis=0)
    return np.concatenate([vis, legend], axis=1)


def write_seed_overlay(path: str,
                       image: np.ndarray,
                       seed: np.ndarray,
                       class_names: Sequence[str],
                       palette: Optional[Sequence[Sequence[int]]] = None,
                       alpha: float = 0.5,
                       overwrite: bool = False,
                       quality: int = 90,
                       gt: Optional[np.ndarray] = None) -> bool:
    """Write :func:`render_seed_overlay` as a JPEG, atomically.

    Args:
        path (str): Destination ``.jpg`` path.
        image (np.ndarray): (H, W, 3) uint8 RGB image.
        seed (np.ndarray): (H, W) class indices.
        class_names (sequence[str]): Names by class index.
        palette (sequence, optional): Class colours (VOC map by default).
        alpha (float): Weight of the seed colours. Defaults to 0.5.
        overwrite (bool): Replace an existing file. Defaults to False.
        quality (int): JPEG quality. Defaults to 90.
        gt (np.ndarray, optional): (H, W) ground truth: image | seed |
            ground truth side by side (see :func:`render_seed_overlay`).

    Returns:
        bool: True if written, False if skipped because it exists.
    """
    if not overwrite and is_done(path):
        return False
    vis = render_seed_overlay(image, seed, class_names, palette, alpha, gt=gt)
    ok, buf = cv2.imencode('.jpg', vis[..., ::-1].copy(),
                           [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise RuntimeError(f'JPEG encoding failed for {path}')
    return atomic_write_bytes(path, buf.tobytes(), overwrite=overwrite)
