"""End to end: resume="auto" without an id, through ``<WANDB_DIR>/wandb/wandb-resume.json``, with the
real wandb SDK (0.31.0) in real subprocesses against the fake backend (R09, R10, R11, R22)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

PROJECT = "m"


@pytest.fixture
def launch(e2e_launch):
    """Like ``e2e_launch``, and init must not fail."""

    def _launch(**kw: Any):
        result, out = e2e_launch(**kw)
        assert "error" not in out, result.report()
        return result, out

    return _launch


def resume_file(root: Path) -> Path:
    """Where the SDK keeps the auto-resume id for root dir ``root`` (R09)."""
    return root / "wandb" / "wandb-resume.json"


def read_resume_id(root: Path) -> str:
    return json.loads(resume_file(root).read_text())["run_id"]


@pytest.fixture
def failed_auto_run(runresume, launch):
    """A resume="auto" run without an id in ``runresume.workdir`` (= WANDB_DIR) that logs steps 0..2
    and exits 3: its id stays in the resume file (R09, R10). Returns the generated id."""
    result, out = launch(resume="auto", exit=3)
    result.expect(state="failed", exit_code=3)
    assert out["resumed"] is False and out["starting_step"] == 0
    assert result.run.key.run_id == out["id"]
    assert result.run.steps == [0, 1, 2]
    return out["id"]


@pytest.mark.rules("R09", "R10")
def test_R09_auto_without_id_writes_the_resume_file_in_wandb_dir(runresume, failed_auto_run):
    """R09/R10: auto with no id writes ``<WANDB_DIR>/wandb/wandb-resume.json`` with the run id, and a
    non-zero exit leaves it there."""
    assert resume_file(runresume.workdir).is_file()
    assert read_resume_id(runresume.workdir) == failed_auto_run


@pytest.mark.rules("R07", "R09", "R35")
def test_R09_rerun_in_the_same_dir_resumes_the_same_run(runresume, wandb_server, launch, failed_auto_run):
    """R09 (+R07, R35): a second auto run in the same dir reads the id back and resumes that run:
    resumed True, starting step 3, steps contiguous, one run with two attempts."""
    result, out = launch(resume="auto")
    assert out == {"id": failed_auto_run, "resumed": True, "starting_step": 3}, result.report()
    result.expect(state="finished", exit_code=0)
    rec = result.run
    assert rec.key.run_id == failed_auto_run
    assert rec.steps == [0, 1, 2, 3, 4, 5]
    assert [a.resumed for a in rec.attempts] == [False, True]
    assert len(wandb_server.model.runs) == 1


@pytest.mark.rules("R10")
def test_R10_clean_exit_deletes_the_resume_file(runresume, launch, failed_auto_run):
    """R10: the resume file is deleted when the (resumed) run ends with exit code 0."""
    result, out = launch(resume="auto")
    assert out["id"] == failed_auto_run and out["resumed"] is True
    result.expect(state="finished", exit_code=0)
    assert not resume_file(runresume.workdir).exists()


@pytest.mark.rules("R10")
def test_R10_clean_exit_of_a_fresh_auto_run_deletes_the_resume_file(runresume, launch):
    """R10: a fresh auto run that finishes with exit 0 leaves no resume file behind."""
    result, out = launch(resume="auto")
    result.expect(state="finished", exit_code=0)
    assert out["resumed"] is False
    assert not resume_file(runresume.workdir).exists()


@pytest.mark.rules("R10")
def test_R10_run_without_resume_in_the_same_dir_deletes_the_resume_file(runresume, launch, failed_auto_run):
    """R10: starting a run with resume unset in the same dir deletes the resume file; that run is a
    new one (not the auto id)."""
    result, out = launch(exit=3)
    assert out["resumed"] is False and out["id"] != failed_auto_run
    assert not resume_file(runresume.workdir).exists()


@pytest.mark.rules("R09", "R22")
def test_R22_auto_run_from_another_dir_does_not_resume(runresume, wandb_server, launch, failed_auto_run, tmp_path):
    """R09/R22: auto-resume is per directory. A run whose cwd and WANDB_DIR are another directory does
    not see the first resume file: a new id, not resumed, steps from 0; the first file is untouched."""
    other = tmp_path / "other"
    other.mkdir()
    result, out = launch(resume="auto", cwd=other, env={"WANDB_DIR": str(other)})
    assert out["id"] != failed_auto_run
    assert out["resumed"] is False and out["starting_step"] == 0
    result.expect(state="finished", exit_code=0)
    assert result.run.key.run_id == out["id"]
    assert result.run.steps == [0, 1, 2]
    assert len(wandb_server.model.run(f"{PROJECT}/{failed_auto_run}").attempts) == 1
    assert read_resume_id(runresume.workdir) == failed_auto_run
    assert len(wandb_server.model.runs) == 2


@pytest.mark.rules("R11")
def test_R11_explicit_id_wins_over_the_resume_file(runresume, wandb_server, launch, failed_auto_run):
    """R11: auto with an explicit id different from the file's: the explicit id is used (a new run,
    not resumed), the file's run is left alone, and the file now holds the explicit id. The SDK warns
    that the loaded id is ignored (checked by both ids only, the wording varies)."""
    result, out = launch(resume="auto", id="explicit11", exit=3)
    warning = [line for line in result.stderr.splitlines() if failed_auto_run in line]
    assert warning and "explicit11" in warning[0], result.report()
    assert out == {"id": "explicit11", "resumed": False, "starting_step": 0}, result.report()
    assert result.run.key.run_id == "explicit11"
    assert result.run.steps == [0, 1, 2]
    assert len(wandb_server.model.run(f"{PROJECT}/{failed_auto_run}").attempts) == 1
    assert read_resume_id(runresume.workdir) == "explicit11"
