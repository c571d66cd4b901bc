"""Unit tests of the reference backend: upserts, file_stream, stop, requeue, run ids and waiting.

Rules R14, R24, R31, R35-R38, R42, R43, R53, R55, R58, R60-R62, R65, R66, R70, R71. Every backend here
runs on a :class:`ManualClock`; nothing sleeps.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from pytest_runresume.model import (
    FileChunk,
    ManualClock,
    Model,
    Outcome,
    RunKey,
    RunUpsert,
    decide_resume,
    messages,
    starting_step,
    validate_run_id,
)

HISTORY = "wandb-history.jsonl"
EVENTS = "wandb-events.jsonl"
OUTPUT = "output.log"
SUMMARY = "wandb-summary.json"
TIMEOUT = 300.0
TELEMETRY = {"1": [1, 55], "3": [16, 23], "4": "3.12.0"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_000_000.0)


@pytest.fixture
def model(clock: ManualClock) -> Model:
    return Model(entity="ent", clock=clock, crash_timeout=TIMEOUT)


def _config(**values: Any) -> str:
    """The config JSON string wandb-core sends on the init upsert (with _wandb.value.t)."""
    cfg: dict[str, Any] = {k: {"value": v} for k, v in values.items()}
    cfg["_wandb"] = {"value": {"t": TELEMETRY, "cli_version": "0.31.0"}}
    return json.dumps(cfg)


def _init(model: Model, run_id: str = "run-a", *, storage_id: str | None = None, **extra: Any):
    """The first upsert of a process: carries host and program (and id when resuming)."""
    fields: dict[str, Any] = {
        "id": storage_id,
        "name": run_id,
        "project": "proj",
        "entity": None,
        "host": "node-1",
        "program": "train.py",
        "config": _config(lr=0.1),
    }
    fields.update(extra)
    return model.upsert_run(RunUpsert.from_variables(fields))


def _later(model: Model, run_id: str = "run-a", **extra: Any):
    """A later upsert of the same process: entity filled in, host/program null."""
    fields: dict[str, Any] = {"id": None, "name": run_id, "project": "proj", "entity": "ent"}
    fields.update(extra)
    return model.upsert_run(RunUpsert.from_variables(fields))


def _h(step: int, **extra: Any) -> str:
    return json.dumps({"_step": step, **extra})


KEY = RunKey("ent", "proj", "run-a")


# ---- upsert: attempts ---------------------------------------------------------------------------------


@pytest.mark.rules("R04", "R06", "R08")
def test_r04_first_upsert_with_host_starts_attempt_one(model: Model, clock: ManualClock) -> None:
    """R04/R06/R08: the first upsert (host/program set) creates the run and attempt 1, not resumed."""
    rec, inserted = _init(model)
    assert inserted is True
    assert rec.key == KEY
    assert [a.number for a in rec.attempts] == [1]
    a = rec.attempts[0]
    assert a.resumed is False
    assert a.start_line == 0
    assert a.started_at == clock.now()
    assert a.last_heard == clock.now()
    assert rec.host == "node-1"
    assert rec.program == "train.py"
    assert model.state(rec) == "running"


@pytest.mark.rules("R04")
def test_r04_program_alone_also_starts_an_attempt(model: Model) -> None:
    """R04: program without host still marks the init upsert of a process."""
    rec, _ = _init(model, host=None)
    assert len(rec.attempts) == 1


@pytest.mark.rules("R14")
def test_r14_later_upsert_without_host_adds_no_attempt(model: Model, clock: ManualClock) -> None:
    """R14: later upserts of the same process (host/program null) do not start an attempt."""
    rec, _ = _init(model)
    clock.advance(2.0)
    rec2, inserted = _later(model, config=_config(lr=0.1, extra=1))
    assert rec2 is rec
    assert inserted is False
    assert len(rec.attempts) == 1
    assert rec.host == "node-1"  # not cleared by a null host
    assert rec.attempt is not None
    assert rec.attempt.last_heard == clock.now()  # an upsert is activity


@pytest.mark.rules("R01", "R03", "R07", "R35")
def test_r01_r35_resumed_upsert_with_storage_id(model: Model, clock: ManualClock) -> None:
    """R01/R03/R07/R35: an init upsert carrying id == storage_id is a resumed attempt that starts after the old lines."""
    rec, _ = _init(model)
    model.file_stream(KEY, {HISTORY: FileChunk(0, [_h(0), _h(1), _h(2)])})
    model.file_stream(KEY, {}, complete=True, exit_code=1)
    assert model.state(rec) == "failed"
    clock.advance(60.0)
    rec2, inserted = _init(model, storage_id=rec.storage_id)
    assert rec2 is rec
    assert inserted is False
    assert [a.number for a in rec.attempts] == [1, 2]
    a2 = rec.attempts[1]
    assert a2.resumed is True
    assert a2.start_line == 3
    assert a2.started_at == clock.now()
    assert model.state(rec) == "running"
    assert starting_step(len(rec.history_lines), rec.last_step) == 3


@pytest.mark.rules("R14")
def test_r14_same_id_without_resume_id_is_not_resumed(model: Model) -> None:
    """R14/A02: an init upsert into an existing id without the storage id is a new attempt, resumed False, data kept."""
    rec, _ = _init(model)
    model.file_stream(KEY, {HISTORY: FileChunk(0, [_h(0), _h(1)])})
    model.file_stream(KEY, {}, complete=True, exit_code=0)
    rec2, inserted = _init(model)  # id: None
    assert rec2 is rec
    assert inserted is False
    assert [a.number for a in rec.attempts] == [1, 2]
    assert rec.attempts[1].resumed is False
    assert rec.attempts[1].start_line == 2
    assert len(rec.history_lines) == 2  # nothing thrown away
    assert model.state(rec) == "running"
    assert decide_resume(None, rec.exists_for_resume).outcome is Outcome.UPSERT


@pytest.mark.rules("R14")
def test_r14_wrong_storage_id_is_not_resumed(model: Model) -> None:
    """R14: an id that is not this run's storage id does not count as a resume."""
    rec, _ = _init(model)
    _init(model, storage_id=rec.storage_id + "x")
    assert rec.attempts[1].resumed is False


