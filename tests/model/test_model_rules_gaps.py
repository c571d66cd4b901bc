"""Unit tests of server rules closed late: deletion and undeletion (R25, R26), renaming (R30), a crashed
run that is heard again (R64) and runs of a cancelled sweep (R59). Every backend runs on a
:class:`ManualClock`; nothing sleeps.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_runresume.model import FileChunk, ManualClock, Model, RunKey, RunUpsert, messages
from pytest_runresume.model.errors import RuleViolation
from pytest_runresume.model.lifecycle import UNDELETE_WINDOW
from pytest_runresume.wire.graphql import Context, execute

TIMEOUT = 300.0
DAY = 86400.0
CONFIG = json.dumps({"_wandb": {"value": {"t": {"1": [1]}}}})
KEY = RunKey("ent", "proj", "gap-a")


@pytest.fixture
def model() -> Model:
    """Default entity ``ent``, a 300 s crash timeout, a :class:`ManualClock` (``advance_clock``)."""
    return Model(entity="ent", clock=ManualClock(start=1_000_000.0), crash_timeout=TIMEOUT)


def _init(model: Model, run_id: str = "gap-a", **extra: Any):
    fields: dict[str, Any] = {"name": run_id, "project": "proj", "host": "node-1", "program": "t.py"}
    fields["config"] = CONFIG
    fields.update(extra)
    return model.upsert_run(RunUpsert.from_variables(fields))


def _log(model: Model, step: int, key: RunKey = KEY, **kw: Any) -> None:
    line = json.dumps({"_step": step, "loss": 1.0 / (step + 1)})
    model.file_stream(key, {"wandb-history.jsonl": FileChunk(step, [line])}, **kw)


# ---- R25, R26: deletion ------------------------------------------------------------------------------


@pytest.mark.rules("R24", "R25")
def test_R25_deleted_run_is_hidden_and_its_id_cannot_be_reused(model: Model) -> None:
    """R25: after delete the run is gone from lookups and RunResumeStatus; an init upsert for the same
    id (with or without a process) is refused with RUN_DELETED, and nothing is created."""
    rec, _ = _init(model)
    _log(model, 0, complete=True, exit_code=0)
    assert model.delete("ent/proj/gap-a") is rec
    assert model.get("ent", "proj", "gap-a") is None
    assert model.resume_status("ent", "proj", "gap-a") is None
    assert model.is_deleted("ent", "proj", "gap-a")
    with pytest.raises(KeyError):
        model.run("ent/proj/gap-a")
    with pytest.raises(RuleViolation) as exc:
        _init(model)
    assert exc.value.args[0] == messages.RUN_DELETED.format(path=KEY.path)
    with pytest.raises(RuleViolation):
        model.create_run("gap-a", project="proj")
    assert model.get("ent", "proj", "gap-a") is None
    # the same id in another project is another run (R24) and is not affected
    other, inserted = _init(model, project="other")
    assert inserted and other.key.project == "other"


@pytest.mark.rules("R25")
def test_R25_delete_runs_through_the_DeleteRun_mutation(model: Model) -> None:
    """R25 on the wire: ``DeleteRun`` (what ``wandb.Api().run(path).delete()`` sends) deletes by storage
    id; a later UpsertBucket for that id is answered with a GraphQL error that names R25."""
    from pytest_runresume.wire.graphql import GraphQLRequestError

    rec, _ = _init(model)
    ctx = Context(model, "http://127.0.0.1:1")
    doc = "mutation DeleteRun($id: ID!) { deleteRun(input: {id: $id}) { clientMutationId } }"
    assert execute(ctx, doc, {"id": rec.storage_id, "deleteArtifacts": False}, None) == {
        "deleteRun": {"clientMutationId": None}
    }
    assert model.is_deleted("ent", "proj", "gap-a")
    upsert = "mutation UpsertBucket($name: String) { upsertBucket(input: {name: $name}) { inserted } }"
    with pytest.raises(GraphQLRequestError) as exc:
        execute(ctx, upsert, {"name": "gap-a", "project": "proj", "host": "h"}, None)
    assert "R25" in str(exc.value) and exc.value.problem is False


@pytest.mark.rules("R26")
def test_R26_undelete_within_seven_days_restores_the_run(model: Model) -> None:
    """R26: undelete 7 days (to the second) after deletion brings back the same run with its history; it
    can be resumed again (its id is usable)."""
    rec, _ = _init(model)
    _log(model, 0)
    _log(model, 1, complete=True, exit_code=0)
    model.delete("ent/proj/gap-a")
    model.advance_clock(UNDELETE_WINDOW)
    assert UNDELETE_WINDOW == 7 * DAY
    assert model.undelete("proj/gap-a") is rec
    assert not model.is_deleted("ent", "proj", "gap-a")
    assert model.run("ent/proj/gap-a").steps == [0, 1]
    again, inserted = _init(model, id=rec.storage_id)
    assert again is rec and not inserted and len(rec.attempts) == 2


@pytest.mark.rules("R26")
def test_R26_undelete_after_seven_days_is_refused(model: Model) -> None:
    """R26: past the 7 days the undelete is refused (UNDELETE_EXPIRED) and the run stays deleted; a
    path that was never deleted is a KeyError naming it."""
    _init(model)
    model.delete("ent/proj/gap-a")
    model.advance_clock(UNDELETE_WINDOW + 1)
    with pytest.raises(RuleViolation, match="R26"):
        model.undelete("ent/proj/gap-a")
    assert model.is_deleted("ent", "proj", "gap-a")
    with pytest.raises(KeyError, match="gap-b"):
        model.undelete("ent/proj/gap-b")


# ---- R30: renaming -------------------------------------------------------------------------------------


@pytest.mark.rules("R30")
def test_R30_public_api_update_renames_by_storage_id_and_keeps_the_id(model: Model) -> None:
    """R30: ``run.name = "x"; run.update()`` sends UpsertBucket with the storage ``id`` and
    ``display_name`` (here without ``name``, as its summary update does): the display name changes,
    the run id, its attempts and history do not."""
    rec, _ = _init(model, displayName="first")
    _log(model, 0)
    ctx = Context(model, "http://127.0.0.1:1")
    doc = (
        "mutation UpsertBucket($id: String!, $display_name: String) {"
        " upsertBucket(input: {id: $id, displayName: $display_name}) { bucket { id } } }"
    )
    data = execute(ctx, doc, {"id": rec.storage_id, "display_name": "renamed", "config": CONFIG}, None)
    bucket = data["upsertBucket"]["bucket"]
    assert (bucket["name"], bucket["displayName"], bucket["id"]) == ("gap-a", "renamed", rec.storage_id)
    assert rec.display_name == "renamed" and rec.key == KEY
    assert len(model.runs) == 1 and len(rec.attempts) == 1 and rec.steps == [0]


# ---- R64: a crashed run heard again --------------------------------------------------------------------


@pytest.mark.rules("R64")
def test_R64_crashed_run_heard_again_runs_and_then_finishes(model: Model) -> None:
    """R64: silent past the crash timeout the run is crashed; the same process (no new attempt) sends
    data again (what ``wandb sync`` does) -> running, the data is kept, and its complete with exit 0
    makes it finished."""
    rec, _ = _init(model)
    _log(model, 0)
    model.advance_clock(TIMEOUT)
    assert model.state(rec) == "crashed"
    _log(model, 1)
    assert model.state(rec) == "running"
    _log(model, 2, complete=True, exit_code=0)
    assert model.state(rec) == "finished"
    assert rec.steps == [0, 1, 2] and len(rec.attempts) == 1 and model.problems == []


# ---- R59: cancelling a sweep kills its running runs ---------------------------------------------------

SWEEP = """
method: grid
program: train.py
parameters:
  lr:
    values: [0.1, 0.01]
