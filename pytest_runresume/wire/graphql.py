"""GraphQL operations of runs (what wandb 0.31 sends at ``wandb.init``, while a run runs, and what
the public API changes): ``Viewer``, ``RunResumeStatus``, ``UpsertBucket``, ``CreateRunFiles``,
``DeleteRun``, ``UpdateRunState``, ``StopRun``, ``RewindRun`` and the answers of the queries the SDK
sends and needs little from. Each is a ``@handler("OperationName")`` function; the dispatch
(parsing, limits, errors) is :mod:`.dispatch`.

The shapes follow ``shared/wandb-protocol/NOTES.md`` section 1.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from ..model import RunRecord, messages
from ..model.requests import RunUpsert
from ..model.tags import implements
from .dispatch import (
    DEFAULT_LIMITS,
    HANDLERS,
    Context,
    GraphQLRequestError,
    execute,
    handler,
    introspect,
    operation_name,
)
from .limits import load_json

__all__ = [  # the dispatch's names, as this module offered them before it was split out
    "DEFAULT_LIMITS",
    "HANDLERS",
    "Context",
    "GraphQLRequestError",
    "execute",
    "handler",
    "introspect",
    "operation_name",
    "upload_path",
    "upload_url",
]


# ---- shapes -------------------------------------------------------------------------------------
def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _project(ctx: Context, entity: str, project: str) -> dict[str, Any]:
    return {
        "id": f"Project:{entity}/{project}",
        "name": project,
        "internalId": str(ctx.model.project_number(entity, project)),
        "entity": {"id": f"Entity:{entity}", "name": entity},
    }


def _viewer(ctx: Context) -> dict[str, Any]:
    b = ctx.model
    return {
        "id": "VXNlcjox",
        "entity": b.entity,
        "username": b.username,
        "email": f"{b.username}@example.invalid",
        "flags": "{}",
        "admin": False,
        "name": b.username,
        "deletedAt": None,
        # The user's own entity is one of its teams (the real server lists it), and the one key
        # this server accepts, named by its first characters (never the key itself).
        "teams": {"edges": [{"node": {"id": f"Entity:{b.entity}", "name": b.entity}}]},
        "apiKeys": {
            "edges": [{"node": {"id": "QXBpS2V5OjE=", "name": ctx.api_key_name, "description": "the fake's API key"}}]
        },
        "featureFlags": [],
        "organizations": [],
    }


def _tail(lines: list[str | None]) -> str:
    last = next((line for line in reversed(lines) if line is not None), None)
    return json.dumps([] if last is None else [last])


def _bucket(ctx: Context, rec: RunRecord) -> dict[str, Any]:
    """The run as ``bucket``/``run`` (RunResumeStatus, UpsertBucket, the public ``Run``)."""
    b = ctx.model
    return {
        "id": rec.storage_id,
        "name": rec.key.run_id,
        "displayName": rec.display_name or rec.key.run_id,
        "description": rec.notes,
        "notes": rec.notes,
        "config": json.dumps(rec.config),
        "summaryMetrics": json.dumps(rec.summary),
        "systemMetrics": "{}",
        "sweepName": rec.sweep,
        "group": rec.group,
        "jobType": rec.job_type,
        "commit": None,
        "readOnly": False,
        "tags": list(rec.tags),
        "state": b.state(rec),
        "createdAt": _iso(rec.created_at),
        "heartbeatAt": _iso(rec.attempt.last_heard if rec.attempt else rec.created_at),
        "historyLineCount": len(rec.history_lines),
        "eventsLineCount": len(rec.files["wandb-events.jsonl"]),
        "logLineCount": len(rec.files["output.log"]),
        "historyTail": _tail(rec.history_lines),
        "eventsTail": _tail(rec.files["wandb-events.jsonl"]),
        "wandbConfig": json.dumps(b.wandb_config(rec)),
        "historyKeys": {"lastStep": rec.last_step if rec.last_step is not None else -1, "keys": {}},
        "user": {"name": b.username, "username": b.username},
        "projectId": str(ctx.model.project_number(rec.key.entity, rec.key.project)),
        "project": _project(ctx, rec.key.entity, rec.key.project),
        "stopped": bool(rec.attempt and rec.attempt.stop_requested),
    }


# ---- operations ---------------------------------------------------------------------------------
@handler("Viewer", "GetDefaultEntity")
def viewer(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """NOTES 1.1: the first request of every process; ``viewer.entity`` is the default entity."""
    return {"viewer": _viewer(ctx)}


@handler("RunResumeStatus")
@implements("R41", "R43")
def run_resume_status(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """NOTES 1.3: ``bucket`` is null for a missing run; a run without ``_wandb.t`` counts as
    missing on the client (R43). Line counts are never null (else 0.31 fails the init).

    R41: this answer is the server's part of ``run.resumed``: the SDK reports ``True`` when it resumed
    the ``bucket`` answered here, ``False`` otherwise. A deleted run is not found (R25)."""
    entity = v.get("entity") or ctx.model.entity
    project = v["project"]
    rec = ctx.model.resume_status(entity, project, v["name"])
    model = _project(ctx, entity, project)
    model["bucket"] = None if rec is None else _bucket(ctx, rec)
    return {"model": model}


#: UpsertBucket variables that are strings when given (NOTES 1.2).
UPSERT_STRINGS = (
    "id", "name", "project", "entity", "groupName", "description", "displayName", "notes", "commit",
    "host", "program", "repo", "jobType", "state", "sweep",
)  # fmt: skip


def check_upsert_variables(v: dict[str, Any], max_json_depth: int = DEFAULT_LIMITS.max_json_depth) -> None:
    """Refuse UpsertBucket variables the model cannot hold, naming the variable (a bad run id is
    named by the model, R31).

    Raises:
        ValueError: ``config`` or ``summaryMetrics`` not a JSON object (``_wandb`` in the config
            not ``{"value": {...}}``), ``tags`` not a list of strings, a string variable that is not one.
    """
    for name in UPSERT_STRINGS:
        if name != "name" and v.get(name) is not None and not isinstance(v[name], str):
            raise ValueError(f"variable {name} must be a string, got {v[name]!r}")
    tags = v.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise ValueError(f"variable tags must be a list of strings, got {tags!r}")
    for name in ("config", "summaryMetrics"):
        value = v.get(name)
        if value is None:
            continue
        try:
            obj = load_json(value, max_json_depth) if isinstance(value, str) else value
        except ValueError as exc:
            raise ValueError(f"variable {name} is not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise ValueError(f"variable {name} must be a JSON object, got {value!r:.80}")
        wb = obj.get("_wandb") if name == "config" else None
        if wb is not None and not (isinstance(wb, dict) and isinstance(wb.get("value", {}), dict)):
            raise ValueError(f'config key _wandb must be {{"value": {{...}}}}, got {wb!r:.80}')


@handler("UpsertBucket")
@implements("R25")
def upsert_bucket(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """NOTES 1.2: create or update the run; answers its project/entity and ``historyLineCount``.

    The public API's ``Run.update()`` names the run only by its storage ``id`` and sends the new name
    as ``display_name`` (:func:`public_update_variables`); a rename never changes the id (R30). An
    upsert for the id of a deleted run is refused (R25)."""
    v = public_update_variables(ctx, v)
    check_upsert_variables(v, ctx.limits.max_json_depth)
    rec, inserted = ctx.model.upsert_run(RunUpsert.from_variables(v))
    return {"upsertBucket": {"bucket": _bucket(ctx, rec), "inserted": inserted}}


@implements("R30")
def public_update_variables(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``wandb.Api().run(path)`` then ``run.name = "x"; run.update()`` (R30): its ``UpsertBucket``
    sends the display name in the variable ``display_name`` (the document maps it to
    ``displayName``), and the ``run.summary.update()`` that follows names the run only by its storage
    ``id``. Returns the variables with ``displayName`` from ``display_name``, and a missing
    ``name``/``entity``/``project`` filled from the run with that ``id``, so the model renames the
    run; its id (``name``) is unaffected (R30). Other variables are returned unchanged.

    Raises:
        KeyError: no run has that storage id (also a deleted one).
    """
    out = dict(v)
    display_name = out.pop("display_name", None)
    if display_name is not None and out.get("displayName") is None:
        out["displayName"] = display_name
    if out.get("name") is None and isinstance(out.get("id"), str):
        rec = ctx.model.by_storage_id(out["id"])
        out.update(name=rec.key.run_id, entity=rec.key.entity, project=rec.key.project)
    return out