@pytest.mark.rules("R38")
def test_r38_full_upsert_of_a_running_process_adds_no_attempt(model: Model) -> None:
    """R38: after ``run.tags += (...)`` wandb-core 0.31 sends an upsert with every field (the run's id,
    host, program, tags); it is the same process, not a new (resumed) attempt."""
    rec, _ = _init(model)
    _init(model, storage_id=rec.storage_id, entity="ent", displayName="run-a", tags=["a", "d"])
    assert len(rec.attempts) == 1
    assert rec.tags == ["a", "d"]


@pytest.mark.rules("R01", "R35")
def test_r01_resumed_process_is_an_attempt_even_while_the_last_one_looks_alive(
    model: Model, clock: ManualClock
) -> None:
    """R01/R35: a restart before the crash timeout (the killed process never reported its exit): the
    RunResumeStatus then the init upsert with the run's id start attempt 2; its own later full upsert
    does not start a third; a rewind (R47) is a new attempt too."""
    rec, _ = _init(model)
    model.file_stream(KEY, {HISTORY: FileChunk(0, [_h(0)])})
    clock.advance(5.0)
    assert model.resume_status(None, "proj", "run-a") is rec
    _init(model, storage_id=rec.storage_id)
    _init(model, storage_id=rec.storage_id, tags=["x"])
    assert [(a.number, a.resumed) for a in rec.attempts] == [(1, False), (2, True)]
    model.rewind(None, "proj", "run-a", "_step", 0)
    _init(model, storage_id=rec.storage_id)
    assert [a.number for a in rec.attempts] == [1, 2, 3]


@pytest.mark.rules("R24")
def test_r24_same_id_in_other_project_is_another_run(model: Model) -> None:
    """R24: run ids are scoped to entity/project."""
    a, ins_a = _init(model)
    b, ins_b = _init(model, project="other")
    assert ins_a and ins_b
    assert a is not b
    assert a.storage_id != b.storage_id
    assert model.run("ent/proj/run-a") is a
    assert model.run("ent/other/run-a") is b
    assert model.run("proj/run-a") is a  # default entity


