"""Reading images the way every stage of mmwsss reads them.

**Orientation: as displayed.** A photo whose EXIF orientation tag says
"rotate" (phones write tags 5-8) is used as every image viewer shows it:
mmcv's and OpenCV's colour decoders apply the tag, so mmseg's
``LoadImageFromFile``, the seed tools and :func:`read_rgb_image` all see the
displayed image. Masks (ground truth, seeds) are class-index maps of the
*displayed* image; :func:`displayed_size` gives the size they must have.
"""
from typing import Tuple

import numpy as np

__all__ = ['read_rgb_image', 'displayed_size', 'exif_orientation']

#: EXIF orientation values that swap width and height (transpose, 90, 270).
SWAPPING_ORIENTATIONS = (5, 6, 7, 8)

_EXIF_ORIENTATION_TAG = 0x0112


def read_rgb_image(img_path: str) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB, as displayed (EXIF applied), as
    mmseg's ``LoadImageFromFile`` does (mmcv's ``imfrombytes``, any mmengine
    file backend).

    Args:
        img_path (str): Path or URI of the image.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.

    Raises:
        FileNotFoundError: The file does not exist (named).
        ValueError: The file cannot be decoded as an image (named).
    """
    import mmcv  # the image backends; imported on use so mmwsss.io is light
    from mmengine.fileio import get as file_get
    try:
        img = mmcv.imfrombytes(file_get(img_path), channel_order='rgb')
    except FileNotFoundError as err:
        raise FileNotFoundError(f'image not found: {img_path}') from err
    if img is None:
        raise ValueError(f'cannot decode image {img_path}')
    return img


def exif_orientation(img_path: str) -> int:
    """The EXIF orientation tag of an image file (1 when it has none).

    Args:
        img_path (str): A local image file.

    Returns:
        int: 1..8 (1 = as stored).

    Raises:
        ValueError: The file is not an image PIL can open (named).
    """
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(img_path) as img:
            value = img.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f'cannot decode image {img_path}: {err}') from err
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def displayed_size(img_path: str) -> Tuple[int, int]:
    """(H, W) of an image as displayed, from its header only.

    Args:
        img_path (str): A local image file.

    Returns:
        tuple[int, int]: Height and width after the EXIF orientation.

    Raises:
        ValueError: The file is not an image PIL can open (named).
    """
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(img_path) as img:
            w, h = img.size
            value = img.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f'cannot decode image {img_path}: {err}') from err
    return (w, h) if value in SWAPPING_ORIENTATIONS else (h, w)
