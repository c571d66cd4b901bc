"""Unit tests of the sweep controller: configs, grid and random search, ``run_cap``, sweep states, agents
and the run queue.

Rules R58, R61, R66, R70-R72, R80-R89, A03, A07. Every backend runs on a :class:`ManualClock`; nothing
sleeps. A "process" of a sweep run is simulated the way the SDK drives the model: an init upsert
(``host``), then file_stream with ``preempting``/``complete``/``exitcode``.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from pytest_runresume.model import ManualClock, Model, RunKey, RunUpsert
from pytest_runresume.model.errors import RuleViolation
from pytest_runresume.model.search import SweepConfigError, parse_sweep_config
from pytest_runresume.model.sweep_records import (
    SWEEP_CANCELLED,
    SWEEP_FINISHED,
    SWEEP_PAUSED,
    SWEEP_PENDING,
    SWEEP_RUNNING,
    SWEEP_STOPPED,
    WIRE_STATES,
    Sweep,
    SweepStateError,
)

GRID = """
method: grid
program: train.py
parameters:
  lr:
    values: [0.1, 0.01]
  layers:
    values: [1, 2, 3]
"""


@pytest.fixture
def model() -> Model:
    return Model(clock=ManualClock())


def make(model: Model, text: str = GRID, **kw: Any) -> Sweep:
    return model.sweeps.create(text, project="sp", **kw)


def agent(model: Model, sweep: Sweep) -> str:
    return model.sweeps.create_agent(sweep.entity, sweep.project, sweep.name, "host-1").id


def beat(model: Model, agent_id: str, *alive: str) -> list[dict[str, Any]]:
    return model.sweeps.heartbeat(agent_id, {rid: True for rid in alive})


def start(model: Model, sweep: Sweep, run_id: str, resume: bool = False) -> None:
    """A process of the run initialises it (the SDK's init upsert; with resume it carries the id)."""
    rec = model.get(sweep.entity, sweep.project, run_id)
    model.upsert_run(
        RunUpsert.from_variables(
            {
                "name": run_id,
                "entity": sweep.entity,
                "project": sweep.project,
                "host": "host-1",
                "sweep": sweep.name,
                "id": rec.storage_id if (resume and rec is not None) else None,
            }
        )
    )


def end(model: Model, sweep: Sweep, run_id: str, exit_code: int | None, preempting: bool = False) -> None:
    """The process reports its exit (or, with ``exit_code=None``, only the preempting flag)."""
    model.file_stream(
        RunKey(sweep.entity, sweep.project, run_id),
        {},
        preempting=preempting,
        complete=exit_code is not None,
        exit_code=exit_code,
    )


def kinds(commands: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(c["type"], c.get("run_id")) for c in commands]


def started(model: Model, sweep: Sweep, agent_id: str) -> str:
    """The agent's next run, handed out and started by a process; its run id."""
    (cmd,) = beat(model, agent_id)
    start(model, sweep, cmd["run_id"])
    return str(cmd["run_id"])


def preempted(model: Model, sweep: Sweep, agent_id: str) -> str:
    """The agent's next run, started and preempted (handler, mark_preempting(), exit 138); its run id."""
    rid = started(model, sweep, agent_id)
    end(model, sweep, rid, 138, preempting=True)
    return rid


# ---- configs ------------------------------------------------------------------------------------------


def test_config_distributions_made_explicit() -> None:
    """values -> categorical, value -> constant, int min/max -> int_uniform, float -> uniform (what the
    SDK fills in before uploading), nested parameters."""
    config = parse_sweep_config(
        """
method: random
parameters:
  a: {values: [1, 2]}
  b: {value: 3}
  c: {min: 1, max: 4}
  d: {min: 0.5, max: 1.5}
  e: {parameters: {f: {value: x}}}
"""
    )
    dists = {k: v["distribution"] for k, v in config["parameters"].items()}
    assert dists == {"a": "categorical", "b": "constant", "c": "int_uniform", "d": "uniform", "e": "nested"}


BAYES = """
method: bayes
metric: {name: acc, goal: maximize}
parameters:
  lr: {min: 0.0, max: 1.0}
  layers: {values: [1, 2, 3]}
  depth: {min: 1, max: 8}
"""


def test_bayes_is_accepted_and_needs_a_metric_as_the_server_validates_it() -> None:
    """``method: bayes`` is a valid W&B config: the server creates the sweep; without a ``metric``
    (or with a bad one) it is refused, a rule refusal naming what is missing."""
    assert parse_sweep_config(BAYES)["method"] == "bayes"
    for bad, named in (
        ("method: bayes\nparameters: {lr: {values: [1]}}", "needs a metric"),
        ("method: bayes\nmetric: {goal: minimize}\nparameters: {lr: {values: [1]}}", "name"),
        ("method: random\nmetric: {name: x, goal: up}\nparameters: {lr: {values: [1]}}", "goal"),
    ):
        with pytest.raises(SweepConfigError, match=named) as info:
            parse_sweep_config(bad)
        assert isinstance(info.value, RuleViolation)


def _bayes_runs(model: Model, sweep: Sweep, n: int) -> list[dict[str, Any]]:
    """Run ``n`` proposals of a bayes sweep to the end, each logging acc = lr * layers."""
    a = agent(model, sweep)
    out = []
    for _ in range(n):
        (cmd,) = beat(model, a)
        params = {k: v["value"] for k, v in cmd["args"].items()}
        start(model, sweep, cmd["run_id"])
        key = RunKey(sweep.entity, sweep.project, cmd["run_id"])
        model.runs[key].summary["acc"] = params["lr"] * params["layers"]
        end(model, sweep, cmd["run_id"], 0)
        out.append(params)
    return out


def test_bayes_proposals_are_seeded_valid_and_start_from_the_best_run() -> None:
    """The stand-in (model/bayes.py): two random draws, then moves from the best finished run; the
    same seed and the same metrics give the same proposals; every value lies in its distribution."""
    b1, b2 = Model(clock=ManualClock()), Model(clock=ManualClock())
    runs1 = _bayes_runs(b1, make(b1, BAYES, seed=7), 6)
    runs2 = _bayes_runs(b2, make(b2, BAYES, seed=7), 6)
    assert runs1 == runs2
    for params in runs1:
        assert 0.0 <= params["lr"] <= 1.0 and params["layers"] in (1, 2, 3)
        assert isinstance(params["depth"], int) and 1 <= params["depth"] <= 8
    sweep = next(iter(b1.sweeps.sweeps.values()))
    assert [v for _, v in b1.sweeps.observations(sweep)] == [p["lr"] * p["layers"] for p in runs1]


@pytest.mark.rules("R86", "R87")
def test_a_new_sweep_is_pending_until_an_agent_registers() -> None:
    """W&B's server answers a new sweep ``PENDING``; it is running once an agent asks for runs. A
    pending sweep can be resumed, paused, stopped or cancelled."""
    model = Model(clock=ManualClock())
    sweep = make(model)
    assert model.sweeps.state(sweep) == SWEEP_PENDING and WIRE_STATES[SWEEP_PENDING] == "PENDING"
    agent(model, sweep)
    assert model.sweeps.state(sweep) == SWEEP_RUNNING
    other = make(model)
    assert model.sweeps.set_state(other, "CANCELED") == SWEEP_CANCELLED
    third = make(model)
    assert model.sweeps.set_state(third, "PAUSED") == SWEEP_PAUSED
    assert model.sweeps.set_state(third, "RUNNING") == SWEEP_RUNNING


def test_prior_runs_are_linked_and_must_exist() -> None:
    """``wandb.sweep(..., prior_runs=[...])``: the runs belong to the sweep; a missing one is refused
    and nothing is created."""
    model = Model(clock=ManualClock())
    model.upsert_run(RunUpsert.from_variables({"name": "old", "project": "sp", "host": "h"}))
    with pytest.raises(SweepConfigError, match="does not exist"):
        make(model, prior_runs=["old", "nope"])
    assert model.sweeps.sweeps == {} and model.run("sp/old").sweep is None
    sweep = make(model, prior_runs=["old"])
    assert sweep.prior_runs == ["old"] and model.run("sp/old").sweep == sweep.name
    with pytest.raises(SweepConfigError, match="already belongs"):
        make(model, prior_runs=["old"])


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("method: grid\nparameters: {lr: {min: 0.1, max: 1.0}}", "discrete"),
        ("method: magic\nparameters: {lr: {values: [1]}}", "method"),
        ("parameters: {lr: {values: [1]}}", "method"),
        ("method: grid\nparameters: {}", "parameters"),
        ("method: grid\nparameters: {lr: {values: []}}", "values"),
        ("method: grid\nrun_cap: 0\nparameters: {lr: {values: [1]}}", "run_cap"),
        ("method: random\nparameters: {lr: {distribution: zipf, min: 1, max: 2}}", "unknown distribution"),
        ("method: random\nparameters: {lr: {values: [1, 2], probabilities: [0.5, 0.6]}}", "probabilities"),
        ("method: random\nparameters: {lr: {min: 2, max: 1}}", "min"),
        ("method: random\ncommand: python train.py\nparameters: {lr: {values: [1]}}", "command"),
        ("[1, 2", "YAML"),
    ],
)
def test_bad_configs_are_refused_naming_the_problem(text: str, fragment: str) -> None:
    """A config the server refuses is a documented refusal (RuleViolation) that names what is wrong."""
    with pytest.raises(SweepConfigError, match=fragment) as info:
        parse_sweep_config(text)
    assert isinstance(info.value, RuleViolation)


