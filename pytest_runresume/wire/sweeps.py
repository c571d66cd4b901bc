"""GraphQL operations of sweeps and agents (NOTES 1.8): ``wandb sweep``, ``wandb agent`` and
``wandb.agent()`` against :class:`~pytest_runresume.model.sweeps.Sweeps`.

- ``UpsertSweep``: every variant the CLI tries (with and without ``launchScheduler``,
  ``templateVariableValues``, ``project``, ``configValidationWarnings``): without ``id`` it creates a
  sweep; with ``id`` (the opaque ``Sweep.id``) it updates the config (``--update``) and/or the state
  (``--pause``/``--resume``/``--stop``/``--cancel`` write ``PAUSED``/``RUNNING``/``FINISHED``/``CANCELED``)
  and, with ``displayName``, renames it (the app's rename; W&B's tests do it through the SDK).
- ``SweepWithRuns`` (the agent reads ``config`` for ``command``; the CLI reads ``id`` and ``state``),
  ``GetSweep``/``GetSweepLegacy``/``GetSweepState`` (public API): ``sweep: null`` when there is none.
- ``CreateAgent``: registers an agent.
- ``Heartbeat`` (``agentHeartbeat``): ``runState`` is a JSON string of the runs still alive;
  ``commands`` is a JSON *string* of a list of ``run``/``resume``/``stop``/``exit`` commands.
- ``Sweep`` (the custom query of ``Sweep.get(..., query=...)``: ``runCountExpected``, ``bestLoss``,
  ``priorRuns``), ``GetSweepAgents`` (``sweep.agents()``), ``GetSweepAgent`` (``sweep.agent(id)``)
  and ``GetAgentRuns`` (``Agent.runs()``).
- ``GetSweeps`` (``api.project(...).sweeps()``, ``Project.sweeps``): the project's sweeps, oldest
  first, paged by ``perPage``/``cursor``; ``project: null`` for a project that does not exist.
  Filtering sweeps is a server feature the fake answers disabled (``SWEEPS_QUERY_FILTERING``): the
  SDK then sends no ``filters``, and a non-empty ``filters`` is an error naming it.
- ``UpsertSweep``'s ``priorRunsFilters`` (``wandb.sweep(..., prior_runs=[...])`` sends
  ``{"$or": [{"name": id}, ...]}``) is evaluated like ``api.runs`` filters; the runs it matches are
  linked to the new sweep.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ..model.search import config_warnings
from ..model.sweep_records import WIRE_STATES, Sweep, SweepAgent
from ..model.sweeps import check_display_name
from ..model.tags import implements
from .dispatch import Context, handler
from .graphql import _bucket, _iso, _project
from .limits import load_json
from .public import offset_cursor, offset_of_cursor


def _sweep_path(ctx: Context, v: dict[str, Any], name_var: str) -> tuple[str, str | None, str]:
    entity = v.get("entity") or v.get("entityName") or ctx.model.entity
    project = v.get("project") or v.get("projectName")
    return str(entity), project, str(v[name_var])


def _sweep_runs(ctx: Context, sweep: Sweep) -> list[dict[str, Any]]:
    model = ctx.model
    edges: list[dict[str, Any]] = []
    for srun in sweep.runs.values():
        rec = ctx.model.sweeps.run_record(sweep, srun.run_id)
        if rec is None:
            continue
        state = model.state(rec)
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
    with ctx.model.lock:
        return _sweep_locked(ctx, sweep, with_runs)


def _sweep_locked(ctx: Context, sweep: Sweep, with_runs: bool) -> dict[str, Any]:
    sweeps = ctx.model.sweeps
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
        "bestLoss": _best(sweeps, sweep),
        "controller": None,
        "scheduler": None,
        "runCount": len(sweep.runs),
        "runCountExpected": sweep.max_runs(),
        "project": _project(ctx, sweep.entity, sweep.project),
        "priorRuns": {"edges": [{"node": _prior(ctx, sweep, rid)} for rid in sweep.prior_runs]},
    }
    if with_runs:
        out["runs"] = {"edges": _sweep_runs(ctx, sweep)}
    return out


def _best(sweeps: Any, sweep: Sweep) -> float | None:
    """The best metric value of the sweep's finished runs (lowest for ``minimize``, highest for
    ``maximize``), or ``None`` without a metric or such a run."""
    values = [v for _, v in sweeps.observations(sweep)]
    if not values:
        return None
    goal = (sweep.config.get("metric") or {}).get("goal", "minimize")
    return max(values) if goal == "maximize" else min(values)


def _prior(ctx: Context, sweep: Sweep, run_id: str) -> dict[str, Any]:
    rec = ctx.model.get(sweep.entity, sweep.project, run_id)
    return {"id": rec.storage_id if rec else None, "name": run_id}


def _prior_runs(ctx: Context, v: dict[str, Any]) -> list[str]:
    """The run ids ``priorRunsFilters`` matches in the sweep's project (R25: deleted runs never)."""
    raw = v.get("priorRunsFilters")
    if not raw:
        return []
    filters = load_json(raw, ctx.limits.max_json_depth) if isinstance(raw, str) else raw
    project = v.get("projectName")
    if not isinstance(project, str):
        raise ValueError("UpsertSweep with priorRunsFilters needs projectName")
    return [rec.key.run_id for rec in ctx.model.list_runs(v.get("entityName"), project, filters)]


