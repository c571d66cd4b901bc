"""pytest plugin of the conformance suites (entry point ``pytest11: runresume_conformance``).

Run the packaged suites with ``pytest --pyargs pytest_runresume.conformance``:

- the backend suite against the embedded fake (default) or any W&B-compatible backend
  (``--runresume-backend-url URL --runresume-backend-key KEY``);
- the entrypoint battery against a training command (``--runresume-entrypoint "python train.py"``;
  skipped without one).

Every test names the rules it checks with ``@pytest.mark.runresume_rules("R35", ...)``; the rules
go into the JUnit XML as a ``runresume_rules`` property, and the terminal summary lists the rules
passed, failed and skipped. Tests marked ``@pytest.mark.runresume_fake_only(why)`` need the fake's
clock or control API and are skipped against other backends.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ..plugin.options import Setting, add_options, resolve
from .checks import CHECKS

if TYPE_CHECKING:  # the battery and the targets load the harness and the server: on first use
    from .entrypoint import EntrypointBattery
    from .target import Target

RULES_MARKER = "runresume_rules"
FAKE_ONLY_MARKER = "runresume_fake_only"
_NONE = "none"


def _optional(text: str) -> str | None:
    return None if text.strip().lower() in (_NONE, "embedded") else text.strip()


def _control(text: str) -> str:
    if text not in ("auto", "off"):
        raise ValueError("expected 'auto' or 'off'")
    return text


def _step(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must be >= 0, got {text!r}")
    return value


def _checks(text: str) -> list[str] | None:
    if text.strip() == "all":
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - {c.name for c in CHECKS})
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; known: {[c.name for c in CHECKS]}")
    return names


SETTINGS = {
    s.name: s
    for s in (
        Setting(
            "runresume_backend_url",
            "RUNRESUME_BACKEND_URL",
            "embedded",
            _optional,
            "W&B-compatible backend URL the backend conformance suite runs against ('embedded': the fake)",
        ),
        Setting("runresume_backend_key", "RUNRESUME_BACKEND_KEY", _NONE, _optional, "API key for that backend"),
        Setting(
            "runresume_backend_project",
            "RUNRESUME_BACKEND_PROJECT",
            "runresume-conformance",
            str,
            "project the backend conformance runs go to",
        ),
        Setting(
            "runresume_backend_control",
            "RUNRESUME_BACKEND_CONTROL",
            "auto",
            _control,
            "'auto': use a pytest-runresume fake's control API (clock) when the URL is one; 'off': never",
        ),
        Setting(
            "runresume_entrypoint",
            "RUNRESUME_ENTRYPOINT",
            _NONE,
            _optional,
            "training command for the packaged entrypoint conformance tests (e.g. 'python train.py')",
        ),
        Setting(
            "runresume_entrypoint_step",
            "RUNRESUME_ENTRYPOINT_STEP",
            "2",
            _step,
            "W&B step after which the entrypoint battery sends its signals and raises",
        ),
        Setting(
            "runresume_entrypoint_checks",
            "RUNRESUME_ENTRYPOINT_CHECKS",
            "all",
            _checks,
            "comma-separated entrypoint checks to run ('all')",
        ),
    )
}


def option(config: pytest.Config, name: str) -> Any:
    """A conformance setting's value (command line > environment > ini > default)."""
    return resolve(config, name, SETTINGS)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser, SETTINGS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{RULES_MARKER}(*ids): the rules.md R-ids a conformance test checks (summary, JUnit XML)"
    )
    config.addinivalue_line(
        "markers", f"{FAKE_ONLY_MARKER}(why): needs the fake's clock or control API; skipped against other backends"
    )
    config.pluginmanager.register(RulesSummary(config), "runresume-conformance-summary")
    if option(config, "runresume_backend_url") is not None and option(config, "runresume_backend_key") is None:
        raise pytest.UsageError("--runresume-backend-url needs --runresume-backend-key (or RUNRESUME_BACKEND_KEY)")


