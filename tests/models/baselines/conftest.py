"""Baseline tests run tiny models: one intra-op thread (two spinning
OpenMP threads on the shared 2-core CPU make them several times slower)."""
import pytest
import torch


@pytest.fixture(scope='module', autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
