"""Where the configs, tools and bundled data of mmwsss lie.

An installed mmwsss carries ``configs/``, ``tools/`` and ``data/voc_mini``
inside the package, under ``mmwsss/.mim`` (the OpenMMLab convention that
mmengine's ``mmwsss::`` config names and ``mim`` follow; ``setup.py`` puts
them there). In a clone they are the repository's own folders.
"""
import os.path as osp
from typing import Optional

__all__ = ['SCOPE', 'package_root', 'resolve_config', 'is_source_tree']

#: The package scope of config names: ``mmwsss::fma/voc_prompts.py``.
SCOPE = 'mmwsss'

_PKG = osp.dirname(osp.dirname(osp.abspath(__file__)))


def is_source_tree() -> bool:
    """Whether mmwsss is imported from a clone (``setup.py`` and
    ``configs/`` beside the package folder)."""
    repo = osp.dirname(_PKG)
    return osp.isfile(osp.join(repo, 'setup.py')) and osp.isdir(
        osp.join(repo, 'configs'))


def package_root() -> str:
    """The folder holding ``configs/``, ``tools/`` and ``data/``.

    Returns:
        str: The repository root in a clone (its files win over a stale
        ``mmwsss/.mim`` copy), else ``<installed mmwsss>/.mim``.
    """
    if is_source_tree():
        return osp.dirname(_PKG)
    return osp.join(_PKG, '.mim')


def resolve_config(name: str, base_dir: Optional[str] = None) -> str:
    """The file of a config name.

    Args:
        name (str): ``mmwsss::<folder>/<file>.py`` (a config of mmwsss, from
            any directory), another package's ``scope::`` name
            (``mmseg::...``: the file in that installed package's
            ``.mim/configs``, as mmengine finds it), an existing path, or a
            path relative to
            :func:`package_root` (``configs/fma/voc_prompts.py``, the names
            of a clone).
        base_dir (str, optional): Folder of relative paths (default: the
            current directory).

    Returns:
        str: An absolute path.
    """
    if '::' in name:
        scope, _, rel = name.partition('::')
        if scope == SCOPE:
            return osp.join(package_root(), 'configs', rel)
        from mmengine.config.utils import MODULE2PACKAGE
        from mmengine.utils import get_installed_path
        package = MODULE2PACKAGE.get(scope, scope)
        return osp.join(get_installed_path(package), '.mim', 'configs', rel)
    if osp.isabs(name):
        return name
    local = osp.abspath(osp.join(base_dir or '.', name))
    if osp.isfile(local):
        return local
    return osp.join(package_root(), name)
