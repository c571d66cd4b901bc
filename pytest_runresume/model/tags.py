"""Rule tags: ``@implements("R61")`` marks the function, class or method that implements a rule of
``rules.md`` (the package's :mod:`pytest_runresume.rules`), as ``@pytest.mark.rules("R61")`` marks
a test that checks one. ``runresume rules`` (:mod:`pytest_runresume.cli.coverage`) reads these tags
from the source with :mod:`ast` and nothing else: an R-id in a docstring, a comment or a help text
counts for nothing.

Three forms, all read by the coverage scan::

    @implements("R60", "R61")              # a function, class or method
    def derive_state(...): ...

    DEFAULT_CRASH_TIMEOUT = implements_constant(300.0, "R61")   # a module- or class-level constant

The decorator only sets ``__rules__`` on the object (ids of all its tags, in order); the constant
form returns its value unchanged. Pure and stdlib-only: every layer may import it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: An R-id as ``rules.md`` writes it: ``R01`` ... ``R97``, ``R70a`` ... ``R70e``.
RULE_ID = re.compile(r"R\d\d[a-e]?")


def check_ids(rule_ids: tuple[Any, ...], where: str) -> tuple[str, ...]:
    """``rule_ids`` if each is an R-id string (``R61``, ``R70c``).

    Raises:
        ValueError: no id, or one that is not an R-id string (named, with ``where``).
    """
    if not rule_ids:
        raise ValueError(f"{where}: give at least one rule id, e.g. {where}('R61')")
    for rid in rule_ids:
        if not isinstance(rid, str) or not RULE_ID.fullmatch(rid):
            raise ValueError(f"{where}: {rid!r} is not a rule id (R01 ... R97, R70a ... R70e)")
    return tuple(rule_ids)


def implements(*rule_ids: str) -> Callable[[T], T]:
    """Tag a function, class or method as implementing ``rule_ids`` (``"R61"``, ...).

    Returns the object unchanged but for its ``__rules__`` attribute (a tuple of ids, this tag's
    appended to any earlier one's).

    Raises:
        ValueError: no id, or a string that is not an R-id.
    """
    ids = check_ids(rule_ids, "implements")

    def tag(obj: T) -> T:
        obj.__rules__ = (*getattr(obj, "__rules__", ()), *ids)  # type: ignore[attr-defined]
        return obj

    return tag


def implements_constant(value: T, *rule_ids: str) -> T:
    """Tag a constant (``NAME = implements_constant(value, "R61")``) as implementing ``rule_ids``;
    returns ``value`` itself.

    Raises:
        ValueError: no id, or a string that is not an R-id.
    """
    check_ids(rule_ids, "implements_constant")
    return value


__all__ = ["RULE_ID", "check_ids", "implements", "implements_constant"]
