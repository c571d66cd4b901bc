"""SLURM as it delivers preemption: ``#SBATCH`` directives, the job environment, fake client commands.

Pure standard library, no import from the runner: the runner (or a test) composes these pieces.

- :func:`parse_sbatch` reads the ``#SBATCH`` lines of a batch script the way ``sbatch`` does
  (``src/sbatch/opt.c``, ``_opt_batch_script`` and ``get_argument`` in SchedMD/slurm) and
  returns an :class:`SbatchScript` with the options that matter for preemption: ``--signal``,
  ``--requeue``/``--no-requeue``, ``--time``, ``--job-name``. A malformed directive raises
  :class:`SbatchError` naming the file and line.
- :func:`slurm_env` is the environment a batch job (and its one ``srun`` step) sees.
- :func:`install_fake_commands` writes fake ``scontrol``, ``squeue``, ``sbatch``, ``srun`` and
  ``scancel`` into a directory to put first on ``PATH``; each records what it was asked as one
  JSON line in the file named by :data:`EVENTS_ENV` (read back with :func:`read_events`).
- :func:`warning_signal_steps`, :func:`termination_steps` and :func:`preemption_steps` say which
  signal goes to which processes and when, for the runner to carry out.

The SLURM facts each piece follows are cited where they are used, and collected in
``docs/schedulers/README.md``.
"""

from __future__ import annotations

import json
import os
import re
import signal as _signal
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "EVENTS_ENV",
    "FAKE_COMMANDS",
    "KILL_WAIT_DEFAULT",
    "SIGNAL_TIME_DEFAULT",
    "SbatchDirective",
    "SbatchError",
    "SbatchScript",
    "SignalStep",
    "SlurmEvent",
    "SlurmSignal",
    "fake_bin_dir",
    "install_fake_commands",
    "parse_sbatch",
    "parse_sbatch_file",
    "parse_signal_spec",
    "parse_time_limit",
    "preemption_steps",
    "read_events",
    "requeue_requests",
    "slurm_env",
    "termination_steps",
    "warning_signal_steps",
]

#: Environment variable naming the JSON-lines file the fake commands append their requests to.
EVENTS_ENV = "RUNRESUME_SLURM_EVENTS"
#: The fake client commands :func:`install_fake_commands` writes.
FAKE_COMMANDS: tuple[str, ...] = ("scontrol", "squeue", "sbatch", "srun", "scancel")
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

# Long options sbatch(1) documents. Only used to resolve abbreviations the way getopt_long does
# ("--sig=USR1" is "--signal=USR1"; an ambiguous prefix is an error); options outside the four
# this module reads are kept as they are, not validated.
_SBATCH_LONG_OPTIONS: frozenset[str] = frozenset(
    """
    account acctg-freq array batch bb bbf begin chdir cluster-constraint clusters comment
    consolidate-segments constraint container container-id contiguous core-spec cores-per-socket
    cpu-freq cpus-per-gpu cpus-per-task deadline delay-boot dependency distribution error exclude
    exclusive export export-file extra extra-node-info get-user-env gid gpu-bind gpu-freq gpus
    gpus-per-node gpus-per-socket gpus-per-task gres gres-flags help hint ignore-pbs input job-name
    kill-on-invalid-dep licenses mail-type mail-user mcs-label mem mem-bind mem-per-cpu mem-per-gpu
    mem-update mincpus network nice no-kill no-requeue nodefile nodelist nodes ntasks
    ntasks-per-core ntasks-per-gpu ntasks-per-node ntasks-per-socket oom-kill-step open-mode output
    overcommit oversubscribe parsable partition prefer priority profile propagate qos quiet reboot
    requeue reservation resources resv-ports runtime segment signal sockets-per-node spread-job
    spread-segments stepmgr switches test-only thread-spec threads-per-core time time-min tmp
    tres-bind tres-per-task uid usage use-min-nodes verbose version wait wait-all-nodes wckey wrap
    """.split()
)
# The options this module reads: long name -> short letter (or None).
_READ_OPTIONS: dict[str, str | None] = {
    "signal": None,
    "requeue": None,
    "no-requeue": None,
    "time": "t",
    "job-name": "J",
}
_SHORT_TO_LONG = {short: long for long, short in _READ_OPTIONS.items() if short}


