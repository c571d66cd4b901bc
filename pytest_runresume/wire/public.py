"""GraphQL operations of the public API's reads (``wandb.Api()``), as wandb 0.31 sends them.

- ``RunFullHistory`` (``run.history()``), ``RunSampledHistory`` (``run.history(keys=[...])``):
  sampled history (:mod:`pytest_runresume.model.history`).
- ``RunParquetHistory`` and ``HistoryPage`` (``run.scan_history()``, asked by wandb-core): the
  history of a run that has ended is exported as one parquet file when pyarrow is installed (the
  ``parquet`` extra; :mod:`.parquet`), served at a signed ``/history/...`` URL; the history of a
  live run, or without pyarrow, is "live data", read page by page with ``HistoryPage``.
- ``RunFiles`` (``run.files()``, ``run.file(name)``): the files uploaded to the run, with signed
  download URLs (``GET /files/<entity>/<project>/<run>/<name>?sig=``, what ``file.download()``
  fetches).
- ``Runs`` (``api.runs(path, filters=..., order=...)``; :mod:`pytest_runresume.model.filters`).
- ``GetViewer`` (``api.viewer``), ``CreateProject`` (``api.create_project``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import re
from typing import Any
from urllib.parse import quote

from ..model import RunRecord, messages
from ..model import history as hist
from ..model.runs import TERMINAL_STATES
from . import parquet
from .graphql import Context, _bucket, _iso, _project, _viewer, handler
from .limits import load_json


def _run(ctx: Context, v: dict[str, Any], name_var: str = "name") -> RunRecord | None:
    entity, project, name = v.get("entity"), v.get("project"), v.get(name_var)
    for var, value in (("entity", entity), ("project", project), (name_var, name)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"variable {var} must be a string, got {value!r:.80}")
    if not isinstance(name, str):
        raise ValueError(f"variable {name_var} is required")
    return ctx.model.get(entity, project, name)


def _rows(ctx: Context, rec: RunRecord) -> list[dict[str, Any]]:
    return ctx.model.full_history(rec)


def _answer(run: dict[str, Any] | None) -> dict[str, Any]:
    return {"project": {"run": run}}


@handler("RunFullHistory")
def run_full_history(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``run.history()``: ``history(samples:)`` (or ``events(samples:)`` for ``stream="system"``),
    a list of JSON strings, at most ``samples`` rows (evenly spaced, first and last kept;
    :func:`~pytest_runresume.model.history.sample_rows`). ``run: null`` for a missing run."""
    samples = hist.check_samples(v.get("samples", 500) if v.get("samples") is not None else 500)
    rec = _run(ctx, v)
    if rec is None:
        return _answer(None)
    rows = _rows(ctx, rec)
    events = [json.loads(line) for line in rec.files["wandb-events.jsonl"] if line is not None]
    return _answer(
        {
            "history": [json.dumps(r) for r in hist.sample_rows(rows, samples)],
            "events": [json.dumps(r) for r in hist.sample_rows(events, samples)],
        }
    )


