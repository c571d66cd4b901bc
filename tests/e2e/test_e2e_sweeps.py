"""End to end: the real ``wandb sweep`` and ``wandb agent`` CLIs (0.31.0) and ``wandb.agent()`` in real
subprocesses against the fake sweep controller, with real signals (R74-R92, A03, A07).

The agent polls every 5 s (``Agent.POLL_INTERVAL``; 0.5 s in these tests, ``tests/conftest.py``), so
grids are small, agents stop through ``--count`` or the sweep finishing, nothing sleeps to wait for a state.

The training program is given by the sweep config (``program:`` and ``command:`` with this interpreter).
It prints one ``SWEEP-RUN {json}`` line per process and, on SIGUSR1/SIGTERM, a ``SWEEP-SIGNAL n`` line,
calls ``mark_preempting()`` and exits ``128 + signum`` (the pattern of R68). ``TRAIN_RESUME`` is its
``wandb.init(resume=...)``: the agent sets only ``WANDB_RUN_ID`` (NOTES 1.8), so whether a requeued
run continues its history is the script's choice (A03).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from pytest_runresume import Preemption, Trigger

WANDB = str(Path(sys.executable).with_name("wandb"))
PROJECT = "sp"

TRAIN = """
    import json, os, signal, sys, time
    import wandb

    run = wandb.init(resume=os.environ.get("TRAIN_RESUME") or None)
    print("SWEEP-RUN " + json.dumps({"id": run.id, "resumed": run.resumed, "starting_step": run.starting_step,
                                     "lr": run.config["lr"]}), flush=True)

    def on_signal(signum, frame):
        print(f"SWEEP-SIGNAL {signum}", flush=True)
        if wandb.run is not None:
            wandb.run.mark_preempting()
        sys.exit(128 + signum)

    for sig in (signal.SIGUSR1, signal.SIGTERM):
        signal.signal(sig, on_signal)
    delay = float(os.environ.get("TRAIN_DELAY", "0"))
    for step in range(run.starting_step, int(os.environ.get("TRAIN_STEPS", "5"))):
        run.log({"loss": run.config["lr"] * step, "train_step": step})
        time.sleep(delay)
    run.finish()
"""

FAIL = """
    import sys
    print("FAILING AT ONCE", flush=True)
    sys.exit(1)
"""

#: ``wandb.agent(function=...)``: the trial runs in a thread of this process (R74).
IN_THREAD = """
    import signal, sys
    import wandb

    def train():
        run = wandb.init()
        try:
            signal.signal(signal.SIGUSR1, lambda signum, frame: sys.exit(128 + signum))
            print("THREAD-HANDLER installed", flush=True)
        except ValueError as exc:
            print(f"THREAD-HANDLER refused: {exc}", flush=True)
        for step in range(5):
            run.log({"loss": step})

    wandb.agent(sys.argv[1], function=train, count=1, forward_signals=True)
    print("AGENT-RETURNED", flush=True)
