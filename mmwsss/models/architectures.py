"""Architecture tables: ``model_type`` -> builder, one table per model family.

Each model family (SAM, SAM-HQ, SAM 2, SAM 3, Grounding DINO's language
model) looks its architectures up in an :class:`ArchitectureTable` instead of
an ``if model_type == ...`` chain. The models floor fills the tables with the
official architectures; :mod:`mmwsss.testing` (a floor above, imported by
:mod:`mmwsss.registration`) adds the small random ones (``'tiny'``) that
tests, the demo and the CPU configs select, without the models floor ever
importing it.
"""
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

__all__ = ['ArchitectureTable', 'TESTING_ARCHITECTURES']

#: Architectures that :mod:`mmwsss.testing` adds to the tables it fills.
TESTING_ARCHITECTURES = frozenset({'tiny', 'tiny_bert'})


class ArchitectureTable:
    """The architectures of one model family: ``model_type`` -> entry.

    An entry is whatever the family's builder needs (a constructor, or a
    tuple of a constructor and facts such as the input resolution).

    Args:
        family (str): Family name for the messages (``'SAM'``, ...).
        entries (dict, optional): The official architectures.
        key (str): What a name selects, for the messages. Defaults to
            ``'model_type'``.
    """

    def __init__(self,
                 family: str,
                 entries: Optional[Dict[str, Any]] = None,
                 key: str = 'model_type') -> None:
        self.family = family
        self.key = key
        self._entries: Dict[str, Any] = dict(entries or {})

    def register(self, model_type: str, entry: Any = None,
                 force: bool = False) -> Any:
        """Add an architecture (also usable as a decorator).

        Args:
            model_type (str): The name configs select it by.
            entry (Any): The entry; None -> decorator.
            force (bool): Replace an existing entry.

        Returns:
            The entry (or the decorator).

        Raises:
            KeyError: ``model_type`` is taken and ``force`` is False.
        """
        if entry is None:

            def decorator(fn: Callable) -> Callable:
                return self.register(model_type, fn, force=force)

            return decorator
        if model_type in self._entries and not force and \
                self._entries[model_type] is not entry:
            raise KeyError(f'{self.family} {self.key} {model_type!r} is '
                           'already registered.')
        self._entries[model_type] = entry
        return entry

    def get(self, model_type: str) -> Any:
        """The entry of ``model_type``.

        Raises:
            KeyError: Unknown ``model_type`` (a one-line message that lists
                the known ones, and names :mod:`mmwsss.testing` for the
                test architectures it provides).
        """
        try:
            return self._entries[model_type]
        except KeyError:
            raise KeyError(self.unknown_message(model_type)) from None

    def unknown_message(self, model_type: str) -> str:
        """The error message for an unknown ``model_type``."""
        msg = (f'Unknown {self.family} {self.key} {model_type!r}; expected '
               f'one of {self.names()}.')
        if model_type in TESTING_ARCHITECTURES:
            msg += (f' {model_type!r} (a small random model for tests and '
                    'demos) is provided by mmwsss.testing: import it (or '
                    "mmwsss.registration, or custom_imports=['mmwsss."
                    "registration'] in the config).")
        return msg

    def names(self) -> Tuple[str, ...]:
        """The known model types, in registration order."""
        return tuple(self._entries)

    def __contains__(self, model_type: object) -> bool:
        return model_type in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f'ArchitectureTable({self.family!r}, {self.names()})'
