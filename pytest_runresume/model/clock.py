"""Clocks for the reference model.

The model never reads the time itself: every rule that depends on time (the crash timeout, R60-R61)
asks a :class:`Clock`. Tests move a clock instead of waiting for it.
"""

from __future__ import annotations

import math
import time
from typing import Protocol


class Clock(Protocol):
    """Anything with ``now() -> float`` (seconds since the epoch)."""

    def now(self) -> float:  # pragma: no cover - protocol
        ...


class ManualClock:
    """A clock that moves only when told to. For unit tests of the model.

    Args:
        start: initial time in seconds since the epoch.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """Return the current time in seconds."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (>= 0) and return the new time.

        Raises:
            ValueError: if ``seconds`` is negative (the model's clock never goes back) or not finite.
        """
        _check_advance(seconds)
        self._now += seconds
        return self._now


class OffsetClock:
    """Wall-clock time plus an offset that tests move forward.

    This is the served backend's clock: real processes see real time pass, and a test that wants the
    5-minute crash rule (R61) to fire calls :meth:`advance` instead of waiting. ``time.time`` is looked
    up at call time, so freezegun's frozen time is honoured too.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """Return ``time.time() + offset`` in seconds."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (>= 0) and return the new time.

        Raises:
            ValueError: if ``seconds`` is negative or not finite.
        """
        _check_advance(seconds)
        self.offset += seconds
        return self.now()


def _check_advance(seconds: float) -> None:
    if not math.isfinite(seconds):
        raise ValueError(f"a clock moves by a finite number of seconds; got advance({seconds!r})")
    if seconds < 0:
        raise ValueError(f"a clock moves forward only; got advance({seconds!r})")