# ---- grid and random search ------------------------------------------------------------------------------


@pytest.mark.rules("R80")
def test_grid_enumerates_every_combination_once_in_a_fixed_order(model: Model) -> None:
    """Grid: parameters in sorted name order, the last varying fastest; 2 x 3 = 6 runs, then the
    search is exhausted and the sweep finishes (R80)."""
    sweep = make(model)
    assert sweep.grid_size() == 6 == sweep.max_runs()
    combos = [sweep.combination(i) for i in range(6)]
    assert combos == [{"layers": n, "lr": lr} for n in (1, 2, 3) for lr in (0.1, 0.01)]
    with pytest.raises(IndexError):
        sweep.combination(6)
    a = agent(model, sweep)
    handed = []
    for _ in range(6):
        (cmd,) = beat(model, a)
        assert cmd["type"] == "run" and cmd["program"] == "train.py"
        handed.append({k: v["value"] for k, v in cmd["args"].items()})
        start(model, sweep, cmd["run_id"])
        end(model, sweep, cmd["run_id"], 0)
    assert handed == combos
    assert model.sweeps.state(sweep) == SWEEP_FINISHED
    assert beat(model, a) == [{"type": "exit"}]


def test_grid_over_int_and_q_uniform_and_nested(model: Model) -> None:
    """A grid enumerates int_uniform and q_uniform ranges (q_uniform stops below max, as W&B's sweeps
    engine does) and the product of nested parameters, in sorted name order."""
    sweep = make(
        model,
        """
method: grid
parameters:
  n: {distribution: int_uniform, min: 1, max: 3}
  q: {distribution: q_uniform, min: 0, max: 1, q: 0.5}
  opt: {parameters: {name: {values: [adam, sgd]}, beta: {value: 0.9}}}
""",
    )
    assert sweep.grid_size() == 3 * 2 * 2
    assert sweep.combination(0) == {"n": 1, "opt": {"beta": 0.9, "name": "adam"}, "q": 0.0}
    assert sweep.combination(11) == {"n": 3, "opt": {"beta": 0.9, "name": "sgd"}, "q": 0.5}


