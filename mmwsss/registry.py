"""The registries of the scope ``mmwsss``: empty children of MMSegmentation's.

mmwsss registers its components into mmseg's registries
(:mod:`mmwsss.registration`). A config loaded through an ``mmwsss::``
name (``_base_ = ['mmwsss::sams_tta/sams_tta_base.py']``) has its
components marked ``_scope_='mmwsss'`` by mmengine, which then imports
``mmwsss.registry`` and builds them from the registry of that scope. Each
registry here is a child of mmseg's of the same name with no entries of
its own, so a name resolves exactly as under the scope ``mmseg`` (mmwsss's
components, then mmseg's, then mmengine's); importing this module
registers mmwsss's components, as ``custom_imports`` would.
"""
from mmengine.registry import Registry
from mmseg import registry as _mmseg

import mmwsss.registration  # noqa: F401  (registers mmwsss's components)

__all__ = ['SCOPE', 'REGISTRIES']

SCOPE = 'mmwsss'


def _child(parent: Registry) -> Registry:
    return Registry(
        parent.name,
        parent=parent,
        scope=SCOPE,
        locations=['mmwsss.registration'])


#: mmseg registry name -> the ``mmwsss`` child registry.
REGISTRIES = {
    name: _child(reg)
    for name, reg in sorted(vars(_mmseg).items())
    if isinstance(reg, Registry) and not name.startswith('_')
}
globals().update(REGISTRIES)
__all__ += list(REGISTRIES)
