"""The config scope ``mmwsss::`` for mmengine (an addition, nothing
replaced).

mmengine resolves ``scope::folder/file.py`` (in ``Config.fromfile`` and in
``_base_``) only for the packages of its table
``mmengine.config.utils.MODULE2PACKAGE`` (mmseg -> mmsegmentation, ...),
then reads ``<installed package>/.mim/configs/folder/file.py``. An
installed mmwsss carries its configs there (``setup.py``); this adds the
one missing entry, ``'mmwsss': 'mmwsss'``, to that table. An entry of
another value is left alone (and reported).
"""

__all__ = ['CONFIG_SCOPE', 'add_config_scope']

#: Module name -> distribution name added to mmengine's table.
CONFIG_SCOPE = ('mmwsss', 'mmwsss')


def add_config_scope() -> None:
    """Let mmengine resolve ``mmwsss::`` config names (idempotent).

    Raises:
        RuntimeError: mmengine's table maps ``mmwsss`` elsewhere.
    """
    from mmengine.config import utils as config_utils
    module, package = CONFIG_SCOPE
    table = config_utils.MODULE2PACKAGE
    current = table.get(module)
    if current is None:
        table[module] = package
    elif current != package:
        raise RuntimeError(f'mmengine maps the config scope {module!r} to '
                           f'{current!r}; mmwsss will not replace it')
