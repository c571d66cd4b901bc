"""Unit tests of the model clocks that drive the crash timeout (R60, R61) without waiting."""

from __future__ import annotations

import time

import freezegun
import pytest

from pytest_runresume.model import ManualClock, OffsetClock


def test_r61_manual_clock_starts_where_told() -> None:
    """R61: a ManualClock reads its start time and does not move by itself."""
    clock = ManualClock(start=1234.5)
    assert clock.now() == 1234.5
    assert clock.now() == 1234.5


def test_r61_manual_clock_default_start_is_a_plausible_epoch_time() -> None:
    """R61: the default start is a fixed time in seconds since the epoch (after 2020)."""
    a, b = ManualClock(), ManualClock()
    assert a.now() == b.now()
    assert a.now() > 1_577_836_800  # 2020-01-01


def test_r61_manual_clock_advance_returns_new_time() -> None:
    """R61: advance moves forward by exactly the amount and returns the new time."""
    clock = ManualClock(start=100.0)
    assert clock.advance(300.0) == 400.0
    assert clock.now() == 400.0
    assert clock.advance(0) == 400.0
    assert clock.advance(0.25) == 400.25


def test_r61_manual_clock_refuses_to_go_back() -> None:
    """R61: a negative advance raises ValueError and leaves the time alone."""
    clock = ManualClock(start=100.0)
    with pytest.raises(ValueError, match="-1"):
        clock.advance(-1)
    assert clock.now() == 100.0


def test_r61_manual_clock_accepts_int_start() -> None:
    """R61: the start time is stored as a float."""
    clock = ManualClock(start=10)
    assert isinstance(clock.now(), float)


def test_r61_offset_clock_is_wall_time_plus_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    """R61: OffsetClock is time.time() plus an offset that advance() grows."""
    monkeypatch.setattr(time, "time", lambda: 5000.0)
    clock = OffsetClock()
    assert clock.offset == 0.0
    assert clock.now() == 5000.0
    assert clock.advance(300.0) == 5300.0
    assert clock.offset == 300.0
    assert clock.now() == 5300.0


def test_r61_offset_clock_follows_wall_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """R61: real time passing shows through an OffsetClock (time.time is read at call time)."""
    now = [1000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    clock = OffsetClock()
    clock.advance(10.0)
    now[0] = 1005.0
    assert clock.now() == 1015.0


def test_r61_offset_clock_honours_freezegun() -> None:
    """R61: frozen time from freezegun is honoured by OffsetClock."""
    clock = OffsetClock()
    with freezegun.freeze_time("2030-01-01 00:00:00"):
        frozen = clock.now()
        assert frozen == 1_893_456_000.0
        clock.advance(60.0)
        assert clock.now() == frozen + 60.0


def test_r61_offset_clock_refuses_to_go_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """R61: a negative advance raises ValueError and keeps the offset."""
    monkeypatch.setattr(time, "time", lambda: 10.0)
    clock = OffsetClock()
    clock.advance(5.0)
    with pytest.raises(ValueError):
        clock.advance(-0.1)
    assert clock.offset == 5.0
    assert clock.now() == 15.0