RANDOM = """
method: random
parameters:
  lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}
  layers: {distribution: int_uniform, min: 1, max: 4}
  dropout: {distribution: uniform, min: 0.0, max: 0.5}
  batch: {distribution: q_uniform, min: 16, max: 128, q: 16}
  opt: {values: [adam, sgd]}
  act: {values: [relu, tanh], probabilities: [1.0, 0.0]}
  mom: {distribution: normal, mu: 0.9, sigma: 0.01}
  wd: {distribution: log_uniform, min: -9, max: -4}
  beta: {distribution: beta, a: 2, b: 5}
  fixed: {value: 7}
"""


def test_random_search_is_deterministic_given_the_seed(model: Model) -> None:
    """Combination n depends only on (seed, n): two sweeps with the same seed hand out the same runs;
    another seed gives other values. Every value lies in its distribution's range."""
    one, two, other = make(model, RANDOM, seed=42), make(model, RANDOM, seed=42), make(model, RANDOM, seed=7)
    first = [one.combination(i) for i in range(20)]
    assert first == [two.combination(i) for i in range(20)]
    assert first != [other.combination(i) for i in range(20)]
    assert one.combination(5) == first[5]  # any order of asking
    for c in first:
        assert 0.0001 <= c["lr"] <= 0.1
        assert c["layers"] in (1, 2, 3, 4) and isinstance(c["layers"], int)
        assert 0.0 <= c["dropout"] <= 0.5
        assert c["batch"] % 16 == 0 and 16 <= c["batch"] <= 128
        assert c["opt"] in ("adam", "sgd") and c["act"] == "relu"
        assert math.exp(-9) <= c["wd"] <= math.exp(-4)
        assert 0.0 <= c["beta"] <= 1.0 and c["fixed"] == 7
    assert len({c["lr"] for c in first}) == 20
    assert one.max_runs() is None and not one.search_exhausted()


