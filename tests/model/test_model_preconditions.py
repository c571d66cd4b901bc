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

from pytest_runresume.model import Backend, FileChunk, ManualClock, RunUpsert, messages
from pytest_runresume.model.errors import RuleViolation


@pytest.fixture
def backend() -> Backend:
    return Backend(clock=ManualClock(1_000_000.0))


def started(backend: Backend, run_id: str):
    rec, _ = backend.upsert_run(RunUpsert.from_variables({"name": run_id, "project": "p", "host": "h"}))
    return rec


def ended(backend: Backend, run_id: str, exit_code: int):
    rec = started(backend, run_id)
    backend.file_stream(rec.key, {}, complete=True, exit_code=exit_code)
    return rec


@pytest.mark.parametrize(("exit_code", "state"), [(0, "finished"), (1, "failed")])
def test_stop_on_a_run_that_ended_has_no_effect(backend: Backend, exit_code: int, state: str) -> None:
    rec = ended(backend, "r", exit_code)
    version = backend.version
    assert backend.stop_run(rec.storage_id) is False
    assert backend.state(rec) == state and not rec.attempt.stop_requested and backend.version == version


@pytest.mark.rules("R58")
def test_stop_on_a_crashed_run_has_no_effect_and_a_second_stop_is_the_first(backend: Backend) -> None:
    crashed = started(backend, "c")
    backend.advance_clock(backend.crash_timeout)
    assert backend.state(crashed) == "crashed" and backend.stop_run(crashed.storage_id) is False
    running = started(backend, "r")
    assert backend.stop_run(running.storage_id) is True
    assert backend.stop_run(running.storage_id) is False
    assert [e.kind for e in running.timeline].count("stop") == 1
    backend.file_stream(running.key, {}, complete=True, exit_code=255)
    assert backend.state(running) == "killed"  # R58


def test_a_stop_after_the_exit_does_not_turn_a_failed_run_killed(backend: Backend) -> None:
    """Before this rule a late stop flagged the ended attempt and ``derive_state`` answered killed."""
    rec = ended(backend, "f", 1)
    backend.request_stop(rec.key.path)
    assert backend.state(rec) == "failed"


def test_update_state_of_a_sweep_run_is_refused_and_changes_nothing(backend: Backend) -> None:
    sweep = backend.sweeps.create("method: grid\nparameters: {lr: {values: [1]}}", project="p")
    agent = backend.sweeps.create_agent(None, "p", sweep.name, "h")
    (command,) = backend.sweeps.heartbeat(agent.id, {})
    rec = backend.run(f"p/{command['run_id']}")
    with pytest.raises(RuleViolation, match="belongs to sweep"):
        backend.update_state(rec.storage_id, "failed")
    assert backend.state(rec) == "pending" and rec.forced_state is None


@pytest.mark.parametrize(
    ("exit_code", "target", "allowed"),
    [(None, "pending", True), (1, "pending", True), (0, "pending", False), (1, "failed", False),
     (None, "failed", True), (0, "running", False)],
)  # fmt: skip
def test_update_state_transitions(backend: Backend, exit_code, target, allowed) -> None:
    rec = started(backend, "u") if exit_code is None else ended(backend, "u", exit_code)
    before = backend.state(rec)
    if allowed:
        backend.update_state(rec.storage_id, target)
        assert backend.state(rec) == target
    else:
        with pytest.raises(RuleViolation, match="cannot update"):
            backend.update_state(rec.storage_id, target)
        assert backend.state(rec) == before


@pytest.mark.rules("R25")
def test_rewind_needs_an_existing_run_and_the_step_metric(backend: Backend) -> None:
    with pytest.raises(RuleViolation) as info:
        backend.rewind(None, "p", "nope", "_step", 1)
    assert str(info.value) == messages.REWIND_NO_RUN.format(path="testent/p/nope")
    rec = started(backend, "r")
    backend.file_stream(rec.key, {"wandb-history.jsonl": FileChunk(0, ['{"_step": 0}', '{"_step": 1}'])})
    with pytest.raises(RuleViolation, match="_step"):
        backend.rewind(None, "p", "r", "epoch", 0)
    backend.delete("p/r")
    with pytest.raises(RuleViolation):
        backend.rewind(None, "p", "r", "_step", 0)  # a deleted run is not there to rewind (R25)
    assert backend.deleted[rec.key][0].steps == [0, 1]
