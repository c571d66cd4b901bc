"""Shared-mode file_stream in the model (R94-R96): backend step numbering, once-only rows."""

from __future__ import annotations

import json

import pytest

from pytest_runresume.model import FileChunk, ManualClock, Model, RunUpsert

H = "wandb-history.jsonl"


def rows(*values: int, key: str = "x") -> list[str]:
    return [json.dumps({key: v, "_step": i}) for i, v in enumerate(values)]


@pytest.mark.rules("R96")
def test_backend_numbers_steps_across_writers_and_ignores_client_steps():
    """R96: each writer sends _step 0..n from its own offsets; the backend numbers them in arrival
    order after everything stored."""
    b = Model(clock=ManualClock())
    run, _ = b.upsert_run(RunUpsert.from_variables({"name": "s", "project": "p", "program": "a.py"}))
    b.file_stream(run.key, {H: FileChunk(0, rows(10, 11, key="a"))}, async_client="A")
    b.file_stream(run.key, {H: FileChunk(0, rows(20, key="b"))}, async_client="B")
    b.file_stream(run.key, {H: FileChunk(2, [json.dumps({"a": 12, "_step": 2})])}, async_client="A")
    assert run.steps == [0, 1, 2, 3]
    assert [r.get("a", r.get("b")) for r in run.history] == [10, 11, 20, 12]
    assert b.problems == []


@pytest.mark.rules("R36")
def test_a_resent_line_of_the_same_writer_is_stored_once():
    """R36 in shared mode: the same client's retry of offsets it already sent adds nothing, while
    another client's lines at the same offsets are new rows."""
    b = Model(clock=ManualClock())
    run, _ = b.upsert_run(RunUpsert.from_variables({"name": "s", "project": "p", "program": "a.py"}))
    chunk = {H: FileChunk(0, rows(1, 2))}
    b.file_stream(run.key, chunk, async_client="A")
    b.file_stream(run.key, chunk, async_client="A")
    b.file_stream(run.key, chunk, async_client="B")
    assert run.steps == [0, 1, 2, 3]


@pytest.mark.rules("R95")
def test_summary_keys_of_each_writer_are_merged():
    """R95: each writer's summary keys are kept; a writer does not erase the other's."""
    b = Model(clock=ManualClock())
    run, _ = b.upsert_run(RunUpsert.from_variables({"name": "s", "project": "p", "program": "a.py"}))
    b.file_stream(run.key, {"wandb-summary.json": FileChunk(0, ['{"a": 1}'])}, async_client="A")
    b.file_stream(run.key, {"wandb-summary.json": FileChunk(0, ['{"b": 2}'])}, async_client="B")
    assert run.summary == {"a": 1, "b": 2}