def test_default_seed_is_the_sweep_name(model: Model) -> None:
    """Without a seed the sweep's name seeds the search: stored on the sweep, reproducible."""
    sweep = make(model, RANDOM)
    assert sweep.seed == sweep.name


@pytest.mark.rules("R89")
def test_run_cap_limits_new_runs_and_requeues_do_not_count(model: Model) -> None:
    """R89: run_cap caps the distinct runs the sweep creates. A requeued run is the same run, so it
    is handed out again after the cap is reached (R89 warning, A07: the fake's documented choice)."""
    sweep = make(model, "method: random\nrun_cap: 2\nparameters: {lr: {min: 0.0, max: 1.0}}")
    a = agent(model, sweep)
    (c1,) = beat(model, a)
    start(model, sweep, c1["run_id"])
    end(model, sweep, c1["run_id"], 138, preempting=True)
    (c2,) = beat(model, a)
    assert kinds([c2]) == [("resume", c1["run_id"])]
    end(model, sweep, c1["run_id"], 0)
    (c3,) = beat(model, a)
    start(model, sweep, c3["run_id"])
    end(model, sweep, c3["run_id"], 0)
    assert c3["type"] == "run" and sweep.search_exhausted() and len(sweep.runs) == 2
    assert beat(model, a) == [{"type": "exit"}]
    assert model.sweeps.state(sweep) == SWEEP_FINISHED


# ---- the run queue -----------------------------------------------------------------------------------


@pytest.mark.rules("R72", "R81", "R82")
def test_preempted_run_is_requeued_and_handed_out_before_new_combinations(model: Model) -> None:
    """R81, R82, R72: a preempted sweep run goes back on the queue; the next agent request gets it as
    ``resume`` with the same run id and exactly the same args, before any new combination; then
    normal scheduling resumes."""
    sweep = make(model)
    a, b = agent(model, sweep), agent(model, sweep)
    (first,) = beat(model, a)
    start(model, sweep, first["run_id"])
    end(model, sweep, first["run_id"], 138, preempting=True)
    assert list(sweep.queue) == [first["run_id"]]
    rec = model.get(sweep.entity, sweep.project, first["run_id"])
    assert rec is not None and rec.sweep == sweep.name and model.state(rec) == "preempted"
    assert any(e.kind == "requeue" for e in rec.timeline)

    (again,) = beat(model, b)
    assert again == {**first, "type": "resume"}
    assert not sweep.queue
    start(model, sweep, first["run_id"], resume=True)
    end(model, sweep, first["run_id"], 0)
    (nxt,) = beat(model, b)
    assert nxt["type"] == "run" and nxt["run_id"] != first["run_id"]
    assert [(h.kind, h.run_id) for h in sweep.handouts] == [
        ("run", first["run_id"]),
        ("resume", first["run_id"]),
        ("run", nxt["run_id"]),
    ]


@pytest.mark.rules("R82")
def test_queue_is_first_in_first_out_and_drained_before_new_runs(model: Model) -> None:
    """R82: two preempted runs come back in the order they were preempted, both before a new one."""
    sweep = make(model)
    a, b, c = agent(model, sweep), agent(model, sweep), agent(model, sweep)
    (r1,) = beat(model, a)
    (r2,) = beat(model, b)
    for cmd in (r1, r2):
        start(model, sweep, cmd["run_id"])
    end(model, sweep, r2["run_id"], 143, preempting=True)
    end(model, sweep, r1["run_id"], 138, preempting=True)
    assert kinds(beat(model, c)) == [("resume", r2["run_id"])]
    assert kinds(beat(model, a)) == [("resume", r1["run_id"])]
    assert beat(model, b)[0]["type"] == "run"