@handler("DeleteRun")
@implements("R25")
def delete_run(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``wandb.Api().run(path).delete()`` (R25): the run is hidden from the public API and
    ``RunResumeStatus``, and its id can't be reused (a later ``UpsertBucket`` for it is a GraphQL
    error); ``Model.undelete`` restores it within 7 days (R26). ``deleteArtifacts`` is accepted
    and ignored (the fake stores no artifacts). Deleting a run that is already deleted succeeds
    and changes nothing, as on the real server."""
    ctx.model.delete_by_storage_id(str(v["id"]))
    return {"deleteRun": {"clientMutationId": None}}


@handler("CreateRunFiles")
def create_run_files(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """NOTES 1.5: upload URLs on this server (``PUT /upload/<entity>/<project>/<run>/<name>``)."""
    entity, project, run, names = v["entity"], v["project"], v["run"], v["files"]
    for var, value in (("entity", entity), ("project", project), ("run", run)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"variable {var} must be a string, got {value!r:.80}")
    if not isinstance(names, list) or not all(isinstance(n, str) and n and len(n) <= 1024 for n in names):
        raise ValueError(f"variable files must be a list of file names (1-1024 characters), got {names!r:.80}")
    if len(names) > ctx.limits.max_upload_files:
        raise ValueError(
            f"variable files names {len(names)} files; the limit is {ctx.limits.max_upload_files} (max_upload_files)"
        )
    rec = ctx.model.get(entity, project, run)
    if rec is None:
        raise KeyError(messages.NO_SUCH_RUN.format(path=f"{entity}/{project}/{run}"))
    k = rec.key
    return {
        "createRunFiles": {
            "runID": rec.storage_id,
            "uploadHeaders": [],
            "files": [
                {"name": name, "uploadUrl": upload_url(ctx, k.entity, k.project, k.run_id, name)} for name in names
            ],
        }
    }


def upload_path(entity: str, project: str, run_id: str, name: str) -> str:
    """What an upload URL's signature covers: ``entity/project/run_id/name``."""
    return f"{entity}/{project}/{run_id}/{name}"


