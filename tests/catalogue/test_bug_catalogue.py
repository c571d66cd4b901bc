"""The bug catalogue (``examples/buggy/``), each script through both routes a user takes, with the
real wandb SDK: the README's recommended pytest pattern (run as written, as a user's test file,
in a pytest session of its own, in process: the SDK runs in the harness's subprocesses either way) and ``runresume check``. Each must fail and name the cause (the finding
code and its rules); ``examples/train.py`` passes both (``tests/test_readme.py``,
``tests/cli/test_cli_check.py``)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_runresume.harness import CODES

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bug_catalogue", ROOT / "examples" / "buggy" / "catalogue.py")
assert _spec is not None and _spec.loader is not None
catalogue = importlib.util.module_from_spec(_spec)
sys.modules["bug_catalogue"] = catalogue
_spec.loader.exec_module(catalogue)

IDS = [bug.script.split(".")[0] for bug in catalogue.CATALOGUE]

#: The grace period (s) each route gives a script: the README's ``GRACE = 8`` and ``check --grace 8``,
#: except for the handler that sleeps 30 s before it checkpoints, which outlives any grace period:
#: there 2 s (it waits the whole grace period every time it is preempted, twice a route).
GRACE = {"slow_handler.py": 2}


def readme_pattern() -> str:
    """The README's "Use it" block, as written."""
    text = (ROOT / "README.md").read_text()
    return text.split("## Use it", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


def cause(bug) -> str:
    """What the failure must say: the finding's code and its rules, ``[bug: code] ... (R66, R67)``."""
    rules = CODES[bug.code].rules
    return rf"\[bug: {re.escape(bug.code)}\] .*" + (re.escape(f"({', '.join(rules)})") if rules else "")


def test_the_catalogue_covers_every_script_and_names_known_codes():
    buggy = ROOT / "examples" / "buggy"  # _common.py: what the scripts share, not an entry
    scripts = {p.name for p in buggy.iterdir() if p.suffix in (".py", ".sh")} - {"catalogue.py", "_common.py"}
    # the scheduler setups have their own test: tests/catalogue/test_scheduler_catalogue.py
    under_a_scheduler = {bug.script for bug in catalogue.SCHEDULER_CATALOGUE}
    assert {bug.script for bug in catalogue.CATALOGUE} == scripts - under_a_scheduler
    assert {bug.code for bug in catalogue.CATALOGUE} <= set(CODES)


@pytest.mark.parametrize("bug", catalogue.CATALOGUE, ids=IDS)
def test_the_readme_pattern_fails_and_names_the_cause(pytester, bug):
    block = readme_pattern()
    cmd_line = next(line for line in block.splitlines() if line.startswith("CMD = "))
    block = block.replace(cmd_line, f"CMD = {bug.command('--run-id', 'abc', '--steps', '8')!r}")
    if bug.script in GRACE:
        assert "\nGRACE = 8 " in block
        block = block.replace("\nGRACE = 8 ", f"\nGRACE = {GRACE[bug.script]} ")
    pytester.makepyfile(test_use_it=block)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rf")
    outcomes = result.parseoutcomes()
    out = result.stdout.str()
    for name in (catalogue.MARKER_TEST, catalogue.REQUEUE_TEST):
        failed = re.search(rf"FAILED test_use_it.py::{name}\b", out) is not None
        assert failed == (name in bug.readme_tests), f"{name}: failed={failed}\n{out[-6000:]}"
    assert outcomes.get("failed") == len(bug.readme_tests), out[-6000:]
    assert re.search(cause(bug), out), f"the cause {bug.code} is not named\n{out[-8000:]}"


@pytest.mark.parametrize("bug", catalogue.CATALOGUE, ids=IDS)
def test_runresume_check_fails_and_names_the_cause(tmp_path, bug):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_runresume.cli", "check", "--grace", str(GRACE.get(bug.script, 8)), "--only", ",".join(bug.checks), "--"]
        + bug.command("--steps", "8").split(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-6000:]
    for name in bug.checks:
        assert re.search(rf"^{name}\s+FAILED\b", proc.stdout, re.M), f"{name} did not fail\n{out[-6000:]}"
    assert re.search(cause(bug), proc.stdout), f"the cause {bug.code} is not named\n{out[-8000:]}"
