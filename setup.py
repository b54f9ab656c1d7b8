"""mmwsss: weakly supervised semantic segmentation with frozen foundation
models (CLIP + SAM) as an MMSegmentation plugin."""
import os.path as osp

from setuptools import find_packages, setup


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