def test_a_run_preempted_twice_is_requeued_twice_but_once_per_process(model: Model) -> None:
    """Each preempted process requeues the run once; asking again (heartbeats, state queries) does
    not queue it twice."""
    sweep = make(model)
    a = agent(model, sweep)
    rid = preempted(model, sweep, a)
    model.sweeps.state(sweep)
    model.sweeps.state(sweep)
    assert list(sweep.queue) == [rid]
    assert kinds(beat(model, a)) == [("resume", rid)]
    start(model, sweep, rid, resume=True)
    end(model, sweep, rid, 138, preempting=True)
    assert list(sweep.queue) == [rid] and sweep.runs[rid].requeued_attempts == [1, 2]
    assert kinds(beat(model, a)) == [("resume", rid)]


@pytest.mark.rules("R66", "R70a", "R70b", "R71")
@pytest.mark.parametrize(
    ("exit_code", "preempting", "state"),
    [
        (0, False, "finished"),  # R70a
        (0, True, "finished"),  # R70a: exit 0 always wins
        (1, False, "failed"),  # R70b 'none'/'handler'
        (143, False, "failed"),  # a signal without mark_preempting()
        (255, False, "failed"),
    ],
)
def test_runs_that_did_not_end_preempted_are_never_requeued(
    model: Model, exit_code: int, preempting: bool, state: str
) -> None:
    """R66, R71: only preempted runs are requeued; finished and failed ones are not."""
    sweep = make(model)
    a = agent(model, sweep)
    rid = started(model, sweep, a)
    end(model, sweep, rid, exit_code, preempting=preempting)
    rec = model.get(sweep.entity, sweep.project, rid)
    assert rec is not None and model.state(rec) == state
    assert not sweep.queue
    assert beat(model, a)[0]["type"] == "run"


@pytest.mark.rules("R61", "R70c", "R70e", "R81")
def test_preempting_then_silence_is_requeued_after_the_crash_timeout(model: Model) -> None:
    """R70c/e 'always' column, R61: preempting flag, then no exit report: preempted once the backend
    clock passes the crash timeout, and then requeued at the next agent request."""
    sweep = make(model)
    a, b = agent(model, sweep), agent(model, sweep)
    rid = started(model, sweep, a)
    end(model, sweep, rid, None, preempting=True)
    assert not sweep.queue
    model.advance_clock(model.crash_timeout)
    assert kinds(beat(model, b)) == [("resume", rid)]


@pytest.mark.rules("R60", "R61", "R70e")
def test_silence_without_preempting_crashes_and_is_not_requeued(model: Model) -> None:
    """R60, R61, R70e 'none': a run killed without a handler is crashed after the timeout, not requeued."""
    sweep = make(model)
    a, b = agent(model, sweep), agent(model, sweep)
    rid = started(model, sweep, a)
    model.advance_clock(model.crash_timeout)
    rec = model.get(sweep.entity, sweep.project, rid)
    assert rec is not None and model.state(rec) == "crashed"
    assert beat(model, b)[0]["type"] == "run" and not sweep.queue


def test_requeue_wakes_waiters(model: Model) -> None:
    """The requeue bumps the backend, so ``wait_for`` on the queue needs no sleep."""
    sweep = make(model)
    a = agent(model, sweep)
    rid = preempted(model, sweep, a)
    assert model.wait_for(lambda: list(sweep.queue), timeout=1) == [rid]


def test_a_queued_run_restarted_outside_the_sweep_is_dropped_from_the_queue(model: Model) -> None:
    """A queued run that a process resumed meanwhile (no longer preempted) is not handed out again."""
    sweep = make(model)
    a = agent(model, sweep)
    rid = preempted(model, sweep, a)
    start(model, sweep, rid, resume=True)
    nxt = beat(model, a)
    assert nxt[0]["type"] == "run" and nxt[0]["run_id"] != rid and not sweep.queue


# ---- agents -----------------------------------------------------------------------------------------


def test_an_agent_gets_one_run_at_a_time(model: Model) -> None:
    """While the agent reports a run alive (runState) it gets no new run."""
    sweep = make(model)
    a = agent(model, sweep)
    (cmd,) = beat(model, a)
    assert beat(model, a, cmd["run_id"]) == []
    assert model.sweeps.agent(a).running == {cmd["run_id"]}
    assert beat(model, a)[0]["type"] == "run"  # the first process ended (left out of runState)


