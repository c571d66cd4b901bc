"""The model's limits and its validation before mutation (issue 14): a refused call changes nothing."""

from __future__ import annotations

import copy
import json
import math

import pytest

from pytest_runresume.model import (
    FileChunk,
    LimitExceeded,
    Limits,
    ManualClock,
    Model,
    OffsetClock,
    RunUpsert,
    messages,
)
from pytest_runresume.model.limits import MAX_CLOCK, finite_number

CONFIG = {"_wandb": {"value": {"t": {"1": [1]}}}}


def model(**limits: int) -> Model:
    return Model(clock=ManualClock(), limits=Limits(**limits))


def start(b: Model, run_id: str = "run-a", **config: object) -> None:
    b.upsert_run(
        RunUpsert.from_variables(
            {"name": run_id, "project": "proj", "host": "h", "config": json.dumps({**CONFIG, **config})}
        )
    )


def state(b: Model) -> object:
    with b.lock:
        return copy.deepcopy(({str(k): vars(r) for k, r in b.runs.items()}, b.problems, b.now()))


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, "1", None, True, 10**400, [1]])
def test_finite_number_refuses_what_is_not_a_finite_number(value):
    with pytest.raises(ValueError, match="^x must be"):
        finite_number(value, "x")


def test_limits_refuse_bad_values_and_unknown_names():
    with pytest.raises(ValueError, match="max_runs must be an integer >= 0"):
        Limits(max_runs=-1)
    with pytest.raises(ValueError, match=r"unknown model limit\(s\) \['nope'\]"):
        Limits().replace(nope=1)


@pytest.mark.parametrize("step", [math.inf, math.nan, "abc", -1, True, 1e300])
def test_a_fork_with_a_bad_step_creates_no_run(step):
    """Before: the fork run was created, then int(step) failed (OverflowError/ValueError)."""
    b = model()
    start(b, "src")
    before = state(b)
    config = {**CONFIG, "_wandb": {"value": {"t": {}, "branch_point": {"run_id": "src", "step": step}}}}
    with pytest.raises(ValueError, match=r"fork branch point step \(_wandb.branch_point.step\) must be"):
        b.upsert_run(RunUpsert.from_variables({"name": "fork1", "project": "proj", "host": "h", "config": config}))
    assert state(b) == before and b.get(None, "proj", "fork1") is None


@pytest.mark.parametrize("config", ["[1]", "{nope", "", json.dumps({"a": 1}) + "x"])
def test_an_upsert_with_a_bad_config_creates_no_run(config):
    b = model()
    with pytest.raises(ValueError, match="^config "):
        b.upsert_run(RunUpsert.from_variables({"name": "run-a", "project": "proj", "host": "h", "config": config}))
    assert b.runs == {}


@pytest.mark.parametrize("value", [math.inf, math.nan, "3", None])
def test_a_rewind_to_a_bad_value_changes_nothing(value):
    b = model()
    start(b)
    b.file_stream(b.key(None, "proj", "run-a"), {"wandb-history.jsonl": FileChunk(0, ['{"_step": 0}'])})
    before = state(b)
    with pytest.raises(ValueError, match="metricValue"):
        b.rewind(None, "proj", "run-a", "_step", value)  # type: ignore[arg-type]
    assert state(b) == before


@pytest.mark.parametrize("seconds, why", [(math.inf, "finite"), (math.nan, "finite"), (-1, ">= 0"), (1e308, "9999")])
@pytest.mark.parametrize("clock", [ManualClock, OffsetClock])
def test_the_clock_refuses_moves_that_are_not_finite_or_too_far(clock, seconds, why):
    b = Model(clock=clock())
    moved = (lambda: b.clock.offset) if isinstance(b.clock, OffsetClock) else b.now
    before = moved()
    with pytest.raises(ValueError, match=why):
        b.advance_clock(seconds)
    assert moved() == before
    assert b.now() < MAX_CLOCK


def test_every_file_name_has_the_gap_limit_and_gaps_add_up():
    b = model(max_line_gap=10)
    start(b)
    key = b.key(None, "proj", "run-a")
    b.file_stream(key, {"any.txt": FileChunk(8, ["a"])})
    before = state(b)
    with pytest.raises(LimitExceeded, match=r"would leave 3 more lines unsent.*already has 8.*\(max_line_gap\)") as err:
        b.file_stream(key, {"any.txt": FileChunk(12, ["b"])})
    assert err.value.kind == "gap" and err.value.limit == "max_line_gap"
    assert state(b) == before


