"""Limits of the wire: what one request, and all requests at once, may cost the server.

Every limit has a default, is named in the error a request past it gets, and is set with
``FakeServer(limits=WireLimits(...))`` / ``FakeWandbApp(..., limits=...)`` or
``runresume serve --limit NAME=VALUE``. ``docs/limits.md`` lists them with the model's
(:class:`~pytest_runresume.model.limits.Limits`).
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, fields
from typing import Any, TypeVar

#: Request bodies larger than this are refused with 413 (bytes; the default of ``max_body``).
MAX_BODY = 64 * 1024 * 1024
#: The limits given in seconds (finite numbers > 0); every other limit is an integer > 0.
SECONDS = frozenset({"read_timeout", "request_timeout"})

T = TypeVar("T")


@dataclass(frozen=True)
class WireLimits:
    """The wire's limits (see ``docs/limits.md``).

    Attributes:
        max_body: bytes of one request body, as sent (also chunked); larger is a 413.
        max_decompressed: bytes a gzip request body may inflate to; larger is a 413.
        max_inflight_bytes: bytes of request bodies all requests being handled may hold at once, as
            received (their Content-Length, or ``max_body`` for a chunked one) and inflated; past
            it a request is answered 503 with ``Retry-After: 1`` (the SDK retries). At least
            ``max_body``.
        max_json_depth: nesting of JSON arrays/objects in a body and in the JSON strings it carries
            (config, summary, history lines); deeper is a named 400/GraphQL error.
        max_graphql_chars: characters of a GraphQL document.
        max_graphql_tokens: lexical tokens of a GraphQL document (graphql-core's ``max_tokens``).
        max_graphql_aliases: aliased fields in a GraphQL document.
        max_graphql_depth: nesting of selection sets in a GraphQL document.
        max_upload_files: file names one ``CreateRunFiles`` may ask upload URLs for.
        request_log: requests kept in ``app.requests`` (a ring buffer: the oldest go first).
        max_fault_rules: fault rules that may be pending at once (``/_runresume/faults``).
        read_timeout: seconds the server waits for a client to send the next bytes (of a request,
            or of the next request on a kept-alive connection) before closing the connection.
        request_timeout: seconds a whole request may take to arrive (request line, headers and
            body), counted from when the server starts waiting for it (the connection accepted;
            werkzeug answers one request per connection): a client trickling bytes, each within ``read_timeout``, is
            still cut off there (408 if its body was being read, else the connection is closed).
        max_connections: connections served at once; more are answered 503 and closed.
    """

    max_body: int = MAX_BODY
    max_decompressed: int = 8 * 1024 * 1024
    max_inflight_bytes: int = 96 * 1024 * 1024
    max_json_depth: int = 64
    max_graphql_chars: int = 64 * 1024
    max_graphql_tokens: int = 5_000
    max_graphql_aliases: int = 100
    max_graphql_depth: int = 32
    max_upload_files: int = 1_000
    request_log: int = 10_000
    max_fault_rules: int = 1_000
    read_timeout: float = 60.0
    request_timeout: float = 120.0
    max_connections: int = 128

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
            if f.name not in SECONDS:
                ok = ok and isinstance(value, int)
            if not ok:
                kind = "a finite number of seconds > 0" if f.name in SECONDS else "an integer > 0"
                raise ValueError(f"limit {f.name} must be {kind}, got {value!r}")
        if self.max_inflight_bytes < self.max_body:
            raise ValueError(
                f"limit max_inflight_bytes ({self.max_inflight_bytes}) must be at least max_body ({self.max_body}):"
                " else a body of max_body bytes could never be served"
            )

    def replace(self, **changes: Any) -> WireLimits:
        """A copy with ``changes`` (unknown names are a ``ValueError`` naming them)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown wire limit(s) {unknown}; known: {sorted(known)}")
        return WireLimits(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})


class BoundedLog(list[T]):
    """A list that keeps only its last ``maxlen`` items (a ring buffer that still compares, slices
    and prints like a list); ``dropped`` counts what was pushed out."""

    def __init__(self, maxlen: int) -> None:
        super().__init__()
        self.maxlen = maxlen
        self.dropped = 0
        self._lock = threading.Lock()

    def append(self, item: T) -> None:
        with self._lock:
            super().append(item)
            if len(self) > self.maxlen:
                excess = len(self) - self.maxlen
                del self[:excess]
                self.dropped += excess

    def clear(self) -> None:
        with self._lock:
            super().clear()
            self.dropped = 0


class JSONTooDeep(ValueError):
    """JSON nested deeper than ``max_json_depth``."""


def load_json(raw: str | bytes, max_depth: int) -> Any:
    """``json.loads`` that refuses nesting deeper than ``max_depth`` (also where ``json`` itself
    would raise ``RecursionError``).

    Raises:
        ValueError: not JSON, or :class:`JSONTooDeep`.
    """
    try:
        value = json.loads(raw)
    except RecursionError:
        raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels (max_json_depth)") from None
    check_depth(value, max_depth)
    return value


def check_depth(value: Any, max_depth: int) -> None:
    """Refuse a decoded JSON value nested deeper than ``max_depth`` (iteratively: no recursion).

    Raises:
        JSONTooDeep: naming the limit.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels (max_json_depth)")
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


class ByteBudget:
    """Bytes held at once by all requests (decompressed bodies), with a ceiling."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.peak = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        """Reserve ``n`` bytes; ``False`` (nothing reserved) if that would pass the limit."""
        with self._lock:
            if self.held + n > self.limit:
                return False
            self.held += n
            self.peak = max(self.peak, self.held)
            return True

    def give(self, n: int) -> None:
        """Release ``n`` bytes reserved with :meth:`take`."""
        with self._lock:
            self.held -= n


__all__ = ["MAX_BODY", "SECONDS", "BoundedLog", "ByteBudget", "JSONTooDeep", "WireLimits", "check_depth", "load_json"]
