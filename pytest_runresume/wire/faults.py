"""Fault injection: make the fake W&B backend fail on purpose, to see what the real SDK does.

A :class:`Faults` registry holds rules ("fail the next 2 ``UpsertBucket`` with HTTP 500") and
matches requests against them; the WSGI app consults it before dispatching a request (see
:func:`serve_with_faults`). From a test::

    wandb_server.faults.fail("UpsertBucket", status=500, times=2)
    wandb_server.faults.fail("file_stream", status=429, retry_after=1)
    wandb_server.faults.delay("file_stream", seconds=0.5, times=3)
    wandb_server.faults.drop("file_stream", after_handling=True)   # applied, answer lost
    wandb_server.faults.graphql_error("UpsertBucket", "run was deleted")

and from the control API: ``POST /_runresume/faults`` with
``{"action": "fail", "target": "UpsertBucket", "status": 500, "times": 2}`` (``GET`` lists the
pending rules and what was injected, ``DELETE`` clears them).

A *target* is a GraphQL operation name (``UpsertBucket``), ``"file_stream"``, ``"upload"``,
``"graphql"`` (any GraphQL operation) or ``"*"`` (any of these). The control API, ``/healthz`` and
telemetry are never faulted. Every injected fault is recorded in :attr:`Faults.injected`; an
injected fault is *not* a backend problem, so a test does not fail at teardown because it asked for
one.

What wandb 0.31 does with each answer (NOTES section 0 and 1.6): HTTP 400/403/404 and HTTP 200 with
GraphQL ``errors`` fail at once; 409, 429 and 5xx and a dropped connection are retried with backoff
until ``WANDB_INIT_TIMEOUT`` (GraphQL at init) or for good (file_stream).
"""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

#: Targets that are not GraphQL operation names.
FILE_STREAM = "file_stream"
UPLOAD = "upload"
ANY_GRAPHQL = "graphql"
ANY = "*"
ACTIONS = ("fail", "graphql_error", "delay", "drop")
#: Keys every verb takes besides its own: which of the matching requests it applies to.
MATCH_KEYS = frozenset({"carrying", "skip"})
#: The longest latency one request may get (seconds): a fault must not hang a test.
MAX_DELAY = 60.0