def test_storage_limits_refuse_a_request_whole():
    b = model(max_run_bytes=1000)
    start(b)
    key = b.key(None, "proj", "run-a")
    before = state(b)
    with pytest.raises(LimitExceeded, match=r"\(max_run_bytes\)"):
        b.file_stream(key, {"output.log": FileChunk(0, ["x"] * 10), "big.txt": FileChunk(0, ["y" * 1000])})
    assert state(b) == before


def test_stored_bytes_follow_writes_rewrites_rewinds_and_uploads():
    b = model()
    start(b)
    key = b.key(None, "proj", "run-a")
    rec = b.run("testent/proj/run-a")
    base = rec.stored_bytes
    b.file_stream(key, {"output.log": FileChunk(0, ["abc"])})
    b.file_stream(key, {"output.log": FileChunk(0, ["abcdef"])})  # console rewrite in place
    lines = rec.sizes["lines"]
    assert lines == 16 + 6
    b.upload(key, "f.bin", b"\0" * 100)
    b.upload(key, "f.bin", b"\0" * 10)
    assert rec.sizes["uploads"] == 10 + len("f.bin") + 16
    assert rec.stored_bytes > base and b.stored_bytes == rec.stored_bytes


def test_runs_and_problems_are_bounded():
    b = model(max_runs=1, max_problems=2)
    start(b)
    with pytest.raises(LimitExceeded, match=r"\(max_runs\)"):
        start(b, "run-b")
    assert list(b.runs) == [b.key(None, "proj", "run-a")]
    for i in range(5):
        b.record_problem(f"p{i}")
    assert b.problems == ["p0", "p1"] and b.problems_dropped == 3
    b.reset()
    assert b.problems == [] and b.problems_dropped == 0
    assert messages.TOO_MANY_RUNS


SWEEP = "method: grid\nparameters: {lr: {values: [1, 2, 3]}}"


def sweep_state(b: Model) -> object:
    with b.lock:
        sweeps = {k: vars(s) for k, s in b.sweeps.sweeps.items()}
        agents = {k: vars(a) for k, a in b.sweeps.agents.items()}
        return copy.deepcopy((sweeps, agents)), state(b)


def test_sweeps_are_bounded_and_a_refused_sweep_links_no_prior_run():
    b = model(max_sweeps=1)
    start(b, "prior")
    b.sweeps.create(SWEEP, project="proj")
    before = sweep_state(b)
    with pytest.raises(LimitExceeded, match=r"holds at most 1 sweeps \(max_sweeps\)") as exc:
        b.sweeps.create(SWEEP, project="proj", prior_runs=["prior"])
    assert exc.value.limit == "max_sweeps" and str(exc.value) == messages.TOO_MANY_SWEEPS.format(
        path="testent/proj", limit=1
    )
    assert sweep_state(b) == before and b.run("proj/prior").sweep is None
    b.reset()
    b.sweeps.create(SWEEP, project="proj")  # a reset frees the room


def test_agents_are_bounded_for_the_whole_server():
    b = model(max_agents=2)
    one, two = b.sweeps.create(SWEEP, project="proj"), b.sweeps.create(SWEEP, project="proj")
    b.sweeps.create_agent(None, "proj", one.name, "h1")
    b.sweeps.create_agent(None, "proj", two.name, "h2")
    two_before = copy.deepcopy(vars(two))
    three = b.sweeps.create(SWEEP, project="proj")
    before = sweep_state(b)
    with pytest.raises(LimitExceeded, match=r"\(max_agents\)") as exc:
        b.sweeps.create_agent(None, "proj", three.name, "h3")
    assert exc.value.limit == "max_agents"
    assert str(exc.value) == messages.TOO_MANY_AGENTS.format(path=three.path, limit=2)
    assert sweep_state(b) == before and three.user_state == "pending" and vars(two) == two_before


def test_a_sweep_run_past_max_runs_leaves_the_sweep_without_a_phantom_run():
    b = model(max_runs=1)
    start(b)
    sweep = b.sweeps.create(SWEEP, project="proj")
    agent = b.sweeps.create_agent(None, "proj", sweep.name, "h").id
    with pytest.raises(LimitExceeded, match=r"\(max_runs\)"):
        b.sweeps.heartbeat(agent, {})
    assert sweep.runs == {} and sweep.handouts == [] and len(b.runs) == 1
