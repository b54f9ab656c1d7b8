"""Register every mmwsss component into MMSegmentation's registries.

Name this module in a config's ``custom_imports`` (importing it registers
everything), or call :func:`register_all_modules` from Python, as with
``mmseg.utils.register_all_modules``::

    custom_imports = dict(imports=['mmwsss.registration'],
                          allow_failed_imports=False)

This is the one place where the stack additions of :mod:`mmwsss.compat` are
made for a run (once; they are idempotent).
"""
import importlib

__all__ = ['register_all_modules', 'REGISTERING_PACKAGES']

#: The packages whose modules register components (MODELS, DATASETS,
#: TRANSFORMS, METRICS, HOOKS, LOOPS, PARAM_SCHEDULERS, OPTIM_WRAPPERS), and
#: mmwsss.testing, which adds the tiny random architectures (``'tiny'``,
#: ``'mmwsss-tiny-ViT-16'``, ``'tiny_bert'``) to the models' tables.
REGISTERING_PACKAGES = ('mmwsss.datasets', 'mmwsss.models', 'mmwsss.testing',
                        'mmwsss.evaluation', 'mmwsss.engine')


def register_all_modules(init_default_scope: bool = False) -> None:
    """Make the stack additions and register every mmwsss component.

    Args:
        init_default_scope (bool): Also set mmengine's default scope to
            ``'mmseg'`` (mmwsss registers into mmseg's registries), as
            ``mmseg.utils.register_all_modules`` does. Defaults to False.
    """
    from mmwsss.compat import apply_all
    apply_all()
    for name in REGISTERING_PACKAGES:
        importlib.import_module(name)
    if init_default_scope:
        from mmseg.utils import register_all_modules as mmseg_register
        mmseg_register(init_default_scope=True)


register_all_modules()