class SbatchError(ValueError):
    """A ``#SBATCH`` directive sbatch would refuse. The message names ``file:line`` and the line.

    Attributes:
        filename: the script's name as given to :func:`parse_sbatch`.
        lineno: 1-based line number of the offending directive.
        line: the directive's text.
    """

    def __init__(self, filename: str, lineno: int, line: str, problem: str) -> None:
        super().__init__(f"{filename}:{lineno}: {problem}: {line.strip()!r}")
        self.filename = filename
        self.lineno = lineno
        self.line = line
        self.problem = problem


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


@dataclass(frozen=True)
class SbatchDirective:
    """One option found in the ``#SBATCH`` lines.

    Attributes:
        lineno: 1-based line of the script the option (its name) is on.
        option: the long name without dashes (``"signal"``), after resolving ``-J``/``-t`` and
            abbreviations; for an option this module does not know, the name as written.
        value: its argument, or ``None`` for a flag.
        line: the whole line, for messages.
    """

    lineno: int
    option: str
    value: str | None
    line: str


@dataclass(frozen=True)
class SbatchScript:
    """What a batch script asks of SLURM, as far as preemption is concerned.

    Attributes:
        filename: the name given to :func:`parse_sbatch` (used in messages).
        text: the whole script.
        shebang: the ``#!`` line's interpreter command, or ``None``.
        directives: every option found, in order.
        signal: the last ``--signal``, or ``None`` (no signal before the end time).
        requeue: ``True`` for ``--requeue``, ``False`` for ``--no-requeue`` (the last one wins),
            ``None`` when neither is given (the cluster's ``JobRequeue``, default 1, decides).
        time_limit_s: the ``--time`` limit in seconds, rounded up to whole minutes as SLURM does;
            ``None`` when not given or unlimited (``0``, ``UNLIMITED``, ``INFINITE``, ``-1``).
        time_limit: the ``--time`` value as written, or ``None``.
        job_name: ``--job-name``/``-J``, or ``None`` (SLURM then uses the script's file name).
        first_command_line: 1-based line where directive parsing stopped (the first line that
            is neither blank nor a comment), or ``None`` if the script has none.
    """

    filename: str
    text: str
    shebang: str | None
    directives: tuple[SbatchDirective, ...]
    signal: SlurmSignal | None = None
    requeue: bool | None = None
    time_limit_s: int | None = None
    time_limit: str | None = None
    job_name: str | None = None
    first_command_line: int | None = None

    def requeue_allowed(self, cluster_default: bool = True) -> bool:
        """Whether ``scontrol requeue`` and a REQUEUE preemption may requeue this job.

        Args:
            cluster_default: slurm.conf ``JobRequeue`` (1, i.e. ``True``, by default).
        """
        return cluster_default if self.requeue is None else self.requeue

    def ignored_directives(self) -> list[tuple[int, str]]:
        """``#SBATCH`` lines sbatch silently ignores, with the reason: ``[(lineno, why), ...]``.

        Two frequent mistakes: a directive after the first command (``module load`` above
        ``#SBATCH --signal=...`` drops it) and an indented one (sbatch matches ``#SBATCH`` in the
        first column only; an indented line is a plain comment).
        """
        out: list[tuple[int, str]] = []
        for n, line in enumerate(self.text.splitlines(), start=1):
            if line.startswith(("#SBATCH", "#SLURM")):
                if self.first_command_line is not None and n > self.first_command_line:
                    out.append((n, f"after the first command (line {self.first_command_line})"))
            elif line.lstrip().startswith(("#SBATCH", "#SLURM")):
                if self.first_command_line is None or n < self.first_command_line:
                    out.append((n, "indented: sbatch reads #SBATCH only in the first column"))
        return out


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


