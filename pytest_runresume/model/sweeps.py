"""Sweeps of the reference model: the sweep controller, its agents and its run queue.

Pure: no sockets, files or subprocesses. :class:`Sweeps` hangs off :class:`~.backend.Backend` as
``backend.sweeps`` and works under the backend's lock and clock; the wire turns the GraphQL
operations of ``wandb sweep`` and ``wandb agent`` (``UpsertSweep``, ``SweepWithRuns``,
``CreateAgent``, ``Heartbeat``; NOTES 1.8) into calls of it.

What the controller does, with the rules it implements:

- A sweep is created from its YAML config (``wandb sweep cfg.yaml``). ``method: grid`` and
  ``method: random`` are searched; ``method: bayes`` is accepted with the server's validation (a
  ``metric`` with a ``name``, goal ``minimize``/``maximize``) and proposes runs by the seeded
  stand-in of :mod:`.bayes`. Random search is deterministic: combination *n* is drawn from a
  generator seeded with ``(sweep.seed, n)`` (the seed is stored on the sweep).
- A new sweep is ``pending`` (wire ``PENDING``) until an agent registers for it (``CreateAgent``),
  then ``running``, as W&B's server answers it. Runs named as ``priorRuns`` when it is created are
  linked to it (their ``sweep`` is set; a bayes search learns from them); each must exist.
- An agent asks with a heartbeat and gets at most one run at a time: first a run from the sweep's
  run queue, as a ``resume`` command with the same run id and exactly the same parameters (R81,
  R82, R72); only when the queue is empty a new combination, as a ``run`` command (R82).
- A sweep run whose state becomes ``preempted`` (R66, R70, R71: handled signal,
  ``mark_preempting()``, non-zero exit; or the preempting flag and silence for the crash timeout,
  R70c/e "always" column) goes back on the queue once per process that was preempted (R81, R72).
  A run that ended ``finished``, ``failed``, ``crashed`` or ``killed`` is never requeued.
- ``run_cap`` caps the number of distinct runs the sweep creates (R89); grid exhaustion or the cap
  ends the search. Requeued runs are not new runs and do not count toward ``run_cap`` (R89 ⚠, A07:
  undocumented; this is the fake's choice).
- States (R86, R87): ``running`` (hand out runs), ``paused`` (hand out nothing, not even queued runs,
  until resumed), ``stopped`` (``wandb sweep --stop``: no new runs, running ones finish, idle agents
  are told to exit), ``cancelled`` (``--cancel``: every agent is told to ``exit``, which SIGKILLs its
  runs: no handler runs; a run that was running then ends ``killed``, not ``crashed``, R59),
  ``finished`` (the search is exhausted, the queue is empty and no run of the sweep is active; idle
  agents are told to exit, R80). While the search is exhausted but a run is
  still active, idle agents are told nothing and keep polling, so a run preempted late is still
  handed out to the next agent request (R81).
- ``wandb sweep --resume`` only un-pauses (S11, S13). A running sweep hands out requeued runs
  without it; S2's advice to run ``--resume`` first (R83) is harmless here (A03).
- A run of the sweep whose stop was requested (R58) gets a ``stop`` command in every heartbeat of the
  agent that reports it alive; the agent SIGTERMs it, later SIGKILLs it (R88).
- Each queued run is handed to exactly one agent (under the lock): the race of R84 does not happen.

The wire names of the states are the SDK's (``RUNNING``, ``PAUSED``, ``FINISHED``, ``CANCELED``;
``wandb sweep --stop`` writes ``FINISHED``, so ``stopped`` is answered as ``FINISHED`` too).
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import math
import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import bayes
from .errors import RuleViolation
from .runs import PENDING, PREEMPTED, PREEMPTING, RUNNING, TimelineEvent

if TYPE_CHECKING:
    from .backend import Backend
    from .runs import RunRecord

# ---- states -------------------------------------------------------------------------------------
SWEEP_PENDING = "pending"
SWEEP_RUNNING = "running"
SWEEP_PAUSED = "paused"
SWEEP_FINISHED = "finished"
SWEEP_STOPPED = "stopped"
SWEEP_CANCELLED = "cancelled"
SWEEP_STATES = (SWEEP_PENDING, SWEEP_RUNNING, SWEEP_PAUSED, SWEEP_FINISHED, SWEEP_STOPPED, SWEEP_CANCELLED)

#: Model state -> the state the wire answers (the SDK's ``SweepState``).
WIRE_STATES = {
    SWEEP_PENDING: "PENDING",
    SWEEP_RUNNING: "RUNNING",
    SWEEP_PAUSED: "PAUSED",
    SWEEP_FINISHED: "FINISHED",
    SWEEP_STOPPED: "FINISHED",
    SWEEP_CANCELLED: "CANCELED",
}
#: A state the client writes (``UpsertSweep(state=...)``) -> model state. ``--stop`` writes FINISHED.
FROM_WIRE_STATES = {
    "RUNNING": SWEEP_RUNNING,
    "PAUSED": SWEEP_PAUSED,
    "FINISHED": SWEEP_STOPPED,
    "STOPPED": SWEEP_STOPPED,
    "CANCELED": SWEEP_CANCELLED,
    "CANCELLED": SWEEP_CANCELLED,
}

METHODS = ("grid", "random", "bayes")

# ---- texts --------------------------------------------------------------------------------------
BAD_SWEEP_CONFIG = "bad sweep config: {detail}"
NO_SUCH_SWEEP = "sweep {path!r} does not exist"
NO_SUCH_AGENT = "sweep agent {agent_id!r} does not exist (CreateAgent was never called for it)"
BAD_SWEEP_TRANSITION = "cannot set sweep {path} from {old} to {new} (R86)"


class SweepConfigError(RuleViolation):
    """A sweep config the server refuses: not YAML, no or unknown method, bad parameters... A
    documented refusal: answered with an error, not recorded as a problem of the test."""


class SweepStateError(RuleViolation):
    """A state change that is not allowed (e.g. resuming a cancelled sweep, R86)."""


def _bad(detail: str) -> SweepConfigError:
    return SweepConfigError(BAD_SWEEP_CONFIG.format(detail=detail))


# ---- parameters ---------------------------------------------------------------------------------
#: Distributions a random search can draw from (S14 "sweep-config-keys").
DISTRIBUTIONS = (
    "constant",
    "categorical",
    "int_uniform",
    "uniform",
    "q_uniform",
    "log_uniform",
    "log_uniform_values",
    "q_log_uniform",
    "q_log_uniform_values",
    "inv_log_uniform",
    "inv_log_uniform_values",
    "normal",
    "q_normal",
    "log_normal",
    "q_log_normal",
    "beta",
    "q_beta",
)
#: Distributions a grid can enumerate.
GRID_DISTRIBUTIONS = ("constant", "categorical", "int_uniform", "q_uniform")


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def normalize_parameter(name: str, spec: object) -> dict[str, Any]:
    """Check one entry of ``parameters`` and make its distribution explicit.

    ``values`` -> ``categorical``; ``value`` -> ``constant``; ``min``/``max`` without a
    distribution -> ``int_uniform`` for two ints, ``uniform`` for two floats (what the SDK fills in
    before it uploads the config); ``parameters`` -> a nested group.

    Raises:
        SweepConfigError: naming the parameter and what is wrong.
    """
    if not isinstance(spec, Mapping):
        raise _bad(f"parameter {name!r} must be a mapping, got {spec!r}")
    out = dict(spec)
    if "parameters" in out:
        nested = out["parameters"]
        if not isinstance(nested, Mapping) or not nested:
            raise _bad(f"parameter {name!r}: 'parameters' must be a non-empty mapping")
        out["parameters"] = {str(k): normalize_parameter(f"{name}.{k}", v) for k, v in nested.items()}
        out["distribution"] = "nested"
        return out
    dist = out.get("distribution")
    if dist is None:
        if "values" in out:
            dist = "categorical"
        elif "value" in out:
            dist = "constant"
        elif "min" in out and "max" in out:
            lo, hi = out["min"], out["max"]
            if isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool):
                dist = "int_uniform"
            elif _is_number(lo) and _is_number(hi):
                dist = "uniform"
            else:
                raise _bad(f"parameter {name!r}: min and max must be numbers")
        else:
            raise _bad(f"parameter {name!r} needs 'values', 'value', 'min'/'max' or 'distribution'")
    if dist not in DISTRIBUTIONS:
        raise _bad(f"parameter {name!r}: unknown distribution {dist!r}; expected one of {DISTRIBUTIONS}")
    out["distribution"] = dist
    if dist == "categorical":
        values = out.get("values")
        if not isinstance(values, list) or not values:
            raise _bad(f"parameter {name!r}: 'values' must be a non-empty list")
        probs = out.get("probabilities")
        if probs is not None and (
            not isinstance(probs, list)
            or len(probs) != len(values)
            or not all(_is_number(p) and p >= 0 for p in probs)
            or not math.isclose(sum(probs), 1.0, rel_tol=1e-6)
        ):
            raise _bad(f"parameter {name!r}: 'probabilities' must be one number >= 0 per value, summing to 1")
    elif dist == "constant":
        if "value" not in out:
            raise _bad(f"parameter {name!r}: a constant needs 'value'")
    elif dist in ("normal", "q_normal", "log_normal", "q_log_normal"):
        out.setdefault("mu", 0.0)
        out.setdefault("sigma", 1.0)
        if not _is_number(out["mu"]) or not _is_number(out["sigma"]) or out["sigma"] < 0:
            raise _bad(f"parameter {name!r}: mu and sigma must be numbers, sigma >= 0")
    elif dist in ("beta", "q_beta"):
        out.setdefault("a", 1.0)
        out.setdefault("b", 1.0)
        if not _is_number(out["a"]) or not _is_number(out["b"]) or out["a"] <= 0 or out["b"] <= 0:
            raise _bad(f"parameter {name!r}: a and b must be numbers > 0")
    else:
        lo, hi = out.get("min"), out.get("max")
        if not _is_number(lo) or not _is_number(hi):
            raise _bad(f"parameter {name!r}: distribution {dist} needs numeric 'min' and 'max'")
        assert isinstance(lo, (int, float)) and isinstance(hi, (int, float))
        if lo > hi:
            raise _bad(f"parameter {name!r}: min {lo} > max {hi}")
        if dist == "int_uniform" and not (isinstance(lo, int) and isinstance(hi, int)):
            raise _bad(f"parameter {name!r}: int_uniform needs integer min and max")
        if dist.endswith("_values") and lo <= 0:
            raise _bad(f"parameter {name!r}: {dist} needs min > 0")
    if dist.startswith("q_"):
        q = out.setdefault("q", 1)
        if not _is_number(q) or q <= 0:
            raise _bad(f"parameter {name!r}: q must be a number > 0")
    return out


def _quantize(x: float, q: float) -> float | int:
    v = round(x / q) * q
    return int(v) if isinstance(q, int) else v


def sample_parameter(spec: Mapping[str, Any], rng: random.Random) -> Any:
    """Draw one value of a normalized parameter (random search)."""
    dist = spec["distribution"]
    if dist == "nested":
        return {k: sample_parameter(v, rng) for k, v in spec["parameters"].items()}
    if dist == "constant":
        return copy.deepcopy(spec["value"])
    if dist == "categorical":
        values = spec["values"]
        probs = spec.get("probabilities")
        idx = rng.choices(range(len(values)), weights=probs)[0] if probs else rng.randrange(len(values))
        return copy.deepcopy(values[idx])
    q = spec.get("q", 1)
    if dist == "int_uniform":
        return rng.randint(spec["min"], spec["max"])
    if dist in ("uniform", "q_uniform"):
        x = rng.uniform(spec["min"], spec["max"])
    elif dist in ("log_uniform", "q_log_uniform"):
        x = math.exp(rng.uniform(spec["min"], spec["max"]))
    elif dist in ("log_uniform_values", "q_log_uniform_values"):
        x = math.exp(rng.uniform(math.log(spec["min"]), math.log(spec["max"])))
    elif dist == "inv_log_uniform":
        x = math.exp(-rng.uniform(spec["min"], spec["max"]))
    elif dist == "inv_log_uniform_values":
        x = 1.0 / math.exp(rng.uniform(math.log(1.0 / spec["max"]), math.log(1.0 / spec["min"])))
    elif dist in ("normal", "q_normal"):
        x = rng.gauss(spec["mu"], spec["sigma"])
    elif dist in ("log_normal", "q_log_normal"):
        x = math.exp(rng.gauss(spec["mu"], spec["sigma"]))
    else:  # beta, q_beta
        x = rng.betavariate(spec["a"], spec["b"])
    return _quantize(x, q) if dist.startswith("q_") else x


def grid_values(name: str, spec: Mapping[str, Any]) -> list[Any]:
    """Every value a grid search takes for a normalized parameter, in order.

    Raises:
        SweepConfigError: for a continuous distribution (a grid needs discrete values).
    """
    dist = spec["distribution"]
    if dist == "nested":
        names = list(spec["parameters"])
        columns = [grid_values(f"{name}.{k}", spec["parameters"][k]) for k in names]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*columns)]
    if dist == "constant":
        return [spec["value"]]
    if dist == "categorical":
        return list(spec["values"])
    if dist == "int_uniform":
        return list(range(spec["min"], spec["max"] + 1))
    if dist == "q_uniform":
        q, lo, hi = spec["q"], spec["min"], spec["max"]
        count = int(math.floor((hi - lo) / q + 1e-9)) + 1
        return [_quantize(lo + i * q, q) for i in range(count)]
    raise _bad(
        f"parameter {name!r}: method grid needs discrete values ('values', 'value', int_uniform or "
        f"q_uniform), not distribution {dist}"
    )


def parse_sweep_config(text_or_config: str | Mapping[str, Any]) -> dict[str, Any]:
    """Parse and check a sweep config (the YAML string ``UpsertSweep`` carries, or a mapping).

    Returns:
        The config as a dict, with every parameter's distribution made explicit.

    Raises:
        SweepConfigError: not a YAML mapping, no or unknown ``method``, ``method: bayes`` without a
            ``metric`` (or any bad ``metric``: no ``name``, a goal other than minimize/maximize), no ``parameters``, a bad
            parameter, a bad ``run_cap``, ``command`` not a list, or a grid over a continuous
            distribution.
    """
    if isinstance(text_or_config, str):
        import yaml  # PyYAML; imported here so the rest of the model needs only the stdlib

        try:
            config = yaml.safe_load(text_or_config)
        except yaml.YAMLError as exc:
            raise _bad(f"not valid YAML: {exc}") from exc
        except RecursionError:
            raise _bad("not valid YAML: nested too deep") from None
    else:
        config = copy.deepcopy(dict(text_or_config))
    if not isinstance(config, dict):
        raise _bad("the config must be a mapping")
    method = config.get("method")
    if method not in METHODS:
        raise _bad(f"method must be one of {METHODS}, got {method!r}")
    metric_problem = bayes.check_metric(config.get("metric"), required=method == "bayes")
    if metric_problem is not None:
        raise _bad(metric_problem)
    params = config.get("parameters")
    if not isinstance(params, dict) or not params:
        raise _bad("'parameters' must be a non-empty mapping")
    config["parameters"] = {str(k): normalize_parameter(str(k), v) for k, v in params.items()}
    run_cap = config.get("run_cap")
    if run_cap is not None and (not isinstance(run_cap, int) or isinstance(run_cap, bool) or run_cap < 1):
        raise _bad(f"run_cap must be a positive integer, got {run_cap!r}")
    command = config.get("command")
    if command is not None and not isinstance(command, list):
        raise _bad("'command' must be a list")
    program = config.get("program")
    if program is not None and not isinstance(program, str):
        raise _bad("'program' must be a string")
    if method == "grid":
        for name, spec in config["parameters"].items():
            grid_values(name, spec)
    return config


# ---- records ------------------------------------------------------------------------------------
@dataclass
class Handout:
    """One time a sweep run was handed to an agent.

    Attributes:
        t: backend clock time, seconds.
        run_id: the run.
        agent_id: the agent that got it.
        kind: ``"run"`` (a new combination) or ``"resume"`` (from the run queue).
        params: the ``args`` it was handed out with.
    """

    t: float
    run_id: str
    agent_id: str
    kind: str
    params: dict[str, dict[str, Any]]


@dataclass
class SweepRun:
    """A run the sweep created: its id and parameters never change, also when it is requeued.

    Attributes:
        run_id: the W&B run id (the agent sets ``WANDB_RUN_ID`` to it).
        index: the number of its combination (0 for the first run of the sweep).
        params: ``{name: {"value": v}}``, the ``args`` of the agent command.
        handouts: every time it was handed to an agent.
        requeued_attempts: numbers of the attempts (processes) that were preempted and requeued.
        agent_id: the agent that has it now (or had it last).
        alive: the agent reports its process alive (``runState``), or it was just handed out.
        attempts_at_handout: how many processes had started the run when it was last handed out
            (a later process means the handed-out one started).
    """

    run_id: str
    index: int
    params: dict[str, dict[str, Any]]
    handouts: list[Handout] = field(default_factory=list)
    requeued_attempts: list[int] = field(default_factory=list)
    agent_id: str | None = None
    alive: bool = False
    attempts_at_handout: int = 0


@dataclass
class SweepAgent:
    """An agent (one ``wandb agent`` process, or one ``wandb.agent()`` call).

    Attributes:
        id: the opaque id ``CreateAgent`` answered.
        sweep: the sweep's name.
        entity, project: where the sweep lives.
        host: the host it said it runs on.
        created_at, last_heartbeat: backend clock times, seconds.
        heartbeats: how many heartbeats it sent.
        running: run ids its last heartbeat reported alive (``runState``).
        commands: every command it was sent, in order.
        exited: it was told to ``exit``.
    """

    id: str
    sweep: str
    entity: str
    project: str
    host: str
    created_at: float
    last_heartbeat: float | None = None
    heartbeats: int = 0
    running: set[str] = field(default_factory=set)
    commands: list[dict[str, Any]] = field(default_factory=list)
    exited: bool = False


@dataclass
class Sweep:
    """One sweep: its config, its runs, its run queue and its state.

    Attributes:
        name: the sweep id users see (``wandb agent entity/project/<name>``).
        entity, project: where it lives.
        storage_id: the opaque ``id`` the wire hands out (``UpsertSweep`` takes it back).
        config: the parsed config (see :func:`parse_sweep_config`).
        config_yaml: the YAML text as uploaded (what ``SweepWithRuns.config`` answers).
        seed: the random search's seed; combination ``n`` depends only on ``(seed, n)``.
        created_at, updated_at: backend clock times, seconds.
        user_state: what the user set: ``running``, ``paused``, ``stopped`` or ``cancelled``.
        runs: run id -> :class:`SweepRun`, in creation order.
        queue: run ids waiting to be handed out again (R81, R82).
        handouts: every run handed to an agent, in order.
        timeline: what happened to the sweep.
    """

    name: str
    entity: str
    project: str
    storage_id: str
    config: dict[str, Any]
    config_yaml: str
    seed: str
    created_at: float
    updated_at: float
    user_state: str = SWEEP_PENDING
    runs: dict[str, SweepRun] = field(default_factory=dict)
    queue: deque[str] = field(default_factory=deque)
    handouts: list[Handout] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)
    description: str | None = None
    display_name: str | None = None
    #: Runs linked when the sweep was created (``priorRuns``), in the order given.
    prior_runs: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        """``entity/project/name``."""
        return f"{self.entity}/{self.project}/{self.name}"

    @property
    def method(self) -> str:
        return str(self.config["method"])

    @property
    def run_cap(self) -> int | None:
        cap = self.config.get("run_cap")
        return int(cap) if cap is not None else None

    @property
    def program(self) -> str | None:
        program = self.config.get("program")
        return str(program) if program is not None else None

    def grid_size(self) -> int | None:
        """The number of grid combinations, or ``None`` for a random search (no end)."""
        if self.method != "grid":
            return None
        return math.prod(len(grid_values(n, s)) for n, s in self.config["parameters"].items())

    def max_runs(self) -> int | None:
        """How many runs the search creates at most: the grid size and ``run_cap`` (R89)."""
        limits = [x for x in (self.grid_size(), self.run_cap) if x is not None]
        return min(limits) if limits else None

    def search_exhausted(self) -> bool:
        """No new combination is left: the grid is done or ``run_cap`` is reached (R89)."""
        limit = self.max_runs()
        return limit is not None and len(self.runs) >= limit

    def combination(self, index: int) -> dict[str, Any]:
        """The parameter values of combination ``index`` (0-based), as plain values.

        Grid: parameters in sorted name order, the last one varying fastest. Random: each parameter
        drawn from a generator seeded with ``(seed, index)``, so the same sweep seed gives the same
        runs in the same order, whoever asks and when.

        Raises:
            IndexError: past the end of the grid.
        """
        params = self.config["parameters"]
        names = sorted(params)
        if self.method == "grid":
            columns = [grid_values(n, params[n]) for n in names]
            size = math.prod(len(c) for c in columns)
            if not 0 <= index < size:
                raise IndexError(f"grid combination {index} of {size}")
            out: dict[str, Any] = {}
            rest = index
            for name, column in reversed(list(zip(names, columns, strict=True))):
                rest, pick = divmod(rest, len(column))
                out[name] = copy.deepcopy(column[pick])
            return {n: out[n] for n in names}
        rng = random.Random(f"{self.seed}/{index}")
        return {n: sample_parameter(params[n], rng) for n in names}

    def event(self, t: float, kind: str, detail: str) -> None:
        self.timeline.append(TimelineEvent(t, kind, detail))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ---- the controller -----------------------------------------------------------------------------
class Sweeps:
    """Every sweep and agent of one backend: the sweep controller.

    Args:
        backend: the model the sweep runs live in; its lock, clock and crash timeout are used.

    Every public method takes ``backend.lock`` and bumps the backend's version after a change, so
    ``backend.wait_for(...)`` sees sweep changes too.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.sweeps: dict[tuple[str, str, str], Sweep] = {}
        self.agents: dict[str, SweepAgent] = {}
        self._numbers = itertools.count(1)
        self._agent_numbers = itertools.count(1)

    def reset(self) -> None:
        """Forget every sweep and agent."""
        with self.backend.lock:
            self.sweeps.clear()
            self.agents.clear()
            self._numbers = itertools.count(1)
            self._agent_numbers = itertools.count(1)

    def _changed(self) -> None:
        self.backend._bump()

    # ---- lookup -----------------------------------------------------------------------------------
    def find(self, entity: str | None, project: str | None, name: str) -> Sweep | None:
        """The sweep ``name`` in ``entity/project``; with no project, the only sweep of that name."""
        with self.backend.lock:
            entity = entity or self.backend.entity
            if project:
                return self.sweeps.get((entity, project, name))
            found = [s for (e, _, n), s in self.sweeps.items() if n == name and e == entity]
            return found[0] if len(found) == 1 else None

    def get(self, path: str) -> Sweep:
        """The sweep at ``entity/project/name``, ``project/name`` or ``name``.

        Raises:
            KeyError: naming the path.
        """
        parts = path.strip("/").split("/")
        entity = parts[-3] if len(parts) >= 3 else None
        project = parts[-2] if len(parts) >= 2 else None
        sweep = self.find(entity, project, parts[-1])
        if sweep is None:
            raise KeyError(NO_SUCH_SWEEP.format(path=path))
        return sweep

    def by_storage_id(self, storage_id: str) -> Sweep:
        """The sweep whose opaque ``id`` this is.

        Raises:
            KeyError: naming the id.
        """
        with self.backend.lock:
            for sweep in self.sweeps.values():
                if sweep.storage_id == storage_id:
                    return sweep
            raise KeyError(NO_SUCH_SWEEP.format(path=storage_id))

    def agent(self, agent_id: str) -> SweepAgent:
        """The agent with that id.

        Raises:
            KeyError: naming the id.
        """
        with self.backend.lock:
            found = self.agents.get(agent_id)
            if found is None:
                raise KeyError(NO_SUCH_AGENT.format(agent_id=agent_id))
            return found

    def run_record(self, sweep: Sweep, run_id: str) -> RunRecord | None:
        """The backend's record of a sweep run."""
        return self.backend.get(sweep.entity, sweep.project, run_id)

    # ---- creating and changing sweeps ---------------------------------------------------------------
    def create(
        self,
        config: str | Mapping[str, Any],
        entity: str | None = None,
        project: str | None = None,
        seed: str | int | None = None,
        description: str | None = None,
        display_name: str | None = None,
        prior_runs: Sequence[str] | None = None,
    ) -> Sweep:
        """Create a sweep (``wandb sweep cfg.yaml``, ``UpsertSweep`` without ``id``).

        Args:
            config: the YAML text (or a mapping).
            entity: default: the backend's entity.
            project: default: the config's ``project``, else ``uncategorized``.
            seed: the random search's seed; default: the sweep's name.
            prior_runs: ids of runs of the sweep's project to link to it (``wandb.sweep(...,
                prior_runs=[...])``): their ``sweep`` becomes this sweep.

        Raises:
            SweepConfigError: see :func:`parse_sweep_config`; a prior run that does not exist in the
                project, or is a run of another sweep (nothing is created).
        """
        parsed = parse_sweep_config(config)
        priors = list(prior_runs or [])
        if not all(isinstance(r, str) and r for r in priors):
            raise _bad(f"priorRuns must be a list of run ids, got {prior_runs!r}")
        if isinstance(config, str):
            text = config
        else:
            import yaml

            text = yaml.safe_dump(dict(config))
        with self.backend.lock:
            now = self.backend.now()
            entity = entity or parsed.get("entity") or self.backend.entity
            project = project or parsed.get("project") or "uncategorized"
            records = []
            for rid in priors:
                rec = self.backend.get(str(entity), str(project), rid)
                if rec is None:
                    raise _bad(f"prior run {entity}/{project}/{rid} does not exist")
                if rec.sweep is not None:
                    raise _bad(f"prior run {rec.key.path} already belongs to sweep {rec.sweep}")
                records.append(rec)
            name = f"swp{next(self._numbers):05d}"
            sweep = Sweep(
                name=name,
                entity=str(entity),
                project=str(project),
                storage_id=_b64(f"Sweep:{name}"),
                config=parsed,
                config_yaml=text,
                seed=str(seed) if seed is not None else name,
                created_at=now,
                updated_at=now,
                description=description,
                display_name=display_name,
                prior_runs=priors,
            )
            self.sweeps[(sweep.entity, sweep.project, name)] = sweep
            for rec in records:
                rec.sweep = name
                rec.event(now, "sweep", f"linked to sweep {name} as a prior run")
            limit = sweep.max_runs()
            sweep.event(
                now,
                "create",
                f"method {sweep.method}, {'unbounded' if limit is None else limit} runs at most, seed {sweep.seed!r}",
            )
            self._changed()
            return sweep

    def update_config(self, sweep: Sweep, config: str | Mapping[str, Any]) -> Sweep:
        """Replace the config (``wandb sweep --update``); runs and queue are kept.

        Raises:
            SweepConfigError: see :func:`parse_sweep_config`.
        """
        parsed = parse_sweep_config(config)
        with self.backend.lock:
            sweep.config = parsed
            if isinstance(config, str):
                sweep.config_yaml = config
            sweep.updated_at = self.backend.now()
            sweep.event(sweep.updated_at, "update", "config replaced")
            self._changed()
            return sweep

    def state(self, sweep: Sweep) -> str:
        """The sweep's state now (R86, R87): ``pending`` until an agent registers, the user's state,
        or ``finished`` once the search is exhausted, the queue is empty and no run of the sweep is
        active."""
        with self.backend.lock:
            self._requeue_preempted(sweep)
            if sweep.user_state != SWEEP_RUNNING:
                return sweep.user_state
            if sweep.search_exhausted() and not sweep.queue and not self._active_runs(sweep):
                return SWEEP_FINISHED
            return SWEEP_RUNNING

    def set_state(self, sweep: Sweep, state: str) -> str:
        """Change the state the way ``wandb sweep --pause/--resume/--stop/--cancel`` does (R86).

        Args:
            state: a model state (``paused``...) or a wire state (``PAUSED``, ``FINISHED`` for
                ``--stop``, ``CANCELED``...).

        Returns:
            The new state.

        A pending sweep (no agent yet) can be resumed (it is then running), paused, stopped or
        cancelled. (``wandb sweep --pause`` refuses a pending sweep in the client, "Cannot pause
        pending sweep", before it asks; the server's answer to the request is not documented, so the
        fake accepts it.)

        Raises:
            SweepStateError: for an unknown state, pausing a sweep that is not running or paused,
                stopping or cancelling one that already ended, resuming a cancelled one.
        """
        new = FROM_WIRE_STATES.get(state, state)
        if new not in (SWEEP_RUNNING, SWEEP_PAUSED, SWEEP_STOPPED, SWEEP_CANCELLED):
            raise SweepStateError(f"unknown sweep state {state!r}; expected one of {sorted(FROM_WIRE_STATES)}")
        with self.backend.lock:
            old = self.state(sweep)
            allowed = {
                SWEEP_PAUSED: (SWEEP_PENDING, SWEEP_RUNNING, SWEEP_PAUSED),
                SWEEP_STOPPED: (SWEEP_PENDING, SWEEP_RUNNING, SWEEP_PAUSED),
                SWEEP_CANCELLED: (SWEEP_PENDING, SWEEP_RUNNING, SWEEP_PAUSED, SWEEP_STOPPED),
                SWEEP_RUNNING: (SWEEP_PENDING, SWEEP_RUNNING, SWEEP_PAUSED, SWEEP_STOPPED, SWEEP_FINISHED),
            }[new]
            if old not in allowed:
                raise SweepStateError(BAD_SWEEP_TRANSITION.format(path=sweep.path, old=old, new=new))
            sweep.user_state = new
            sweep.updated_at = self.backend.now()
            sweep.event(sweep.updated_at, "state", f"{old} -> {new} (R86)")
            if new == SWEEP_CANCELLED and old != SWEEP_CANCELLED:
                # R59: only cancelling stops running runs (their agents SIGKILL them): they end killed.
                # Pausing or stopping leaves running runs alone.
                for rid in sweep.runs:
                    rec = self.run_record(sweep, rid)
                    if rec is not None:
                        self.backend.kill_on_silence(rec)
            self._changed()
            return self.state(sweep)

    # ---- agents -------------------------------------------------------------------------------------
    def create_agent(self, entity: str | None, project: str | None, sweep_name: str, host: str) -> SweepAgent:
        """Register an agent (``CreateAgent``).

        Raises:
            KeyError: if there is no such sweep.
        """
        with self.backend.lock:
            sweep = self.find(entity, project, sweep_name)
            if sweep is None:
                raise KeyError(NO_SUCH_SWEEP.format(path=f"{entity}/{project}/{sweep_name}"))
            now = self.backend.now()
            agent_id = _b64(f"Agent:a{next(self._agent_numbers):07d}")
            agent = SweepAgent(agent_id, sweep.name, sweep.entity, sweep.project, host, now)
            self.agents[agent_id] = agent
            sweep.event(now, "agent", f"agent {agent_id} registered from {host}")
            if sweep.user_state == SWEEP_PENDING:
                sweep.user_state = SWEEP_RUNNING
                sweep.event(now, "state", "pending -> running: an agent asked for runs")
            self._changed()
            return agent

    def heartbeat(self, agent_id: str, run_state: Mapping[str, Any]) -> list[dict[str, Any]]:
        """An agent's heartbeat: note which of its runs are alive, answer its commands.

        Args:
            agent_id: from :meth:`create_agent`.
            run_state: run id -> ``True`` for each run process still alive (a run that ended is
                left out, NOTES 1.8).

        Returns:
            The commands (``run``, ``resume``, ``stop``, ``exit``), at most one new run.

        Raises:
            KeyError: for an unknown agent.
        """
        with self.backend.lock:
            agent = self.agent(agent_id)
            sweep = self.find(agent.entity, agent.project, agent.sweep)
            if sweep is None:  # pragma: no cover - sweeps are never deleted
                raise KeyError(NO_SUCH_SWEEP.format(path=agent.sweep))
            now = self.backend.now()
            agent.last_heartbeat = now
            agent.heartbeats += 1
            alive = {str(rid) for rid, up in run_state.items() if up}
            for srun in sweep.runs.values():
                if srun.agent_id == agent_id:
                    if srun.alive and srun.run_id not in alive:
                        self._run_event(sweep, srun.run_id, "sweep", f"agent {agent_id} reports its process ended")
                    srun.alive = srun.run_id in alive
            agent.running = alive
            commands = self._commands(sweep, agent, alive)
            agent.commands.extend(commands)
            if any(c["type"] == "exit" for c in commands):
                agent.exited = True
            self._changed()
            return commands

    def _commands(self, sweep: Sweep, agent: SweepAgent, alive: set[str]) -> list[dict[str, Any]]:
        state = self.state(sweep)
        if state == SWEEP_CANCELLED:
            return [{"type": "exit"}]  # the agent SIGKILLs its runs: no handler runs (R86)
        commands: list[dict[str, Any]] = []
        for rid in sorted(alive):
            rec = self.run_record(sweep, rid)
            if rec is not None and rec.attempt is not None and rec.attempt.stop_requested and not rec.attempt.complete:
                commands.append({"type": "stop", "run_id": rid})  # R58, R88
        if alive:
            return commands  # one run at a time per agent
        if state in (SWEEP_STOPPED, SWEEP_FINISHED):
            return [{"type": "exit"}]  # R80, R86
        if state == SWEEP_PAUSED:
            return []  # R86
        srun = self._pop_queue(sweep)
        kind = "resume"
        if srun is None:
            if sweep.search_exhausted():
                return []  # a run of the sweep is still active and may come back (R81)
            srun = self._new_run(sweep)
            kind = "run"
        return [self._hand_out(sweep, agent, srun, kind)]

    def _pop_queue(self, sweep: Sweep) -> SweepRun | None:
        """The first queued run that is still preempted (R82); stale entries (the run was restarted
        outside the sweep meanwhile) are dropped."""
        while sweep.queue:
            rid = sweep.queue.popleft()
            rec = self.run_record(sweep, rid)
            if rec is not None and self.backend.state(rec) == PREEMPTED:
                return sweep.runs[rid]
            self._run_event(sweep, rid, "sweep", "dropped from the run queue: no longer preempted")
        return None

    def _new_run(self, sweep: Sweep) -> SweepRun:
        index = len(sweep.runs)
        if sweep.method == "bayes":
            values = bayes.propose(
                sweep.config["parameters"], sweep.seed, index, sweep.config["metric"],
                self.observations(sweep), sample_parameter,
            )  # fmt: skip
        else:
            values = sweep.combination(index)
        run_id = f"{sweep.name}-r{index + 1:03d}"
        srun = SweepRun(run_id, index, {k: {"value": v} for k, v in values.items()})
        sweep.runs[run_id] = srun
        rec = self.backend.create_run(run_id, project=sweep.project, entity=sweep.entity, config=values)
        rec.sweep = sweep.name
        return srun

    def observations(self, sweep: Sweep) -> list[tuple[dict[str, Any], float]]:
        """What a bayes search learns from: ``(config values, metric)`` of the sweep's prior runs and
        finished runs whose summary holds the metric, prior runs first, then in creation order."""
        metric = (sweep.config.get("metric") or {}).get("name")
        out: list[tuple[dict[str, Any], float]] = []
        for rid in [*sweep.prior_runs, *sweep.runs]:
            rec = self.run_record(sweep, rid)
            if rec is None or metric is None or self.backend.state(rec) != "finished":
                continue
            value = rec.summary.get(metric)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                config = {k: v.get("value") if isinstance(v, dict) else v for k, v in rec.config.items()}
                out.append((config, float(value)))
        return out

    def agent_runs(self, agent: SweepAgent) -> list[str]:
        """Ids of the runs handed to ``agent``, in the order it got them (each once)."""
        with self.backend.lock:
            sweep = self.find(agent.entity, agent.project, agent.sweep)
            seen = [h.run_id for h in (sweep.handouts if sweep else []) if h.agent_id == agent.id]
            return list(dict.fromkeys(seen))

    def _hand_out(self, sweep: Sweep, agent: SweepAgent, srun: SweepRun, kind: str) -> dict[str, Any]:
        now = self.backend.now()
        handout = Handout(now, srun.run_id, agent.id, kind, copy.deepcopy(srun.params))
        srun.handouts.append(handout)
        sweep.handouts.append(handout)
        srun.agent_id = agent.id
        srun.alive = True
        rec = self.run_record(sweep, srun.run_id)
        srun.attempts_at_handout = len(rec.attempts) if rec is not None else 0
        # The parameters travel as the command's args; the agent writes them to the run's param file,
        # and the SDK lays them over the keys passed to wandb.init(config=...) (R90).
        command: dict[str, Any] = {"type": kind, "run_id": srun.run_id, "args": copy.deepcopy(srun.params)}
        if sweep.program is not None:
            command["program"] = sweep.program
        why = "from the run queue, same id and parameters (R81, R82)" if kind == "resume" else "new combination"
        self._run_event(
            sweep, srun.run_id, "sweep", f"handed to agent {agent.id} as {kind!r} {json.dumps(srun.params)}: {why}"
        )
        return command

    # ---- the run queue ------------------------------------------------------------------------------
    def run_ended(self, rec: RunRecord) -> bool:
        """Hook: a run reported its exit. Requeue it if it belongs to a sweep and is preempted.

        Returns:
            Whether it was requeued.
        """
        with self.backend.lock:
            if rec.sweep is None:
                return False
            sweep = self.find(rec.key.entity, rec.key.project, rec.sweep)
            if sweep is None or rec.key.run_id not in sweep.runs:
                return False
            return self._maybe_requeue(sweep, sweep.runs[rec.key.run_id])

    def _requeue_preempted(self, sweep: Sweep) -> None:
        """Requeue runs that became preempted by the clock (preempting flag, then silence, R70c/e)."""
        for srun in sweep.runs.values():
            self._maybe_requeue(sweep, srun)

    def _maybe_requeue(self, sweep: Sweep, srun: SweepRun) -> bool:
        rec = self.run_record(sweep, srun.run_id)
        if rec is None or rec.attempt is None or self.backend.state(rec) != PREEMPTED:
            return False
        number = rec.attempt.number
        if number in srun.requeued_attempts or srun.run_id in sweep.queue:
            return False
        srun.requeued_attempts.append(number)
        sweep.queue.append(srun.run_id)
        self._run_event(
            sweep,
            srun.run_id,
            "requeue",
            f"preempted (process {number}): back on the run queue of sweep {sweep.name}, "
            f"position {len(sweep.queue)} (R81, R72)",
        )
        self._changed()
        return True

    def _active_runs(self, sweep: Sweep) -> list[str]:
        """Runs of the sweep that may still end preempted: running or preempting, or handed out and
        not started yet by an agent that reports (or has not yet reported) them alive and was heard
        from within the crash timeout (R61)."""
        now = self.backend.now()
        out = []
        for srun in sweep.runs.values():
            rec = self.run_record(sweep, srun.run_id)
            state = self.backend.state(rec) if rec is not None else PENDING
            started = rec is not None and len(rec.attempts) > srun.attempts_at_handout
            agent = self.agents.get(srun.agent_id) if srun.agent_id else None
            heard = None if agent is None else (agent.last_heartbeat or agent.created_at)
            fresh = heard is not None and now - heard < self.backend.crash_timeout
            if state in (RUNNING, PREEMPTING) or (not started and srun.alive and fresh):
                out.append(srun.run_id)
        return out

    def _run_event(self, sweep: Sweep, run_id: str, kind: str, detail: str) -> None:
        now = self.backend.now()
        sweep.event(now, kind, f"{run_id}: {detail}")
        rec = self.run_record(sweep, run_id)
        if rec is not None:
            rec.event(now, kind, detail)