"""


def _sweep_run(model: Model):
    sweep = model.sweeps.create(SWEEP, project="sp")
    agent = model.sweeps.create_agent(sweep.entity, sweep.project, sweep.name, "host-1").id
    (cmd,) = model.sweeps.heartbeat(agent, {})
    rid = cmd["run_id"]
    model.upsert_run(
        RunUpsert.from_variables(
            {"name": rid, "entity": sweep.entity, "project": "sp", "host": "host-1", "sweep": sweep.name}
        )
    )
    rec = model.get(sweep.entity, "sp", rid)
    assert rec is not None
    return sweep, rec


@pytest.mark.rules("R59")
def test_R59_cancelled_sweep_run_that_falls_silent_is_killed(model: Model) -> None:
    """R59: cancel the sweep while its run trains; the agent SIGKILLs it (no exit report), so after the
    crash timeout the run is killed, not crashed, and not requeued."""
    sweep, rec = _sweep_run(model)
    model.sweeps.set_state(sweep, "CANCELED")
    assert model.state(rec) == "running"
    model.advance_clock(TIMEOUT)
    assert model.state(rec) == "killed"
    assert not sweep.queue


@pytest.mark.rules("R59")
@pytest.mark.parametrize("action", ["PAUSED", "FINISHED"])
def test_R59_pausing_or_stopping_leaves_running_runs_alone(model: Model, action: str) -> None:
    """R59: pausing or stopping (``--stop`` writes FINISHED) does not touch a running run: it keeps
    running, finishes when it exits 0, and a run of such a sweep that falls silent is crashed, not
    killed."""
    sweep, rec = _sweep_run(model)
    model.sweeps.set_state(sweep, action)
    model.advance_clock(TIMEOUT - 1)
    assert model.state(rec) == "running"
    model.advance_clock(1)
    assert model.state(rec) == "crashed"
    model.file_stream(rec.key, {}, complete=True, exit_code=0)
    assert model.state(rec) == "finished"
