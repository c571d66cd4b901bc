"""The documentation site and the reference pages moved out of the README: ``mkdocs build --strict``
builds every page of ``docs/`` without a warning (broken links and anchors, pages left out of the
navigation), the faults and sweeps pages' examples run as written with the real wandb SDK (and the
real ``wandb sweep`` and ``wandb agent``), and every relative link of the README points at a file of
the repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from docs_pages import DOCS, ROOT, TRAIN, blocks


def test_the_site_builds_without_a_warning(tmp_path):
    """``mkdocs build --strict`` turns every warning into an error: a link to a missing page or
    anchor, a page of ``docs/`` missing from ``nav``, an absolute link. About 2 s."""
    pytest.importorskip("mkdocs", reason='needs pip install -e ".[dev]"')  # in dev: CI never skips it
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml")]
        + ["--site-dir", str(site)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-5000:]
    pages = {p.relative_to(DOCS).with_suffix("") for p in DOCS.rglob("*.md")}
    built = {p.parent.relative_to(site) for p in site.rglob("index.html") if p.parent != site}
    # README.md of a folder is that folder's index; every other page is PAGE/index.html
    expected = {p.parent if p.name == "README" else p for p in pages} - {Path("index")}
    assert expected <= built, sorted(map(str, expected - built))
    assert "pytest-runresume" in (site / "index.html").read_text(encoding="utf-8")


def test_the_readme_links_point_at_files_of_the_repository():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert local, "the README links to the docs"
    assert [link for link in local if not (ROOT / link).exists()] == []
    assert "../" not in text  # nothing beside the repository


def test_development_page_shows_the_readme_commands():
    """The development page explains the README's three commands: the same commands, verbatim."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in readme.strip().splitlines()]
    (shown,) = blocks("development.md", "console")[:1]
    assert shown.strip().splitlines() == commands


def test_faults_page_example_runs(pytester):
    """The faults page's test beside ``examples/train.py``: injected 500s are retried by the SDK."""
    (code,) = blocks("faults.md", "python")
    (pytester.path / "train.py").write_text(TRAIN.read_text())
    pytester.makepyfile(test_faults=code)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rf")
    result.assert_outcomes(passed=1)


def test_sweeps_page_example_runs(pytester, monkeypatch):
    """The sweeps page's ``sweep.yaml`` and test, beside ``examples/train.py``: a preempted sweep
    run is requeued and the next agent resumes it. The agent runs ``python`` from ``PATH``: this
    interpreter first. 20 to 60 s (each agent starts the wandb CLI and polls every 5 s)."""
    (config,) = blocks("sweeps.md", "yaml")
    (code,) = blocks("sweeps.md", "python")
    (pytester.path / "train.py").write_text(TRAIN.read_text())
    (pytester.path / "sweep.yaml").write_text(config)
    pytester.makepyfile(test_sweep=code)
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    result = pytester.runpytest("-p", "no:cacheprovider", "-rf")
    result.assert_outcomes(passed=1)
