"""The picture of what a failed test or check saw: one HTML file per run (its SVG inside).

:func:`write_pictures` takes the results a harness collected and writes, for each run they wrote,
the run as the last of them left it (:mod:`pytest_runresume.picture`), named after the run id, in a
directory of the test (its ``tmp_path``) or of the check (beside its JUnit XML, or ``--workdir``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..model import RunRecord
from ..picture import run_document
from .results import RunResult

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def latest_runs(results: Sequence[RunResult]) -> list[tuple[RunRecord, str]]:
    """Each run the results wrote, as the last result that wrote it left it, with its state then
    (first written first)."""
    latest: dict[str, tuple[RunRecord, str]] = {}
    for result in results:
        for rec in result.runs:
            latest[rec.key.path] = (rec, result.served.model.state(rec))  # a key keeps its first place
    return list(latest.values())


def picture_name(run: RunRecord, prefix: str = "runresume") -> str:
    """``runresume-<project>-<run id>.html``, with characters unsafe in a file name replaced."""
    return _UNSAFE.sub("_", f"{prefix}-{run.key.project}-{run.key.run_id}")[:150] + ".html"


def write_pictures(
    results: Sequence[RunResult], directory: Path, note: str = "", prefix: str = "runresume"
) -> list[Path]:
    """Write the picture of every run ``results`` wrote into ``directory``; returns the files.

    Args:
        results: what the harness ran, in order (a later result's copy of a run wins).
        directory: where (created if missing).
        note: a line shown above each picture (e.g. the failed test's node id).
        prefix: the file names' prefix (a check's name, to keep checks apart in one directory).
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for rec, state in latest_runs(results):
        path = directory / picture_name(rec, prefix)
        path.write_text(run_document(rec, state, note), encoding="utf-8")
        paths.append(path)
    return paths
