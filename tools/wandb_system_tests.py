"""Run W&B's own system tests (``tests/system_tests`` of a checkout of wandb's repository) against
our fake backend, and print what passed, failed, was skipped or is out of scope, per file.

    python tools/wandb_system_tests.py --wandb-src PATH [-n N] [--report FILE] [-k EXPR] TEST...

``TEST`` is a file, directory or node id relative to ``PATH/tests/system_tests`` (e.g.
``test_core/test_resume.py``). pytest runs in ``PATH`` with that checkout's pytest settings
(``addopts`` dropped: it needs pytest-cov) and ``-p wandb_system_tests_plugin``
(``tools/wandb_system_tests_plugin.py``), which replaces W&B's local server and its fixture
service with a :class:`~pytest_runresume.wire.FakeServer`. The python running this tool runs the
tests: a venv with this project, ``wandb`` and W&B's test requirements (pytest-xdist,
pytest-asyncio, pytest-mock, pytest-timeout, fastapi, uvicorn, httpx, pyte, pyarrow, pandas).

A measurement, not part of CI (it needs W&B's source). Exit status: 0 when nothing failed, 1 when
a test failed or errored, 2 for bad arguments or when pytest produced no report.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
PLUGIN = "wandb_system_tests_plugin"
#: The skip reason prefix of tests the plugin puts out of scope (``OUT_OF_SCOPE_PREFIX`` there).
OUT_OF_SCOPE_PREFIX = "out of scope:"
SYSTEM_TESTS = Path("tests") / "system_tests"

#: ``fnmatch`` patterns of node ids (relative to ``tests/system_tests/``) -> why they are out of
#: scope for the fake (issue 13: artifacts, teams, reports, launch, orgs, registries, automations,
#: or W&B's internal test-only routes). The plugin skips them before they run.
OUT_OF_SCOPE: dict[str, str] = {
    "test_artifacts/*": "artifacts",
    "test_automations/*": "automations",
    "test_launch/*": "launch",
    "test_registries/*": "registries",
    "test_api/test_public_api_organizations.py::*": "organizations",
    "test_sweep/test_launch_scheduler.py::*": "launch (sweep scheduler jobs)",
    "test_sweep/test_wandb_sweep.py::test_sweep_scheduler": "launch (sweep scheduler jobs)",
    "test_core/test_public_api.py::test_query_team": "teams",
    "test_core/test_public_api.py::test_create_team": "teams",
    "test_core/test_public_api.py::test_create_team_exists": "teams",
    "test_core/test_telemetry_full.py::test_telemetry_table_in_artifact_does_not_set_feature": "artifacts",
}


def out_of_scope_reason(nodeid: str) -> str | None:
    """Why a test is out of scope (:data:`OUT_OF_SCOPE`), or ``None``. ``nodeid`` is relative to
    ``tests/system_tests/`` or starts with that path."""
    rel = nodeid.split(SYSTEM_TESTS.as_posix() + "/", 1)[-1]
    for pattern, reason in OUT_OF_SCOPE.items():
        if fnmatch.fnmatchcase(rel, pattern):
            return reason
    return None


class ReportError(ValueError):
    """A JUnit XML report this tool cannot read."""


@dataclass
class FileCounts:
    """One test file's outcomes; ``failures`` holds ``(test name, first line of the message)``."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    out_of_scope: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        """All outcomes counted."""
        return self.passed + self.failed + self.skipped + self.out_of_scope


def _file_of(case: ET.Element) -> str:
    """The test's file, relative to ``tests/system_tests/`` (``file`` with ``junit_family=xunit1``;
    else from ``classname``, dotted module path optionally followed by a class name)."""
    path = case.get("file")
    if not path:
        parts = (case.get("classname") or "").split(".")
        while parts and parts[-1][:1].isupper():  # test classes
            parts.pop()
        path = "/".join(parts) + ".py"
    prefix = SYSTEM_TESTS.as_posix() + "/"
    return path.split(prefix, 1)[-1]


def _first_line(bad: ET.Element) -> str:
    """What went wrong in one line: the first ``E`` line of the traceback (pytest's error lines),
    else the first line of the message."""
    for line in (bad.text or "").splitlines():
        if line.startswith("E "):
            return line[1:].strip()
    message = (bad.get("message") or bad.text or "").strip().splitlines()
    return message[0] if message else ""


