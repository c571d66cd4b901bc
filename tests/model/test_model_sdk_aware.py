"""The model knows which wandb release each process runs (docs/sdk-versions.md): the version its init
upsert sends (``_wandb.cli_version``) is a fact of the attempt, the predicted starting step follows
that release (R35), and the full upsert a wandb 0.19 process sends after ``run.tags += ...`` is not
a new process (R38).

The upsert shapes are what the SDK sends (``_wandb.value`` as captured from wandb 0.19.11: ``t`` has
``imports_finish`` under ``"2"`` only after ``wandb.init`` returned).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_runresume.model import FileChunk, ManualClock, Model, RunUpsert, sdk_versions, starting_step
from pytest_runresume.model.sdk_versions import UnknownSDKVersion
from pytest_runresume.model.upserts import starts_process

#: wandb 0.19.11's telemetry in its init upsert (imports_init, features, versions) ...
INIT_T = {"1": [55], "3": [14, 15, 23, 55], "4": "3.11.7", "5": "0.19.11", "8": [5], "12": "0.19.11"}
#: ... and in the upserts its running process sends later: imports_finish ("2") is there.
RUNNING_T = {**INIT_T, "2": [55], "3": [5, 14, 18, 23, 55, 62]}


@pytest.fixture
def model() -> Model:
    return Model(clock=ManualClock(), crash_timeout=300)


def config(cli_version: Any = "0.19.11", t: dict[str, Any] | None = None) -> str:
    """A config as the SDK sends it: ``_wandb.value`` with ``cli_version`` and telemetry ``t``."""
    return json.dumps({"_wandb": {"value": {"cli_version": cli_version, "t": t or INIT_T, "m": []}}})


def init_upsert(run_id: str, t: dict[str, Any] | None = None, **more: Any) -> RunUpsert:
    """The variables of a process's upsert (``host``/``program`` sent), as the wire parses them."""
    variables = {"name": run_id, "project": "p", "host": "vm", "program": "train.py", "config": config(t=t)}
    return RunUpsert.from_variables({**variables, **more})


# ---- R35: the starting step as each release computes it -------------------------------------------


@pytest.mark.rules("R35")
@pytest.mark.parametrize(
    ("lines", "last_step", "sdk", "expected"),
    [
        (0, 7, (0, 31, 0), 8),  # summary-only _step: 0.31 starts after it
        (0, 0, (0, 31, 0), 1),
        (0, 7, (0, 30, 0), 7),  # ... older releases start at it
        (0, 0, (0, 19, 11), 0),
        (0, None, (0, 30, 0), 0),  # nothing known: 0 on every release
        (0, None, (0, 31, 0), 0),
        (3, 2, (0, 19, 11), 3),  # history lines: last _step + 1 on every release
        (3, 2, (0, 31, 0), 3),
        (2, None, (0, 25, 1), 1),  # lines without _step: 0 + 1
    ],
)
def test_r35_starting_step_follows_the_sdk_release(
    lines: int, last_step: int | None, sdk: sdk_versions.Version, expected: int
) -> None:
    """R35: only a run with a summary ``_step`` and no history lines differs between releases (fact
    ``summary_step_resume_plus_one``)."""
    assert starting_step(lines, last_step, sdk) == expected


@pytest.mark.rules("R35")
def test_r35_without_a_version_the_installed_release_is_assumed() -> None:
    """R35: ``sdk=None`` is the installed release (the project's tests run one)."""
    installed = sdk_versions.installed_sdk()
    assert installed is not None
    assert starting_step(0, 4) == starting_step(0, 4, installed)


# ---- the version is a fact of the attempt ---------------------------------------------------------


