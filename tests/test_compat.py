"""The stack fixes of mmwsss.compat."""
import os
import os.path as osp
import pickle

import pytest
import torch

from mmwsss import compat


def test_mmcv_ext_fallback_raises_only_when_called():
    import mmseg.models  # noqa: F401  (imports mmcv._ext through mmcv.ops)
    if not compat.mmcv_ext_is_fallback():
        pytest.skip('full mmcv with compiled ops is installed')
    from mmcv.ops import nms
    with pytest.raises(compat.MMCVOpUnavailableError, match='nms'):
        nms(torch.rand(3, 4), torch.rand(3), 0.5)
    # mmengine asks pkgutil for a loader; the stand-in must answer "none".
    from mmengine.utils.dl_utils import mmcv_full_available
    assert mmcv_full_available() is False


def test_pure_pytorch_segmentor_builds_and_runs():
    from mmseg.registry import MODELS
    model = MODELS.build(
        dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor'),
            backbone=dict(
                type='ResNetV1c', depth=18, base_channels=8,
                stem_channels=8),
            decode_head=dict(
                type='FCNHead', in_channels=64, in_index=3, channels=8,
                num_classes=3)))
    model.eval()
    out = model(torch.rand(1, 3, 32, 32), mode='tensor')
    assert out.shape == (1, 3, 1, 1)  # ResNetV1c: stride 32


def _fake_mmengine_checkpoint(path):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('mmwsss-test-compat')
    hub.update_scalar('train/loss', 1.5)
    torch.save(
        dict(
            meta=dict(epoch=1, iter=2),
            state_dict={'w': torch.ones(2)},
            message_hub=hub.state_dict()), path)


def test_own_run_checkpoint_loads(tmp_path):
    ckpt = tmp_path / 'iter_2.pth'
    _fake_mmengine_checkpoint(ckpt)
    (tmp_path / 'last_checkpoint').write_text(str(ckpt))
    from mmengine.runner import load_checkpoint
    model = torch.nn.Module()
    model.w = torch.nn.Parameter(torch.zeros(2))
    load_checkpoint(model, str(ckpt))
    assert torch.equal(model.w.data, torch.ones(2))


def test_plain_weights_load_anywhere(tmp_path):
    ckpt = tmp_path / 'weights.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}}, ckpt)
    out = compat.load_local_checkpoint(str(ckpt))
    assert torch.equal(out['state_dict']['w'], torch.ones(2))


@pytest.mark.skipif(
    not hasattr(torch.serialization, 'add_safe_globals'),
    reason='torch < 2.4 keeps weights_only=False by default')
def test_foreign_pickle_refused_with_clear_message(tmp_path):
    ckpt = tmp_path / 'foreign.pth'
    torch.save({'fn': os.getcwd}, ckpt)
    with pytest.raises(pickle.UnpicklingError, match='work dir'):
        compat.load_local_checkpoint(str(ckpt))


def test_missing_checkpoint_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        compat.load_local_checkpoint(osp.join(tmp_path, 'nope.pth'))
