"""The fake ``srun``: one task on one node; it records the step, redirects ``--output``/``--error``
(with ``%j %t %x %A %a %N %s %%``), sets the step variables and replaces itself with the command
(exec), so a signal sent to the step reaches the task. Standard library only; imported by
``fake_slurm.py`` from the directory it is installed in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:  # the type checker reads this directory as a namespace package
    from .fake_slurm_events import EVENTS_ENV, finish, record, restart_count
else:  # imported by fake_slurm.py, run as a script from this directory
    from fake_slurm_events import EVENTS_ENV, finish, record, restart_count

_SRUN_SHORT_WITH_VALUE = set("AbcCdDeEGiJLmMnNoOpqrStTwWx")
_SRUN_LONG_WITH_VALUE = {
    "account", "chdir", "constraint", "cpus-per-task", "cpu-bind", "dependency", "distribution",
    "error", "exclude", "export", "gpus", "gpus-per-node", "gpus-per-task", "gres", "input",
    "job-name", "jobid", "mem", "mem-per-cpu", "mem-per-gpu", "mpi", "nodelist", "nodes", "ntasks",
    "ntasks-per-node", "open-mode", "output", "partition", "qos", "reservation", "signal", "time",
}  # fmt: skip


def srun(argv: list[str]) -> NoReturn:
    """Run ``srun ARGV`` (see the module docstring)."""
    opts: dict[str, str | None] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        a = argv[i]
        i += 1
        if a == "--":
            break
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            if not eq and name in _SRUN_LONG_WITH_VALUE and i < len(argv):
                value, eq = argv[i], "="
                i += 1
            opts[name] = value if eq else None
        else:
            short = a[1]
            value = a[2:]
            if not value and short in _SRUN_SHORT_WITH_VALUE and i < len(argv):
                value = argv[i]
                i += 1
            long = {"n": "ntasks", "N": "nodes", "o": "output", "e": "error", "J": "job-name"}.get(short, short)
            opts[long] = value or None
    command = argv[i:]
    if not command:
        sys.stderr.write("srun: fatal: No command given to execute.\n")
        finish("srun", "step", argv, 1, error="no command")
    for name in ("ntasks", "nodes"):
        if opts.get(name) not in (None, "1"):
            sys.stderr.write(
                f"srun: pytest-runresume's fake srun runs one task on one node; --{name}={opts[name]} is not simulated\n"
            )
            finish("srun", "step", argv, 1, error=f"--{name}={opts[name]} not simulated")
    exe = command[0]
    if not (shutil.which(exe) if "/" not in exe else os.access(exe, os.X_OK)):
        node = os.environ.get("SLURMD_NODENAME", "localhost")
        sys.stderr.write(
            f"srun: error: {node}: task 0: Exited with exit code 2\nslurmstepd: error: execve(): {exe}: No such file or directory\n"
        )
        finish("srun", "step", argv, 2, step_argv=command, error=f"execve(): {exe}: No such file or directory")
    previous = _steps_so_far()
    env = os.environ
    job_id = env.get("SLURM_JOB_ID", "0")
    subst = {
        "j": job_id,
        "t": "0",
        "s": str(previous),
        "x": env.get("SLURM_JOB_NAME", ""),
        "A": env.get("SLURM_ARRAY_JOB_ID", job_id),
        "a": env.get("SLURM_ARRAY_TASK_ID", "4294967294"),
        "N": env.get("SLURMD_NODENAME", "localhost"),
        "u": env.get("USER", "user"),
    }

    def expand(pattern: str) -> str:
        return re.sub(
            r"%(%|[a-zA-Z])", lambda m: "%" if m.group(1) == "%" else subst.get(m.group(1), m.group(0)), pattern
        )

    mode = "a" if opts.get("open-mode") == "append" else "w"
    output, error = opts.get("output"), opts.get("error")
    out_path = expand(output) if output else None
    err_path = expand(error) if error else None
    os.environ.update(
        SLURM_STEP_ID=str(previous),
        SLURM_STEPID=str(previous),
        SLURM_PROCID="0",
        SLURM_LOCALID="0",
        SLURM_NODEID="0",
        SLURM_STEP_NUM_TASKS="1",
        SLURM_STEP_NUM_NODES="1",
        SLURM_STEP_NODELIST=env.get("SLURM_JOB_NODELIST", "localhost"),
        SLURM_STEP_TASKS_PER_NODE="1",
    )
    record("srun", "step", argv, 0, step_argv=command, step_id=previous, output=out_path, error_file=err_path)
    sys.stdout.flush()
    sys.stderr.flush()
    if out_path:
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC), 0o644)
        os.dup2(fd, 1)
        if not err_path:
            os.dup2(fd, 2)  # srun(1): without --error, stderr goes where --output goes
        os.close(fd)
    if err_path:
        fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC), 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    os.execvp(exe, command)


def _steps_so_far() -> int:
    """Steps already launched in this run of the job: the next step id (0, 1, ...)."""
    path = os.environ.get(EVENTS_ENV, "")
    job, restarts = os.environ.get("SLURM_JOB_ID"), restart_count()
    count = 0
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if (
                    rec.get("command") == "srun"
                    and rec.get("exit_code") == 0
                    and rec.get("job_id") == job
                    and rec.get("restart_count") == restarts
                ):
                    count += 1
    except OSError:
        pass
    return count