@pytest.mark.rules("R80", "R81")
def test_exhausted_search_with_an_active_run_keeps_idle_agents_waiting(model: Model) -> None:
    """While a run of an exhausted sweep is still active, an idle agent gets no command (not exit), so
    a late preemption is still handed out at the next agent request (R81); the sweep is running until
    that run ends, then finished and idle agents are told to exit (R80)."""
    sweep = make(model, "method: grid\nparameters: {lr: {values: [0.1]}}")
    a, b = agent(model, sweep), agent(model, sweep)
    rid = started(model, sweep, a)
    assert beat(model, b) == []
    assert model.sweeps.state(sweep) == SWEEP_RUNNING
    end(model, sweep, rid, 138, preempting=True)
    assert kinds(beat(model, b)) == [("resume", rid)]
    start(model, sweep, rid, resume=True)
    end(model, sweep, rid, 0)
    assert beat(model, b) == [{"type": "exit"}]
    assert model.sweeps.state(sweep) == SWEEP_FINISHED


def test_a_handed_out_run_never_started_counts_as_active_until_its_agent_goes_silent(model: Model) -> None:
    """A run handed out but not yet started keeps the sweep running while its agent is heard from
    within the crash timeout (R61 clock); an agent that vanished does not block the sweep forever."""
    sweep = make(model, "method: grid\nparameters: {lr: {values: [0.1]}}")
    a = agent(model, sweep)
    beat(model, a)
    assert model.sweeps.state(sweep) == SWEEP_RUNNING
    model.advance_clock(model.crash_timeout)
    assert model.sweeps.state(sweep) == SWEEP_FINISHED


@pytest.mark.rules("R58", "R88")
def test_stop_requested_run_gets_a_stop_command(model: Model) -> None:
    """R58, R88: a sweep run whose stop was requested gets ``stop`` in each heartbeat of the agent that
    reports it alive (the agent SIGTERMs it, later SIGKILLs it)."""
    sweep = make(model)
    a = agent(model, sweep)
    rid = started(model, sweep, a)
    model.request_stop(f"{sweep.entity}/{sweep.project}/{rid}")
    stop = [{"type": "stop", "run_id": rid}]
    assert beat(model, a, rid) == stop
    assert beat(model, a, rid) == stop


def test_unknown_agent_and_unknown_sweep(model: Model) -> None:
    sweep = make(model)
    with pytest.raises(KeyError, match="nope"):
        beat(model, "nope")
    with pytest.raises(KeyError, match="swp99999"):
        model.sweeps.create_agent(sweep.entity, sweep.project, "swp99999", "h")
    with pytest.raises(KeyError, match="x/y/z"):
        model.sweeps.get("x/y/z")
    assert model.sweeps.get(sweep.path) is sweep
    assert model.sweeps.get(f"{sweep.project}/{sweep.name}") is sweep
    assert model.sweeps.by_storage_id(sweep.storage_id) is sweep


# ---- sweep states --------------------------------------------------------------------------------------


@pytest.mark.rules("R82", "R83", "R86")
def test_paused_sweep_hands_out_nothing_until_resumed(model: Model) -> None:
    """R86: paused -> no runs, not even queued ones; --resume un-pauses and the queued run comes first
    (R82). A running sweep hands out requeued runs without any --resume (A03, R83)."""
    sweep = make(model)
    a = agent(model, sweep)
    rid = preempted(model, sweep, a)
    assert model.sweeps.set_state(sweep, "PAUSED") == SWEEP_PAUSED
    assert beat(model, a) == [] and list(sweep.queue) == [rid]
    assert model.sweeps.set_state(sweep, "RUNNING") == SWEEP_RUNNING
    assert kinds(beat(model, a)) == [("resume", rid)]


@pytest.mark.rules("R80", "R86")
def test_stopped_sweep_lets_runs_finish_and_tells_idle_agents_to_exit(model: Model) -> None:
    """R86, R80: ``--stop`` (written as FINISHED): no new runs; an agent with a live run gets nothing,
    an idle one gets exit. It is answered as FINISHED on the wire."""
    sweep = make(model)
    a, b = agent(model, sweep), agent(model, sweep)
    (cmd,) = beat(model, a)
    assert model.sweeps.set_state(sweep, "FINISHED") == SWEEP_STOPPED
    assert beat(model, a, cmd["run_id"]) == []
    assert beat(model, b) == [{"type": "exit"}]
    assert WIRE_STATES[SWEEP_STOPPED] == "FINISHED"


