"""The HTML report (mmwsss.evaluation.report, tools/report.py): built from
the session's tiny pipeline run, its numbers equal the seed-scoring tool's,
and a headless Chromium loads it: every image, no console error, a
screenshot that is not blank."""
import json
import os
import os.path as osp
import re
import sys

import numpy as np
import pytest
from PIL import Image

from _helpers import is_blank_png, open_in_chromium

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools'))
import eval_seeds  # noqa: E402
import report as report_tool  # noqa: E402
import run_pipeline  # noqa: E402


@pytest.fixture(scope='module')
def pipeline_report(tiny_pipeline):
    """The report the pipeline writes at its end (run_pipeline's hook),
    with what the hook printed."""
    import contextlib
    import io
    runner = run_pipeline.build_runner(
        run_pipeline.parse_args(tiny_pipeline['argv']), in_process=True)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        path = run_pipeline.write_run_report(runner)
    with open(osp.join(osp.dirname(path), 'report.json')) as f:
        data = json.load(f)
    return dict(path=path, out=out.getvalue(), data=data)


def _summary_rows(html: str) -> dict:
    """Seed set -> the cells of its row in the page's summary table."""
    table = re.search(r'<table id="seed-summary">(.*?)</table>', html,
                      re.S).group(1)
    rows = {}
    for row in re.findall(r'<tr>(.*?)</tr>', table, re.S)[1:]:
        cells = re.findall(r'<td>(.*?)</td>', row, re.S)
        rows[cells[0]] = cells
    return rows


def _check_in_browser(path: str, tmp_path) -> dict:
    shot = str(tmp_path / 'shot.png')
    seen = open_in_chromium(path, shot)
    assert seen['errors'] == []
    assert seen['images'], 'no image on the page'
    for img in seen['images']:
        assert img['complete'] and img['width'] > 0, img
        assert not img['src'].startswith(('http:', 'https:', '//')), img
    assert not is_blank_png(shot)
    return seen


def test_pipeline_writes_the_report_and_prints_its_path(
        pipeline_report, tiny_pipeline):
    path = pipeline_report['path']
    assert path == osp.join(tiny_pipeline['work'], 'report', 'report.html')
    assert f'Report: {path}' in pipeline_report['out']
    data = pipeline_report['data']
    assert list(data['seed_sets']) == ['coarse seeds', 'fine seeds']
    # 3 of the 5 training images have masks
    for rep in data['seed_sets'].values():
        assert rep['num_images'] == 3 and len(rep['per_image']) == 3
    assert data['rank_set'] == 'fine seeds'
    assert len(data['worst']) == len(data['best']) == 1
    # 1 + 1 prompt iterations and 1 stage-2 iteration: mmengine logs only
    # the end of phase 2's epoch; the page names the curves it lacks (the
    # demo test checks all three)
    assert list(data['curves']) == ['phase 2 (seg prompts, CAL loss)']
    series = data['curves']['phase 2 (seg prompts, CAL loss)']
    assert series['step'] == [2] and series['lr'] and series['loss_cal_fg']
    assert data['missing_curves'] == [
        'phase 1 (cls prompts, MCL loss)', 'stage 2 (segmentor on the seeds)'
    ]
    results = tiny_pipeline['results']
    assert data['stage_seconds'] == {
        s: r['seconds']
        for s, r in results.items()
    }
    # the CAMs were recomputed and reproduce the saved seeds
    assert any('CAMs recomputed' in n for n in data['cam_notes'])
    assert not any('differs' in n for n in data['cam_notes'])
    with open(path) as f:
        html = f.read()
    assert 'RANDOM weights' in html and 'CAMs recomputed' in html
    assert 'stage 2 (segmentor on the seeds): no record' in html
    files = os.listdir(osp.join(osp.dirname(path), 'report_files'))
    assert {
        'scores_IoU.png', 'pixel_shares.png', 'stage_times.png',
        'confusion_fine_seeds.png'
    } <= set(files)


def test_report_numbers_are_the_seed_scoring_tools(pipeline_report,
                                                   tiny_pipeline, tmp_path):
    data = pipeline_report['data']
    with open(pipeline_report['path']) as f:
        rows = _summary_rows(f.read())
    seeds_cfg = osp.join(tiny_pipeline['work'], 'configs', 'seeds.py')
    for name, rep in data['seed_sets'].items():
        tool = eval_seeds.main([
            rep['seed_dir'], '--dataset', seeds_cfg, '--out',
            str(tmp_path / 'scores.json')
        ])
        for key in ('mIoU', 'mPrecision', 'mRecall', 'aAcc', 'per_class',
                    'confusion', 'num_pixels', 'unlabelled_pixels'):
            assert rep[key] == tool[key], (name, key)
        # the page prints the same numbers
        assert rows[name][3:7] == [
            f'{tool[k]:.2f}' for k in ('mIoU', 'mPrecision', 'mRecall', 'aAcc')
        ]
        # the share of background / ignore pixels: of the scored pixels
        bg = tool['per_class']['background']['pred_pixels']
        assert data['pixel_shares'][name]['background'] == pytest.approx(
            bg / tool['num_pixels'])
    # the pipeline's own seed mIoU (SeedMetric, 2 decimals) agrees
    assert data['seed_sets']['fine seeds']['mIoU'] == pytest.approx(
        tiny_pipeline['results']['seeds']['seed_mIoU'], abs=0.006)


def test_report_in_a_browser(pipeline_report, tmp_path):
    seen = _check_in_browser(pipeline_report['path'], tmp_path)
    assert seen['title'].startswith('FMA-WSSS report')
    # charts, 2 confusion maps, 2 strips, 1 curve, stage times
    assert len(seen['images']) == 3 + 1 + 2 + 2 + 1 + 1