@handler("UpsertSweep")
@implements("R86")
def upsert_sweep(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """Create a sweep (no ``id``) or update one (``id``: config and/or state, R86, and the display
    name, ``displayName``: a non-blank string, checked before anything changes).

    ``configValidationWarnings`` are the sweeps engine's warnings of the config sent
    (:func:`~pytest_runresume.model.search.config_warnings`: deprecated ``log_uniform`` spellings);
    empty when no config was sent."""
    sweeps = ctx.model.sweeps
    warnings: list[str] = []  # the engine's warnings of the config sent, if one was
    if v.get("id"):
        sweep = sweeps.by_storage_id(str(v["id"]))
        display_name = v.get("displayName")
        if display_name is not None:
            check_display_name(display_name)  # before anything changes
        if v.get("config"):
            sweeps.update_config(sweep, str(v["config"]))
            warnings = config_warnings(sweep.config)
        if v.get("state"):
            sweeps.set_state(sweep, str(v["state"]))
        if display_name is not None:
            sweeps.rename(sweep, display_name)
    else:
        if not v.get("config"):
            raise ValueError("UpsertSweep without id needs a config")
        sweep = sweeps.create(
            str(v["config"]),
            entity=v.get("entityName"),
            project=v.get("projectName"),
            description=v.get("description"),
            display_name=v.get("displayName"),
            prior_runs=_prior_runs(ctx, v),
        )
        warnings = config_warnings(sweep.config)
        if v.get("state") and str(v["state"]).upper() != "PENDING":
            sweeps.set_state(sweep, str(v["state"]))  # a new sweep is PENDING already
    return {"upsertSweep": {"sweep": _sweep(ctx, sweep), "configValidationWarnings": warnings}}


@handler("SweepWithRuns", "GetSweep", "GetSweepLegacy", "GetSweepState", "Sweep")
def sweep_query(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """The sweep with its runs; ``sweep: null`` when there is none (the agent says "not found")."""
    entity, project, name = _sweep_path(ctx, v, "sweep" if "sweep" in v else "name")
    sweep = ctx.model.sweeps.find(entity, project, name)
    model = _project(ctx, entity, project or (sweep.project if sweep else "uncategorized"))
    model["sweep"] = None if sweep is None else _sweep(ctx, sweep, with_runs=True)
    return {"project": model}


@handler("GetSweeps")
def project_sweeps(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``Project.sweeps(per_page=)`` (W&B's public API, ``wandb.apis.public.Sweeps``): the sweeps of
    ``entity/project`` oldest first, ``perPage`` (default 50) a page, ``totalSweeps`` all of them;
    ``project: null`` when the project has neither runs nor sweeps nor was created.

    Raises:
        ValueError: a missing or non-string ``project``/``entity``, a bad ``perPage`` or ``cursor``,
            or non-empty ``filters`` (``SWEEPS_QUERY_FILTERING`` is disabled here).
    """
    entity, project = v.get("entity"), v.get("project")
    if not isinstance(project, str) or (entity is not None and not isinstance(entity, str)):
        raise ValueError("variables entity and project must be strings")
    raw = v.get("filters")
    filters = load_json(raw, ctx.limits.max_json_depth) if isinstance(raw, str) else raw
    if filters:
        raise ValueError(
            f"GetSweeps with filters {raw!r:.80}: filtering sweeps is not supported by the fake W&B backend "
            "(server feature SWEEPS_QUERY_FILTERING is disabled)"
        )
    per_page = v.get("perPage")
    per_page = 50 if per_page is None else per_page
    if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
        raise ValueError(f"variable perPage must be a positive integer, got {per_page!r:.80}")
    start = offset_of_cursor(v.get("cursor"), "sweeps")
    found = ctx.model.sweeps.in_project(entity, project)
    if not found and not ctx.model.has_project(entity, project):
        return {"project": None}
    page = found[start : start + per_page]
    edges = [{"node": _sweep(ctx, s), "cursor": offset_cursor("sweeps", start + i + 1)} for i, s in enumerate(page)]
    return {
        "project": {
            **_project(ctx, entity or ctx.model.entity, project),
            "totalSweeps": len(found),
            "sweeps": {
                "edges": edges,
                "pageInfo": {
                    "__typename": "PageInfo",
                    "endCursor": edges[-1]["cursor"] if edges else None,
                    "hasNextPage": start + per_page < len(found),
                },
            },
        }
    }


def _agent(agent: SweepAgent) -> dict[str, Any]:
    return {"id": agent.id}


@handler("CreateAgent")
def create_agent(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """Register an agent for a sweep (``KeyError`` naming the sweep when there is none)."""
    agent = ctx.model.sweeps.create_agent(
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
    sweeps = ctx.model.sweeps
    commands = sweeps.heartbeat(str(v["id"]), run_state)
    return {"agentHeartbeat": {"agent": _agent(sweeps.agent(str(v["id"]))), "commands": json.dumps(commands)}}


def _agent_node(ctx: Context, agent: SweepAgent) -> dict[str, Any]:
    """An agent as ``AgentFragment``: ``state`` is ``RUNNING`` until it was told to exit, then
    ``FINISHED``; ``totalRuns`` counts the runs it was handed."""
    return {
        "id": agent.id,
        "name": agent_name(agent),
        "host": agent.host,
        "state": "FINISHED" if agent.exited else "RUNNING",
        "totalRuns": len(ctx.model.sweeps.agent_runs(agent)),
        "createdAt": _iso(agent.created_at),
        "heartbeatAt": _iso(agent.last_heartbeat) if agent.last_heartbeat is not None else None,
    }


def agent_name(agent: SweepAgent) -> str:
    """The agent's short name (what ``Agent.runs()`` names it by): its id without the base64."""
    return base64.b64decode(agent.id).decode().removeprefix("Agent:")


def _find_agent(ctx: Context, sweep: Sweep, key: str) -> SweepAgent | None:
    for agent in ctx.model.sweeps.agents.values():
        if agent.sweep == sweep.name and agent.project == sweep.project and key in (agent.id, agent_name(agent)):
            return agent
    return None


def _sweep_or_none(ctx: Context, v: dict[str, Any]) -> tuple[dict[str, Any], Sweep | None]:
    entity, project, name = _sweep_path(ctx, v, "sweep")
    sweep = ctx.model.sweeps.find(entity, project, name)
    return _project(ctx, entity, project or (sweep.project if sweep else "uncategorized")), sweep


@handler("GetSweepAgents")
def sweep_agents(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``sweep.agents()``: every agent registered for the sweep, oldest first."""
    model, sweep = _sweep_or_none(ctx, v)
    if sweep is None:
        return {"project": {**model, "sweep": None}}
    with ctx.model.lock:
        agents = [a for a in ctx.model.sweeps.agents.values() if a.sweep == sweep.name and a.project == sweep.project]
        edges = [{"node": _agent_node(ctx, a)} for a in agents]
    return {"project": {**model, "sweep": {"agents": {"edges": edges}}}}


@handler("GetSweepAgent", "GetAgentRuns")
def sweep_agent(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``sweep.agent(name)`` and ``Agent.runs()``: the agent (by name or id), with the runs it was
    handed, in the order it got them, paged by ``first``/``after``; ``agent: null`` for an unknown one."""
    key = v.get("agentID")
    if not isinstance(key, str):
        raise ValueError(f"variable agentID must be a string, got {key!r:.80}")
    model, sweep = _sweep_or_none(ctx, v)
    if sweep is None:
        return {"project": {**model, "sweep": None}}
    agent = _find_agent(ctx, sweep, key)
    if agent is None:
        return {"project": {**model, "sweep": {"agent": None}}}
    node = _agent_node(ctx, agent)
    first = v.get("first") if v.get("first") is not None else 50
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise ValueError(f"variable first must be an integer >= 0, got {first!r:.80}")
    after = v.get("after")
    run_ids = ctx.model.sweeps.agent_runs(agent)
    start = run_ids.index(after) + 1 if isinstance(after, str) and after in run_ids else 0
    edges = []
    for rid in run_ids[start : start + first]:
        rec = ctx.model.get(sweep.entity, sweep.project, rid)
        if rec is not None:
            edges.append({"cursor": rid, "node": _bucket(ctx, rec)})
    node["runs"] = {
        "pageInfo": {
            "__typename": "PageInfo",
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": start + first < len(run_ids),
        },
        "edges": edges,
    }
    return {"project": {**model, "sweep": {"agent": node}}}
