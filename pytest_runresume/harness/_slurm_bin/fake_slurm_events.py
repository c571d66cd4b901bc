"""The fake SLURM commands' records: each request is one JSON line appended to the file named by
``RUNRESUME_SLURM_EVENTS`` (:func:`record`), and a requeue or cancel of the running job is also told
to the harness over its control socket (:func:`notify`). Standard library only; imported by
``fake_slurm.py`` and ``fake_srun.py`` from the directory they are installed in.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, NoReturn

EVENTS_ENV = "RUNRESUME_SLURM_EVENTS"


def env_job_ids() -> set[str]:
    ids = set()
    if os.environ.get("SLURM_JOB_ID"):
        ids.add(os.environ["SLURM_JOB_ID"])
    if os.environ.get("SLURM_ARRAY_JOB_ID") and os.environ.get("SLURM_ARRAY_TASK_ID"):
        ids.add(f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}")
    return ids


def restart_count() -> int | None:
    value = os.environ.get("SLURM_RESTART_COUNT", "")
    return int(value) if value.isdigit() else None


def events_path(command: str) -> str:
    path = os.environ.get(EVENTS_ENV)
    if not path:
        sys.stderr.write(
            f"{command}: {EVENTS_ENV} is not set. This is pytest-runresume's fake {command}: it records "
            f"each request in the file that variable names, for the harness to act on.\n"
        )
        sys.exit(1)
    return path


def record(tool: str, action: str, argv: list[str], exit_code: int, **data: Any) -> None:
    path = events_path(tool)
    rec: dict[str, Any] = {
        "command": tool,
        "action": action,
        "argv": argv,
        "exit_code": exit_code,
        "job_id": os.environ.get("SLURM_JOB_ID"),
        "restart_count": restart_count(),
        "time": time.time(),
        "pid": os.getpid(),
        "ppid": os.getppid(),
    }
    rec.update(data)
    line = (json.dumps(rec, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one write with O_APPEND: lines from concurrent commands do not mix
    finally:
        os.close(fd)
    if tool in NOTIFY and action in ("requeue", "requeuehold", "cancel"):
        notify(rec)


#: Requests the harness acts on at once (a requeue or cancel of the running job): each is also
#: sent to the harness's control socket, when there is one, as an event it answers.
NOTIFY = ("scontrol", "scancel")
CONTROL_ENV = "RUNRESUME_CONTROL"


def notify(rec: dict[str, Any]) -> None:
    """Tell the harness about ``rec`` over its Unix socket (one JSON line, one answer line) and wait
    for the answer, so the request is known before this command exits."""
    path = os.environ.get(CONTROL_ENV)
    if not path:
        return
    import socket

    # The harness ignores messages from processes outside the command's tree: say who is writing.
    msg = dict(rec, type="event", event="slurm", pid=os.getpid(), ppid=os.getppid())
    address = "\0" + path[1:] if path.startswith("@") else path  # "@name": the abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(address)
            sock.sendall((json.dumps(msg) + "\n").encode("utf-8"))
            while True:
                data = sock.recv(64)
                if not data or b"\n" in data:
                    break
    except OSError as exc:
        sys.stderr.write(f"{rec['command']}: could not tell pytest-runresume's harness: {exc}\n")


def finish(tool: str, action: str, argv: list[str], code: int, **data: Any) -> NoReturn:
    record(tool, action, argv, code, **data)
    sys.exit(code)
