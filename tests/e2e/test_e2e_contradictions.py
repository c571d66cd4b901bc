"""End to end: the readings the fake offers for documented contradictions, with the real wandb SDK.

Each test serves a backend with one reading (``Model(<setting>=...)``, see
``docs/contradictions.md``) and checks what wandb 0.31.0 does against it: A02 (an existing id without
resume), A04 (exit code 255 from a real Ctrl+C outside ``with``) and A08 (resuming a pending run).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_runresume import Preemption, Trigger
from pytest_runresume.harness import Harness
from pytest_runresume.model import Model
from pytest_runresume.wire import FakeServer

SCRIPT = """
    import json, sys, wandb

    args = json.loads(sys.argv[1])
    try:
        run = wandb.init(project="ab", **args.get("init", {}))
    except Exception as exc:
        print("E2E-RESULT " + json.dumps({"error": type(exc).__name__}), flush=True)
        sys.exit(1)
    print("E2E-RESULT " + json.dumps({"resumed": run.resumed, "starting_step": run.starting_step}), flush=True)
    for i in range(args.get("n", 3)):
        run.log({"i": i})
    run.finish()
"""


@pytest.fixture
def served_with(tmp_path: Path):
    """``served_with(**readings)`` -> a :class:`Harness` on a fresh served backend with those readings;
    every server is stopped at teardown and must have seen no problem."""
    script = tmp_path / "e2e_readings.py"
    script.write_text(textwrap.dedent(SCRIPT))
    servers: list[FakeServer] = []

    def _make(**readings: Any) -> Harness:
        served = FakeServer(Model(**readings)).start()
        servers.append(served)
        harness = Harness(served, tmp_path / f"h{len(servers)}")
        harness.script = str(script)  # type: ignore[attr-defined]
        return harness

    yield _make
    for served in servers:
        served.stop()
        assert served.model.problems == []


def launch(harness: Harness, preempt: Preemption | None = None, **args: Any):
    result = harness.run(["python", harness.script, json.dumps(args)], preempt=preempt)  # type: ignore[attr-defined]
    lines = [line for line in result.stdout.splitlines() if line.startswith("E2E-RESULT ")]
    assert len(lines) == 1, result.report()
    return result, json.loads(lines[0][len("E2E-RESULT ") :])


def test_A02_refuse_reading_makes_wandb_init_fail_for_an_existing_id_without_resume(served_with):
    """A02 ``unset_resume="refuse"`` (S6: WANDB_RESUME defaults to never): the refused init upsert is a
    GraphQL error, which wandb 0.31.0 does not retry: ``wandb.init`` raises ``wandb.Error`` at once, and
    the old run keeps its one attempt and its history (a resume is unaffected: the unit tests)."""
    harness = served_with(unset_resume="refuse")
    launch(harness, init={"id": "a02"})
    result, out = launch(harness, init={"id": "a02"})
    assert out == {"error": "Error"}, result.report()
    run = harness.model.run("ab/a02")
    assert len(run.attempts) == 1 and run.steps == [0, 1, 2]


@pytest.mark.rules("R55", "R57", "R58", "R70d")
@pytest.mark.parametrize(("reading", "state"), [("failed", "failed"), ("killed", "killed")])
def test_A04_real_ctrl_c_outside_with_reports_255_and_the_reading_decides(served_with, reading, state):
    """A04/R57: a real SIGINT with no handler, outside ``with``: KeyboardInterrupt, the process exits
    130 and wandb reports exit code 255. The default reading makes that ``failed`` (R55); the other
    makes it ``killed`` (R58, R70d)."""
    harness = served_with(interrupt_exit_state=reading)
    result, _ = launch(harness, init={"id": "a04"}, n=50, preempt=Preemption("SIGINT", Trigger.at_step(1)))
    assert result.exit_code == 130
    assert result.run.attempt is not None and result.run.attempt.exit_code == 255
    result.expect(state=state)


@pytest.mark.rules("R43")
def test_A08_pending_resumable_lets_must_resume_a_pending_run(served_with):
    """A08 ``pending_resumable=True`` (S4: pending runs "can later be resumed"): the pending run reports
    ``t``, so wandb 0.31.0 resumes it with ``resume="must"`` (the default reading, R43, raises
    UsageError: tests/e2e/test_e2e_resume_matrix.py), starting at step 0."""
    harness = served_with(pending_resumable=True)
    harness.model.create_run("a08", project="ab")
    result, out = launch(harness, init={"id": "a08", "resume": "must"})
    assert out == {"resumed": True, "starting_step": 0}, result.report()
    result.expect(state="finished", exit_code=0)
    assert [a.resumed for a in result.run.attempts] == [True]
