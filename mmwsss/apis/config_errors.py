"""One line for a config mistake, instead of a traceback.

When mmengine builds a component from a config (``MODELS.build(cfg)`` and
friends) and the component refuses its arguments, the user sees a traceback
through the registry, mmengine's runner and mmseg's tool. The mistake is
almost always in one config key, so :func:`explain_build_error` turns such an
error into one line that names the key and what to do:

- an unknown argument (``model.cam_sofmax=exact``)::

      model.cam_sofmax: FMAPromptModel has no argument 'cam_sofmax'; did you mean 'cam_softmax'?

- a bad value (``model.cam_softmax=foo``): the component's own message,
  which names the argument and its choices, with the class;
- an unknown ``type``: the registry's complaint with the closest names.

Only errors raised while building a component are explained (the traceback
passes through mmengine's ``build_from_cfg``); anything else is left alone.
"""
import difflib
import inspect
import re
import types
from typing import Any, Iterator, List, Optional, Tuple

__all__ = ['explain_build_error', 'DEBUG_ENV']

#: Environment variable that shows full tracebacks instead (also
#: ``--debug`` on the tools).
DEBUG_ENV = 'MMWSSS_DEBUG'

_UNEXPECTED = re.compile(r"unexpected keyword argument '([^']+)'")
_NOT_IN_REGISTRY = re.compile(r'([\w.]+) is not in the ([\w:]+) registry')


def _built_class(tb: Optional[types.TracebackType]) -> Tuple[bool, Any]:
    """Whether a traceback passes through mmengine's component builder, and
    the class the innermost build was making (None if not known yet)."""
    through, cls = False, None
    while tb is not None:
        frame = tb.tb_frame
        name = frame.f_code.co_filename.replace('\\', '/')
        if name.endswith('mmengine/registry/build_functions.py'):
            through = True
            found = frame.f_locals.get('obj_cls')
            if found is not None:
                cls = found
        tb = tb.tb_next
    return through, cls


def _dict_paths(node: Any, path: str = '') -> Iterator[Tuple[str, dict]]:
    """Every dict of a config with its dotted key path."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _dict_paths(v, f'{path}.{k}' if path else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _dict_paths(v, f'{path}[{i}]')


def _key_path(cfg: Any, cls_name: str, key: str) -> str:
    """Dotted path of ``key`` in the config dict of type ``cls_name``."""
    if cfg is not None:
        tree = cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg
        for path, node in _dict_paths(tree):
            kind = node.get('type')
            kind = getattr(kind, '__name__', kind)
            if kind == cls_name and key in node:
                return f'{path}.{key}' if path else key
    return key


def _arguments(cls: type) -> List[str]:
    """Keyword arguments a class's constructor takes (its bases' too when it
    passes ``**kwargs`` on)."""
    names: List[str] = []
    for klass in inspect.getmro(cls):
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names += [
            p.name for p in params if p.name != 'self'
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        ]
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return sorted(set(names))


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines()]
    return lines[0] if lines else ''


def explain_build_error(err: BaseException,
                        cfg: Any = None) -> Optional[str]:
    """One line for an error raised while building a config's component.

    Args:
        err (BaseException): The error.
        cfg (Config | dict, optional): The config, to name the key's path.

    Returns:
        str | None: The line, or None when ``err`` is not a build error.
    """
    if not isinstance(err, (TypeError, ValueError, KeyError)):
        return None
    through, cls = _built_class(err.__traceback__)
    if not through:
        return None
    text = str(err.args[0] if err.args else err)
    cls_name = getattr(cls, '__name__', None)
    unexpected = _UNEXPECTED.search(text)
    if isinstance(err, TypeError) and unexpected and cls_name:
        key = unexpected.group(1)
        line = (f'{_key_path(cfg, cls_name, key)}: {cls_name} has no '
                f'argument {key!r}')
        known = _arguments(cls) if inspect.isclass(cls) else []
        close = difflib.get_close_matches(key, known, n=1)
        if close:
            return line + f'; did you mean {close[0]!r}?'
        return line + (f' (it takes {", ".join(known)})' if known else '')
    missing = _NOT_IN_REGISTRY.search(text)
    if isinstance(err, KeyError) and missing:
        name = missing.group(1)
        known = [k for reg in _registries() for k in reg._module_dict]
        close = difflib.get_close_matches(name, known, n=3)
        line = f'type={name!r} is not registered in {missing.group(2)}'
        if close:
            line += f'; did you mean {", ".join(map(repr, close))}?'
        return line + (' (or is the package that registers it missing '
                       'from custom_imports?)')
    body = _first_line(text) or type(err).__name__
    # drop the class names a component puts in front ("Model: key must...")
    body = re.sub(r'^(?:[A-Z]\w*: )+', '', body) if cls_name \
        else body
    first = re.match(r'[`\'"]?(\w+)[`\'"]?[ :]', body)
    if cls_name and first:
        path = _key_path(cfg, cls_name, first.group(1))
        if path != first.group(1):  # the message starts with a config key
            return f'{path}: {cls_name}: {body}'
    return f'{cls_name}: {body}' if cls_name else body


def _registries() -> list:
    from mmengine import registry as engine_registry
    from mmseg import registry as seg_registry
    return [
        v for module in (seg_registry, engine_registry)
        for v in vars(module).values()
        if hasattr(v, '_module_dict') and hasattr(v, 'get')
    ]
