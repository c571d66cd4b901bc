"""The nox sessions: the wandb SDK version matrix, and W&B's sweeps engine as the oracle of the
sweep search.

The wandb SDK version matrix (docs/sdk-versions.md): one nox session per supported wandb minor.

Each session is its own venv (``.nox/sdk_matrix-<version>``) with the project, its test
dependencies and exactly that wandb release; pip's cache is shared, so after the first run a
session's install is a few seconds. It runs the example suite and the resume/state end-to-end tests
with ``-n 2``; the tests read the installed SDK version (``pytest_runresume.model.sdk_versions``)
and expect what that release does.

    nox -s sdk_matrix                 # every version, oldest last
    nox -s "sdk_matrix(wandb='0.25.1')"  # one version
    nox -l                            # the sessions

The versions are the latest patch of each minor in the supported range: ``SUPPORTED_SDKS`` in
``pytest_runresume/model/sdk_versions.py``.

The sweeps oracle (docs/sweeps.md "Differences from W&B's sweeps engine"): ``tests/oracle`` in a
venv of its own (``.nox/sweeps_oracle``) with the project and W&B's ``sweeps`` engine, which pins
numpy<2 and so is no dependency of the project; ``RUNRESUME_SWEEPS_ORACLE=required`` makes a
missing engine an error there, where the main suite skips the module.

    nox -s sweeps_oracle
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import nox


def _sdk_versions() -> ModuleType:
    """``pytest_runresume/model/sdk_versions.py`` loaded by path (stdlib only): nox need not run in a
    venv that has the project installed."""
    path = Path(__file__).parent / "pytest_runresume" / "model" / "sdk_versions.py"
    spec = importlib.util.spec_from_file_location("_runresume_sdk_versions", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


#: The latest patch of every wandb minor the package supports (pyproject's ``wandb`` extra), newest first.
SDK_VERSIONS: list[str] = list(_sdk_versions().SUPPORTED_SDKS)

#: What each session runs: the example suite (without the real-framework examples, which need the
#: ``integrations`` extra and run in their own CI step) and the resume/state end-to-end tests.
MATRIX_TESTS = [
    "examples/test_train.py",
    "examples/test_unit_model.py",
    "tests/e2e/test_e2e_resume_matrix.py",
    "tests/e2e/test_e2e_resume_semantics.py",
    "tests/e2e/test_e2e_states.py",
    "tests/e2e/test_sdk_versions.py",
]

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


@nox.session
@nox.parametrize("wandb", SDK_VERSIONS)
def sdk_matrix(session: nox.Session, wandb: str) -> None:
    """Install the project with ``wandb==<wandb>`` in this session's venv and run :data:`MATRIX_TESTS`.

    Extra arguments after ``--`` go to pytest (e.g. ``nox -s sdk_matrix -- -x``)."""
    session.install("--quiet", "-e", ".", f"wandb=={wandb}")
    installed = session.run("python", "-c", "import importlib.metadata as m; print(m.version('wandb'))", silent=True)
    if str(installed).strip() != wandb:
        session.error(f"wandb {wandb} asked, {str(installed).strip()} installed")
    session.run("python", "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", *MATRIX_TESTS, *session.posargs)


#: The sweeps oracle's venv: W&B's sweeps engine (pinned: the oracle must not move under the tests)
#: with the numpy it pins, scipy for the two-sample tests, hypothesis for the generated grids.
SWEEPS_ORACLE = ["sweeps==0.3.0", "numpy<2", "scipy", "hypothesis>=6.100"]


@nox.session
def sweeps_oracle(session: nox.Session) -> None:
    """Install the project and :data:`SWEEPS_ORACLE` in this session's venv and run ``tests/oracle``
    with ``RUNRESUME_SWEEPS_ORACLE=required`` (a missing engine fails, never skips).

    Extra arguments after ``--`` go to pytest."""
    session.install("--quiet", "-e", ".", *SWEEPS_ORACLE)
    session.run(
        "python", "-m", "pytest", "-q", "-n", "0", "-rs", "-p", "no:cacheprovider", "tests/oracle", *session.posargs,
        env={"RUNRESUME_SWEEPS_ORACLE": "required"},
    )