@dataclass
class Fault:
    """One rule: what to do to the next ``times`` requests of ``target``.

    Attributes:
        action: ``"fail"`` (answer ``status``), ``"graphql_error"`` (HTTP 200 with GraphQL
            ``errors``), ``"delay"`` (wait ``seconds``, then serve normally) or ``"drop"`` (close the
            connection without an answer).
        target: a GraphQL operation name, ``"file_stream"``, ``"upload"``, ``"graphql"`` or ``"*"``.
        times: how many requests it applies to; ``None`` for every request until cleared.
        status: the HTTP status of ``fail``.
        retry_after: the ``Retry-After`` header of ``fail`` (whole seconds), if any.
        message: the error text (``fail``, ``graphql_error``); a default names the fault.
        seconds: the latency of ``delay``.
        after_handling: for ``drop``: serve the request first (the model applies it), then close the
            connection without the answer, so the client re-sends something the server already holds.
        carrying: only requests whose JSON body carries this string (quoted), e.g.
            ``"wandb-history.jsonl"`` (a file_stream request with history lines) or ``"complete"``
            (the final file_stream request).
        skip: let this many matching requests through first (``skip=1``: fault the second one).
        used: how many requests it has applied to so far.
    """

    action: str
    target: str
    times: int | None = 1
    status: int | None = None
    retry_after: int | None = None
    message: str | None = None
    seconds: float = 0.0
    after_handling: bool = False
    carrying: str | None = None
    skip: int = 0
    used: int = 0
    skipped: int = 0

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; expected one of {ACTIONS}")
        if not isinstance(self.target, str) or not self.target:
            raise ValueError(f"a fault needs a target (an operation name, 'file_stream', ...), got {self.target!r}")
        if self.times is not None and (not _is_int(self.times) or self.times < 1):
            raise ValueError(f"times must be an integer >= 1 or None (every request), got {self.times!r}")
        if self.action == "fail":
            if not _is_int(self.status) or not 400 <= self.status <= 599:  # type: ignore[operator]
                raise ValueError(f"a failure needs an HTTP status 400-599, got {self.status!r}")
            if self.retry_after is not None and (not _is_int(self.retry_after) or self.retry_after < 0):
                raise ValueError(f"retry_after is whole seconds >= 0, got {self.retry_after!r}")
        if not _is_int(self.skip) or self.skip < 0:
            raise ValueError(f"skip must be an integer >= 0, got {self.skip!r}")
        if self.carrying is not None and (not isinstance(self.carrying, str) or not self.carrying):
            raise ValueError(f"carrying is a non-empty string, got {self.carrying!r}")
        if self.action == "graphql_error" and self.target in (FILE_STREAM, UPLOAD):
            raise ValueError(f"a GraphQL error needs a GraphQL target, not {self.target!r}")
        if self.action == "delay" and not (
            isinstance(self.seconds, (int, float))
            and not isinstance(self.seconds, bool)
            and 0 < self.seconds <= MAX_DELAY
        ):
            raise ValueError(f"a delay needs 0 < seconds <= {MAX_DELAY:g}, got {self.seconds!r}")

    def matches(self, operation: str, carries: Callable[[str], bool] | None = None) -> bool:
        """Whether this rule applies to a request of ``operation`` (and has uses left).

        Args:
            operation: the request's operation.
            carries: tells whether the request body carries a string (for ``carrying``).
        """
        if self.times is not None and self.used >= self.times:
            return False
        if self.carrying is not None and (carries is None or not carries(self.carrying)):
            return False
        if self.target == ANY:
            return True
        if self.target == ANY_GRAPHQL:
            return operation not in (FILE_STREAM, UPLOAD)
        return self.target == operation

    def describe(self) -> str:
        """``HTTP 500 for UpsertBucket (1 of 2)``, ``drop file_stream after handling (1 of 1)`` ..."""
        what = {
            "fail": f"HTTP {self.status}"
            + (f" (Retry-After {self.retry_after})" if self.retry_after is not None else ""),
            "graphql_error": "GraphQL error",
            "delay": f"delay {self.seconds:g} s",
            "drop": "dropped connection" + (" after handling" if self.after_handling else ""),
        }[self.action]
        of = "every request" if self.times is None else f"{self.used} of {self.times}"
        carrying = f" carrying {self.carrying!r}" if self.carrying is not None else ""
        return f"{what} for {self.target}{carrying} ({of})"


@dataclass(frozen=True)
class InjectedFault:
    """A fault that was applied to a request.

    Attributes:
        t: wall-clock time, seconds since the epoch.
        operation: the request's operation (``UpsertBucket``, ``file_stream`` ...).
        action: the fault's action.
        detail: :meth:`Fault.describe` at the time.
        path: the request path (``/files/e/p/run/file_stream`` names the run).
    """

    t: float
    operation: str
    action: str
    detail: str
    path: str


