"""Fixtures shared by the wire tests: one served fake backend per test module, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_runresume.wire import FakeServer


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    srv = FakeServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def served(server: FakeServer) -> FakeServer:
    """The module's server with a fresh model (no runs, no problems, no request log)."""
    server.reset()
    return server