def test_report_of_seed_folders_embedded(voc_mini_root, tmp_path):
    """tools/report.py on seed folders plus a dataset: the GT itself
    (mIoU 100) and all background; one file with embedded figures."""
    from mmwsss.evaluation import build_seed_eval_dataset, score_seed_dirs
    gt_dir = osp.join(voc_mini_root, 'SegmentationClass')
    perfect, flat = tmp_path / 'perfect', tmp_path / 'flat'
    flat.mkdir()
    with open(osp.join(voc_mini_root, 'ImageSets', 'Segmentation',
                       'val.txt')) as f:
        stems = f.read().split()
    for stem in stems:
        gt = np.array(Image.open(osp.join(gt_dir, stem + '.png')))
        Image.fromarray(np.zeros_like(gt)).save(flat / (stem + '.png'))
    os.symlink(gt_dir, perfect)
    out = str(tmp_path / 'report')
    path = report_tool.main([
        '--seeds', f'gt={perfect}', f'background={flat}', '--dataset', 'voc',
        '--split', 'val', '--data-root', voc_mini_root, '--out', out,
        '--num-images', '2', '--embed', '--rank-by', 'background'
    ])
    with open(osp.join(out, 'report.json')) as f:
        data = json.load(f)
    tool = score_seed_dirs({
        'gt': str(perfect),
        'background': str(flat)
    },
                           build_seed_eval_dataset(
                               'voc', 'val', data_root=voc_mini_root),
                           show_progress=False)
    assert data['seed_sets']['gt']['mIoU'] == 100.0
    for name in ('gt', 'background'):
        assert data['seed_sets'][name]['confusion'] == tool[name]['confusion']
        assert data['seed_sets'][name]['mIoU'] == tool[name]['mIoU']
    assert data['pixel_shares']['background']['background'] == 1.0
    assert len(data['worst']) == len(data['best']) == 2
    assert any('No CAMs' in n for n in data['cam_notes'])
    with open(path) as f:
        html = f.read()
    assert 'report_files/' not in html and 'data:image/png;base64,' in html
    assert 'No CAMs in the strips' in html
    _check_in_browser(path, tmp_path)


def test_browser_check_sees_a_broken_page(tmp_path):
    """The browser check fails a page with a missing image or a script
    error (so a passing report check means something)."""
    page = tmp_path / 'broken.html'
    page.write_text('<!DOCTYPE html><html><head><title>x</title></head>'
                    '<body><p>text</p><img src="missing.png">'
                    '<script>console.error("boom")</script></body></html>')
    seen = open_in_chromium(str(page), str(tmp_path / 'shot.png'))
    assert [i['width'] for i in seen['images']] == [0]
    assert any('boom' in e for e in seen['errors'])
    assert is_blank_png(str(tmp_path / "shot.png"))


def test_rank_images_and_pixel_shares():
    from mmwsss.evaluation.report import pixel_shares, rank_images
    per_image = {
        'a': dict(mIoU=50.0),
        'b': dict(mIoU=None),
        'c': dict(mIoU=10.0),
        'd': dict(mIoU=90.0),
        'e': dict(mIoU=30.0)
    }
    assert rank_images(per_image, 1) == (['c'], ['d'])
    # fewer than 2 x num scored images: the lists split them
    assert rank_images(per_image, 4) == (['c', 'e'], ['d', 'a'])
    assert rank_images({'a': dict(mIoU=5.0)}, 4) == (['a'], [])
    rep = dict(
        classes=['background', 'x'],
        per_class=dict(background=dict(pred_pixels=6), x=dict()),
        num_pixels=10,
        unlabelled_pixels=1)
    assert pixel_shares(rep) == pytest.approx(
        dict(background=0.6, ignore=0.1, foreground=0.3))


def test_report_without_ground_truth(tiny_pipeline, tmp_path):
    """Own data without masks: no scores and no strips, said on the page;
    the training curves are still there."""
    import shutil

    from mmwsss.evaluation.report import (ReportInputs, inputs_from_work_dir,
                                          write_report)
    work = tiny_pipeline['work']
    bare = str(tmp_path / 'bare')
    shutil.copytree(
        tiny_pipeline['train'], bare, ignore=shutil.ignore_patterns('*.png'))
    from_work = inputs_from_work_dir(work, cams=False)
    assert dict(from_work.settings)['mask generator'] == (
        'SAMQuasiSuperpixelGenerator (tiny), checkpoint none: RANDOM weights')
    inputs = ReportInputs(
        seed_dirs=from_work.seed_dirs,
        dataset=from_work.dataset,
        cfg_options={'test_dataloader.dataset.data_root': bare},
        scalar_runs=from_work.scalar_runs,
        stage_seconds=from_work.stage_seconds,
        title='no ground truth')
    path = write_report(inputs, str(tmp_path / 'report'))
    with open(osp.join(osp.dirname(path), 'report.json')) as f:
        data = json.load(f)
    assert data['seed_sets'] == {} and data['worst'] == data['best'] == []
    assert data['classes'] == ['background', 'person', 'car', 'plane']
    assert 'phase 2 (seg prompts, CAL loss)' in data['curves']
    with open(path) as f:
        html = f.read()
    assert 'Not scored: no ground truth.' in html
    assert 'Worst and best images' not in html


def test_report_tool_needs_a_work_dir_or_seeds_and_a_dataset(tmp_path):
    from mmwsss.evaluation import SeedEvalError
    with pytest.raises(SeedEvalError, match='work dir, or --seeds'):
        report_tool.build_inputs(report_tool.parse_args([]))
    with pytest.raises(SeedEvalError, match='not a pipeline work dir'):
        report_tool.build_inputs(report_tool.parse_args([str(tmp_path)]))
