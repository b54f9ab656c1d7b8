"""``mmwsss-gpu-check [--device cuda|cpu] [--work-dir DIR] [--only NAME ...]
[--skip NAME ...]``: every pipeline stage (tiny models, the bundled
images) and every benchmark on this machine's GPU, one table with the
paper's Table S1 beside it (``make gpu-check`` in a clone).

The check is the script ``tools/gpu_check.py`` with its benchmarks
(``tools/benchmarks``), which an installed mmwsss carries in
``mmwsss/.mim/tools`` (with the bundled images in ``mmwsss/.mim/data``);
this command runs that script as ``__main__``.
"""
import os.path as osp
import runpy
import sys
from typing import List, Optional

__all__ = ['main', 'script_path']


def script_path() -> str:
    """``tools/gpu_check.py`` of this mmwsss (clone or installed)."""
    from mmwsss.utils.package_files import package_root
    path = osp.join(package_root(), 'tools', 'gpu_check.py')
    if not osp.isfile(path):
        raise SystemExit(f'mmwsss-gpu-check: {path} is missing (an mmwsss '
                         'installed without its tools; reinstall it)')
    return path


def main(argv: Optional[List[str]] = None) -> None:
    path = script_path()
    old = sys.argv
    sys.argv = [path] + list(sys.argv[1:] if argv is None else argv)
    try:
        runpy.run_path(path, run_name='__main__')
    finally:
        sys.argv = old


if __name__ == '__main__':
    main()
