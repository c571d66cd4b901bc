"""End to end: the real wandb SDK (0.31.0) in real subprocesses against the fake backend, for the
resume matrix (R01-R08), ``resume=True`` (R13), an existing id without resume (R14, A02), mutual
exclusion of branching args (R15), the environment variables and their precedence (R18, R19), run-id
validation (R31) and pre-created pending runs (R43).

Error texts differ between SDK versions (NOTES 5): errors are matched on the exception class name
and on the run id only. Where releases differ (docs/sdk-versions.md), the tests expect what the
installed one does (:mod:`pytest_runresume.model.sdk_versions`).
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_runresume.model import sdk_versions

PROJECT = "m"


@pytest.fixture
def launch(e2e_launch):
    return e2e_launch


def backend_run(wandb_server, run_id: str):
    return wandb_server.model.get(None, PROJECT, run_id)


def seed(launch, run_id: str) -> None:
    """A run that really exists (started by the SDK, so its config has ``_wandb.t``, R43): steps 0..2."""
    result, out = launch(id=run_id)
    assert out == {"id": run_id, "resumed": False, "starting_step": 0}, result.report()
    result.expect(state="finished", exit_code=0)
    assert result.run.steps == [0, 1, 2]


def assert_resumed(wandb_server, result, out: dict[str, Any], run_id: str) -> None:
    """Resumed: same id, ``resumed`` True (R41), first step = last step + 1 (R35), history appended and
    contiguous (R36), a second attempt marked resumed, and still exactly one run."""
    assert out == {"id": run_id, "resumed": True, "starting_step": 3}, result.report()
    result.expect(state="finished", exit_code=0)
    rec = result.run
    assert rec.key.run_id == run_id
    assert rec.steps == [0, 1, 2, 3, 4, 5]
    assert [a.resumed for a in rec.attempts] == [False, True]
    assert len(wandb_server.model.runs) == 1


def assert_new_run(wandb_server, result, out: dict[str, Any], run_id: str) -> None:
    """A new run with exactly that id: not resumed, steps from 0, one attempt, one run."""
    assert out == {"id": run_id, "resumed": False, "starting_step": 0}, result.report()
    result.expect(state="finished", exit_code=0)
    rec = result.run
    assert rec.key.run_id == run_id
    assert rec.steps == [0, 1, 2]
    assert [a.resumed for a in rec.attempts] == [False]
    assert len(wandb_server.model.runs) == 1


def assert_usage_error(result, out: dict[str, Any], run_id: str) -> None:
    """init raised ``wandb.errors.UsageError`` naming the run id; the process exited non-zero."""
    assert out.get("error") == "UsageError", result.report()
    assert run_id in out["message"], out["message"]
    assert result.exit_code != 0
    assert result.runs == [], "an init that raised must not start an attempt on any run"


def clear_refused_init_leftovers(
    wandb_server, run_id: str, refused: tuple[str, ...] = (), reached_server: bool = True
) -> None:
    """After a refused init, the fake saw exactly the requests this SDK still sends, then clears them.

    Before 0.22 the SDK asks ``CreateRunFiles`` for the run it never made (fact
    ``no_run_files_after_refused_init``, R02) once init reached the server (``reached_server``;
    an id the client itself refuses sends nothing); ``refused`` names the other operations expected
    to be refused for ``run_id`` (``UpsertBucket`` of a bad id before 0.21, R31). Every problem
    names the id.
    """
    problems = wandb_server.model.problems
    late = () if sdk_versions.has("no_run_files_after_refused_init") or not reached_server else ("CreateRunFiles",)
    assert {p.split(":")[0] for p in problems} == {*refused, *late}, problems
    assert all(run_id in p for p in problems), problems
    problems.clear()


# ---- the matrix: must/allow/never/auto x exists or not (R01-R08) -----------------------------------


@pytest.mark.rules("R01", "R03", "R07", "R35", "R36")
@pytest.mark.parametrize(
    "mode, rule", [("must", "R01"), ("allow", "R03"), ("auto", "R07")], ids=["R01-must", "R03-allow", "R07-auto"]
)
def test_R01_R03_R07_existing_run_is_resumed_from_last_step(launch, wandb_server, mode, rule):
    """R01/R03/R07: must, allow and auto with an existing id resume that run; logging continues at
    last step + 1 (R35) and the history is appended (R36)."""
    run_id = f"ex-{mode}"
    seed(launch, run_id)
    result, out = launch(id=run_id, resume=mode)
    assert_resumed(wandb_server, result, out, run_id)


@pytest.mark.rules("R04", "R06", "R08")
@pytest.mark.parametrize(
    "mode, rule", [("allow", "R04"), ("never", "R06"), ("auto", "R08")], ids=["R04-allow", "R06-never", "R08-auto"]
)
def test_R04_R06_R08_missing_run_is_created_with_that_id(launch, wandb_server, mode, rule):
    """R04/R06/R08: allow, never and auto with an unknown id create a new run with exactly that id."""
    run_id = f"new-{mode}"
    result, out = launch(id=run_id, resume=mode)
    assert_new_run(wandb_server, result, out, run_id)


@pytest.mark.rules("R02")
def test_R02_must_with_missing_run_raises_and_creates_nothing(launch, wandb_server):
    """R02: resume="must" with an unknown id raises UsageError naming the id; no run is created at all."""
    result, out = launch(id="nosuch1", resume="must")
    assert_usage_error(result, out, "nosuch1")
    assert backend_run(wandb_server, "nosuch1") is None
    assert len(wandb_server.model.runs) == 0
    clear_refused_init_leftovers(wandb_server, "nosuch1")


@pytest.mark.rules("R05")
def test_R05_never_with_existing_run_raises_and_leaves_it_alone(launch, wandb_server):
    """R05: resume="never" with an existing id raises UsageError naming the id; the run gets no new
    attempt and no new history, and no other run is created."""
    seed(launch, "exists5")
    result, out = launch(id="exists5", resume="never")
    assert_usage_error(result, out, "exists5")
    rec = backend_run(wandb_server, "exists5")
    assert len(rec.attempts) == 1
    assert rec.steps == [0, 1, 2]
    assert len(wandb_server.model.runs) == 1
    assert wandb_server.model.state(rec) == "finished"


# ---- resume=True (R13) ------------------------------------------------------------------------------


@pytest.mark.rules("R07", "R13")
def test_R13_resume_true_resumes_an_existing_run_like_auto(launch, wandb_server):
    """R13: resume=True is "auto": an existing id is resumed from its last step (R07)."""
    seed(launch, "true13")
    result, out = launch(id="true13", resume=True)
    assert_resumed(wandb_server, result, out, "true13")


@pytest.mark.rules("R08", "R13")
def test_R13_resume_true_creates_a_missing_run_like_auto(launch, wandb_server):
    """R13: resume=True is "auto": an unknown id becomes a new run with that id (R08), no error."""
    result, out = launch(id="true13n", resume=True)
    assert_new_run(wandb_server, result, out, "true13n")


# ---- an existing id without resume (R14, A02) -------------------------------------------------------


@pytest.mark.rules("R14")
def test_R14_existing_id_without_resume_appends_history_with_steps_from_zero(launch, wandb_server):
    """R14/A02: resume unset and an existing id: no check, no error; the run is not resumed, steps
    restart at 0 and the new lines are appended after the old ones; two attempts on one run."""
    seed(launch, "plain14")
    result, out = launch(id="plain14")
    assert out == {"id": "plain14", "resumed": False, "starting_step": 0}, result.report()
    result.expect(state="finished", exit_code=0, allow=["not-resumed", "w&b-steps-repeated"])  # R14 on purpose
    assert {f.code for f in result.findings} == {"not-resumed", "w&b-steps-repeated"}
    rec = result.run
    assert rec.steps == [0, 1, 2, 0, 1, 2]
    assert [row["i"] for row in rec.history] == [0, 1, 2, 0, 1, 2]
    assert len(rec.attempts) == 2
    assert rec.attempts[-1].resumed is False
    assert len(wandb_server.model.runs) == 1


# ---- resume with fork_from / resume_from (R15) ------------------------------------------------------


@pytest.mark.rules("R15")
@pytest.mark.parametrize("branch", ["fork_from", "resume_from"])
def test_R15_resume_with_fork_from_or_resume_from_is_a_usage_error(launch, wandb_server, branch):
    """R15: resume together with fork_from or resume_from is rejected by the client before any request.

    SDK 0.31.0 raises it from its settings model as pydantic's ``ValidationError`` (a ``ValueError``),
    not as ``wandb.errors.UsageError``; the class is checked, not the wording. No id is passed, so the
    mutual-exclusion check is what fails (with ``id`` different from the ``resume_from`` run, a
    different ValidationError comes first)."""
    seed(launch, "src15")
    result, out = launch(resume="allow", init={branch: "src15?_step=1"})
    assert out.get("error") == "ValidationError", result.report()
    assert result.exit_code != 0
    assert result.runs == []
    assert len(wandb_server.model.runs) == 1
    assert len(backend_run(wandb_server, "src15").attempts) == 1


# ---- environment variables (R18) and their precedence (R19) -----------------------------------------


@pytest.mark.rules("R18")
def test_R18_env_resume_must_and_run_id_resume_an_existing_run(launch, wandb_server):
    """R18: WANDB_RESUME=must with WANDB_RUN_ID=<existing> resumes that run, no init arguments."""
    seed(launch, "env18")
    result, out = launch(env={"WANDB_RESUME": "must", "WANDB_RUN_ID": "env18"})
    assert_resumed(wandb_server, result, out, "env18")


@pytest.mark.rules("R02", "R18")
def test_R18_env_resume_must_with_a_missing_run_id_raises(launch, wandb_server):
    """R18 + R02: WANDB_RESUME=must with WANDB_RUN_ID=<unknown> raises UsageError naming the id."""
    result, out = launch(env={"WANDB_RESUME": "must", "WANDB_RUN_ID": "envmiss18"})
    assert_usage_error(result, out, "envmiss18")
    assert len(wandb_server.model.runs) == 0
    clear_refused_init_leftovers(wandb_server, "envmiss18")


@pytest.mark.rules("R18")
def test_R18_env_run_id_alone_names_the_new_run(launch, wandb_server):
    """R18: WANDB_RUN_ID alone sets the id of a new run."""
    result, out = launch(env={"WANDB_RUN_ID": "envid18"})
    assert_new_run(wandb_server, result, out, "envid18")


@pytest.mark.rules("R05", "R19")
def test_R19_resume_argument_overrides_env_resume(launch, wandb_server):
    """R19: WANDB_RESUME=allow in the env but resume="never" as argument, existing id -> the argument
    wins: UsageError (R05), no new attempt."""
    seed(launch, "prec19")
    result, out = launch(id="prec19", resume="never", env={"WANDB_RESUME": "allow"})
    assert_usage_error(result, out, "prec19")
    assert len(backend_run(wandb_server, "prec19").attempts) == 1


@pytest.mark.rules("R19")
def test_R19_resume_argument_must_overrides_env_never(launch, wandb_server):
    """R19: WANDB_RESUME=never in the env but resume="must" as argument, existing id -> resumed."""
    seed(launch, "prec19b")
    result, out = launch(id="prec19b", resume="must", env={"WANDB_RESUME": "never"})
    assert_resumed(wandb_server, result, out, "prec19b")


@pytest.mark.rules("R19")
def test_R19_id_argument_overrides_env_run_id(launch, wandb_server):
    """R19: WANDB_RUN_ID=<a> in the env but id=<b> as argument -> the run is <b>; <a> never exists."""
    result, out = launch(id="arg19", resume="allow", env={"WANDB_RUN_ID": "env19"})
    assert_new_run(wandb_server, result, out, "arg19")
    assert backend_run(wandb_server, "env19") is None


# ---- pre-created pending runs count as missing (R43) ------------------------------------------------


@pytest.mark.rules("R43")
def test_R43_pending_run_counts_as_missing_for_must(launch, wandb_server):
    """R43: a run created ahead of time (pending, no _wandb.t) does not exist for resume: must raises
    UsageError naming the id, and the pending run gets no attempt."""
    wandb_server.model.create_run("pend1", project=PROJECT)
    result, out = launch(id="pend1", resume="must")
    assert_usage_error(result, out, "pend1")
    rec = backend_run(wandb_server, "pend1")
    assert rec.attempts == []
    assert wandb_server.model.state(rec) == "pending"


@pytest.mark.rules("R43")
def test_R43_pending_run_is_started_as_a_new_run_by_allow(launch, wandb_server):
    """R43: allow on a pending run takes the new-run path with that id: resumed False, steps from 0."""
    wandb_server.model.create_run("pend1", project=PROJECT)
    result, out = launch(id="pend1", resume="allow")
    assert_new_run(wandb_server, result, out, "pend1")


# ---- invalid run ids are rejected client-side (R31) -------------------------------------------------


@pytest.mark.rules("R31")
@pytest.mark.parametrize("run_id", ["bad/id", "bad:id"], ids=["slash", "colon"])
def test_R31_invalid_run_id_is_rejected_before_any_run_is_created(launch, wandb_server, run_id):
    """R31/A05: an id with a reserved character ('/' or ':') raises UsageError in the client; the
    backend never sees a run. (SDK 0.31.0's message lists the reserved characters, not the id, so
    only the class is checked.) Before 0.21 the SDK sends the id (fact ``run_id_checked_in_client``):
    the fake refuses ``UpsertBucket`` as the server does, init raises ``CommError`` and still no run
    exists."""
    result, out = launch(id=run_id, resume="allow")
    checked = sdk_versions.has("run_id_checked_in_client")
    assert out.get("error") == ("UsageError" if checked else "CommError"), result.report()
    assert result.exit_code != 0
    assert result.runs == []
    assert len(wandb_server.model.runs) == 0
    clear_refused_init_leftovers(
        wandb_server, run_id, () if checked else ("UpsertBucket",), reached_server=not checked
    )
