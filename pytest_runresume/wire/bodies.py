"""Reading request bodies within the wire's limits: the body as received (``max_body``,
``read_timeout``, ``request_timeout``), inflated (``max_decompressed``), counted in the bytes all requests hold at once
(``max_inflight_bytes``), and parsed as JSON (``max_json_depth``). See ``docs/limits.md``.

The errors here are turned into named answers by :class:`~.app.FakeWandbApp` (400, 408, 413, 503).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from ..model import messages
from .limits import ByteBudget, WireLimits, load_json

#: gzip bodies are measured by inflating this many bytes at a time, from input pieces of this size
#: (each kept for that step only).
INFLATE_STEP = 64 * 1024


class BadBody(Exception):
    """A body that is not what the endpoint takes (400 / GraphQL error), the text names it."""


class TooLarge(Exception):
    """A gzip body that inflates past ``limit`` (``name``: ``max_decompressed`` or ``max_body``)."""

    def __init__(self, limit: int, name: str) -> None:
        super().__init__(limit, name)
        self.limit = limit
        self.name = name


class Busy(Exception):
    """More body bytes held at once than ``max_inflight_bytes`` allows (503, retried)."""


class SlowClient(Exception):
    """The body did not arrive within ``read_timeout`` of each read or ``request_timeout`` of the
    whole request (408)."""


def inflated_size(raw: bytes, limit: int, name: str) -> int:
    """The bytes the gzip stream ``raw`` (its first member) inflates to, counted without keeping
    them (``INFLATE_STEP`` bytes at a time).

    Raises:
        TooLarge: past ``limit`` (the limit ``name``), as soon as the count passes it.
        EOFError: the stream is truncated.
        zlib.error: not a gzip stream.
    """
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    size = 0
    view = memoryview(raw)
    for start in range(0, max(len(raw), 1), INFLATE_STEP):
        # a small piece of input at a time: zlib copies the input it has not used yet on every call
        data: bytes | memoryview = view[start : start + INFLATE_STEP]
        while data and not inflater.eof:
            piece = inflater.decompress(data, INFLATE_STEP)
            data = inflater.unconsumed_tail
            size += len(piece)
            if size > limit:
                raise TooLarge(limit, name)
        if inflater.eof:
            break
    while not inflater.eof:  # output zlib still holds after the last input
        piece = inflater.decompress(b"", INFLATE_STEP)
        if not piece:
            break
        size += len(piece)
        if size > limit:
            raise TooLarge(limit, name)
    if not inflater.eof:
        raise EOFError("the gzip stream is truncated")
    return size


def json_response(obj: Any, status: int = 200) -> Response:
    """``obj`` as a JSON response."""
    return Response(json.dumps(obj), status=status, mimetype="application/json")


class BodyReader:
    """The body-reading half of the app (a mixin of :class:`~.app.FakeWandbApp`)."""

    limits: WireLimits
    inflight: ByteBudget

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
            raise SlowClient(
                f"{request.method} {request.path}: the body did not arrive in full, with at most"
                f" {self.limits.read_timeout:g} s between bytes (read_timeout) and"
                f" {self.limits.request_timeout:g} s for the whole request (request_timeout),"
                " or the client went away"
            ) from exc
        return raw

    def _inflate(self, request: Request, raw: bytes) -> bytes:
        """Decompress a gzip body, at most ``max_decompressed`` bytes of it, reserved in
        ``max_inflight_bytes`` (the body bytes all requests hold at once).

        Two passes: the first counts the inflated bytes and keeps none of them (at most
        ``INFLATE_STEP`` at a time), so a bomb is refused having held almost nothing; the second,
        once that size is reserved, inflates into one buffer of exactly that size."""
        limit, name = min((self.limits.max_decompressed, "max_decompressed"), (self.limits.max_body, "max_body"))
        size = inflated_size(raw, limit, name)
        self._reserve(request, size)
        return zlib.decompress(raw, 16 + zlib.MAX_WBITS, max(size, 1))

    def _reserve(self, request: Request, n: int) -> None:
        """Count ``n`` more bytes held by this request in ``max_inflight_bytes`` (503 if no room)."""
        if not self.inflight.take(n):
            raise Busy(messages.SERVER_BUSY.format(held=self.inflight.held, limit=self.inflight.limit))
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
                raise BadBody(f"bad gzip: {exc}") from exc
        request.environ["runresume.body"] = raw
        return raw

    def _fault_body(self, request: Request) -> bytes:
        try:
            return self._body(request)
        except (BadBody, Busy, SlowClient, HTTPException):
            return b""

    def _bodyjson_response(self, request: Request, what: str) -> Any:
        try:
            raw = self._body(request)
        except BadBody as exc:
            raise BadBody(messages.MALFORMED_BODY.format(what=what, detail=str(exc))) from exc
        try:
            return load_json(raw or b"{}", self.limits.max_json_depth)
        except ValueError as exc:
            raise BadBody(messages.MALFORMED_BODY.format(what=what, detail=str(exc))) from exc
