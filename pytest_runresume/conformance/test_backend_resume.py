"""Backend conformance: resume (R01-R08, R14, R24, R29, R35-R39, R41-R43, R53), checked with the real
wandb SDK against ``runresume_target`` (the embedded fake, or ``--runresume-backend-url``).

Errors are matched on their class and the run id, never on wording (it changes between SDK versions).
"""

from __future__ import annotations

import pytest

rules = pytest.mark.runresume_rules


def _raises_for(exc_info: pytest.ExceptionInfo[BaseException], run_id: str) -> None:
    assert type(exc_info.value).__name__ == "UsageError", repr(exc_info.value)
    assert run_id in str(exc_info.value)


@rules("R04", "R24", "R29")
def test_allow_with_a_new_id_creates_the_run_with_that_id(wandb_client):
    run_id = wandb_client.target.new_id("allow-new")
    run = wandb_client.init(run_id, resume="allow")
    assert (run.id, run.resumed, run.starting_step) == (run_id, False, 0)
    run.log({"i": 0})
    run.log({"i": 1})
    run.finish()
    public = wandb_client.public_run(run_id)
    assert public.id == run_id
    assert public.path[1:] == [wandb_client.target.project, run_id]
    assert public.lastHistoryStep == 1


@rules("R01", "R35", "R41", "R42")
def test_must_resumes_an_existing_run_at_its_last_step_plus_one(wandb_client):
    run_id = wandb_client.target.new_id("must-existing")
    wandb_client.seed(run_id, steps=3)
    run = wandb_client.init(run_id, resume="must")
    assert (run.id, run.resumed, run.starting_step) == (run_id, True, 3)
    run.log({"i": 3})
    run.log({"i": 4})
    run.finish()
    assert wandb_client.public_run(run_id).lastHistoryStep == 4


@rules("R02")
def test_must_with_a_missing_run_raises_and_creates_nothing(wandb_client):
    run_id = wandb_client.target.new_id("must-missing")
    with pytest.raises(Exception) as exc_info:
        wandb_client.init(run_id, resume="must")
    _raises_for(exc_info, run_id)
    with pytest.raises(Exception, match=run_id):
        wandb_client.public_run(run_id).state  # noqa: B018


@rules("R03", "R35")
def test_allow_resumes_an_existing_run(wandb_client):
    run_id = wandb_client.target.new_id("allow-existing")
    wandb_client.seed(run_id, steps=2)
    run = wandb_client.init(run_id, resume="allow")
    assert (run.resumed, run.starting_step) == (True, 2)
    run.finish()


@rules("R05")
def test_never_with_an_existing_run_raises(wandb_client):
    run_id = wandb_client.target.new_id("never-existing")
    wandb_client.seed(run_id, steps=1)
    with pytest.raises(Exception) as exc_info:
        wandb_client.init(run_id, resume="never")
    _raises_for(exc_info, run_id)
    assert wandb_client.public_run(run_id).lastHistoryStep == 0  # left alone


@rules("R06")
def test_never_with_a_new_id_creates_the_run(wandb_client):
    run_id = wandb_client.target.new_id("never-new")
    run = wandb_client.init(run_id, resume="never")
    assert (run.id, run.resumed, run.starting_step) == (run_id, False, 0)
    run.finish()
    assert wandb_client.public_run(run_id).state == "finished"


@rules("R07", "R08")
def test_auto_with_an_id_resumes_an_existing_run_and_creates_a_missing_one(wandb_client):
    run_id = wandb_client.target.new_id("auto")
    run = wandb_client.init(run_id, resume="auto")
    assert (run.resumed, run.starting_step) == (False, 0)
    run.log({"i": 0})
    run.finish()
    run = wandb_client.init(run_id, resume="auto")
    assert (run.resumed, run.starting_step) == (True, 1)
    run.finish()


@rules("R14")
def test_an_existing_id_without_resume_is_not_an_error(wandb_client):
    """A02: the SDK does not check; the server upserts into the existing run."""
    run_id = wandb_client.target.new_id("unset")
    wandb_client.seed(run_id, steps=2)
    run = wandb_client.init(run_id)
    assert (run.id, run.resumed) == (run_id, False)
    run.finish()
    assert wandb_client.public_run(run_id).state == "finished"


@rules("R24")
def test_the_same_id_in_another_project_is_another_run(wandb_client):
    run_id = wandb_client.target.new_id("scoped")
    wandb_client.seed(run_id, steps=1)
    other = wandb_client.target.project + "-other"
    with pytest.raises(Exception) as exc_info:
        wandb_client.init(run_id, project=other, resume="must")
    _raises_for(exc_info, run_id)


@rules("R36", "R37")
def test_resume_keeps_the_summary_and_appends_history(wandb_client):
    run_id = wandb_client.target.new_id("summary")
    run = wandb_client.init(run_id, resume="allow")
    run.log({"loss": 1.0, "best": 10})
    run.log({"loss": 0.5})
    run.finish()
    run = wandb_client.init(run_id, resume="must")
    run.log({"loss": 0.25})
    run.finish()
    public = wandb_client.public_run(run_id)
    assert public.summary["best"] == 10 and public.summary["loss"] == 0.25
    assert public.summary["_step"] == public.lastHistoryStep == 2


@rules("R38")
def test_resume_keeps_tags_unless_new_ones_are_given(wandb_client):
    run_id = wandb_client.target.new_id("tags")
    wandb_client.seed(run_id, steps=1, tags=["first"])
    wandb_client.init(run_id, resume="must").finish()
    assert wandb_client.public_run(run_id).tags == ["first"]
    wandb_client.init(run_id, resume="must", tags=["second"]).finish()
    assert wandb_client.public_run(run_id).tags == ["second"]


@rules("R39")
def test_resume_merges_the_config_new_values_win(wandb_client):
    run_id = wandb_client.target.new_id("config")
    wandb_client.seed(run_id, steps=1, config={"lr": 0.1, "seed": 7})
    run = wandb_client.init(run_id, resume="must", config={"lr": 0.2})
    assert run.config["lr"] == 0.2 and run.config["seed"] == 7
    run.finish()
    config = wandb_client.public_run(run_id).config
    assert config["lr"] == 0.2 and config["seed"] == 7


@rules("R43", "R53")
def test_a_pending_run_counts_as_missing_for_resume(wandb_client):
    """A08: ``Run.create(state="pending")`` makes a run that must refuses and allow starts anew."""
    from wandb.apis.public import Run

    target = wandb_client.target
    refused, started = target.new_id("pending"), target.new_id("pending")
    for run_id in (refused, started):
        created = Run.create(api=target.api(), run_id=run_id, project=target.project, state="pending")
        assert created.state == "pending"
    with pytest.raises(Exception) as exc_info:
        wandb_client.init(refused, resume="must")
    _raises_for(exc_info, refused)
    # (another id: after a failed init, the SDK's service keeps the id in use in this process)
    run = wandb_client.init(started, resume="allow")
    assert (run.id, run.resumed, run.starting_step) == (started, False, 0)
    run.finish()
    assert wandb_client.public_run(started).state == "finished"
