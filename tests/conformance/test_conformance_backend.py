"""The packaged backend conformance suite (``pytest --pyargs pytest_runresume.conformance``), run as
users run it: against the embedded fake, and against a second fake served by URL with a key. Each
run is a real pytest subprocess with the real wandb 0.31.0 SDK (R01-R08, R14, R24, R35-R43, R50-R58,
R60-R66, R70, R71)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from pytest_runresume import FakeServer, Model

SUITE = ("pytest_runresume.conformance.test_backend_resume", "pytest_runresume.conformance.test_backend_states")
FAKE_ONLY = ("R60", "R61", "R63")  # only tests that need the fake's clock check these


def run_suite(pytester: pytest.Pytester, *args: str, modules: tuple[str, ...] = SUITE) -> pytest.RunResult:
    return pytester.runpytest_subprocess("--pyargs", *modules, "-p", "no:cacheprovider", *args, timeout=300)


def rules_line(result: pytest.RunResult, status: str) -> list[str]:
    line = next(x for x in result.outlines if x.startswith(f"rules {status} ("))
    ids = line.split(":", 1)[1].split()
    return [] if ids == ["-"] else ids


@pytest.fixture
def second_fake():
    """A second fake backend, served on its own port (not the session's), with its own key."""
    with FakeServer(Model()) as served:
        yield served


def test_the_suite_passes_against_the_embedded_fake(pytester):
    report = pytester.path / "conformance.xml"
    result = run_suite(pytester, "-n", "2", f"--junitxml={report}")
    result.assert_outcomes(passed=22)
    assert "backend: the embedded fake" in result.outlines
    passed = rules_line(result, "passed")
    assert {"R01", "R02", "R35", "R43", "R52", "R58", "R61", "R70a", "R70c", "R71"} <= set(passed)
    assert rules_line(result, "failed") == rules_line(result, "skipped") == []
    props = {
        case.get("name"): prop.get("value")
        for case in ET.parse(report).getroot().iter("testcase")
        for prop in case.iter("property")
        if prop.get("name") == "runresume_rules"
    }
    assert props["test_must_resumes_an_existing_run_at_its_last_step_plus_one"] == "R01 R35 R41 R42"
    assert len(props) == 22


def test_the_suite_passes_against_a_second_fake_served_by_url(pytester, second_fake):
    result = run_suite(
        pytester,
        f"--runresume-backend-url={second_fake.url}/",
        f"--runresume-backend-key={second_fake.api_key}",
        "--runresume-backend-project=by-url",
    )  # no -n: one clock shared by parallel workers would crash their live runs under them
    result.assert_outcomes(passed=22)  # its control API is found, so the clock tests run too
    assert f"backend: {second_fake.url}" in result.outlines
    assert set(FAKE_ONLY) <= set(rules_line(result, "passed"))
    runs = list(second_fake.model.iter_runs())
    assert len(runs) >= 20 and {r.key.project for r in runs} == {"by-url"}  # the runs went there
    assert second_fake.model.problems == []


def test_clock_tests_are_skipped_against_a_backend_without_the_control_api(pytester, second_fake):
    result = run_suite(
        pytester,
        f"--runresume-backend-url={second_fake.url}",
        f"--runresume-backend-key={second_fake.api_key}",
        "--runresume-backend-control=off",
        "-k",
        "sigkill or silence or non_zero_exit_code",
        "-rs",
    )
    result.assert_outcomes(passed=1, skipped=2)
    assert set(FAKE_ONLY) <= set(rules_line(result, "skipped"))
    assert rules_line(result, "passed") == ["R55", "R57", "R66", "R70b"]
    assert any("needs the fake's clock: a W&B backend at" in line for line in result.outlines)


def test_a_backend_that_breaks_a_rule_fails_it_in_the_summary(pytester, second_fake):
    second_fake.model.state = lambda run: "finished"  # type: ignore[method-assign]  # never 'failed'
    result = run_suite(
        pytester,
        f"--runresume-backend-url={second_fake.url}",
        f"--runresume-backend-key={second_fake.api_key}",
        "-k",
        "non_zero",
    )
    result.assert_outcomes(passed=0, failed=2)
    assert rules_line(result, "failed") == ["R55", "R57", "R65", "R66", "R70b", "R70e", "R71"]
    assert any(
        re.search(r"R55 R57 R66 R70b <- .*test_a_non_zero_exit_code_makes_it_failed", x) for x in result.outlines
    )


def test_a_url_without_a_key_is_a_usage_error(pytester):
    result = run_suite(pytester, "--runresume-backend-url=http://127.0.0.1:9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--runresume-backend-url needs --runresume-backend-key*"])


def test_a_killed_sdk_child_leaves_no_temporary_directory_behind(second_fake, tmp_path, monkeypatch):
    """``import wandb`` makes ``tmp*wandb-media`` and ``tmp*wandb-artifacts``, removed only at a
    normal exit: the suite's children (SIGKILLed by the crash tests) make them in their own
    ``root_dir/tmp``, not in the system's temporary directory."""
    from pytest_runresume.conformance.target import make_target

    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    root = tmp_path / "root"
    root.mkdir()
    target = make_target(None, None, "hygiene", "off", second_fake)
    # Both modules imported: both directories are made before READY; then it waits to be killed.
    script = "import signal, wandb, wandb.sdk.artifacts.artifact, wandb.sdk.data_types._private\n"
    proc = target.spawn(script + "print('READY', flush=True)\nsignal.pause()", root)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    finally:
        proc.kill()
        proc.communicate()
    assert list(system_tmp.iterdir()) == []
    assert sorted(p.name.endswith(("wandb-media", "wandb-artifacts")) for p in (root / "tmp").iterdir()) == [True, True]
