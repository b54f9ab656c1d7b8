"""mmwsss.apis.mm_tools: the process group is gone when a tool ends."""
import pytest
import torch.distributed as dist

from mmwsss.apis import mm_tools


def _init_single_gloo(tmp_path):
    dist.init_process_group(
        backend='gloo',
        init_method=f'file://{tmp_path / "store"}',
        rank=0,
        world_size=1)
    assert dist.is_initialized()


def test_finish_distributed(tmp_path):
    mm_tools.finish_distributed()  # no group: nothing to do
    assert not dist.is_initialized()
    _init_single_gloo(tmp_path)
    mm_tools.finish_distributed()
    assert not dist.is_initialized()


def test_mmseg_tool_destroys_its_group(tmp_path, monkeypatch):
    """A tool that initialised a group leaves none behind, also when it
    fails."""
    script = tmp_path / 'tool.py'
    script.write_text('raise RuntimeError("tool failed")\n')
    monkeypatch.setattr(mm_tools, 'mmseg_tool_path', lambda name: str(script))
    monkeypatch.setattr('sys.argv', ['x'])
    _init_single_gloo(tmp_path)
    with pytest.raises(RuntimeError, match='tool failed'):
        mm_tools.run_mmseg_tool('test.py', [])
    assert not dist.is_initialized()
