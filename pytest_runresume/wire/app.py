"""The fake W&B backend as a WSGI application (werkzeug): routes -> model.

Routes (what wandb 0.31 calls, NOTES.md section 1):

- ``POST /graphql``                                      GraphQL (see :mod:`.graphql`)
- ``POST /files/<entity>/<project>/<run>/file_stream``  history, events, output.log, summary,
  ``preempting``, ``complete``/``exitcode``; heartbeats are empty bodies
- ``PUT  /upload/<entity>/<project>/<run>/<name>``       run files (no auth, like the real upload URLs)
- ``POST /sdk/otel/...``                                  SDK telemetry: 404, so the SDK stops sending
- ``/_runresume/...``                                     the control API (state, clock, reset, stop)

Every request to ``/graphql`` and ``/files`` must carry ``Authorization: Basic base64("api:KEY")``
with this server's key; anything else is 401. Every problem (unknown operation, malformed body,
unexpected path) is answered with an error naming it and recorded in ``backend.problems``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ..model import Backend, FileChunk, messages
from . import graphql, ui
from .faults import Faults, serve_with_faults

#: Bodies larger than this (also after gzip decompression) are refused with 413 (bytes).
MAX_BODY = 64 * 1024 * 1024
#: A file_stream offset more than this many lines past what the run holds is refused (400): a gap
#: is recorded as a problem and padded, and an absurd offset must not make the server pad for ever.
MAX_LINE_GAP = 100_000


@dataclass
class RequestRecord:
    """One request the server saw: for debugging and for tests of the wire."""

    method: str
    path: str
    operation: str | None
    status: int
    user_agent: str


@dataclass
class FakeWandbApp:
    """The WSGI app.

    Args:
        backend: the model.
        api_key: the key clients must present.
    """

    backend: Backend
    api_key: str
    requests: list[RequestRecord] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)  # injected faults (see .faults); not problems
    max_body: int = MAX_BODY

    def __post_init__(self) -> None:
        self.url_map = Map(
            [
                Rule("/graphql", endpoint="graphql", methods=["POST"]),
                Rule("/files/<entity>/<project>/<run_id>/file_stream", endpoint="file_stream", methods=["POST"]),
                Rule("/upload/<entity>/<project>/<run_id>/<path:name>", endpoint="upload", methods=["PUT"]),
                Rule("/sdk/<path:rest>", endpoint="telemetry"),
                Rule("/_runresume/state", endpoint="ctl_state", methods=["GET"]),
                Rule("/_runresume/clock", endpoint="ctl_clock", methods=["POST"]),
                Rule("/_runresume/reset", endpoint="ctl_reset", methods=["POST"]),
                Rule("/_runresume/stop", endpoint="ctl_stop", methods=["POST"]),
                Rule("/_runresume/faults", endpoint="ctl_faults", methods=["GET", "POST", "DELETE"]),
                Rule("/healthz", endpoint="health", methods=["GET"]),
                Rule("/", endpoint="ui", methods=["GET"]),
                Rule("/_runresume/ui", endpoint="ui", methods=["GET"]),
                # The links wandb prints ("View run at .../<entity>/<project>/runs/<id>") open the page.
                Rule("/<entity>/<project>/runs/<run_id>", endpoint="ui_link", methods=["GET"]),
                Rule("/<entity>/<project>", endpoint="ui_link", methods=["GET"]),
            ]
        )

    # ---- plumbing ----------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        request.max_content_length = self.max_body
        op: list[str | None] = [None]
        try:
            adapter = self.url_map.bind_to_environ(environ)
            endpoint, args = adapter.match()
            if endpoint in ("graphql", "file_stream") or endpoint.startswith("ctl_"):
                if not self._authorized(request):
                    response = _json({"errors": [{"message": messages.UNAUTHORIZED}]}, 401)
                    return self._finish(request, None, response, environ, start_response)
            try:
                handle = functools.partial(getattr(self, f"on_{endpoint}"), request, op=op, **args)
                response = serve_with_faults(self.faults, self._operation(endpoint, request, op), request, handle)
            except (_BadBody, AttributeError, KeyError, TypeError, ValueError) as exc:
                if not endpoint.startswith("ctl_"):
                    raise
                text = f"control API {request.path}: {exc.args[0] if exc.args else exc}"
                self.backend.record_problem(text)
                response = _json({"errors": [{"message": text}]}, 400)
        except NotFound:
            text = messages.UNEXPECTED_REQUEST.format(method=request.method, path=request.path)
            self.backend.record_problem(text)
            response = _json({"errors": [{"message": text}]}, 404)
        except RequestEntityTooLarge:
            text = messages.BODY_TOO_LARGE.format(method=request.method, path=request.path, limit=self.max_body)
            self.backend.record_problem(text)
            response = _json({"errors": [{"message": text}], "error": text}, 413)
        except HTTPException as exc:
            response = _json({"errors": [{"message": f"{exc.code} {exc.name}: {exc.description}"}]}, exc.code or 400)
            self.backend.record_problem(f"{request.method} {request.path}: {exc.name}")
        return self._finish(request, op[0], response, environ, start_response)

    def _finish(self, request: Request, op: str | None, response: Response, environ: Any, start_response: Any) -> Any:
        self.requests.append(
            RequestRecord(request.method, request.path, op, response.status_code, request.user_agent.string)
        )
        return response(environ, start_response)

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user_pass = base64.b64decode(header[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, _, key = user_pass.partition(":")
        return hmac.compare_digest(key.encode(), self.api_key.encode())

    def _read_body(self, request: Request) -> bytes:
        """The whole body (cached). Werkzeug stops a chunked body at the limit without an error, so a
        body cut there is refused here (413) instead of being read as truncated data."""
        raw = request.get_data()
        if len(raw) >= self.max_body and request.stream.read(1):
            raise RequestEntityTooLarge()
        return raw

    def _body_json(self, request: Request, what: str) -> Any:
        raw = self._read_body(request)
        if request.headers.get("Content-Encoding") == "gzip":
            try:
                raw = _gunzip(raw, self.max_body)
            except (OSError, EOFError, zlib.error) as exc:
                raise _BadBody(messages.MALFORMED_BODY.format(what=what, detail=f"bad gzip: {exc}")) from exc
        try:
            return json.loads(raw or b"{}")
        except ValueError as exc:
            raise _BadBody(messages.MALFORMED_BODY.format(what=what, detail=str(exc))) from exc

    def _operation(self, endpoint: str, request: Request, op: list[str | None]) -> str | None:
        """The operation fault rules name a request by (only looked at while rules are pending)."""
        if not self.faults or endpoint not in ("graphql", "file_stream", "upload"):
            return None
        if endpoint == "graphql":
            try:
                self._read_body(request)  # cached, so on_graphql reads the same body
                body = self._body_json(request, "/graphql")
                op[0] = graphql.operation_name(body["query"], body.get("operationName") or None)
            except (graphql.GraphQLRequestError, _BadBody, AttributeError, KeyError, TypeError):
                return None  # on_graphql answers the malformed request
        else:
            op[0] = endpoint
        return op[0]

    # ---- endpoints ---------------------------------------------------------------------------------
    def on_graphql(self, request: Request, op: list[str | None]) -> Response:
        try:
            body = self._body_json(request, "/graphql")
            if not isinstance(body, dict) or not isinstance(body.get("query"), str):
                raise _BadBody(messages.MALFORMED_BODY.format(what="/graphql", detail="expected {query, variables}"))
            op[0] = body.get("operationName") or None
            ctx = graphql.Context(self.backend, request.host_url.rstrip("/"))
            name = graphql.operation_name(body["query"], op[0])
            op[0] = name
            data = graphql.execute(ctx, body["query"], body.get("variables"), name)
        except (graphql.GraphQLRequestError, _BadBody) as exc:
            text = str(exc)
            if getattr(exc, "problem", True):
                self.backend.record_problem(text)
            # HTTP 200 + errors: the SDK does not retry it and fails at once (NOTES section 0).
            return _json({"errors": [{"message": text}], "data": None})
        return _json({"data": data})

    def on_file_stream(
        self, request: Request, op: list[str | None], entity: str, project: str, run_id: str
    ) -> Response:
        op[0] = "file_stream"
        key = self.backend.key(entity, project, run_id)
        try:
            body = self._body_json(request, f"file_stream of {key.path}")
            files = _parse_files(body, key.path)
            # Shared-mode writers (R94-R96) write at their own offsets; the backend places their lines.
            async_client = (
                request.headers.get("X-WANDB-ASYNC-CLIENT-ID") or "shared"
                if request.headers.get("X-WANDB-USE-ASYNC-FILESTREAM", "").lower() == "true"
                else None
            )
            if async_client is None:
                _check_gaps(self.backend, key, files)
        except _BadBody as exc:
            self.backend.record_problem(str(exc))
            return _json({"error": str(exc)}, 400)
        try:
            stopped = self.backend.file_stream(
                key,
                files,
                preempting=bool(body.get("preempting")),
                complete=bool(body.get("complete")),
                exit_code=body.get("exitcode"),
                uploaded=body.get("uploaded"),
                async_client=async_client,
            )
        except KeyError as exc:
            text = str(exc.args[0])
            self.backend.record_problem(text)
            return _json({"error": text}, 404)
        answer: dict[str, Any] = {"exitcode": None, "limits": {}}
        if stopped:
            answer["stopped"] = True
        return _json(answer)

    def on_upload(
        self, request: Request, op: list[str | None], entity: str, project: str, run_id: str, name: str
    ) -> Response:
        op[0] = "upload"
        try:
            self.backend.upload(self.backend.key(entity, project, run_id), name, self._read_body(request))
        except KeyError as exc:
            self.backend.record_problem(str(exc.args[0]))
            return _json({"error": str(exc.args[0])}, 404)
        return Response(b"", 200)

    def on_telemetry(self, request: Request, op: list[str | None], rest: str) -> Response:
        op[0] = "telemetry"
        return Response(b"", 404)

    def on_health(self, request: Request, op: list[str | None]) -> Response:
        return _json({"ok": True})

    def on_ui(self, request: Request, op: list[str | None]) -> Response:
        return ui.page(self.backend, request)  # read-only run page, no key (runresume serve)

    def on_ui_link(self, request: Request, op: list[str | None], **_: str) -> Response:
        return ui.page(self.backend, request)

    def on_ctl_state(self, request: Request, op: list[str | None]) -> Response:
        return _json(self.backend.snapshot())

    def on_ctl_clock(self, request: Request, op: list[str | None]) -> Response:
        body = self._body_json(request, "/_runresume/clock")
        return _json({"now": self.backend.advance_clock(float(body.get("advance", 0)))})

    def on_ctl_reset(self, request: Request, op: list[str | None]) -> Response:
        self.backend.reset()
        return _json({"ok": True})

    def on_ctl_stop(self, request: Request, op: list[str | None]) -> Response:
        body = self._body_json(request, "/_runresume/stop")
        self.backend.request_stop(str(body["path"]))
        return _json({"ok": True})

    def on_ctl_faults(self, request: Request, op: list[str | None]) -> Response:
        if request.method == "POST":
            self.faults.add(self._body_json(request, "/_runresume/faults"))
        elif request.method == "DELETE":
            self.faults.clear()
        return _json(self.faults.snapshot())


class _BadBody(Exception):
    pass


def _gunzip(raw: bytes, limit: int) -> bytes:
    """Decompress a gzip body, refusing to inflate it past ``limit`` bytes (a gzip bomb is a 413)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(raw, limit + 1)
    if len(out) > limit:
        raise RequestEntityTooLarge()
    if not inflater.eof:
        raise EOFError("the gzip stream is truncated")
    return out


