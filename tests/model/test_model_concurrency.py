"""Two processes writing one run at once (R16): the model's overlap + evidence detection.

A restart right after a SIGKILL also overlaps the dead process (it never reported its exit and was
heard from a moment ago); only evidence that the earlier process kept writing makes it a problem.
On a :class:`ManualClock`; nothing sleeps.
"""

from __future__ import annotations

import json

import pytest

from pytest_runresume.model import FileChunk, ManualClock, Model, RunKey, RunUpsert

HISTORY = "wandb-history.jsonl"
KEY = RunKey("testent", "p", "twin")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_000_000.0)


@pytest.fixture
def model(clock) -> Model:
    return Model(clock=clock)


def config(*writers: str) -> str:
    value = {"t": {"1": [1]}, "e": {w: {"writerId": w} for w in writers}}
    return json.dumps({"_wandb": {"value": value}})


def start(model: Model, writer: str, *, resume: bool) -> None:
    """A process's init upsert (resumed: RunResumeStatus first and the run's id, like wandb-core),
    then its metadata upsert naming its writer id."""
    fields = {"name": "twin", "project": "p", "host": "h", "program": "train.py", "config": config()}
    rec = model.resume_status(None, "p", "twin") if resume else None
    if rec is not None:
        fields["id"] = rec.storage_id
    model.upsert_run(RunUpsert.from_variables(fields))
    known = [a.writer_id for a in model.run(KEY.path).attempts if a.writer_id]
    model.upsert_run(
        RunUpsert.from_variables(
            {"name": "twin", "project": "p", "entity": "testent", "config": config(*known, writer)}
        )
    )


def log(model: Model, offset: int, *steps: int, tag: str = "") -> None:
    lines = [json.dumps({"_step": s, "who": tag}) for s in steps]
    model.file_stream(KEY, {HISTORY: FileChunk(offset, lines)})


def finish(model: Model, code: int = 0, uploaded: list[str] | None = None) -> None:
    model.file_stream(KEY, {}, complete=True, exit_code=code, uploaded=uploaded)


def test_writer_ids_come_from_the_config(model):
    start(model, "w-a", resume=False)
    assert model.run(KEY.path).attempts[0].writer_id == "w-a"


def test_restart_after_a_kill_overlaps_but_is_not_a_second_writer(model):
    """SIGKILL: no exit reported, heard from a moment ago; the restart resumes and appends."""
    start(model, "w-a", resume=False)
    log(model, 0, 0, 1, 2)
    start(model, "w-b", resume=True)
    log(model, 3, 3, 4)
    finish(model)
    rec = model.run(KEY.path)
    assert rec.attempts[1].overlaps == 1
    assert model.concurrent_writers(rec) == [] and model.problems == []


@pytest.mark.rules("R16")
def test_two_writers_at_the_same_offsets_are_named(model):
    start(model, "w-a", resume=False)
    log(model, 0, 0, 1, 2, tag="a")
    start(model, "w-b", resume=True)
    log(model, 3, 3, 4, tag="b")
    log(model, 3, 3, 4, tag="a")  # process 1 goes on at its own offsets
    rec = model.run(KEY.path)
    [found] = model.concurrent_writers(rec)
    assert (found.first.number, found.second.number) == (1, 2)
    assert found.evidence == (f"{HISTORY} line 3 was written twice with different content",)
    text = found.describe()
    assert "process 1 (" in text and "writer w-a" in text and "process 2 (" in text and "writer w-b" in text
    assert "R16" in text and KEY.path in text
    assert text in model.problems
    assert [e.kind for e in rec.timeline].count("concurrent") == 1


def test_a_second_different_exit_is_evidence(model):
    start(model, "w-a", resume=False)
    start(model, "w-b", resume=True)
    finish(model, 0, uploaded=["config.yaml"])
    finish(model, 1, uploaded=["output.log"])
    [found] = model.concurrent_writers(model.run(KEY.path))
    assert found.evidence == ("the exit was reported twice (exit codes 0 and 1)",)


def test_a_resent_exit_is_not_evidence(model):
    """A final request whose answer was lost is re-sent as is: the same exit, not a second writer."""
    start(model, "w-a", resume=False)
    start(model, "w-b", resume=True)
    finish(model, 0, uploaded=["config.yaml"])
    finish(model, 0, uploaded=["config.yaml"])
    assert model.concurrent_writers(model.run(KEY.path)) == [] and model.problems == []


def test_no_overlap_after_the_exit_or_the_crash_timeout(model, clock):
    start(model, "w-a", resume=False)
    finish(model, 1)
    start(model, "w-b", resume=True)
    clock.advance(model.crash_timeout)
    start(model, "w-c", resume=True)
    assert [a.overlaps for a in model.run(KEY.path).attempts] == [None, None, None]


def test_evidence_is_a_problem_once_however_long_it_goes_on(model):
    start(model, "w-a", resume=False)
    start(model, "w-b", resume=True)
    log(model, 0, 0, 1, tag="b")
    for _ in range(3):
        log(model, 0, 0, 1, tag="a")
        log(model, 0, 0, 1, tag="b")
    rec = model.run(KEY.path)
    assert len(model.concurrent_writers(rec)) == 1
    assert sum("at the same time" in p for p in model.problems) == 1
