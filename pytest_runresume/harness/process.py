"""The supervised process tree of one command: starting the supervisor, its two channels to the
harness, and the tree's processes.

The process tree: harness -> supervisor (``_supervisor.py``, a child subreaper in its own session)
-> the command -> wandb-core (which the SDK starts in a session of its own). The supervisor writes
its status (spawned, exited, killed, the network guard) as JSON lines on a pipe; the hook inside the
command's Python processes talks to the harness over the control socket (:mod:`.protocol`), a file
in the command's own ``TMPDIR``. Both end up as ``(kind, payload)`` items on one queue that
:class:`~.runner.Harness` reads.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import signal as _signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model import RunRecord
from . import protocol
from ._netns import Connector
from ._supervisor import parent
from .results import ProcessEvent, SentSignal
from .schedulers import Job
from .spec import Preemption

HERE = Path(__file__).resolve().parent
SUPERVISOR = HERE / "_supervisor.py"
CHILD_HOOK_DIR = HERE / "_child"
#: Seconds the harness waits for one control message's line once a process has connected.
MESSAGE_TIMEOUT = 10.0

Events = queue.Queue[tuple[str, Any]]


@dataclass
class Attempt:
    """What the harness tracks while one command runs."""

    argv: list[str]
    proc: subprocess.Popen[bytes]
    logdir: Path
    start_clock: float
    t0: float
    timeline_from: dict[str, int]
    preempt: Preemption | None
    job: Job | None = None
    pid: int | None = None
    status: int | None = None
    starts: int = 0
    fired: bool = False
    escalating: bool = False
    spawn_error: str | None = None
    rec: RunRecord | None = None
    timers: list[threading.Timer] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)
    sent: list[SentSignal] = field(default_factory=list)
    events: list[ProcessEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def open_control(directory: str, events: Events) -> tuple[socket.socket, str]:
    """Listen on the control socket ``directory/control`` (a file: an abstract name would not cross
    into the command's network namespace; ``directory`` is the command's own, mode 0700) and put
    each message on ``events`` as ``("message", (connection, message))``. Returns the listening
    socket and the :data:`~.protocol.ENV_CONTROL` value."""
    control = os.path.join(directory, "control")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(protocol.socket_address(control))
    listener.listen(16)
    threading.Thread(target=_accept_loop, args=(listener, events), daemon=True, name="runresume-control").start()
    return listener, control


def close_control(listener: socket.socket) -> None:
    """Close a listener of :func:`open_control` and end its accept thread.

    ``close()`` alone does not wake a thread blocked in ``accept()`` on Linux: the thread and the
    socket would stay until the process ends, one of each per command run. ``shutdown`` wakes it
    (``accept`` fails, the thread returns)."""
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected/listening any more: close() is enough
    listener.close()


def launch(
    argv: list[str],
    *,
    grace: float,
    own_tmp: str,
    network_args: list[str],
    connector: Connector | None,
    listener: socket.socket,
    events: Events,
    **popen: Any,
) -> subprocess.Popen[bytes]:
    """Start the supervisor for ``argv`` in a session of its own; its status lines go to ``events``
    (``("status", {...})``, then ``("eof", None)``).

    If it cannot start, what was made for it (the control socket, the connector, the command's
    ``TMPDIR``) is closed and removed, and the error re-raised.
    """
    status_r, status_w = os.pipe()
    fds = (status_w,) + ((connector.peer.fileno(),) if connector is not None else ())
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(SUPERVISOR), str(status_w), str(grace), str(os.getpid()), own_tmp]
            + [*network_args, "--", *argv],
            stdin=subprocess.DEVNULL,
            pass_fds=fds,
            start_new_session=True,
            **popen,
        )
    except BaseException:
        close_control(listener)
        if connector is not None:
            connector.close()
        os.close(status_r)
        shutil.rmtree(own_tmp, ignore_errors=True)
        raise
    finally:
        os.close(status_w)
    if connector is not None:
        connector.close_peer()
        connector.start()
    threading.Thread(target=_status_loop, args=(status_r, events), daemon=True).start()
    return proc


def kill_supervisor(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the supervisor (it SIGKILLs the tree and reaps it), then SIGKILL it if needed."""
    if proc.poll() is None:
        try:
            proc.send_signal(_signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def in_tree(pid: object, supervisor: int) -> bool:
    """Whether ``pid`` is a process of the command's tree (below the supervisor): its chain of
    parents (``/proc/PID/stat``) reaches ``supervisor``. A process whose parent died was re-parented
    to the supervisor (a child subreaper), so the chain holds for every live process of the tree.
    ``False`` for anything but a live pid."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 1:
        return False
    seen: set[int] = set()
    up: int | None = pid
    while up is not None and up > 1 and up not in seen:
        seen.add(up)
        up = parent(up)
        if up == supervisor:
            return True
    return False


def command_line(pid: int) -> str:
    """``bash launch.sh --steps 8`` for a live pid (``?`` once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            parts = [p.decode(errors="replace") for p in f.read().split(b"\0") if p]
    except OSError:
        return "?"
    return shlex.join(parts)[:200] if parts else "?"


def send_signal(pids: list[int], sig: _signal.Signals) -> list[int]:
    """Send ``sig`` to each pid; return those it reached (the others had already exited)."""
    reached = []
    for p in pids:
        try:
            os.kill(p, sig)
            reached.append(p)
        except ProcessLookupError:
            pass
    return reached


def _accept_loop(listener: socket.socket, events: Events) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.settimeout(MESSAGE_TIMEOUT)  # a client that connects and says nothing cannot stall the rest
        data = b""
        try:
            while b"\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            msg = protocol.decode(data)
        except (OSError, ValueError):
            conn.close()
            continue
        events.put(("message", (conn, msg)))


def _status_loop(fd: int, events: Events) -> None:
    with os.fdopen(fd, "rb") as f:
        for line in f:
            try:
                events.put(("status", json.loads(line)))
            except ValueError:
                continue
    events.put(("eof", None))
