"""The model's side of the public API's reads: history sampling and scans (``model.history``), run
filters and orders (``model.filters``), projects, and deleting a deleted run."""

from __future__ import annotations

import json

import pytest

from pytest_runresume.model import ManualClock, Model, RunUpsert
from pytest_runresume.model import filters as F
from pytest_runresume.model import history as H

ROWS = [{"_step": i, "loss": 10 - i, **({"acc": i / 10} if i % 2 else {})} for i in range(10)]


def test_sampling_keeps_all_rows_up_to_samples_then_spaces_them_keeping_first_and_last():
    assert H.sample_rows(ROWS, 500) == ROWS
    assert H.sample_rows(ROWS, 2) == [ROWS[0], ROWS[-1]]
    assert [r["_step"] for r in H.sample_rows(ROWS, 4)] == [0, 3, 6, 9]
    assert H.sample_rows(ROWS, 1) == [ROWS[-1]] and H.sample_rows(ROWS, 0) == []


def test_sampled_history_keeps_rows_with_every_key_cut_to_those_keys():
    spec = json.dumps({"keys": ["_step", "acc"], "samples": 500})
    assert H.sampled_history(ROWS, [spec]) == [[{"_step": i, "acc": i / 10} for i in (1, 3, 5, 7, 9)]]
    ranged = json.dumps({"keys": ["_step", "loss", "_step"], "samples": 9, "minStep": 2, "maxStep": 4})
    assert H.sampled_history(ROWS, [ranged]) == [[{"_step": s, "loss": 10 - s} for s in (2, 3, 4)]]  # inclusive


@pytest.mark.parametrize(
    "spec",
    ["nope", json.dumps([1]), json.dumps({"keys": []}), json.dumps({"keys": ["a"], "samples": -1}),
     json.dumps({"keys": ["a"], "minStep": "0"})],
)  # fmt: skip
def test_bad_specs_are_named_errors(spec):
    with pytest.raises(ValueError, match="sampledHistory spec"):
        H.sampled_history(ROWS, [spec])


def test_rows_in_steps_is_a_half_open_page():
    assert [r["_step"] for r in H.rows_in_steps(ROWS, 3, 6)] == [3, 4, 5]
    assert [r["_step"] for r in H.rows_in_steps(ROWS, 3, 6, limit=2)] == [3, 4]


def test_only_scalar_rows_with_steps_are_exported():
    assert H.exportable(ROWS)
    assert not H.exportable([{"_step": 0, "img": {"_type": "image-file"}}])
    assert not H.exportable([{"loss": 1}]) and not H.exportable([])


DOCS = [
    {"name": "a", "displayName": "alpha", "state": "finished", "tags": ["x", "y"], "createdAt": "2026-01-01T00:00:01",
     "config": {"lr": {"value": 0.1}, "opt": {"value": {"name": "sgd"}}}, "summary": {"loss": 0.5}},
    {"name": "b", "displayName": "bravo", "state": "failed", "tags": [], "createdAt": "2026-01-01T00:00:02",
     "config": {"lr": {"value": 0.5}}, "summary": {"loss": 0.2}},
    {"name": "c", "displayName": "charlie", "state": "finished", "tags": ["y"], "createdAt": "2026-01-01T00:00:03",
     "config": {}, "summary": {}},
]  # fmt: skip


def names(filters):
    return [d["name"] for d in DOCS if F.matches(d, filters)]


