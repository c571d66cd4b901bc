"""The harness's process handling: trigger points, signals, escalation, timeouts, reaping.

These run small real Python subprocesses (no W&B traffic except where named) through the
supervisor, so they check the real mechanisms: process groups, subreaping, signals, sockets.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_runresume import Preemption, SubprocessHung, Trigger, TriggerNotReached


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "child.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


HANDLER = """
    import os, signal, sys
    import pytest_runresume

    def handler(signum, frame):
        print(f"handled {signal.Signals(signum).name}", flush=True)
        sys.exit(128 + signum)

    signal.signal(signal.SIGUSR1, handler)
    print("before point", flush=True)
    pytest_runresume.trigger_point("ready")
    print("after point", flush=True)
"""


@pytest.mark.rules("R67")
def test_point_trigger_signal_lands_before_the_code_runs_on(harness, tmp_path):
    """A named point: the child blocks at the point until the signal is delivered, so the handler
    runs before the next line (no race), and the exit code is 128 + signum (R67)."""
    result = harness.run(
        ["python", script(tmp_path, HANDLER)], preempt=Preemption("SIGUSR1", Trigger("point", name="ready"))
    )
    assert result.exit_code == 138
    assert "handled SIGUSR1" in result.stdout
    assert "after point" not in result.stdout
    assert result.signals[0].point["point"] == "point"
    assert result.signals[0].pids == [int(result.signals[0].point["pid"])]


def test_trigger_not_reached_is_an_error_naming_the_point(harness, tmp_path):
    """The harness says so when the process exits before its trigger point: nothing was sent."""
    with pytest.raises(TriggerNotReached, match="point 'elsewhere'"):
        harness.run(
            ["python", script(tmp_path, HANDLER)], preempt=Preemption("SIGUSR1", Trigger("point", name="elsewhere"))
        )


def test_without_the_harness_trigger_point_is_a_no_op(tmp_path):
    """Outside the harness, trigger_point() does nothing (the code under test runs unchanged)."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNRESUME_")}
    proc = subprocess.run(
        [sys.executable, script(tmp_path, HANDLER)], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0
    assert "after point" in proc.stdout


def test_hung_command_is_killed_with_its_tree(harness, tmp_path):
    """A command that never ends raises SubprocessHung after its timeout, and nothing is left."""
    body = """
        import signal, subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"], start_new_session=True)
        print(child.pid, flush=True)
        signal.pause()  # never ends
    """
    with pytest.raises(SubprocessHung, match="did not finish within 3 s") as info:
        harness.run(["python", script(tmp_path, body)], timeout=3)
    pid = int(str(info.value).split("--- stdout")[1].splitlines()[1])
    assert not alive(pid)


def test_orphans_in_their_own_session_are_reaped_after_the_grace_period(harness, tmp_path):
    """A grandchild in a session of its own (as wandb-core is) that outlives the command is killed
    after the grace period and reported in ``result.killed``: no orphan processes."""
    body = """
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"], start_new_session=True)
        print(child.pid, flush=True)
    """
    result = harness.run(["python", script(tmp_path, body)])
    pid = int(result.stdout.split()[0])
    assert result.returncode == 0
    assert pid in result.killed
    assert not alive(pid)


def test_group_target_signals_every_process_of_the_tree(harness, tmp_path):
    """target='group' signals the command and every process it started, sessions of their own
    included (a scheduler's cancel reaches wandb-core too)."""
    body = """
        import subprocess, sys
        import pytest_runresume
        child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"], start_new_session=True)
        print(child.pid, flush=True)
        pytest_runresume.trigger_point("go")
        child.wait()
    """
    result = harness.run(
        ["python", script(tmp_path, body)],
        preempt=Preemption("SIGKILL", Trigger("point", name="go"), target="group"),
    )
    pid = int(result.stdout.split()[0])
    assert result.killed_by_signal == signal.SIGKILL
    assert pid in result.signals[0].pids
    assert not alive(pid)


def test_escalation_sigkills_a_process_that_ignores_sigterm(harness, tmp_path):
    """SIGTERM, then SIGKILL after the grace period, like a scheduler (submitit, SLURM KillWait)."""
    body = """
        import signal
        import pytest_runresume
        signal.signal(signal.SIGTERM, lambda *a: print("ignoring SIGTERM", flush=True))
        pytest_runresume.trigger_point("go")
        while True:
            signal.pause()
    """
    result = harness.run(
        ["python", script(tmp_path, body)],
        preempt=Preemption("SIGTERM", Trigger("point", name="go"), escalate_after=0.5),
    )
    assert [s.signal for s in result.signals] == [signal.SIGTERM, signal.SIGKILL]
    assert result.killed_by_signal == signal.SIGKILL
    assert "ignoring SIGTERM" in result.stdout


def test_missing_program_is_a_clear_error(harness):
    """A command that does not exist is reported with its name, not as a hang."""
    with pytest.raises(FileNotFoundError, match="no-such-program-xyz"):
        harness.run(["no-such-program-xyz", "--flag"])


def test_bad_trigger_and_target_are_rejected():
    """Bad input to the harness names the problem."""
    with pytest.raises(ValueError, match="step >= 0"):
        Trigger.at_step(-1)
    with pytest.raises(ValueError, match="unknown trigger kind"):
        Trigger("sometime")
    with pytest.raises(ValueError, match="unknown signal target"):
        Preemption(target="cluster")
    with pytest.raises(ValueError, match="not a signal name"):
        Preemption(signal="SIGNOPE")


def test_no_thread_or_socket_is_left_after_a_run(harness):
    """Each run opens a control socket served by a thread; both end with the run, whether the
    command ran or could not start (a thread blocked in ``accept`` on a closed socket would stay
    until the worker exits: one per run, hundreds in a suite)."""
    import threading

    def control_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "runresume-control"]

    before = control_threads()
    harness.run([sys.executable, "-c", "pass"])
    with pytest.raises(FileNotFoundError):
        harness.run(["no-such-program-xyz"])
    for thread in control_threads():
        if thread not in before:
            thread.join(timeout=5)  # shutdown wakes it at once; the join only orders the check
    assert [t for t in control_threads() if t not in before] == []


