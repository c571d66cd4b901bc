"""The pytest plugin (entry point ``pytest11: runresume``): fixtures, the ``preempt`` marker,
options, and the timeline section in failure reports (with the path of each run's picture, also
attached to a pytest-html report when that plugin is installed). Thin: it wires the layers to pytest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .._lazy import warn_renamed
from .markers import CRASH_HELP, PREEMPT_HELP, RULES_HELP, PreemptSpec, check_rules, parse_crash, parse_preempt
from .options import add_options, resolve

if TYPE_CHECKING:  # the server, GraphQL and the harness load when a fixture first needs them
    from ..model import Model
    from ..wire import FakeServer, InProcessBackend
    from .harness import PytestHarness

_harness_key = pytest.StashKey["PytestHarness"]()
_pictures_key = pytest.StashKey[list[Path]]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", PREEMPT_HELP)
    config.addinivalue_line("markers", CRASH_HELP)
    config.addinivalue_line("markers", RULES_HELP)


@pytest.fixture(scope="session")
def wandb_server_session(request: pytest.FixtureRequest) -> Iterator[FakeServer]:
    """The fake W&B backend, served on 127.0.0.1 at a free port for the whole session (one per
    pytest-xdist worker). Tests normally use :func:`wandb_server`, which resets it."""
    from ..model import Model
    from ..wire import FakeServer

    crash_timeout = resolve(request.config, "runresume_crash_timeout")
    served = FakeServer(Model(crash_timeout=crash_timeout)).start()
    request.config.hook.pytest_runresume_server_started(served=served)
    request.config.hook.pytest_runresume_backend_started(served=served)  # deprecated name
    yield served
    served.stop()


@pytest.fixture
def wandb_server(wandb_server_session: FakeServer) -> Iterator[FakeServer]:
    """The served fake W&B backend with fresh state (no runs) for this test.

    ``wandb_server.url`` is ``WANDB_BASE_URL``, ``wandb_server.api_key`` its key,
    ``wandb_server.model`` the model (runs, states, clock). At teardown the test errors if the
    backend saw an unknown GraphQL operation or a malformed request (the text names it).
    """
    wandb_server_session.reset()
    yield wandb_server_session
    problems = list(wandb_server_session.model.problems)
    if problems:
        pytest.fail("the fake W&B backend saw problems:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture
def wandb_model() -> Model:
    """A fresh in-process model for unit tests: no HTTP, no subprocess, a :class:`ManualClock`.

    Seed runs (``create_run``, ``upsert``, ``file_stream``), ask states (``state(run)``) and the
    resume decision (``pytest_runresume.decide_resume``), and move time with ``advance_clock``.
    """
    from ..model import ManualClock, Model

    return Model(clock=ManualClock())


@pytest.fixture
def wandb_requests_mock(wandb_server: FakeServer) -> Iterator[InProcessBackend]:
    """The fake backend in-process through ``requests-mock``, for Python code that calls the W&B
    API with ``requests`` itself. Requests to ``wandb_server.url`` are answered by the same model
    without a socket; a request to any other URL raises ``requests_mock.exceptions.NoMockAddress``
    (no real network). ``.mocker.request_history`` lists the calls."""
    from ..wire import InProcessBackend

    with InProcessBackend(wandb_server.app, wandb_server.url) as inproc:
        yield inproc


# Old fixture names, kept for one release: each warns (DeprecationWarning) and gives the new one.
@pytest.fixture(scope="session")
def runresume_server(wandb_server_session: FakeServer) -> FakeServer:
    """Deprecated (one release): use ``wandb_server_session``."""
    warn_renamed("fixture runresume_server", "wandb_server_session", stacklevel=2)
    return wandb_server_session


@pytest.fixture
def wandb_backend(wandb_server: FakeServer) -> FakeServer:
    """Deprecated (one release): use ``wandb_server``."""
    warn_renamed("fixture wandb_backend", "wandb_server", stacklevel=2)
    return wandb_server


@pytest.fixture
def runresume_model(wandb_model: Model) -> Model:
    """Deprecated (one release): use ``wandb_model``."""
    warn_renamed("fixture runresume_model", "wandb_model", stacklevel=2)
    return wandb_model


@pytest.fixture
def runresume(request: pytest.FixtureRequest, wandb_server: FakeServer, tmp_path: Path) -> PytestHarness:
    """The harness: ``runresume.run("python train.py ...")`` runs a command against the fake backend
    in its own supervised process tree and returns a :class:`~pytest_runresume.harness.RunResult`.

    With ``@pytest.mark.preempt(...)`` the first run gets the marker's signal at its trigger point and
    must end as it expects (default: state ``preempted``, exit code 128+signum, requeueable).
    Working directory and ``WANDB_DIR``: ``runresume.workdir`` (under ``tmp_path``).
    """
    from .harness import PytestHarness

    spec = _marker_spec(request.node, request.config)
    harness = PytestHarness(
        wandb_server, tmp_path, spec, hook=request.config.hook, timeout=resolve(request.config, "runresume_timeout")
    )
    request.node.stash[_harness_key] = harness
    return harness


def _marker_spec(item: pytest.Item, config: pytest.Config) -> PreemptSpec | None:
    preempt, crash = item.get_closest_marker("preempt"), item.get_closest_marker("crash")
    if preempt is not None and crash is not None:
        raise pytest.UsageError(f"{item.nodeid}: use either @pytest.mark.preempt or @pytest.mark.crash, not both")
    if preempt is not None:
        return parse_preempt(item, preempt, resolve(config, "runresume_signal"))
    if crash is not None:
        return parse_crash(item, crash)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        check_rules(item)
        if _marker_spec(item, config) is not None:  # fail at collection on a bad marker
            if "runresume" not in getattr(item, "fixturenames", ()):
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.preempt/crash needs the 'runresume' fixture to run the command"
                )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    harness = item.stash.get(_harness_key, None)
    if harness is None:
        return
    if report.when == "call" and report.passed and harness.marker is not None and not harness.marker_used:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} has @pytest.mark.preempt but never called runresume.run(): nothing was preempted"
        )
    if report.failed and harness.results:
        parts = []
        for result in harness.results:
            extra = [line for lines in item.config.hook.pytest_runresume_report_lines(result=result) for line in lines]
            parts.append("\n".join([result.report(), *harness.report_lines(result), *extra]))
        if not item.stash.get(_pictures_key, None):
            item.stash[_pictures_key] = _write_pictures(item, harness)
        pictures = item.stash[_pictures_key]
        parts.extend(f"picture of {path.name.removesuffix('.html')}: {path}" for path in pictures)
        text = "\n\n".join(parts)
        report.sections.append(("runresume timeline", text))
        _attach_to_html_report(report, pictures)


def _write_pictures(item: pytest.Item, harness: PytestHarness) -> list[Path]:
    """The picture of every run of a failed test, in its ``tmp_path`` (once per test); [] if it
    cannot be written (the failure report must not fail)."""
    from ..harness.pictures import write_pictures  # only when a test failed: the plugin's import stays light

    try:
        return write_pictures(harness.results, harness.base_dir, note=f"{item.nodeid} failed")
    except OSError:
        return []


def _attach_to_html_report(report: pytest.TestReport, pictures: list[Path]) -> None:
    """With pytest-html installed, each picture goes into the HTML report as an extra (its page inline)."""
    if not pictures:
        return
    try:
        from pytest_html import extras  # type: ignore[import-not-found]  # optional
    except ImportError:
        return
    items = list(getattr(report, "extras", []))
    for path in pictures:
        items.append(extras.html(path.read_text(encoding="utf-8").split("<body>", 1)[-1].split("</body>", 1)[0]))
        items.append(extras.url(path.as_uri(), name=f"picture {path.name}"))
    report.extras = items  # type: ignore[attr-defined]  # pytest-html reads it
