"""Limits of what the model stores, so that no request (or series of requests) can grow it without end.

Every limit has a default, is named in the error a request that would pass it gets, and is set with
``Model(limits=Limits(...))`` (``runresume serve --limit NAME=VALUE``); ``docs/limits.md`` lists
them. A request that would pass a limit is refused whole, before anything is stored
(:class:`~.errors.LimitExceeded`).

Sizes are counted as the characters of the stored lines, config and summary JSON and timeline
details, the bytes of uploads, plus :data:`LINE_OVERHEAD` per stored line or line left empty by an
offset gap (the cost of a slot), so an attack made of empty or skipped lines is counted too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

#: What one line slot costs besides its characters (a pointer and a small object), in bytes.
LINE_OVERHEAD = 16
#: The backend clock never goes past this (9999-12-31T00:00:00Z): times must stay representable.
MAX_CLOCK = 253_402_214_400.0


@dataclass(frozen=True)
class Limits:
    """The model's limits (see ``docs/limits.md``).

    Attributes:
        max_line_gap: lines a file of a run may have left unsent by offset gaps, all gaps of that
            file together (any file name). A gap below it is kept and named as a problem (R36).
        max_run_bytes: bytes one run may hold (lines, gaps, uploads, config, summary, archived
            history of rewinds, timeline).
        max_total_bytes: bytes all runs together may hold (deleted runs included).
        max_runs: runs the backend may hold (deleted runs included).
        max_problems: problems kept; later ones are counted in ``Model.problems_dropped``.
        max_sweeps: sweeps the backend may hold (``UpsertSweep`` without ``id``, ``wandb sweep``).
        max_agents: sweep agents the backend may hold, all sweeps together (``CreateAgent``).
    """

    max_line_gap: int = 100_000
    max_run_bytes: int = 128 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    max_runs: int = 10_000
    max_problems: int = 10_000
    max_sweeps: int = 1_000
    max_agents: int = 10_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"limit {f.name} must be an integer >= 0, got {value!r}")

    def replace(self, **changes: Any) -> Limits:
        """A copy with ``changes`` (unknown names are a ``ValueError`` naming them)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown model limit(s) {unknown}; known: {sorted(known)}")
        return Limits(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})


def finite_number(value: object, what: str, minimum: float | None = None, maximum: float | None = None) -> float:
    """``value`` as a float, if it is a finite JSON number (not a bool, not NaN or infinite) within
    ``[minimum, maximum]``.

    Raises:
        ValueError: naming ``what`` and the value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {value!r:.80}")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{what} must be a finite number, got {value!r:.80}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number, got {value!r:.80}")
    if minimum is not None and number < minimum:
        raise ValueError(f"{what} must be >= {minimum:g}, got {value!r:.80}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{what} must be <= {maximum:g}, got {value!r:.80}")
    return number