def test_the_wire_parses_the_version_and_the_telemetry_of_an_upsert() -> None:
    """``_wandb.value.cli_version`` -> ``sdk_version``; telemetry ``imports_finish`` -> ``after_init``."""
    req = init_upsert("r")
    assert (req.sdk_version, req.after_init) == ((0, 19, 11), False)
    later = RunUpsert.from_variables({"name": "r", "config": config("0.32.0rc1", RUNNING_T)})
    assert (later.sdk_version, later.after_init) == ((0, 32, 0), True)
    bare = RunUpsert.from_variables({"name": "r", "config": json.dumps({"lr": {"value": 1}})})
    assert (bare.sdk_version, bare.after_init) == (None, False)
    api = RunUpsert.from_variables({"name": "r", "displayName": "x"})
    assert (api.sdk_version, api.after_init) == (None, False)


@pytest.mark.parametrize("bad", ["latest", "", 19, ["0.19.11"]])
def test_a_bad_version_is_refused_with_a_named_error_and_changes_nothing(model: Model, bad: Any) -> None:
    """A ``cli_version`` that is not ``MAJOR.MINOR[.PATCH]`` text: :class:`UnknownSDKVersion` (a
    ``ValueError``, which the wire answers as a GraphQL error) before the model sees the request."""
    with pytest.raises(UnknownSDKVersion, match="cli_version"):
        RunUpsert.from_variables({"name": "r", "project": "p", "config": config(bad)})
    with pytest.raises(UnknownSDKVersion):
        model.start("p/r", sdk="latest")
    assert model.runs == {}


@pytest.mark.rules("R35")
@pytest.mark.parametrize(("sdk", "expected"), [("0.31.0", 8), ("0.30.0", 7), ("0.19.11", 7)])
def test_r35_the_attempt_predicts_its_starting_step_from_its_release(model: Model, sdk: str, expected: int) -> None:
    """R35: a run whose history was lost but whose summary has ``_step`` 7: the resumed process's
    ``starting_step`` is what its release computes, and the attempt records the release."""
    model.start("p/sum", sdk="0.31.0")
    model.update("p/sum", summary={"_step": 7, "loss": 0.25})
    model.exit("p/sum", 0)
    run = model.start("p/sum", resume="must", sdk=sdk)
    assert run.attempt is not None
    assert (run.attempt.sdk_version, run.attempt.resumed) == (sdk_versions.parse_version(sdk), True)
    assert run.attempt.starting_step == expected
    assert run.attempts[0].starting_step is None  # the first process did not resume
    init = [ev for ev in run.timeline if ev.kind == "init"][-1]  # the timeline says it too
    assert init.data is not None and (init.data["sdk_version"], init.data["starting_step"]) == (sdk, expected)
    assert init.detail.endswith(f"starting_step={expected}; wandb {sdk}")


@pytest.mark.rules("R35")
def test_r35_the_predicted_step_follows_the_history_tail(model: Model) -> None:
    """R35: with history, the last line's ``_step`` + 1 on every release; a process that does not
    resume (R14) has no prediction."""
    model.start("p/h", sdk="0.19.11")
    model.log("p/h", {"x": 1}, {"x": 2}, {"_step": 9, "x": 3})
    model.exit("p/h", 143, preempting=True)
    run = model.start("p/h", resume="allow", sdk="0.19.11")
    assert run.attempt is not None and run.attempt.starting_step == 10
    model.exit("p/h", 0)
    again = model.start("p/h", sdk="0.25.1")  # no resume: R14
    assert again.attempt is not None and (again.attempt.resumed, again.attempt.starting_step) == (False, None)


# ---- R38: one process is one attempt on every release ---------------------------------------------


@pytest.mark.rules("R14", "R38")
def test_r38_a_019_tags_upsert_in_a_running_process_starts_no_process(model: Model) -> None:
    """R38: wandb 0.19 sends ``run.tags += ...`` as a full upsert with ``host``/``program`` and no
    ``id``; its telemetry already has ``imports_finish``, so it is the running process, not a new
    one. The same upsert without ``imports_finish`` is a new process without resume (R14)."""
    run, _ = model.upsert_run(init_upsert("t", tags=["a"]))
    tags_upsert = init_upsert("t", t=RUNNING_T, tags=["a", "c"])
    assert not starts_process(run, tags_upsert)
    model.upsert_run(tags_upsert)
    assert len(run.attempts) == 1 and run.tags == ["a", "c"]
    assert starts_process(run, init_upsert("t"))  # a second process's init, no resume (R14)
    model.upsert_run(init_upsert("t"))
    assert [a.number for a in run.attempts] == [1, 2]


