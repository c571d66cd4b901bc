"""pytest-runresume's process supervisor. Standard library only; Linux.

    python _supervisor.py STATUS_FD GRACE_SECONDS HARNESS_PID TMPDIR [--network SPEC] -- COMMAND...

Becomes a *child subreaper* (``PR_SET_CHILD_SUBREAPER``), so every process the command starts - and
``wandb-core``, which the SDK starts in a session of its own - is re-parented here when its parent
dies, and is reaped here. Writes JSON lines to ``STATUS_FD``:

    {"event": "spawned", "pid": P}
    {"event": "exited", "pid": P, "status": WAITSTATUS}
    {"event": "killed", "pids": [...], "why": "..."}   # left-overs killed after the grace period
    {"event": "done"}
    {"event": "network", "mode": "namespace", "ports": [...]}  # with --network, before "spawned"
    {"event": "network", "mode": "proxy", "reason": "..."}     # the namespace could not be made
    {"event": "network", "mode": "broken", "reason": "..."}    # made, but a port could not be relayed

``--network CHANNEL_FD:PORT,PORT:auto|namespace`` runs the command in a network namespace of its
own with only loopback, ``PORT``s relayed to the host's loopback through the harness's connector on
``CHANNEL_FD`` (``_netns.py``). If the namespace cannot be made, ``auto`` runs the command without
one (the harness's proxy guard alone) and ``namespace`` does not start it; a namespace whose ports
cannot be relayed never starts it.

After the command exits, the remaining descendants get ``GRACE_SECONDS`` to exit on their own
(wandb-core finishes its upload), then SIGKILL. On SIGTERM/SIGINT/SIGHUP the supervisor kills the
whole tree at once. If the harness dies, the kernel sends the supervisor SIGTERM (``PR_SET_PDEATHSIG``);
if it died before that was set, the supervisor's parent is no longer ``HARNESS_PID`` (it was
re-parented to PID 1 or to whatever subreaper is above) and it exits at once.
"""

import ctypes
import os
import signal
import sys
import threading

try:  # the C string encoder alone: the json package imports re, a third of the start-up
    from _json import encode_basestring_ascii as _json_string
except ImportError:  # another Python implementation
    from json.encoder import encode_basestring_ascii as _json_string

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
#: Reset to the default action in the command (SIGKILL and SIGSTOP cannot be changed).
DEFAULT_SIGNALS = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}


def status_line(event: dict) -> bytes:
    """One status line: ``event`` (str keys; str, int or list values) as JSON, then a newline."""

    def value(v):
        if isinstance(v, str):
            return _json_string(v)
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(f"not a status value: {v!r}")

    return ("{" + ", ".join(f"{_json_string(k)}: {value(v)}" for k, v in event.items()) + "}\n").encode()


def parent(pid: int):
    """The parent PID of live process ``pid`` (from /proc/PID/stat), or ``None`` once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the command name may hold ")" and spaces


def descendants(root: int) -> list:
    """PIDs of every live descendant of ``root`` (from /proc)."""
    children: dict = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        ppid = parent(int(entry))
        if ppid is not None:
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            out.append(pid)
            todo.append(pid)
    return out


def _enter_namespace(spec):
    """Enter a network namespace with the ports of ``spec`` relayed; the "network" event to emit."""
    if __package__:
        from . import _netns
    else:  # run as a script with -I: its own directory is not on the path
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import _netns  # type: ignore[no-redef]
    import socket

    fd, ports, _mode = spec.split(":")
    channel = socket.socket(fileno=int(fd))
    channel.set_inheritable(False)  # the command must not talk to the connector itself
    allowed = [int(p) for p in ports.split(",") if p]
    try:
        _netns.unshare_network()
    except OSError as exc:
        channel.close()
        return {"event": "network", "mode": "proxy", "reason": exc.strerror or str(exc)}
    try:
        _netns.Relay(channel, allowed).start()
    except OSError as exc:  # inside the namespace already: the command must not run without its ports
        return {"event": "network", "mode": "broken", "reason": f"relaying the ports {allowed}: {exc.strerror}"}
    return {"event": "network", "mode": "namespace", "ports": allowed}


def _remove(tmpdir):
    """Remove the command's ``TMPDIR`` (every process that used it is gone)."""
    if tmpdir:
        import shutil

        shutil.rmtree(tmpdir, ignore_errors=True)


def main():
    status_fd, grace, harness_pid, tmpdir = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    options = sys.argv[5 : sys.argv.index("--")]
    cmd = sys.argv[sys.argv.index("--") + 1 :]
    network = options[options.index("--network") + 1] if "--network" in options else ""
    # Before any thread and before PDEATHSIG: a new user namespace clears the parent-death signal.
    network_event = _enter_namespace(network) if network else None
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    lock = threading.Lock()

    def emit(**event):
        with lock:
            try:
                os.write(status_fd, status_line(event))
            except OSError:  # the harness is gone (SIGKILLed): go on killing and reaping the tree
                pass

    def kill_tree(why):
        pids = descendants(os.getpid())
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if pids:
            emit(event="killed", pids=pids, why=why)

    def on_signal(signum, frame):
        kill_tree(f"supervisor got {signal.Signals(signum).name}")

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    if os.getppid() != harness_pid:  # the harness died before we set PDEATHSIG (re-parented)
        _remove(tmpdir)
        return 1
    if network_event is not None:
        emit(**network_event)
        mode = network_event["mode"]
        if mode == "broken" or (mode == "proxy" and network.endswith(":namespace")):
            _remove(tmpdir)  # not started: the harness raises, naming the reason
            emit(event="done")
            return 0
    try:
        # The command starts as a scheduler starts it: every signal at its default action and none
        # blocked, whatever pytest inherited (a shell runs a background job with SIGINT and SIGQUIT
        # ignored, nohup ignores SIGHUP; an ignored disposition would survive the exec).
        pid = os.posix_spawnp(cmd[0], cmd, os.environ, setsigdef=DEFAULT_SIGNALS, setsigmask=())
    except OSError as exc:
        emit(event="spawn-failed", error=f"{cmd[0]}: {exc.strerror}")
        emit(event="done")
        return 0
    emit(event="spawned", pid=pid)
    timer = None
    while True:
        try:
            done, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if done == pid:
            emit(event="exited", pid=pid, status=status)
            timer = threading.Timer(grace, kill_tree, args=(f"still running {grace:g} s after the command exited",))
            timer.daemon = True
            timer.start()
    if timer is not None:
        timer.cancel()
    _remove(tmpdir)
    emit(event="done")
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is reaped and reported: exit at once, without the interpreter's teardown (the
    # harness reads the status pipe's end as the end of the run; an exception still exits normally,
    # with its traceback).
    os._exit(code)
