"""GraphQL operations of sweeps and agents (NOTES 1.8): ``wandb sweep``, ``wandb agent`` and
``wandb.agent()`` against :class:`~pytest_runresume.model.sweeps.Sweeps`.

- ``UpsertSweep``: every variant the CLI tries (with and without ``launchScheduler``,
  ``templateVariableValues``, ``project``, ``configValidationWarnings``): without ``id`` it creates a
  sweep; with ``id`` (the opaque ``Sweep.id``) it updates the config (``--update``) and/or the state
  (``--pause``/``--resume``/``--stop``/``--cancel`` write ``PAUSED``/``RUNNING``/``FINISHED``/``CANCELED``).
- ``SweepWithRuns`` (the agent reads ``config`` for ``command``; the CLI reads ``id`` and ``state``),
  ``GetSweep``/``GetSweepLegacy``/``GetSweepState`` (public API): ``sweep: null`` when there is none.
- ``CreateAgent``: registers an agent.
- ``Heartbeat`` (``agentHeartbeat``): ``runState`` is a JSON string of the runs still alive;
  ``commands`` is a JSON *string* of a list of ``run``/``resume``/``stop``/``exit`` commands.
"""

from __future__ import annotations

import json
from typing import Any

from ..model.sweeps import WIRE_STATES, Sweep, SweepAgent
from .graphql import Context, _iso, _project, handler
from .limits import load_json


def _sweep_path(ctx: Context, v: dict[str, Any], name_var: str) -> tuple[str, str | None, str]:
    entity = v.get("entity") or v.get("entityName") or ctx.backend.entity
    project = v.get("project") or v.get("projectName")
    return str(entity), project, str(v[name_var])


def _sweep_runs(ctx: Context, sweep: Sweep) -> list[dict[str, Any]]:
    backend = ctx.backend
    edges: list[dict[str, Any]] = []
    for srun in sweep.runs.values():
        rec = ctx.backend.sweeps.run_record(sweep, srun.run_id)
        if rec is None:
            continue
        state = backend.state(rec)
        attempt = rec.attempt
        edges.append(
            {
                "node": {
                    "name": rec.key.run_id,
                    "state": state,
                    "config": json.dumps(rec.config),
                    "exitcode": attempt.exit_code if attempt else None,
                    "heartbeatAt": _iso(attempt.last_heard if attempt else rec.created_at),
                    "shouldStop": bool(attempt and attempt.stop_requested),
                    "failed": state == "failed",
                    "stopped": state == "killed",
                    "running": state in ("running", "preempting"),
                    "summaryMetrics": json.dumps(rec.summary),
                    "sampledHistory": [],
                }
            }
        )
    return edges


def _sweep(ctx: Context, sweep: Sweep, with_runs: bool = False) -> dict[str, Any]:
    """The sweep as ``project.sweep`` (SweepWithRuns, GetSweep) and ``upsertSweep.sweep``; built under
    the backend's lock, so a concurrent heartbeat cannot change the runs half-way."""
    with ctx.backend.lock:
        return _sweep_locked(ctx, sweep, with_runs)


def _sweep_locked(ctx: Context, sweep: Sweep, with_runs: bool) -> dict[str, Any]:
    sweeps = ctx.backend.sweeps
    out: dict[str, Any] = {
        "__typename": "Sweep",
        "id": sweep.storage_id,
        "name": sweep.name,
        "displayName": sweep.display_name,
        "method": sweep.method,
        "state": WIRE_STATES[sweeps.state(sweep)],
        "description": sweep.description,
        "config": sweep.config_yaml,
        "createdAt": _iso(sweep.created_at),
        "heartbeatAt": _iso(sweep.updated_at),
        "updatedAt": _iso(sweep.updated_at),
        "earlyStopJobRunning": False,
        "bestLoss": None,
        "controller": None,
        "scheduler": None,
        "runCount": len(sweep.runs),
        "runCountExpected": sweep.max_runs(),
        "project": _project(ctx, sweep.entity, sweep.project),
    }
    if with_runs:
        out["runs"] = {"edges": _sweep_runs(ctx, sweep)}
    return out


@handler("UpsertSweep")
def upsert_sweep(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """Create a sweep (no ``id``) or update one (``id``: config and/or state, R86)."""
    sweeps = ctx.backend.sweeps
    if v.get("id"):
        sweep = sweeps.by_storage_id(str(v["id"]))
        if v.get("config"):
            sweeps.update_config(sweep, str(v["config"]))
        if v.get("state"):
            sweeps.set_state(sweep, str(v["state"]))
    else:
        if not v.get("config"):
            raise ValueError("UpsertSweep without id needs a config")
        sweep = sweeps.create(
            str(v["config"]),
            entity=v.get("entityName"),
            project=v.get("projectName"),
            description=v.get("description"),
            display_name=v.get("displayName"),
        )
        if v.get("state"):
            sweeps.set_state(sweep, str(v["state"]))
    return {"upsertSweep": {"sweep": _sweep(ctx, sweep), "configValidationWarnings": []}}


@handler("SweepWithRuns", "GetSweep", "GetSweepLegacy", "GetSweepState")
def sweep_query(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """The sweep with its runs; ``sweep: null`` when there is none (the agent says "not found")."""
    entity, project, name = _sweep_path(ctx, v, "sweep" if "sweep" in v else "name")
    sweep = ctx.backend.sweeps.find(entity, project, name)
    model = _project(ctx, entity, project or (sweep.project if sweep else "uncategorized"))
    model["sweep"] = None if sweep is None else _sweep(ctx, sweep, with_runs=True)
    return {"project": model}


def _agent(agent: SweepAgent) -> dict[str, Any]:
    return {"id": agent.id}


@handler("CreateAgent")
def create_agent(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """Register an agent for a sweep (``KeyError`` naming the sweep when there is none)."""
    agent = ctx.backend.sweeps.create_agent(
        v.get("entityName"), v.get("projectName"), str(v["sweep"]), str(v.get("host") or "")
    )
    return {"createAgent": {"agent": _agent(agent)}}


@handler("Heartbeat")
def heartbeat(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """The agent's poll: which runs are alive in, commands (a JSON string) out."""
    raw = v.get("runState")
    run_state = load_json(raw, ctx.limits.max_json_depth) if isinstance(raw, str) and raw else (raw or {})
    if not isinstance(run_state, dict):
        raise ValueError(f"runState must be a JSON object, got {raw!r}")
    sweeps = ctx.backend.sweeps
    commands = sweeps.heartbeat(str(v["id"]), run_state)
    return {"agentHeartbeat": {"agent": _agent(sweeps.agent(str(v["id"]))), "commands": json.dumps(commands)}}
