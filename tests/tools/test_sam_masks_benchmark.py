"""tools/benchmarks/sam_masks.py --generator: ours vs the family's own AMG
(two worker processes) on a tiny random model, and the summary lines."""
import importlib.util
import os.path as osp
import re

import pytest


def load_bench(repo_root):
    spec = importlib.util.spec_from_file_location(
        'sam_masks_bench',
        osp.join(repo_root, 'tools', 'benchmarks', 'sam_masks.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_defaults_per_generator(repo_root):
    bench = load_bench(repo_root)
    assert bench.parse_args([]).model_type == 'vit_b'
    assert bench.parse_args(['--generator', 'sam2'
                             ]).model_type == 'sam2.1_hiera_l'
    args = bench.parse_args(['--generator', 'sam3'])
    assert args.model_type == 'sam3' and args.no_stock


def test_sam2_tiny_vs_its_amg(repo_root, capsys):
    pytest.importorskip('sam2')
    bench = load_bench(repo_root)
    bench.main([
        '--generator', 'sam2', '--model-type', 'tiny', '--device', 'cpu',
        '--points-per-side', '4', '--crop-n-layers', '0'
    ])
    out = capsys.readouterr().out
    assert 'stock:' in out and ' ours:' in out
    last = out.strip().splitlines()[-1]
    m = re.fullmatch(r'ours_s=([\d.]+) stock_s=([\d.]+) ratio=([\d.]+)', last)
    assert m and float(m.group(1)) > 0 and float(m.group(2)) > 0
