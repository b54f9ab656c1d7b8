"""mmwsss: weakly supervised semantic segmentation with frozen foundation
models (CLIP + SAM) as an MMSegmentation plugin."""
import os
import os.path as osp
import platform
import shutil
import sys

from setuptools import find_packages, setup

#: Files and folders of the repository shipped inside the package, under
#: mmwsss/.mim, the OpenMMLab convention: mmengine resolves
#: ``mmwsss::<path>`` to ``<installed mmwsss>/.mim/configs/<path>`` (after
#: reading .mim/model-index.yml), ``mim train mmwsss`` runs
#: ``.mim/tools/train.py``; data/voc_mini (15 images, 1.8 MB) serves the
#: demo and the GPU check of an installed mmwsss.
MIM_FILES = ('configs', 'tools', 'model-index.yml', 'data/voc_mini')


def parse_requirements(fname: str) -> list:
    """Read a requirements file, skipping comments and blank lines."""
    path = osp.join(osp.dirname(osp.abspath(__file__)), fname)
    with open(path) as f:
        lines = [ln.split('#')[0].strip() for ln in f]
    return [ln for ln in lines if ln]


def get_version() -> str:
    ns: dict = {}
    with open(osp.join('mmwsss', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


def add_mim_extension() -> None:
    """Put :data:`MIM_FILES` into ``mmwsss/.mim`` (as mmseg's
    setup.py does): symlinks for a development install (``develop``,
    ``editable_wheel``; copies on Windows), copies when a wheel or sdist is
    built or the package is installed. ``mmwsss/.mim`` is git-ignored.
    """
    argv = set(sys.argv[1:])
    if argv & {'develop', 'editable_wheel'}:
        mode = 'copy' if platform.system() == 'Windows' else 'symlink'
    elif argv & {'sdist', 'bdist_wheel', 'install', 'build', 'build_py'}:
        mode = 'copy'
    else:
        return
    repo = osp.dirname(osp.abspath(__file__))
    mim = osp.join(repo, 'mmwsss', '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(repo, name), osp.join(mim, name)
        if not osp.exists(src):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        os.makedirs(osp.dirname(dst), exist_ok=True)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, osp.dirname(dst)), dst)
        elif osp.isfile(src):
            shutil.copyfile(src, dst)
        else:
            shutil.copytree(
                src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


def mim_package_data() -> list:
    """Every file under mmwsss/.mim, relative to the package."""
    root = osp.join(osp.dirname(osp.abspath(__file__)), 'mmwsss')
    out = []
    for folder, dirs, files in os.walk(osp.join(root, '.mim'),
                                       followlinks=True):
        dirs[:] = [d for d in dirs if d != '__pycache__']
        out += [
            osp.relpath(osp.join(folder, f), root) for f in files
            if not f.endswith('.pyc')
        ]
    return sorted(out)


add_mim_extension()

setup(
    name='mmwsss',
    version=get_version(),
    description='FMA-WSSS and WSSS baselines with frozen CLIP and SAM, '
    'as an MMSegmentation plugin',
    long_description=open('README.md', encoding='utf-8').read()
    if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    author='mmwsss contributors',
    license='Apache License 2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'data')),
    include_package_data=True,
    package_data={'mmwsss': mim_package_data()},
    entry_points={
        'console_scripts': [
            'mmwsss-pipeline = mmwsss.cli.pipeline:console',
            'mmwsss-gen-masks = mmwsss.cli.gen_sam_masks:console',
            'mmwsss-eval-seeds = mmwsss.cli.eval_seeds:console',
            'mmwsss-compare-seeds = mmwsss.cli.compare_seeds:console',
            'mmwsss-infer = mmwsss.cli.infer:console',
            'mmwsss-gpu-check = mmwsss.cli.gpu_check:main',
            'mmwsss-train = mmwsss.cli.train:main',
            'mmwsss-test = mmwsss.cli.test:main',
            'mmwsss-report = mmwsss.cli.report:run',
        ],
    },
    python_requires='>=3.8',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require=dict(
        tests=parse_requirements('requirements/tests.txt'),
        crf=['pydensecrf2>=1.1'],
    ),
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    zip_safe=False)
