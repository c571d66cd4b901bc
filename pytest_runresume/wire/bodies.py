"""Reading request bodies within the wire's limits: the body as received (``max_body``,
``read_timeout``, ``request_timeout``), inflated (``max_decompressed``), counted in the bytes all requests hold at once
(``max_inflight_bytes``), and parsed as JSON (``max_json_depth``). See ``docs/limits.md``.

The errors here are turned into named answers by :class:`~.app.FakeWandbApp` (400, 408, 413, 503).
"""

from __future__ import annotations

import functools
import json
import zlib
from collections.abc import Callable, Iterator
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


class InflatedSize:
    """Counts the bytes a gzip stream (its first member) inflates to, fed piece by piece, without
    keeping them (``INFLATE_STEP`` bytes at a time).

    Raises (from :meth:`feed` and :meth:`finish`):
        TooLarge: past ``limit`` (the limit ``name``), as soon as the count passes it.
        EOFError: the stream ended before its end (:meth:`finish`).
        zlib.error: not a gzip stream.
    """

    def __init__(self, limit: int, name: str) -> None:
        self.limit = limit
        self.name = name
        self.size = 0
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, piece: bytes | memoryview) -> None:
        """Count what ``piece`` of the compressed stream inflates to (bytes after its end are ignored)."""
        view = memoryview(piece)
        for start in range(0, len(view), INFLATE_STEP):
            # a small piece of input at a time: zlib copies the input it has not used yet on every call
            data: bytes | memoryview = view[start : start + INFLATE_STEP]
            while data and not self._inflater.eof:
                self._count(self._inflater.decompress(data, INFLATE_STEP))
                data = self._inflater.unconsumed_tail

    def finish(self) -> int:
        """The inflated size, once all the stream was fed."""
        while not self._inflater.eof:  # output zlib still holds after the last input
            piece = self._inflater.decompress(b"", INFLATE_STEP)
            if not piece:
                raise EOFError("the gzip stream is truncated")
            self._count(piece)
        return self.size

    def _count(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.limit:
            raise TooLarge(self.limit, self.name)


def inflated_size(raw: bytes, limit: int, name: str) -> int:
    """The bytes the gzip stream ``raw`` inflates to, counted without keeping them
    (:class:`InflatedSize`; raises as it does)."""
    counter = InflatedSize(limit, name)
    counter.feed(raw)
    return counter.finish()


def json_response(obj: Any, status: int = 200) -> Response:
    """``obj`` as a JSON response."""
    return Response(json.dumps(obj), status=status, mimetype="application/json")


class BodyReader:
    """The body-reading half of the app (a mixin of :class:`~.app.FakeWandbApp`)."""

    limits: WireLimits
    inflight: ByteBudget

    def _pieces(self, request: Request) -> Iterator[bytes]:
        """The body as received, in pieces of at most ``INFLATE_STEP`` bytes, once its bytes are
        reserved in ``max_inflight_bytes``. Werkzeug stops a chunked body at the limit without an
        error, so a body cut there is refused here (413) instead of being read as truncated data. A
        client that stops sending (``read_timeout``, ``request_timeout``) gets a 408."""
        length = request.content_length
        if length is not None and length > self.limits.max_body:
            raise RequestEntityTooLarge()
        self._reserve(request, self.limits.max_body if length is None else length)
        total = 0
        try:
            while piece := request.stream.read(INFLATE_STEP):
                total += len(piece)
                yield piece
            if total >= self.limits.max_body and request.stream.read(1):
                raise RequestEntityTooLarge()
        except (TimeoutError, OSError, ClientDisconnected) as exc:
            raise SlowClient(
                f"{request.method} {request.path}: the body did not arrive in full, with at most"
                f" {self.limits.read_timeout:g} s between bytes (read_timeout) and"
                f" {self.limits.request_timeout:g} s for the whole request (request_timeout),"
                " or the client went away"
            ) from exc

    def _read_body(self, request: Request) -> bytes:
        """The whole body as received (cached; see :meth:`_pieces`)."""
        return self._once(request, "runresume.raw", lambda: b"".join(self._pieces(request)))

    def _read_gzip(self, request: Request) -> bytes:
        """A gzip body, decompressed: at most ``max_decompressed`` bytes, reserved in
        ``max_inflight_bytes`` (the body bytes all requests hold at once).

        Two passes: the first counts the inflated bytes while the body arrives, keeping none of
        them, so a bomb is refused having held a few pieces of its compressed bytes; the second, once
        that size is reserved, inflates into one buffer of exactly that size."""
        counter = InflatedSize(*self._inflate_limit())
        raw = request.environ.get("runresume.raw")
        if raw is not None:  # the body was read as received already (an upload)
            return self._inflate(request, self._read_body(request))
        pieces: list[bytes] = []
        body = self._pieces(request)
        try:
            for piece in body:
                counter.feed(piece)
                pieces.append(piece)
            request.environ["runresume.inflated"] = counter.finish()
        except (TooLarge, EOFError, zlib.error) as exc:
            pieces.clear()
            for _ in body:  # read the rest, so the client gets the answer (its bytes are not kept)
                pass
            request.environ["runresume.raw"] = (b"", exc)
            raise
        raw = b"".join(pieces)
        request.environ["runresume.raw"] = (raw, None)
        return self._inflate(request, raw)

    def _inflate_limit(self) -> tuple[int, str]:
        return min((self.limits.max_decompressed, "max_decompressed"), (self.limits.max_body, "max_body"))

    def _inflate(self, request: Request, raw: bytes) -> bytes:
        """Decompress the gzip body ``raw`` into one buffer of its inflated size (counted while it
        arrived, else here), once that size is reserved in ``max_inflight_bytes``."""
        size = request.environ.pop("runresume.inflated", None)
        if size is None:
            size = inflated_size(raw, *self._inflate_limit())
        self._reserve(request, size)
        return zlib.decompress(raw, 16 + zlib.MAX_WBITS, max(size, 1))

    @staticmethod
    def _once(request: Request, key: str, read: Callable[[], bytes]) -> bytes:
        """``read()``, once per request: later calls get the same bytes, or the same error."""
        done = request.environ.get(key)
        if done is None:
            try:
                done = (read(), None)
            except Exception as exc:
                done = (b"", exc)
            request.environ[key] = done
        if done[1] is not None:
            raise done[1]
        return bytes(done[0])

    def _reserve(self, request: Request, n: int) -> None:
        """Count ``n`` more bytes held by this request in ``max_inflight_bytes`` (503 if no room)."""
        if not self.inflight.take(n):
            raise Busy(messages.SERVER_BUSY.format(held=self.inflight.held, limit=self.inflight.limit))
        request.environ["runresume.held"][0] += n

    def _body(self, request: Request) -> bytes:
        """The body, decompressed if it says ``Content-Encoding: gzip`` (cached on the request)."""
        if request.headers.get("Content-Encoding") != "gzip":
            return self._read_body(request)
        return self._once(request, "runresume.body", functools.partial(self._gzip_body, request))

    def _gzip_body(self, request: Request) -> bytes:
        try:
            return self._read_gzip(request)
        except (OSError, EOFError, zlib.error) as exc:
            raise BadBody(f"bad gzip: {exc}") from exc

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