@pytest.mark.rules("R39")
def test_r39_config_replaced_not_merged(model: Model) -> None:
    """R39: the stored config is replaced by the one sent (the client already merged)."""
    rec, _ = _init(model, config=_config(lr=0.1, batch=32))
    _later(model, config=_config(lr=0.2))
    assert rec.config["lr"] == {"value": 0.2}
    assert "batch" not in rec.config
    _later(model, config={"only": {"value": 1}})  # a dict is accepted too
    assert rec.config == {"only": {"value": 1}}


@pytest.mark.rules("R39")
def test_r39_upsert_without_config_keeps_config(model: Model) -> None:
    """R39: an upsert with config null leaves the stored config alone."""
    rec, _ = _init(model, config=_config(lr=0.1))
    _later(model, config=None)
    assert rec.config["lr"] == {"value": 0.1}
    assert rec.exists_for_resume


@pytest.mark.rules("R38")
def test_r38_tags_replaced_only_when_given(model: Model) -> None:
    """R38: tags given replace the old ones; tags null keep them; an empty list clears them."""
    rec, _ = _init(model, tags=["a", "b"])
    assert rec.tags == ["a", "b"]
    _later(model, tags=None)
    assert rec.tags == ["a", "b"]
    _later(model, tags=["c"])
    assert rec.tags == ["c"]
    _later(model, tags=[])
    assert rec.tags == []


@pytest.mark.rules("R38")
def test_r38_notes_kept_when_not_given(model: Model) -> None:
    """R38: notes null on a later upsert keep the old notes."""
    rec, _ = _init(model, notes="first")
    _later(model, notes=None)
    assert rec.notes == "first"


@pytest.mark.rules("R23")
def test_r23_sweep_never_cleared(model: Model) -> None:
    """R23 (NOTES 1.2): sweep is set on the first upsert and a later sweep:null does not clear it."""
    rec, _ = _init(model, sweep="sw123")
    _later(model, sweep=None)
    assert rec.sweep == "sw123"
    _init(model, storage_id=rec.storage_id, sweep=None)
    assert rec.sweep == "sw123"


@pytest.mark.rules("R31")
@pytest.mark.parametrize("bad", [None, "", " run", "a/b"])
def test_r31_upsert_with_bad_run_id_raises(model: Model, bad: Any) -> None:
    """R31: an upsert with a missing or bad run id is refused and creates no run."""
    with pytest.raises(ValueError):
        model.upsert_run(RunUpsert.from_variables({"name": bad, "project": "proj", "host": "h"}))
    assert model.runs == {}


# ---- create_run / resume existence (R43, R53) ---------------------------------------------------------


@pytest.mark.rules("R43", "R53")
def test_r43_r53_pending_run_counts_as_missing(model: Model) -> None:
    """R43/R53/A08: a run created pending exists on the server but not for resume."""
    rec = model.create_run("run-a", project="proj", state="pending")
    assert model.state(rec) == "pending"
    assert rec.created_pending is True
    assert model.resume_status(None, "proj", "run-a") is rec
    assert rec.exists_for_resume is False
    assert decide_resume("must", rec.exists_for_resume).outcome is Outcome.ERROR
    assert decide_resume("allow", rec.exists_for_resume).outcome is Outcome.NEW


@pytest.mark.rules("R43", "R53")
def test_r43_r53_pending_run_started_by_init_upsert(model: Model) -> None:
    """R43/R53: the first real upsert starts the pending run and makes it exist for resume."""
    rec = model.create_run("run-a", project="proj", config={"lr": 0.1})
    assert rec.config == {"lr": {"value": 0.1}}
    rec2, inserted = _init(model)
    assert rec2 is rec
    assert inserted is False
    assert rec.created_pending is False
    assert rec.exists_for_resume is True
    assert model.state(rec) == "running"
    assert decide_resume("must", rec.exists_for_resume).outcome is Outcome.RESUME