def upload_url(ctx: Context, entity: str, project: str, run_id: str, name: str) -> str:
    """The URL the SDK PUTs a run file to: this server's ``/upload/...`` with a signature in the
    query string (``?sig=``), as real W&B hands out signed storage URLs; the SDK sends no key with it."""
    path = upload_path(entity, project, run_id, name)
    url = f"{ctx.base_url}/upload/{quote(path)}"
    return url if ctx.sign_upload is None else f"{url}?sig={ctx.sign_upload(path)}"


def _public_run(ctx: Context, v: dict[str, Any]) -> RunRecord | None:
    """The run the variables name: ``entity``/``project``/``name``, or the ``entityName``/
    ``projectName``/``runId`` of wandb <= 0.22's ``RunStoppedStatus``."""
    name = v["name"] if "name" in v or "runId" not in v else v["runId"]
    return ctx.model.get(v.get("entity", v.get("entityName")), v.get("project", v.get("projectName")), name)


@handler("Run", "RunState", "RunHistoryKeys", "RunStoppedStatus")
@implements("R42", "R51")
def public_run(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """NOTES 1.7: ``wandb.Api().run(path)``, its ``state`` (R51), ``lastHistoryStep`` (R42), and the
    stop poll of older SDKs. ``run: null`` makes the SDK raise ``RunNotFoundError``."""
    rec = _public_run(ctx, v)
    return {"project": {"run": None if rec is None else _bucket(ctx, rec)}}


@handler(
    "OrganizationCoreWeaveOrganizationID",
    "ProbeServerCapabilities",
    "ProbeServerSettings",
)
def optional_query(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """Optional queries (labels, capability probes): an empty answer is what every SDK tolerates."""
    return {}


#: Server features (``ServerFeaturesQuery``, wandb ``ServerFeature``) the fake really implements:
#: gzip file_stream bodies (the app inflates them), file names up to 1024 characters
#: (``CreateRunFiles``) and ``UpdateRunState`` (``Run.update_state``, R52). Every other feature is
#: answered disabled, so the SDK keeps to the paths the fake serves.
SERVER_FEATURES = ("FILESTREAM_GZIP", "LARGE_FILENAMES", "UPDATE_RUN_STATE")
#: Features answered as disabled (the SDK treats a missing one the same way).
DISABLED_FEATURES = ("STRUCTURED_CONSOLE_LOGS", "MARK_RUN_FILES_UPLOADED", "SWEEPS_QUERY_FILTERING", "CLIENT_IDS")


@handler("ServerFeaturesQuery")
def server_features(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``serverInfo.features``: :data:`SERVER_FEATURES` enabled, :data:`DISABLED_FEATURES` not."""
    features = [{"name": n, "isEnabled": True} for n in SERVER_FEATURES]
    features += [{"name": n, "isEnabled": False} for n in DISABLED_FEATURES]
    return {"serverInfo": {"features": features}}


@handler("UpdateRunState")
@implements("R52")
def update_run_state(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``Run.update_state`` (R52): legal transitions succeed, others are a GraphQL error."""
    inp = v["input"]
    ctx.model.update_state(str(inp["id"]), str(inp["state"]))
    return {"updateRunState": {"success": True}}


@handler("StopRun")
@implements("R58")
def stop_run(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``Run.stop()`` / the app's stop button (R58): the run is told to stop on its next file_stream;
    on a run that is not running, or asked twice, it has no effect (``Model.stop_run``)."""
    ctx.model.stop_run(str(v["id"]))
    return {"stopRun": {"success": True}}


@handler("RewindRun")
@implements("R47", "R48")
def rewind_run(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``wandb.init(resume_from=...)`` (R47, R48): history cut back to the step, then resumed."""
    rec = ctx.model.rewind(v.get("entity"), v.get("project"), v["runName"], v["metricName"], v["metricValue"])
    return {"rewindRun": {"rewoundRun": _bucket(ctx, rec)}}
