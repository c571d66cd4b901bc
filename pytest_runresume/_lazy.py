"""Public names imported on first use (PEP 562), for the packages the pytest plugin touches in
every session: importing them must not load the server, GraphQL or the harness runner."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    Args:
        package: the package's ``__name__``.
        exports: public name -> the relative module that defines it (``{"Harness": ".runner"}``).
        namespace: the package's ``globals()``; a name is cached there once imported.

    Raises (from ``__getattr__``):
        AttributeError: a name the package does not export.
    """

    def getattr_(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return getattr_, dir_