@dataclass
class Faults:
    """The registry of fault rules and the record of injected faults. Thread-safe.

    Rules are matched in the order they were added: every matching ``delay`` applies, then the
    first matching ``fail``/``graphql_error``/``drop``.
    """

    rules: list[Fault] = field(default_factory=list)
    injected: list[InjectedFault] = field(default_factory=list)
    #: Rules that may be pending at once (the app sets its ``max_fault_rules``); the record of
    #: injected faults keeps as many of the latest.
    max_rules: int = 1_000

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()

    # ---- verbs ---------------------------------------------------------------------------------------
    # Every verb also takes ``carrying`` (only requests whose body carries that string) and ``skip``
    # (let that many matching requests through first); see :class:`Fault`.
    def fail(
        self,
        target: str,
        status: int = 500,
        times: int | None = 1,
        retry_after: int | None = None,
        message: str | None = None,
        **match: Any,
    ) -> Fault:
        """Answer the next ``times`` requests of ``target`` with HTTP ``status`` (and ``Retry-After``)."""
        return self._add("fail", target, times, match, status=status, retry_after=retry_after, message=message)

    def graphql_error(self, target: str, message: str | None = None, times: int | None = 1, **match: Any) -> Fault:
        """Answer the next ``times`` requests of GraphQL operation ``target`` with HTTP 200 and
        ``{"errors": [{"message": message}]}`` (the SDK does not retry this)."""
        return self._add("graphql_error", target, times, match, message=message)

    def delay(self, target: str, seconds: float, times: int | None = 1, **match: Any) -> Fault:
        """Hold the next ``times`` requests of ``target`` for ``seconds``, then serve them normally."""
        return self._add("delay", target, times, match, seconds=seconds)

    def drop(self, target: str, times: int | None = 1, after_handling: bool = False, **match: Any) -> Fault:
        """Close the connection of the next ``times`` requests of ``target`` without an answer.

        With ``after_handling=True`` the request is served first (the model holds its data), so the
        client's retry re-sends data the server already has.
        """
        return self._add("drop", target, times, match, after_handling=after_handling)

    def add(self, spec: dict[str, Any]) -> Fault:
        """Add a rule from a JSON object (the control API): ``{"action": "fail", "target": ..., ...}``.

        Raises:
            ValueError: naming an unknown action or key, or a bad value.
        """
        if not isinstance(spec, dict):
            raise ValueError(
                "a fault is a JSON object like {'action': 'fail', 'target': 'UpsertBucket', 'status': 500}"
            )
        spec = dict(spec)
        action = spec.pop("action", None)
        verbs: dict[str, Callable[..., Fault]] = {
            "fail": self.fail,
            "graphql_error": self.graphql_error,
            "delay": self.delay,
            "drop": self.drop,
        }
        if action not in verbs:
            raise ValueError(f"unknown fault action {action!r}; expected one of {ACTIONS}")
        if "target" not in spec:
            raise ValueError(f"fault action {action!r} needs a 'target'")
        return verbs[action](**spec)

    def clear(self) -> None:
        """Forget every rule and record; cut short any delay in progress."""
        with self._lock:
            self.rules.clear()
            self.injected.clear()
            self._release.set()
            self._release = threading.Event()

    # ---- questions -------------------------------------------------------------------------------------
    def __bool__(self) -> bool:
        """Whether any rule is still pending (the app skips all work when not)."""
        return any(r.times is None or r.used < r.times for r in self.rules)

    def count(self, target: str | None = None, action: str | None = None) -> int:
        """How many faults were injected, optionally only for ``target`` (operation) and/or ``action``."""
        with self._lock:
            return sum(
                1
                for f in self.injected
                if (target is None or f.operation == target) and (action is None or f.action == action)
            )

    def pending(self) -> list[Fault]:
        """The rules that still have uses left."""
        with self._lock:
            return [r for r in self.rules if r.times is None or r.used < r.times]

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able view: the pending rules and the injected faults."""
        with self._lock:
            return {
                "pending": [asdict(r) for r in self.rules if r.times is None or r.used < r.times],
                "injected": [asdict(f) for f in self.injected],
            }

    # ---- matching --------------------------------------------------------------------------------------
    def take(self, operation: str, path: str = "", carries: Callable[[str], bool] | None = None) -> list[Fault]:
        """Consume the rules that apply to one request of ``operation``.

        Args:
            operation: the request's operation.
            path: the request path, for the record.
            carries: tells whether the request body carries a string (rules with ``carrying``).

        Returns:
            Copies of the matching rules as applied (every ``delay``, then at most one
            ``fail``/``graphql_error``/``drop``), each already recorded in :attr:`injected`.
        """
        out: list[Fault] = []
        with self._lock:
            terminal = False
            for rule in self.rules:
                if not rule.matches(operation, carries) or (terminal and rule.action != "delay"):
                    continue
                if rule.skipped < rule.skip:
                    rule.skipped += 1
                    continue
                rule.used += 1
                applied = Fault(**asdict(rule))
                out.append(applied)
                self.injected.append(InjectedFault(time.time(), operation, rule.action, rule.describe(), path))
                if len(self.injected) > self.max_rules:
                    del self.injected[: len(self.injected) - self.max_rules]
                terminal = terminal or rule.action != "delay"
        out.sort(key=lambda f: f.action != "delay")
        return out

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds`` for a ``delay``, or less if :meth:`clear` is called meanwhile."""
        self._release.wait(seconds)

    def _add(self, action: str, target: str, times: int | None, match: dict[str, Any], **what: Any) -> Fault:
        unknown = sorted(set(match) - MATCH_KEYS)
        if unknown:
            allowed = sorted(MATCH_KEYS | set(what) | {"target", "times"})
            raise ValueError(f"unknown key(s) {unknown} for fault action {action!r}; allowed: {allowed}")
        fault = Fault(action, target, times, **what, **match)
        with self._lock:
            self.rules = [r for r in self.rules if r.times is None or r.used < r.times]  # forget used-up rules
            if len(self.rules) >= self.max_rules:
                raise ValueError(
                    f"{len(self.rules)} fault rules are pending; the limit is {self.max_rules} (max_fault_rules)"
                )
            self.rules.append(fault)
        return fault


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class DroppedConnection(ConnectionAbortedError):
    """Raised inside the app to make werkzeug's server drop the connection (an injected fault)."""


