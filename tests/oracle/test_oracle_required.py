"""The sweeps oracle (``test_sweeps_oracle.py``) never skips silently: without W&B's sweeps engine it
is skipped with a reason that names the nox session, and under ``RUNRESUME_SWEEPS_ORACLE=required``
(what ``nox -s sweeps_oracle`` and CI set) collecting it is an error instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ORACLE = HERE / "test_sweeps_oracle.py"


def collect(tmp_path: Path, required: bool) -> subprocess.CompletedProcess[str]:
    """Collect the oracle module in a subprocess where ``import sweeps`` fails (a ``sweeps`` module
    that raises ModuleNotFoundError, as a missing package does, shadows any installed engine)."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "sweeps.py").write_text('raise ModuleNotFoundError("no sweeps engine here (the test shadows it)")\n')
    env = {k: v for k, v in os.environ.items() if k != "RUNRESUME_SWEEPS_ORACLE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shadow), env.get("PYTHONPATH")]))
    if required:
        env["RUNRESUME_SWEEPS_ORACLE"] = "required"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-n", "0", "-p", "no:cacheprovider", str(ORACLE)],
        cwd=HERE.parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("required", [False, True], ids=["optional", "required"])
def test_the_oracle_without_its_engine_is_skipped_with_a_reason_or_fails_when_required(
    tmp_path: Path, required: bool
) -> None:
    proc = collect(tmp_path, required)
    if required:
        assert proc.returncode not in (0, 5), proc.stdout
        assert "RuntimeError: RUNRESUME_SWEEPS_ORACLE=required but W&B's sweeps engine cannot be imported" in proc.stdout
    else:
        assert proc.returncode == 5, proc.stdout  # a module skipped whole: pytest's "no tests ran"
        assert "1 skipped" in proc.stdout and "nox -s sweeps_oracle" in proc.stdout, proc.stdout
