"""The core of the sweep controller: the sweeps and agents it holds, looking them up, a sweep's state
(R86, R87) and the run queue (R81, R72), on a narrow protocol of the run store.

Pure. :class:`SweepRunStore` is everything the controller uses of the store; the store does not know
the controller (it tells it of ended runs and resets through listeners the composition root,
:class:`~.model.Model`, registers). The agents' side is :mod:`.sweep_agents`; creating and
changing sweeps, :mod:`.sweeps`.
"""

from __future__ import annotations

import base64
import itertools
from contextlib import AbstractContextManager
from typing import Any, Protocol

from .limits import Limits
from .runs import PENDING, PREEMPTED, PREEMPTING, RUNNING, RunRecord
from .sweep_records import (
    NO_SUCH_AGENT,
    NO_SUCH_SWEEP,
    SWEEP_FINISHED,
    SWEEP_RUNNING,
    Sweep,
    SweepAgent,
    SweepRun,
)
from .tags import implements


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


def opaque_id(text: str) -> str:
    """The wire's opaque id for ``text`` (``Sweep:swp00001`` -> base64), as W&B's ids look."""
    return base64.b64encode(text.encode()).decode()


class SweepsBase:
    """The sweeps and agents of one server, their lookup, state and run queue.

    Args:
        store: the run store the sweep runs live in; its lock, clock and crash timeout are used.

    Every public method takes the store's lock and tells the store after a change
    (``notify_changed``), so ``model.wait_for(...)`` sees sweep changes too. The composition root
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

    def find(self, entity: str | None, project: str | None, name: str) -> Sweep | None:
        """The sweep ``name`` in ``entity/project``; with no project, the only sweep of that name."""
        with self.store.lock:
            entity = entity or self.store.entity
            if project:
                return self.sweeps.get((entity, project, name))
            found = [s for (e, _, n), s in self.sweeps.items() if n == name and e == entity]
            return found[0] if len(found) == 1 else None

    def in_project(self, entity: str | None, project: str) -> list[Sweep]:
        """The sweeps of ``entity/project`` (default entity if ``None``), oldest first
        (``Project.sweeps()`` in W&B's public API); empty for a project without sweeps."""
        with self.store.lock:
            entity = entity or self.store.entity
            return [s for (e, p, _), s in self.sweeps.items() if e == entity and p == project]

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

    def run_configs(self, sweep: Sweep) -> list[dict[str, Any]]:
        """The configs of the sweep's runs as W&B's server gives them to its sweeps engine: every
        prior run (``priorRuns``), then every run of the sweep, whatever its state, as stored now
        (``{name: {"value": v, ...}}``); a run the store no longer holds is left out. A grid skips the
        combinations these hold (docs/sweeps.md, "Differences from W&B's sweeps engine")."""
        out: list[dict[str, Any]] = []
        for rid in [*sweep.prior_runs, *sweep.runs]:
            rec = self.run_record(sweep, rid)
            if rec is not None:
                out.append(rec.config)
        return out

    @implements("R87")
    def state(self, sweep: Sweep) -> str:
        """The sweep's state now (R86, R87): ``pending`` until an agent registers, the user's state,
        or ``finished`` once the search is exhausted, the queue is empty and no run of the sweep is
        active."""
        with self.store.lock:
            self._requeue_preempted(sweep)
            if sweep.user_state != SWEEP_RUNNING:
                return sweep.user_state
            if sweep.search_exhausted(self.run_configs(sweep)) and not sweep.queue and not self._active_runs(sweep):
                return SWEEP_FINISHED
            return SWEEP_RUNNING

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

    @implements("R70c", "R70e", "R81")
    def _requeue_preempted(self, sweep: Sweep) -> None:
        """Requeue runs that became preempted by the clock (preempting flag, then silence, R70c/e)."""
        for srun in sweep.runs.values():
            self._maybe_requeue(sweep, srun)

    @implements("R72", "R81")
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