def serve_with_faults(
    faults: Faults,
    operation: str | None,
    request: Request,
    dispatch: Callable[[], Response],
    body: Callable[[], bytes] | None = None,
) -> Response:
    """Serve one request through the fault rules: ``dispatch()`` is the normal handling; ``body()``
    is the request body decompressed within the app's limits (for ``carrying``).

    Raises:
        DroppedConnection: for a ``drop``, after shutting the client's socket, so the server writes
            nothing and closes the connection (werkzeug treats a ``ConnectionError`` as a client that
            went away). In-process (no socket) the caller sees the exception.
    """
    if operation is None or not faults:
        return dispatch()
    for fault in faults.take(operation, request.path, functools.partial(_carries, request, body)):
        text = fault.message or f"injected fault: {fault.describe()}"
        if fault.action == "delay":
            faults.wait(fault.seconds)
        elif fault.action == "fail":
            assert fault.status is not None
            payload = {"error": text} if operation in (FILE_STREAM, UPLOAD) else {"errors": [{"message": text}]}
            response = Response(json.dumps(payload), status=fault.status, mimetype="application/json")
            if fault.retry_after is not None:
                response.headers["Retry-After"] = str(fault.retry_after)
            return response
        elif fault.action == "graphql_error":
            return Response(json.dumps({"errors": [{"message": text}], "data": None}), mimetype="application/json")
        elif fault.action == "drop":
            if fault.after_handling:
                dispatch()  # the model applies the request; its answer is lost
            _drop(request)
    return dispatch()


#: Without the app's ``body()``, a gzip body is inflated at most this far to look for ``carrying``.
_CARRIES_INFLATE = 16 * 1024 * 1024


def _carries(request: Request, body: Callable[[], bytes] | None, text: str) -> bool:
    if body is not None:
        data = body()  # cached: the handler reads the same bytes
    else:
        data = request.get_data()
        if request.headers.get("Content-Encoding") == "gzip":
            try:
                data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, _CARRIES_INFLATE)
            except zlib.error:
                return False
    return json.dumps(text).encode() in data


def _drop(request: Request) -> None:
    request.get_data()  # read the whole body, so the server's next read on the socket is its end
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise DroppedConnection("injected fault: connection dropped without an answer")


__all__ = ["ACTIONS", "DroppedConnection", "Fault", "Faults", "InjectedFault", "serve_with_faults"]