# ---- fixtures ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def runresume_target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The backend the conformance suite runs against (``--runresume-backend-url``; default the
    embedded fake). The SDK in this process gets W&B config and cache dirs of its own, and no
    inherited ``WANDB_*`` variable."""
    config = request.config
    url = option(config, "runresume_backend_url")
    served = request.getfixturevalue("wandb_server_session") if url is None else None
    try:
        from .target import make_target

        target = make_target(
            url,
            option(config, "runresume_backend_key"),
            option(config, "runresume_backend_project"),
            option(config, "runresume_backend_control"),
            served,
        )
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    home = tmp_path_factory.mktemp("wandb-home")
    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith("WANDB_")]:
            mp.delenv(name)
        for name, sub in (("WANDB_CONFIG_DIR", "config"), ("WANDB_CACHE_DIR", "cache"), ("WANDB_DATA_DIR", "data")):
            mp.setenv(name, str(home / sub))
        mp.setenv("WANDB_ERROR_REPORTING", "false")
        yield target
        if "wandb" in sys.modules:
            sys.modules["wandb"].teardown()


class Client:
    """The real SDK in this process against the target, for one test: runs it started are finished
    at teardown (exit code 1) if the test did not finish them."""

    def __init__(self, target: Target, root_dir: Any) -> None:
        self.target = target
        self.root_dir = root_dir
        self.runs: list[Any] = []

    def init(self, run_id: str, project: str | None = None, **kwargs: Any) -> Any:
        """``wandb.init(project=..., id=run_id, settings=<target's>, **kwargs)``."""
        import wandb

        run = wandb.init(
            project=project or self.target.project,
            id=run_id,
            settings=self.target.settings(self.root_dir),
            **kwargs,
        )
        self.runs.append(run)
        return run

    def seed(self, run_id: str, steps: int = 3, exit_code: int = 0, **kwargs: Any) -> None:
        """A finished run with ``steps`` history rows ``{"i": 0..steps-1}``."""
        run = self.init(run_id, resume="allow", **kwargs)
        for i in range(steps):
            run.log({"i": i})
        run.finish(exit_code=exit_code)

    def public_run(self, run_id: str, project: str | None = None) -> Any:
        return self.target.public_run(run_id, project)

    def close(self) -> None:
        for run in self.runs:
            if not getattr(run, "_is_finished", True):
                run.finish(exit_code=1)


@pytest.fixture
def wandb_client(runresume_target: Target, tmp_path: Any) -> Iterator[Client]:
    """The real wandb SDK in this process, pointed at :func:`runresume_target`."""
    client = Client(runresume_target, tmp_path)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _runresume_fake_only(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker(FAKE_ONLY_MARKER)
    if marker is None:
        return
    target: Target = request.getfixturevalue("runresume_target")
    if target.control is None:
        why = marker.args[0] if marker.args else "the fake's clock or control API"
        pytest.skip(f"needs {why}: {target.description} is not a pytest-runresume fake with its control API")


@pytest.fixture(scope="session")
def runresume_entrypoint_battery(request: pytest.FixtureRequest) -> Iterator[EntrypointBattery]:
    """The entrypoint battery for ``--runresume-entrypoint`` (skips without one)."""
    command = option(request.config, "runresume_entrypoint")
    if command is None:
        pytest.skip("no entrypoint to check: pass --runresume-entrypoint 'python train.py' (or the ini key)")
    from .entrypoint import EntrypointBattery

    battery = EntrypointBattery(
        command,
        resolve(request.config, "runresume_signal"),
        option(request.config, "runresume_entrypoint_step"),
        timeout=resolve(request.config, "runresume_timeout"),
        cwd=request.config.invocation_params.dir,
    )
    yield battery
    battery.close()


def entrypoint_checks(config: pytest.Config) -> list[str] | None:
    return option(config, "runresume_entrypoint_checks")  # type: ignore[no-any-return]


# ---- rules in reports and the summary ----------------------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    marker = item.get_closest_marker(RULES_MARKER)
    if marker is not None and marker.args:
        report = outcome.get_result()
        if not any(name == RULES_MARKER for name, _ in report.user_properties):
            report.user_properties.append((RULES_MARKER, " ".join(marker.args)))


class RulesSummary:
    """Collects each rule-marked test's outcome (also from xdist workers, through the reports'
    ``user_properties``) and prints the rules passed, failed and skipped at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rules_of: dict[str, list[str]] = {}
        self.outcome: dict[str, str] = {}
        self.skip_reason: dict[str, str] = {}
        self.names: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        rules = dict(report.user_properties).get(RULES_MARKER)
        if not rules:
            return
        self.rules_of[report.nodeid] = str(rules).split()
        if report.nodeid.startswith("::"):  # run from outside the rootdir (--pyargs): name the file
            self.names[report.nodeid] = report.location[0] + report.nodeid
        before = self.outcome.get(report.nodeid)
        if report.failed:
            self.outcome[report.nodeid] = "failed"
        elif report.skipped and before is None:
            self.outcome[report.nodeid] = "skipped"
            longrepr = report.longrepr
            if isinstance(longrepr, tuple) and len(longrepr) == 3:
                self.skip_reason[report.nodeid] = str(longrepr[2]).removeprefix("Skipped: ")
        elif report.when == "call" and report.passed and before is None:
            self.outcome[report.nodeid] = "passed"

    def rule_outcomes(self) -> dict[str, tuple[str, list[str]]]:
        """rule -> (outcome, the tests that decide it): failed if any test failed, passed if one
        passed, else skipped."""
        by_rule: dict[str, dict[str, list[str]]] = {}
        for nodeid, rules in self.rules_of.items():
            for rule in rules:
                by_rule.setdefault(rule, {}).setdefault(self.outcome.get(nodeid, "skipped"), []).append(nodeid)
        out = {}
        for rule, tests in by_rule.items():
            status = "failed" if "failed" in tests else "passed" if "passed" in tests else "skipped"
            out[rule] = (status, tests[status])
        return out

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.rules_of or hasattr(self.config, "workerinput"):
            return
        outcomes = self.rule_outcomes()
        tr = terminalreporter
        tr.section("runresume conformance: rules")
        url = option(self.config, "runresume_backend_url")
        tr.write_line(f"backend: {url.rstrip('/') if url else 'the embedded fake'}")
        for status in ("passed", "failed", "skipped"):
            rules = sorted(r for r, (s, _) in outcomes.items() if s == status)
            tr.write_line(f"rules {status} ({len(rules)}): {' '.join(rules) if rules else '-'}")
            if status == "passed":
                continue
            tests: dict[str, list[str]] = {}
            for rule in rules:
                for nodeid in outcomes[rule][1]:
                    tests.setdefault(nodeid, []).append(rule)
            for nodeid, its in sorted(tests.items()):
                why = f": {self.skip_reason[nodeid]}" if nodeid in self.skip_reason else ""
                tr.write_line(f"  {' '.join(its)} <- {self.names.get(nodeid, nodeid)}{why}")
