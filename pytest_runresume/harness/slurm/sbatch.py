"""``#SBATCH`` directives read the way ``sbatch`` reads them (``src/sbatch/opt.c``, ``_opt_batch_script``
and ``get_argument`` in SchedMD/slurm): :func:`parse_sbatch` returns an :class:`SbatchScript` with the
options that matter for preemption; a malformed directive raises :class:`SbatchError` naming the
file and line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .options import SlurmSignal, parse_signal_spec, parse_time_limit

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
