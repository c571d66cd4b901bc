"""Unit tests against the model in-process: no HTTP, no subprocess, no waiting (fixture import)."""

from __future__ import annotations

import pytest

from pytest_runresume import Outcome, decide_resume
from pytest_runresume.model import FileChunk


@pytest.mark.rules("R02", "R03", "R05")
def test_resume_decision_table():
    """What wandb.init(id=..., resume=...) does (R01-R08)."""
    assert decide_resume("must", run_exists=False).outcome is Outcome.ERROR
    assert decide_resume("allow", run_exists=True).outcome is Outcome.RESUME
    assert decide_resume("never", run_exists=True).rule == "R05"


@pytest.mark.rules("R60", "R61")
def test_a_silent_run_is_crashed_after_five_minutes(runresume_model):
    """Seed a run, let it log, then move the clock: crashed only after the timeout (R60, R61)."""
    model = runresume_model
    run, _ = model.upsert({"name": "unit1", "project": "p", "program": "train.py"})
    model.file_stream(run.key, {"wandb-history.jsonl": FileChunk(0, ['{"_step": 0}', '{"_step": 1}'])})
    model.advance_clock(299)
    assert model.state(run) == "running"
    model.advance_clock(1)
    assert model.state(run) == "crashed"
    assert run.last_step == 1
