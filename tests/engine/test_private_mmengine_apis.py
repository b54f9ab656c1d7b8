"""The private mmengine APIs that mmwsss/engine/loops.py relies on (checked
against mmengine 0.10.7). Fails loudly, naming the API, when an mmengine
release drops or changes one, before any training run trips over it."""
import inspect

import mmengine
from mmengine.hooks import CheckpointHook
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from mmwsss.engine import loops


def test_infinite_dataloader_iterator_restarts_the_loader():
    from mmengine.runner.loops import _InfiniteDataloaderIterator  # noqa
    it = loops._infinite_iterator(DataLoader(list(range(3)), batch_size=2))
    got = [next(it).tolist() for _ in range(4)]
    assert got == [[0, 1], [2], [0, 1], [2]], (
        f'mmengine {mmengine.__version__}: _InfiniteDataloaderIterator '
        'no longer restarts the loader')


def test_runner_randomness_cfg_and_checkpoint_hook_save():
    src = inspect.getsource(Runner.__init__)
    assert 'self._randomness_cfg' in src, (
        f'mmengine {mmengine.__version__}: Runner no longer stores '
        '_randomness_cfg (used by loops._diff_rank_seed)')
    save = getattr(CheckpointHook, '_save_checkpoint_with_step', None)
    assert callable(save), (
        f'mmengine {mmengine.__version__}: CheckpointHook.'
        '_save_checkpoint_with_step is gone (used by '
        'loops._save_via_checkpoint_hook)')
    params = list(inspect.signature(save).parameters)
    assert params[:4] == ['self', 'runner', 'step', 'meta'], params
