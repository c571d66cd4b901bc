"""Hooks other plugins and ``conftest.py`` files can implement (pluggy hookspecs).

Implement them like any pytest hook, e.g. in ``conftest.py``::

    def pytest_runresume_subprocess_env(env, harness):
        env["MY_FLAG"] = "1"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..harness import RunResult
    from ..wire import FakeServer
    from .harness import PytestHarness


@pytest.hookspec
def pytest_runresume_server_started(served: FakeServer) -> None:
    """Called once per session (per xdist worker) after the fake backend started.

    ``served.url`` is its base URL, ``served.model`` the model (e.g. to seed runs or change the
    crash timeout).
    """


@pytest.hookspec(
    warn_on_impl=DeprecationWarning(
        "pytest_runresume_backend_started is deprecated and will be removed in the next release: "
        "implement pytest_runresume_server_started"
    )
)
def pytest_runresume_backend_started(served: FakeServer) -> None:
    """Deprecated (one release): the old name of :func:`pytest_runresume_server_started`."""


@pytest.hookspec
def pytest_runresume_subprocess_env(env: dict[str, str], harness: PytestHarness) -> None:
    """Adjust the environment of a command the harness is about to start, in place.

    Called for every ``runresume.run()`` and ``runresume.env()``.
    """


@pytest.hookspec
def pytest_runresume_run_finished(result: RunResult) -> None:
    """Called after every ``runresume.run()`` with its result (before the marker's checks)."""


@pytest.hookspec
def pytest_runresume_report_lines(result: RunResult) -> Any:
    """Return extra lines (a list of str) for the "runresume timeline" section of a failed test."""
