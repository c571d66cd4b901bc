"""Server-side state rules with the real SDK: update_state (R52), Run.create (R53), stop -> killed
(R58), rewind (R47, R48) and fork (R44, R45). Where releases differ (docs/sdk-versions.md: no
``Run.update_state`` before 0.24, no ``Run.stop`` before 0.28, no ``Run.create(state=)`` before 0.20),
the tests check that the installed SDK lacks the call and reach the rule the way that release's
users do (:mod:`pytest_runresume.model.sdk_versions`)."""

from __future__ import annotations

import json
import textwrap
import threading
from pathlib import Path

import pytest

from pytest_runresume import Preemption, Trigger
from pytest_runresume.model import sdk_versions

LOGGER = """
    import json, os, signal, sys, time, wandb
    args = json.loads(sys.argv[1])
    def handler(signum, frame):
        wandb.run.mark_preempting()
        sys.exit(128 + signum)
    signal.signal(signal.SIGUSR1, handler)
    run = wandb.init(project="st", **args.get("init", {}))
    print(json.dumps({"id": run.id, "starting_step": run.starting_step, "resumed": run.resumed}), flush=True)
    for i in range(args.get("logs", 3)):
        run.log({"i": i})
        if args.get("slow"):
            time.sleep(0.05)  # the code under test logs slowly; the test itself waits on events only
    run.finish(exit_code=args.get("exit", 0))
"""

API = """
    import json, sys, wandb
    from wandb.apis.public import Run
    api = wandb.Api()
    out = {}
    for verb, path, arg in json.loads(sys.argv[1]):
        key = f"{verb} {path} {arg}".strip()
        try:
            if verb == "update_state":
                out[key] = api.run(path).update_state(arg)
            elif verb == "create":
                entity, project, run_id = path.split("/")
                out[key] = Run.create(api=api, project=project, entity=entity, state=arg, run_id=run_id).state
            elif verb == "state":
                out[key] = api.run(path).state
            elif verb == "stop":
                api.run(path).stop()
                out[key] = True
        except Exception as exc:
            out[key] = type(exc).__name__
    print(json.dumps(out))
"""


@pytest.fixture
def scripts(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "logger.py").write_text(textwrap.dedent(LOGGER))
    (tmp_path / "api.py").write_text(textwrap.dedent(API))
    return {"logger": str(tmp_path / "logger.py"), "api": str(tmp_path / "api.py")}


def log(runresume, scripts, **args):
    return runresume.run(["python", scripts["logger"], json.dumps(args)])


def api(runresume, scripts, *actions):
    result = runresume.run(["python", scripts["api"], json.dumps([list(a) for a in actions])])
    assert result.returncode == 0, result.report()
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.rules("R52")
def test_update_state_requeues_a_preempted_run_and_refuses_illegal_moves(runresume, scripts):
    """R52: preempted -> pending is allowed (to requeue); finished -> pending raises wandb.Error."""
    runresume.run(
        ["python", scripts["logger"], json.dumps({"init": {"id": "us1"}, "logs": 5})],
        preempt=Preemption("SIGUSR1", Trigger.at_step(1)),
    ).expect(state="preempted")
    log(runresume, scripts, init={"id": "us2"})
    out = api(
        runresume,
        scripts,
        ("update_state", "testent/st/us1", "pending"),
        ("update_state", "testent/st/us2", "pending"),
    )
    if not sdk_versions.has("run_update_state"):
        assert out == {
            "update_state testent/st/us1 pending": "AttributeError",
            "update_state testent/st/us2 pending": "AttributeError",
        }
        assert runresume.model.state(runresume.model.run("st/us1")) == "preempted"
        assert runresume.model.state(runresume.model.run("st/us2")) == "finished"
        return
    assert out["update_state testent/st/us1 pending"] is True
    assert out["update_state testent/st/us2 pending"] in ("CommError", "Error", "ValueError")
    assert runresume.model.state(runresume.model.run("st/us1")) == "pending"
    assert runresume.model.state(runresume.model.run("st/us2")) == "finished"
    assert runresume.model.problems == []  # a refused transition is the rule, not a problem


@pytest.mark.rules("R52")
def test_update_state_refusal_is_an_error_in_the_client(runresume, scripts):
    """R52: an illegal transition (finished -> failed) raises in the public API (an SDK without
    ``update_state`` raises AttributeError)."""
    log(runresume, scripts, init={"id": "us3"})
    out = api(runresume, scripts, ("update_state", "testent/st/us3", "failed"))
    refused = ("CommError", "Error", "ValueError") if sdk_versions.has("run_update_state") else ("AttributeError",)
    assert out["update_state testent/st/us3 failed"] in refused
    assert runresume.model.state(runresume.model.run("st/us3")) == "finished"