def _split_directive(filename: str, lineno: int, line: str, rest: str) -> list[str]:
    """Split a directive's text into arguments like sbatch's ``get_argument``.

    Whitespace separates; single or double quotes group (and are removed); a backslash makes the
    next character literal; an unquoted ``#`` starts a comment.
    """
    args: list[str] = []
    i, n = 0, len(rest)
    while True:
        while i < n and rest[i].isspace():
            i += 1
        if i >= n:
            return args
        if rest[i] == ":":
            raise SbatchError(filename, lineno, line, "unexpected ':'")
        buf: list[str] = []
        quote = ""
        while i < n and (quote or not rest[i].isspace()):
            ch = rest[i]
            if ch == "\\" and i + 1 < n:
                buf.append(rest[i + 1])
                i += 2
                continue
            if quote:
                if ch == quote:
                    quote = ""
                else:
                    buf.append(ch)
                i += 1
                continue
            if ch in "\"'":
                quote = ch
                i += 1
                continue
            if ch == "#":
                if buf:
                    args.append("".join(buf))
                return args
            buf.append(ch)
            i += 1
        if quote:
            raise SbatchError(filename, lineno, line, f"unmatched {quote}")
        args.append("".join(buf))


def _resolve_long(filename: str, lineno: int, line: str, name: str) -> str:
    if name in _SBATCH_LONG_OPTIONS or name in _READ_OPTIONS:
        return name
    matches = sorted(o for o in _SBATCH_LONG_OPTIONS if o.startswith(name))
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise SbatchError(filename, lineno, line, f"option '--{name}' is ambiguous ({', '.join(matches)})")
    return name


def parse_sbatch(text: str, filename: str = "<sbatch script>") -> SbatchScript:
    """Read the ``#SBATCH`` directives of a batch script as sbatch does.

    Follows sbatch(1) ("Once the first non-comment, non-whitespace line has been reached in the
    script, no more #SBATCH directives will be processed") and ``_opt_batch_script`` in
    ``src/sbatch/opt.c``: a directive is a line starting, in its first column, with ``#SBATCH``
    (or the deprecated ``#SLURM``); blank lines and other comments are skipped; the first other
    line ends the directives. Options are read like getopt_long: ``--opt=value``, ``--opt value``,
    ``-J name``/``-Jname``, ``-t 10``/``-t10``, unambiguous abbreviations; a later option
    overrides an earlier one.

    Args:
        text: the script.
        filename: its name, for messages.

    Returns:
        The :class:`SbatchScript`.

    Raises:
        SbatchError: naming ``filename:line`` for an unmatched quote, an unexpected ``:``, an
            ambiguous abbreviation, a missing argument, or an invalid ``--signal`` or ``--time``.
    """
    lines = text.splitlines()
    shebang = lines[0][2:].strip() if lines and lines[0].startswith("#!") else None
    # (argument, lineno, line) for every token of every directive line, in order.
    tokens: list[tuple[str, int, str]] = []
    first_command: int | None = None
    for lineno, line in enumerate(lines, start=1):
        if line.startswith("#SBATCH"):
            rest = line[len("#SBATCH") :]
        elif line.startswith("#SLURM"):
            rest = line[len("#SLURM") :]
        else:
            stripped = line.lstrip()
            if stripped and not stripped.startswith("#"):
                first_command = lineno
                break
            continue
        tokens.extend((arg, lineno, line) for arg in _split_directive(filename, lineno, line, rest))

    directives: list[SbatchDirective] = []
    i = 0
    while i < len(tokens):
        arg, lineno, line = tokens[i]
        i += 1
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg[2:].partition("=")
            name = _resolve_long(filename, lineno, line, name)
            val: str | None = value if eq else None
        elif arg.startswith("-") and len(arg) > 1 and arg[1] != "-":
            short = arg[1]
            name = _SHORT_TO_LONG.get(short, short)
            val = arg[2:] or None
            if val is not None and val.startswith("="):
                val = val[1:]
        else:
            raise SbatchError(filename, lineno, line, f"not an option: {arg!r}")
        takes_value = name in ("signal", "time", "job-name") or name not in _READ_OPTIONS
        if val is None and takes_value and i < len(tokens):
            nxt = tokens[i][0]
            # Options this module reads take their value from the next argument, like getopt.
            # For the others the arity is not known: a next argument that is not an option is
            # taken as the value (sbatch would refuse a stray non-option anyway).
            if name in _READ_OPTIONS or not nxt.startswith("-"):
                val = nxt
                i += 1
        if val is None and name in ("signal", "time", "job-name"):
            raise SbatchError(filename, lineno, line, f"option '--{name}' requires an argument")
        directives.append(SbatchDirective(lineno, name, val, line))

    sig: SlurmSignal | None = None
    requeue: bool | None = None
    time_s: int | None = None
    time_text: str | None = None
    job_name: str | None = None
    for d in directives:
        try:
            if d.option == "signal":
                assert d.value is not None
                sig = parse_signal_spec(d.value)
            elif d.option == "requeue":
                if d.value not in (None, "expedite"):
                    raise ValueError(f"--requeue takes no value or 'expedite', not {d.value!r}")
                requeue = True
            elif d.option == "no-requeue":
                if d.value is not None:
                    raise ValueError("--no-requeue takes no value")
                requeue = False
            elif d.option == "time":
                assert d.value is not None
                time_s, time_text = parse_time_limit(d.value), d.value
            elif d.option == "job-name":
                job_name = d.value
        except ValueError as e:
            raise SbatchError(filename, d.lineno, d.line, str(e)) from None
    return SbatchScript(
        filename=filename,
        text=text,
        shebang=shebang,
        directives=tuple(directives),
        signal=sig,
        requeue=requeue,
        time_limit_s=time_s,
        time_limit=time_text,
        job_name=job_name,
        first_command_line=first_command,
    )


