"""``tools/check_dist.py``'s content check, on wheels and sdists made here (the real build, install
and example run are the last step of ``.ci/run``): a complete pair passes; a missing module, a
missing data file, a dropped executable bit or a missing entry point is named."""

from __future__ import annotations

import io
import re
import tarfile
import zipfile
from pathlib import Path

import pytest
from docs_pages import load_tool

check_dist = load_tool("check_dist")

ENTRY_POINTS = """[console_scripts]
runresume = pytest_runresume.cli:main

[pytest11]
runresume = pytest_runresume.plugin
"""


def make_wheel(path: Path, files: dict[str, bool], entry_points: str = ENTRY_POINTS) -> Path:
    """A wheel holding ``files`` (name -> executable) and ``entry_points.txt``."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, executable in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            zf.writestr(info, "")
        zf.writestr("pytest_runresume-0.1.0.dist-info/entry_points.txt", entry_points)
    return path


def make_sdist(path: Path, files: list[str]) -> Path:
    """An sdist ``pytest_runresume-0.1.0.tar.gz`` holding ``files`` and the project's top files."""
    with tarfile.open(path, "w:gz") as tf:
        for name in [*files, "pyproject.toml", "README.md", "LICENSE"]:
            info = tarfile.TarInfo(f"pytest_runresume-0.1.0/{name}")
            tf.addfile(info, io.BytesIO(b""))
    return path


def test_the_expected_files_are_the_package_with_its_data():
    files = check_dist.expected_files()
    assert "pytest_runresume/__init__.py" in files and "pytest_runresume/wire/schema.graphql" in files
    assert "pytest_runresume/py.typed" in files and "pytest_runresume/harness/_child/sitecustomize.py" in files
    slurm = [name for name in files if "/_slurm_bin/" in name and not name.endswith(".py")]
    assert slurm and all(files[name] for name in slurm)  # the fake commands are executable


def test_a_complete_pair_passes(tmp_path):
    files = check_dist.expected_files()
    wheel = make_wheel(tmp_path / "p-0.1.0-py3-none-any.whl", files)
    sdist = make_sdist(tmp_path / "pytest_runresume-0.1.0.tar.gz", list(files))
    check_dist.check_contents(wheel, sdist)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("drop-module", "the wheel lacks 1 file(s): pytest_runresume/__init__.py"),
        ("drop-schema", "the wheel lacks 1 file(s): pytest_runresume/wire/schema.graphql"),
        ("not-executable", "the wheel drops the executable bit of pytest_runresume/harness/_slurm_bin/"),
        ("no-plugin", "the wheel's entry_points.txt lacks 'runresume = pytest_runresume.plugin'"),
        ("sdist-without-data", "the sdist lacks 1 file(s): pytest_runresume/py.typed"),
    ],
)
def test_what_is_missing_is_named(tmp_path, change, message):
    files = check_dist.expected_files()
    in_wheel, in_sdist, entry_points = dict(files), list(files), ENTRY_POINTS
    if change == "drop-module":
        del in_wheel["pytest_runresume/__init__.py"]
    elif change == "drop-schema":
        del in_wheel["pytest_runresume/wire/schema.graphql"]
    elif change == "not-executable":
        in_wheel = {name: False for name in in_wheel}
    elif change == "no-plugin":
        entry_points = ENTRY_POINTS.replace("runresume = pytest_runresume.plugin", "")
    else:
        in_sdist.remove("pytest_runresume/py.typed")
    wheel = make_wheel(tmp_path / "p-0.1.0-py3-none-any.whl", in_wheel, entry_points)
    sdist = make_sdist(tmp_path / "pytest_runresume-0.1.0.tar.gz", in_sdist)
    with pytest.raises(check_dist.DistError, match="^" + re.escape(message)):
        check_dist.check_contents(wheel, sdist)
