"""Reading a run back through ``wandb.Api()``, the way users check what their training logged.

``examples/train.py`` is preempted at step 3 and resumed to the end; then a second process reads the
run through the real public API (wandb 0.31: history sampled and scanned, summary, config, files and
their downloads, run listings with filters, the viewer, projects, deletes) and the test compares
every answer with what the model holds. ``run.scan_history()`` is read once from the parquet export
(pyarrow installed) and once as live data (the export switched off): the SDK must see the same rows.
"""

from __future__ import annotations

import json
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

from pytest_runresume.wire import parquet

TRAIN = Path(__file__).resolve().parents[2] / "examples" / "train.py"
SDK = tuple(int(x) for x in version("wandb").split(".")[:2])
PATH = "testent/runresume-example/pub"

READBACK = """
    import inspect, json, sys, wandb
    path = sys.argv[1]
    api = wandb.Api()
    run = api.run(path)
    out = {
        "summary": dict(run.summary),
        "config": dict(run.config),
        "state": run.state,
        "history": run.history(pandas=False),
        "history_loss": run.history(keys=["loss"], pandas=False),
        "history_2": run.history(samples=2, pandas=False),
        "scan": list(run.scan_history()),
        "scan_loss": list(run.scan_history(keys=["loss"])),
        "scan_from_3": list(run.scan_history(min_step=3, page_size=2)),
        "files": sorted(f.name for f in run.files()),
        # run.files(pattern=...) is newer than wandb 0.19
        "json_files": sorted(f.name for f in run.files(pattern="%.json"))
        if "pattern" in inspect.signature(run.files).parameters else None,
        "file_count": len(run.files()),
    }
    dl = run.file("config.yaml").download(root=sys.argv[2], replace=True)
    out["config_yaml"] = dl.read()
    print("READBACK " + json.dumps(out, default=str))
"""

LISTINGS = """
    import json, sys, wandb
    api = wandb.Api()
    out = {}
    def ids(**kw):
        return sorted(r.id for r in api.runs("testent/runresume-example", **kw))
    out["all"] = ids()
    out["finished"] = ids(filters={"state": "finished"})
    out["lr"] = ids(filters={"config.lr": 0.5})
    out["lr_value"] = ids(filters={"config.lr.value": 0.1})
    out["or"] = ids(filters={"$or": [{"config.lr": 0.5}, {"display_name": {"$regex": "^b"}}]})
    out["loss_lt"] = ids(filters={"summary_metrics.final_loss": {"$lt": 1e9}})
    out["by_loss"] = [r.id for r in api.runs("testent/runresume-example", order="-summary_metrics.final_loss")]
    out["per_page"] = [r.id for r in api.runs("testent/runresume-example", per_page=1)]
    viewer = api.viewer
    out["viewer"] = [viewer.entity, viewer.username, list(viewer.teams), list(viewer.api_keys)]
    api.create_project("made-here", "testent")
    run = api.run("testent/runresume-example/b")
    run.delete()
    run.delete()  # the real server accepts deleting a deleted run
    api.flush()  # Api caches run listings
    out["after_delete"] = ids()
    try:
        ids(filters={"config.lr": {"$near": 1}})
        out["bad_filter"] = None
    except Exception as exc:
        out["bad_filter"] = type(exc).__name__ + ": " + str(exc)
    print("LISTINGS " + json.dumps(out))
"""


def _script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def _printed(result, tag: str) -> dict:
    lines = [line for line in result.stdout.splitlines() if line.startswith(tag + " ")]
    assert len(lines) == 1, result.report()
    return json.loads(lines[0][len(tag) + 1 :])


def _train_preempted_and_resumed(runresume) -> None:
    from pytest_runresume import Preemption, Trigger

    cmd = ["python", str(TRAIN), "--run-id", "pub", "--steps", "8"]
    runresume.run(cmd, preempt=Preemption("SIGUSR1", Trigger.at_step(3))).expect(state="preempted")
    runresume.run(cmd).expect(state="finished", exit_code=0)


def _read_back(runresume, tmp_path: Path) -> dict:
    script = _script(tmp_path, "readback.py", READBACK)
    result = runresume.run(["python", script, PATH, str(tmp_path / "downloads")])
    assert result.returncode == 0, result.report()
    return _printed(result, "READBACK")


def _check_against_model(runresume, out: dict) -> None:
    rec = runresume.model.run(PATH)
    rows = rec.history
    assert [r["_step"] for r in rows] == list(range(8))  # preempted at 3, resumed at 4 (R35)
    assert out["state"] == "finished"
    assert out["history"] == rows
    assert out["scan"] == rows
    assert out["scan_from_3"] == rows[3:]
    assert out["history_loss"] == [{"_step": r["_step"], "loss": r["loss"]} for r in rows]
    if SDK >= (0, 28):
        assert out["scan_loss"] == out["history_loss"]
    else:  # before wandb-core read history, scan_history(keys=) asked for exactly those keys
        assert out["scan_loss"] == [{"loss": r["loss"]} for r in rows]
    assert out["history_2"] == [rows[0], rows[-1]]  # the fake's sampling keeps the first and the last
    summary = {k: v for k, v in rec.summary.items()}
    assert {k: out["summary"][k] for k in ("loss", "w", "b", "final_loss", "_step")} == {
        k: summary[k] for k in ("loss", "w", "b", "final_loss", "_step")
    }
    assert out["config"] == {"lr": 0.1, "steps": 8}
    assert out["files"] == sorted(rec.uploads)
    assert "config.yaml" in out["files"] and "wandb-metadata.json" in out["files"]
    if out["json_files"] is not None:
        assert out["json_files"] == sorted(n for n in rec.uploads if n.endswith(".json"))
    assert out["file_count"] == len(rec.uploads)
    assert out["config_yaml"] == rec.uploads["config.yaml"].decode()