def parse_sbatch_file(path: str | os.PathLike[str]) -> SbatchScript:
    """:func:`parse_sbatch` on a file (read as UTF-8); messages name the file's path.

    Raises:
        OSError: the file cannot be read.
        SbatchError: as :func:`parse_sbatch`.
    """
    p = Path(path)
    return parse_sbatch(p.read_text(encoding="utf-8"), filename=str(p))


def slurm_env(
    job_id: int | str,
    restart_count: int = 0,
    *,
    job_name: str = "runresume-job",
    ntasks: int = 1,
    node_name: str = "localhost",
    submit_dir: str | os.PathLike[str] | None = None,
    partition: str = "runresume",
    cluster: str = "runresume",
    array_job_id: int | str | None = None,
    array_task_id: int | str | None = None,
    events_file: str | os.PathLike[str] | None = None,
    requeue: bool = True,
    time_limit_s: int | None = None,
) -> dict[str, str]:
    """The variables a SLURM batch job and its single ``srun`` step see (sbatch(1), OUTPUT ENVIRONMENT VARIABLES).

    One node, ``ntasks`` tasks, this process being task 0: what a single-process training job
    under ``sbatch`` + ``srun`` has. ``SLURM_RESTART_COUNT`` is set for batch jobs
    (``src/common/env.c``) and grows by one at each requeue (``job_ptr->restart_cnt++`` in
    ``_job_requeue_op``, ``src/slurmctld/job_mgr.c``); the job id stays the same (sbatch(1),
    ``--requeue``).

    Lightning detects SLURM from ``SLURM_NTASKS`` with a job name other than ``bash`` or
    ``interactive`` (``SLURMEnvironment.detect``), so do not name the job ``bash``.

    Args:
        job_id: ``SLURM_JOB_ID``, a positive integer (or its string).
        restart_count: ``SLURM_RESTART_COUNT``: 0 for the first run, N after N requeues.
        job_name: ``SLURM_JOB_NAME``.
        ntasks: ``SLURM_NTASKS`` (and per node: one node).
        node_name: ``SLURMD_NODENAME`` and the node list.
        submit_dir: ``SLURM_SUBMIT_DIR`` (default: the current directory).
        partition: ``SLURM_JOB_PARTITION``.
        cluster: ``SLURM_CLUSTER_NAME``.
        array_job_id: ``SLURM_ARRAY_JOB_ID`` for an array task (with ``array_task_id``).
        array_task_id: ``SLURM_ARRAY_TASK_ID``.
        events_file: where the fake commands record requests (:data:`EVENTS_ENV`).
        requeue: whether the job may be requeued (``--requeue``/``--no-requeue``); the fake
            ``scontrol requeue`` refuses when ``False``, as SLURM does.
        time_limit_s: the job's time limit in seconds, shown by the fake ``scontrol show job``.

    Returns:
        A new dict of strings, to merge into the command's environment.

    Raises:
        ValueError: a non-positive or non-integer job id, a negative restart count, ``ntasks``
            below 1, or only one of the two array values.
    """
    jid = str(job_id)
    if not jid.isdigit() or int(jid) <= 0:
        raise ValueError(f"SLURM job id must be a positive integer, not {job_id!r}")
    if restart_count < 0:
        raise ValueError(f"restart_count must be >= 0, not {restart_count}")
    if ntasks < 1:
        raise ValueError(f"ntasks must be >= 1, not {ntasks}")
    if (array_job_id is None) != (array_task_id is None):
        raise ValueError("array_job_id and array_task_id go together")
    env = {
        "SLURM_JOB_ID": jid,
        "SLURM_JOBID": jid,
        "SLURM_JOB_NAME": job_name,
        "SLURM_RESTART_COUNT": str(restart_count),
        "SLURM_NTASKS": str(ntasks),
        "SLURM_NPROCS": str(ntasks),
        "SLURM_NTASKS_PER_NODE": str(ntasks),
        "SLURM_TASKS_PER_NODE": str(ntasks),
        "SLURM_NNODES": "1",
        "SLURM_JOB_NUM_NODES": "1",
        "SLURM_NODELIST": node_name,
        "SLURM_JOB_NODELIST": node_name,
        "SLURMD_NODENAME": node_name,
        "SLURM_NODEID": "0",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_CPUS_ON_NODE": str(ntasks),
        "SLURM_SUBMIT_DIR": str(submit_dir if submit_dir is not None else os.getcwd()),
        "SLURM_SUBMIT_HOST": node_name,
        "SLURM_JOB_PARTITION": partition,
        "SLURM_CLUSTER_NAME": cluster,
        "RUNRESUME_SLURM_REQUEUE": "1" if requeue else "0",
    }
    if array_job_id is not None:
        env["SLURM_ARRAY_JOB_ID"] = str(array_job_id)
        env["SLURM_ARRAY_TASK_ID"] = str(array_task_id)
    if events_file is not None:
        env[EVENTS_ENV] = str(events_file)
    if time_limit_s is not None:
        env["RUNRESUME_SLURM_TIME_LIMIT"] = str(int(time_limit_s))
    return env