def _json(obj: Any, status: int = 200) -> Response:
    return Response(json.dumps(obj), status=status, mimetype="application/json")


def _parse_files(body: Any, path: str) -> dict[str, FileChunk]:
    what = f"file_stream of {path}"
    if not isinstance(body, dict):
        raise _BadBody(messages.MALFORMED_BODY.format(what=what, detail="not an object"))
    _check_fields(body, what)
    files = body.get("files")
    if files is None:
        files = {}
    if not isinstance(files, dict):
        raise _BadBody(messages.MALFORMED_BODY.format(what=what, detail="files is not an object"))
    out: dict[str, FileChunk] = {}
    for name, chunk in files.items():
        offset = chunk.get("offset", 0) if isinstance(chunk, dict) else None
        if (
            not isinstance(chunk, dict)
            or not isinstance(offset, int)
            or isinstance(offset, bool)
            or offset < 0
            or not isinstance(chunk.get("content", []), list)
            or not all(isinstance(line, str) for line in chunk.get("content", []))
        ):
            detail = f"{name}: expected {{offset: int >= 0, content: [str]}}"
            raise _BadBody(messages.MALFORMED_BODY.format(what=what, detail=detail))
        content = list(chunk.get("content", []))
        if name in JSON_LINE_FILES:
            for i, line in enumerate(content):
                if not _is_json_object(line):
                    detail = f"{name} line {offset + i} is not a JSON object: {line[:80]!r}"
                    raise _BadBody(messages.MALFORMED_BODY.format(what=what, detail=detail))
        out[name] = FileChunk(offset, content)
    return out


