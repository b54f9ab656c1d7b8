"""tools/gpu_check.py (``make gpu-check``): the benchmarks' summary lines
become table rows with the Table S1 figures; every benchmark accepts the
arguments of both forms; the CPU form runs end to end on a reduced subset
(``--only cam_speed``, one process; the full CPU form takes minutes: every
pipeline stage and six benchmarks, each in fresh processes)."""
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
    sams_vs_crf='sams_peak_mib=2.0 crf_peak_mib=30.5\n'
    'sams_ms=14.000 crf_ms=1012.000 speedup=72.3\n',
    stage2_step='model=deeplabv3plus step_s=1.155 per_image_ms=577.3 '
    'peak_mib=628\nmodel=mask2former step_s=7.711 per_image_ms=3855.5 '
    'peak_mib=2743\n',
    baselines='pipeline=cam per_image_ms=43000.0 peak_mib=900\n'
    'pipeline=sam_text per_image_ms=61000.0 peak_mib=3000\n')


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
    sams, crf = rows['sams_vs_crf']
    assert (sams[2], sams[4], crf[2], crf[4]) == (14.0, 2.0, 1012.0, 30.5)
    assert crf[5] == '68.0 ms (0.2 h / 10,582)'
    assert [(r[0], r[2], r[4]) for r in rows['stage2_step']
            ] == [('stage 2 training step: deeplabv3plus', 1.155, 628.0),
                  ('stage 2 training step: mask2former', 7.711, 2743.0)]
    assert [r[2] for r in rows['baselines']] == [43000.0, 61000.0]


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
            mod = _load(
                osp.join(repo_root, 'tools', 'benchmarks', name + '.py'),
                f'_gc_{name}')
            args = mod.parse_args(['--device', 'cpu'] + extra)
            assert args.device == 'cpu'
    cuda = gpu_check.BENCH_ARGS['cuda']
    assert cuda['prompt_step'][:2] == ['--batch-size', '16']
    assert cuda['sam_masks'][:2] == ['--model-type', 'vit_h']
    assert '--model-name' not in cuda['prompt_step']  # ViT-B-16 default


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is present')
def test_cuda_form_needs_cuda(gpu_check, tmp_path):
    with pytest.raises(SystemExit, match='DEVICE=cpu'):
        gpu_check.main(['--work-dir', str(tmp_path), '--only', 'sams_vs_crf'])


def test_cpu_form_subset(gpu_check, tmp_path, capsys):
    """The CPU form end to end, reduced to one benchmark (the one that
    runs in a single process): the table has its rows with measured times
    and the Table S1 column."""
    status = gpu_check.main([
        '--device', 'cpu', '--work-dir',
        str(tmp_path), '--only', 'cam_speed'
    ])
    out = capsys.readouterr().out
    assert status == 0, out
    table = (tmp_path / 'gpu_check.md').read_text()
    assert 'CPU (torch' in table and 'FMA-WSSS Table S1' in table
    lines = [ln for ln in table.splitlines() if ln.startswith('| ')][1:]
    assert len(lines) == 2, table
    cam = [c.strip() for c in lines[0].strip('|').split('|')]
    assert cam[0] == 'seed CAMs: GradCAM + CAA' and cam[1] == 'tiny CLIP'
    assert float(cam[2].replace(',', '')) > 0 and cam[3] == 'ms/image'
    assert float(cam[4].replace(',', '')) >= 0
    assert cam[5] == '136.1 ms (0.4 h / 10,582)'
    assert '3.4 ms (0.01 h / 10,582)' in lines[1]
    assert (tmp_path / 'logs' / 'cam_speed.log').is_file()
