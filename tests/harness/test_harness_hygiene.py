"""Process hygiene when pytest itself is interrupted (Ctrl-C) in the middle of a harness run.

A pytest subprocess runs a test whose command starts a real wandb run (so wandb-core, in a session
of its own) and a grandchild in a session of its own, reports their pids over a Unix socket, and
blocks. The outer test counts the tree, sends SIGINT to that pytest, and then scans /proc: no
process of the tree may be left, not even a zombie.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pytest_runresume.harness._supervisor import descendants

COMMAND = """
import os, signal, socket, subprocess, sys
import wandb

run = wandb.init(project="hygiene", id="ctrl-c")
grandchild = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"], start_new_session=True)
core = [
    int(p) for p in os.listdir("/proc")
    if p.isdigit() and os.path.exists(f"/proc/{p}/stat")
    and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1] == str(os.getpid())
    and b"wandb-core" in open(f"/proc/{p}/cmdline", "rb").read()
]
with socket.socket(socket.AF_UNIX) as s:
    s.connect(os.environ["HYGIENE_SOCKET"])
    s.sendall(" ".join(map(str, [os.getppid(), os.getpid(), grandchild.pid, *core])).encode() + b"\\n")
signal.pause()  # hang until pytest is interrupted
"""

INNER_TEST = """
import sys

def test_long_run(runresume, tmp_path):
    script = tmp_path / "long.py"
    script.write_text({command!r})
    runresume.run([sys.executable, str(script)], timeout=300)
"""


#: The inner pytest, started as from a terminal: with SIGINT at its default action even when this
#: pytest runs as a background job (a shell starts those with SIGINT ignored, and an ignored signal
#: survives exec: the Ctrl-C below would never arrive).
INNER_PYTEST = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])",
    *["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_inner.py"],
]


def process_state(pid: int) -> str:
    """``/proc/<pid>``'s command line, state and blocked/caught signal masks, for a failure message."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return "gone"
    return (
        cmdline
        + " "
        + " ".join(
            line for line in status if line.startswith(("State", "SigBlk", "SigIgn", "SigCgt", "SigPnd", "ShdPnd"))
        )
    )


def present(pid: int) -> bool:
    """Whether ``pid`` has any /proc entry (running or an unreaped zombie)."""
    return Path(f"/proc/{pid}").exists()


def test_ctrl_c_of_pytest_leaves_no_process_of_the_tree(pytester):
    sockdir = tempfile.mkdtemp(prefix="rrh")
    path = os.path.join(sockdir, "s")
    try:
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(path)
            listener.listen(1)
            listener.settimeout(90)
            pytester.makepyfile(test_inner=INNER_TEST.format(command=COMMAND))
            env = dict(os.environ, HYGIENE_SOCKET=path)
            env.pop("PYTEST_XDIST_WORKER", None)
            inner = subprocess.Popen(
                INNER_PYTEST,
                cwd=pytester.path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            try:
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(30)
                    supervisor, command, grandchild, *core = map(int, conn.recv(200).split())
                tree = descendants(inner.pid)
                assert {supervisor, command, grandchild, *core} <= set(tree), tree
                assert core, "the command's wandb-core was not found"
                inner.send_signal(signal.SIGINT)  # what Ctrl-C in a terminal does to pytest
                try:
                    out, _ = inner.communicate(timeout=90)
                except subprocess.TimeoutExpired:
                    states = {pid: process_state(pid) for pid in descendants(inner.pid)}
                    inner.kill()
                    out, _ = inner.communicate()
                    pytest.fail(
                        f"pytest did not end 90 s after SIGINT; its tree: {states}\n{out.decode(errors='replace')}"
                    )
            finally:
                if inner.poll() is None:
                    inner.kill()
                    inner.wait()
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)
    text = out.decode(errors="replace")
    assert "KeyboardInterrupt" in text, text
    assert inner.returncode == 2, text  # pytest's "interrupted"
    left = [pid for pid in tree if present(pid)]
    assert left == [], f"processes left after Ctrl-C: {left} of the tree {tree}"


def test_sigkill_of_pytest_leaves_no_process_and_nothing_in_the_system_temp_dir(pytester, tmp_path):
    """SIGKILL of pytest itself: no handler runs, yet the supervisor (told by the kernel, PDEATHSIG)
    kills and reaps the whole tree; and the harness placed nothing in the system's temporary
    directory: each command's TMPDIR (wandb's temp folders, wandb-core's port file) and the control
    socket live under the test's own directory."""
    system_tmp = tmp_path / "system-tmp"  # the inner pytest's tempfile.gettempdir()
    system_tmp.mkdir()
    sockdir = tempfile.mkdtemp(prefix="rrk")
    path = os.path.join(sockdir, "s")
    try:
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(path)
            listener.listen(1)
            listener.settimeout(90)
            pytester.makepyfile(test_inner=INNER_TEST.format(command=COMMAND))
            env = dict(os.environ, HYGIENE_SOCKET=path, TMPDIR=str(system_tmp))
            env.pop("PYTEST_XDIST_WORKER", None)
            inner = subprocess.Popen(
                INNER_PYTEST,
                cwd=pytester.path,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(30)
                    supervisor, command, grandchild, *core = map(int, conn.recv(200).split())
                tree = descendants(inner.pid)
                watch = os.pidfd_open(supervisor)
                inner.kill()
                inner.wait(timeout=30)
                poller = select.poll()
                poller.register(watch, select.POLLIN)
                assert poller.poll(30_000), "the supervisor outlived pytest"  # its exit, not a sleep
                os.close(watch)
            finally:
                if inner.poll() is None:
                    inner.kill()
                    inner.wait()
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)
    left = [pid for pid in tree if present(pid) and pid != supervisor]
    assert left == [], f"processes left after SIGKILL of pytest: {left} of the tree {tree}"
    assert sorted(p.name for p in system_tmp.iterdir() if not p.name.startswith("pytest-of-")) == []