@pytest.mark.rules("R86")
def test_cancelled_sweep_tells_every_agent_to_exit(model: Model) -> None:
    """R86: ``--cancel`` -> every agent gets exit at its next heartbeat, also one with a live run (the
    agent SIGKILLs it: no handler runs). Wire name CANCELED."""
    sweep = make(model)
    a = agent(model, sweep)
    (cmd,) = beat(model, a)
    assert model.sweeps.set_state(sweep, "CANCELED") == SWEEP_CANCELLED
    assert beat(model, a, cmd["run_id"]) == [{"type": "exit"}]
    assert model.sweeps.agent(a).exited
    assert WIRE_STATES[SWEEP_CANCELLED] == "CANCELED"


@pytest.mark.rules("R86")
@pytest.mark.parametrize(
    ("first", "then"),
    [("CANCELED", "PAUSED"), ("CANCELED", "RUNNING"), ("CANCELED", "FINISHED"), ("FINISHED", "PAUSED")],
)
def test_illegal_state_changes_are_refused(model: Model, first: str, then: str) -> None:
    """R86: a cancelled sweep cannot be paused, resumed or stopped; a stopped one cannot be paused.
    A documented refusal (RuleViolation), the state is unchanged."""
    sweep = make(model)
    model.sweeps.set_state(sweep, first)
    before = model.sweeps.state(sweep)
    with pytest.raises(SweepStateError, match=sweep.name):
        model.sweeps.set_state(sweep, then)
    assert model.sweeps.state(sweep) == before


def test_unknown_state_is_refused(model: Model) -> None:
    with pytest.raises(SweepStateError, match="BOGUS"):
        model.sweeps.set_state(make(model), "BOGUS")


def test_update_config_keeps_runs_and_queue(model: Model) -> None:
    """``wandb sweep --update``: the config is replaced, the runs and the queue stay."""
    sweep = make(model)
    a = agent(model, sweep)
    rid = preempted(model, sweep, a)
    model.sweeps.update_config(sweep, "method: grid\nparameters: {lr: {values: [5, 6, 7]}}")
    assert sweep.grid_size() == 3 and list(sweep.queue) == [rid]
    assert kinds(beat(model, a)) == [("resume", rid)]


def test_reset_forgets_sweeps_and_agents(model: Model) -> None:
    sweep = make(model)
    agent(model, sweep)
    model.reset()
    assert model.sweeps.sweeps == {} and model.sweeps.agents == {}
    assert make(model).name == sweep.name  # numbering starts over: same names in every test


def test_a_replaced_grid_hands_out_the_new_combinations_not_the_old_ones(model: Model) -> None:
    """The grid's combinations are computed once per config: ``wandb sweep --update`` must give the
    next run a combination of the new grid (the first one no run holds), not one of the old."""
    sweep = make(model, "method: grid\nparameters: {lr: {values: [1, 2, 3]}}")
    a = agent(model, sweep)
    (first,) = beat(model, a)
    assert first["args"] == {"lr": {"value": 1}}
    start(model, sweep, first["run_id"])
    end(model, sweep, first["run_id"], 0)
    model.sweeps.update_config(sweep, "method: grid\nparameters: {lr: {values: [1, 5, 6]}}")
    (second,) = beat(model, a)
    assert second["args"] == {"lr": {"value": 5}}  # 1 is held by the first run
    start(model, sweep, second["run_id"])
    end(model, sweep, second["run_id"], 0)
    assert [c["args"] for c in beat(model, a)] == [{"lr": {"value": 6}}]


def test_grid_keys_tell_a_string_from_the_same_digits_and_from_json_text() -> None:
    """The fast keys for ints and strs stay distinct from each other and from every JSON key: a
    run holding ``"1"`` does not hold ``1``, nor ``'"x"'`` hold ``"x"``."""
    from pytest_runresume.model.search import next_grid_combination, parse_sweep_config

    params = parse_sweep_config({"method": "grid", "parameters": {"v": {"values": [1, "1", "x", '"x"', True]}}})
    params = params["parameters"]
    held = [{"v": {"value": "1"}}, {"v": {"value": '"x"'}}]
    assert next_grid_combination(params, held) == (0, {"v": 1})
    held += [{"v": {"value": 1.0}}]  # 1.0 holds 1 (the engine's rule)
    assert next_grid_combination(params, held) == (2, {"v": "x"})
    held += [{"v": {"value": "x"}}]
    assert next_grid_combination(params, held) == (4, {"v": True})