@pytest.mark.rules("R43")
def test_r43_exists_for_resume_needs_t_on_the_backend(model: Model) -> None:
    """R43: an upserted run whose config lacks _wandb.value.t still counts as missing."""
    rec, _ = _init(model, config=json.dumps({"lr": {"value": 0.1}, "_wandb": {"value": {}}}))
    assert rec.exists_for_resume is False
    _later(model, config=_config(lr=0.1))
    assert rec.exists_for_resume is True
    assert rec.wandb_config() == {"t": TELEMETRY}


@pytest.mark.rules("R53")
def test_r53_create_run_running_starts_an_attempt(model: Model) -> None:
    """R53: Run.create(state='running') gives a running run; other states are refused."""
    rec = model.create_run("run-b", project="proj", state="running")
    assert model.state(rec) == "running"
    assert rec.created_pending is False
    with pytest.raises(ValueError, match="finished"):
        model.create_run("run-c", project="proj", state="finished")
    assert model.get(None, "proj", "run-c") is None


@pytest.mark.rules("R31", "R53")
def test_r53_create_run_validates_run_id(model: Model) -> None:
    """R31/R53: Run.create refuses a bad run id."""
    with pytest.raises(ValueError, match="a:b"):
        model.create_run("a:b", project="proj")


@pytest.mark.rules("R02", "R04")
def test_resume_status_missing_run_is_none(model: Model) -> None:
    """R02/R04: RunResumeStatus for an unknown id answers no run."""
    assert model.resume_status(None, "proj", "nope") is None


# ---- file_stream ----------------------------------------------------------------------------------------


@pytest.mark.rules("R36")
def test_r36_file_stream_lines_at_offsets(model: Model) -> None:
    """R36: every line file gets its lines at the offsets sent."""
    rec, _ = _init(model)
    model.file_stream(
        KEY,
        {
            HISTORY: FileChunk(0, [_h(0), _h(1)]),
            EVENTS: FileChunk(0, ['{"_runtime": 1}']),
            OUTPUT: FileChunk(0, ["hello"]),
        },
    )
    model.file_stream(KEY, {HISTORY: FileChunk(2, [_h(2)]), OUTPUT: FileChunk(1, ["world"])})
    assert rec.history_lines == [_h(0), _h(1), _h(2)]
    assert rec.files[EVENTS] == ['{"_runtime": 1}']
    assert rec.files[OUTPUT] == ["hello", "world"]
    assert model.problems == []


@pytest.mark.rules("R36")
def test_r36_retried_post_same_offset_no_duplicate(model: Model) -> None:
    """R36: a retried file_stream post with the same offset stores no duplicate and is no problem."""
    rec, _ = _init(model)
    chunk = {HISTORY: FileChunk(0, [_h(0), _h(1)])}
    model.file_stream(KEY, chunk)
    model.file_stream(KEY, chunk)
    assert rec.history_lines == [_h(0), _h(1)]
    assert model.problems == []
    assert rec.last_step == 1


@pytest.mark.rules("R36")
def test_r36_offset_gap_recorded_lines_kept(model: Model) -> None:
    """R36: an offset gap becomes a backend problem; the lines are kept at their index."""
    rec, _ = _init(model)
    model.file_stream(KEY, {HISTORY: FileChunk(0, [_h(0)])})
    model.file_stream(KEY, {HISTORY: FileChunk(4, [_h(4)])})
    assert model.problems == [messages.OFFSET_GAP.format(path=KEY.path, file=HISTORY, offset=4, have=1, gap_end=3)]
    assert rec.history_lines[0] == _h(0)
    assert rec.history_lines[4] == _h(4)
    assert rec.history_lines[1:4] == [None, None, None]
    assert rec.last_step == 4


@pytest.mark.rules("R36")
def test_r36_history_rewrite_with_different_content_recorded(model: Model) -> None:
    """R36: history is append-only; a rewrite with other content is a backend problem."""
    rec, _ = _init(model)
    model.file_stream(KEY, {HISTORY: FileChunk(0, [_h(0, loss=1.0), _h(1, loss=0.9)])})
    model.file_stream(KEY, {HISTORY: FileChunk(1, [_h(1, loss=0.1)])})
    assert model.problems == [messages.LINE_REWRITTEN.format(path=KEY.path, index=1, file=HISTORY)]
    assert len(rec.history_lines) == 2


