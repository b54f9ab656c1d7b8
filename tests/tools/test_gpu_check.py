"""tools/gpu_check.py (``make gpu-check``): the benchmarks' summary lines
become table rows with the Table S1 figures and the projected hours; every
benchmark accepts the arguments of both forms; the CPU form runs every step
end to end (``--quick``: the pipeline on data/voc_mini with one iteration
per training stage, the mask benchmarks shrunk), so a broken step fails
CI; a failing step prints its log's last lines and the table still comes."""
import importlib.util
import os.path as osp

import pytest
import torch


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def gpu_check(repo_root):
    return _load(osp.join(repo_root, 'tools', 'gpu_check.py'), '_gpu_check')


# summary lines in each benchmark's documented format
OUTPUTS = dict(
    cam_speed='noise\ngradcam_ms=3321.3 caa_ms=31.7 peak_mib=753\n'
    'clip_ms=6220.1 cam_ms=3353.0 ratio=0.54\n',
    prompt_step='phase=cls step_s=9.551 peak_mib=597\n'
    'phase=seg step_s=14.492 peak_mib=1756\nschedule_h=73.21\n'
    'step_s=14.019 peak_mib=1756\n',
    sam_masks='level filter alone: 3 ms\n'
    'ours_peak_mib=120.5 stock_peak_mib=130.0\n'
    'ours_s=1.5000 stock_s=1.6000 ratio=0.9375\n',
    sam_hq_masks='ours_s=2.0000 rss_peak_mib=10.0\n',
    sam2_masks='ours_s=1.0000 rss_peak_mib=10.0 cuda_peak_mib=99.0\n',
    sam3_masks='per_prompt_peak_mib=5.0 batched_peak_mib=50.0\n'
    'per_prompt_s=9.0000 batched_s=3.0000 speedup=3.00\n',
    weight_free_masks='ours_s=0.2500 rss_peak_mib=30.0\n',
    sams_vs_crf='sams_peak_mib=2.0 crf_peak_mib=30.5\n'
    'sams_ms=14.000 crf_ms=1012.000 speedup=72.3\n',
    stage2_step='model=deeplabv3plus step_s=1.155 per_image_ms=577.3 '
    'peak_mib=628\nmodel=mask2former step_s=7.711 per_image_ms=3855.5 '
    'peak_mib=2743\n',
    baselines='pipeline=cam per_image_ms=43000.0 peak_mib=900\n'
    'pipeline=sam_text per_image_ms=61000.0 peak_mib=3000\n',
    weclip='part=train per_image_s=3.110 peak_mib=1143\n'
    'part=test per_image_s=44.500 peak_mib=1997\n')


def test_rows_of_every_benchmark(gpu_check):
    rows = {
        name: gpu_check.ROWS[name](gpu_check.summary_lines(text), 'arch')
        for name, text in OUTPUTS.items()
    }
    assert set(rows) == set(gpu_check.BENCHMARKS)
    cam = rows['cam_speed']
    assert cam[0][2:5] == (3353.0, 'ms/image', 753.0)
    # Table S1: 0.4 h of CAM inference over 10,582 images = 136.1 ms
    assert cam[0][5] == '136.1 ms (0.4 h / 10,582)'
    assert cam[1][2] == 31.7 and cam[1][5] == '3.4 ms (0.01 h / 10,582)'
    steps = rows['prompt_step']
    assert [r[2] for r in steps] == [9.551, 14.492, 73.21]
    assert steps[2][3] == 'h' and steps[2][5] == '1.9 h'
    assert [r[2] for r in rows['sam_masks']] == [1.5, 1.6]
    assert [r[4] for r in rows['sam_masks']] == [120.5, 130.0]
    assert rows['sam2_masks'][0][2:5] == (1.0, 's/image', 99.0)
    # SAM 3: the batched pass is the generator's time, the other beside it
    assert [r[2] for r in rows['sam3_masks']] == [3.0, 9.0]
    assert rows['sam3_masks'][0][4] == 50.0
    assert rows['weight_free_masks'][0][2] == 0.25
    sams, crf = rows['sams_vs_crf']
    assert (sams[2], sams[4], crf[2], crf[4]) == (14.0, 2.0, 1012.0, 30.5)
    assert crf[5] == '68.0 ms (0.2 h / 10,582)'
    assert [(r[0], r[2], r[4]) for r in rows['stage2_step']
            ] == [('stage 2 training step: deeplabv3plus', 1.155, 628.0),
                  ('stage 2 training step: mask2former', 7.711, 2743.0)]
    assert [r[2] for r in rows['baselines']] == [43000.0, 61000.0]
    assert [(r[0], r[2], r[4]) for r in rows['weclip']
            ] == [('WeCLIP+ training step', 3.11, 1143.0),
                  ('WeCLIP+ test', 44.5, 1997.0)]