def test_everything_train_logged_reads_back_through_the_public_api(runresume, wandb_server, tmp_path):
    """History (sampled and scanned from the parquet export), summary, config, files and a download,
    as the model holds them."""
    if not parquet.available():
        pytest.skip("pyarrow is not installed (the parquet extra)")
    _train_preempted_and_resumed(runresume)
    out = _read_back(runresume, tmp_path)
    _check_against_model(runresume, out)
    served = [r for r in wandb_server.app.requests if r.operation == "history_export"]
    assert served and all(r.status in (200, 206) for r in served), "scan_history read the parquet export"
    assert not [r for r in wandb_server.app.requests if r.operation == "HistoryPage"]


def test_scan_history_reads_live_data_without_the_parquet_export(runresume, wandb_server, tmp_path, monkeypatch):
    """Without pyarrow the history is live data (``HistoryPage``, ``SampledHistoryPage``): the same rows."""
    monkeypatch.setattr(parquet, "available", lambda: False)
    _train_preempted_and_resumed(runresume)
    out = _read_back(runresume, tmp_path)
    _check_against_model(runresume, out)
    ops = {r.operation for r in wandb_server.app.requests}
    assert "history_export" not in ops and {"HistoryPage", "SampledHistoryPage"} <= ops


def test_run_listings_filters_viewer_projects_and_deletes(runresume, wandb_server, tmp_path):
    """``api.runs`` with the filters and orders the docs show, ``api.viewer``, ``create_project``,
    and ``run.delete()`` twice; a filter with an unknown operator is an error naming it."""
    for run_id, lr in (("a", "0.1"), ("b", "0.5")):
        runresume.run(["python", str(TRAIN), "--run-id", run_id, "--steps", "3", "--lr", lr]).expect(state="finished")
    wandb_server.model.runs[wandb_server.model.key(None, "runresume-example", "b")].display_name = "bravo"
    result = runresume.run(["python", _script(tmp_path, "listings.py", LISTINGS)])
    assert result.returncode == 0, result.report()
    out = _printed(result, "LISTINGS")
    b = wandb_server.model
    runs = {**{k.run_id: rec for k, (rec, _) in b.deleted.items()}, **{k.run_id: rec for k, rec in b.runs.items()}}
    losses = {r: runs[r].summary["final_loss"] for r in ("a", "b")}
    assert out["all"] == ["a", "b"]
    assert out["finished"] == ["a", "b"]
    assert out["lr"] == ["b"] and out["lr_value"] == ["a"]
    assert out["or"] == ["b"]
    assert out["loss_lt"] == ["a", "b"]
    assert out["by_loss"] == sorted(losses, key=lambda r: -losses[r])
    assert out["per_page"] == ["a", "b"]  # two pages of one, in creation order
    assert out["viewer"][:3] == ["testent", "tester", ["testent"]]
    assert len(out["viewer"][3]) == 1 and wandb_server.api_key.startswith(out["viewer"][3][0])  # a prefix
    assert b.has_project("testent", "made-here")
    assert out["after_delete"] == ["a"] and b.is_deleted(None, "runresume-example", "b")
    assert out["bad_filter"] is not None and "$near" in out["bad_filter"]
    assert [p for p in b.problems if "$near" in p] == [p for p in b.problems]
    b.problems.clear()  # the bad filter was the point


@pytest.mark.skipif(SDK < (0, 28), reason="wandb < 0.28 has no gzip file_stream (x_file_stream_no_gzip)")
def test_server_features_lead_the_sdk_to_gzip_file_stream(runresume, wandb_server, monkeypatch):
    """``ServerFeaturesQuery`` answers ``FILESTREAM_GZIP`` enabled (the app inflates gzip bodies): a
    client that allows gzip (0.31's setting ``x_file_stream_no_gzip``, default true, turned off)
    then sends its file_stream bodies gzipped, and the run's data arrives whole."""
    from pytest_runresume.wire.app import FakeWandbApp

    inflated: list[int] = []
    original = FakeWandbApp._inflate

    def counting(self, request, raw):
        out = original(self, request, raw)
        if "file_stream" in request.path:
            inflated.append(len(out))
        return out

    monkeypatch.setattr(FakeWandbApp, "_inflate", counting)
    env = {"WANDB_X_FILE_STREAM_NO_GZIP": "false"}
    result = runresume.run(["python", str(TRAIN), "--run-id", "gz", "--steps", "4"], env=env)
    result.expect(state="finished", exit_code=0)
    assert "ServerFeaturesQuery" in {r.operation for r in wandb_server.app.requests}
    assert inflated, "wandb-core sent no gzip file_stream body"
    assert result.run.steps == [0, 1, 2, 3]
