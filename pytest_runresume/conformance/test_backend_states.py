"""Backend conformance: run states (R50-R52, R55, R57, R58, R60, R61, R63, R65, R66, R70, R71), checked
with the real wandb SDK against ``runresume_target``; states read through the public API (R51).

The crash rules need time to pass: against the fake its clock is moved (``runresume_fake_only``);
against another backend those tests are skipped rather than waiting five minutes.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

rules = pytest.mark.runresume_rules
fake_only = pytest.mark.runresume_fake_only

#: A run in a process of its own: logs ``steps`` rows, prints READY, then waits to be killed or
#: stopped (logging a heartbeat row every 0.2 s with ``keep_logging``).
CHILD = """
import json, sys, time, wandb
args = json.loads(sys.argv[1])
run = wandb.init(project=args["project"], id=args["id"], resume="allow")
if args.get("preempting"):
    run.mark_preempting()
for i in range(args.get("steps", 3)):
    run.log({"i": i})
print("READY", flush=True)
deadline = time.time() + 60
while time.time() < deadline:
    if args.get("keep_logging"):
        run.log({"tick": 1})
    time.sleep(0.2)
run.finish()
"""


def wait_for(what, predicate, timeout=30.0):
    """Poll ``predicate()`` until it returns something truthy (the SDK batches file_stream posts)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


def state_of(client, run_id):
    return client.public_run(run_id).state


def spawn(client, tmp_path, run_id, **args):
    """The CHILD script against the target, once it printed READY."""
    proc = client.target.spawn(CHILD, tmp_path, json.dumps(dict(args, project=client.target.project, id=run_id)))
    line = proc.stdout.readline()
    if line.strip() != "READY":
        proc.kill()
        raise AssertionError(f"the child did not start: {line!r} {proc.communicate()[1][-2000:]}")
    return proc


def kill_when_logged(client, proc, run_id, last_step):
    """SIGKILL the child once the backend holds ``last_step`` (no exit report is ever sent, R63)."""
    try:
        wait_for(f"step {last_step} on the backend", lambda: client.public_run(run_id).lastHistoryStep == last_step)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)


def move_past_crash_timeout(client, run_id, silent_state):
    """Move the fake's clock to just before the crash timeout (the run keeps ``silent_state``), then past it."""
    control = client.target.control
    if control.crash_timeout is not None:
        control.advance_clock(control.crash_timeout - 1)
        assert state_of(client, run_id) == silent_state
        control.advance_clock(1)
    else:
        control.advance_clock(control.FAR)


@rules("R50", "R51", "R55", "R70a")
def test_a_live_run_is_running_and_finish_makes_it_finished(wandb_client):
    run_id = wandb_client.target.new_id("finished")
    run = wandb_client.init(run_id, resume="allow")
    run.log({"i": 0})
    assert state_of(wandb_client, run_id) == "running"
    run.finish()
    assert state_of(wandb_client, run_id) == "finished"


@rules("R55", "R57", "R66", "R70b")
def test_a_non_zero_exit_code_makes_it_failed(wandb_client):
    run_id = wandb_client.target.new_id("failed")
    run = wandb_client.init(run_id, resume="allow")
    run.log({"i": 0})
    run.finish(exit_code=3)
    assert state_of(wandb_client, run_id) == "failed"


@rules("R65", "R66", "R70e", "R71")
def test_preempting_then_a_non_zero_exit_makes_it_preempted(wandb_client):
    run_id = wandb_client.target.new_id("preempted")
    run = wandb_client.init(run_id, resume="allow")
    run.log({"i": 0})
    run.mark_preempting()
    run.finish(exit_code=128 + signal.SIGUSR1)
    assert state_of(wandb_client, run_id) == "preempted"


@rules("R66", "R70a")
def test_exit_0_wins_over_preempting(wandb_client):
    run_id = wandb_client.target.new_id("preempt-exit0")
    run = wandb_client.init(run_id, resume="allow")
    run.mark_preempting()
    run.finish(exit_code=0)
    assert state_of(wandb_client, run_id) == "finished"


@fake_only("the fake's reading of A01: 'preempting' while the process lives")
@rules("R65")
def test_a_live_run_after_mark_preempting_is_preempting(wandb_client):
    run_id = wandb_client.target.new_id("preempting")
    run = wandb_client.init(run_id, resume="allow")
    run.mark_preempting()
    wait_for("state 'preempting'", lambda: state_of(wandb_client, run_id) == "preempting")
    run.finish(exit_code=128 + signal.SIGTERM)
    assert state_of(wandb_client, run_id) == "preempted"


@rules("R52")
def test_update_state_allows_only_the_documented_transitions(wandb_client):
    import wandb

    failed, finished = wandb_client.target.new_id("to-pending"), wandb_client.target.new_id("finished-stays")
    wandb_client.seed(failed, steps=1, exit_code=1)
    wandb_client.seed(finished, steps=1)
    assert wandb_client.public_run(failed).update_state("pending")
    assert state_of(wandb_client, failed) == "pending"
    with pytest.raises(wandb.Error):
        wandb_client.public_run(finished).update_state("pending")
    assert state_of(wandb_client, finished) == "finished"


@rules("R58")
def test_stop_from_the_api_makes_it_killed(wandb_client, tmp_path):
    run_id = wandb_client.target.new_id("stopped")
    proc = spawn(wandb_client, tmp_path, run_id, keep_logging=True)
    try:
        wandb_client.public_run(run_id).stop()
        assert proc.wait(timeout=45) != 0
    finally:
        proc.kill()
        proc.communicate()
    wait_for("state 'killed'", lambda: state_of(wandb_client, run_id) == "killed")


@fake_only("the fake's clock")
@rules("R60", "R61", "R63", "R70c")
def test_sigkill_leaves_it_running_until_the_crash_timeout_then_crashed(wandb_client, tmp_path):
    run_id = wandb_client.target.new_id("crashed")
    kill_when_logged(wandb_client, spawn(wandb_client, tmp_path, run_id), run_id, 2)
    assert state_of(wandb_client, run_id) == "running"
    move_past_crash_timeout(wandb_client, run_id, "running")
    public = wandb_client.public_run(run_id)
    assert (public.state, public.lastHistoryStep) == ("crashed", 2)  # metrics sent are kept (R63)


@fake_only("the fake's clock")
@rules("R70c", "R70e")
def test_preempting_then_silence_is_preempted_after_the_crash_timeout(wandb_client, tmp_path):
    """The "always" column: mark_preempting() and then no exit report (SIGKILL, an unhandled signal)."""
    run_id = wandb_client.target.new_id("preempting-silent")
    kill_when_logged(wandb_client, spawn(wandb_client, tmp_path, run_id, preempting=True), run_id, 2)
    assert state_of(wandb_client, run_id) == "preempting"
    move_past_crash_timeout(wandb_client, run_id, "preempting")
    assert state_of(wandb_client, run_id) == "preempted"
