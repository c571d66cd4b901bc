"""Preconditions of the server-side operations, as the SDK and the docs state them: what state the
run must be in, what is refused with which error, and that a refusal changes nothing.

- ``Run.stop()`` (wandb 0.31 docstring): "Calling it again, or on a run that is no longer running,
  has no effect" (R58).
- ``Run.update_state()`` (docstring): to ``pending`` from running/failed/crashed/preempted, to
  ``failed`` from pending/running; "Sweep runs cannot have their state updated" (R52).
- rewind (``resume_from``, the rewind docs page): the run must exist; only ``_step`` (R47, R48).
- ``Run.delete()``: deleting a deleted run succeeds and changes nothing (R25).
"""

from __future__ import annotations

import pytest

from pytest_runresume.model import FileChunk, ManualClock, Model, RunUpsert, messages
from pytest_runresume.model.errors import RuleViolation


@pytest.fixture
def model() -> Model:
    return Model(clock=ManualClock(1_000_000.0))


def started(model: Model, run_id: str):
    rec, _ = model.upsert_run(RunUpsert.from_variables({"name": run_id, "project": "p", "host": "h"}))
    return rec


def ended(model: Model, run_id: str, exit_code: int):
    rec = started(model, run_id)
    model.file_stream(rec.key, {}, complete=True, exit_code=exit_code)
    return rec


@pytest.mark.parametrize(("exit_code", "state"), [(0, "finished"), (1, "failed")])
def test_stop_on_a_run_that_ended_has_no_effect(model: Model, exit_code: int, state: str) -> None:
    rec = ended(model, "r", exit_code)
    version = model.version
    assert model.stop_run(rec.storage_id) is False
    assert model.state(rec) == state and not rec.attempt.stop_requested and model.version == version


@pytest.mark.rules("R58")
def test_stop_on_a_crashed_run_has_no_effect_and_a_second_stop_is_the_first(model: Model) -> None:
    crashed = started(model, "c")
    model.advance_clock(model.crash_timeout)
    assert model.state(crashed) == "crashed" and model.stop_run(crashed.storage_id) is False
    running = started(model, "r")
    assert model.stop_run(running.storage_id) is True
    assert model.stop_run(running.storage_id) is False
    assert [e.kind for e in running.timeline].count("stop") == 1
    model.file_stream(running.key, {}, complete=True, exit_code=255)
    assert model.state(running) == "killed"  # R58


def test_a_stop_after_the_exit_does_not_turn_a_failed_run_killed(model: Model) -> None:
    """Before this rule a late stop flagged the ended attempt and ``derive_state`` answered killed."""
    rec = ended(model, "f", 1)
    model.request_stop(rec.key.path)
    assert model.state(rec) == "failed"


def test_update_state_of_a_sweep_run_is_refused_and_changes_nothing(model: Model) -> None:
    sweep = model.sweeps.create("method: grid\nparameters: {lr: {values: [1]}}", project="p")
    agent = model.sweeps.create_agent(None, "p", sweep.name, "h")
    (command,) = model.sweeps.heartbeat(agent.id, {})
    rec = model.run(f"p/{command['run_id']}")
    with pytest.raises(RuleViolation, match="belongs to sweep"):
        model.update_state(rec.storage_id, "failed")
    assert model.state(rec) == "pending" and rec.forced_state is None


@pytest.mark.parametrize(
    ("exit_code", "target", "allowed"),
    [(None, "pending", True), (1, "pending", True), (0, "pending", False), (1, "failed", False),
     (None, "failed", True), (0, "running", False)],
)  # fmt: skip
def test_update_state_transitions(model: Model, exit_code, target, allowed) -> None:
    rec = started(model, "u") if exit_code is None else ended(model, "u", exit_code)
    before = model.state(rec)
    if allowed:
        model.update_state(rec.storage_id, target)
        assert model.state(rec) == target
    else:
        with pytest.raises(RuleViolation, match="cannot update"):
            model.update_state(rec.storage_id, target)
        assert model.state(rec) == before


@pytest.mark.rules("R25")
def test_rewind_needs_an_existing_run_and_the_step_metric(model: Model) -> None:
    with pytest.raises(RuleViolation) as info:
        model.rewind(None, "p", "nope", "_step", 1)
    assert str(info.value) == messages.REWIND_NO_RUN.format(path="testent/p/nope")
    rec = started(model, "r")
    model.file_stream(rec.key, {"wandb-history.jsonl": FileChunk(0, ['{"_step": 0}', '{"_step": 1}'])})
    with pytest.raises(RuleViolation, match="_step"):
        model.rewind(None, "p", "r", "epoch", 0)
    model.delete("p/r")
    with pytest.raises(RuleViolation):
        model.rewind(None, "p", "r", "_step", 0)  # a deleted run is not there to rewind (R25)
    assert model.deleted[rec.key][0].steps == [0, 1]
