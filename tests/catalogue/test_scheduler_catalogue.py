"""The scheduler bug catalogue (``SCHEDULER_CATALOGUE`` in ``examples/buggy/catalogue.py``): setups
that are wrong only under a scheduler, each through both routes with the real wandb SDK: the
README's two tests with the scheduler profile (a user's test file in a pytest session of its own) and
``runresume check --scheduler``. Each must fail and name the cause (the finding code and its rules).
The correct setup of each profile passes the same routes in ``tests/docs/test_docs_schedulers.py``
and ``tests/e2e/test_e2e_schedulers.py``.

Cost: about 15 s of wall time per entry at ``-n 2`` (5 entries)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_runresume.harness import CODES

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bug_catalogue", ROOT / "examples" / "buggy" / "catalogue.py")
assert _spec is not None and _spec.loader is not None
catalogue = importlib.util.module_from_spec(_spec)
sys.modules["bug_catalogue"] = catalogue
_spec.loader.exec_module(catalogue)


def cause(bug) -> str:
    """What the failure must say: the finding's code and its rules, ``[bug: code] ... (R68)``."""
    rules = CODES[bug.code].rules
    return rf"\[bug: {re.escape(bug.code)}\] .*" + (re.escape(f"({', '.join(rules)})") if rules else "")


IDS = [bug.script.rsplit("/", 1)[-1].split(".")[0] for bug in catalogue.SCHEDULER_CATALOGUE]

#: The README's "Use it" pattern with a scheduler profile: the marker's scheduler applies to every
#: run of the test, and the requeue loop takes the same profile.
PATTERN = """
import pytest

from pytest_runresume import Kubernetes, Slurm, SpotVM, Trigger

CMD = {cmd!r}
SCHEDULER = {scheduler}


@pytest.mark.preempt(scheduler=SCHEDULER, at_step=3)
def test_survives_preemption(runresume):
    runresume.run(CMD)
    runresume.run(CMD).expect(state="finished", exit_code=0)


def test_survives_requeues(runresume):
    runresume.requeue(CMD, [Trigger.at_step(3)], scheduler=SCHEDULER).check()
"""


def test_every_scheduler_setup_is_catalogued():
    root = catalogue.HERE
    scripts = {p.name for p in root.iterdir() if p.suffix == ".sbatch"}
    assert scripts <= {bug.path.name for bug in catalogue.SCHEDULER_CATALOGUE}
    assert all(bug.path.is_file() for bug in catalogue.SCHEDULER_CATALOGUE)


@pytest.mark.parametrize("bug", catalogue.SCHEDULER_CATALOGUE, ids=IDS)
def test_the_pattern_under_the_scheduler_fails_and_names_the_cause(pytester, bug):
    cmd = bug.command("--steps", "8", *(["--run-id", "abc"] if bug.runner and "auto" not in bug.script else []))
    pytester.makepyfile(test_use_it=textwrap.dedent(PATTERN.format(cmd=cmd, scheduler=bug.scheduler)))
    result = pytester.runpytest("-p", "no:cacheprovider", "-rf")
    out = result.stdout.str()
    assert result.parseoutcomes().get("failed") == 2, out[-6000:]
    assert re.search(cause(bug), out), f"the cause {bug.code} is not named\n{out[-8000:]}"


@pytest.mark.parametrize("bug", catalogue.SCHEDULER_CATALOGUE, ids=IDS)
def test_runresume_check_under_the_scheduler_fails_and_names_the_cause(tmp_path, bug):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_runresume.cli", "check", *bug.cli, "--only", ",".join(bug.checks), "--"]
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
