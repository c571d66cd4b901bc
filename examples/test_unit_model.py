"""Unit tests against the model in-process: no HTTP, no subprocess, no waiting (fixture import)."""

from __future__ import annotations

import pytest

from pytest_runresume import Outcome, decide_resume


@pytest.mark.rules("R02", "R03", "R05")
def test_resume_decision_table():
    """What wandb.init(id=..., resume=...) does (R01-R08)."""
    assert decide_resume("must", run_exists=False).outcome is Outcome.ERROR
    assert decide_resume("allow", run_exists=True).outcome is Outcome.RESUME
    assert decide_resume("never", run_exists=True).rule == "R05"


@pytest.mark.rules("R60", "R61")
def test_a_silent_run_is_crashed_after_five_minutes(wandb_model):
    """Seed a run, let it log, then move the clock: crashed only after the timeout (R60, R61)."""
    model = wandb_model
    run = model.start("p/unit1")  # wandb.init(id="unit1", project="p")
    model.log(run.key.path, {"loss": 0.5}, {"loss": 0.25})  # steps 0 and 1
    model.advance_clock(299)
    assert model.state(run) == "running"
    model.advance_clock(1)
    assert model.state(run) == "crashed"
    assert run.last_step == 1