def test_missing_summary_is_an_error(gpu_check):
    with pytest.raises(ValueError):
        gpu_check.ROWS['cam_speed'](gpu_check.summary_lines('cam_ms=oops\n'),
                                    'arch')


def test_both_forms_arguments_parse(gpu_check, repo_root):
    """Every benchmark accepts the arguments of the CPU and CUDA forms
    (parsed with --device cpu: this machine may have no GPU)."""
    for dev in ('cpu', 'cuda'):
        assert set(gpu_check.BENCH_ARGS[dev]) == set(gpu_check.BENCHMARKS)
        for name, extra in gpu_check.BENCH_ARGS[dev].items():
            script = gpu_check.SCRIPTS.get(name, name)
            mod = _load(
                osp.join(repo_root, 'tools', 'benchmarks', script + '.py'),
                f'_gc_{script}')
            args = mod.parse_args(['--device', 'cpu'] + extra +
                                  gpu_check.QUICK_ARGS.get(name, []))
            assert args.device == 'cpu'
    cuda = gpu_check.BENCH_ARGS['cuda']
    assert cuda['prompt_step'][:2] == ['--batch-size', '16']
    assert cuda['sam_masks'][:2] == ['--model-type', 'vit_h']
    assert '--model-name' not in cuda['prompt_step']  # ViT-B-16 default


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is present')
def test_cuda_form_needs_cuda(gpu_check, tmp_path):
    with pytest.raises(SystemExit, match='DEVICE=cpu'):
        gpu_check.main(['--work-dir', str(tmp_path), '--only', 'sams_vs_crf'])


def test_projected_hours(gpu_check):
    """Hours from measured times only: masks x 10,582 and x 82,081 per
    generator; the S1 pipeline (prompt schedule + CAMs + SAMS) beside
    2.3 h, with each generator's masks added; nothing from a missing step."""
    summaries = {
        name: gpu_check._merged(gpu_check.summary_lines(text))
        for name, text in OUTPUTS.items()
    }
    arch = gpu_check.ARCH['cuda']
    rows = gpu_check.projected_rows(summaries, 'GPU X', arch)
    by_name = {r[0]: r for r in rows}
    voc = by_name['masks for VOC trainaug (10,582 images): SAM']
    assert voc[2] == pytest.approx(1.5 * 10582 / 3600) and voc[3] == 'h'
    assert 'GPU X' in voc[1] and '1.5 s/image' in voc[1]
    coco = by_name['masks for COCO train (82,081 images): SAM 3 concepts']
    assert coco[2] == pytest.approx(3.0 * 82081 / 3600)  # batched
    assert len([r for r in rows if r[0].startswith('masks for')]) == 10
    total = by_name['FMA-WSSS VOC pipeline, S1 stages (projected)']
    want = 73.21 + (3353.0 + 14.0) * 10582 / 3.6e6
    assert total[2] == pytest.approx(want) and total[5] == '2.3 h'
    plus = by_name['  + masks: weight-free (Felzenszwalb)']
    assert plus[2] == pytest.approx(want + 0.25 * 10582 / 3600)
    # without SAMS measured: no pipeline row; without masks: no mask rows
    partial = dict(summaries)
    del partial['sams_vs_crf'], partial['sam_masks']
    names = [r[0] for r in gpu_check.projected_rows(partial, 'cpu', arch)]
    assert not any('pipeline' in n for n in names)
    assert not any(n.endswith(': SAM') for n in names)


