"""One logging path: mmengine's current logger, repeated warnings once."""
import logging
from typing import List

import pytest
import torch
from mmengine.logging import MMLogger

import mmwsss.utils.log as log_module
from mmwsss.evaluation import SeedMetric
from mmwsss.models.clip import FrozenCLIP
from mmwsss.testing import TINY_CLIP_NAME
from mmwsss.utils import print_log_once


class _Records(logging.Handler):

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, part: str) -> List[str]:
        return [
            r.getMessage() for r in self.records if part in r.getMessage()
        ]


@pytest.fixture
def records(monkeypatch):
    """The records of mmengine's current logger, with a fresh once-set."""
    monkeypatch.setattr(log_module, '_SAID', set())
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_print_log_once_per_key(records):
    assert print_log_once('disk almost full') is True
    assert print_log_once('disk almost full') is False
    assert print_log_once('cache 1 rebuilt', key='cache') is True
    assert print_log_once('cache 2 rebuilt', key='cache') is False
    assert print_log_once('note', level=logging.INFO) is True
    assert records.messages('disk almost full') == ['disk almost full']
    assert records.messages('rebuilt') == ['cache 1 rebuilt']
    levels = {r.getMessage(): r.levelno for r in records.records}
    assert levels == {
        'disk almost full': logging.WARNING,
        'cache 1 rebuilt': logging.WARNING,
        'note': logging.INFO
    }


def test_frozen_clip_depth_clamp_said_once(records):
    """attn_layers beyond the depth: one line per run, however many models
    are built and however many forward passes ask for it."""
    torch.manual_seed(0)
    clips = [
        FrozenCLIP(model_name=TINY_CLIP_NAME, pretrained=None, attn_layers=8)
        for _ in range(2)
    ]
    depth = clips[0]._num_layers
    assert depth < 8 and clips[0].attn_layers == depth
    img = torch.rand(1, 3, 32, 32)
    for _ in range(3):
        out = clips[1].encode_image(img, attn_layers=8)
        assert out.attn.shape[1] == depth
    said = records.messages('attention layers asked')
    assert len(said) == 1, said
    assert f'> {depth} blocks of {TINY_CLIP_NAME}' in said[0]


def test_seed_metric_has_a_prefix_and_bare_names(records):
    metric = SeedMetric()
    assert metric.prefix == ''  # bare names: 'mIoU', not 'x/mIoU'
    assert not records.messages('prefix is not set')
    assert SeedMetric(prefix='seed').prefix == 'seed'
