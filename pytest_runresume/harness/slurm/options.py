"""The values SLURM reads for preemption: ``--signal`` (:func:`parse_signal_spec`, a
:class:`SlurmSignal`), ``--time`` (:func:`parse_time_limit`) and the defaults behind them
(``KillWait``, the ``--signal`` lead time).
"""

from __future__ import annotations

import re
import signal as _signal
from dataclasses import dataclass

#: ``KillWait`` default in seconds: the time between SIGTERM and SIGKILL (slurm.conf(5)).
KILL_WAIT_DEFAULT = 30.0
#: ``--signal`` without ``@sig_time`` sends the signal this many seconds before the end (sbatch(1)).
SIGNAL_TIME_DEFAULT = 60

# Signal names sbatch accepts in --signal, with or without "SIG", any case
# (signals_mapping in src/common/proc_args.c); numbers are accepted too.
_SLURM_SIGNAL_NAMES: dict[str, _signal.Signals] = {
    name: _signal.Signals[f"SIG{name}"]
    for name in (
        "HUP", "INT", "QUIT", "ABRT", "KILL", "ALRM", "TERM", "CHLD", "USR1",
        "USR2", "PIPE", "URG", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "XCPU",
    )
}  # fmt: skip


@dataclass(frozen=True)
class SlurmSignal:
    """A ``--signal=[{R|B}:]<sig_num>[@sig_time]`` request (sbatch(1), ``--signal``).

    Attributes:
        signal: the signal to send.
        seconds_before_end: ``sig_time``, seconds before the job's end time (default 60; SLURM may
            send it up to 60 s earlier than asked, its event resolution).
        batch_only: ``B:``: only the batch shell process is signalled, none of its children and
            no job step. Without it every job step (each ``srun``) is signalled, but not the batch
            shell (``send_job_warn_signal`` in ``src/slurmctld/job_mgr.c``; ``kill(pgid)`` for the
            batch step in ``src/slurmd/slurmstepd/req.c``).
        reservation: ``R:`` (overlap with a reservation that has ``MaxStartDelay``); carried, not
            simulated.
    """

    signal: _signal.Signals
    seconds_before_end: int = SIGNAL_TIME_DEFAULT
    batch_only: bool = False
    reservation: bool = False

    @property
    def target(self) -> str:
        """``"batch"`` (the batch shell's own pid) or ``"steps"`` (every process of every step)."""
        return "batch" if self.batch_only else "steps"

    def describe(self) -> str:
        """The spec in sbatch's own form, e.g. ``"B:USR1@90"``."""
        prefix = ("R" if self.reservation else "") + ("B" if self.batch_only else "")
        name = self.signal.name.removeprefix("SIG")
        return f"{prefix + ':' if prefix else ''}{name}@{self.seconds_before_end}"


def parse_signal_spec(value: str) -> SlurmSignal:
    """Parse a ``--signal`` value as sbatch does (``get_signal_opts`` in ``src/common/proc_args.c``).

    Accepted: an optional flag prefix ``R``, ``B``, ``RB`` or ``BR`` (any case) followed by an
    optional ``:``; a signal name from sbatch's table (``USR1``, ``SIGUSR1``, ``usr1`` ...) or a
    number; an optional ``@seconds`` in 0..65535 (default 60).

    Args:
        value: e.g. ``"B:USR1@90"``, ``"USR2@300"``, ``"10"``.

    Returns:
        The parsed :class:`SlurmSignal`.

    Raises:
        ValueError: naming the value, when sbatch would answer ``Invalid --signal specification``
            (unknown signal, time out of range or not an integer) or the number is not a signal
            of this platform.
    """
    rest = value
    batch = reservation = False
    if rest[:1].upper() == "R":
        reservation, rest = True, rest[1:]
    if rest[:1].upper() == "B":
        batch, rest = True, rest[1:]
    if rest[:1].upper() == "R":
        reservation, rest = True, rest[1:]
    if rest.startswith(":"):
        rest = rest[1:]
    name, at, when = rest.partition("@")
    sig = _signal_from_slurm_name(name)
    if sig is None:
        raise ValueError(f"invalid --signal specification {value!r}: unknown signal {name!r}")
    seconds = SIGNAL_TIME_DEFAULT
    if at:
        # strtol semantics: leading blanks and a sign allowed, nothing after the digits; an
        # empty value reads as 0, as sbatch does.
        digits = when.lstrip()
        if digits and not re.fullmatch(r"[+-]?\d+", digits):
            raise ValueError(f"invalid --signal specification {value!r}: {when!r} is not a number of seconds")
        seconds = int(digits) if digits else 0
        if not 0 <= seconds <= 0xFFFF:
            raise ValueError(f"invalid --signal specification {value!r}: sig_time must be in 0..65535")
    return SlurmSignal(sig, seconds, batch_only=batch, reservation=reservation)


