"""Build the wheel and the sdist, check them, and run the example suite from the installed wheel.

    python tools/check_dist.py [--keep]

The steps, each of which stops the check with exit 1 and names what failed:

1. ``python -m build`` builds the sdist, then the wheel from that sdist (so the sdist is complete);
2. ``twine check --strict`` checks their metadata (the README renders as the long description);
3. the wheel holds every module of ``pytest_runresume/`` and the package data the product needs
   at run time (the child hook, the supervisor, the fake ``sbatch``/``scontrol``, the GraphQL
   schema, ``py.typed``) and declares the pytest plugins and the ``runresume`` command; the sdist
   holds the same files;
4. a fresh venv (not this one, no editable install) gets ``WHEEL[wandb]``, and the example suite
   (a copy of ``examples/`` in a directory outside the source tree) runs with it. A ``conftest.py``
   written beside the copy fails the session unless ``pytest_runresume`` and its plugin are
   imported from that venv's site-packages.

Needs ``build`` and ``twine`` (the ``dev`` extra). Everything is made in one temporary directory,
removed at the end unless ``--keep``. ``.ci/run`` runs this after the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pytest_runresume"

#: Files besides modules that the product reads at run time (under ``pytest_runresume/``): they must
#: exist in the source tree and be in the wheel, with the executable bit where the source has it.
PACKAGE_DATA = [
    "py.typed",
    "harness/_child/sitecustomize.py",
    "harness/_supervisor.py",
    "harness/_slurm_bin/*",
    "wire/schema.graphql",
    "rules.md",
]

#: Written beside the copied examples: the session fails unless the wheel's package is the one used.
CONFTEST = """\
import sysconfig
from pathlib import Path

import pytest_runresume

SITE = Path(sysconfig.get_paths()["purelib"]).resolve()


def pytest_sessionstart(session):
    plugin = session.config.pluginmanager.get_plugin("runresume")
    for name, module in (("pytest_runresume", pytest_runresume), ("its pytest plugin", plugin)):
        path = Path(module.__file__).resolve()
        assert path.is_relative_to(SITE), f"{name} imported from {path}, not from the wheel in {SITE}"
    print(f"pytest_runresume from the installed wheel: {Path(pytest_runresume.__file__).parent}")
"""


class DistError(Exception):
    """A step of the check failed; the message says which and why."""


def run(cmd: list[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
    """Run ``cmd`` with its output shown; :class:`DistError` when it exits non-zero."""
    print("+", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=cwd, env=env)
    if proc.returncode != 0:
        raise DistError(f"{cmd[0]} ... {cmd[-1]} exited {proc.returncode}")


def expected_files() -> dict[str, bool]:
    """Every path the wheel must hold (relative to site-packages), with whether it is executable:
    each file of ``pytest_runresume/`` that git tracks (every file but ``__pycache__`` outside a git
    checkout), which must include :data:`PACKAGE_DATA`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "pytest_runresume"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if listed.returncode == 0 and listed.stdout:
        files = [ROOT / name for name in listed.stdout.split("\0") if name]
    else:
        files = [p for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    for pattern in PACKAGE_DATA:
        if not any(p.match(f"pytest_runresume/{pattern}") for p in files):
            raise DistError(f"package data {pattern!r} matches no file of {PACKAGE}")
    return {p.relative_to(ROOT).as_posix(): os.access(p, os.X_OK) for p in files}


def check_contents(wheel: Path, sdist: Path) -> None:
    """:class:`DistError` naming the files missing from the wheel or the sdist, or a missing entry point."""
    expected = expected_files()
    with zipfile.ZipFile(wheel) as zf:
        modes = {info.filename: info.external_attr >> 16 for info in zf.infolist()}
        (entry_points,) = [n for n in modes if n.endswith(".dist-info/entry_points.txt")]
        declared = zf.read(entry_points).decode()
    missing = sorted(set(expected) - set(modes))
    if missing:
        raise DistError(f"the wheel lacks {len(missing)} file(s): {', '.join(missing)}")
    not_executable = sorted(name for name, x in expected.items() if x and not modes[name] & 0o111)
    if not_executable:
        raise DistError(f"the wheel drops the executable bit of {', '.join(not_executable)}")
    for line in ("runresume = pytest_runresume.plugin", "runresume = pytest_runresume.cli:main"):
        if line not in declared:
            raise DistError(f"the wheel's entry_points.txt lacks {line!r}")
    with tarfile.open(sdist) as tf:
        top = sdist.name.removesuffix(".tar.gz")
        in_sdist = {n.split("/", 1)[1] for n in tf.getnames() if n.startswith(top + "/")}
    missing = sorted((set(expected) | {"pyproject.toml", "README.md", "LICENSE"}) - in_sdist)
    if missing:
        raise DistError(f"the sdist lacks {len(missing)} file(s): {', '.join(missing)}")
    print(f"wheel and sdist hold the {len(expected)} files of the package, its data and its entry points")


def examples_from_wheel(wheel: Path, work: Path) -> None:
    """Install ``wheel[wandb]`` in a fresh venv and run a copy of ``examples/`` with it."""
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([python, "-m", "pip", "install", "--quiet", f"{wheel}[wandb]"])
    project = work / "project"
    shutil.copytree(ROOT / "examples", project / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "conftest.py").write_text(CONFTEST)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(venv)
    run([python, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "-rs", "examples"], cwd=project, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (printed)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="runresume-dist-"))
    try:
        dist = work / "dist"
        run([sys.executable, "-m", "build", "--quiet", "--outdir", str(dist), str(ROOT)])
        (wheel,) = dist.glob("*.whl")
        (sdist,) = dist.glob("*.tar.gz")
        run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)])
        check_contents(wheel, sdist)
        examples_from_wheel(wheel, work)
    except DistError as exc:
        print(f"check_dist: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("check_dist: the wheel and the sdist are complete, and the examples pass from the installed wheel")
    return 0


if __name__ == "__main__":
    sys.exit(main())
