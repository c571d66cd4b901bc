"""Unit tests of the readings the fake offers where the docs contradict each other (rules.md A01-A08).

Each contradiction has a default and the other reading as a ``Model`` keyword; both are checked
here on a :class:`ManualClock` (nothing sleeps). Sources and the reasons for each default:
``docs/contradictions.md``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_runresume.model import (
    DEFAULT_READINGS,
    FileChunk,
    ManualClock,
    Model,
    Outcome,
    Readings,
    RuleViolation,
    RunKey,
    RunUpsert,
    decide_resume,
)

TIMEOUT = 300.0
KEY = RunKey("ent", "proj", "run-a")
HISTORY = "wandb-history.jsonl"


def make(**readings: Any) -> tuple[Model, ManualClock]:
    clock = ManualClock()
    return Model(entity="ent", clock=clock, crash_timeout=TIMEOUT, **readings), clock


def start(model: Model, run_id: str = "run-a", storage_id: str | None = None) -> Any:
    """An init upsert as wandb-core sends it (host, program, a config with ``_wandb.t``)."""
    config = {"lr": {"value": 0.1}, "_wandb": {"value": {"t": {"1": [1]}}}}
    return model.upsert_run(
        RunUpsert.from_variables(
            {
                "id": storage_id,
                "name": run_id,
                "project": "proj",
                "host": "h",
                "program": "p.py",
                "config": json.dumps(config),
            }
        )
    )[0]


def lines(*steps: int) -> dict[str, FileChunk]:
    return {HISTORY: FileChunk(0, [json.dumps({"_step": s}) for s in steps])}


# ---- the settings themselves ----------------------------------------------------------------------


def test_defaults_are_the_documented_choices() -> None:
    """A01, A02, A04, A05, A06, A08: the defaults docs/contradictions.md names."""
    assert DEFAULT_READINGS == Readings(
        preempting_state="preempting",
        unset_resume="append",
        interrupt_exit_state="failed",
        crash_trigger="heartbeat",
        preempting_timeout=None,
        pending_resumable=False,
        run_id_rules="sdk",
    )
    assert Model().readings == DEFAULT_READINGS


@pytest.mark.parametrize(
    "kw",
    [
        {"preempting_state": "PREEMPTING"},
        {"unset_resume": "never"},
        {"interrupt_exit_state": "crashed"},
        {"crash_trigger": "logs"},
        {"preempting_timeout": -1},
        {"preempting_timeout": True},
        {"pending_resumable": "yes"},
        {"run_id_rules": "strict"},
    ],
)
def test_a_bad_reading_is_refused_naming_the_setting(kw: dict[str, Any]) -> None:
    """Every setting checks its value; the error names the setting."""
    (name,) = kw
    with pytest.raises(ValueError, match=name):
        Model(**kw)


def test_keywords_apply_on_top_of_a_readings_object() -> None:
    """``Model(readings=..., <name>=...)``: the keyword wins; unknown names in replace() are a TypeError."""
    base = Readings(crash_trigger="metrics", unset_resume="refuse")
    b = Model(readings=base, unset_resume="overwrite")
    assert b.readings.crash_trigger == "metrics"
    assert b.readings.unset_resume == "overwrite"
    with pytest.raises(TypeError, match="nosuch"):
        base.replace(nosuch=1)


# ---- A01: preempting while alive ------------------------------------------------------------------


@pytest.mark.rules("R50", "R51", "R65", "R66", "R70")
@pytest.mark.parametrize(("setting", "alive"), [("preempting", "preempting"), ("running", "running")])
def test_a01_alive_preempting_run_reports_the_chosen_state(setting: str, alive: str) -> None:
    """A01/R65: after mark_preempting() a live run is ``preempting`` (default, the SDK's list, R51) or
    ``running`` (the six documented states, R50); either way it ends ``preempted`` (R66, R70)."""
    model, clock = make(preempting_state=setting)
    rec = start(model)
    model.file_stream(KEY, {}, preempting=True)
    assert model.state(rec) == alive
    model.file_stream(KEY, {}, complete=True, exit_code=138)
    assert model.state(rec) == "preempted"


@pytest.mark.rules("R70c", "R70e")
def test_a01_running_reading_still_times_out_to_preempted() -> None:
    """A01 + R70c/e: with ``preempting_state="running"`` a preempting run that goes silent is still
    preempted (not crashed) after the timeout."""
    model, clock = make(preempting_state="running")
    rec = start(model)
    model.file_stream(KEY, {}, preempting=True)
    clock.advance(TIMEOUT)
    assert model.state(rec) == "preempted"


# ---- A02: an existing id without resume -----------------------------------------------------------


def finished_run(model: Model) -> Any:
    rec = start(model)
    model.file_stream(KEY, lines(0, 1, 2))
    model.file_stream(KEY, {"wandb-summary.json": FileChunk(0, ['{"loss": 1}'])}, complete=True, exit_code=0)
    return rec


@pytest.mark.rules("R14")
def test_a02_default_appends_after_the_old_lines() -> None:
    """A02/R14 default ``append`` (SDK, GH #6216): a second init without resume is a new attempt,
    not resumed; the old lines stay and the answer's historyLineCount (3) is where it writes next."""
    model, _ = make()
    rec = finished_run(model)
    again = start(model)
    assert again is rec
    assert [a.resumed for a in rec.attempts] == [False, False]
    assert len(rec.history_lines) == 3 and rec.attempt is not None and rec.attempt.start_line == 3
    model.file_stream(KEY, {HISTORY: FileChunk(3, ['{"_step": 0}'])})
    assert rec.steps == [0, 1, 2, 0]
    assert model.problems == []


def test_a02_overwrite_archives_the_old_run_and_starts_empty() -> None:
    """A02 ``overwrite`` (S5: unset resume "always starts a new run"): the old history is archived,
    history/summary are empty, so the client (which writes at historyLineCount) starts at line 0."""
    model, _ = make(unset_resume="overwrite")
    rec = finished_run(model)
    start(model)
    assert rec.history_lines == [] and rec.summary == {} and rec.last_step is None
    assert [json.loads(line)["_step"] for line in rec.archived[-1]] == [0, 1, 2]
    model.file_stream(KEY, lines(0, 1))
    assert rec.steps == [0, 1]
    assert model.problems == []
    assert model.state(rec) == "running"


@pytest.mark.rules("R14")
def test_a02_refuse_rejects_the_init_and_leaves_the_run_alone() -> None:
    """A02 ``refuse`` (S6: WANDB_RESUME defaults to "never", so R05): the init upsert is a
    RuleViolation (a GraphQL error on the wire: wandb.init fails), no attempt, data and state kept."""
    model, _ = make(unset_resume="refuse")
    rec = finished_run(model)
    with pytest.raises(RuleViolation, match="run-a"):
        start(model)
    assert len(rec.attempts) == 1
    assert rec.steps == [0, 1, 2]
    assert model.state(rec) == "finished"


@pytest.mark.rules("R35", "R36")
@pytest.mark.parametrize("setting", ["overwrite", "refuse"])
def test_a02_settings_leave_resumes_and_new_runs_alone(setting: str) -> None:
    """A02: only an init *without* resume into an existing run is affected: a new id is created, and a
    resumed init (RunResumeStatus, then the run's id) continues after the old lines (R35, R36)."""
    model, _ = make(unset_resume=setting)
    rec = finished_run(model)
    assert model.resume_status("ent", "proj", "run-a") is rec
    start(model, storage_id=rec.storage_id)
    assert [a.resumed for a in rec.attempts] == [False, True]
    assert rec.steps == [0, 1, 2]
    other = start(model, "run-b")
    assert len(other.attempts) == 1


@pytest.mark.rules("R43")
@pytest.mark.parametrize("setting", ["overwrite", "refuse"])
def test_a02_settings_do_not_apply_to_a_pending_run(setting: str) -> None:
    """A02 + R43: a pending run created ahead of time does not exist for the client, so starting it
    without resume is the normal new-run path under every reading."""
    model, _ = make(unset_resume=setting)
    rec = model.create_run("run-a", project="proj", entity="ent")
    assert start(model) is rec
    assert len(rec.attempts) == 1


# ---- A04: exit code 255 ---------------------------------------------------------------------------


@pytest.mark.rules("R55", "R57", "R58", "R66", "R70d")
@pytest.mark.parametrize(("setting", "state"), [("failed", "failed"), ("killed", "killed")])
def test_a04_exit_255_without_stop_or_preempting(setting: str, state: str) -> None:
    """A04/R57: an uncaught Ctrl+C outside ``with`` reports 255; default ``failed`` (R55/R66: any
    non-zero exit), or ``killed`` (R58, R70d: SIGINT without mark_preempting() ends KILLED)."""
    model, _ = make(interrupt_exit_state=setting)
    rec = start(model)
    model.file_stream(KEY, {}, complete=True, exit_code=255)
    assert model.state(rec) == state


@pytest.mark.rules("R56")
@pytest.mark.parametrize("code", [1, 130, 254])
def test_a04_killed_reading_is_only_for_255(code: int) -> None:
    """A04: the ``killed`` reading keeps every other non-zero exit ``failed`` (inside ``with`` a
    Ctrl+C reports 1, R56, and cannot be told apart)."""
    model, _ = make(interrupt_exit_state="killed")
    rec = start(model)
    model.file_stream(KEY, {}, complete=True, exit_code=code)
    assert model.state(rec) == "failed"


@pytest.mark.rules("R58", "R70d")
@pytest.mark.parametrize("setting", ["failed", "killed"])
def test_a04_255_after_preempting_is_preempted_and_after_a_stop_killed(setting: str) -> None:
    """R70d 'handler'/'always' columns: preempting then 255 is preempted; R58: a server stop then 255
    is killed; under both readings."""
    model, _ = make(interrupt_exit_state=setting)
    rec = start(model)
    model.file_stream(KEY, {}, preempting=True)
    model.file_stream(KEY, {}, complete=True, exit_code=255)
    assert model.state(rec) == "preempted"
    other = start(model, "run-b")
    model.request_stop("ent/proj/run-b")
    model.file_stream(RunKey("ent", "proj", "run-b"), {}, complete=True, exit_code=255)
    assert model.state(other) == "killed"


# ---- A06: what counts as a sign of life, and preempting leniency ----------------------------------


@pytest.mark.rules("R62")
def test_a06_heartbeats_keep_a_run_alive_by_default() -> None:
    """A06/R62 default ``heartbeat`` (S3, S18): an empty file_stream request every 30 s keeps a run that
    logs nothing running past the crash timeout."""
    model, clock = make()
    rec = start(model)
    for _ in range(20):
        clock.advance(30)
        model.file_stream(KEY, {})
    assert model.state(rec) == "running"


@pytest.mark.rules("R61")
def test_a06_metrics_reading_crashes_a_run_that_only_sends_heartbeats() -> None:
    """A06/R61 ``metrics`` (S2: "neither finishes nor posts new metrics for about 5 minutes"):
    heartbeats do not count; posted history does."""
    model, clock = make(crash_trigger="metrics")
    rec = start(model)
    clock.advance(TIMEOUT - 1)
    model.file_stream(KEY, {})
    assert model.state(rec) == "running"
    clock.advance(1)
    model.file_stream(KEY, {})
    assert model.state(rec) == "crashed"
    model.file_stream(KEY, lines(0))
    assert model.state(rec) == "running"
    clock.advance(TIMEOUT)
    assert model.state(rec) == "crashed"


def test_a06_metrics_reading_output_log_is_not_a_metric() -> None:
    """A06 ``metrics``: console output is not a metric; events (system metrics) and summary are."""
    model, clock = make(crash_trigger="metrics")
    rec = start(model)
    clock.advance(TIMEOUT)
    model.file_stream(KEY, {"output.log": FileChunk(0, ["hello"])})
    assert model.state(rec) == "crashed"
    model.file_stream(KEY, {"wandb-events.jsonl": FileChunk(0, ['{"system.cpu": 1}'])})
    assert model.state(rec) == "running"
    clock.advance(TIMEOUT)
    model.file_stream(KEY, {"wandb-summary.json": FileChunk(0, ['{"a": 1}'])})
    assert model.state(rec) == "running"


@pytest.mark.rules("R61", "R70c", "R70e")
def test_a06_preempting_timeout_makes_the_preempting_run_last_longer() -> None:
    """A06/R70c-e: by default a silent preempting run is preempted at the crash timeout (S2 "after
    about 5 minutes"); with ``preempting_timeout`` (the SDK comment's "more lenient") it stays
    preempting until that longer timeout; a run without the flag still crashes at the crash timeout."""
    model, clock = make()
    rec = start(model)
    model.file_stream(KEY, {}, preempting=True)
    clock.advance(TIMEOUT)
    assert model.state(rec) == "preempted"

    model, clock = make(preempting_timeout=3 * TIMEOUT)
    rec = start(model)
    plain = start(model, "run-b")
    model.file_stream(KEY, {}, preempting=True)
    clock.advance(TIMEOUT)
    assert model.state(rec) == "preempting"
    assert model.state(plain) == "crashed"
    clock.advance(2 * TIMEOUT)
    assert model.state(rec) == "preempted"


# ---- A08: pending runs ----------------------------------------------------------------------------


@pytest.mark.rules("R43")
def test_a08_pending_run_is_missing_for_resume_by_default() -> None:
    """A08/R43 default (wandb-core): a pending run has no ``_wandb.t``: ``must`` fails, ``allow`` makes
    a new run with that id."""
    model, _ = make()
    rec = model.create_run("run-a", project="proj", entity="ent")
    assert model.wandb_config(rec) == {}
    assert model.exists_for_resume(rec) is False
    assert decide_resume("must", model.exists_for_resume(rec)).outcome is Outcome.ERROR


def test_a08_pending_resumable_reports_t_so_must_resumes() -> None:
    """A08 ``pending_resumable`` (S4: pending runs "can later be resumed"): the never-started run reports
    ``t``, so ``must`` resumes it; once a process started it, the client's own ``t`` is reported."""
    model, _ = make(pending_resumable=True)
    rec = model.create_run("run-a", project="proj", entity="ent")
    assert model.wandb_config(rec) == {"t": {}}
    assert decide_resume("must", model.exists_for_resume(rec)).outcome is Outcome.RESUME
    assert model.resume_status("ent", "proj", "run-a") is rec
    start(model, storage_id=rec.storage_id)
    assert [a.resumed for a in rec.attempts] == [True]
    assert model.wandb_config(rec) == {"t": {"1": [1]}}


def test_a08_pending_resumable_does_not_revive_a_run_created_running() -> None:
    """A08: only ``pending`` runs are affected; ``Run.create(state="running")`` has an attempt and no ``t``."""
    model, _ = make(pending_resumable=True)
    rec = model.create_run("run-a", project="proj", entity="ent", state="running")
    assert model.exists_for_resume(rec) is False


# ---- A05: which run ids the server accepts --------------------------------------------------------


@pytest.mark.rules("R31")
@pytest.mark.parametrize("run_id", ["a%b", "a\\b", "x" * 65])
def test_a05_docs_rules_refuse_ids_the_sdk_allows(run_id: str) -> None:
    """A05/R31: the SDK allows ``%``, ``\\`` and long ids; with ``run_id_rules="docs"`` (S5's reserved
    characters, S6's 64 characters) the server refuses them as a rule (not a malformed request)."""
    assert start(make()[0], run_id).key.run_id == run_id
    model, _ = make(run_id_rules="docs")
    with pytest.raises(RuleViolation, match="A05"):
        start(model, run_id)
    assert model.runs == {}