@pytest.mark.rules("R36")
def test_r36_output_log_rewrite_allowed_silently(model: Model) -> None:
    """R36: output.log lines may be rewritten (carriage returns) without a problem."""
    rec, _ = _init(model)
    model.file_stream(KEY, {OUTPUT: FileChunk(0, ["10%"])})
    model.file_stream(KEY, {OUTPUT: FileChunk(0, ["100%"])})
    assert model.problems == []
    assert rec.files[OUTPUT] == ["100%"]


@pytest.mark.rules("R37")
def test_r37_summary_replaced(model: Model) -> None:
    """R37: wandb-summary.json replaces the stored summary with its last line (the client merges)."""
    rec, _ = _init(model)
    model.file_stream(KEY, {SUMMARY: FileChunk(0, [json.dumps({"loss": 1.0, "acc": 0.5, "_step": 0})])})
    assert rec.summary == {"loss": 1.0, "acc": 0.5, "_step": 0}
    model.file_stream(KEY, {SUMMARY: FileChunk(0, [json.dumps({"loss": 0.5, "_step": 1})])})
    assert rec.summary == {"loss": 0.5, "_step": 1}
    model.file_stream(
        KEY, {SUMMARY: FileChunk(0, [json.dumps({"loss": 0.4}), json.dumps({"loss": 0.3, "_step": 2})])}
    )
    assert rec.summary == {"loss": 0.3, "_step": 2}
    assert rec.history_lines == []  # the summary is not a line file
    assert model.problems == []


@pytest.mark.rules("R37")
def test_r37_resumed_run_keeps_summary_until_replaced(model: Model) -> None:
    """R37: the old summary survives a resumed init upsert (summaryMetrics null)."""
    rec, _ = _init(model)
    model.file_stream(KEY, {SUMMARY: FileChunk(0, [json.dumps({"loss": 0.5})])})
    model.file_stream(KEY, {}, complete=True, exit_code=1)
    _init(model, storage_id=rec.storage_id, summaryMetrics=None)
    assert rec.summary == {"loss": 0.5}


@pytest.mark.rules("R65")
def test_r65_preempting_flag(model: Model, clock: ManualClock) -> None:
    """R65/A01: preempting:true marks the attempt; the run is preempting while alive; recorded once."""
    rec, _ = _init(model)
    assert model.file_stream(KEY, {}, preempting=True) is False
    assert rec.attempt is not None and rec.attempt.preempting is True
    assert model.state(rec) == "preempting"
    model.file_stream(KEY, {}, preempting=True)
    assert [e.kind for e in rec.timeline].count("preempting") == 1
    clock.advance(TIMEOUT - 1)
    assert model.state(rec) == "preempting"


@pytest.mark.rules("R66", "R70", "R71")
def test_r66_r70_preempting_then_nonzero_exit_is_preempted(model: Model) -> None:
    """R66/R70/R71: preempting then complete with a non-zero exit code -> preempted, requeueable."""
    rec, _ = _init(model)
    model.file_stream(KEY, {}, preempting=True)
    model.file_stream(KEY, {HISTORY: FileChunk(0, [_h(0)])}, complete=True, exit_code=143)
    assert rec.attempt is not None
    assert rec.attempt.complete is True
    assert rec.attempt.exit_code == 143
    assert model.state(rec) == "preempted"
    assert model.is_requeueable(rec) is True
    assert rec.history_lines == [_h(0)]  # files sent with the final request are kept


@pytest.mark.rules("R55")
def test_r55_complete_and_exitcode(model: Model) -> None:
    """R55: complete:true with exitcode stores both; 0 -> finished, non-zero -> failed."""
    ok, _ = _init(model, "ok")
    bad, _ = _init(model, "bad")
    model.file_stream(RunKey("ent", "proj", "ok"), {}, complete=True, exit_code=0)
    model.file_stream(RunKey("ent", "proj", "bad"), {}, complete=True, exit_code=3)
    assert ok.attempt is not None and (ok.attempt.complete, ok.attempt.exit_code) == (True, 0)
    assert bad.attempt is not None and (bad.attempt.complete, bad.attempt.exit_code) == (True, 3)
    assert model.state(ok) == "finished"
    assert model.state(bad) == "failed"


