"""Sweeps of the reference model: the sweep controller, its agents and its run queue.

Pure: no sockets, files or subprocesses. :class:`Sweeps` depends on a narrow view of the run store
(:class:`SweepRunStore`: its lock, clock, runs and crash timeout) and hears of ended runs through
the store's listeners; :class:`~.backend.Backend`, the composition root, builds both and hangs the
controller off the model as ``backend.sweeps``. The search space (parsing, distributions, grid and
random combinations) is :mod:`.search`; the records are :mod:`.sweep_records`. The wire turns the
GraphQL operations of ``wandb sweep`` and ``wandb agent`` (``UpsertSweep``, ``SweepWithRuns``,
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

"""

from __future__ import annotations

import base64
import copy
import itertools
import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from . import bayes, messages
from .errors import LimitExceeded
from .limits import Limits
from .runs import PENDING, PREEMPTED, PREEMPTING, RUNNING, RunRecord
from .search import (
    SweepConfigError,
    _bad,
    parse_sweep_config,
    sample_parameter,
)
from .sweep_records import (
    BAD_SWEEP_TRANSITION,
    FROM_WIRE_STATES,
    NO_SUCH_AGENT,
    NO_SUCH_SWEEP,
    SWEEP_CANCELLED,
    SWEEP_FINISHED,
    SWEEP_PAUSED,
    SWEEP_PENDING,
    SWEEP_RUNNING,
    SWEEP_STOPPED,
    WIRE_STATES,
    Handout,
    Sweep,
    SweepAgent,
    SweepRun,
    SweepStateError,
)

__all__ = [  # the controller, and the names tests, the wire and the pages import from here
    "SWEEP_CANCELLED",
    "SWEEP_FINISHED",
    "SWEEP_PAUSED",
    "SWEEP_PENDING",
    "SWEEP_RUNNING",
    "SWEEP_STOPPED",
    "WIRE_STATES",
    "Sweep",
    "SweepAgent",
    "SweepConfigError",
    "SweepRunStore",
    "SweepStateError",
    "Sweeps",
    "parse_sweep_config",
]


