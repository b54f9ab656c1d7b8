"""FinishedSeedsHook: the test run resumes by the SeedMetric's rule."""
from types import SimpleNamespace

from mmcv.transforms import LoadImageFromFile
from mmengine.dataset import Compose

from mmwsss.datasets.transforms import LoadImageForSeeds
from mmwsss.engine import FinishedSeedsHook
from mmwsss.evaluation import SeedMetric


def _runner(seed_dir, overwrite, reuse):
    pipeline = Compose([LoadImageFromFile(to_float32=True)])
    return SimpleNamespace(
        test_evaluator=SimpleNamespace(metrics=[
            SeedMetric(seed_dir=seed_dir, overwrite=overwrite)
        ]),
        test_dataloader=SimpleNamespace(
            dataset=SimpleNamespace(pipeline=pipeline)),
        model=SimpleNamespace(reuse_seeds_from=reuse))


def test_loader_follows_the_metric_and_overwrite_recomputes(tmp_path):
    seeds = str(tmp_path / 'seeds')
    runner = _runner(seeds, False, seeds)
    FinishedSeedsHook().before_test(runner)
    loader = runner.test_dataloader.dataset.pipeline.transforms[0]
    assert isinstance(loader, LoadImageForSeeds)
    assert (loader.seed_dir, loader.overwrite) == (seeds, False)
    assert loader.to_float32
    assert runner.model.reuse_seeds_from == seeds  # resume: read back

    runner = _runner(seeds, True, seeds)
    FinishedSeedsHook().before_test(runner)
    loader = runner.test_dataloader.dataset.pipeline.transforms[0]
    assert loader.overwrite
    assert runner.model.reuse_seeds_from is None  # overwrite: recompute
