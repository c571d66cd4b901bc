"""The fake backend in-process, through ``requests-mock``: for Python code that calls the W&B API
with ``requests`` itself (wandb-core traffic never goes through Python; use the served backend).

Requests to the fake's base URL are answered by the same WSGI app and model as the HTTP server;
any other URL raises ``requests_mock.exceptions.NoMockAddress`` (a ``ConnectionError``), so code
under test cannot reach a real W&B host, or any host, by accident.
"""

from __future__ import annotations

import re
from typing import Any

import requests
import requests_mock
from werkzeug.test import Client

from .app import FakeWandbApp
from .faults import DroppedConnection


class InProcessBackend:
    """Route ``requests`` calls for ``base_url`` into ``app``; refuse everything else.

    Args:
        app: the WSGI app (``FakeServer.app``), so both transports share one model.
        base_url: the URL to answer, e.g. ``FakeServer.url`` or ``"http://wandb.fake"``.

    Use as a context manager; ``.mocker`` is the active ``requests_mock.Mocker`` (its
    ``request_history`` lists what was called).
    """

    def __init__(self, app: FakeWandbApp, base_url: str) -> None:
        self.app = app
        self.base_url = base_url.rstrip("/")
        self.client = Client(app)
        self.mocker = requests_mock.Mocker(real_http=False)

    def _answer(self, request: Any, context: Any) -> bytes:
        path = request.path_url
        try:
            response = self.client.open(
                path,
                method=request.method,
                headers=dict(request.headers),
                data=request.body if request.body is not None else b"",
            )
        except DroppedConnection as exc:  # an injected drop: what requests raises for a real one
            raise requests.exceptions.ConnectionError(str(exc), request=request) from exc
        context.status_code = response.status_code
        context.headers.update({k: v for k, v in response.headers.items()})
        return response.get_data()

    def __enter__(self) -> InProcessBackend:
        self.mocker.__enter__()
        self.mocker.register_uri(
            requests_mock.ANY, re.compile(re.escape(self.base_url) + r"(/.*)?$"), content=self._answer
        )
        return self

    def __exit__(self, *exc: Any) -> None:
        self.mocker.__exit__(*exc)