class SweepRunStore(Protocol):
    """What the sweep controller needs of the run store, and nothing more.

    The controller works under the store's lock, so that a sweep's state and its runs' states are
    read and changed together; it never touches the store's dicts.
    """

    entity: str
    crash_timeout: float
    limits: Limits

    @property
    def lock(self) -> AbstractContextManager[Any]:
        """The store's (re-entrant) lock."""

    def now(self) -> float:
        """The store's clock, seconds."""

    def get(self, entity: str | None, project: str | None, run_id: str) -> RunRecord | None:
        """The run at that path, or ``None``."""

    def state(self, run: RunRecord) -> str:
        """The run's state now."""

    def create_run(self, run_id: str, *, project: str, entity: str, config: dict[str, Any]) -> RunRecord:
        """Create a pending run with that config (R53)."""

    def kill_on_silence(self, run: RunRecord) -> bool:
        """Mark the run's current process as killed by a cancelled sweep (R59)."""

    def notify_changed(self) -> None:
        """Tell waiters that the model changed (called under the lock)."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ---- the controller -----------------------------------------------------------------------------
class Sweeps:
    """Every sweep and agent of one server: the sweep controller.

    Args:
        store: the run store the sweep runs live in; its lock, clock and crash timeout are used.

    Every public method takes the store's lock and tells the store after a change
    (``notify_changed``), so ``backend.wait_for(...)`` sees sweep changes too. The composition root
    registers :meth:`run_ended` and :meth:`reset` as the store's listeners.
    """

    def __init__(self, store: SweepRunStore) -> None:
        self.store = store
        self.sweeps: dict[tuple[str, str, str], Sweep] = {}
        self.agents: dict[str, SweepAgent] = {}
        self._numbers = itertools.count(1)
        self._agent_numbers = itertools.count(1)

    def reset(self) -> None:
        """Forget every sweep and agent."""
        with self.store.lock:
            self.sweeps.clear()
            self.agents.clear()
            self._numbers = itertools.count(1)
            self._agent_numbers = itertools.count(1)

    def _changed(self) -> None:
        self.store.notify_changed()

    # ---- lookup -----------------------------------------------------------------------------------
    def find(self, entity: str | None, project: str | None, name: str) -> Sweep | None:
        """The sweep ``name`` in ``entity/project``; with no project, the only sweep of that name."""
        with self.store.lock:
            entity = entity or self.store.entity
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
        with self.store.lock:
            for sweep in self.sweeps.values():
                if sweep.storage_id == storage_id:
                    return sweep
            raise KeyError(NO_SUCH_SWEEP.format(path=storage_id))

    def agent(self, agent_id: str) -> SweepAgent:
        """The agent with that id.

        Raises:
            KeyError: naming the id.
        """
        with self.store.lock:
            found = self.agents.get(agent_id)
            if found is None:
                raise KeyError(NO_SUCH_AGENT.format(agent_id=agent_id))
            return found

    def run_record(self, sweep: Sweep, run_id: str) -> RunRecord | None:
        """The store's record of a sweep run."""
        return self.store.get(sweep.entity, sweep.project, run_id)

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
            entity: default: the store's entity.
            project: default: the config's ``project``, else ``uncategorized``.
            seed: the random search's seed; default: the sweep's name.
            prior_runs: ids of runs of the sweep's project to link to it (``wandb.sweep(...,
                prior_runs=[...])``): their ``sweep`` becomes this sweep.

        Raises:
            SweepConfigError: see :func:`parse_sweep_config`; a prior run that does not exist in the
                project, or is a run of another sweep (nothing is created).
            LimitExceeded: the backend already holds ``limits.max_sweeps`` sweeps (nothing is
                created, no prior run is linked).
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
        with self.store.lock:
            now = self.store.now()
            entity = entity or parsed.get("entity") or self.store.entity
            project = project or parsed.get("project") or "uncategorized"
            records = []
            for rid in priors:
                rec = self.store.get(str(entity), str(project), rid)
                if rec is None:
                    raise _bad(f"prior run {entity}/{project}/{rid} does not exist")
                if rec.sweep is not None:
                    raise _bad(f"prior run {rec.key.path} already belongs to sweep {rec.sweep}")
                records.append(rec)
            if len(self.sweeps) >= self.store.limits.max_sweeps:
                cap = self.store.limits.max_sweeps
                raise LimitExceeded(
                    messages.TOO_MANY_SWEEPS.format(path=f"{entity}/{project}", limit=cap), "max_sweeps"
                )
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
        with self.store.lock:
            sweep.config = parsed
            if isinstance(config, str):
                sweep.config_yaml = config
            sweep.updated_at = self.store.now()
            sweep.event(sweep.updated_at, "update", "config replaced")
            self._changed()
            return sweep

    def state(self, sweep: Sweep) -> str:
        """The sweep's state now (R86, R87): ``pending`` until an agent registers, the user's state,
        or ``finished`` once the search is exhausted, the queue is empty and no run of the sweep is
        active."""
        with self.store.lock:
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
        with self.store.lock:
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
            sweep.updated_at = self.store.now()
            sweep.event(sweep.updated_at, "state", f"{old} -> {new} (R86)")
            if new == SWEEP_CANCELLED and old != SWEEP_CANCELLED:
                # R59: only cancelling stops running runs (their agents SIGKILL them): they end killed.
                # Pausing or stopping leaves running runs alone.
                for rid in sweep.runs:
                    rec = self.run_record(sweep, rid)
                    if rec is not None:
                        self.store.kill_on_silence(rec)
            self._changed()
            return self.state(sweep)

    # ---- agents -------------------------------------------------------------------------------------
    def create_agent(self, entity: str | None, project: str | None, sweep_name: str, host: str) -> SweepAgent:
        """Register an agent (``CreateAgent``).

        Raises:
            KeyError: if there is no such sweep.
            LimitExceeded: the backend already holds ``limits.max_agents`` agents (nothing is
                registered, the sweep's state is kept).
        """
        with self.store.lock:
            sweep = self.find(entity, project, sweep_name)
            if sweep is None:
                raise KeyError(NO_SUCH_SWEEP.format(path=f"{entity}/{project}/{sweep_name}"))
            if len(self.agents) >= self.store.limits.max_agents:
                cap = self.store.limits.max_agents
                raise LimitExceeded(messages.TOO_MANY_AGENTS.format(path=sweep.path, limit=cap), "max_agents")
            now = self.store.now()
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
            LimitExceeded: a new run of the sweep past ``limits.max_runs``; the sweep gets no run.
        """
        with self.store.lock:
            agent = self.agent(agent_id)
            sweep = self.find(agent.entity, agent.project, agent.sweep)
            if sweep is None:  # pragma: no cover - sweeps are never deleted
                raise KeyError(NO_SUCH_SWEEP.format(path=agent.sweep))
            now = self.store.now()
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
            if rec is not None and self.store.state(rec) == PREEMPTED:
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
        # The run first: past max_runs it raises, and the sweep must not hold a run without a record.
        rec = self.store.create_run(run_id, project=sweep.project, entity=sweep.entity, config=values)
        rec.sweep = sweep.name
        srun = SweepRun(run_id, index, {k: {"value": v} for k, v in values.items()})
        sweep.runs[run_id] = srun
        return srun

    def observations(self, sweep: Sweep) -> list[tuple[dict[str, Any], float]]:
        """What a bayes search learns from: ``(config values, metric)`` of the sweep's prior runs and
        finished runs whose summary holds the metric, prior runs first, then in creation order."""
        metric = (sweep.config.get("metric") or {}).get("name")
        out: list[tuple[dict[str, Any], float]] = []
        for rid in [*sweep.prior_runs, *sweep.runs]:
            rec = self.run_record(sweep, rid)
            if rec is None or metric is None or self.store.state(rec) != "finished":
                continue
            value = rec.summary.get(metric)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                config = {k: v.get("value") if isinstance(v, dict) else v for k, v in rec.config.items()}
                out.append((config, float(value)))
        return out

    def agent_runs(self, agent: SweepAgent) -> list[str]:
        """Ids of the runs handed to ``agent``, in the order it got them (each once)."""
        with self.store.lock:
            sweep = self.find(agent.entity, agent.project, agent.sweep)
            seen = [h.run_id for h in (sweep.handouts if sweep else []) if h.agent_id == agent.id]
            return list(dict.fromkeys(seen))

    def _hand_out(self, sweep: Sweep, agent: SweepAgent, srun: SweepRun, kind: str) -> dict[str, Any]:
        now = self.store.now()
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
        with self.store.lock:
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
        if rec is None or rec.attempt is None or self.store.state(rec) != PREEMPTED:
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
        now = self.store.now()
        out = []
        for srun in sweep.runs.values():
            rec = self.run_record(sweep, srun.run_id)
            state = self.store.state(rec) if rec is not None else PENDING
            started = rec is not None and len(rec.attempts) > srun.attempts_at_handout
            agent = self.agents.get(srun.agent_id) if srun.agent_id else None
            heard = None if agent is None else (agent.last_heartbeat or agent.created_at)
            fresh = heard is not None and now - heard < self.store.crash_timeout
            if state in (RUNNING, PREEMPTING) or (not started and srun.alive and fresh):
                out.append(srun.run_id)
        return out

    def _run_event(self, sweep: Sweep, run_id: str, kind: str, detail: str) -> None:
        now = self.store.now()
        sweep.event(now, kind, f"{run_id}: {detail}")
        rec = self.run_record(sweep, run_id)
        if rec is not None:
            rec.event(now, kind, detail)
