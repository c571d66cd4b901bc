"""The fake W&B backend as a WSGI application (werkzeug): routes -> model.

Routes (what wandb 0.31 calls, NOTES.md section 1):

- ``POST /graphql``                                      GraphQL (see :mod:`.graphql`)
- ``POST /files/<entity>/<project>/<run>/file_stream``  history, events, output.log, summary,
  ``preempting``, ``complete``/``exitcode``; heartbeats are empty bodies
- ``PUT  /upload/<entity>/<project>/<run>/<name>?sig=``  run files (signed URLs from CreateRunFiles)
- ``POST /sdk/otel/...``                                  SDK telemetry: 404, so the SDK stops sending
- ``/_runresume/...``                                     the control API (state, clock, reset, stop)
- ``GET /healthz``, ``GET /``                             health probe and the read-only page of every run
- ``GET /<entity>/<project>/runs/<id>``, ``.../sweeps/<id>``  a run's page (its picture), a sweep's page

Every request must carry ``Authorization: Basic base64("api:KEY")`` with this server's key, except
the health probe, the read-only run page (on loopback; a server bound elsewhere asks for the key)
and uploads, which the SDK sends without a key (real W&B hands out signed storage URLs): an upload
URL carries a signature (``sig``) made with a per-server secret, for that one file of that one run.
A request without the key (or signature) is 401 and nothing else: it changes nothing, is not a
problem and is not in the request log (``app.unauthenticated`` counts them).

Every problem of an authenticated request (unknown operation or path, malformed body, a limit
passed) is answered with an error naming it (never a 500) and recorded in ``backend.problems``,
and changes nothing. The limits are :class:`~.limits.WireLimits` here and
:class:`~pytest_runresume.model.limits.Limits` in the model (``docs/limits.md``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import secrets
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import ClientDisconnected, HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ..model import Backend, FileChunk, messages
from ..model.errors import LimitExceeded
from . import graphql, public, ui
from .faults import DroppedConnection, Faults, serve_with_faults
from .limits import MAX_BODY, BoundedLog, ByteBudget, WireLimits, load_json

__all__ = ["MAX_BODY", "MAX_LINE_GAP", "FakeWandbApp", "RequestRecord"]

#: The default of the model's ``max_line_gap``: a file_stream offset that would leave more lines
#: unsent in a file (all its gaps together) is refused (400) (kept for imports; see ``Limits``).
MAX_LINE_GAP = 100_000
#: gzip bodies are inflated this many bytes at a time (each piece reserved in ``max_inflight_bytes``).
_INFLATE_STEP = 1024 * 1024
#: Endpoints anyone on the machine may call without the key.
_PUBLIC = frozenset({"health", "ui", "ui_link", "ui_run", "ui_sweep", "telemetry"})
#: The read-only pages (no key on loopback).
_PAGES = frozenset({"ui", "ui_link", "ui_run", "ui_sweep"})


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
        faults: injected faults (see :mod:`.faults`); not problems.
        limits: the wire's limits (:class:`~.limits.WireLimits`).
        ui_needs_key: the run page asks for the key too (a server not bound to loopback).

    Attributes:
        requests: the last ``limits.request_log`` requests served (a ring buffer; ``.dropped``).
        unauthenticated: how many requests were refused for want of the key (not logged).
        inflight: the bytes of request bodies being handled now, as received and inflated
            (``max_inflight_bytes``; ``.peak`` is the most ever held).
    """

    backend: Backend
    api_key: str
    faults: Faults = field(default_factory=Faults)
    limits: WireLimits = field(default_factory=WireLimits)
    ui_needs_key: bool = False

    def __post_init__(self) -> None:
        self.requests: BoundedLog[RequestRecord] = BoundedLog(self.limits.request_log)
        self.unauthenticated = 0
        self.inflight = ByteBudget(self.limits.max_inflight_bytes)
        self.faults.max_rules = self.limits.max_fault_rules
        self._upload_secret = secrets.token_bytes(32)
        self._count_lock = threading.Lock()
        self.url_map = Map(
            [
                Rule("/graphql", endpoint="graphql", methods=["POST"]),
                Rule("/files/<entity>/<project>/<run_id>/file_stream", endpoint="file_stream", methods=["POST"]),
                Rule("/upload/<entity>/<project>/<run_id>/<path:name>", endpoint="upload", methods=["PUT"]),
                Rule("/files/<entity>/<project>/<run_id>/<path:name>", endpoint="download", methods=["GET"]),
                Rule("/history/<entity>/<project>/<run_id>/<name>", endpoint="history_export", methods=["GET"]),
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
                Rule("/<entity>/<project>/runs/<run_id>", endpoint="ui_run", methods=["GET"]),
                Rule("/<entity>/<project>/sweeps/<sweep>", endpoint="ui_sweep", methods=["GET"]),
                Rule("/<entity>/<project>", endpoint="ui_link", methods=["GET"]),
            ]
        )

    @property
    def max_body(self) -> int:
        """The body limit in bytes (``limits.max_body``); settable."""
        return self.limits.max_body

    @max_body.setter
    def max_body(self, value: int) -> None:
        self.limits = self.limits.replace(max_body=value)

    # ---- plumbing ----------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        request.max_content_length = self.limits.max_body
        op: list[str | None] = [None]
        held: list[int] = [0]  # bytes this request reserved in ``inflight``
        request.environ["runresume.held"] = held
        try:
            response, log = self._serve(request, op)
        except DroppedConnection:
            raise  # an injected drop: werkzeug closes the connection without an answer
        except Exception as exc:  # noqa: BLE001 - the last resort: a named error, never a bare 500
            text = messages.INTERNAL_ERROR.format(
                method=request.method, path=request.path, error=f"{type(exc).__name__}: {exc}"[:500]
            )
            self.backend.record_problem(text)
            response, log = _json({"errors": [{"message": text}], "error": text}, 500), True
        finally:
            self.inflight.give(held[0])
            held[0] = 0
        if log:
            self.requests.append(
                RequestRecord(request.method, request.path, op[0], response.status_code, request.user_agent.string)
            )
        else:
            with self._count_lock:
                self.unauthenticated += 1
        return response(environ, start_response)

    def _serve(self, request: Request, op: list[str | None]) -> tuple[Response, bool]:
        """The answer, and whether the request goes in the request log (not a keyless refusal)."""
        authorized = self._authorized(request)
        try:
            endpoint, args = self.url_map.bind_to_environ(request.environ).match()
        except (NotFound, MethodNotAllowed) as exc:
            if not authorized:
                return _unauthorized(), False
            if isinstance(exc, NotFound):
                text = messages.UNEXPECTED_REQUEST.format(method=request.method, path=request.path)
                code = 404
            else:
                text = f"{request.method} {request.path}: {exc.name} (allowed: {', '.join(exc.valid_methods or [])})"
                code = 405
            self.backend.record_problem(text)
            return _json({"errors": [{"message": text}]}, code), True
        except HTTPException as exc:  # e.g. a malformed request line/URL
            if not authorized:
                return _unauthorized(), False
            text = f"{request.method} {request.path}: {exc.name}"
            self.backend.record_problem(text)
            return _json({"errors": [{"message": text}]}, exc.code or 400), True
        if endpoint == "upload" and not authorized:
            authorized = self._signed(request, args)
        elif endpoint in ("download", "history_export") and not authorized:
            authorized = self._signed(request, args, f"GET {'files' if endpoint == 'download' else 'history'}/")
        elif endpoint in _PAGES and not self.ui_needs_key:
            authorized = True
        if not authorized and endpoint not in _PUBLIC - _PAGES:
            return _unauthorized(ui=endpoint in _PAGES), False
        return self._dispatch(request, op, endpoint, args), True

    def _dispatch(self, request: Request, op: list[str | None], endpoint: str, args: Mapping[str, Any]) -> Response:
        try:
            handle = functools.partial(getattr(self, f"on_{endpoint}"), request, op=op, **args)
            try:
                return serve_with_faults(
                    self.faults,
                    self._operation(endpoint, request, op),
                    request,
                    handle,
                    body=functools.partial(self._fault_body, request),
                )
            except (_BadBody, AttributeError, KeyError, TypeError, ValueError) as exc:
                if not endpoint.startswith("ctl_"):
                    raise
                text = f"control API {request.path}: {exc.args[0] if exc.args else exc}"
                self.backend.record_problem(text)
                return _json({"errors": [{"message": text}]}, 400)
        except (RequestEntityTooLarge, _TooLarge) as exc:
            if isinstance(exc, _TooLarge):
                text = messages.INFLATED_TOO_LARGE.format(
                    method=request.method, path=request.path, limit=exc.limit, name=exc.name
                )
            else:
                text = messages.BODY_TOO_LARGE.format(method=request.method, path=request.path, limit=self.max_body)
            self.backend.record_problem(text)
            return _json({"errors": [{"message": text}], "error": text}, 413)
        except _Busy as exc:
            text = str(exc)  # a load shed, not a problem of the test: the SDK retries it
            response = _json({"errors": [{"message": text}], "error": text}, 503)
            response.headers["Retry-After"] = "1"
            return response
        except _SlowClient as exc:
            text = str(exc)
            self.backend.record_problem(text)
            return _json({"errors": [{"message": text}], "error": text}, 408)
        except HTTPException as exc:
            response = _json({"errors": [{"message": f"{exc.code} {exc.name}: {exc.description}"}]}, exc.code or 400)
            self.backend.record_problem(f"{request.method} {request.path}: {exc.name}")
            return response

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user_pass = base64.b64decode(header[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        _, _, key = user_pass.partition(":")
        return hmac.compare_digest(key.encode(), self.api_key.encode())

    def sign_upload(self, path: str) -> str:
        """The signature of the upload URL of ``entity/project/run_id/name`` (this server only)."""
        return hmac.new(self._upload_secret, path.encode(), hashlib.sha256).hexdigest()[:40]

    def _signed(self, request: Request, args: Mapping[str, Any], prefix: str = "") -> bool:
        """Whether the request carries the signature of its path (``prefix`` + ``entity/project/run/name``)."""
        sig = request.args.get("sig", "")
        path = prefix + graphql.upload_path(args["entity"], args["project"], args["run_id"], args["name"])
        return bool(sig) and hmac.compare_digest(sig.encode(), self.sign_upload(path).encode())

    def _read_body(self, request: Request) -> bytes:
        """The whole body (cached). Werkzeug stops a chunked body at the limit without an error, so a
        body cut there is refused here (413) instead of being read as truncated data. A client that
        stops sending (``read_timeout``) gets a 408."""
        if "runresume.raw" not in request.environ:
            length = request.content_length
            if length is not None and length > self.limits.max_body:
                raise RequestEntityTooLarge()
            self._reserve(request, self.limits.max_body if length is None else length)
            request.environ["runresume.raw"] = True
        try:
            raw = request.get_data()
            if len(raw) >= self.limits.max_body and request.stream.read(1):
                raise RequestEntityTooLarge()
        except (TimeoutError, OSError, ClientDisconnected) as exc:
            raise _SlowClient(
                f"{request.method} {request.path}: the body did not arrive in full within"
                f" {self.limits.read_timeout:g} s (read_timeout), or the client went away"
            ) from exc
        return raw

    def _inflate(self, request: Request, raw: bytes) -> bytes:
        """Decompress a gzip body, at most ``max_decompressed`` bytes of it, each piece reserved in
        ``max_inflight_bytes`` (the body bytes all requests hold at once)."""
        limit, name = min((self.limits.max_decompressed, "max_decompressed"), (self.limits.max_body, "max_body"))
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = bytearray()
        size = 0
        data = raw
        while True:
            piece = inflater.decompress(data, _INFLATE_STEP)
            data = inflater.unconsumed_tail
            if piece:
                size += len(piece)
                if size > limit:
                    raise _TooLarge(limit, name)
                self._reserve(request, len(piece))
                out += piece
            if not data or not piece:
                break
        if not inflater.eof:
            raise EOFError("the gzip stream is truncated")
        return bytes(out)

    def _reserve(self, request: Request, n: int) -> None:
        """Count ``n`` more bytes held by this request in ``max_inflight_bytes`` (503 if no room)."""
        if not self.inflight.take(n):
            raise _Busy(messages.SERVER_BUSY.format(held=self.inflight.held, limit=self.inflight.limit))
        request.environ["runresume.held"][0] += n

    def _body(self, request: Request) -> bytes:
        """The body, decompressed if it says ``Content-Encoding: gzip`` (cached on the request)."""
        cached = request.environ.get("runresume.body")
        if cached is not None:
            return bytes(cached)
        raw = self._read_body(request)
        if request.headers.get("Content-Encoding") == "gzip":
            try:
                raw = self._inflate(request, raw)
            except (OSError, EOFError, zlib.error) as exc:
                raise _BadBody(f"bad gzip: {exc}") from exc
        request.environ["runresume.body"] = raw
        return raw

    def _fault_body(self, request: Request) -> bytes:
        try:
            return self._body(request)
        except (_BadBody, _Busy, _SlowClient, HTTPException):
            return b""

    def _body_json(self, request: Request, what: str) -> Any:
        try:
            raw = self._body(request)
        except _BadBody as exc:
            raise _BadBody(messages.MALFORMED_BODY.format(what=what, detail=str(exc))) from exc
        try:
            return load_json(raw or b"{}", self.limits.max_json_depth)
        except ValueError as exc:
            raise _BadBody(messages.MALFORMED_BODY.format(what=what, detail=str(exc))) from exc

    def _operation(self, endpoint: str, request: Request, op: list[str | None]) -> str | None:
        """The operation fault rules name a request by (only looked at while rules are pending)."""
        if not self.faults or endpoint not in ("graphql", "file_stream", "upload"):
            return None
        if endpoint == "graphql":
            try:
                body = self._body_json(request, "/graphql")
                op[0] = graphql.operation_name(body["query"], body.get("operationName") or None, self.limits)
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
            ctx = graphql.Context(self.backend, request.host_url.rstrip("/"), self.limits, self.sign_upload)
            name = graphql.operation_name(body["query"], op[0], self.limits)
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
            files = _parse_files(body, key.path, self.limits.max_json_depth)
            # Shared-mode writers (R94-R96) write at their own offsets; the backend places their lines.
            async_client = (
                request.headers.get("X-WANDB-ASYNC-CLIENT-ID") or "shared"
                if request.headers.get("X-WANDB-USE-ASYNC-FILESTREAM", "").lower() == "true"
                else None
            )
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
        except LimitExceeded as exc:
            text = messages.MALFORMED_BODY.format(what=f"file_stream of {key.path}", detail=str(exc))
            self.backend.record_problem(text if exc.kind == "gap" else str(exc))
            return _json({"error": text if exc.kind == "gap" else str(exc)}, 400 if exc.kind == "gap" else 413)
        except ValueError as exc:
            text = messages.MALFORMED_BODY.format(what=f"file_stream of {key.path}", detail=str(exc))
            self.backend.record_problem(text)
            return _json({"error": text}, 400)
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
        except LimitExceeded as exc:
            self.backend.record_problem(str(exc))
            return _json({"error": str(exc)}, 413)
        return Response(b"", 200)

    def on_download(
        self, request: Request, op: list[str | None], entity: str, project: str, run_id: str, name: str
    ) -> Response:
        """``file.download()`` (``RunFiles`` hands out these signed URLs): the uploaded bytes;
        ``Range`` requests are answered as such."""
        op[0] = "download"
        return self._send(request, lambda ctx: public.file_bytes(ctx, entity, project, run_id, name), name)

    def on_history_export(
        self, request: Request, op: list[str | None], entity: str, project: str, run_id: str, name: str
    ) -> Response:
        """The parquet export of a run's history (``RunParquetHistory`` hands out these signed URLs;
        wandb-core reads them with ``Range`` requests)."""
        op[0] = "history_export"
        return self._send(request, lambda ctx: public.parquet_bytes(ctx, entity, project, run_id, name), name)

    def _send(self, request: Request, get: Any, name: str) -> Response:
        ctx = graphql.Context(self.backend, request.host_url.rstrip("/"), self.limits, self.sign_upload)
        try:
            data = get(ctx)
        except KeyError as exc:
            self.backend.record_problem(str(exc.args[0]))
            return _json({"error": str(exc.args[0])}, 404)
        response = Response(data, 200, mimetype="application/octet-stream")
        return response.make_conditional(request, accept_ranges=True, complete_length=len(data))

    def on_telemetry(self, request: Request, op: list[str | None], rest: str) -> Response:
        op[0] = "telemetry"
        return Response(b"", 404)

    def on_health(self, request: Request, op: list[str | None]) -> Response:
        return _json({"ok": True})

    def on_ui(self, request: Request, op: list[str | None]) -> Response:
        return ui.page(self.backend, request)  # read-only run page, no key (runresume serve)

    def on_ui_link(self, request: Request, op: list[str | None], **_: str) -> Response:
        return ui.page(self.backend, request)

    def on_ui_run(self, request: Request, op: list[str | None], entity: str, project: str, run_id: str) -> Response:
        return ui.run_page(self.backend, request, entity, project, run_id)  # the link wandb prints

    def on_ui_sweep(self, request: Request, op: list[str | None], entity: str, project: str, sweep: str) -> Response:
        return ui.sweep_page(self.backend, request, entity, project, sweep)

    def on_ctl_state(self, request: Request, op: list[str | None]) -> Response:
        return _json(self.backend.snapshot())

    def on_ctl_clock(self, request: Request, op: list[str | None]) -> Response:
        body = self._body_json(request, "/_runresume/clock")
        if not isinstance(body, dict):
            raise _BadBody('expected {"advance": SECONDS}')
        advance = body.get("advance", 0)
        if isinstance(advance, bool) or not isinstance(advance, (int, float)):
            raise _BadBody(f"advance must be a number of seconds, got {advance!r:.80}")
        return _json({"now": self.backend.advance_clock(advance)})

    def on_ctl_reset(self, request: Request, op: list[str | None]) -> Response:
        self.backend.reset()
        return _json({"ok": True})

    def on_ctl_stop(self, request: Request, op: list[str | None]) -> Response:
        body = self._body_json(request, "/_runresume/stop")
        if not isinstance(body, dict) or not isinstance(body.get("path"), str):
            raise _BadBody('expected {"path": "entity/project/run_id"}')
        self.backend.request_stop(body["path"])
        return _json({"ok": True})

    def on_ctl_faults(self, request: Request, op: list[str | None]) -> Response:
        if request.method == "POST":
            self.faults.add(self._body_json(request, "/_runresume/faults"))
        elif request.method == "DELETE":
            self.faults.clear()
        return _json(self.faults.snapshot())


class _BadBody(Exception):
    pass


class _TooLarge(Exception):
    """A gzip body that inflates past ``limit`` (``name``: ``max_decompressed`` or ``max_body``)."""

    def __init__(self, limit: int, name: str) -> None:
        super().__init__(limit, name)
        self.limit = limit
        self.name = name


class _Busy(Exception):
    """More body bytes held at once than ``max_inflight_bytes`` allows (503, retried)."""


class _SlowClient(Exception):
    """The body did not arrive within ``read_timeout`` (408)."""


def _json(obj: Any, status: int = 200) -> Response:
    return Response(json.dumps(obj), status=status, mimetype="application/json")


def _unauthorized(ui: bool = False) -> Response:
    response = _json({"errors": [{"message": messages.UNAUTHORIZED}], "error": messages.UNAUTHORIZED}, 401)
    if ui:
        response.headers["WWW-Authenticate"] = 'Basic realm="runresume", charset="UTF-8"'
    return response


def _parse_files(body: Any, path: str, max_depth: int) -> dict[str, FileChunk]:
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
                if not _is_json_object(line, max_depth):
                    detail = f"{name} line {offset + i} is not a JSON object: {line[:80]!r}"
                    raise _BadBody(messages.MALFORMED_BODY.format(what=what, detail=detail))
        out[name] = FileChunk(offset, content)
    return out


#: Files whose lines must each be a JSON object (``output.log`` is plain text).
JSON_LINE_FILES = ("wandb-history.jsonl", "wandb-events.jsonl", "wandb-summary.json")


def _is_json_object(line: str, max_depth: int) -> bool:
    try:
        return isinstance(load_json(line, max_depth), dict)
    except ValueError:
        return False


def _check_fields(body: dict[str, Any], what: str) -> None:
    """The other keys of a file_stream body, as wandb-core sends them (NOTES 1.6)."""
    wrong = [f"{key} must be true or false" for key in ("preempting", "complete") if not _is(body, key, bool)]
    exitcode = body.get("exitcode")
    if (
        not _is(body, "exitcode", int)
        or isinstance(exitcode, bool)
        or (exitcode is not None and abs(exitcode) >= 2**63)
    ):
        wrong.append("exitcode must be an integer")
    if not _is(body, "uploaded", list) or not all(isinstance(name, str) for name in body.get("uploaded") or ()):
        wrong.append("uploaded must be a list of file names")
    if wrong:
        raise _BadBody(messages.MALFORMED_BODY.format(what=what, detail="; ".join(wrong)))


def _is(body: dict[str, Any], key: str, kind: type) -> bool:
    """``body[key]`` is absent, null or a ``kind``."""
    return body.get(key) is None or isinstance(body[key], kind)
