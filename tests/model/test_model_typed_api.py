"""The model's intention-named API (issue 15): ``start`` a process, ``update`` a run, ``log`` rows,
``exit``; the typed request the wire builds (:class:`RunUpsert`); the one place that decides whether
an upsert starts a process (:func:`starts_process`); ``upsert(fields)`` kept as a deprecated wrapper.

Rules R01-R05, R14, R38, R39, R43, R55, R60, R61, R65, R66.
"""

from __future__ import annotations

import pytest

from pytest_runresume.model import ManualClock, Model, RuleViolation, RunUpsert
from pytest_runresume.model.upserts import starts_process


@pytest.fixture
def model() -> Model:
    return Model(clock=ManualClock(), crash_timeout=300)


def test_start_log_exit_read_like_the_domain(model: Model) -> None:
    run = model.start("demo/r1", config={"lr": 0.1})
    model.log("demo/r1", {"loss": 1.0}, {"loss": 0.5})
    assert [row["_step"] for row in run.history] == [0, 1] and run.config["lr"] == {"value": 0.1}
    assert model.state(run) == "running" and run.exists_for_resume
    model.exit("demo/r1", 0)
    assert model.state(run) == "finished"


def test_a_preempted_exit_and_a_resume_continue_the_same_run(model: Model) -> None:
    run = model.start("demo/p", resume="allow")
    model.log("demo/p", {"loss": 1.0})
    model.exit("demo/p", 143, preempting=True)
    assert model.state(run) == "preempted" and model.is_requeueable(run)  # R66
    again = model.start("demo/p", resume="allow")  # R03: the same run, a second process
    assert again is run and run.attempt is not None and run.attempt.resumed and run.attempt.number == 2
    model.log("demo/p", {"loss": 0.5})
    assert [row["_step"] for row in run.history] == [0, 1]


def test_start_refuses_what_the_sdk_refuses_and_changes_nothing(model: Model) -> None:
    with pytest.raises(RuleViolation, match="R02"):
        model.start("demo/missing", resume="must")
    assert model.get(None, "demo", "missing") is None
    run = model.start("demo/r")
    with pytest.raises(RuleViolation, match="R05"):
        model.start("demo/r", resume="never")
    assert len(run.attempts) == 1
    with pytest.raises(ValueError, match="not a run path"):
        model.start("r")


def test_start_without_resume_appends_a_process_that_is_not_resumed(model: Model) -> None:
    run = model.start("demo/r")
    model.exit("demo/r", 1)
    model.start("demo/r")  # R14: same id, no resume
    assert run.attempt is not None and run.attempt.number == 2 and not run.attempt.resumed


def test_update_changes_the_run_and_starts_no_process(model: Model) -> None:
    run = model.start("demo/u", config={"lr": 0.1}, tags=["a"])
    model.update("demo/u", config={"layers": 2}, summary={"acc": 0.9}, tags=["a", "b"], display_name="nice")
    assert len(run.attempts) == 1
    assert run.config["lr"] == {"value": 0.1} and run.config["layers"] == {"value": 2}  # R39: merged
    assert run.summary == {"acc": 0.9} and run.tags == ["a", "b"] and run.display_name == "nice"  # R38


def test_the_one_place_that_decides_whether_a_process_starts(model: Model) -> None:
    api = RunUpsert(run_id="x", project="demo", notes="from the API")
    init = RunUpsert(run_id="x", project="demo", host="h")
    assert not starts_process(None, api) and starts_process(None, init)
    run = model.start("demo/x")
    same_process = RunUpsert(run_id="x", project="demo", host="h", storage_id=run.storage_id)
    assert not starts_process(run, same_process)  # the same process sends every field again
    assert starts_process(run, init)  # no id: a new process without resume (R14)
    model.resume_status(None, "demo", "x")
    assert starts_process(run, same_process)  # asked first: a resume (R01)


def test_from_variables_parses_the_wire_names() -> None:
    req = RunUpsert.from_variables(
        {"name": "r", "displayName": "d", "groupName": "g", "jobType": "j", "config": '{"a": {"value": 1}}', "tags": ["t"]}
    )
    assert (req.display_name, req.group, req.job_type, req.tags) == ("d", "g", "j", ("t",))
    assert req.config == {"a": {"value": 1}} and req.config_size == len('{"a": {"value": 1}}')
    with pytest.raises(ValueError, match="config must be a JSON object"):
        RunUpsert.from_variables({"name": "r", "config": "[1]"})


def test_upsert_is_a_deprecated_wrapper_of_upsert_run(model: Model) -> None:
    with pytest.deprecated_call():
        run, inserted = model.upsert({"name": "old", "project": "demo", "program": "train.py"})
    assert inserted and model.state(run) == "running" and len(run.attempts) == 1
