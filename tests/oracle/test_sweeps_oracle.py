"""The sweep search against W&B's own open-source sweeps engine (the ``sweeps`` package): a
differential oracle for grid order, random distributions and config validation.

Our search (``pytest_runresume/model/search.py``, handed out by the controller as
``Sweep.combination(n)``) is compared with the engine driven the way W&B's controller drives it:
``sweeps.next_run(config, runs)`` with the runs so far, until it proposes nothing.

- Grid: for each config the proposed combinations, their order, their count and the type of each
  value (int or float) equal the engine's.
- Random: for every distribution both support, N draws on each side (fixed seeds, so the verdict is
  the same on every run) pass a two-sample test (Kolmogorov-Smirnov, or a chi-square for discrete
  draws), lie in the engine's support (its ``ppf(0)``..``ppf(1)``), are quantized like the engine's
  and have its value types; and N_FIT of ours fit the engine's own ``cdf`` (a one-sample test).
- Validation: a parameter the engine's search refuses is refused by ours with a
  :class:`~pytest_runresume.model.search.SweepConfigError`, and a parameter it runs is accepted;
  and everything ours refuses at the top level of a config (``run_cap``, ``command``...) is a
  violation of the engine's schema too.

- Controller: an agent of ours working through a grid (a run preempted and requeued on the way) is
  handed, run by run, what the engine proposes for the sweep's runs so far.

- Prior runs: a grid whose prior runs (``priorRuns``) hold some of its combinations hands out what
  the engine proposes for those runs and the runs so far (the held combinations skipped).

Every difference is either fixed in the search or listed in :data:`DELIBERATE`, each with a test
that pins it and checks that ``docs/sweeps.md`` "Differences from W&B's sweeps engine" says so.

The engine pins ``numpy<2``, so it is not a dependency of the project: ``nox -s sweeps_oracle``
(``docs/development.md``) makes a venv with the project, ``sweeps`` and scipy and runs this module
with ``RUNRESUME_SWEEPS_ORACLE=required``, under which a missing engine is an error; elsewhere (the
main suite) the module is skipped with that reason.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import warnings
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_runresume.model import ManualClock, Model, RunKey, RunUpsert
from pytest_runresume.model.search import SweepConfigError, config_warnings, parse_sweep_config

ORACLE_ENV = "RUNRESUME_SWEEPS_ORACLE"
SKIP_REASON = "needs W&B's sweeps engine (numpy<2): nox -s sweeps_oracle runs this module"

with warnings.catch_warnings():  # the engine's pydantic model warns about a renamed config key at import
    warnings.simplefilter("ignore")
    if os.environ.get(ORACLE_ENV) == "required":  # the nox session: a missing engine is an error, never a skip
        try:
            import sweeps
        except ImportError as exc:
            raise RuntimeError(f"{ORACLE_ENV}=required but W&B's sweeps engine cannot be imported: {exc}") from exc
    else:
        sweeps = pytest.importorskip("sweeps", reason=SKIP_REASON)
    import numpy as np
    from hypothesis import HealthCheck, assume, given, settings
    from hypothesis import strategies as st
    from scipy import stats
    from sweeps.params import HyperParameter

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sweeps.md"
#: Draws per distribution and side, and the p-value under which two samples differ.
N = 2000
#: Our draws tested against the engine's own distribution function (ours are cheap, the engine's not).
N_FIT = 30000
ALPHA = 1e-3
#: A grid longer than this is a runaway loop, not a grid of these tests.
MAX_GRID = 500


# ---- driving both sides ---------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """``value`` with numpy scalars turned into Python ones, recursively."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def typed(value: Any) -> Any:
    """``value`` with each number tagged by its kind, so ``1 != 1.0`` and ``True != 1`` compare."""
    value = plain(value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", value + 0.0)  # -0.0 is 0.0 (the engine rounds small negatives to -0.0: docs/sweeps.md)
    if isinstance(value, Mapping):
        return ("dict", tuple(sorted((k, typed(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("list", tuple(typed(v) for v in value))
    return (type(value).__name__, repr(value))


def engine_grid(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """Every run the engine proposes for a grid, in order: ``next_run`` with the runs so far (each
    proposal becomes a running run of the sweep, as W&B's controller creates it), until ``None``."""
    config = {"method": "grid", "parameters": parameters}
    runs: list[Any] = []
    while len(runs) <= MAX_GRID:
        proposal = sweeps.next_run(copy.deepcopy(config), runs)
        if proposal is None:
            return [{k: plain(v["value"]) for k, v in run.config.items()} for run in runs]
        runs.append(sweeps.SweepRun(name=f"run-{len(runs)}", config=proposal.config, state=sweeps.RunState.running))
    raise AssertionError(f"the engine proposed more than {MAX_GRID} runs for {parameters}")


def engine_grid_at_once(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """The engine's whole grid from one call (``next_runs(config, [], n)``: the same order as
    :func:`engine_grid`, without its quadratic cost)."""
    proposals = sweeps.next_runs({"method": "grid", "parameters": copy.deepcopy(parameters)}, [], n=MAX_GRID + 1)
    assert proposals[-1] is None, f"the engine proposed more than {MAX_GRID} runs for {parameters}"
    return [{k: plain(v["value"]) for k, v in run.config.items()} for run in proposals[:-1]]


def our_sweep(method: str, parameters: dict[str, Any], seed: str = "oracle") -> Any:
    """A sweep of a fresh model (what the controller hands out is ``sweep.combination(n)``)."""
    return Model(clock=ManualClock()).sweeps.create({"method": method, "parameters": parameters}, project="p", seed=seed)


def our_grid(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination our controller hands out for a grid, in order."""
    sweep = our_sweep("grid", parameters)
    size = sweep.grid_size()
    assert size is not None and size <= MAX_GRID
    return [sweep.combination(i) for i in range(size)]


def engine_draws(spec: dict[str, Any], n: int = N, seed: int = 20261202) -> list[Any]:
    """``n`` values of one parameter drawn by the engine's random search (it draws with the stdlib's
    ``random``, seeded here)."""
    random.seed(seed)
    runs = sweeps.next_runs({"method": "random", "parameters": {"p": copy.deepcopy(spec)}}, [], n=n)
    return [plain(run.config["p"]["value"]) for run in runs]


def our_draws(spec: dict[str, Any], n: int = N) -> list[Any]:
    """``n`` values of one parameter drawn by our random search (combinations 0..n-1 of one seed)."""
    sweep = our_sweep("random", {"p": copy.deepcopy(spec)})
    return [sweep.combination(i)["p"] for i in range(n)]


#: What the engine's schema says of the three distributions of W&B's first sweeps (min and max are
#: exponents): a deprecation, not a fault; W&B documents them and the engine's search runs them.
DEPRECATION = "where min/max specify base-e exponents"


def engine_refusal(parameters: dict[str, Any], method: str = "random") -> str | None:
    """Why the engine refuses a config, or ``None``: its search cannot run it (what the controller
    would meet), or its validation (``schema_violations_from_proposed_config``) finds a fault in it
    (the deprecation of :data:`DEPRECATION` aside)."""
    config = {"method": method, "parameters": parameters}
    try:
        sweeps.next_run(copy.deepcopy(config), [])
    except Exception as exc:  # the engine raises ValueError, jsonschema's ValidationError, AssertionError...
        return f"search: {type(exc).__name__}: {exc}".splitlines()[0]
    faults = [v for v in sweeps.schema_violations_from_proposed_config(copy.deepcopy(config)) if DEPRECATION not in v]
    return f"validation: {faults}" if faults else None


def our_refusal(config: dict[str, Any]) -> str | None:
    """Why our search refuses a config (always a named :class:`SweepConfigError`), or ``None``."""
    try:
        parse_sweep_config(copy.deepcopy(config))
    except SweepConfigError as exc:
        return str(exc)
    return None


def documented(section: str) -> None:
    """A deliberate difference is said in docs/sweeps.md under "Differences from W&B's sweeps engine"."""
    text = DOCS.read_text()
    assert "## Differences from W&B's sweeps engine" in text
    assert section in text.split("## Differences from W&B's sweeps engine", 1)[1], section


#: Each deliberate difference: what docs/sweeps.md calls it (a phrase of its bullet).
DELIBERATE = {
    "default-q": "a `q` left out is the integer 1",
    "beta-zero": "`a` and `b` of a beta must be > 0",
    "categorical-probabilities": "`distribution: categorical` with `probabilities`",
    "deprecated": "`log_uniform`, `q_log_uniform` and `inv_log_uniform`",
    "negative-zero": "`-0.0`",
    "unwrapped-config": "A run config not in W&B's shape",
}


# ---- grid ---------------------------------------------------------------------------------------
GRIDS: dict[str, dict[str, Any]] = {
    "one-categorical": {"lr": {"values": [0.1, 0.01, 0.001]}},
    "names-sorted-last-fastest": {
        "lr": {"values": [0.1, 0.01]},
        "Batch": {"values": [16, 32]},
        "act": {"values": ["relu", "tanh", "gelu"]},
        "fixed": {"value": 7},
    },
    "int-uniform": {"n": {"min": 1, "max": 4}, "opt": {"distribution": "categorical", "values": ["adam", "sgd"]}},
    "int-uniform-explicit": {"n": {"distribution": "int_uniform", "min": -2, "max": 2}},
    "q-uniform-int": {"a": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 5}, "b": {"values": [1, 2]}},
    "q-uniform-int-uneven": {"a": {"distribution": "q_uniform", "min": 1, "max": 12, "q": 4}},
    "q-uniform-float": {"a": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25}},
    "q-uniform-float-offset": {"a": {"distribution": "q_uniform", "min": 0.1, "max": 1.0, "q": 0.3}},
    "q-uniform-int-bounds-float-q": {"a": {"distribution": "q_uniform", "min": 0, "max": 2, "q": 0.5}},
    "nested": {
        "opt": {"parameters": {"name": {"values": ["adam", "sgd"]}, "beta": {"value": 0.9}, "lr": {"values": [1, 2]}}},
        "epochs": {"values": [1, 2]},
    },
    "nested-deep": {"m": {"parameters": {"z": {"values": [1, 2]}, "a": {"parameters": {"y": {"values": ["u", "v"]}}}}}},
    "duplicate-values": {"v": {"values": [1, 1.0, 2, 2]}, "w": {"values": ["a", "a", "b"]}},
    "mixed-types": {"v": {"values": [1, "1", True, None, 1.5, [1, 2], {"k": 1}]}},
    "equal-dicts": {"v": {"values": [{"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1.0, "b": 2}]}},
}
#: Grids whose values equal the engine's as numbers but not in type (see DELIBERATE).
GRIDS_UNTYPED = {"q-uniform-default-q": ("default-q", {"a": {"distribution": "q_uniform", "min": 0, "max": 3}})}


@pytest.mark.parametrize("name", list(GRIDS))
def test_grid_proposes_the_engines_runs_in_the_engines_order(name: str) -> None:
    """The same combinations, in the same order, as many, each value of the same type."""
    parameters = GRIDS[name]
    expected, got = engine_grid(parameters), our_grid(parameters)
    assert [typed(c) for c in got] == [typed(c) for c in expected], (got, expected)


@pytest.mark.parametrize("name", list(GRIDS_UNTYPED))
def test_grid_differences_in_type_only_are_documented(name: str) -> None:
    why, parameters = GRIDS_UNTYPED[name]
    expected, got = engine_grid(parameters), our_grid(parameters)
    assert got == expected and [typed(c) for c in got] != [typed(c) for c in expected]
    documented(DELIBERATE[why])


#: Generated grids: derandomized (the same examples on every run, no example database written), no
#: deadline (the engine is slow).
GENERATED = settings(
    max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
NUMBERS = st.one_of(st.integers(-50, 50), st.floats(-50, 50, allow_nan=False, allow_infinity=False))
SCALARS = st.one_of(
    st.integers(-3, 3), st.floats(-3, 3, allow_nan=False).map(lambda x: round(x, 1)), st.booleans(), st.none(), st.text("ab", max_size=2)
)
VALUES = st.lists(
    st.one_of(SCALARS, st.lists(SCALARS, max_size=2), st.dictionaries(st.text("xy", min_size=1, max_size=1), SCALARS, max_size=2)),
    min_size=1,
    max_size=5,
)


@GENERATED
@given(lo=NUMBERS, hi=NUMBERS, q=st.one_of(st.integers(1, 20), st.floats(0.01, 20)))
def test_generated_q_uniform_grids_equal_the_engines(lo: float, hi: float, q: float) -> None:
    """Any bounds and step, int or float: the same grid values, bit for bit, of the same types."""
    assume(lo < hi and (hi - lo) / q <= 200)
    parameters = {"a": {"distribution": "q_uniform", "min": lo, "max": hi, "q": q}}
    assert [typed(c) for c in our_grid(parameters)] == [typed(c) for c in engine_grid_at_once(parameters)]


@GENERATED
@given(st.dictionaries(st.sampled_from(["a", "b", "B", "c_1"]), VALUES.map(lambda v: {"values": v}), min_size=1, max_size=3))
def test_generated_categorical_grids_equal_the_engines(parameters: dict[str, Any]) -> None:
    """Any values (scalars, lists, mappings, repeated or equal ones): the same runs in the same order."""
    assert [typed(c) for c in our_grid(parameters)] == [typed(c) for c in engine_grid_at_once(parameters)]


def test_a_grid_resumed_from_its_runs_goes_on_where_it_stopped() -> None:
    """W&B's controller asks the engine again with every run so far: after k runs the engine's next
    proposal is our combination k (what our controller hands out next)."""
    parameters = GRIDS["names-sorted-last-fastest"]
    ours = our_grid(parameters)
    config = {"method": "grid", "parameters": parameters}
    for k in (0, 5, len(ours) - 1):
        runs = [sweeps.SweepRun(name=f"r{i}", config={n: {"value": v} for n, v in c.items()}) for i, c in enumerate(ours[:k])]
        proposal = sweeps.next_run(copy.deepcopy(config), runs)
        assert proposal is not None and {n: plain(v["value"]) for n, v in proposal.config.items()} == ours[k]
    done = [sweeps.SweepRun(name=f"r{i}", config={n: {"value": v} for n, v in c.items()}) for i, c in enumerate(ours)]
    assert sweeps.next_run(copy.deepcopy(config), done) is None


def test_our_controller_hands_out_what_the_engine_proposes_next() -> None:
    """An agent of our controller works through a grid, one run preempted on the way: each new run it
    is handed (a ``run`` command, its ``args`` shaped like a run config) is the engine's proposal
    for the runs of the sweep so far; the preempted run comes back as ``resume`` (the engine, which
    sees it among the runs, proposes nothing for it); when ours says ``exit`` the engine proposes
    nothing."""
    config = {"method": "grid", "program": "train.py", "parameters": GRIDS["names-sorted-last-fastest"]}
    model = Model(clock=ManualClock())
    sweep = model.sweeps.create(copy.deepcopy(config), project="p")
    agent_id = model.sweeps.create_agent(sweep.entity, sweep.project, sweep.name, "host").id
    runs: list[Any] = []  # every run of the sweep, as the engine is given them
    handed: list[tuple[str, str]] = []
    for _ in range(3 * MAX_GRID):
        (cmd,) = model.sweeps.heartbeat(agent_id, {})
        if cmd["type"] == "exit":
            break
        run_id = cmd["run_id"]
        handed.append((cmd["type"], run_id))
        if cmd["type"] == "run":
            proposal = sweeps.next_run(copy.deepcopy(config), runs)
            assert proposal is not None, cmd
            assert typed(cmd["args"]) == typed(proposal.config), (cmd["args"], proposal.config)
            runs.append(sweeps.SweepRun(name=run_id, config=cmd["args"], state=sweeps.RunState.running))
        stored = model.get(sweep.entity, sweep.project, run_id)
        model.upsert_run(
            RunUpsert.from_variables(
                {
                    "name": run_id,
                    "project": sweep.project,
                    "host": "host",
                    "sweep": sweep.name,
                    "id": stored.storage_id if stored is not None and cmd["type"] == "resume" else None,
                }
            )
        )
        preempt = len(runs) == 3 and cmd["type"] == "run"
        model.file_stream(RunKey(sweep.entity, sweep.project, run_id), {}, preempting=preempt, complete=True, exit_code=138 if preempt else 0)
    assert sweeps.next_run(copy.deepcopy(config), runs) is None
    assert len(runs) == len(our_grid(config["parameters"])) == 12
    assert handed.count(("resume", runs[2].name)) == 1 and len(handed) == 13


def our_handouts(config: dict[str, Any], priors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``args`` of every ``run`` command an agent of our controller gets for a sweep created with
    runs of these configs as ``priorRuns`` (as W&B stores configs, ``{name: {"value": v}}``), each run
    finished in turn, until it is told to exit. Prior runs get varied states (finished, failed,
    running): the engine reads only their configs."""
    model = Model(clock=ManualClock())
    names = []
    for i, prior in enumerate(priors):
        name = f"old{i}"
        model.upsert_run(RunUpsert.from_variables({"name": name, "project": "p", "host": "h", "config": json.dumps(prior)}))
        if i % 3 != 2:  # every third one stays running
            model.file_stream(RunKey(model.entity, "p", name), {}, complete=True, exit_code=i % 3)
        names.append(name)
    sweep = model.sweeps.create(copy.deepcopy(config), project="p", prior_runs=names)
    agent_id = model.sweeps.create_agent(sweep.entity, sweep.project, sweep.name, "host").id
    handed: list[dict[str, Any]] = []
    for _ in range(MAX_GRID + 1):
        (cmd,) = model.sweeps.heartbeat(agent_id, {})
        if cmd["type"] == "exit":
            assert model.sweeps.state(sweep) == "finished"
            return handed
        assert cmd["type"] == "run", cmd
        handed.append(cmd["args"])
        run_id = cmd["run_id"]
        model.upsert_run(RunUpsert.from_variables({"name": run_id, "project": "p", "host": "host", "sweep": sweep.name}))
        model.file_stream(RunKey(sweep.entity, sweep.project, run_id), {}, complete=True, exit_code=0)
    raise AssertionError(f"our controller handed out more than {MAX_GRID} runs for {config}")


def engine_handouts(config: dict[str, Any], priors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the engine proposes, run by run, for a sweep whose runs are the prior runs and then
    its proposals so far (as W&B's controller feeds it the sweep's runs), until it proposes nothing."""
    runs = [sweeps.SweepRun(name=f"old{i}", config=copy.deepcopy(c), state=sweeps.RunState.finished) for i, c in enumerate(priors)]
    proposed: list[dict[str, Any]] = []
    while len(proposed) <= MAX_GRID:
        proposal = sweeps.next_run(copy.deepcopy(config), runs)
        if proposal is None:
            return proposed
        proposed.append(plain(proposal.config))
        runs.append(sweeps.SweepRun(name=f"r{len(runs)}", config=proposal.config, state=sweeps.RunState.running))
    raise AssertionError(f"the engine proposed more than {MAX_GRID} runs for {config}")


def wrapped(**values: Any) -> dict[str, Any]:
    """A run config as W&B stores it: each value under ``value``, with the SDK's ``desc``."""
    return {k: {"value": v, "desc": None} for k, v in values.items()}


#: Grids with prior runs: (parameters, the prior runs' configs).
PRIOR_RUNS: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "one-held": ({"lr": {"values": [0.1, 0.01]}}, [wrapped(lr=0.1)]),
    "all-held": ({"lr": {"values": [0.1, 0.01]}}, [wrapped(lr=0.01), wrapped(lr=0.1)]),
    "held-twice": ({"lr": {"values": [1, 2, 3]}}, [wrapped(lr=2), wrapped(lr=2)]),
    "integral-float-is-its-int": ({"lr": {"values": [1, 2, 3]}}, [wrapped(lr=1.0), wrapped(lr=3)]),
    "string-is-not-a-number": ({"lr": {"values": [1, 2]}}, [wrapped(lr="1")]),
    "bool-is-not-an-int": ({"lr": {"values": [1, True]}}, [wrapped(lr=True)]),
    "list-float-is-not-int": ({"v": {"values": [[1, 2], [1.5]]}}, [wrapped(v=[1.0, 2])]),
    "outside-the-grid": ({"lr": {"values": [1, 2]}}, [wrapped(lr=5)]),
    "a-parameter-missing": ({"lr": {"values": [1, 2]}, "bs": {"values": [8, 16]}}, [wrapped(lr=1), {"_wandb": {"value": {}}}]),
    "extra-keys-ignored": (
        {"lr": {"values": [1, 2]}, "bs": {"values": [8, 16]}},
        [{**wrapped(lr=1, bs=16, other=3), "_wandb": {"value": {"t": {}}}}, wrapped(lr=2, bs=8)],
    ),
    "multi-parameter": (GRIDS["names-sorted-last-fastest"], [wrapped(Batch=16, act="tanh", fixed=7, lr=0.01), wrapped(Batch=32, act="relu", fixed=7, lr=0.1)]),
    "constant-differs": ({"lr": {"values": [1, 2]}, "fixed": {"value": 7}}, [wrapped(lr=1, fixed=8), wrapped(lr=2, fixed=7)]),
    "nested-group": (
        GRIDS["nested"],
        [wrapped(epochs=1, opt={"beta": 0.9, "lr": 1, "name": "adam", "extra": 0}), wrapped(epochs=2, opt={"lr": 2, "name": "sgd", "beta": 0.9})],
    ),
    "nested-constant-missing": (GRIDS["nested"], [wrapped(epochs=1, opt={"lr": 1, "name": "adam"})]),
    "nested-leaf-missing": (GRIDS["nested"], [wrapped(epochs=1, opt={"beta": 0.9, "name": "adam"})]),
    "constants-only": ({"a": {"value": 1}, "b": {"value": "x"}}, [wrapped(c=0)]),
    "constants-only-no-prior": ({"a": {"value": 1}, "b": {"value": "x"}}, []),
    "dict-values-runtime-keys": (
        {"v": {"values": [{"a": 1}, {"a": 2, "b": 3}]}},
        [wrapped(v={"a": 1, "added": True}), wrapped(v={"a": 2, "b": 3, "c": 0})],
    ),
    "int-uniform-and-q-uniform": (
        {"n": {"min": 1, "max": 3}, "q": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.5}},
        [wrapped(n=2, q=0.5), wrapped(n=3, q=0)],
    ),
}


@pytest.mark.parametrize("name", list(PRIOR_RUNS))
def test_a_grid_with_prior_runs_hands_out_what_the_engine_proposes(name: str) -> None:
    """Prior runs (``priorRuns``) hold grid combinations: our agent is handed, run by run, exactly the
    engine's proposals for the prior runs and the runs so far (the held combinations skipped), and is
    told to exit when the engine proposes nothing."""
    parameters, priors = PRIOR_RUNS[name]
    config = {"method": "grid", "parameters": parameters}
    expected, got = engine_handouts(config, priors), our_handouts(config, priors)
    assert [typed(c) for c in got] == [typed(c) for c in expected], (got, expected)


def test_a_run_config_not_in_wandbs_shape_is_documented() -> None:
    """A prior run whose config holds a bare value (``{"lr": 1}``, not ``{"lr": {"value": 1}}``): the
    engine raises ``TypeError``; ours counts it as holding no combination."""
    config = {"method": "grid", "parameters": {"lr": {"values": [1, 2]}}}
    with pytest.raises(TypeError):
        sweeps.next_run(copy.deepcopy(config), [sweeps.SweepRun(name="old", config={"lr": 1})])
    assert our_handouts(config, [{"lr": 1}]) == [{"lr": {"value": 1}}, {"lr": {"value": 2}}]
    documented(DELIBERATE["unwrapped-config"])


@GENERATED
@given(st.lists(st.integers(0, 11), max_size=14), st.lists(st.booleans(), min_size=14, max_size=14))
def test_generated_prior_runs_are_skipped_like_the_engine_skips_them(picks: list[int], as_float: list[bool]) -> None:
    """Any prior runs holding any combinations of a 12-run grid (repeated, in any order, an int as an
    integral float): the same handouts as the engine's proposals."""
    parameters = {"a": {"values": [1, 2, 3]}, "b": {"values": [10, 20]}, "c": {"values": ["x", "y"]}}
    grid = our_grid(parameters)
    priors = [wrapped(**{k: (float(v) if f and isinstance(v, int) else v) for k, v in grid[i].items()}) for i, f in zip(picks, as_float, strict=False)]
    config = {"method": "grid", "parameters": parameters}
    assert [typed(c) for c in our_handouts(config, priors)] == [typed(c) for c in engine_handouts(config, priors)]


# ---- random -------------------------------------------------------------------------------------
#: One parameter per distribution both support (the engine's spelling).
RANDOM: dict[str, dict[str, Any]] = {
    "constant": {"value": 7},
    "categorical": {"values": ["a", "b", "c", "d"]},
    "categorical_w_probabilities": {"values": ["a", "b", "c"], "probabilities": [0.2, 0.5, 0.3]},
    "categorical_w_probabilities-explicit": {
        "distribution": "categorical_w_probabilities",
        "values": [1, 2, 3, 4],
        "probabilities": [0.1, 0.0, 0.6, 0.3],
    },
    "int_uniform": {"min": 1, "max": 6},
    "int_uniform-explicit": {"distribution": "int_uniform", "min": -3, "max": 3},
    "uniform": {"min": -1.5, "max": 2.5},
    "uniform-explicit": {"distribution": "uniform", "min": 0, "max": 10},
    "q_uniform-float": {"distribution": "q_uniform", "min": 0.0, "max": 10.0, "q": 2.5},
    "q_uniform-int": {"distribution": "q_uniform", "min": 0, "max": 100, "q": 10},
    "q_uniform-uneven": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.3},
    "q_uniform-float-bounds-int-q": {"distribution": "q_uniform", "min": 0.5, "max": 10.5, "q": 2},
    "categorical-mixed": {"values": [1, 1.0, "1", True, None, [1], {"k": "v"}]},
    "log_uniform": {"distribution": "log_uniform", "min": -3.0, "max": 1.0},
    "log_uniform_values": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
    "q_log_uniform": {"distribution": "q_log_uniform", "min": 0.0, "max": 4.0, "q": 2},
    "q_log_uniform_values": {"distribution": "q_log_uniform_values", "min": 1, "max": 1000, "q": 10},
    "q_log_uniform_values-float-q": {"distribution": "q_log_uniform_values", "min": 0.001, "max": 1.0, "q": 0.05},
    "inv_log_uniform": {"distribution": "inv_log_uniform", "min": 0.0, "max": 3.0},
    "inv_log_uniform_values": {"distribution": "inv_log_uniform_values", "min": 0.01, "max": 10.0},
    "normal": {"distribution": "normal", "mu": 1.0, "sigma": 2.0},
    "normal-defaults": {"distribution": "normal"},
    "q_normal": {"distribution": "q_normal", "mu": 10.0, "sigma": 3.0, "q": 2},
    "q_normal-float-q": {"distribution": "q_normal", "mu": 0.0, "sigma": 1.0, "q": 0.5},
    "log_normal": {"distribution": "log_normal", "mu": 0.5, "sigma": 0.5},
    "q_log_normal": {"distribution": "q_log_normal", "mu": 2.0, "sigma": 0.5, "q": 0.5},
    "beta": {"distribution": "beta", "a": 2.0, "b": 5.0},
    "beta-defaults": {"distribution": "beta"},
    "q_beta": {"distribution": "q_beta", "a": 2.0, "b": 2.0, "q": 0.1},
}
#: Distributions whose draws equal the engine's as numbers but not in type (see DELIBERATE).
RANDOM_UNTYPED = {
    "q_uniform-default-q": ("default-q", {"distribution": "q_uniform", "min": 0, "max": 5}),
    "q_normal-default-q": ("default-q", {"distribution": "q_normal", "mu": 0.0, "sigma": 3.0}),
}


def key(value: Any, types: bool = True) -> Any:
    """A hashable key of a drawn value (for counting discrete draws); ``types=False``: ``1 == 1.0``."""
    if not types and isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value) + 0.0)
    return repr(typed(value))


def same_distribution(ours: list[Any], engine: list[Any], types: bool = True) -> tuple[str, float]:
    """The two-sample test of two lists of draws: ``(test name, p-value)``. Draws with few distinct
    values (categorical, int_uniform, coarse q_*) get a chi-square test of homogeneity, the rest a
    two-sample Kolmogorov-Smirnov test."""
    counts = Counter(key(v, types) for v in ours), Counter(key(v, types) for v in engine)
    support = sorted(set(counts[0]) | set(counts[1]))
    if len(support) <= 40:
        if len(support) == 1:
            return "one value", 1.0
        common = [k for k in support if counts[0][k] + counts[1][k] >= 10]
        rare = [k for k in support if k not in common]
        table = [[c[k] for k in common] + ([sum(c[k] for k in rare)] if rare else []) for c in counts]
        if len(table[0]) < 2:
            return "one value", 1.0
        return "chi-square", float(stats.chi2_contingency(table).pvalue)
    return "Kolmogorov-Smirnov", float(stats.ks_2samp([float(x) for x in ours], [float(x) for x in engine]).pvalue)


def engine_support(spec: dict[str, Any]) -> tuple[float, float] | None:
    """The engine's lowest and highest value of a numeric distribution (its ``ppf(0)`` and
    ``ppf(1)``), or ``None`` for a categorical or constant one."""
    # With a float q: numpy casts an infinite bound of an int q to -2**63.
    param = HyperParameter("p", {**copy.deepcopy(spec), **({"q": float(spec["q"])} if "q" in spec else {})})
    if param.type in (HyperParameter.CATEGORICAL, HyperParameter.CATEGORICAL_PROB, HyperParameter.CONSTANT):
        return None
    return float(param.ppf(0.0)), float(param.ppf(1.0))


CONTINUOUS = {
    HyperParameter.UNIFORM,
    HyperParameter.LOG_UNIFORM_V1,
    HyperParameter.LOG_UNIFORM_V2,
    HyperParameter.INV_LOG_UNIFORM_V1,
    HyperParameter.INV_LOG_UNIFORM_V2,
    HyperParameter.NORMAL,
    HyperParameter.LOG_NORMAL,
    HyperParameter.BETA,
}
QUANTIZED = {
    HyperParameter.Q_UNIFORM,
    HyperParameter.Q_LOG_UNIFORM_V1,
    HyperParameter.Q_LOG_UNIFORM_V2,
    HyperParameter.Q_NORMAL,
    HyperParameter.Q_LOG_NORMAL,
    HyperParameter.Q_BETA,
}


def fit_to_the_engine(spec: dict[str, Any], ours: list[Any]) -> tuple[str, float]:
    """One-sample test of our draws against the engine's own distribution: ``(test name, p-value)``.

    Continuous: Kolmogorov-Smirnov against the engine's ``cdf``. Quantized: chi-square against the
    probability the engine's ``cdf`` gives each multiple ``k*q`` (the mass within ``q/2`` of it).
    int_uniform and categorical: chi-square against the engine's equal (or given) probabilities."""
    param = HyperParameter("p", copy.deepcopy(spec))
    config = param.config
    if param.type in CONTINUOUS:
        return "Kolmogorov-Smirnov", float(stats.kstest([float(x) for x in ours], param.cdf).pvalue)
    expected: Counter[Any] = Counter()
    drawn = [key(v) for v in ours]
    if param.type in (HyperParameter.CATEGORICAL, HyperParameter.CATEGORICAL_PROB):
        values = config["values"]
        for value, prob in zip(values, config.get("probabilities", [1 / len(values)] * len(values)), strict=True):
            expected[key(value)] += prob
    elif param.type == HyperParameter.INT_UNIFORM:
        span = config["max"] - config["min"] + 1
        expected.update({key(v): 1 / span for v in range(config["min"], config["max"] + 1)})
    elif param.type in QUANTIZED:
        q = config["q"]
        with np.errstate(invalid="ignore", divide="ignore"):  # a log distribution's cdf below 0 is nan: 0
            for k in {round(x / q) for x in ours}:
                lo, hi = (float(np.nan_to_num(param.cdf(edge), nan=0.0)) for edge in ((k - 0.5) * q, (k + 0.5) * q))
                expected[key(k * q, types=False)] = hi - lo
        drawn = [key(x, types=False) for x in ours]
    else:
        return "one value", 1.0
    observed = Counter(drawn)
    common = [k for k in expected if expected[k] * len(drawn) >= 5]
    rest = 1.0 - sum(expected[k] for k in common)
    f_obs = [observed[k] for k in common] + [len(drawn) - sum(observed[k] for k in common)]
    f_exp = [expected[k] * len(drawn) for k in common] + [max(rest, 0.0) * len(drawn)]
    if f_exp[-1] < 1e-9:
        assert f_obs[-1] == 0, (spec, f_obs)
        f_obs, f_exp = f_obs[:-1], f_exp[:-1]
    if len(f_obs) < 2:
        return "one value", 1.0
    total = sum(f_exp)
    return "chi-square", float(stats.chisquare(f_obs, [e * sum(f_obs) / total for e in f_exp]).pvalue)


def check_draws(spec: dict[str, Any], ours: list[Any], engine: list[Any], types: bool = True) -> None:
    """The differential checks of one distribution's draws (see the module docstring)."""
    test, p = same_distribution(ours, engine, types)
    assert p > ALPHA, f"{test}: p = {p:.2g}; ours {Counter(map(key, ours)).most_common(5)}, engine {Counter(map(key, engine)).most_common(5)}"
    support = engine_support(spec)
    if support is None:  # categorical/constant: every value is one of the config's, as often as the engine's
        allowed = {key(v) for v in spec.get("values", [spec.get("value")])}
        assert {key(v) for v in ours} == {key(v) for v in engine} <= allowed
    else:
        lo, hi = support
        assert all(lo <= x <= hi for x in ours), (lo, hi, min(ours), max(ours))
    q = spec.get("q", 1.0)
    if spec.get("distribution", "").startswith("q_"):
        for side in (ours, engine):
            assert all(math.isclose(x / q, round(x / q), abs_tol=1e-9) for x in side), side[:10]
    if support is not None and len({key(v) for v in engine}) <= 40 and math.isfinite(support[1] - support[0]):
        # a bounded discrete numeric distribution: every value of its support comes up, on both sides
        assert {key(v, types) for v in ours} == {key(v, types) for v in engine}
    kinds = {typed(v)[0] for v in ours}, {typed(v)[0] for v in engine}
    assert (kinds[0] == kinds[1]) is types, kinds


@pytest.mark.parametrize("name", list(RANDOM))
def test_random_draws_follow_the_engines_distribution(name: str) -> None:
    """N draws on each side: the same distribution (two-sample test), the engine's support and
    quantization, the engine's value types; and N_FIT of ours fit the engine's distribution function."""
    spec = RANDOM[name]
    ours = our_draws(spec, N_FIT)
    check_draws(spec, ours[:N], engine_draws(spec))
    test, p = fit_to_the_engine(spec, ours)
    assert p > ALPHA, f"{test} against the engine's distribution: p = {p:.2g}"


@pytest.mark.parametrize("name", list(RANDOM_UNTYPED))
def test_random_differences_in_type_only_are_documented(name: str) -> None:
    why, spec = RANDOM_UNTYPED[name]
    check_draws(spec, our_draws(spec), engine_draws(spec), types=False)
    documented(DELIBERATE[why])


def test_a_nested_random_parameter_draws_each_leaf_like_the_engine() -> None:
    """Nested ``parameters``: every leaf is drawn from its own distribution, on both sides."""
    spec = {"parameters": {"lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1.0}, "n": {"min": 1, "max": 3}}}
    ours, engine = our_draws(spec), engine_draws(spec)
    assert all(set(d) == {"lr", "n"} for d in ours + engine)
    for leaf, leaf_spec in spec["parameters"].items():
        check_draws(leaf_spec, [d[leaf] for d in ours], [d[leaf] for d in engine])


# ---- validation ---------------------------------------------------------------------------------
#: Parameters for the validation table: (name, method, parameters).
VALIDATION: list[tuple[str, str, dict[str, Any]]] = [
    ("values", "random", {"p": {"values": [1, 2]}}),
    ("empty-values", "random", {"p": {"values": []}}),
    ("values-not-a-list", "random", {"p": {"values": 3}}),
    ("not-a-mapping", "random", {"p": 3}),
    ("no-keys", "random", {"p": {}}),
    ("unknown-distribution", "random", {"p": {"distribution": "zipf", "min": 1, "max": 2}}),
    ("min-above-max", "random", {"p": {"min": 2, "max": 1}}),
    ("min-equals-max-int", "random", {"p": {"min": 1, "max": 1}}),
    ("min-equals-max-float", "random", {"p": {"distribution": "uniform", "min": 0.5, "max": 0.5}}),
    ("min-equals-max-log", "random", {"p": {"distribution": "log_uniform_values", "min": 2.0, "max": 2.0}}),
    ("min-without-max", "random", {"p": {"min": 1}}),
    ("string-bounds", "random", {"p": {"distribution": "uniform", "min": "a", "max": "b"}}),
    ("int-uniform-float-bounds", "random", {"p": {"distribution": "int_uniform", "min": 1.0, "max": 3.0}}),
    ("log-values-zero-min", "random", {"p": {"distribution": "log_uniform_values", "min": 0.0, "max": 1.0}}),
    ("inv-log-values-negative", "random", {"p": {"distribution": "inv_log_uniform_values", "min": -1.0, "max": 1.0}}),
    ("q-zero", "random", {"p": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}}),
    ("q-negative", "random", {"p": {"distribution": "q_normal", "q": -1}}),
    ("sigma-negative", "random", {"p": {"distribution": "normal", "sigma": -1.0}}),
    ("sigma-zero", "random", {"p": {"distribution": "normal", "sigma": 0.0}}),
    ("probabilities-too-few", "random", {"p": {"values": [1, 2], "probabilities": [1.0]}}),
    ("probabilities-not-summing-to-1", "random", {"p": {"values": [1, 2], "probabilities": [0.5, 0.6]}}),
    ("probabilities-negative", "random", {"p": {"values": [1, 2], "probabilities": [1.5, -0.5]}}),
    ("w-probabilities-without-probabilities", "random", {"p": {"distribution": "categorical_w_probabilities", "values": [1]}}),
    ("constant-without-value", "random", {"p": {"distribution": "constant"}}),
    ("unknown-key", "random", {"p": {"values": [1, 2], "vaules": [3]}}),
    ("q-on-uniform", "random", {"p": {"distribution": "uniform", "min": 0.0, "max": 1.0, "q": 0.1}}),
    ("q-without-distribution", "random", {"p": {"min": 0.0, "max": 1.0, "q": 0.1}}),
    ("mu-on-uniform", "random", {"p": {"distribution": "uniform", "min": 0.0, "max": 1.0, "mu": 0.5}}),
    ("value-and-values", "random", {"p": {"value": 1, "values": [1, 2]}}),
    ("nested-empty", "random", {"p": {"parameters": {}}}),
    ("nested-bad-leaf", "random", {"p": {"parameters": {"x": {"values": []}}}}),
    ("nested-extra-key", "random", {"p": {"parameters": {"x": {"value": 1}}, "values": [1]}}),
    ("grid-continuous", "grid", {"p": {"distribution": "uniform", "min": 0.0, "max": 1.0}}),
    ("grid-normal", "grid", {"p": {"distribution": "normal"}}),
    ("grid-probabilities", "grid", {"p": {"values": [1, 2], "probabilities": [0.5, 0.5]}}),
    ("grid-int-uniform", "grid", {"p": {"min": 1, "max": 3}}),
    ("grid-q-uniform", "grid", {"p": {"distribution": "q_uniform", "min": 0, "max": 3, "q": 1}}),
    ("grid-nested", "grid", {"p": {"parameters": {"x": {"values": [1, 2]}}}}),
    ("probabilities-sum-within-1e-5", "random", {"p": {"values": [1, 2], "probabilities": [0.5, 0.500009]}}),
    ("probabilities-sum-off-by-1e-4", "random", {"p": {"values": [1, 2], "probabilities": [0.5, 0.5001]}}),
    ("nested-bad-name", "random", {"p": {"parameters": {"1x": {"value": 1}}}}),
    ("nested-distribution-key", "random", {"p": {"parameters": {"x": {"value": 1}}, "distribution": "categorical"}}),
    ("name-with-space", "random", {"a b": {"values": [1]}}),
    ("q-a-bool", "random", {"p": {"distribution": "q_uniform", "min": 0, "max": 4, "q": True}}),
    ("min-a-bool", "random", {"p": {"distribution": "uniform", "min": False, "max": 1.0}}),
    ("mu-a-string", "random", {"p": {"distribution": "normal", "mu": "a"}}),
    ("sigma-null", "random", {"p": {"distribution": "log_normal", "sigma": None}}),
    ("beta-b-negative", "random", {"p": {"distribution": "q_beta", "b": -1.0}}),
    ("probabilities-a-string", "random", {"p": {"values": [1, 2], "probabilities": "even"}}),
    ("int-uniform-grid-negative", "grid", {"p": {"min": -3, "max": -1}}),
    ("categorical-grid-of-dicts", "grid", {"p": {"values": [{"a": 1}, {"a": 2}]}}),
]
#: Where our verdict differs from the engine's on purpose: DELIBERATE key -> (parameters of a random
#: search, whether ours refuses them; the engine does the opposite).
VALIDATION_DELIBERATE: dict[str, tuple[dict[str, Any], bool]] = {
    "beta-zero": ({"p": {"distribution": "beta", "a": 0.0}}, True),
    "categorical-probabilities": ({"p": {"distribution": "categorical", "values": [1, 2], "probabilities": [0.5, 0.5]}}, False),
}


@pytest.mark.parametrize(("name", "method", "parameters"), VALIDATION, ids=[v[0] for v in VALIDATION])
def test_a_parameter_the_engine_cannot_run_is_refused_by_name(name: str, method: str, parameters: dict[str, Any]) -> None:
    """The engine's search refuses it <=> ours refuses it, with a SweepConfigError naming the parameter."""
    engine = engine_refusal(parameters, method)
    ours = our_refusal({"method": method, "parameters": parameters})
    assert (ours is None) == (engine is None), f"engine: {engine}; ours: {ours}"
    if ours is not None:  # the message names the parameter (a nested one by its dotted name)
        name = next(iter(parameters))
        assert repr(name) in ours or f"'{name}." in ours, ours


def test_the_deprecated_distributions_are_run_by_both_and_documented() -> None:
    """The engine's schema calls ``log_uniform``, ``q_log_uniform`` and ``inv_log_uniform``
    deprecated (the server answers a warning, as ours does: ``test_our_config_warnings_are_the_engines``);
    its search runs them, and ours accepts them."""
    for dist in ("log_uniform", "q_log_uniform", "inv_log_uniform"):
        config = {"method": "random", "parameters": {"p": {"distribution": dist, "min": -2.0, "max": 0.0}}}
        assert any(DEPRECATION in v for v in sweeps.schema_violations_from_proposed_config(copy.deepcopy(config)))
        assert engine_refusal(config["parameters"]) is None and our_refusal(config) is None
    documented(DELIBERATE["deprecated"])


#: One parameter of each distribution the engine calls deprecated.
DEPRECATED_SPECS = {d: {"distribution": d, "min": -2.0, "max": 0.0} for d in ("log_uniform", "q_log_uniform", "inv_log_uniform")}


@pytest.mark.parametrize("name", [*DEPRECATED_SPECS, "all-at-once"])
def test_our_config_warnings_are_the_engines(name: str) -> None:
    """What ``UpsertSweep`` answers as ``configValidationWarnings`` (``config_warnings``) is, word for
    word and in order, what the engine's checks give for the config, for every accepted config here:
    the deprecated distributions at the top level and nested (which the engine does not look into),
    and the grids and draws of this module (no warning)."""
    if name == "all-at-once":
        parameters = {"z": {"values": [1]}, **{f"p_{k}": v for k, v in DEPRECATED_SPECS.items()}}
        parameters["g"] = {"parameters": {"x": DEPRECATED_SPECS["log_uniform"]}}
    else:
        parameters = {"p": DEPRECATED_SPECS[name]}
    for method, params in [("random", parameters), *(("grid", g) for g in GRIDS.values()), *(("random", {"p": s}) for s in RANDOM.values())]:
        config = {"method": method, "parameters": copy.deepcopy(params)}
        expected = sweeps.schema_violations_from_proposed_config(copy.deepcopy(config))
        assert config_warnings(parse_sweep_config(copy.deepcopy(config))) == expected, config


def test_negative_zero_is_documented() -> None:
    """The engine rounds a small negative draw of a q_* distribution to ``-0.0``, ours to ``0.0``
    (the comparisons above count them as one value)."""
    spec = {"distribution": "q_normal", "mu": 0.0, "sigma": 1.0, "q": 0.5}
    assert any(math.copysign(1.0, x) < 0 and x == 0 for x in engine_draws(spec, n=200))
    assert not any(math.copysign(1.0, x) < 0 and x == 0 for x in our_draws(spec, n=200))
    documented(DELIBERATE["negative-zero"])


@pytest.mark.parametrize("why", list(VALIDATION_DELIBERATE))
def test_validation_differences_are_deliberate_and_documented(why: str) -> None:
    parameters, ours_refuses = VALIDATION_DELIBERATE[why]
    engine = engine_refusal(parameters)
    ours = our_refusal({"method": "random", "parameters": parameters})
    assert (ours is not None) is ours_refuses and (engine is not None) is not ours_refuses, (engine, ours)
    documented(DELIBERATE[why])


#: Top-level keys ours checks: each refusal must be a violation of the engine's schema too.
TOP_LEVEL: list[tuple[str, dict[str, Any]]] = [
    ("no-method", {"parameters": {"p": {"values": [1]}}}),
    ("unknown-method", {"method": "magic", "parameters": {"p": {"values": [1]}}}),
    ("no-parameters", {"method": "grid"}),
    ("run-cap-zero", {"method": "grid", "run_cap": 0, "parameters": {"p": {"values": [1]}}}),
    ("run-cap-string", {"method": "grid", "run_cap": "3", "parameters": {"p": {"values": [1]}}}),
    ("command-string", {"method": "grid", "command": "python train.py", "parameters": {"p": {"values": [1]}}}),
    ("program-list", {"method": "grid", "program": ["train.py"], "parameters": {"p": {"values": [1]}}}),
    ("metric-no-name", {"method": "bayes", "metric": {"goal": "minimize"}, "parameters": {"p": {"values": [1]}}}),
    ("metric-bad-goal", {"method": "random", "metric": {"name": "x", "goal": "up"}, "parameters": {"p": {"values": [1]}}}),
    ("valid", {"method": "bayes", "metric": {"name": "x", "goal": "maximize"}, "run_cap": 3, "command": ["${program}"], "program": "t.py", "parameters": {"p": {"values": [1]}}}),
]


@pytest.mark.parametrize(("name", "config"), TOP_LEVEL, ids=[t[0] for t in TOP_LEVEL])
def test_a_top_level_refusal_is_a_violation_of_the_engines_schema(name: str, config: dict[str, Any]) -> None:
    """Ours refuses => the engine's schema (``schema_violations_from_proposed_config``) reports it."""
    violations = sweeps.schema_violations_from_proposed_config(copy.deepcopy(config))
    ours = our_refusal(config)
    assert (ours is None) == (not violations), (ours, violations)
