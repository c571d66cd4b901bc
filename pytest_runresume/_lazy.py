"""Public names imported on first use (PEP 562), for the packages the pytest plugin touches in
every session: importing them must not load the server, GraphQL or the harness runner."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any], renamed: Mapping[str, str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    Args:
        package: the package's ``__name__``.
        exports: public name -> the relative module that defines it (``{"Harness": ".runner"}``).
        namespace: the package's ``globals()``; a name is cached there once imported.
        renamed: old name -> new public name, answered with a ``DeprecationWarning`` (one release).

    Raises (from ``__getattr__``):
        AttributeError: a name the package does not export.
    """

    def getattr_(name: str) -> Any:
        if renamed and name in renamed:
            warn_renamed(f"{package}.{name}", f"{package}.{renamed[name]}")
            return getattr_(renamed[name])
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return getattr_, dir_


def deprecated_names(package: str, renamed: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A ``__getattr__`` that still answers the old names of ``package`` for one release.

    Args:
        package: the package's ``__name__``.
        renamed: old name -> new name (``{"Backend": "Model"}``); the new name must be in ``namespace``.
        namespace: the package's ``globals()``.

    Returns: the ``__getattr__``; an old name gives the new object and a ``DeprecationWarning``
    naming both.

    Raises (from ``__getattr__``):
        AttributeError: any other unknown name.
    """

    def getattr_(name: str) -> Any:
        new = renamed.get(name)
        if new is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        warn_renamed(f"{package}.{name}", f"{package}.{new}")
        return namespace[new]

    return getattr_


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` (``DeprecationWarning``; removed after one
    release)."""
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release: use {new}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
