"""The network guard: a refusing HTTP proxy on loopback, so code under test reaches no real host.

The harness puts ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` (and their lowercase forms) in the
environment of every command, pointing at a :class:`NetGuard`, and ``NO_PROXY`` at loopback, where
the fake W&B backend listens. Go's ``net/http`` (wandb-core) and Python's ``requests``/``urllib``
honour these variables, so an attempt to reach ``api.wandb.ai`` - or any other host - arrives here
as ``CONNECT api.wandb.ai:443`` (or ``GET http://host/...``), is answered ``403 Forbidden`` with a
body naming the host, and is recorded. The harness turns every record into a backend problem, so
the test fails at teardown with the host named.

Only what honours the proxy variables reaches the guard; the rest is stopped by the command's
network namespace and, in Python processes, by the hook on socket calls (see :mod:`.network`).

Standard library only (``socketserver``); one guard per served backend, started on first use.
"""

from __future__ import annotations

import socketserver
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..model import messages

LOOPBACK = "127.0.0.1"
#: Hosts reached directly, never through the guard (the fake backend is on loopback).
NO_PROXY = "127.0.0.1,localhost,::1"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
_MAX_LINE = 8192


@dataclass(frozen=True)
class BlockedConnection:
    """One refused attempt to reach a host.

    Attributes:
        host: the host name or address asked for.
        port: the port (443 for ``CONNECT host:443``, 80 for ``http://host/``).
        method: ``CONNECT``, ``GET``, ``POST`` ...
        t: wall-clock time, seconds since the epoch.
    """

    host: str
    port: int
    method: str
    t: float

    def describe(self) -> str:
        """The problem text naming the host (``messages.NETWORK_BLOCKED``)."""
        return messages.NETWORK_BLOCKED.format(host=self.host, port=self.port, method=self.method)


class NetGuard:
    """A proxy on 127.0.0.1 that refuses every request with 403 and records the host.

    Args:
        on_blocked: called with each :class:`BlockedConnection` (e.g. to record a backend problem).

    Use as a context manager, or :meth:`start` and :meth:`stop`.

    Attributes:
        blocked: every refused attempt, in order.
    """

    def __init__(self, on_blocked: Callable[[BlockedConnection], None] | None = None) -> None:
        self.on_blocked = on_blocked
        self.blocked: list[BlockedConnection] = []
        self._lock = threading.Lock()
        self._server: socketserver.ThreadingTCPServer | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, the proxy URL.

        Raises:
            RuntimeError: if the guard is not started.
        """
        if self._server is None:
            raise RuntimeError("the network guard is not started")
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    @property
    def running(self) -> bool:
        """Whether the guard is serving."""
        return self._server is not None

    def env(self) -> dict[str, str]:
        """The proxy variables that route every non-loopback request of a process to this guard."""
        env = {name: self.url for name in PROXY_VARIABLES}
        env.update({"NO_PROXY": NO_PROXY, "no_proxy": NO_PROXY})
        return env

    def hosts(self) -> list[str]:
        """``host:port`` of every blocked attempt, in order, without repeats."""
        with self._lock:
            return list(dict.fromkeys(f"{b.host}:{b.port}" for b in self.blocked))

    def start(self) -> NetGuard:
        """Listen on a free loopback port, serving in a daemon thread; returns ``self``."""
        if self._server is None:
            server = _Server((LOOPBACK, 0), _Handler)
            server.guard = self
            self._server = server
            threading.Thread(target=server.serve_forever, name="runresume-netguard", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def record(self, blocked: BlockedConnection) -> None:
        """Record a refused attempt (also one refused elsewhere, e.g. by the hook inside a Python
        process of the command) and pass it to ``on_blocked``."""
        with self._lock:
            self.blocked.append(blocked)
        if self.on_blocked is not None:
            self.on_blocked(blocked)

    def __enter__(self) -> NetGuard:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    guard: NetGuard


class _Handler(socketserver.StreamRequestHandler):
    server: _Server
    timeout = 10

    def handle(self) -> None:
        try:
            line = self.rfile.readline(_MAX_LINE).decode("latin-1").strip()
            while self.rfile.readline(_MAX_LINE).strip():  # the headers, up to the blank line
                pass
        except OSError:
            return
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self._answer(400, "pytest-runresume network guard: not an HTTP proxy request\n")
            return
        method, target = parts[0].upper(), parts[1]
        host, port = _host_port(method, target)
        blocked = BlockedConnection(host, port, method, time.time())
        self.server.guard.record(blocked)
        self._answer(403, f"pytest-runresume: {blocked.describe()}\n")

    def _answer(self, status: int, text: str) -> None:
        body = text.encode()
        reason = {400: "Bad Request", 403: "Forbidden"}[status]
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        try:
            self.wfile.write(head.encode() + body)
        except OSError:
            pass


def _host_port(method: str, target: str) -> tuple[str, int]:
    """``CONNECT api.wandb.ai:443`` -> (api.wandb.ai, 443); ``GET http://h:8080/x`` -> (h, 8080)."""
    if method == "CONNECT":
        parts = urlsplit(f"//{target}")
        default = 443
    else:
        parts = urlsplit(target)
        default = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default
    except ValueError:
        port = default
    return parts.hostname or target, port


_guards: weakref.WeakKeyDictionary[Any, NetGuard] = weakref.WeakKeyDictionary()
_guards_lock = threading.Lock()


def guard_for(served: Any) -> NetGuard:
    """The running guard of a served backend (started on first use, stopped when ``served`` goes).

    Each blocked host is recorded as a problem of ``served.model`` (once per host until the next
    reset), so the ``wandb_server`` fixture fails the test at teardown with the host named.
    """
    with _guards_lock:
        guard = _guards.get(served)
        if guard is None or not guard.running:
            model = served.model

            def record(blocked: BlockedConnection) -> None:
                text = blocked.describe()
                model.record_problem_once(text)  # once per host and test, however often the client retries

            guard = NetGuard(on_blocked=record).start()
            _guards[served] = guard
            weakref.finalize(served, guard.stop)
        return guard


def proxy_env(served: Any) -> dict[str, str]:
    """The proxy variables for a command run against ``served`` (see :func:`guard_for`)."""
    return guard_for(served).env()