def test_the_filters_the_docs_show():
    assert names({"state": "finished"}) == ["a", "c"]
    assert names({"config.lr": 0.1}) == ["a"] and names({"config.lr.value": 0.5}) == ["b"]
    assert names({"config.opt.name": "sgd"}) == ["a"]
    assert names({"$or": [{"config.lr": 0.5}, {"display_name": {"$regex": "^ch"}}]}) == ["b", "c"]
    assert names({"$and": [{"state": "finished"}, {"tags": "y"}]}) == ["a", "c"]  # a list field contains
    assert names({"$nor": [{"state": "failed"}]}) == ["a", "c"]
    assert names({"summary_metrics.loss": {"$lt": 0.3}}) == ["b"]
    assert names({"summary_metrics.loss": {"$gte": 0.2, "$lte": 0.5}}) == ["a", "b"]
    assert names({"config.lr": {"$exists": False}}) == ["c"]
    assert names({"config.lr": {"$ne": 0.1}}) == ["b", "c"]  # a missing field is "not equal"
    assert names({"tags": {"$in": ["x"]}}) == ["a"] and names({"tags": {"$nin": ["y"]}}) == ["b"]
    assert names({"createdAt": {"$gt": "2026-01-01T00:00:01"}}) == ["b", "c"]
    assert names({"summary_metrics.loss": {"$gt": "0"}}) == []  # another type never compares


@pytest.mark.parametrize(
    "bad, named",
    [({"config.lr": {"$near": 1}}, "$near"), ({"$xor": []}, "$xor"), ({"colour": 1}, "colour"),
     ({"$or": {}}, "$or"), ({"name": {"$regex": "("}}, "$regex"), ({"tags": {"$in": "x"}}, "$in"), ([1], "object")],
)  # fmt: skip
def test_bad_filters_are_named_errors(bad, named):
    with pytest.raises(ValueError, match=named.replace("$", r"\$")):
        F.check(bad)


def test_orders():
    assert [d["name"] for d in F.sort_runs(DOCS, "-summary_metrics.loss")] == ["a", "b", "c"]  # missing last
    assert [d["name"] for d in F.sort_runs(DOCS, "+summary_metrics.loss")] == ["b", "a", "c"]
    assert [d["name"] for d in F.sort_runs(DOCS, "-created_at")] == ["c", "b", "a"]
    with pytest.raises(ValueError, match="colour"):
        F.order_key("+colour")


def model() -> Model:
    return Model(clock=ManualClock(1_000_000.0))


def test_list_runs_filters_orders_and_hides_deleted_runs():
    b = model()
    for run_id, lr in (("r1", 0.1), ("r2", 0.2), ("r3", 0.3)):
        b.upsert_run(
            RunUpsert.from_variables(
                {"name": run_id, "project": "p", "config": json.dumps({"lr": {"value": lr}}), "host": "h"}
            )
        )
        b.advance_clock(1)
    b.upsert_run(RunUpsert.from_variables({"name": "other", "project": "q", "host": "h"}))
    assert [r.key.run_id for r in b.list_runs(None, "p")] == ["r1", "r2", "r3"]
    assert [r.key.run_id for r in b.list_runs(None, "p", {"config.lr": {"$gte": 0.2}}, "-config.lr")] == ["r3", "r2"]
    b.delete("p/r2")
    assert [r.key.run_id for r in b.list_runs(None, "p")] == ["r1", "r3"]
    with pytest.raises(ValueError, match="colour"):
        b.list_runs(None, "p", {"colour": "red"})


def test_deleting_a_deleted_run_succeeds_and_changes_nothing():
    b = model()
    rec, _ = b.upsert_run(RunUpsert.from_variables({"name": "d1", "project": "p", "host": "h"}))
    assert b.delete_by_storage_id(rec.storage_id) == (rec, True)
    version = b.version
    assert b.delete_by_storage_id(rec.storage_id) == (rec, False)
    assert b.version == version and b.is_deleted(None, "p", "d1")
    with pytest.raises(KeyError):
        b.delete_by_storage_id("no-such-id")


def test_create_project_is_an_upsert_and_refuses_bad_names_creating_nothing():
    b = model()
    assert b.create_project(None, "new") == ("testent", "new", True)
    assert b.create_project("testent", "new") == ("testent", "new", False)
    assert b.has_project(None, "new")
    for bad in ("", "a/b", "x" * 129, "a:b", 3):
        with pytest.raises(ValueError, match="bad project name"):
            b.create_project(None, bad)
        assert not b.has_project(None, str(bad))