def fake_bin_dir() -> Path:
    """The packaged directory of fake commands (``_slurm_bin``), usable as is on ``PATH``.

    Its commands run ``python3`` from ``PATH`` and need their executable bits; prefer
    :func:`install_fake_commands`, which does not depend on either.
    """
    return Path(__file__).with_name("_slurm_bin")


def install_fake_commands(dest: str | os.PathLike[str], python: str | None = None) -> Path:
    """Write the fake SLURM commands into ``dest`` (created if needed), executable.

    Each of :data:`FAKE_COMMANDS` is a copy of ``_slurm_bin/fake_slurm.py`` whose ``#!`` line
    names ``python`` (default: this interpreter), so it runs whatever ``PATH`` holds. Put
    ``dest`` first on the job's ``PATH``.

    Args:
        dest: directory to write into.
        python: interpreter for the ``#!`` line (an absolute path).

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.

    Raises:
        OSError: the directory or a file cannot be written.
    """
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    source = (fake_bin_dir() / "fake_slurm.py").read_text(encoding="utf-8")
    body = source.split("\n", 1)[1] if source.startswith("#!") else source
    interp = python or sys.executable
    for name in FAKE_COMMANDS:
        path = out / name
        tmp = out / f".{name}.tmp"
        tmp.write_text(f"#!{interp}\n{body}", encoding="utf-8")
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(tmp, path)
    return out


