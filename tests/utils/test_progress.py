"""Progress: mmengine's bar on a terminal, log lines (no carriage returns)
in captured logs; every loop of the package uses it."""
import io
import logging
import os.path as osp
import re

from mmengine.logging import MMLogger

from mmwsss.utils.progress import Progress


class _TTY(io.StringIO):

    def isatty(self):
        return True


def _logger(name):
    logger = MMLogger.get_instance(name, logger_name=name)
    lines = []
    handler = logging.Handler()
    handler.emit = lambda r: lines.append(r.getMessage())
    logger.addHandler(handler)
    return logger, lines


def test_log_lines_when_not_a_terminal():
    logger, lines = _logger('progress_test_lines')
    out = io.StringIO()
    with Progress(45, 'images', file=out, num_lines=4,
                  logger=logger) as progress:
        for _ in range(45):
            progress.update()
    assert out.getvalue() == ''  # nothing drawn, nothing with '\r'
    # every ceil(45 / 4) = 12 items, and the last one
    assert [re.match(r'images \[(\d+)/45\] ', ln).group(1)
            for ln in lines] == ['12', '24', '36', '45']
    assert all(', eta 0:0' in ln for ln in lines)


def test_bar_on_a_terminal():
    logger, lines = _logger('progress_test_tty')
    tty = _TTY()
    with Progress(3, 'images', file=tty, logger=logger) as progress:
        for _ in range(3):
            progress.update()
    text = tty.getvalue()
    assert '\r' in text and '3/3' in text and text.endswith('\n')
    assert lines == []


def test_no_carriage_returns_in_captured_output(repo_root):
    """Issue 12: mmengine's ProgressBar wrote '\\r' into captured logs (one
    huge line); no module or tool calls it directly any more."""
    import glob
    offenders = []
    for path in glob.glob(osp.join(repo_root, 'mmwsss', '**', '*.py'),
                          recursive=True) + glob.glob(
                              osp.join(repo_root, 'tools', '**', '*.py'),
                              recursive=True):
        if path.endswith(osp.join('utils', 'progress.py')):
            continue
        text = open(path).read()
        if re.search(r'\bProgressBar\b|\btrack_(parallel_|iter_)?progress\b',
                     text):
            offenders.append(osp.relpath(path, repo_root))
    assert offenders == []


def test_seed_scoring_reports_in_log_lines(voc_mini_root, tmp_path):
    import numpy as np
    from PIL import Image

    from mmwsss.io import write_seed_png
    from mmwsss.evaluation.seed_eval import (build_seed_eval_dataset,
                                             score_seed_dirs)
    dataset = build_seed_eval_dataset('voc', 'train', voc_mini_root)
    seeds = tmp_path / 'seeds'
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        gt = np.array(Image.open(info['seg_map_path']))
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        write_seed_png(str(seeds / f'{stem}.png'), gt)
    logger, lines = _logger('progress_test_scoring')  # the current logger
    score_seed_dirs({'gt': str(seeds)}, dataset, show_progress=True)
    assert any(ln.startswith('scoring seeds [10/10] ') for ln in lines), lines
