"""The README's promises: its first lines give the commands, and CI runs the test commands (with
the browser tests required), then checks the wheel."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def test_readme_starts_with_the_three_commands():
    install_and_main, tests, integrations = readme_commands()
    assert "pip install" in install_and_main and "pytest examples" in install_and_main
    assert "pytest" in tests and tests.endswith(" -rs")  # skip reasons shown
    assert '.[integrations]"' in integrations and "RUNRESUME_INTEGRATIONS=required" in integrations


def ci_lines() -> list[str]:
    return [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]


def test_ci_runs_exactly_the_readme_test_commands():
    """The test command (stopping CI when it fails), then the integration step's install and tests,
    in that order; later steps may follow them."""
    _, tests, integrations = readme_commands()
    ci = ci_lines()
    install, run = integrations.split(" && ", 1)
    steps = [f"{tests} || exit $?", install.replace("pip install", "pip install --quiet"), run]
    assert all(step in ci for step in steps), steps
    assert [ci.index(step) for step in steps] == sorted(ci.index(step) for step in steps)


def test_ci_requires_the_browser_and_checks_the_wheel_after_the_tests():
    """A chromium that cannot be installed stops CI, and the browser tests run under
    RUNRESUME_BROWSER=required (they fail without a browser instead of skipping); the wheel and
    sdist check (tools/check_dist.py) runs after the test command."""
    _, tests, _ = readme_commands()
    ci = ci_lines()
    install = next(line for line in ci if "apt-get install" in line and "chromium" in line)
    failure = ci[ci.index(install) + 1]
    assert failure.startswith("|| {") and "exit 1" in failure and "warning" not in failure
    assert ci.index("export RUNRESUME_BROWSER=required") < ci.index(f"{tests} || exit $?")
    assert ci.index("python tools/check_dist.py") > ci.index(f"{tests} || exit $?")


def test_browser_tests_fail_without_a_browser_when_it_is_required(tmp_path):
    """Every test module that looks for chromium honours RUNRESUME_BROWSER=required: with no
    chromium on PATH, collecting them is an error, not a skip."""
    here = Path(__file__).resolve()
    modules = sorted(
        p for p in (ROOT / "tests").rglob("test_*.py") if p != here and 'shutil.which("chromium")' in p.read_text()
    )
    assert len(modules) >= 2, modules
    env = {**os.environ, "PATH": str(tmp_path), "RUNRESUME_BROWSER": "required"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *map(str, modules)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    for module in modules:
        assert f" ERROR collecting {module.relative_to(ROOT)} " in proc.stdout, proc.stdout
    # One traceback line per module (the short summary repeats it, untruncated when CI is set).
    raised = [line for line in proc.stdout.splitlines() if line.startswith("E   RuntimeError: RUNRESUME_BROWSER=required")]
    assert len(raised) == len(modules), proc.stdout


def test_the_use_it_example_runs_as_written(pytester):
    """The README's "Use it" block, copied next to examples/train.py, passes as it stands."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Use it", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_use_it=block)
    (pytester.path / "train.py").write_text((ROOT / "examples" / "train.py").read_text())
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
