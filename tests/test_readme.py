"""The README's promises: its first lines give the commands, and CI runs the test commands."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def test_readme_starts_with_the_three_commands():
    install_and_main, tests, integrations = readme_commands()
    assert "pip install" in install_and_main and "pytest examples" in install_and_main
    assert "pytest" in tests
    assert '.[integrations]"' in integrations and "RUNRESUME_INTEGRATIONS=required" in integrations


def test_ci_runs_exactly_the_readme_test_commands():
    """The test command (stopping CI when it fails), then the integration step's install and tests."""
    _, tests, integrations = readme_commands()
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert f"{tests} || exit $?" in ci
    install, run = integrations.split(" && ", 1)
    assert ci[-2:] == [install.replace("pip install", "pip install --quiet"), run]
    assert ci.index(f"{tests} || exit $?") < len(ci) - 2


def test_the_use_it_example_runs_as_written(pytester):
    """The README's "Use it" block, copied next to examples/train.py, passes as it stands."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Use it", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_use_it=block)
    (pytester.path / "train.py").write_text((ROOT / "examples" / "train.py").read_text())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
