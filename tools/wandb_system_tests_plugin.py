"""A pytest plugin that points W&B's own system tests (``tests/system_tests`` of a checkout of
wandb's repository) at our fake backend instead of W&B's local server container.

Loaded by ``tools/wandb_system_tests.py`` with ``-p wandb_system_tests_plugin``, before W&B's
conftest files are imported. Their ``tests/system_tests/conftest.py`` takes two names from
``tests/system_tests/backend_fixtures.py``: ``connect_to_local_wandb_backend`` (starts or finds
the container) and ``BackendFixtureFactory`` (creates users, orgs and teams through the
container's fixture service). This plugin replaces both names in that module before the conftest
imports them, so every fixture built on them (``user``, ``module_user``, ``api``,
``wandb_backend_spy`` through W&B's own proxy) reaches one :class:`FakeServer` per pytest process:

- the backend address is the fake's loopback port (there is no fixture service);
- ``make_user`` gives the fake a fresh state whose one user (entity, user name and API key) is the
  new user's name, as W&B's fixture service does with ``UserCmd("up")`` plus ``password``;
- organizations and teams are out of scope: ``make_org``, ``add_org_user`` and ``make_team``
  skip the test with a reason starting ``out of scope:``.

Tests that need features out of scope (artifacts, teams, reports, launch, ...) are listed in
``OUT_OF_SCOPE`` of ``tools/wandb_system_tests.py`` with the reason, and skipped before they run
with that reason.
"""

from __future__ import annotations

import secrets
from string import digits
from typing import Any

import pytest
from wandb_system_tests import OUT_OF_SCOPE_PREFIX, out_of_scope_reason  # tools/, on PYTHONPATH

from pytest_runresume.wire import FakeServer

_server: FakeServer | None = None


class BackendAddress:
    """What W&B's fixtures read of their ``LocalWandbBackendAddress``: the fake's host and port."""

    def __init__(self, host: str, base_port: int) -> None:
        self.host = host
        self.base_port = base_port
        self.fixture_port = 0

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` (``WANDB_BASE_URL``)."""
        return f"http://{self.host}:{self.base_port}"

    @property
    def fixture_service_url(self) -> str:
        """There is no fixture service: the factory below talks to the fake in process."""
        return self.base_url


def served() -> FakeServer:
    """The process's fake backend (one per pytest process: each xdist worker has its own),
    started on first use and stopped when pytest ends (``pytest_unconfigure``)."""
    global _server
    if _server is None:
        _server = FakeServer().start()
    return _server


def connect_to_fake_backend(name: str) -> BackendAddress:
    """Stands in for W&B's ``connect_to_local_wandb_backend(name=...)``; ``name`` is ignored."""
    server = served()
    return BackendAddress("127.0.0.1", server.port)


class FakeBackendFixtureFactory:
    """Stands in for W&B's ``BackendFixtureFactory(service_url, worker_id=...)``.

    Users are the fake's one user: ``make_user`` resets the fake (no runs, sweeps or projects)
    and names its entity, user name and API key after the new user. Organizations and teams are
    out of scope and skip the test.
    """

    def __init__(self, service_url: str, worker_id: str) -> None:
        self.worker_id = worker_id

    def __enter__(self) -> FakeBackendFixtureFactory:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def make_user(self, name: str | None = None, admin: bool = False) -> str:
        """A fresh fake whose only user is ``name`` (``user_<worker>-<40 hex>`` if omitted).

        The name is also the API key, as W&B's fixture service sets the password to the name."""
        name = name or f"user_{self.worker_id}-{''.join(secrets.choice(digits + 'abcdef') for _ in range(40))}"
        server = served()
        server.reset()
        server.model.entity = name
        server.model.username = name
        server.app.api_key = name
        return name

    def make_org(self, name: str | None = None, *, username: str) -> str:
        """Organizations are out of scope: skips the test."""
        pytest.skip(f"{OUT_OF_SCOPE_PREFIX} organizations")

    def add_org_user(self, org: str, *, role: str) -> str:
        """Organizations are out of scope: skips the test."""
        pytest.skip(f"{OUT_OF_SCOPE_PREFIX} organizations")

    def make_team(self, name: str | None = None, *, username: str, **kwargs: Any) -> Any:
        """Teams are out of scope: skips the test."""
        pytest.skip(f"{OUT_OF_SCOPE_PREFIX} teams")

    def send_cmds(self, *cmds: Any) -> None:
        """W&B's fixture-service commands have no meaning here."""
        pytest.skip(f"{OUT_OF_SCOPE_PREFIX} W&B's test-only fixture service")

    def cleanup(self) -> None:
        """Nothing to undo: the next ``make_user`` resets the fake."""


def _patch_backend_fixtures() -> None:
    from tests.system_tests import backend_fixtures  # W&B's module, from --wandb-src

    backend_fixtures.connect_to_local_wandb_backend = connect_to_fake_backend  # type: ignore[assignment]
    backend_fixtures.BackendFixtureFactory = FakeBackendFixtureFactory  # type: ignore[assignment,misc]


def _no_cached_api(reset: bool = False) -> None:
    """Stands in for the checkout's ``wandb.cli.cli._get_cling_api(reset=True)``: wandb 0.31's CLI
    keeps no cached API to reset."""


def _bridge_sdk() -> None:
    """Names W&B's test files of the checkout touch but a newer SDK dropped, where the test only
    resets a cache the newer SDK does not keep: ``wandb.cli.cli._api`` (``test_sweep/conftest.py``
    sets it to ``None`` before every test) and ``wandb.cli.cli._get_cling_api`` (``test_sweep_pause``
    calls it with ``reset=True`` first). Nothing else of the SDK is changed."""
    from wandb.cli import cli

    if not hasattr(cli, "_api"):
        cli._api = None  # type: ignore[attr-defined]
    if not hasattr(cli, "_get_cling_api"):
        cli._get_cling_api = _no_cached_api  # type: ignore[attr-defined]


_bridge_sdk()
# Before W&B's conftest files import the two names: ``-p`` plugins are imported before the
# initial conftests are loaded (``pytest_configure`` would be too late).
_patch_backend_fixtures()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        reason = out_of_scope_reason(item.nodeid)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=f"{OUT_OF_SCOPE_PREFIX} {reason}"))


def pytest_unconfigure(config: pytest.Config) -> None:
    global _server
    if _server is not None:
        _server.stop()
        _server = None