"""


def write(runresume, name: str, text: str) -> str:
    (runresume.workdir / name).write_text(textwrap.dedent(text))
    return name


def sweep_yaml(runresume, values: list[float], program: str = "train.py") -> str:
    """A grid over ``lr`` running ``program`` with this interpreter (not whatever ``python`` is on PATH)."""
    write(runresume, program, {"train.py": TRAIN, "fail.py": FAIL}[program])
    config = {
        "method": "grid",
        "program": program,
        "command": ["${env}", sys.executable, "${program}", "${args}"],
        "parameters": {"lr": {"values": values}},
    }
    return write(runresume, "sweep.yaml", json.dumps(config))  # JSON is YAML


def create_sweep(runresume, values: list[float], program: str = "train.py", cli: bool = True) -> Any:
    """The sweep, created with the real ``wandb sweep`` (or, to save a second, in the model)."""
    config = sweep_yaml(runresume, values, program)
    model = runresume.model
    if not cli:
        return model.sweeps.create((runresume.workdir / config).read_text(), project=PROJECT)
    result = runresume.run([WANDB, "sweep", "--project", PROJECT, config])
    assert result.returncode == 0, result.report()
    (sweep,) = model.sweeps.sweeps.values()
    assert f"wandb agent {sweep.path}" in result.stderr
    return sweep


def agent(runresume, sweep, *flags: str, preempt: Preemption | None = None, env: dict[str, str] | None = None):
    return runresume.run([WANDB, "agent", *flags, sweep.path], preempt=preempt, env=env)


def printed(result) -> list[dict[str, Any]]:
    """The ``SWEEP-RUN`` lines of every training process the command ran, in order."""
    prefix = "SWEEP-RUN "
    return [json.loads(line[len(prefix) :]) for line in result.stdout.splitlines() if line.startswith(prefix)]


def handouts(sweep) -> list[tuple[str, str]]:
    return [(h.kind, h.run_id) for h in sweep.handouts]


def agent_record(runresume, index: int):
    return list(runresume.model.sweeps.agents.values())[index]


# ---- the requeue ------------------------------------------------------------------------------------


@pytest.mark.rules("R35", "R36", "R71", "R72", "R81", "R82", "R92")
def test_preempted_sweep_run_is_requeued_and_resumed_by_the_next_agent_before_new_combinations(runresume):
    """The seed's sweep half (R81, R82, R71, R72), with the real CLIs. ``wandb sweep`` creates a 2-run
    grid. Agent 1 (``--count 1``) runs lr=0.1; SIGUSR1 reaches the training process after step 2; its
    handler calls mark_preempting() and exits 138: the run is preempted and back on the queue. The
    preempted run counted toward agent 1's ``--count`` (A07), so it asked for nothing more. Agent 2
    gets the same run id with exactly the same parameters as ``resume`` before the second combination;
    the script passes ``resume="allow"``, so it resumes at step 3 and the history is 0..4, once each
    (R35, R36). Then lr=0.01 runs, the grid is done, the sweep finishes and agent 2 is told to exit."""
    sweep = create_sweep(runresume, [0.1, 0.01])
    env = {"TRAIN_RESUME": "allow"}
    first = agent(
        runresume, sweep, "--count", "1", env=env, preempt=Preemption("SIGUSR1", Trigger.at_step(2), target="point")
    )
    r1 = f"{sweep.name}-r001"
    assert first.returncode == 0, first.report()
    assert first.signals[0].point["run_id"] == r1
    assert printed(first) == [{"id": r1, "resumed": False, "starting_step": 0, "lr": 0.1}]
    assert "SWEEP-SIGNAL 10" in first.stdout
    first.expect(state="preempted", requeueable=True)
    assert first.run.attempt.exit_code == 138
    assert list(sweep.queue) == [r1]
    assert [c["type"] for c in agent_record(runresume, 0).commands] == ["run"]  # A07: --count 1 used up

    second = agent(runresume, sweep, env=env)
    assert second.returncode == 0, second.report()
    r2 = f"{sweep.name}-r002"
    assert handouts(sweep) == [("run", r1), ("resume", r1), ("run", r2)]
    assert sweep.handouts[1].params == sweep.handouts[0].params == {"lr": {"value": 0.1}}
    assert printed(second) == [
        {"id": r1, "resumed": True, "starting_step": 3, "lr": 0.1},
        {"id": r2, "resumed": False, "starting_step": 0, "lr": 0.01},
    ]
    run1 = runresume.model.run(f"testent/{PROJECT}/{r1}")
    assert run1.steps == [0, 1, 2, 3, 4] and [a.resumed for a in run1.attempts] == [False, True]
    assert runresume.model.state(run1) == "finished" and run1.sweep == sweep.name
    assert runresume.model.sweeps.state(sweep) == "finished"
    assert agent_record(runresume, 1).commands[-1] == {"type": "exit"}


@pytest.mark.rules("R14", "R92")
def test_requeued_run_without_resume_restarts_at_step_zero(runresume):
    """A03, NOTES 1.8: the agent hands the requeued run out with the same id but does not set
    WANDB_RESUME. A script that does not pass ``resume=`` gets a "same id, no resume" run (R14):
    not resumed, steps from 0 again, appended after the old lines in the same run."""
    sweep = create_sweep(runresume, [0.1], cli=False)
    preempt = Preemption("SIGUSR1", Trigger.at_step(2), target="point")
    agent(runresume, sweep, "--count", "1", preempt=preempt).expect(state="preempted")
    second = agent(runresume, sweep, "--count", "1")
    r1 = f"{sweep.name}-r001"
    assert handouts(sweep) == [("run", r1), ("resume", r1)]
    assert printed(second) == [{"id": r1, "resumed": False, "starting_step": 0, "lr": 0.1}]
    allow = ["not-resumed", "w&b-steps-repeated", "steps-repeated"]  # the diagnosis names R14 and its effects
    second.expect(state="finished", allow=allow)
    assert {f.code for f in second.findings} == set(allow)
    assert second.run.steps == [0, 1, 2, 0, 1, 2, 3, 4]
    assert [a.resumed for a in second.run.attempts] == [False, False]


# ---- signals to the agent -----------------------------------------------------------------------------


@pytest.mark.rules("R76", "R81", "R85")
def test_agent_with_forward_signals_shuts_down_while_its_run_is_requeued(runresume):
    """R76, R85, R81: SIGTERM to ``wandb agent --forward-signals`` is relayed to the training process,
    whose handler marks it preempting and exits 143; the agent waits for it and quits without asking
    for more. The run stays queued with no agent, and the next agent picks it up and resumes it."""
    sweep = create_sweep(runresume, [0.1], cli=False)
    env = {"TRAIN_RESUME": "allow"}
    preempt = Preemption("SIGTERM", Trigger.at_step(2), target="process")
    # The run goes on while the agent relays the signal: slow steps so it is still training then.
    first = agent(runresume, sweep, "--forward-signals", env={**env, "TRAIN_DELAY": "0.5"}, preempt=preempt)
    r1 = f"{sweep.name}-r001"
    assert first.signals[0].pids != [first.signals[0].point["pid"]]  # the agent got it, not the run
    assert "SWEEP-SIGNAL 15" in first.stdout  # ... and forwarded it
    first.expect(state="preempted")
    assert first.run.attempt.exit_code == 143
    assert list(sweep.queue) == [r1]
    assert [c["type"] for c in agent_record(runresume, 0).commands] == ["run"]

    second = agent(runresume, sweep, "--count", "1", env=env)
    assert handouts(sweep) == [("run", r1), ("resume", r1)]
    assert printed(second)[0]["resumed"] is True
    second.expect(state="finished")
    assert second.run.steps == [0, 1, 2, 3, 4]


@pytest.mark.rules("R75")
def test_agent_without_forward_signals_does_not_signal_its_run(runresume):
    """R75: without ``--forward-signals`` a SIGTERM to the agent kills only the agent (its child is in a
    process group of its own); the training process never sees it, runs on as an orphan and finishes.
    Nothing is requeued."""
    sweep = create_sweep(runresume, [0.1], cli=False)
    preempt = Preemption("SIGTERM", Trigger.at_step(2), target="process")
    result = agent(runresume, sweep, preempt=preempt)
    assert result.killed_by_signal == signal.SIGTERM
    assert "SWEEP-SIGNAL" not in result.stdout
    result.expect(state="finished", requeueable=False, allow=["signal-not-forwarded"])
    assert [f.code for f in result.findings] == ["signal-not-forwarded"]  # the diagnosis names R75's cause
    assert "the launcher does not forward the signal" in result.findings[0].message
    assert result.run.steps == [0, 1, 2, 3, 4]
    assert not sweep.queue


@pytest.mark.rules("R61", "R74", "R77")
def test_wandb_agent_in_a_thread_does_not_forward_signals(runresume):
    """R74, R77 (a documented limitation): ``wandb.agent(function=...)`` runs the trial in a thread, so the
    trial cannot even install a signal handler, and ``forward_signals=True`` is ignored. SIGUSR1 to the
    process takes its default action and kills it: no handler, no mark_preempting(), no exit report.
    The run is crashed after the timeout (R61), never preempted, never requeued."""
    sweep = create_sweep(runresume, [0.1], cli=False)
    script = write(runresume, "in_thread.py", IN_THREAD)
    preempt = Preemption("SIGUSR1", Trigger.at_step(2), target="point")
    result = runresume.run(["python", script, sweep.path], preempt=preempt)
    assert result.killed_by_signal == signal.SIGUSR1
    assert "THREAD-HANDLER refused" in result.stdout and "AGENT-RETURNED" not in result.stdout
    assert result.signals[0].pids == [int(result.signals[0].point["pid"])]
    assert result.state == "running" and not result.run.attempt.preempting
    runresume.advance_clock(runresume.model.crash_timeout)
    result.expect(state="crashed", requeueable=False, allow=["no-handler"])  # R74: no handler can be installed
    assert [f.code for f in result.findings] == ["no-handler"]
    assert runresume.model.sweeps.state(sweep) == "finished" and not sweep.queue


# ---- the agent's own rules ----------------------------------------------------------------------------


@pytest.mark.rules("R91")
@pytest.mark.parametrize(
    ("env", "runs", "message"),
    [
        ({}, 3, "Detected 3 failed runs in the first 60 seconds"),
        (
            {"WANDB_AGENT_DISABLE_FLAPPING": "true", "WANDB_AGENT_MAX_INITIAL_FAILURES": "4"},
            4,
            "Detected 4 failed runs in a row",
        ),
    ],
    ids=["flapping", "flapping-disabled-max-initial-failures"],
)
def test_agent_quits_on_failing_runs(runresume, env, runs, message):
    """R91, against the real agent: 3 non-zero exits in its first 60 s and it quits ("flapping");
    with WANDB_AGENT_DISABLE_FLAPPING=true it goes on until failures reach
    WANDB_AGENT_MAX_INITIAL_FAILURES (here 4) with no success. The sweep had more runs to give."""
    sweep = create_sweep(runresume, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], program="fail.py", cli=False)
    result = agent(runresume, sweep, env=env)
    assert result.returncode == 0, result.report()
    assert message in result.stderr
    assert result.stdout.count("FAILING AT ONCE") == runs
    assert [kind for kind, _ in handouts(sweep)] == ["run"] * runs
    assert runresume.model.sweeps.state(sweep) == "running"


# ---- sweep states through the CLI ------------------------------------------------------------------------


@pytest.mark.rules("R80", "R86")
def test_pause_resume_stop_through_the_cli(runresume):
    """R86, R80: ``wandb sweep --pause/--resume/--stop`` change the state on the server (a new sweep is
    PENDING: the CLI refuses to pause it, ``--resume`` makes it RUNNING); an agent on a
    stopped sweep is told to exit at its first heartbeat and runs nothing; ``--cancel`` on a stopped
    sweep is refused by the CLI itself ("already finished": --stop is written as FINISHED)."""
    sweep = create_sweep(runresume, [0.1, 0.01])
    states = runresume.model.sweeps.state
    assert states(sweep) == "pending"  # W&B's server: PENDING until an agent asks
    pending = runresume.run([WANDB, "sweep", "--pause", sweep.path])
    assert pending.returncode != 0 and "Cannot pause pending sweep" in pending.stderr  # the CLI's own check
    for flag, state in (("--resume", "running"), ("--pause", "paused"), ("--resume", "running"), ("--stop", "stopped")):
        result = runresume.run([WANDB, "sweep", flag, sweep.path])
        assert result.returncode == 0, result.report()
        assert states(sweep) == state, flag
    idle = agent(runresume, sweep)
    assert idle.returncode == 0 and idle.runs == []
    assert agent_record(runresume, 0).commands == [{"type": "exit"}]
    refused = runresume.run([WANDB, "sweep", "--cancel", sweep.path])
    assert refused.returncode != 0 and "already finished" in refused.stderr
    assert states(sweep) == "stopped"


@pytest.mark.rules("R59", "R61", "R86")
def test_cancel_kills_the_running_run_without_its_handler(runresume):
    """R86: ``wandb sweep --cancel`` while a run is training: at the agent's next heartbeat it is told to
    exit and SIGKILLs the run, so the handler never runs: no mark_preempting(), no exit report. R59:
    cancelling is the one sweep action that kills running runs: after the timeout (R61) the silent run
    is killed, not crashed, and not requeued."""
    sweep = create_sweep(runresume, [0.1], cli=False)
    model = runresume.model
    cancelled: list[subprocess.CompletedProcess[str]] = []

    def cancel_when_training() -> None:
        model.wait_for(lambda: any((r.last_step or 0) >= 1 for r in model.runs.values()), timeout=60)
        cancelled.append(
            subprocess.run(
                [WANDB, "sweep", "--cancel", sweep.path],
                env=runresume.env(),
                cwd=runresume.workdir,
                capture_output=True,
                text=True,
                timeout=60,
            )
        )

    canceller = threading.Thread(target=cancel_when_training)
    canceller.start()
    result = agent(runresume, sweep, env={"TRAIN_STEPS": "400", "TRAIN_DELAY": "0.1"})
    canceller.join(timeout=60)
    assert cancelled and cancelled[0].returncode == 0, cancelled
    assert model.sweeps.state(sweep) == "cancelled"
    assert agent_record(runresume, 0).commands[-1] == {"type": "exit"}
    assert "SWEEP-SIGNAL" not in result.stdout
    run = result.run
    assert not run.attempt.complete and not run.attempt.preempting and run.last_step < 399
    assert result.state == "running"
    runresume.advance_clock(model.crash_timeout)
    result.expect(state="killed", requeueable=False)  # R59
    assert not sweep.queue


CONFIG_OVERRIDE = """
    import wandb
    run = wandb.init(config={"lr": 123.0, "batch": 32})
    run.log({"loss": run.config["lr"]})
    run.finish()
"""


@pytest.mark.rules("R90")
def test_sweep_parameters_override_the_matching_init_config_keys(runresume):
    """R90: the script passes config={"lr": 123.0, "batch": 32}; the sweep's lr wins in the run and in
    the config the backend stores, and the key the sweep does not set (batch) is kept."""
    sweep = create_sweep(runresume, [0.5], cli=False)
    write(runresume, "train.py", CONFIG_OVERRIDE)
    result = agent(runresume, sweep, "--count", "1")
    assert result.returncode == 0, result.report()
    (run,) = [r for r in runresume.model.iter_runs() if r.sweep == sweep.name]
    assert run.config["lr"]["value"] == 0.5
    assert run.config["batch"]["value"] == 32
    assert run.history[0]["loss"] == 0.5