def test_failed_step_prints_its_log(gpu_check, tmp_path, capsys, monkeypatch):
    """A step that fails prints its log's last lines; the others run and
    the table is still printed, naming the failed step (exit status 1)."""
    monkeypatch.setitem(gpu_check.SCRIPTS, 'cam_speed', 'no_such_benchmark')
    status = gpu_check.main([
        '--device', 'cpu', '--work-dir',
        str(tmp_path), '--only', 'cam_speed', '--log-lines', '5'
    ])
    out = capsys.readouterr().out
    assert status == 1
    assert 'FAILED (exit 2)' in out and 'last ' in out
    assert 'no_such_benchmark.py' in out  # python's own error, from the log
    assert '| cam_speed | FAILED, see logs/cam_speed.log |' in out
    assert 'gpu-check on CPU' in out


def test_cpu_form_every_step(gpu_check, tmp_path, capsys):
    """The CPU form of every step end to end (--quick --jobs 2: what CI
    runs, two steps at a time on the CI machine's two cores): the
    pipeline on data/voc_mini and every benchmark pass, the table has their
    rows with measured times, the Table S1 column and the projected hours
    of each mask generator and of the whole pipeline."""
    status = gpu_check.main([
        '--device', 'cpu', '--work-dir',
        str(tmp_path), '--quick', '--jobs', '2'
    ])
    out = capsys.readouterr().out
    assert status == 0, out[-6000:]
    table = (tmp_path / 'gpu_check.md').read_text()
    assert 'CPU (torch' in table and 'FMA-WSSS Table S1' in table
    assert 'FAILED' not in table
    lines = [ln for ln in table.splitlines() if ln.startswith('| ')][1:]
    names = [ln.strip('|').split('|')[0].strip() for ln in lines]
    for stage in ('sam_masks', 'prompts', 'seeds', 'stage2', 'test',
                  'test_sams'):
        assert f'pipeline: {stage}' in names, table
    for label in ('SAM', 'SAM-HQ', 'SAM 2', 'SAM 3 concepts',
                  'weight-free (Felzenszwalb)'):
        for dataset in ('VOC trainaug (10,582 images)',
                        'COCO train (82,081 images)'):
            assert f'masks for {dataset}: {label}' in names, table
    for name in ('prompt training step, cls phase', 'SAMS seeding',
                 'dense CRF (CPU, CLIP-ES)', 'masks: SAM 3 concepts',
                 'FMA-WSSS VOC pipeline, S1 stages (projected)'):
        assert name in names, table
    assert any(n.startswith('stage 2 training step') for n in names)
    assert any(n.startswith('baseline seeds') for n in names)
    for step in gpu_check.STEPS:
        assert (tmp_path / 'logs' / f'{step}.log').is_file()
    cam = [
        c.strip() for c in lines[names.index(
            'seed CAMs: GradCAM + CAA')].strip('|').split('|')
    ]
    assert cam[0] == 'seed CAMs: GradCAM + CAA' and cam[1] == 'tiny CLIP'
    assert float(cam[2].replace(',', '')) > 0 and cam[3] == 'ms/image'
    assert float(cam[4].replace(',', '')) >= 0
    assert cam[5] == '136.1 ms (0.4 h / 10,582)'
    total = [
        c.strip() for c in lines[names.index(
            'FMA-WSSS VOC pipeline, S1 stages (projected)')].strip('|').split(
                '|')
    ]
    assert float(total[2].replace(',', '')) > 0 and total[3] == 'h'
    assert total[5] == '2.3 h' and 'on CPU' in total[1]
