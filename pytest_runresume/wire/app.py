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
passed) is answered with an error naming it (never a 500) and recorded in ``model.problems``,
and changes nothing. The limits are :class:`~.limits.WireLimits` here and
:class:`~pytest_runresume.model.limits.Limits` in the model (``docs/limits.md``).

This module routes, authenticates and turns errors into answers; the endpoints are
:mod:`.endpoints` (one ``on_<endpoint>`` method per route), reading bodies within the limits is
:mod:`.bodies`, and the GraphQL dispatch is :mod:`.dispatch`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ..model import Model, messages
from . import graphql
from .bodies import BadBody, Busy, SlowClient, TooLarge, json_response
from .endpoints import Endpoints
from .faults import DroppedConnection, Faults, serve_with_faults
from .limits import MAX_BODY, BoundedLog, ByteBudget, WireLimits

__all__ = ["MAX_BODY", "MAX_LINE_GAP", "FakeWandbApp", "RequestRecord"]

#: The default of the model's ``max_line_gap``: a file_stream offset that would leave more lines
#: unsent in a file (all its gaps together) is refused (400) (kept for imports; see ``Limits``).
MAX_LINE_GAP = 100_000
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
class FakeWandbApp(Endpoints):
    """The WSGI app.

    Args:
        model: the model.
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

    model: Model
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
            self.model.record_problem(text)
            response, log = json_response({"errors": [{"message": text}], "error": text}, 500), True
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
            self.model.record_problem(text)
            return json_response({"errors": [{"message": text}]}, code), True
        except HTTPException as exc:  # e.g. a malformed request line/URL
            if not authorized:
                return _unauthorized(), False
            text = f"{request.method} {request.path}: {exc.name}"
            self.model.record_problem(text)
            return json_response({"errors": [{"message": text}]}, exc.code or 400), True
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
            except (BadBody, AttributeError, KeyError, TypeError, ValueError) as exc:
                if not endpoint.startswith("ctl_"):
                    raise
                text = f"control API {request.path}: {exc.args[0] if exc.args else exc}"
                self.model.record_problem(text)
                return json_response({"errors": [{"message": text}]}, 400)
        except (RequestEntityTooLarge, TooLarge) as exc:
            if isinstance(exc, TooLarge):
                text = messages.INFLATED_TOO_LARGE.format(
                    method=request.method, path=request.path, limit=exc.limit, name=exc.name
                )
            else:
                text = messages.BODY_TOO_LARGE.format(method=request.method, path=request.path, limit=self.max_body)
            self.model.record_problem(text)
            return json_response({"errors": [{"message": text}], "error": text}, 413)
        except Busy as exc:
            text = str(exc)  # a load shed, not a problem of the test: the SDK retries it
            response = json_response({"errors": [{"message": text}], "error": text}, 503)
            response.headers["Retry-After"] = "1"
            return response
        except SlowClient as exc:
            text = str(exc)
            self.model.record_problem(text)
            return json_response({"errors": [{"message": text}], "error": text}, 408)
        except HTTPException as exc:
            response = json_response(
                {"errors": [{"message": f"{exc.code} {exc.name}: {exc.description}"}]}, exc.code or 400
            )
            self.model.record_problem(f"{request.method} {request.path}: {exc.name}")
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

    def _operation(self, endpoint: str, request: Request, op: list[str | None]) -> str | None:
        """The operation fault rules name a request by (only looked at while rules are pending)."""
        if not self.faults or endpoint not in ("graphql", "file_stream", "upload"):
            return None
        if endpoint == "graphql":
            try:
                body = self._bodyjson_response(request, "/graphql")
                op[0] = graphql.operation_name(body["query"], body.get("operationName") or None, self.limits)
            except (graphql.GraphQLRequestError, BadBody, AttributeError, KeyError, TypeError):
                return None  # on_graphql answers the malformed request
        else:
            op[0] = endpoint
        return op[0]


def _unauthorized(ui: bool = False) -> Response:
    response = json_response({"errors": [{"message": messages.UNAUTHORIZED}], "error": messages.UNAUTHORIZED}, 401)
    if ui:
        response.headers["WWW-Authenticate"] = 'Basic realm="runresume", charset="UTF-8"'
    return response