@pytest.mark.rules("R66", "R70a")
def test_r70a_exit_zero_after_preempting_is_finished(model: Model) -> None:
    """R66/R70a: exit 0 wins over preempting: finished, never requeued."""
    rec, _ = _init(model)
    model.file_stream(KEY, {}, preempting=True)
    model.file_stream(KEY, {}, complete=True, exit_code=0)
    assert model.state(rec) == "finished"
    assert model.is_requeueable(rec) is False


@pytest.mark.rules("R24", "R29")
def test_file_stream_for_unknown_run_raises_naming_path(model: Model) -> None:
    """R24/R29: file_stream to a run never upserted is refused, naming the run path."""
    key = RunKey("ent", "proj", "ghost")
    with pytest.raises(KeyError) as info:
        model.file_stream(key, {HISTORY: FileChunk(0, [_h(0)])})
    assert messages.FILE_STREAM_NO_RUN.format(path=key.path) in str(info.value)


# ---- last step (R42) ---------------------------------------------------------------------------------


@pytest.mark.rules("R42")
def test_r42_last_step_tracking(model: Model) -> None:
    """R42: last_step is the largest _step written to history, across posts and attempts."""
    rec, _ = _init(model)
    assert rec.last_step is None
    model.file_stream(KEY, {HISTORY: FileChunk(0, [_h(0), _h(1)])})
    assert rec.last_step == 1
    model.file_stream(KEY, {EVENTS: FileChunk(0, [_h(99)])})
    assert rec.last_step == 1
    model.file_stream(KEY, {}, complete=True, exit_code=1)
    _init(model, storage_id=rec.storage_id)
    model.file_stream(KEY, {HISTORY: FileChunk(2, [_h(2), _h(3)])})
    assert rec.last_step == 3
    assert model.snapshot()["runs"][0]["last_step"] == 3


# ---- crash timeout and heartbeats (R60-R62, R70) ---------------------------------------------------------


@pytest.mark.rules("R60", "R61")
def test_r60_r61_silent_run_crashes_at_timeout(model: Model, clock: ManualClock) -> None:
    """R60/R61: no request for the crash timeout -> crashed; not before."""
    rec, _ = _init(model)
    model.advance_clock(TIMEOUT - 0.5)
    assert model.state(rec) == "running"
    model.advance_clock(0.5)
    assert model.state(rec) == "crashed"
    assert model.is_requeueable(rec) is False


@pytest.mark.rules("R62")
def test_r62_heartbeat_keeps_run_alive(model: Model, clock: ManualClock) -> None:
    """R62: an empty file_stream post is a heartbeat and resets the crash timer."""
    rec, _ = _init(model)
    clock.advance(TIMEOUT - 1)
    assert model.file_stream(KEY, {}) is False
    assert rec.attempt is not None and rec.attempt.last_heard == clock.now()
    assert "heartbeat" in [e.kind for e in rec.timeline]
    clock.advance(TIMEOUT - 1)
    assert model.state(rec) == "running"
    clock.advance(1)
    assert model.state(rec) == "crashed"


@pytest.mark.rules("R70c", "R70e", "R72")
def test_r70c_r70e_preempting_then_silence_is_preempted(model: Model, clock: ManualClock) -> None:
    """R70c/R70e 'always' column, R72: preempting then silence -> preempted after the timeout, requeueable."""
    rec, _ = _init(model)
    model.file_stream(KEY, {}, preempting=True)
    clock.advance(TIMEOUT)
    assert model.state(rec) == "preempted"
    assert model.is_requeueable(rec) is True


@pytest.mark.rules("R61")
def test_r61_backend_crash_timeout_is_configurable(clock: ManualClock) -> None:
    """R61: Model(crash_timeout=...) is the timeout its states use."""
    b = Model(clock=clock, crash_timeout=5.0)
    rec, _ = _init(b)
    clock.advance(5.0)
    assert b.state(rec) == "crashed"