def parse_junit(text: str) -> dict[str, FileCounts]:
    """Counts per test file from pytest's JUnit XML report (``--junitxml``), in file order.

    A ``<failure>`` or ``<error>`` counts as failed (a test failed in its call and its teardown
    counts once); a ``<skipped>`` whose message starts with ``out of scope:`` as out of scope,
    any other (skip, xfail) as skipped; a test case with none of them as passed.

    Raises:
        ReportError: when ``text`` is not XML or holds no ``testsuite``.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ReportError(f"not a JUnit XML report: {exc}") from exc
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if not suites:
        raise ReportError(f"not a JUnit XML report: no <testsuite> (root is <{root.tag}>)")
    counts: dict[str, FileCounts] = {}
    for suite in suites:
        for case in suite.iter("testcase"):
            row = counts.setdefault(_file_of(case), FileCounts())
            bad = case.find("failure")
            if bad is None:
                bad = case.find("error")
            skipped = case.find("skipped")
            if bad is not None:
                row.failed += 1
                row.failures.append((case.get("name") or "?", _first_line(bad)))
            elif skipped is not None:
                if (skipped.get("message") or "").startswith(OUT_OF_SCOPE_PREFIX):
                    row.out_of_scope += 1
                else:
                    row.skipped += 1
            else:
                row.passed += 1
    return counts


def table(counts: dict[str, FileCounts]) -> str:
    """A Markdown table: one row per file (sorted by path) and a total row."""
    lines = [
        "| file | passed | failed | skipped | out of scope | total |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    total = FileCounts()
    for name, row in sorted(counts.items()):
        lines.append(f"| {name} | {row.passed} | {row.failed} | {row.skipped} | {row.out_of_scope} | {row.total} |")
        total.passed += row.passed
        total.failed += row.failed
        total.skipped += row.skipped
        total.out_of_scope += row.out_of_scope
    lines.append(
        f"| **total** | {total.passed} | {total.failed} | {total.skipped} | {total.out_of_scope} | {total.total} |"
    )
    return "\n".join(lines)


def failure_list(counts: dict[str, FileCounts]) -> str:
    """Every failed test as ``- file::name: first line of its message``, files sorted by path."""
    return "\n".join(
        f"- {name}::{test}: {message}" for name, row in sorted(counts.items()) for test, message in row.failures
    )


def pytest_command(src: Path, tests: list[str], workers: int, junit: Path, keyword: str | None) -> list[str]:
    """The pytest command line run in ``src`` (a checkout of wandb's repository)."""
    command = [
        sys.executable, "-m", "pytest",
        "-p", PLUGIN,
        "-p", "no:runresume", "-p", "no:runresume_conformance", "-p", "no:cacheprovider",
        "-o", "addopts=", "-o", "junit_family=xunit1",
        f"--rootdir={src}", f"--junitxml={junit}", "-q", "-rfE",
        # wandb 0.31's console capture misses what a test prints under pytest's default capture
        # (fd): output.log stays empty (test_upload_wandb_files, test_resume_output_log,
        # test_console_wrap_raw fail with or without the fake). With tee-sys it sees it.
        "--capture=tee-sys",
    ]  # fmt: skip
    command += ["-n", str(workers if workers > 1 else 0)]  # xdist stays loaded: W&B's fixtures use worker_id
    if keyword:
        command += ["-k", keyword]
    return command + [(SYSTEM_TESTS / test).as_posix() for test in tests]


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="wandb_system_tests.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--wandb-src", required=True, type=Path, help="a checkout of wandb's repository")
    parser.add_argument("-n", "--workers", type=int, default=1, help="pytest-xdist workers (default 1)")
    parser.add_argument("-k", dest="keyword", help="pytest's -k expression")
    parser.add_argument("--report", type=Path, help="also write the table and the failures to this file")
    parser.add_argument("--junitxml", type=Path, help="keep pytest's JUnit XML report here")
    parser.add_argument("tests", nargs="+", help="files/dirs/node ids under tests/system_tests/")
    args = parser.parse_args(argv)
    src: Path = args.wandb_src.resolve()
    if not (src / SYSTEM_TESTS / "conftest.py").is_file():
        parser.error(f"--wandb-src {src}: no {SYSTEM_TESTS}/conftest.py there (not a checkout of wandb's repository)")
    if args.workers < 1:
        parser.error(f"-n {args.workers}: at least 1 worker")
    missing = [t for t in args.tests if not (src / SYSTEM_TESTS / t.split("::", 1)[0]).exists()]
    if missing:
        parser.error(f"not under {src / SYSTEM_TESTS}: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="wandb-system-tests-") as tmp:
        junit = args.junitxml.resolve() if args.junitxml else Path(tmp) / "junit.xml"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TOOLS), str(src), env.get("PYTHONPATH", "")) if p)
        # W&B's tests start `python ...` and `wandb ...`: this venv's, as when it is activated.
        env["PATH"] = os.pathsep.join(p for p in (str(Path(sys.executable).parent), env.get("PATH", "")) if p)
        command = pytest_command(src, args.tests, args.workers, junit, args.keyword)
        print("$", " ".join(command), flush=True)
        subprocess.run(command, cwd=src, env=env, check=False)
        if not junit.is_file():
            print("pytest wrote no JUnit report (see its output above)", file=sys.stderr)
            return 2
        counts = parse_junit(junit.read_text(encoding="utf-8"))
    text = table(counts)
    failures = failure_list(counts)
    print(text)
    if failures:
        print("\nFailed:\n" + failures)
    if args.report:
        args.report.write_text(text + ("\n\nFailed:\n\n" + failures if failures else "") + "\n", encoding="utf-8")
    return 1 if any(row.failed for row in counts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