@handler("RunSampledHistory", "SampledHistoryPage")
def run_sampled_history(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``run.history(keys=[...])``: ``sampledHistory(specs:)``, one list of rows (objects) per spec
    ``{"keys": [x_axis, *keys], "samples": N}``: the rows holding every key, cut to those keys,
    sampled to N. ``SampledHistoryPage`` (``run.scan_history(keys=[...])`` on live data, wandb-core)
    sends one ``spec`` with ``minStep``/``maxStep`` (inclusive) and ``run`` for the run name."""
    if "spec" in v and "specs" not in v:
        v = {**v, "specs": [v["spec"]], "name": v.get("run")}
    specs = v.get("specs")
    if not isinstance(specs, list) or not specs:
        raise ValueError(f"variable specs must be a non-empty list of JSON strings, got {specs!r:.80}")
    for spec in specs:
        hist.parse_spec(spec)
    rec = _run(ctx, v)
    if rec is None:
        return _answer(None)
    return _answer({"sampledHistory": hist.sampled_history(_rows(ctx, rec), specs)})


def exported(ctx: Context, rec: RunRecord, rows: list[dict[str, Any]]) -> bool:
    """Whether the run's history is served as parquet: the run has ended (a terminal state, R51),
    its rows are exportable (:func:`~pytest_runresume.model.history.exportable`) and pyarrow is
    installed."""
    return (
        parquet.available()
        and ctx.model.state(rec) in TERMINAL_STATES
        and hist.exportable(rows)
        and parquet.column_types(rows) is not None
    )


def parquet_name(rec: RunRecord) -> str:
    """The export's file name: it names the history's length, so a resumed run that logged more
    gets a new URL (clients cache parquet files by URL)."""
    return f"history-{len(rec.history_lines)}.parquet"


def signed_url(ctx: Context, kind: str, entity: str, project: str, run_id: str, name: str) -> str:
    """``{base}/{kind}/entity/project/run/name?sig=``: a download URL signed for that one GET."""
    path = f"{entity}/{project}/{run_id}/{name}"
    url = f"{ctx.base_url}/{kind}/{quote(path)}"
    return url if ctx.sign_upload is None else f"{url}?sig={ctx.sign_upload(f'GET {kind}/{path}')}"


@handler("RunParquetHistory")
def run_parquet_history(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``run.scan_history()`` (0.31, wandb-core): ``parquetHistory(liveKeys:)`` answers the URLs of
    the exported history (see :func:`exported`) and the live rows, cut to ``liveKeys``."""
    keys = v.get("liveKeys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"variable liveKeys must be a list of strings, got {keys!r:.80}")
    rec = _run(ctx, v, "runName")
    if rec is None:
        return _answer(None)
    rows = _rows(ctx, rec)
    if exported(ctx, rec, rows):
        k = rec.key
        urls = [signed_url(ctx, "history", k.entity, k.project, k.run_id, parquet_name(rec))]
        return _answer({"parquetHistory": {"parquetUrls": urls, "liveData": []}})
    live = [{key: row[key] for key in keys if key in row} for row in rows]
    return _answer({"parquetHistory": {"parquetUrls": [], "liveData": live}})


def _int_var(v: dict[str, Any], name: str) -> int:
    value = v.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"variable {name} must be an integer, got {value!r:.80}")
    return value


@handler("HistoryPage")
def history_page(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """A page of the live part of ``run.scan_history()``: ``history(minStep:, maxStep:, samples:)``,
    the rows with ``minStep <= _step < maxStep`` as JSON strings, at most ``pageSize``, unsampled."""
    lo, hi = _int_var(v, "minStep"), _int_var(v, "maxStep")
    size = hist.check_samples(v.get("pageSize", 1000), "pageSize")
    rec = _run(ctx, v, "run")
    if rec is None:
        return _answer(None)
    rows = hist.rows_in_steps(_rows(ctx, rec), lo, hi, size)
    return _answer({"history": [json.dumps(r) for r in rows]})


def parquet_bytes(ctx: Context, entity: str, project: str, run_id: str, name: str) -> bytes:
    """The parquet export ``name`` of a run (``GET /history/...``).

    Raises:
        KeyError: no such run, or ``name`` is not its current export (the history grew since).
    """
    rec = ctx.model.get(entity, project, run_id)
    if rec is None:
        raise KeyError(messages.NO_SUCH_RUN.format(path=f"{entity}/{project}/{run_id}"))
    rows = _rows(ctx, rec)
    if name != parquet_name(rec) or not exported(ctx, rec, rows):
        raise KeyError(f"run {rec.key.path} has no history export {name!r} (its history changed, or it is live)")
    return parquet.write(rows)


# ---- files --------------------------------------------------------------------------------------
def _like(pattern: str) -> re.Pattern[str]:
    """MySQL's ``LIKE`` (``%`` any run, ``_`` one character, ``\\`` escapes) as a regex."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _cursor(name: str) -> str:
    return base64.b64encode(name.encode()).decode()


def _uncursor(cursor: str) -> str:
    try:
        return base64.b64decode(cursor.encode(), validate=True).decode()
    except ValueError:
        raise ValueError(f"variable fileCursor is not a cursor this server handed out: {cursor!r:.80}") from None


def _file_node(ctx: Context, rec: RunRecord, name: str, data: bytes) -> dict[str, Any]:
    k = rec.key
    url = signed_url(ctx, "files", k.entity, k.project, k.run_id, name)
    attempt = rec.attempt
    return {
        "id": base64.b64encode(f"File:{rec.storage_id}:{name}".encode()).decode(),
        "name": name,
        "url": url,
        "directUrl": url,
        "sizeBytes": len(data),
        "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
        "updatedAt": _iso(attempt.last_heard if attempt else rec.created_at),
        "md5": base64.b64encode(hashlib.md5(data).digest()).decode(),
    }


@handler("RunFiles")
def run_files(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``run.files(names=, pattern=)``/``run.file(name)``: the run's uploaded files by name, paged
    (``first``/``after``); ``pattern`` is MySQL ``LIKE`` (the docstring's ``"%.json"``);
    ``fileCount`` is the run's number of files. ``names`` and ``pattern`` together are refused, as
    the SDK refuses them."""
    names = v.get("fileNames") or []
    pattern = v.get("pattern")
    limit = hist.check_samples(v.get("fileLimit", 50) if v.get("fileLimit") is not None else 50, "fileLimit")
    cursor = v.get("fileCursor")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"variable fileNames must be a list of strings, got {names!r:.80}")
    if pattern is not None and not isinstance(pattern, str):
        raise ValueError(f"variable pattern must be a string, got {pattern!r:.80}")
    if names and pattern:
        raise ValueError("variables fileNames and pattern: give one or the other, not both")
    if cursor is not None and not isinstance(cursor, str):
        raise ValueError(f"variable fileCursor must be a string, got {cursor!r:.80}")
    after = _uncursor(cursor) if cursor else None
    rec = _run(ctx, v)
    project = _project(ctx, rec.key.entity, rec.key.project) if rec else {}
    if rec is None:
        return {"project": None if not v.get("project") else {**project, "run": None}}
    with ctx.model.lock:
        files = sorted(rec.uploads.items())
    chosen = [
        (n, d)
        for n, d in files
        if (not names or n in names)
        and (pattern is None or _like(pattern).fullmatch(n))
        and (after is None or n > after)
    ]
    page = chosen[:limit]
    edges = [{"node": _file_node(ctx, rec, n, d), "cursor": _cursor(n)} for n, d in page]
    return {
        "project": {
            **project,
            "run": {
                "fileCount": len(files),
                "files": {
                    "edges": edges,
                    "pageInfo": {
                        "endCursor": edges[-1]["cursor"] if edges else None,
                        "hasNextPage": len(chosen) > limit,
                    },
                },
            },
        }
    }


def file_bytes(ctx: Context, entity: str, project: str, run_id: str, name: str) -> bytes:
    """A run file for ``GET /files/...`` (``file.download()``).

    Raises:
        KeyError: no such run or file.
    """
    rec = ctx.model.get(entity, project, run_id)
    if rec is None:
        raise KeyError(messages.NO_SUCH_RUN.format(path=f"{entity}/{project}/{run_id}"))
    with ctx.model.lock:
        data = rec.uploads.get(name)
    if data is None:
        raise KeyError(f"run {rec.key.path} has no file {name!r}")
    return data


# ---- runs, viewer, projects ---------------------------------------------------------------------
def offset_cursor(kind: str, offset: int) -> str:
    """The cursor of the item before ``offset`` in a list of ``kind`` (``runs``, ``sweeps``)."""
    return base64.b64encode(f"{kind}:{offset}".encode()).decode()


def offset_of_cursor(cursor: Any, kind: str) -> int:
    """Where the page after ``cursor`` (from :func:`offset_cursor`, or ``None``/empty for the
    first page) starts.

    Raises:
        ValueError: ``cursor`` is not a string, or not a ``kind`` cursor this server handed out.
    """
    if cursor is not None and not isinstance(cursor, str):
        raise ValueError(f"variable cursor must be a string, got {cursor!r:.80}")
    if not cursor:
        return 0
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
        if not text.startswith(f"{kind}:"):
            raise ValueError(text)
        offset = int(text.removeprefix(f"{kind}:"))
        if offset < 0:
            raise ValueError(text)
        return offset
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise ValueError(f"variable cursor is not a cursor this server handed out: {cursor!r:.80}") from None


@handler("Runs")
def runs(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``api.runs(path, filters=, order=, per_page=)``: the project's runs that match the
    MongoDB-style ``filters`` (a JSON string), in ``order``, paged by ``perPage``/``cursor``;
    ``runCount`` counts the matching runs. A malformed filter or an unknown field/operator is a
    GraphQL error naming it (:mod:`pytest_runresume.model.filters`)."""
    entity, project = v.get("entity"), v.get("project")
    if not isinstance(project, str) or (entity is not None and not isinstance(entity, str)):
        raise ValueError("variables entity and project must be strings")
    raw = v.get("filters")
    filters = load_json(raw, ctx.limits.max_json_depth) if isinstance(raw, str) else (raw or {})
    per_page = hist.check_samples(v.get("perPage", 50) if v.get("perPage") is not None else 50, "perPage")
    start = offset_of_cursor(v.get("cursor"), "runs")
    found = ctx.model.list_runs(entity, project, filters, v.get("order"))
    ent = entity or ctx.model.entity
    page = found[start : start + per_page]
    edges = [{"node": _bucket(ctx, rec), "cursor": offset_cursor("runs", start + i + 1)} for i, rec in enumerate(page)]
    return {
        "project": {
            **_project(ctx, ent, project),
            "runCount": len(found),
            "readOnly": False,
            "runs": {
                "edges": edges,
                "pageInfo": {
                    "endCursor": edges[-1]["cursor"] if edges else None,
                    "hasNextPage": start + per_page < len(found),
                },
            },
        }
    }


@handler("GetViewer")
def get_viewer(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``api.viewer`` (``wandb.apis.public.User``): the viewer with its own entity among its
    ``teams`` and one API key (``api.viewer.api_keys``) named by its first characters, never the
    key itself."""
    return {"viewer": _viewer(ctx)}


@handler("CreateProject", "upsertModel")
def create_project(ctx: Context, v: dict[str, Any]) -> dict[str, Any]:
    """``api.create_project(name, entity)``: ``upsertModel`` creates the project (an upsert: an
    existing project is kept). A bad name is a GraphQL error that creates nothing. wandb 0.31 sends
    ``CreateProject`` with ``input`` (answer aliased ``result``); wandb <= 0.19 sends the mutation
    named ``upsertModel`` with flat variables (answer ``upsertModel``)."""
    inp = v.get("input", v)
    if not isinstance(inp, dict):
        raise ValueError("variable input must be an object {entityName, name}")
    entity = inp.get("entityName")
    if entity is not None and not isinstance(entity, str):
        raise ValueError(f"input.entityName must be a string, got {entity!r:.80}")
    ent, name, inserted = ctx.model.create_project(entity, inp.get("name"))
    project = {
        **_project(ctx, ent, name),
        "entityName": ent,
        "description": inp.get("description"),
        "access": "PRIVATE",
        "views": "{}",
    }
    answer = {"project": project, "model": project, "inserted": inserted}
    return {"result": answer, "upsertModel": answer}
