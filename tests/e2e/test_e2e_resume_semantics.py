"""End to end: what "resumes from last step" means, with the real wandb SDK against the fake.

Starting step (R35), offsets that continue (R36), summary (R37), tags and notes (R38), config merge and
the value-change conflict (R39, R40), ``run.resumed`` (R41) and ``lastHistoryStep`` (R42). Errors are
matched on their class, never on wording (NOTES 5). Where releases differ (docs/sdk-versions.md), the
tests expect what the installed one does (:mod:`pytest_runresume.model.sdk_versions`).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_runresume.model import FileChunk, RunUpsert, sdk_versions, starting_step

PROJECT = "rs"

SCRIPT = """
    import json, sys, time, wandb

    args = json.loads(sys.argv[1])
    run = wandb.init(project="rs", **args.get("init", {}))
    path = f"{run.entity}/{run.project}/{run.id}"
    out = {
        "resumed": run.resumed,
        "starting_step": run.starting_step,
        "config": dict(run.config.items()),
        "summary": {k: run.summary[k] for k in run.summary.keys() if not k.startswith("_")},
        "tags": list(run.tags or ()),
        "notes": run.notes,
        "errors": [],
    }
    for verb, *rest in args.get("do", []):
        try:
            if verb == "log":
                run.log(rest[0])
            elif verb == "print":
                print(rest[0], flush=True)
            elif verb == "sleep":
                time.sleep(rest[0])
            elif verb == "update":
                run.config.update(rest[0], allow_val_change=rest[1])
            elif verb == "add_tags":
                run.tags += tuple(rest[0])
            elif verb == "set_notes":
                run.notes = rest[0]
        except Exception as exc:
            out["errors"].append([verb, json.dumps(rest[0]), type(exc).__name__, isinstance(exc, wandb.Error)])
    out["config_after"] = dict(run.config.items())
    print("E2E-RESULT " + json.dumps(out), flush=True)
    run.finish()
    if args.get("api"):
        api_run = wandb.Api().run(path)
        print("E2E-API " + json.dumps({"lastHistoryStep": api_run.lastHistoryStep}), flush=True)
