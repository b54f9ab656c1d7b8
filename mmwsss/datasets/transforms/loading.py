"""Loading transforms of the WSSS datasets."""
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

__all__ = ['LoadOptionalAnnotations']


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
