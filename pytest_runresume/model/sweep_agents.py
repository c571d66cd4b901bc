"""The agents' side of the sweep controller: registering an agent (``CreateAgent``), its heartbeats and
the commands they answer (``run``/``resume``/``stop``/``exit``; R58, R80-R82, R86, R88), handing out
queued runs before new combinations, and the bayes proposals' observations.

Pure; works under the run store's lock like the rest of the controller (:mod:`.sweep_base`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from . import bayes, messages
from . import sweep_records as records
from .errors import LimitExceeded
from .runs import PREEMPTED
from .search import sample_parameter
from .sweep_base import SweepsBase, opaque_id
from .sweep_records import NO_SUCH_SWEEP, Handout, Sweep, SweepAgent, SweepRun
from .tags import implements


class AgentOps(SweepsBase):
    """Agents, heartbeats and hand-outs of the sweep controller."""

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
            agent_id = opaque_id(f"Agent:a{next(self._agent_numbers):07d}")
            agent = SweepAgent(agent_id, sweep.name, sweep.entity, sweep.project, host, now)
            self.agents[agent_id] = agent
            sweep.event(now, "agent", f"agent {agent_id} registered from {host}")
            if sweep.user_state == records.SWEEP_PENDING:
                sweep.user_state = records.SWEEP_RUNNING
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

    @implements("R58", "R80", "R86", "R88")
    def _commands(self, sweep: Sweep, agent: SweepAgent, alive: set[str]) -> list[dict[str, Any]]:
        state = self.state(sweep)
        if state == records.SWEEP_CANCELLED:
            return [{"type": "exit"}]  # the agent SIGKILLs its runs: no handler runs (R86)
        commands: list[dict[str, Any]] = []
        for rid in sorted(alive):
            rec = self.run_record(sweep, rid)
            if rec is not None and rec.attempt is not None and rec.attempt.stop_requested and not rec.attempt.complete:
                commands.append({"type": "stop", "run_id": rid})  # R58, R88
        if alive:
            return commands  # one run at a time per agent
        if state in (records.SWEEP_STOPPED, records.SWEEP_FINISHED):
            return [{"type": "exit"}]  # R80, R86
        if state == records.SWEEP_PAUSED:
            return []  # R86
        srun = self._pop_queue(sweep)
        kind = "resume"
        if srun is None:
            if sweep.search_exhausted(self.run_configs(sweep)):
                return []  # a run of the sweep is still active and may come back (R81)
            srun = self._new_run(sweep)
            kind = "run"
        return [self._hand_out(sweep, agent, srun, kind)]

    @implements("R82")
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
            found = sweep.next_combination(self.run_configs(sweep))
            if found is None:  # the caller checked search_exhausted under the same lock
                raise AssertionError(f"sweep {sweep.path}: no grid combination left for a new run")
            values = found[1]
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

    @implements("R81", "R82", "R90")
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
