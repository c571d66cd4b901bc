"""The how-to pages' code is run as written: ``python`` blocks are test modules, ``ini`` blocks their
settings, ``bash`` blocks commands run in a project holding ``train.py``; the GitHub Actions example
is parsed and its commands checked against the real CLI and pytest options."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from docs_pages import DOCS, TRAIN, blocks

from pytest_runresume.cli import main


def project(pytester: pytest.Pytester) -> Path:
    """The pytester directory as a user's project: ``train.py`` beside the tests."""
    (pytester.path / "train.py").write_text(TRAIN.read_text())
    return pytester.path


def test_plugin_howto_tests_pass(pytester):
    (code,) = blocks("howto-plugin.md", "python")
    (ini,) = blocks("howto-plugin.md", "ini")
    project(pytester)
    pytester.makefile(".ini", pytest=ini)
    pytester.makepyfile(test_preemption=code)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_unit_test_howto_tests_pass(pytester):
    code = blocks("howto-unit-tests.md", "python")
    assert len(code) == 3
    pytester.makepyfile(**{f"test_unit_{i}": block for i, block in enumerate(code)})
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def _shell_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNRESUME_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def test_ci_howto_commands_run(pytester):
    cwd = project(pytester)
    commands = blocks("howto-ci-conformance.md", "bash")
    assert [c.split()[0] for c in commands] == ["runresume", "pytest", "pytest"]
    for command in commands:
        proc = subprocess.run(
            ["bash", "-e", "-c", command], cwd=cwd, env=_shell_env(), capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert "rules failed (0): -" in proc.stdout or proc.stdout.startswith("runresume check:")
    assert (cwd / "runresume-check.xml").is_file() and (cwd / "backend-conformance.xml").is_file()


def test_ci_howto_ini_keys_are_the_plugins(pytester):
    (ini,) = blocks("howto-ci-conformance.md", "ini")
    project(pytester)
    pytester.makefile(".ini", pytest=ini)
    result = pytester.runpytest_subprocess(
        "--pyargs", "pytest_runresume.conformance.test_entrypoint", "--collect-only", "-q", timeout=120
    )
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["8 tests collected*"])


def test_github_actions_example_runs_real_commands(pytester):
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((DOCS / "ci-github-actions.yml").read_text())
    runs = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    check = next(r for r in runs if r.startswith("runresume "))
    name, *args = shlex.split(check)[1:]
    sub = main.get_command(main.make_context("runresume", [name]), name)
    assert sub is not None and sub.name == "check"
    sub.make_context("check", args)  # raises on an unknown option
    conformance = next(r for r in runs if "pytest_runresume.conformance" in r)
    project(pytester)
    args = shlex.split(conformance)[3:]  # after "python -m pytest"
    result = pytester.runpytest_subprocess(*args, "--collect-only", "-q", timeout=120)
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["30 tests collected*"])