#: Files whose lines must each be a JSON object (``output.log`` is plain text).
JSON_LINE_FILES = ("wandb-history.jsonl", "wandb-events.jsonl", "wandb-summary.json")


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _check_fields(body: dict[str, Any], what: str) -> None:
    """The other keys of a file_stream body, as wandb-core sends them (NOTES 1.6)."""
    wrong = [f"{key} must be true or false" for key in ("preempting", "complete") if not _is(body, key, bool)]
    if not _is(body, "exitcode", int) or isinstance(body.get("exitcode"), bool):
        wrong.append("exitcode must be an integer")
    if not _is(body, "uploaded", list) or not all(isinstance(name, str) for name in body.get("uploaded") or ()):
        wrong.append("uploaded must be a list of file names")
    if wrong:
        raise _BadBody(messages.MALFORMED_BODY.format(what=what, detail="; ".join(wrong)))


def _is(body: dict[str, Any], key: str, kind: type) -> bool:
    """``body[key]`` is absent, null or a ``kind``."""
    return body.get(key) is None or isinstance(body[key], kind)


def _check_gaps(backend: Backend, key: Any, files: dict[str, FileChunk]) -> None:
    """Refuse an offset more than :data:`MAX_LINE_GAP` lines past what the run holds."""
    with backend.lock:
        rec = backend.runs.get(key)
        held = {name: len(lines) for name, lines in rec.files.items()} if rec is not None else {}
    for name, chunk in files.items():
        if name not in JSON_LINE_FILES[:2] + ("output.log",):
            continue
        if chunk.offset > held.get(name, 0) + MAX_LINE_GAP:
            detail = (
                f"{name} offset {chunk.offset} is more than {MAX_LINE_GAP} lines past the "
                f"{held.get(name, 0)} lines the run holds (MAX_LINE_GAP)"
            )
            raise _BadBody(messages.MALFORMED_BODY.format(what=f"file_stream of {key.path}", detail=detail))
