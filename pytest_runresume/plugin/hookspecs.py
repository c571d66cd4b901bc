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
    from ..wire import ServedBackend
    from .harness import PytestHarness


@pytest.hookspec
def pytest_runresume_backend_started(served: ServedBackend) -> None:
    """Called once per session (per xdist worker) after the fake backend started.

    ``served.url`` is its base URL, ``served.backend`` the model (e.g. to seed runs or change the
    crash timeout).
    """


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