@pytest.mark.rules("R43", "R53")
def test_pending_run_created_through_the_api_then_started(runresume, scripts):
    """R53 + R43: Run.create(state='pending') is pending; resume='allow' starts it as a new run
    with that id (it does not count as existing), and then it is running/finished. Before 0.20
    ``Run.create`` takes no ``state`` (TypeError, nothing created): the pending run is made on the
    server side, as a scheduler that queues runs does."""
    out = api(runresume, scripts, ("create", "testent/st/pend1", "pending"), ("state", "testent/st/pend1", ""))
    if not sdk_versions.has("run_create_state"):
        assert out == {"create testent/st/pend1 pending": "TypeError", "state testent/st/pend1": "CommError"}
        assert runresume.model.get(None, "st", "pend1") is None
        runresume.model.create_run("pend1", project="st", state="pending")
        out = api(runresume, scripts, ("state", "testent/st/pend1", ""))
        assert out == {"state testent/st/pend1": "pending"}
    else:
        assert out == {"create testent/st/pend1 pending": "pending", "state testent/st/pend1": "pending"}
    result = log(runresume, scripts, init={"id": "pend1", "resume": "allow"})
    assert json.loads(result.stdout.splitlines()[0])["resumed"] is False
    result.expect(state="finished")


@pytest.mark.rules("R58")
def test_server_stop_ends_the_run_killed(runresume, scripts):
    """R58: the stop button (StopRun through the public API) -> the SDK raises KeyboardInterrupt in
    the run, reports exit code 255, and the run ends killed. An SDK without ``Run.stop`` (before 0.28)
    raises AttributeError there; the run is then stopped from the app (the fake's
    ``request_stop``), and the SDK obeys the same way."""
    model = runresume.model
    answers: list[dict] = []

    def stop_when_logging() -> None:
        model.wait_for(lambda: (r := model.get(None, "st", "stop1")) is not None and r.last_step is not None, 60)
        answers.append(api(runresume, scripts, ("stop", "testent/st/stop1", "")))
        if not sdk_versions.has("run_stop"):
            model.request_stop("st/stop1")

    stopper = threading.Thread(target=stop_when_logging)
    stopper.start()
    result = log(runresume, scripts, init={"id": "stop1"}, logs=2000, slow=True)
    stopper.join(timeout=60)
    assert answers == [{"stop testent/st/stop1": True if sdk_versions.has("run_stop") else "AttributeError"}]
    assert result.run.attempt.exit_code == 255
    result.expect(state="killed")
    assert result.run.last_step < 1999


@pytest.mark.rules("R47", "R48")
def test_rewind_cuts_history_back_and_resumes_after_the_step(runresume, scripts):
    """R47/R48: resume_from='<id>?_step=2' keeps the run id, cuts history to steps 0..2, archives
    the original, recomputes the summary, and the next step is 3."""
    log(runresume, scripts, init={"id": "rw1"}, logs=6)
    result = log(runresume, scripts, init={"resume_from": "rw1?_step=2"}, logs=2)
    info = json.loads(result.stdout.splitlines()[0])
    assert info["id"] == "rw1" and info["starting_step"] == 3
    run = runresume.model.run("st/rw1")
    assert run.steps == [0, 1, 2, 3, 4]
    assert [json.loads(line)["_step"] for line in run.archived[0]] == [0, 1, 2, 3, 4, 5]
    assert run.summary["i"] == 1  # from the newly logged history


@pytest.mark.rules("R44", "R45")
def test_fork_starts_a_new_run_after_the_fork_step(runresume, scripts):
    """R44/R45: fork_from='<src>?_step=2' creates a new run id starting at step 3; the source's
    history up to step 2 is shared (full_history), the source is untouched."""
    log(runresume, scripts, init={"id": "src1"}, logs=5)
    result = log(runresume, scripts, init={"id": "fork1", "fork_from": "src1?_step=2"}, logs=2)
    assert json.loads(result.stdout.splitlines()[0])["starting_step"] == 3
    fork = runresume.model.run("st/fork1")
    assert fork.fork_of == ("src1", 2)
    assert [row["_step"] for row in runresume.model.full_history(fork)] == [0, 1, 2, 3, 4]
    assert runresume.model.run("st/src1").steps == [0, 1, 2, 3, 4]