"""

#: System metrics on, sampled every 0.2 s, so the events file gets lines (the harness turns them off).
STATS = {"WANDB_X_DISABLE_STATS": "false", "WANDB_X_STATS_SAMPLING_INTERVAL": "0.2"}


@pytest.fixture
def launch(runresume, tmp_path: Path):
    """``launch(env=None, init={...}, do=[[verb, ...]], api=False)`` -> (RunResult, printed dict)."""
    script = tmp_path / "e2e_semantics.py"
    script.write_text(textwrap.dedent(SCRIPT))

    def _launch(env: dict[str, str] | None = None, **args: Any):
        result = runresume.run(["python", str(script), json.dumps(args)], env=env)
        assert result.returncode == 0, result.report()
        out: dict[str, Any] = {}
        for line in result.stdout.splitlines():
            for tag in ("E2E-RESULT ", "E2E-API "):
                if line.startswith(tag):
                    out.update(json.loads(line[len(tag) :]))
        assert "resumed" in out, result.report()
        return result, out

    return _launch


def logs(*rows: dict[str, Any]) -> list[list[Any]]:
    return [["log", row] for row in rows]


def counts(run) -> dict[str, int]:
    return {name: len(lines) for name, lines in run.files.items()}


# ---- starting step (R35), run.resumed (R41), lastHistoryStep (R42) -------------------------------


@pytest.mark.rules("R35", "R41", "R42")
def test_R35_R41_R42_run_that_logged_nothing_resumes_at_step_0(launch, wandb_server):
    """R35: a run with no history resumes at step 0 (no +1 without history lines); R41: resumed is
    True only for the resumed process; R42: lastHistoryStep through the public API is -1 before any
    history and the last logged step after."""
    first, out = launch(init={"id": "empty35"}, api=True)
    assert (out["resumed"], out["starting_step"], out["lastHistoryStep"]) == (False, 0, -1)
    assert first.run.history_lines == []

    second, out = launch(init={"id": "empty35", "resume": "allow"}, do=logs({"x": 0}, {"x": 1}), api=True)
    assert (out["resumed"], out["starting_step"]) == (True, 0)
    run = second.run
    assert run.attempt is not None and run.attempt.starting_step == 0  # the model's prediction
    assert run.steps == [0, 1]
    assert out["lastHistoryStep"] == run.last_step == 1
    assert [a.resumed for a in run.attempts] == [False, True]
    second.expect(state="finished", exit_code=0)


@pytest.mark.rules("R35", "R37")
@pytest.mark.parametrize("summary_step", [7, 0])
def test_R35_empty_history_with_step_in_summary_starts_after_it(launch, wandb_server, summary_step):
    """R35: history empty but the summary has ``_step`` (history lost, summary kept): wandb 0.31.0
    starts one after the summary's ``_step`` (7 -> 8, even 0 -> 1); older releases start *at* it
    (7 -> 7, 0 -> 0; fact ``summary_step_resume_plus_one``, as NOTES 1.3 read from older wandb-core
    source). The resumed attempt records the release its init upsert named, and the model's
    prediction for it (``attempt.starting_step``) is what the SDK did."""
    model = wandb_server.model
    config = {"_wandb": {"value": {"t": {"1": [1]}}}}
    seed = {"name": "sum35", "project": PROJECT, "program": "seed.py", "config": json.dumps(config)}
    model.upsert_run(RunUpsert.from_variables(seed))
    key = model.key(None, PROJECT, "sum35")
    summary = {"wandb-summary.json": FileChunk(0, [json.dumps({"_step": summary_step, "loss": 0.25})])}
    model.file_stream(key, summary, complete=True, exit_code=0)

    result, out = launch(init={"id": "sum35", "resume": "must"}, do=logs({"loss": 0.125}))
    assert out["resumed"] is True
    attempt = result.run.attempt
    assert attempt is not None and attempt.sdk_version == sdk_versions.installed_sdk()
    plus_one = sdk_versions.has("summary_step_resume_plus_one")
    assert attempt.starting_step == starting_step(0, summary_step, attempt.sdk_version) == summary_step + plus_one
    assert out["starting_step"] == attempt.starting_step  # the model predicts what the SDK did
    assert out["summary"]["loss"] == 0.25  # R37: the summary came back with it
    assert result.run.steps == [attempt.starting_step]


# ---- offsets continue (R36) and the summary is kept (R37) -----------------------------------------


@pytest.mark.rules("R36", "R37")
def test_R36_R37_history_events_output_appended_and_summary_kept(launch, wandb_server):
    """R36: the resumed process writes history, events (system metrics on) and output.log after the
    old lines: every count grows, the old lines are unchanged, the fake saw no rewrite and no offset
    gap (it records those as problems), and ``_runtime`` does not go back. R37: keys the first process
    logged are still in the summary after the resumed process logged other keys. From 0.20 to 0.28.0
    the SDK itself restarts ``wandb-events.jsonl`` and ``output.log`` at offset 0 in the resumed
    process (fact ``events_and_output_continue_on_resume``): there the fake notes exactly those
    rewrites in the run's timeline, as what the attempt's release does, and records no problem. ``_runtime`` continues from the stored runtime, whole seconds, on every release."""
    first, out = launch(
        env=STATS,
        init={"id": "off36"},
        do=[["print", "first process"], *logs({"loss": 1.0, "acc": 0.5}, {"loss": 0.5}), ["sleep", 1.2]],
    )
    run = first.run
    before = {name: list(lines) for name, lines in run.files.items()}
    assert counts(run)["wandb-history.jsonl"] == 2
    assert counts(run)["output.log"] >= 1 and counts(run)["wandb-events.jsonl"] >= 1

    second, out = launch(
        env=STATS,
        init={"id": "off36", "resume": "must"},
        do=[["print", "second process"], *logs({"val": 3.0}), ["sleep", 0.5]],
    )
    assert out["resumed"] is True and out["starting_step"] == 2
    assert out["summary"] == {"loss": 0.5, "acc": 0.5}  # R37: the old summary, visible at init
    assert second.run.key == run.key  # the same run; results are snapshots, so read the second's
    run = second.run
    continued = sdk_versions.has("events_and_output_continue_on_resume")
    rewrites = [ev.detail for ev in run.timeline if ev.kind == "sdk-rewrite"]
    if continued:
        assert rewrites == []
    else:
        # These releases write the resumed process's system metrics and output from offset 0 (the
        # SDK's bug): the fake overwrites the old lines and, knowing the process's release (its
        # attempt's sdk_version), notes each events line as that release's rewrite, not a problem
        # (an output.log rewrite is allowed silently).
        assert rewrites and all("rewrote line" in d and "wandb-events.jsonl" in d for d in rewrites), rewrites
    for name, old in before.items():
        if not continued and name in ("wandb-events.jsonl", "output.log"):
            continue
        assert len(run.files[name]) > len(old), name
        assert run.files[name][: len(old)] == old, f"{name} was rewritten"
    assert run.steps == [0, 1, 2]
    new_output = run.files["output.log"][len(before["output.log"]) if continued else 0 :]
    if continued:
        assert run.files["output.log"][0].endswith("first process")
    assert any(line and line.endswith("second process") for line in new_output)
    runtimes = [row["_runtime"] for row in run.history]
    assert runtimes[:2] == sorted(runtimes[:2])
    # The resumed process counts on from the stored runtime, which is whole seconds (every release
    # 0.19-0.31): the first process ran > 1.2 s so that a restart from 0 would show.
    stored = first.run.summary["_wandb"]["runtime"]
    assert stored >= 1
    assert runtimes[2] >= stored
    assert {"loss": 0.5, "acc": 0.5, "val": 3.0}.items() <= run.summary.items()
    assert wandb_server.model.problems == []


# ---- tags and notes (R38) -------------------------------------------------------------------------


@pytest.mark.rules("R38")
def test_R38_tags_kept_added_and_replaced(launch, wandb_server):
    """R38: resuming without ``tags=`` keeps the old tags (and notes); ``run.tags += (...)`` adds; a
    later resume with ``tags=`` replaces them. The full upsert ``run.tags +=`` sends is not a new
    process, in the first process or a resumed one, and neither is the one ``run.notes = ...`` sends:
    one attempt per process on every release (wandb 0.19 sends them without the run's ``id``; their
    telemetry says init has returned). Before 0.21 the
    SDK does not read the notes back on resume (``run.notes`` is None; fact
    ``notes_read_on_resume``), but the server keeps them."""
    result, out = launch(init={"id": "tags38", "tags": ["a", "b"], "notes": "first"}, do=[["add_tags", ["c"]]])
    assert result.run.tags == ["a", "b", "c"] and len(result.run.attempts) == 1
    result, out = launch(init={"id": "tags38", "resume": "allow"}, do=[["add_tags", ["d"]]])
    notes = "first" if sdk_versions.has("notes_read_on_resume") else None
    assert (out["tags"], out["notes"]) == (["a", "b", "c"], notes)
    run = result.run
    assert run.tags == ["a", "b", "c", "d"] and run.notes == "first"
    assert [a.resumed for a in run.attempts] == [False, True]

    result, out = launch(init={"id": "tags38", "resume": "allow", "tags": ["z"]}, do=[["set_notes", "third"]])
    assert out["tags"] == ["z"]
    run = result.run  # results are snapshots: the third process's view
    assert run.tags == ["z"] and run.notes == "third"
    assert [a.resumed for a in run.attempts] == [False, True, True]
    assert {a.sdk_version for a in run.attempts} == {sdk_versions.installed_sdk()}


# ---- config merge (R39) and the value-change conflict (R40) ---------------------------------------


@pytest.mark.rules("R39", "R40")
def test_R39_R40_config_merged_on_resume_and_changing_a_value_raises_config_error(launch, wandb_server):
    """R39/A14: resuming with ``config=`` merges: keys only the old run had come back, keys given again
    take the new value, new keys are added. R40 (what wandb 0.31.0 does; the docs do not say): values
    loaded from the resumed run count as already set. ``run.config.update`` with the same value or a
    new key is fine; with a changed value (a seed drawn again, an ``lr`` that ``init(config=)``
    already set) it raises ``ConfigError`` (a ``wandb.Error``) and the value stays;
    ``allow_val_change=True`` changes it. The fake stores what the client sent."""
    launch(init={"id": "cfg40", "config": {"lr": 0.1, "seed": 1, "batch": 32}})
    result, out = launch(
        init={"id": "cfg40", "resume": "allow", "config": {"lr": 0.2, "epochs": 3}},
        do=[
            ["update", {"seed": 1}, False],
            ["update", {"steps": 10}, False],
            ["update", {"seed": 2}, False],
            ["update", {"lr": 0.3}, False],
            ["update", {"seed": 3}, True],
        ],
    )
    assert out["config"] == {"lr": 0.2, "seed": 1, "batch": 32, "epochs": 3}
    assert out["errors"] == [
        ["update", '{"seed": 2}', "ConfigError", True],
        ["update", '{"lr": 0.3}', "ConfigError", True],
    ]
    assert out["config_after"] == {"lr": 0.2, "seed": 3, "batch": 32, "epochs": 3, "steps": 10}
    stored = {k: v["value"] for k, v in result.run.config.items() if k != "_wandb"}
    assert stored == out["config_after"]
    result.expect(state="finished", exit_code=0)


@pytest.mark.rules("R39", "R40")
def test_R39_R40_random_seed_in_init_config_silently_replaces_the_stored_one(launch, wandb_server):
    """R39/R40: a seed drawn at start and passed as ``init(config=)`` raises nothing on resume: the new
    value wins (R39), so the resumed run's stored seed changes without a warning. Store the seed in a
    checkpoint, or read ``run.config`` after a resume instead of drawing a new one."""
    launch(init={"id": "seed40", "config": {"seed": 1234}})
    result, out = launch(init={"id": "seed40", "resume": "allow", "config": {"seed": 98765}})
    assert out["errors"] == [] and out["config"]["seed"] == 98765
    assert result.run.config["seed"] == {"value": 98765}
