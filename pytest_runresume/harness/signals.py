"""Signal names and numbers, and the exit-code convention (R67: 128 + signum)."""

from __future__ import annotations

import signal as _signal

from ..model.tags import implements


def parse_signal(value: str | int | _signal.Signals) -> _signal.Signals:
    """``"SIGUSR1"``, ``"usr1"``, ``10`` or ``signal.SIGUSR1`` -> ``signal.SIGUSR1``.

    Raises:
        ValueError: naming the value when it is not a signal of this platform.
    """
    if isinstance(value, _signal.Signals):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a signal: {value!r}")
    if isinstance(value, int):
        try:
            return _signal.Signals(value)
        except ValueError:
            raise ValueError(f"not a signal number on this platform: {value!r}") from None
    if isinstance(value, str):
        name = value.strip().upper()
        if name.isdigit():
            return parse_signal(int(name))
        if not name.startswith("SIG"):
            name = "SIG" + name
        try:
            return _signal.Signals[name]
        except KeyError:
            raise ValueError(f"not a signal name: {value!r}") from None
    raise ValueError(f"not a signal: {value!r}")


@implements("R67")
def signal_exit_code(sig: str | int | _signal.Signals) -> int:
    """The conventional exit code of a process ended by ``sig``: 128 + signum (R67)."""
    return 128 + int(parse_signal(sig))
