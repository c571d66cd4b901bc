"""The import contracts of ``pyproject.toml`` (``[tool.importlinter]``) hold: the layers import down only
(cli > conformance > plugin > harness > wire > picture > model), the model imports no socket, thread,
process, signal or HTTP module, and no package's modules import each other in a cycle.

``lint-imports`` runs on this checkout; then on a copy of the package with one violating import added,
where it must fail and name the import (and on an untouched copy, where it must pass: the copy, not
the checkout, is what it read).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "pytest_runresume"


def lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` (installed with the ``dev`` extra, beside this interpreter) with the contracts
    of ``cwd/pyproject.toml``, without its cache directory."""
    exe = Path(sys.executable).parent / "lint-imports"
    assert exe.exists(), f"{exe} is missing: install the dev extra (pip install -e '.[dev]')"
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [str(exe), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_import_contracts_hold():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


#: (module of the copy, line appended to it, the contract's name and what lint-imports must report);
#: the modules are ones every re-cut keeps (a package's ``__init__``, the harness's errors).
VIOLATIONS = {
    "none": (None, None, "0 broken", None),
    "wire-imports-harness": (
        "wire/__init__.py",
        "from ..harness import errors as _upward  # noqa",
        "Layers import down only",
        "pytest_runresume.wire -> pytest_runresume.harness.errors",
    ),
    "model-imports-socket": (
        "model/__init__.py",
        "import socket as _socket  # noqa",
        "The model is pure",
        "pytest_runresume.model -> socket",
    ),
    "model-imports-threading-outside-the-store": (  # the store's lock is the one exception
        "model/__init__.py",
        "import threading as _threading  # noqa",
        "The model is pure",
        "pytest_runresume.model -> threading",
    ),
    "harness-cycle": (
        "harness/errors.py",
        "from . import runner as _cycle  # noqa",  # the runner imports the errors
        "No import cycle in a package",
        "No cycles are allowed in pytest_runresume.harness",
    ),
}


@pytest.mark.parametrize("case", list(VIOLATIONS))
def test_a_violating_import_breaks_its_contract(tmp_path, case):
    module, line, contract, reported = VIOLATIONS[case]
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / PACKAGE, tmp_path / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    if module is not None:
        with open(tmp_path / PACKAGE / module, "a", encoding="utf-8") as f:
            f.write(f"\n{line}\n")
    done = lint_imports(tmp_path, pythonpath=tmp_path)
    out = done.stdout + done.stderr
    if module is None:
        assert done.returncode == 0, out
        assert contract in done.stdout, out
        return
    assert done.returncode != 0, out
    assert f"\n{contract} BROKEN" in done.stdout, out
    assert reported in out, out
