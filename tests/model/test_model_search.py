"""Unit tests of the search space (:mod:`pytest_runresume.model.search`) and of the seam between the
run store and the sweep controller (:mod:`~pytest_runresume.model.store`, :mod:`~pytest_runresume.model.sweeps`,
composed by :class:`~pytest_runresume.model.Model`).

Rules R86, R89 (grid size, run_cap); R81 (a preempted sweep run is requeued when the store says it
ended).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from pytest_runresume.model import FileChunk, ManualClock, Model, RunKey, RunUpsert
from pytest_runresume.model.search import (
    DISTRIBUTIONS,
    GRID_DISTRIBUTIONS,
    TABLE,
    SweepConfigError,
    combination,
    grid_size,
    grid_values,
    normalize_parameter,
    sample_parameter,
)
from pytest_runresume.model.store import RunStore

#: One valid spec per distribution (before normalizing).
SPECS: dict[str, dict[str, Any]] = {
    "constant": {"value": 7},
    "categorical": {"values": ["a", "b", "c"]},
    "int_uniform": {"min": 1, "max": 4},
    "uniform": {"min": 0.5, "max": 1.5},
    "q_uniform": {"min": 0, "max": 10, "q": 5},
    "log_uniform": {"min": -2.0, "max": 0.0},
    "log_uniform_values": {"min": 0.01, "max": 1.0},
    "q_log_uniform": {"min": 0.0, "max": 3.0, "q": 2},
    "q_log_uniform_values": {"min": 1, "max": 100, "q": 5},
    "inv_log_uniform": {"min": 0.0, "max": 2.0},
    "inv_log_uniform_values": {"min": 0.5, "max": 4.0},
    "normal": {"mu": 1.0, "sigma": 0.5},
    "q_normal": {"mu": 10.0, "sigma": 3.0, "q": 2},
    "log_normal": {},
    "q_log_normal": {"q": 0.5},
    "beta": {"a": 2.0, "b": 3.0},
    "q_beta": {"q": 0.25},
}


def test_the_table_has_one_row_per_distribution_in_the_documented_order() -> None:
    assert tuple(SPECS) == DISTRIBUTIONS == tuple(TABLE)
    assert GRID_DISTRIBUTIONS == ("constant", "categorical", "int_uniform", "q_uniform")


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_each_distribution_normalizes_samples_reproducibly_and_grids_only_if_discrete(dist: str) -> None:
    spec = normalize_parameter("p", {"distribution": dist, **SPECS[dist]})
    assert spec["distribution"] == dist
    draws = [sample_parameter(spec, random.Random(seed)) for seed in range(20)]
    assert draws == [sample_parameter(spec, random.Random(seed)) for seed in range(20)]
    if "min" in spec and dist not in ("log_uniform", "q_log_uniform", "inv_log_uniform"):
        q = spec.get("q", 0)
        assert all(spec["min"] - q <= x <= spec["max"] + q for x in draws), draws
    if dist.startswith("q_"):
        assert all(abs(x / spec["q"] - round(x / spec["q"])) < 1e-9 for x in draws), draws
    if dist in GRID_DISTRIBUTIONS:  # a q_uniform draw may be max, which its grid stops below
        assert set(draws) <= set(grid_values("p", spec)) | ({spec["max"]} if dist == "q_uniform" else set())
    else:
        with pytest.raises(SweepConfigError, match=f"method grid needs discrete values.*{dist}"):
            grid_values("p", spec)


def test_grid_order_and_size() -> None:
    params = {
        "b": normalize_parameter("b", {"values": [1, 2]}),
        "a": normalize_parameter("a", {"distribution": "q_uniform", "min": 0, "max": 10, "q": 5}),
    }
    assert grid_size(params) == 4  # q_uniform: min, min + q, ... below max (W&B's sweeps engine)
    combos = [combination("grid", params, "seed", i) for i in range(4)]
    assert combos == [{"a": a, "b": b} for a in (0, 5) for b in (1, 2)]
    with pytest.raises(IndexError):
        combination("grid", params, "seed", 4)
    assert combination("random", params, "s", 3) == combination("random", params, "s", 3)


def test_a_bare_store_has_no_sweeps_and_tells_its_listeners() -> None:
    store = RunStore(clock=ManualClock())
    ended: list[str] = []
    resets: list[int] = []
    store.on_run_ended(lambda rec: ended.append(rec.key.run_id))
    store.on_reset(lambda: resets.append(1))
    assert not hasattr(store, "sweeps")
    store.upsert_run(RunUpsert.from_variables({"name": "r1", "project": "p", "host": "h"}))
    store.file_stream(RunKey("testent", "p", "r1"), {}, complete=True, exit_code=0)
    store.reset()
    assert ended == ["r1"] and resets == [1]


def test_the_composition_root_requeues_through_the_run_ended_listener() -> None:
    model = Model(clock=ManualClock())
    sweep = model.sweeps.create("method: grid\nparameters: {lr: {values: [1]}}", project="sp")
    agent = model.sweeps.create_agent(None, "sp", sweep.name, "h").id
    (cmd,) = model.sweeps.heartbeat(agent, {})
    key = RunKey("testent", "sp", cmd["run_id"])
    model.upsert_run(RunUpsert.from_variables({"name": key.run_id, "project": "sp", "host": "h"}))
    model.file_stream(key, {"wandb-history.jsonl": FileChunk(0, ['{"_step": 0}'])}, preempting=True)
    assert not sweep.queue
    model.file_stream(key, {}, complete=True, exit_code=1)
    assert list(sweep.queue) == [key.run_id]
    model.reset()
    assert model.sweeps.sweeps == {}
