"""The loopback HTTP server that the real ``wandb`` SDK (its Go ``wandb-core``) talks to."""

from __future__ import annotations

import io
import math
import secrets
import socket
import threading
import time
import warnings
from typing import Any

from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler

from .._lazy import warn_renamed
from ..model import Model
from .app import FakeWandbApp
from .faults import Faults
from .limits import WireLimits

LOOPBACK = "127.0.0.1"
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
)


class _DeadlineReader(socket.SocketIO):
    """The reading side of a connection, each read bounded by ``read_timeout`` and by the
    ``deadline`` of the request being read (``time.monotonic()`` seconds; ``inf`` for none).

    Past the deadline a read still takes bytes the client already sent (waiting at most 1 ms), so
    a request whose bytes all arrived in time is never cut; otherwise it raises ``TimeoutError``.
    """

    def __init__(self, sock: socket.socket, read_timeout: float) -> None:
        super().__init__(sock, "rb")
        self._conn = sock
        self.read_timeout = read_timeout
        self.deadline = math.inf

    def readinto(self, b: Any) -> int | None:
        left = self.deadline - time.monotonic()
        if left >= self.read_timeout:
            return super().readinto(b)
        self._conn.settimeout(max(left, 0.001))
        try:
            return super().readinto(b)
        finally:
            self._conn.settimeout(self.read_timeout)  # writes keep the per-read timeout


#: The largest single read from a connection's buffer: a larger ``read(n)`` is done in pieces of
#: this size (werkzeug drains what a client sent after the answer with ``read(10_000_000)``, which
#: otherwise allocates 10 MB for every connection, whatever arrives).
READ_PIECE = 64 * 1024


class _PiecewiseReader(io.BufferedReader):
    """A buffered reader whose ``read(n)`` holds only the bytes that arrived, never ``n`` up front."""

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size <= READ_PIECE:
            return super().read(size)
        pieces = []
        while size > 0:
            piece = super().read(min(size, READ_PIECE))
            if not piece:
                break
            pieces.append(piece)
            size -= len(piece)
        return b"".join(pieces)


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: the app keeps its own request log (``app.requests``).

    ``timeout`` (``read_timeout``, set per server) bounds every read from the client: a request
    line, headers or body that stops arriving, or a kept-alive connection left idle, is closed
    after that many seconds (socketserver's ``StreamRequestHandler.timeout``).

    ``request_timeout`` bounds the whole request: from when the handler starts waiting for it
    (the connection accepted: werkzeug answers one request per connection) until its body is read. A client trickling
    bytes, each within ``read_timeout``, is cut off there: a body read past it is a 408
    (:class:`~.bodies.SlowClient`), a request line or headers past it close the connection."""

    timeout = WireLimits().read_timeout
    request_timeout = WireLimits().request_timeout

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # socketserver's reader, replaced by one that keeps the deadline
        self._reader = _DeadlineReader(self.connection, self.timeout)
        self.rfile = _PiecewiseReader(self._reader)

    def handle_one_request(self) -> None:
        self._reader.deadline = time.monotonic() + self.request_timeout
        try:
            super().handle_one_request()
        finally:
            self._reader.deadline = math.inf

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        pass  # timeouts and clients that went away are not worth a line on stderr


class _BoundedServer(ThreadedWSGIServer):
    """werkzeug's threaded server with at most ``max_connections`` connections served at once: one
    more is answered 503 (``Retry-After: 1``) and closed at once, without a thread."""

    max_connections = WireLimits().max_connections

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(self.max_connections)
        self.refused_connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.refused_connections += 1
            text = (
                b'{"error": "the fake W&B backend serves at most %d connections at once (max_connections)"}'
                % self.max_connections
            )
            try:
                request.settimeout(0.5)
                request.sendall(_BUSY % (len(text), text))
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class FakeServer:
    """A :class:`~pytest_runresume.model.Model` served over HTTP on 127.0.0.1 in a background thread.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        model: the model to serve (a new :class:`Model` if omitted).
        api_key: the key clients must send (40 random hex characters if omitted).
        host: the address to bind. Anything but loopback needs ``allow_non_loopback=True`` and warns
            (and then the run page asks for the key too).
        port: the port; 0 (default) picks a free one.
        limits: the wire's limits (:class:`~pytest_runresume.wire.limits.WireLimits`, ``docs/limits.md``):
            body sizes, decompression, GraphQL documents, the request log, ``read_timeout``,
            ``request_timeout`` and ``max_connections``. The model's are ``Model(limits=...)``.

    Attributes:
        url: ``http://127.0.0.1:PORT`` once started (``WANDB_BASE_URL``).
        app: the WSGI app; ``app.requests`` lists what was served.
    """

    def __init__(
        self,
        model: Model | None = None,
        api_key: str | None = None,
        host: str = LOOPBACK,
        port: int = 0,
        allow_non_loopback: bool = False,
        limits: WireLimits | None = None,
    ) -> None:
        if host not in (LOOPBACK, "localhost", "::1"):
            if not allow_non_loopback:
                raise ValueError(
                    f"refusing to bind the fake W&B backend to {host!r}: it binds to 127.0.0.1 only "
                    "unless allow_non_loopback=True"
                )
            warnings.warn(f"the fake W&B backend listens on {host!r}, not loopback", stacklevel=2)
        self.model = model if model is not None else Model()
        self.api_key = api_key or secrets.token_hex(20)
        self.limits = limits if limits is not None else WireLimits()
        loopback = host in (LOOPBACK, "localhost", "::1")
        self.app = FakeWandbApp(self.model, self.api_key, limits=self.limits, ui_needs_key=not loopback)
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL (``WANDB_BASE_URL``).

        Raises:
            RuntimeError: if the server has not been started.
        """
        if self._server is None:
            raise RuntimeError("the fake W&B backend is not started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._server.server_port}"

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self.url.rsplit(":", 1)[1])  # the part after the last colon, IPv6 or not

    @property
    def backend(self) -> Model:
        """Deprecated (one release): the model is :attr:`model`."""
        warn_renamed("FakeServer.backend", "FakeServer.model")
        return self.model

    def start(self) -> FakeServer:
        """Bind and serve in a daemon thread; returns ``self``."""
        if self._server is not None:
            return self
        limits = self.limits
        handler = type(
            "_Handler",
            (_QuietHandler,),
            {"timeout": limits.read_timeout, "request_timeout": limits.request_timeout},
        )
        server = type("_Server", (_BoundedServer,), {"max_connections": limits.max_connections})
        self._server = server(self._host, self._port, self.app, handler=handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"runresume-server:{self._server.server_port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    @property
    def refused_connections(self) -> int:
        """Connections answered 503 because ``max_connections`` were being served."""
        return 0 if self._server is None else int(getattr(self._server, "refused_connections", 0))

    @property
    def faults(self) -> Faults:
        """Fault injection for this server: ``served.faults.fail("UpsertBucket", status=500, times=2)``."""
        return self.app.faults

    def reset(self) -> None:
        """Fresh state for the next test: no runs, no problems, no request log, no fault rules."""
        self.model.reset()
        self.app.requests.clear()
        self.app.faults.clear()

    def env(self) -> dict[str, str]:
        """The variables a ``wandb`` process needs to reach this server (and only it)."""
        return {"WANDB_BASE_URL": self.url, "WANDB_API_KEY": self.api_key}

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