@dataclass(frozen=True)
class SlurmEvent:
    """One request a fake command recorded.

    Attributes:
        command: ``"scontrol"``, ``"srun"``, ...
        action: what was asked: ``"requeue"``, ``"requeuehold"``, ``"show_job"``, ``"squeue"``,
            ``"submit"``, ``"step"``, ``"cancel"``, or ``"unsupported"``.
        argv: the command's arguments.
        exit_code: what the fake command exited with (a step's ``srun`` records 0 before exec).
        job_id: ``SLURM_JOB_ID`` of the caller's environment, if set.
        restart_count: ``SLURM_RESTART_COUNT`` of the caller, if set.
        time: ``time.time()`` when recorded.
        pid: the fake command's pid (for ``srun``: the step's pid, as it execs).
        data: the rest of the record (``job_ids``, ``command``, ``signal``, ``error`` ...).
    """

    command: str
    action: str
    argv: tuple[str, ...]
    exit_code: int
    job_id: str | None
    restart_count: int | None
    time: float
    pid: int
    data: Mapping[str, Any] = field(default_factory=dict)


def read_events(path: str | os.PathLike[str]) -> list[SlurmEvent]:
    """The requests recorded in ``path`` so far, in order; ``[]`` if the file does not exist.

    A last line still being written (no newline yet) is left out.

    Raises:
        ValueError: a complete line is not a JSON object of the expected shape.
    """
    p = Path(path)
    if not p.exists():
        return []
    text = p.read_text(encoding="utf-8")
    out = []
    for n, line in enumerate(text.split("\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            known = {"command", "action", "argv", "exit_code", "job_id", "restart_count", "time", "pid"}
            rc = rec.get("restart_count")
            out.append(
                SlurmEvent(
                    command=str(rec["command"]),
                    action=str(rec["action"]),
                    argv=tuple(str(a) for a in rec["argv"]),
                    exit_code=int(rec["exit_code"]),
                    job_id=rec.get("job_id"),
                    restart_count=int(rc) if rc is not None else None,
                    time=float(rec["time"]),
                    pid=int(rec["pid"]),
                    data={k: v for k, v in rec.items() if k not in known},
                )
            )
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{p}:{n}: not a fake-SLURM event record ({e}): {line[:200]!r}") from None
    return out


@dataclass(frozen=True)
class SignalStep:
    """One signal the runner must send, to whom, and when.

    Attributes:
        signal: what to send.
        target: ``"batch"``: the batch shell's own pid only (not its children); ``"steps"``:
            every process of every ``srun`` step, not the batch shell; ``"job"``: the batch shell
            and every process of every step (the whole tree: the batch step's processes are
            tracked as a group too).
        at: seconds after the delivery starts.
        reason: why, for the timeline (names the SLURM mechanism).
    """

    signal: _signal.Signals
    target: str
    at: float
    reason: str


def warning_signal_steps(spec: SlurmSignal, at: float = 0.0) -> list[SignalStep]:
    """The ``--signal`` warning: SIGCONT, then the signal, to the batch shell (``B:``) or the steps.

    ``send_job_warn_signal`` (``src/slurmctld/job_mgr.c``) sends SIGCONT first, then the signal,
    once per run of the job (``WARN_SENT``, cleared on requeue).

    Args:
        spec: the script's ``--signal``.
        at: when, in seconds from the start of the delivery (the runner maps the job's end time
            minus ``sig_time`` to this).
    """
    why = f"--signal={spec.describe()}"
    return [
        SignalStep(_signal.SIGCONT, spec.target, at, f"{why}: SIGCONT first"),
        SignalStep(spec.signal, spec.target, at, why),
    ]


def termination_steps(
    kill_wait: float = KILL_WAIT_DEFAULT, at: float = 0.0, reason: str = "job end"
) -> list[SignalStep]:
    """How SLURM ends a job: SIGCONT and SIGTERM to every step and the batch step, SIGKILL after ``KillWait``.

    The same for a time limit, ``scancel`` without ``--signal``, a cancel or requeue preemption
    after its grace time, and ``scontrol requeue`` of a running job (``_rpc_terminate_job`` ->
    ``_kill_all_active_steps(..., batch=true)`` in ``src/slurmd/slurmd/req.c``; scancel(1);
    slurm.conf(5) ``KillWait``, default 30 s).

    Args:
        kill_wait: ``KillWait`` seconds (scale it down in tests).
        at: when the termination starts, in seconds from the start of the delivery.
        reason: the cause, for the timeline.

    Raises:
        ValueError: a negative ``kill_wait``.
    """
    if kill_wait < 0:
        raise ValueError(f"kill_wait must be >= 0, not {kill_wait}")
    return [
        SignalStep(_signal.SIGCONT, "job", at, f"{reason}: SIGCONT to every step"),
        SignalStep(_signal.SIGTERM, "job", at, f"{reason}: SIGTERM to every step"),
        SignalStep(_signal.SIGKILL, "job", at + kill_wait, f"{reason}: SIGKILL after KillWait={kill_wait:g}s"),
    ]


def preemption_steps(
    script: SbatchScript | None = None,
    *,
    grace_time: float = 0.0,
    kill_wait: float = KILL_WAIT_DEFAULT,
    send_user_signal: bool = False,
) -> list[SignalStep]:
    """A preemption (``PreemptMode=REQUEUE`` or ``CANCEL``) as slurmctld delivers it.

    With ``GraceTime`` > 0 the job is told at once: SIGCONT and SIGTERM to the steps, or, with
    ``PreemptParameters=send_user_signal`` and a ``--signal`` in the script, that signal to its
    targets instead; its end time becomes now + ``GraceTime``, where the normal termination
    follows (``_job_check_grace_internal`` in ``src/interfaces/preempt.c``; preempt.shtml
    ``GraceTime``; slurm.conf(5) ``send_user_signal``). With no grace time the termination starts
    at once. The immediate SIGTERM without flags goes to the steps, not the batch shell (scancel(1):
    "By default, signals other than SIGKILL are not sent to the batch step").

    Args:
        script: the job's parsed script (its ``--signal`` matters only with ``send_user_signal``).
        grace_time: the partition's or QOS's ``GraceTime`` in seconds.
        kill_wait: ``KillWait`` in seconds.
        send_user_signal: whether ``PreemptParameters=send_user_signal`` is configured.

    Raises:
        ValueError: a negative ``grace_time`` or ``kill_wait``.
    """
    if grace_time < 0:
        raise ValueError(f"grace_time must be >= 0, not {grace_time}")
    steps: list[SignalStep] = []
    if grace_time > 0:
        if send_user_signal and script is not None and script.signal is not None:
            steps += warning_signal_steps(script.signal, 0.0)
        else:
            steps += [
                SignalStep(_signal.SIGCONT, "steps", 0.0, f"preempted, GraceTime={grace_time:g}s: SIGCONT"),
                SignalStep(_signal.SIGTERM, "steps", 0.0, f"preempted, GraceTime={grace_time:g}s: SIGTERM"),
            ]
    steps += termination_steps(kill_wait, at=grace_time, reason="preempted")
    return steps


def _as_list(value: Iterable[str] | str) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def requeue_requests(events: Sequence[SlurmEvent], job_id: int | str) -> list[SlurmEvent]:
    """The successful ``scontrol requeue``/``requeuehold`` requests for ``job_id`` among ``events``."""
    jid = str(job_id)
    return [
        e
        for e in events
        if e.command == "scontrol"
        and e.action in ("requeue", "requeuehold")
        and e.exit_code == 0
        and jid in _as_list(e.data.get("job_ids", []))
    ]
