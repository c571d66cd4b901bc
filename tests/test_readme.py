"""The README's promises: its first lines give the two commands, and CI runs the test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def test_readme_starts_with_the_two_commands():
    install_and_main, tests = readme_commands()
    assert "pip install" in install_and_main and "pytest examples" in install_and_main
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command():
    _, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1].strip() == tests


def test_the_use_it_example_runs_as_written(pytester):
    """The README's "Use it" block, copied next to examples/train.py, passes as it stands."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Use it", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_use_it=block)
    (pytester.path / "train.py").write_text((ROOT / "examples" / "train.py").read_text())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
