"""Hooks of mmwsss runs."""
from mmcv.transforms import LoadImageFromFile
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from mmwsss.datasets.transforms.loading import LoadImageForSeeds
from mmwsss.evaluation.seed_metric import SeedMetric

__all__ = ['FinishedSeedsHook']


@HOOKS.register_module()
class FinishedSeedsHook(Hook):
    """A rerun of seed writing (``tools/test.py`` with a SeedMetric that
    has a ``seed_dir``) resumes by one rule, the metric's.

    Before testing:

    - the test pipeline's ``LoadImageFromFile`` becomes
      :class:`~mmwsss.datasets.transforms.LoadImageForSeeds` with the
      metric's ``seed_dir`` and ``overwrite`` (same loading arguments), so
      an unreadable image whose seed is finished is skipped with a warning
      and any other unreadable image is one error naming it;
    - with the metric's ``overwrite=True``, a model that reads finished
      seeds back (``FMAPromptModel.reuse_seeds_from``) stops doing so, so
      every seed is recomputed (before, the finished seeds were read back
      and written again unchanged unless ``model.reuse_seeds_from=None``
      was given too).

    The model, the loader and SeedMetric all ask
    :func:`mmwsss.io.finished_seed`.
    """

    priority = 'VERY_HIGH'

    def before_test(self, runner) -> None:
        """Swap the image loader of the test pipeline; let the model
        recompute every seed when the metric overwrites."""
        metrics = [
            m for m in getattr(runner.test_evaluator, 'metrics', [])
            if isinstance(m, SeedMetric) and m.seed_dir
        ]
        dataset = runner.test_dataloader.dataset
        pipeline = getattr(dataset, 'pipeline', None)
        if not metrics or pipeline is None:
            print_log(
                'FinishedSeedsHook: no SeedMetric with a seed_dir or no '
                'dataset pipeline; the test pipeline is unchanged',
                logger='current',
                level=30)
            return
        metric = metrics[0]
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if metric.overwrite and getattr(model, 'reuse_seeds_from', None):
            print_log(
                'FinishedSeedsHook: test_evaluator.overwrite=True, so every '
                'seed is recomputed (model.reuse_seeds_from='
                f'{model.reuse_seeds_from!r} not read)',
                logger='current')
            model.reuse_seeds_from = None
        for i, t in enumerate(pipeline.transforms):
            if isinstance(t, LoadImageFromFile):
                pipeline.transforms[i] = LoadImageForSeeds(
                    seed_dir=metric.seed_dir,
                    overwrite=metric.overwrite,
                    to_float32=t.to_float32,
                    color_type=t.color_type,
                    imdecode_backend=t.imdecode_backend,
                    ignore_empty=t.ignore_empty,
                    backend_args=t.backend_args)