def _signal_from_slurm_name(text: str) -> _signal.Signals | None:
    # sig_name2num in src/common/proc_args.c: a number (then only blanks), or a name from the
    # table, "SIG" prefix optional, any case, then only blanks.
    stripped = text.strip()
    if re.fullmatch(r"[+-]?\d+", stripped):
        try:
            return _signal.Signals(int(stripped))
        except ValueError:
            return None
    return _SLURM_SIGNAL_NAMES.get(stripped.upper().removeprefix("SIG"))


def parse_time_limit(value: str) -> int | None:
    """Parse a ``--time`` value into seconds, as sbatch does (``time_str2mins``, ``src/common/parse_time.c``).

    Formats: ``minutes``, ``minutes:seconds``, ``hours:minutes:seconds``, ``days-hours``,
    ``days-hours:minutes``, ``days-hours:minutes:seconds``. Seconds are rounded up to the next
    whole minute (sbatch(1): "Time resolution is one minute").

    Args:
        value: the option's argument.

    Returns:
        Seconds (a multiple of 60), or ``None`` for no limit (``0``, ``-1``, ``INFINITE``,
        ``UNLIMITED``).

    Raises:
        ValueError: naming the value, when sbatch would answer ``Invalid time limit specification``.
    """
    text = value.strip()
    if text.upper() in {"-1", "INFINITE", "UNLIMITED"}:
        return None
    if not _valid_timespec(text):
        raise ValueError(f"invalid time limit specification {value!r}")
    days = hours = minutes = seconds = 0
    if "-" in text:
        day_part, _, clock = text.partition("-")
        days = int(day_part or 0)
        parts = [int(p or 0) for p in clock.split(":")] if clock else []
        hours, minutes, seconds = (parts + [0, 0, 0])[:3]
    else:
        parts = [int(p or 0) for p in text.split(":")]
        if len(parts) == 3:
            hours, minutes, seconds = parts
        elif len(parts) == 2:
            minutes, seconds = parts
        else:
            minutes = parts[0]
    total = days * 86400 + hours * 3600 + minutes * 60 + seconds
    if total == 0:
        return None  # "A time limit of zero requests that no time limit be imposed." (sbatch(1))
    return -(-total // 60) * 60


def _valid_timespec(text: str) -> bool:
    # _is_valid_timespec in src/common/parse_time.c: digits, at most one '-', at most two ':',
    # no ':' before the '-', and enough digit groups for the separators used.
    digits = dashes = colons = 0
    in_digit = False
    for ch in text:
        if ch.isdigit():
            if not in_digit:
                digits += 1
                in_digit = True
        elif ch == "-":
            in_digit = False
            dashes += 1
            if colons:
                return False
        elif ch == ":":
            in_digit = False
            colons += 1
        else:
            return False
    if not digits or dashes > 1 or colons > 2:
        return False
    need = {(1, 1): 3, (1, 2): 4, (0, 1): 2, (0, 2): 3}.get((dashes, colons), 0)
    return digits >= need
