"""Loading transforms: image loading for seed writing (finished images never
stop a rerun) and ground truth for datasets where only some images have it."""
from typing import Optional

import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations
from mmengine.logging import print_log
from mmseg.registry import TRANSFORMS
from PIL import Image

from mmwsss.io import finished_seed

__all__ = ['LoadImageForSeeds', 'LoadOptionalAnnotations']


@TRANSFORMS.register_module()
class LoadImageForSeeds(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` for the seed-writing test pipelines.

    An image that cannot be read (corrupt or not an image) is

    - skipped when its seed in ``seed_dir`` is finished
      (:func:`mmwsss.io.finished_seed` with ``overwrite``): a black
      placeholder of the seed's size stands in for it (a warning names it),
      and the model reads the finished seed back
      (``FMAPromptModel.reuse_seeds_from``) and SeedMetric scores the file;
    - otherwise one error naming the image.

    Args:
        seed_dir (str, optional): Seed folder of the run (the
            ``seed_dir`` of SeedMetric / ``reuse_seeds_from`` of the model).
            None: every unreadable image is an error.
        overwrite (bool): Seeds are being recomputed
            (``test_evaluator.overwrite=True``): no image is skipped.
        **kwargs: ``LoadImageFromFile`` arguments.
    """

    def __init__(self,
                 seed_dir: Optional[str] = None,
                 overwrite: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.seed_dir = seed_dir
        self.overwrite = overwrite

    def transform(self, results: dict) -> dict:
        """Load the image, or stand in for a finished unreadable one.

        Args:
            results (dict): With ``img_path``.

        Returns:
            dict: ``img``, ``img_shape``, ``ori_shape`` as
            ``LoadImageFromFile``.
        """
        path = results['img_path']
        try:
            out = super().transform(results)
            if out is not None:
                return out
            reason = 'no such file'
        except Exception as err:  # decoder / file errors, mmcv's assert
            reason = f'{type(err).__name__}: {err}'
        done = finished_seed(self.seed_dir, path, self.overwrite)
        if done is None:
            raise ValueError(
                f'cannot read image {path} ({reason}); fix it or drop it '
                'from the split')
        with Image.open(done) as seed:
            w, h = seed.size
        print_log(
            f'cannot read image {path} ({reason}); its seed {done} is '
            'finished, kept as it is', logger='current', level=30)
        img = np.zeros((h, w, 3), np.float32 if self.to_float32 else np.uint8)
        results['img'] = img
        results['img_shape'] = (h, w)
        results['ori_shape'] = (h, w)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(seed_dir={self.seed_dir!r}, '
                f'overwrite={self.overwrite})')



@TRANSFORMS.register_module()
class LoadOptionalAnnotations(LoadAnnotations):
    """mmseg's :class:`LoadAnnotations` for datasets where only some images
    have a ground-truth mask (``seg_map_path`` None for the others, as in
    :class:`~mmwsss.datasets.ImageLabelFolderDataset`).

    Samples with a mask load it exactly as ``LoadAnnotations`` does; the
    others pass through without ``gt_seg_map`` (seeds are then written but
    not scored).
    """

    def transform(self, results: dict) -> dict:
        """Load the mask when the sample has one.

        Args:
            results (dict): The pipeline results.

        Returns:
            dict: ``results``, with ``gt_seg_map`` when a mask exists.
        """
        if not results.get('seg_map_path'):
            return results
        return super().transform(results)