@pytest.mark.rules("R01", "R38")
def test_r38_a_019_tags_upsert_in_a_resumed_process_starts_no_process(model: Model) -> None:
    """R01/R38: the resumed process (its init names the stored ``id`` after ``RunResumeStatus``)
    then sends its tags upsert without the ``id``: still one attempt a process."""
    run, _ = model.upsert_run(init_upsert("t2"))
    model.exit("p/t2", 143, preempting=True)
    model.resume_status(None, "p", "t2")
    model.upsert_run(init_upsert("t2", id=run.storage_id))
    model.upsert_run(init_upsert("t2", t=RUNNING_T, tags=["b"]))
    assert [a.resumed for a in run.attempts] == [False, True] and run.tags == ["b"]


@pytest.mark.rules("R38")
def test_r38_after_the_last_process_exited_an_upsert_starts_one_whatever_its_telemetry(model: Model) -> None:
    """R38: ``imports_finish`` only says "a running process": when the last one has exited, a process's
    upsert starts a new one."""
    run, _ = model.upsert_run(init_upsert("t3"))
    model.exit("p/t3", 0)
    assert starts_process(run, init_upsert("t3", t=RUNNING_T))


# ---- R36: the events rewrite of 0.20 - 0.28.0 is the release's, not a problem ---------------------


@pytest.mark.rules("R36")
@pytest.mark.parametrize(
    ("sdk", "rewrites"), [("0.25.1", True), ("0.28.0", True), ("0.28.1", False), ("0.19.11", False)]
)
def test_r36_a_resumed_release_that_restarts_the_events_file_is_noted_not_a_problem(
    model: Model, sdk: str, rewrites: bool
) -> None:
    """R36: from 0.20 to 0.28.0 the resumed process writes ``wandb-events.jsonl`` from offset 0 again
    (fact ``events_and_output_continue_on_resume``). The model knows the attempt's release: the
    overwritten lines are noted in the timeline (``sdk-rewrite``) and are no problem; the same
    rewrite from a release that continues the file is a problem. The lines land either way."""
    model.start("p/ev", sdk=sdk)
    key = model.key(None, "p", "ev")
    model.file_stream(key, {"wandb-events.jsonl": FileChunk(0, ['{"cpu":1}', '{"cpu":2}'])})
    model.exit("p/ev", 143, preempting=True)
    run = model.start("p/ev", resume="allow", sdk=sdk)
    model.file_stream(key, {"wandb-events.jsonl": FileChunk(0, ['{"cpu":3}', '{"cpu":4}', '{"cpu":5}'])})
    assert run.files["wandb-events.jsonl"] == ['{"cpu":3}', '{"cpu":4}', '{"cpu":5}']
    noted = [ev.detail for ev in run.timeline if ev.kind == "sdk-rewrite"]
    if rewrites:
        assert model.problems == [] and len(noted) == 2 and all(f"wandb {sdk}, R36" in d for d in noted)
    else:
        assert noted == [] and len(model.problems) == 2 and all("rewrote line" in p for p in model.problems)


@pytest.mark.rules("R36")
def test_r36_a_first_process_rewriting_events_is_a_problem_on_every_release(model: Model) -> None:
    """R36: only a resumed process of an affected release restarts the file; a first process that
    rewrites a line is a problem whatever its release."""
    model.start("p/ev1", sdk="0.25.1")
    key = model.key(None, "p", "ev1")
    model.file_stream(key, {"wandb-events.jsonl": FileChunk(0, ['{"cpu":1}'])})
    model.file_stream(key, {"wandb-events.jsonl": FileChunk(0, ['{"cpu":9}'])})
    assert len(model.problems) == 1
