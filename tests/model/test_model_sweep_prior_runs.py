"""A grid sweep skips the combinations its prior runs (``priorRuns``) and its own runs already hold, as
W&B's sweeps engine does (docs/sweeps.md, "Differences from W&B's sweeps engine"; the engine itself is
compared in ``tests/oracle``). No engine needed here: the expected handouts are written out.

A run holds a combination when its config (as W&B stores it, ``{name: {"value": v}}``) has every
non-constant parameter of the grid with an equal value (an integral float is its int, keys of a
mapping value no grid value has are ignored); its state does not matter.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_runresume.model import ManualClock, Model, RunKey, RunUpsert
from pytest_runresume.model.search import next_grid_combination, parse_sweep_config
from pytest_runresume.model.sweep_records import SWEEP_FINISHED

GRID = {"method": "grid", "parameters": {"lr": {"values": [0.1, 0.01]}, "layers": {"values": [1, 2, 3]}}}


def prior(model: Model, name: str, config: dict[str, Any], exit_code: int | None = 0) -> str:
    """A run of project ``sp`` with that config (W&B's shape); ended with ``exit_code`` (``None``: it
    stays running)."""
    model.upsert_run(RunUpsert.from_variables({"name": name, "project": "sp", "host": "h", "config": json.dumps(config)}))
    if exit_code is not None:
        model.file_stream(RunKey(model.entity, "sp", name), {}, complete=True, exit_code=exit_code)
    return name


def handouts(model: Model, config: dict[str, Any], priors: list[str]) -> list[dict[str, Any]]:
    """The plain values of every ``run`` an agent gets (each run finishing at once), until ``exit``;
    the sweep is then ``finished``."""
    sweep = model.sweeps.create(config, project="sp", prior_runs=priors)
    agent_id = model.sweeps.create_agent(sweep.entity, sweep.project, sweep.name, "host").id
    out = []
    for _ in range(50):
        (cmd,) = model.sweeps.heartbeat(agent_id, {})
        if cmd["type"] == "exit":
            assert model.sweeps.state(sweep) == SWEEP_FINISHED
            return out
        assert cmd["type"] == "run"
        out.append({k: v["value"] for k, v in cmd["args"].items()})
        model.upsert_run(RunUpsert.from_variables({"name": cmd["run_id"], "project": "sp", "host": "host", "sweep": sweep.name}))
        model.file_stream(RunKey(sweep.entity, sweep.project, cmd["run_id"]), {}, complete=True, exit_code=0)
    raise AssertionError("more than 50 runs")


def test_prior_runs_combinations_are_skipped_whatever_their_state() -> None:
    model = Model(clock=ManualClock())
    names = [
        prior(model, "done", {"lr": {"value": 0.1, "desc": None}, "layers": {"value": 2}, "_wandb": {"value": {}}}),
        prior(model, "failed", {"lr": {"value": 0.01}, "layers": {"value": 1}}, exit_code=1),
        prior(model, "running", {"lr": {"value": 0.01}, "layers": {"value": 3.0}}, exit_code=None),  # 3.0 is 3
    ]
    got = handouts(model, GRID, names)
    # the grid's order: layers 1, 2, 3 (names sorted), lr 0.1, 0.01 varying fastest
    assert got == [{"layers": 1, "lr": 0.1}, {"layers": 2, "lr": 0.01}, {"layers": 3, "lr": 0.1}]


def test_runs_that_hold_no_combination_change_nothing() -> None:
    """A prior run missing a parameter, with a value outside the grid, a string for a number, or a
    config not in W&B's shape holds no combination: the whole grid is run, in order."""
    model = Model(clock=ManualClock())
    names = [
        prior(model, "missing", {"lr": {"value": 0.1}}),
        prior(model, "outside", {"lr": {"value": 0.5}, "layers": {"value": 1}}),
        prior(model, "string", {"lr": {"value": "0.1"}, "layers": {"value": 1}}),
        prior(model, "unwrapped", {"lr": 0.1, "layers": 1}),
    ]
    got = handouts(model, GRID, names)
    assert len(got) == 6 and got[0] == {"layers": 1, "lr": 0.1} and got[-1] == {"layers": 3, "lr": 0.01}


def test_every_combination_held_means_no_run_at_all() -> None:
    model = Model(clock=ManualClock())
    names = [prior(model, f"p{i}", {"lr": {"value": lr}, "layers": {"value": n}}) for i, (lr, n) in
             enumerate((lr, n) for lr in (0.1, 0.01) for n in (1, 2, 3))]  # fmt: skip
    assert handouts(model, GRID, names) == []


def test_constants_do_not_count_and_mapping_values_keep_only_the_grids_keys() -> None:
    """The engine compares the non-constant leaves: a nested group's constant (``beta``) may differ or
    be missing; a mapping value's keys that no grid value has (added at run time) are ignored."""
    config = {
        "method": "grid",
        "parameters": {
            "opt": {"parameters": {"name": {"values": ["adam", "sgd"]}, "beta": {"value": 0.9}}},
            "v": {"values": [{"a": 1}, {"a": 2}]},
        },
    }
    model = Model(clock=ManualClock())
    names = [
        prior(model, "p1", {"opt": {"value": {"name": "adam", "beta": 0.5}}, "v": {"value": {"a": 1, "added": True}}}),
        prior(model, "p2", {"opt": {"value": {"name": "sgd"}}, "v": {"value": {"a": 2}}}),
    ]
    got = handouts(model, config, names)
    assert got == [{"opt": {"beta": 0.9, "name": "adam"}, "v": {"a": 2}}, {"opt": {"beta": 0.9, "name": "sgd"}, "v": {"a": 1}}]


def test_run_cap_counts_only_the_sweeps_own_runs() -> None:
    model = Model(clock=ManualClock())
    names = [prior(model, "p", {"lr": {"value": 0.1}, "layers": {"value": 1}})]
    got = handouts(model, {**GRID, "run_cap": 2}, names)
    assert got == [{"layers": 1, "lr": 0.01}, {"layers": 2, "lr": 0.1}]


@pytest.mark.parametrize(
    ("configs", "expected"),
    [
        ([], (0, {"a": 1, "b": "x"})),
        ([{"a": {"value": 1}, "b": {"value": "x"}}], (1, {"a": 1, "b": "y"})),
        ([{"a": {"value": 1.0}, "b": {"value": "x"}}, {"a": {"value": 1}, "b": {"value": "y"}}], (2, {"a": 2, "b": "x"})),
        ([{"a": {"value": True}, "b": {"value": "x"}}], (0, {"a": 1, "b": "x"})),  # True is not 1
        ([{"a": {"value": a}, "b": {"value": b}} for a in (1, 2) for b in "xy"], None),
    ],
)
def test_next_grid_combination_is_the_first_one_no_run_holds(configs: list[dict[str, Any]], expected: Any) -> None:
    parameters = parse_sweep_config({"method": "grid", "parameters": {"a": {"values": [1, 2]}, "b": {"values": ["x", "y"]}}})["parameters"]
    assert next_grid_combination(parameters, configs) == expected