# ---- stop (R58) ------------------------------------------------------------------------------------------


@pytest.mark.rules("R58")
def test_r58_request_stop_then_exit_255_is_killed(model: Model) -> None:
    """R58: after request_stop the next file_stream answers stopped; exit 255 then gives killed."""
    rec, _ = _init(model)
    assert model.file_stream(KEY, {}) is False
    model.request_stop(KEY.path)
    assert model.file_stream(KEY, {HISTORY: FileChunk(0, [_h(0)])}) is True
    assert model.file_stream(KEY, {}) is True  # keeps asking until the run exits
    assert model.state(rec) == "running"
    assert model.file_stream(KEY, {}, complete=True, exit_code=255) is False
    assert model.state(rec) == "killed"
    assert model.is_requeueable(rec) is False


@pytest.mark.rules("R53", "R58")
def test_r58_request_stop_on_unstarted_or_unknown_run(model: Model) -> None:
    """R58/R53: nothing to stop on a pending run; an unknown path raises KeyError."""
    model.create_run("run-p", project="proj")
    with pytest.raises(ValueError, match="run-p"):
        model.request_stop("ent/proj/run-p")
    with pytest.raises(KeyError, match="nope"):
        model.request_stop("ent/proj/nope")


# ---- requeue (R66, R71) ---------------------------------------------------------------------------------


@pytest.mark.rules("R66", "R71", "R81")
@pytest.mark.parametrize(
    ("preempting", "exit_code", "requeue"),
    [
        (False, 0, False),  # finished
        (True, 0, False),  # finished: exit 0 is never requeued
        (False, 1, False),  # failed
        (True, 1, True),  # preempted
        (True, 143, True),  # preempted
    ],
)
def test_r66_r71_is_requeueable_only_when_preempted(
    model: Model, preempting: bool, exit_code: int, requeue: bool
) -> None:
    """R66/R71/R81: only a preempted run may be requeued."""
    rec, _ = _init(model)
    if preempting:
        model.file_stream(KEY, {}, preempting=True)
    model.file_stream(KEY, {}, complete=True, exit_code=exit_code)
    assert model.is_requeueable(rec) is requeue


@pytest.mark.rules("R66")
def test_r66_alive_runs_are_not_requeueable(model: Model) -> None:
    """R66: running, preempting and pending runs are not requeued."""
    pending = model.create_run("run-p", project="proj")
    assert model.is_requeueable(pending) is False
    rec, _ = _init(model)
    assert model.is_requeueable(rec) is False
    model.file_stream(KEY, {}, preempting=True)
    assert model.is_requeueable(rec) is False


# ---- run ids (R31) --------------------------------------------------------------------------------------


@pytest.mark.rules("R31")
@pytest.mark.parametrize("char", list(":;,#?/'"))
def test_r31_reserved_character_rejected(char: str) -> None:
    """R31: each reserved character of the SDK validator is refused, naming the id."""
    run_id = f"run{char}x"
    with pytest.raises(ValueError) as info:
        validate_run_id(run_id)
    assert repr(run_id) in str(info.value)


@pytest.mark.rules("R31")
@pytest.mark.parametrize("run_id", ["", " ", "   ", " run", "run ", "\trun", "run\n"])
def test_r31_empty_or_whitespace_rejected(run_id: str) -> None:
    """R31: an empty id, a whitespace-only id and leading/trailing whitespace are refused, naming the id."""
    with pytest.raises(ValueError) as info:
        validate_run_id(run_id)
    assert repr(run_id) in str(info.value)


@pytest.mark.rules("R31")
@pytest.mark.parametrize("run_id", [None, 12])
def test_r31_non_string_rejected(run_id: object) -> None:
    """R31: a run id must be a string."""
    with pytest.raises(ValueError):
        validate_run_id(run_id)


@pytest.mark.rules("R28", "R31")
@pytest.mark.parametrize("run_id", ["abc12345", "run-a", "run_a.1", "a b", "x" * 100])
def test_r31_valid_ids_returned(run_id: str) -> None:
    """R31/R27/R28: ordinary ids (inner space and long ids included, A05) pass and are returned."""
    assert validate_run_id(run_id) == run_id


