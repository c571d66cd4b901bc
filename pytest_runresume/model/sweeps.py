"""Sweeps of the reference model: the sweep controller, its agents and its run queue.

Pure: no sockets, files or subprocesses. :class:`Sweeps` depends on a narrow view of the run store
(:class:`SweepRunStore`: its lock, clock, runs and crash timeout) and hears of ended runs through
the store's listeners; :class:`~.model.Model`, the composition root, builds both and hangs the
controller off the model as ``model.sweeps``. The search space (parsing, distributions, grid and
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
  linked to it (their ``sweep`` is set; a bayes search learns from them); each must exist. A grid
  skips every combination a run of the sweep holds, prior runs included, whatever its state, as W&B's
  sweeps engine does (:func:`.search.next_grid_combination`, docs/sweeps.md).
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

from collections.abc import Mapping, Sequence
from typing import Any

from . import messages
from .errors import LimitExceeded
from .search import (
    SweepConfigError,
    bad_config,
    parse_sweep_config,
)
from .sweep_agents import AgentOps
from .sweep_base import SweepRunStore, opaque_id
from .sweep_records import (
    BAD_SWEEP_TRANSITION,
    FROM_WIRE_STATES,
    SWEEP_CANCELLED,
    SWEEP_FINISHED,
    SWEEP_PAUSED,
    SWEEP_PENDING,
    SWEEP_RUNNING,
    SWEEP_STOPPED,
    WIRE_STATES,
    Sweep,
    SweepAgent,
    SweepStateError,
)
from .tags import implements

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


def check_display_name(display_name: object) -> str:
    """``display_name`` if it is a string with a non-blank character.

    Raises:
        ValueError: naming the bad value (``displayName``, its GraphQL name).
    """
    if not isinstance(display_name, str) or not display_name.strip():
        raise ValueError(f"a sweep's displayName must be a non-blank string, got {display_name!r:.80}")
    return display_name


class Sweeps(AgentOps):
    """Every sweep and agent of one server: the sweep controller.

    Args:
        store: the run store the sweep runs live in; its lock, clock and crash timeout are used.

    Every public method takes the store's lock and tells the store after a change
    (``notify_changed``), so ``model.wait_for(...)`` sees sweep changes too. The composition root
    registers :meth:`run_ended` and :meth:`reset` as the store's listeners.
    """

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
            raise bad_config(f"priorRuns must be a list of run ids, got {prior_runs!r}")
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
                    raise bad_config(f"prior run {entity}/{project}/{rid} does not exist")
                if rec.sweep is not None:
                    raise bad_config(f"prior run {rec.key.path} already belongs to sweep {rec.sweep}")
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
                storage_id=opaque_id(f"Sweep:{name}"),
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

    def rename(self, sweep: Sweep, display_name: str) -> Sweep:
        """Give the sweep a display name (``UpsertSweep`` with its ``id`` and ``displayName``;
        the W&B app's rename). ``Sweep.name`` in the public API is then this name.

        Raises:
            ValueError: ``display_name`` is not a string with a non-blank character (nothing changes).
        """
        check_display_name(display_name)
        with self.store.lock:
            sweep.display_name = display_name
            sweep.updated_at = self.store.now()
            sweep.event(sweep.updated_at, "update", f"renamed {display_name!r}")
            self._changed()
            return sweep

    @implements("R59", "R86")
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