def test_the_command_starts_with_default_signal_actions_whatever_pytest_inherited(harness):
    """A shell starts a background job with SIGINT and SIGQUIT ignored (``pytest ... &``, CI
    runners, nohup for SIGHUP); an ignored action survives exec, so a command under test would
    ignore a SIGINT the test sends. The command starts as a scheduler starts it: nothing ignored
    (Python itself then installs its SIGINT handler), nothing blocked."""
    # (Python itself ignores SIGPIPE and SIGXFSZ at start; the scheduler's signals must be free.)
    check = (
        "import signal\n"
        "status = dict(l.split(':\\t') for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)\n"
        "sigs = [signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2]\n"
        "mask = sum(1 << (s - 1) for s in sigs)\n"
        "print('IGN', int(status['SigIgn'], 16) & mask, 'BLK', int(status['SigBlk'], 16))\n"
        "print('SIGINT', signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n"
    )
    inherited = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)}
    try:
        result = harness.run([sys.executable, "-c", check])
    finally:
        for sig, action in inherited.items():
            signal.signal(sig, action)
    assert "IGN 0 BLK 0" in result.stdout, result.stdout
    assert "SIGINT True" in result.stdout, result.stdout


def test_in_tree_follows_parent_links_to_the_supervisor(tmp_path):
    """A hook message counts only if its pid is below the supervisor: a grandchild in a session of
    its own is (by its chain of parents), the root itself, this process and non-pids are not."""
    import subprocess

    from pytest_runresume.harness.process import in_tree

    body = """
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], start_new_session=True,
                                 stdin=subprocess.PIPE)
        print(child.pid, flush=True)
        sys.stdin.read()  # until the test closes it
        child.stdin.close()
        child.wait()
    """
    root = subprocess.Popen(
        [sys.executable, script(tmp_path, body)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert root.stdout is not None
        grandchild = int(root.stdout.readline())
        assert in_tree(grandchild, root.pid)
        assert not in_tree(root.pid, root.pid)
        assert not in_tree(os.getpid(), root.pid)
        assert not in_tree(True, root.pid) and not in_tree(str(grandchild), root.pid) and not in_tree(1, root.pid)
    finally:
        assert root.stdin is not None
        root.stdin.close()
        root.wait(timeout=60)
    assert not in_tree(grandchild, root.pid)  # gone


def test_a_trigger_point_reached_after_the_command_exited_is_still_served(served, tmp_path):
    """A process of the tree whose parent (the command) has exited is re-parented to the supervisor
    and still gets its signal at the trigger point (``target="point"``)."""
    from pytest_runresume import Harness

    late = tmp_path / "late.py"
    late.write_text(
        textwrap.dedent(
            """
            import signal, sys
            import pytest_runresume
            signal.signal(signal.SIGUSR1, lambda s, f: sys.exit(128 + s))
            sys.stdin.read()  # until the command has exited
            pytest_runresume.trigger_point("late")
            print("not signalled", flush=True)
            """
        )
    )
    body = f"""
        import subprocess, sys
        subprocess.Popen([sys.executable, {str(late)!r}], start_new_session=True, stdin=subprocess.PIPE)
    """
    harness = Harness(served, tmp_path, timeout=60, grace=60)
    result = harness.run(
        ["python", script(tmp_path, body)], preempt=Preemption("SIGUSR1", Trigger("point", name="late"), target="point")
    )
    assert result.returncode == 0
    assert len(result.signals) == 1 and result.signals[0].pids == [int(result.signals[0].point["pid"])]
    assert "not signalled" not in result.stdout


def test_supervisor_status_lines_are_json():
    """The supervisor writes its status lines without the json package (start-up time); what it
    writes is JSON the harness reads back unchanged, quotes, newlines and non-ASCII text included."""
    import json

    from pytest_runresume.harness._supervisor import status_line

    events = [
        {"event": "spawned", "pid": 42},
        {"event": "killed", "pids": [1, 2], "why": 'still "running" 15 s after\nthe command exited: é'},
        {"event": "network", "mode": "namespace", "ports": []},
    ]
    for event in events:
        line = status_line(event)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert json.loads(line) == event
    with pytest.raises(TypeError, match="not a status value"):
        status_line({"event": "x", "value": 1.5})
