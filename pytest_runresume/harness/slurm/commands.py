"""What a batch job sees: its environment (:func:`slurm_env`) and the fake ``scontrol``, ``squeue``,
``sbatch``, ``srun`` and ``scancel`` (:func:`install_fake_commands`), which record each request as
one JSON line in the file named by :data:`EVENTS_ENV` (read back with :func:`read_events`;
:func:`requeue_requests` picks the requeues).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Environment variable naming the JSON-lines file the fake commands append their requests to.
EVENTS_ENV = "RUNRESUME_SLURM_EVENTS"
#: The fake client commands :func:`install_fake_commands` writes.
FAKE_COMMANDS: tuple[str, ...] = ("scontrol", "squeue", "sbatch", "srun", "scancel")
#: The modules of ``_slurm_bin`` the fake commands import from their own directory.
FAKE_MODULES: tuple[str, ...] = ("fake_slurm_events.py", "fake_srun.py")


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
    return Path(__file__).parent.parent / "_slurm_bin"


def install_fake_commands(dest: str | os.PathLike[str], python: str | None = None) -> Path:
    """Write the fake SLURM commands into ``dest`` (created if needed), executable.

    Each of :data:`FAKE_COMMANDS` is a copy of ``_slurm_bin/fake_slurm.py`` whose ``#!`` line
    names ``python`` (default: this interpreter), so it runs whatever ``PATH`` holds; the modules
    it imports (:data:`FAKE_MODULES`) are copied beside them. Put ``dest`` first on the job's ``PATH``.

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
    for module in FAKE_MODULES:  # first: a command found on PATH finds what it imports
        tmp = out / f".{module}.tmp"
        tmp.write_text((fake_bin_dir() / module).read_text(encoding="utf-8"), encoding="utf-8")
        os.replace(tmp, out / module)
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