# ---- clock and waiting ---------------------------------------------------------------------------------


def test_r61_advance_clock_moves_backend_time(model: Model, clock: ManualClock) -> None:
    """R61: advance_clock moves the backend clock forward and returns the new time."""
    start = model.now()
    assert model.advance_clock(30.0) == start + 30.0
    assert model.now() == clock.now() == start + 30.0


def test_r61_advance_clock_negative_raises(model: Model) -> None:
    """R61: the backend clock never goes back."""
    start = model.now()
    with pytest.raises(ValueError):
        model.advance_clock(-1.0)
    assert model.now() == start


def test_r61_advance_clock_without_advance_method_raises() -> None:
    """R61: a custom clock without advance() cannot be moved."""

    class FixedClock:
        def now(self) -> float:
            return 5.0

    b = Model(clock=FixedClock())
    with pytest.raises(TypeError):
        b.advance_clock(1.0)


def test_wait_for_returns_truthy_value(model: Model) -> None:
    """R62 (harness waits with a bound, never sleeps): wait_for returns the predicate's truthy value."""
    rec, _ = _init(model)
    assert model.wait_for(lambda: model.get(None, "proj", "run-a"), timeout=0.05) is rec
    assert model.wait_for(lambda: len(rec.attempts), timeout=0.05) == 1


def test_wait_for_timeout_raises(model: Model) -> None:
    """R62: wait_for raises TimeoutError when the condition stays false for the bounded timeout."""
    with pytest.raises(TimeoutError):
        model.wait_for(lambda: model.get(None, "proj", "never"), timeout=0.05)


def test_wait_for_wakes_on_change_from_another_thread(model: Model) -> None:
    """R62: a waiter is woken by a change made in another thread (bounded joins, no sleep)."""
    result: list[object] = []
    ready = threading.Event()

    def waiter() -> None:
        ready.set()
        result.append(model.wait_for(lambda: model.get(None, "proj", "run-a"), timeout=10.0))

    t = threading.Thread(target=waiter)
    t.start()
    assert ready.wait(10.0)
    rec, _ = _init(model)
    t.join(10.0)
    assert not t.is_alive()
    assert result == [rec]


# ---- snapshot and reset -----------------------------------------------------------------------------------


def test_snapshot_is_json_serialisable(model: Model, clock: ManualClock) -> None:
    """R42/R51: snapshot() is plain JSON with states, steps, attempts, timeline and problems."""
    rec, _ = _init(model)
    model.file_stream(KEY, {HISTORY: FileChunk(0, [_h(0), _h(1)])}, preempting=True)
    model.file_stream(KEY, {HISTORY: FileChunk(5, [_h(5)])})  # a gap -> a problem
    model.file_stream(KEY, {}, complete=True, exit_code=143)
    model.create_run("run-p", project="proj")
    clock.advance(1.0)
    snap = json.loads(json.dumps(model.snapshot()))
    assert snap["now"] == clock.now()
    assert len(snap["problems"]) == 1
    runs = {r["path"]: r for r in snap["runs"]}
    assert runs["ent/proj/run-a"]["state"] == "preempted"
    assert runs["ent/proj/run-a"]["last_step"] == 5
    assert runs["ent/proj/run-a"]["history_lines"] == 6
    assert runs["ent/proj/run-a"]["attempts"][0]["exit_code"] == 143
    assert runs["ent/proj/run-a"]["timeline"]
    assert runs["ent/proj/run-p"]["state"] == "pending"
    assert runs["ent/proj/run-p"]["attempts"] == []


def test_reset_forgets_runs_and_problems_keeps_time(model: Model, clock: ManualClock) -> None:
    """R24: reset gives a fresh server; the clock keeps its time."""
    _init(model)
    model.record_problem("something")
    clock.advance(10.0)
    t = model.now()
    model.reset()
    assert model.runs == {}
    assert model.problems == []
    assert model.now() == t
    assert model.resume_status(None, "proj", "run-a") is None
