"""The loopback HTTP server that the real ``wandb`` SDK (its Go ``wandb-core``) talks to."""

from __future__ import annotations

import secrets
import threading
import warnings
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ..model import Backend
from .app import FakeWandbApp
from .faults import Faults

LOOPBACK = "127.0.0.1"


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: the app keeps its own request log (``app.requests``)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class ServedBackend:
    """A :class:`~pytest_runresume.model.Backend` served over HTTP on 127.0.0.1 in a background thread.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        backend: the model to serve (a new :class:`Backend` if omitted).
        api_key: the key clients must send (40 random hex characters if omitted).
        host: the address to bind. Anything but loopback needs ``allow_non_loopback=True`` and warns.
        port: the port; 0 (default) picks a free one.

    Attributes:
        url: ``http://127.0.0.1:PORT`` once started (``WANDB_BASE_URL``).
        app: the WSGI app; ``app.requests`` lists what was served.
    """

    def __init__(
        self,
        backend: Backend | None = None,
        api_key: str | None = None,
        host: str = LOOPBACK,
        port: int = 0,
        allow_non_loopback: bool = False,
    ) -> None:
        if host not in (LOOPBACK, "localhost", "::1"):
            if not allow_non_loopback:
                raise ValueError(
                    f"refusing to bind the fake W&B backend to {host!r}: it binds to 127.0.0.1 only "
                    "unless allow_non_loopback=True"
                )
            warnings.warn(f"the fake W&B backend listens on {host!r}, not loopback", stacklevel=2)
        self.backend = backend if backend is not None else Backend()
        self.api_key = api_key or secrets.token_hex(20)
        self.app = FakeWandbApp(self.backend, self.api_key)
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

    def start(self) -> ServedBackend:
        """Bind and serve in a daemon thread; returns ``self``."""
        if self._server is not None:
            return self
        self._server = make_server(self._host, self._port, self.app, threaded=True, request_handler=_QuietHandler)
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
    def faults(self) -> Faults:
        """Fault injection for this server: ``served.faults.fail("UpsertBucket", status=500, times=2)``."""
        return self.app.faults

    def reset(self) -> None:
        """Fresh state for the next test: no runs, no problems, no request log, no fault rules."""
        self.backend.reset()
        self.app.requests.clear()
        self.app.faults.clear()

    def env(self) -> dict[str, str]:
        """The variables a ``wandb`` process needs to reach this server (and only it)."""
        return {"WANDB_BASE_URL": self.url, "WANDB_API_KEY": self.api_key}

    def __enter__(self) -> ServedBackend:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
