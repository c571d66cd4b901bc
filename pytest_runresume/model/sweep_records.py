"""The records of the sweep controller: a sweep's states, its runs, agents and hand-outs.

Data only (the controller, :mod:`.sweeps`, changes them under the run store's lock); the wire and
the pages read them. The wire names of the states are the SDK's (``RUNNING``, ``PAUSED``,
``FINISHED``, ``CANCELED``; ``wandb sweep --stop`` writes ``FINISHED``, so ``stopped`` is answered as
``FINISHED`` too).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import search
from .errors import RuleViolation
from .runs import TimelineEvent
from .tags import implements

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

# ---- texts --------------------------------------------------------------------------------------
NO_SUCH_SWEEP = "sweep {path!r} does not exist"
NO_SUCH_AGENT = "sweep agent {agent_id!r} does not exist (CreateAgent was never called for it)"
BAD_SWEEP_TRANSITION = "cannot set sweep {path} from {old} to {new} (R86)"


class SweepStateError(RuleViolation):
    """A state change that is not allowed (e.g. resuming a cancelled sweep, R86)."""


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
        index: its number in the sweep (0 for the first run; its run id ends in ``index + 1``).
            A grid run's combination is not always combination ``index``: a grid skips the
            combinations prior runs hold (see :meth:`Sweep.next_combination`).
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
        config: the parsed config (see :func:`.search.parse_sweep_config`).
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
    _grid: search.GridIndex | None = field(default=None, repr=False, compare=False)

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
        return search.grid_size(self.config["parameters"])

    @implements("R89")
    def max_runs(self) -> int | None:
        """How many runs the search creates at most: the grid size and ``run_cap`` (R89)."""
        limits = [x for x in (self.grid_size(), self.run_cap) if x is not None]
        return min(limits) if limits else None

    def own_run_configs(self) -> list[dict[str, Any]]:
        """The configs of the sweep's own runs as they were handed out (``{name: {"value": v}}``):
        what :meth:`search_exhausted` and :meth:`next_combination` read when given no configs."""
        return [srun.params for srun in self.runs.values()]

    def search_exhausted(self, run_configs: Iterable[Mapping[str, Any]] | None = None) -> bool:
        """No new combination is left: ``run_cap`` is reached (R89; only the sweep's own runs count)
        or, for a grid, every combination is held by a run (see :meth:`next_combination`).

        Args:
            run_configs: the configs of every run of the sweep, prior runs included, as W&B stores
                them; default: :meth:`own_run_configs`.
        """
        if self.run_cap is not None and len(self.runs) >= self.run_cap:
            return True
        return self.method == "grid" and self.next_combination(run_configs) is None

    def next_combination(self, run_configs: Iterable[Mapping[str, Any]] | None = None) -> tuple[int, dict[str, Any]] | None:
        """The combination the sweep's next new run gets, ``(number, plain values)``, or ``None``
        when a grid is done (``run_cap`` is not looked at: see :meth:`search_exhausted`).

        A grid skips every combination a run of the sweep already holds, prior runs (``priorRuns``)
        included, whatever their state, as W&B's sweeps engine does
        (:func:`.search.next_grid_combination`, docs/sweeps.md "Differences from W&B's sweeps
        engine"). A random search gives combination ``len(runs)``; a bayes search is the
        controller's (:mod:`.bayes`), this gives its random draw.

        Args:
            run_configs: as for :meth:`search_exhausted`.
        """
        if self.method != "grid":
            return len(self.runs), self.combination(len(self.runs))
        configs = self.own_run_configs() if run_configs is None else run_configs
        parameters = self.config["parameters"]
        if self._grid is None or self._grid.parameters is not parameters:  # built once per config
            self._grid = search.GridIndex(parameters)
        return self._grid.first_not_held(configs)

    def combination(self, index: int) -> dict[str, Any]:
        """The parameter values of combination ``index`` (0-based), as plain values
        (:func:`.search.combination` with the sweep's method, parameters and seed).

        Raises:
            IndexError: past the end of the grid.
        """
        return search.combination(self.method, self.config["parameters"], self.seed, index)

    def event(self, t: float, kind: str, detail: str) -> None:
        self.timeline.append(TimelineEvent(t, kind, detail))
