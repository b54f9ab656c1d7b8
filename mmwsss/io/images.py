"""Reading images the way every stage of mmwsss reads them."""
import numpy as np

__all__ = ['read_rgb_image']


def read_rgb_image(img_path: str) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB, as mmseg's
    ``LoadImageFromFile`` does (mmcv's ``imfrombytes``, any mmengine file
    backend).

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
