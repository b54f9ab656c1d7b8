"""The floors of docs/architecture.md, held against the code.

Every ``import`` statement of every module under ``mmwsss/`` (module level
and inside functions alike) is read with :mod:`ast`; an import that goes to
a higher floor, or between the two side-by-side packages ``datasets`` and
``models``, fails the test with the file, line and target.
"""
import ast
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PKG = osp.join(ROOT, 'mmwsss')

#: Floor of each top-level part of mmwsss (docs/architecture.md).
FLOORS = {
    'version': 0,
    'class_names': 0,
    'compat': 0,
    'functional': 0,
    'utils': 1,
    'io': 1,
    'datasets': 2,
    'models': 2,
    'testing': 3,
    'evaluation': 3,
    'engine': 4,
    'registration': 5,
    'registry': 5,
    'apis': 6,
    'cli': 7,
}

#: Pairs on one floor that must not know each other.
FORBIDDEN = {('datasets', 'models'), ('models', 'datasets'),
             ('testing', 'evaluation'), ('evaluation', 'testing')}

#: mmwsss.functional may import only these outside the standard library.
FUNCTIONAL_THIRD_PARTY = {'torch', 'numpy', 'cv2', 'PIL', 'pydensecrf'}


def _modules():
    for folder, dirs, files in os.walk(PKG):
        # mmwsss/.mim: the configs and tools setup.py copies in, no modules
        dirs[:] = [d for d in dirs if not d.startswith(('.', '__'))]
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                rel = osp.relpath(path, ROOT)[:-3].replace(os.sep, '.')
                if rel.endswith('.__init__'):
                    rel = rel[:-len('.__init__')]
                yield path, rel


def _imports(path, module):
    """(line, absolute module name) of every import in a file."""
    tree = ast.parse(open(path, encoding='utf-8').read())
    is_pkg = path.endswith('__init__.py')
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split('.')
                base = parts if is_pkg else parts[:-1]
                base = base[:len(base) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module
                                          else []))
            else:
                target = node.module
            yield node.lineno, target
            # ``from mmwsss import io`` names a part, not mmwsss itself
            if target == 'mmwsss':
                for alias in node.names:
                    yield node.lineno, f'mmwsss.{alias.name}'


def _part(module):
    parts = module.split('.')
    return parts[1] if len(parts) > 1 and parts[0] == 'mmwsss' else None


def test_every_part_has_a_floor():
    parts = {_part(m) for _, m in _modules()} - {None}
    assert parts <= set(FLOORS), parts - set(FLOORS)


def test_imports_go_down_the_floors():
    wrong = []
    for path, module in _modules():
        src = _part(module)
        if src is None:
            continue
        for line, target in _imports(path, module):
            dst = _part(target)
            if dst is None or dst == src:
                continue
            where = f'{osp.relpath(path, ROOT)}:{line} -> {target}'
            if FLOORS[dst] > FLOORS[src]:
                wrong.append(f'{where} (floor {FLOORS[src]} imports floor '
                             f'{FLOORS[dst]})')
            elif (src, dst) in FORBIDDEN:
                wrong.append(f'{where} ({src} and {dst} stand side by side)')
    assert not wrong, 'imports against the floors:\n' + '\n'.join(wrong)


def test_functional_imports_only_torch_numpy_cv2():
    wrong = []
    stdlib = set(sys.stdlib_module_names)
    for path, module in _modules():
        if _part(module) != 'functional':
            continue
        for line, target in _imports(path, module):
            top = target.split('.')[0]
            if target.startswith('mmwsss.functional') or top in stdlib:
                continue
            if top not in FUNCTIONAL_THIRD_PARTY:
                wrong.append(f'{osp.relpath(path, ROOT)}:{line} -> {target}')
    assert not wrong, wrong


@pytest.mark.parametrize('package', ['mmwsss.functional', 'mmwsss.io'])
def test_ground_floors_load_alone(package):
    """A fresh interpreter: importing the package loads none of the stack
    and patches nothing (mmcv._ext stand-in, checkpoint scheme)."""
    code = (f'import sys; import {package}; '
            'stack = ("mmengine", "mmcv", "mmseg", "mmdet", "mmpretrain", '
            '"open_clip", "segment_anything", "sam2", "sam3"); '
            'print(sorted(m for m in sys.modules '
            'if m.split(".")[0] in stack))')
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         cwd=ROOT,
                         check=True).stdout.strip()
    assert out == '[]', f'import {package} loaded {out}'
