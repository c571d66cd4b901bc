"""End to end: what the real wandb SDK (0.31.0, its Go wandb-core) does when the backend fails.

Faults are injected with ``wandb_server.faults`` (``pytest_runresume.wire.faults``). What is shown
(NOTES section 0 and 1.6):

- file_stream answered 500/502/429, or its connection dropped before or after the server applied
  it: the SDK retries, and the backend ends with every history row exactly once at its offset
  (``run.steps == list(range(N))``; a re-send of lines the server already holds changes nothing);
- ``UpsertBucket`` at init answered 409/500/502, dropped, or slow: retried, then the run goes on
  with one attempt;
- ``UpsertBucket`` answered 400/403 or a GraphQL error: ``wandb.init`` raises at once;
- ``UpsertBucket`` failing for good: ``wandb.init`` gives up after ``WANDB_INIT_TIMEOUT``.

The history is split into two batches at step 5 by the harness's step trigger (a harmless SIGCONT,
sent once the backend holds step 5); the faults hit the second history write (``skip=1``), so
re-sends are checked at an offset past 0: 6, or 1 when wandb-core sent the first six lines in two
writes (it does on a loaded machine: line 0 alone, then 1..5).
"""

from __future__ import annotations

import re
import textwrap
from itertools import pairwise

import pytest

from pytest_runresume import Preemption, Trigger

N = 12
HISTORY = "wandb-history.jsonl"

SCRIPT = """
    import sys, wandb

    try:
        run = wandb.init(project="faults", id=sys.argv[1])
    except Exception as exc:
        print(f"E2E-ERROR {type(exc).__name__}: {exc}", flush=True)
        sys.exit(1)
    for i in range(int(sys.argv[2])):
        run.log({"loss": 1.0 / (i + 1)})
    run.finish()
"""


@pytest.fixture
def train(runresume, tmp_path):
    """``train(run_id, env=None, split=True)`` -> RunResult of the script logging N steps (the
    harness sets the SDK's shortest retry wait: ``harness.sdk_env.retry_waits``)."""
    path = tmp_path / "train_faults.py"
    path.write_text(textwrap.dedent(SCRIPT))

    def _train(run_id: str, env: dict[str, str] | None = None, split: bool = True):
        split_at = Preemption(signal="SIGCONT", trigger=Trigger.at_step(5)) if split else None
        return runresume.run(["python", str(path), run_id, str(N)], preempt=split_at, env=env)

    return _train


def assert_every_row_once(result) -> None:
    """No loss, no duplicates: history line i holds step i, for every step the script logged."""
    result.expect(state="finished", exit_code=0)
    run = result.run
    assert run.steps == list(range(N)), result.report()
    assert [row["_step"] for row in run.history] == list(range(N))
    assert None not in run.history_lines


def history_ranges(run) -> list[tuple[int, int]]:
    """The (first, last) line index of every history write, in the order they arrived."""
    return [
        (int(m[1]), int(m[2]))
        for ev in run.timeline
        if ev.kind == "history" and (m := re.match(r"history lines (\d+)\.\.(\d+)", ev.detail))
    ]


# ---- file_stream: retried, every row exactly once ----------------------------------------------
@pytest.mark.rules("R36")
@pytest.mark.parametrize(
    "status, times, retry_after",
    [(500, 2, None), (502, 1, None), (429, 1, 1)],
    ids=["500x2", "502", "429-retry-after"],
)
def test_file_stream_errors_are_retried_and_no_row_is_lost_or_doubled(train, wandb_server, status, times, retry_after):
    """NOTES 1.6 ("non-2xx answers are retried"), R36: the failed history batches are re-sent at
    their offsets; the backend ends with each step once."""
    wandb_server.faults.fail(
        "file_stream", status=status, times=times, retry_after=retry_after, carrying=HISTORY, skip=1
    )
    result = train(f"fs-{status}")
    assert wandb_server.faults.count("file_stream", "fail") == times
    assert_every_row_once(result)
    statuses = [r.status for r in wandb_server.app.requests if r.operation == "file_stream"]
    assert statuses.count(status) == times and statuses[-1] == 200


@pytest.mark.rules("R36")
@pytest.mark.parametrize("after_handling", [False, True], ids=["before-handling", "after-handling"])
def test_dropped_file_stream_connection_is_retried_and_no_row_is_doubled(train, wandb_server, after_handling):
    """A connection closed without an answer is retried. After handling, the server already holds
    the lines when the SDK re-sends them: the same lines at the same offsets, held once (R36)."""
    wandb_server.faults.drop("file_stream", after_handling=after_handling, carrying=HISTORY, skip=1)
    result = train("fs-drop-after" if after_handling else "fs-drop")
    assert wandb_server.faults.count("file_stream", "drop") == 1
    assert_every_row_once(result)
    ranges = history_ranges(result.run)
    repeated = [r for before, r in pairwise(ranges) if r == before]
    if after_handling:  # held by the server, then re-sent at the same offset and held once
        assert len(repeated) == 1 and repeated[0][0] > 0, ranges  # a later write (skip=1), not line 0's
    else:  # never applied: the server logs the re-send only
        assert repeated == [], ranges


# ---- UpsertBucket at init: retried, then the run goes on ---------------------------------------
@pytest.mark.parametrize(
    "inject",
    [
        pytest.param(lambda f: f.fail("UpsertBucket", status=409), id="409"),
        pytest.param(lambda f: f.fail("UpsertBucket", status=500), id="500"),
        pytest.param(lambda f: f.fail("UpsertBucket", status=502), id="502"),
        pytest.param(lambda f: f.drop("UpsertBucket"), id="drop"),
        pytest.param(lambda f: f.delay("UpsertBucket", seconds=1.5, times=2), id="latency"),
    ],
)
def test_init_upsert_failures_are_retried_then_the_run_goes_on(train, wandb_server, inject):
    """NOTES section 0: 409 and 5xx (and a dropped connection) are retried with backoff; the run is
    then created once, with one attempt, and logs every step."""
    fault = inject(wandb_server.faults)
    result = train("init-retry", split=False)
    assert wandb_server.faults.count("UpsertBucket") == fault.times
    assert_every_row_once(result)
    assert len(result.run.attempts) == 1
    if fault.status is not None:
        statuses = [r.status for r in wandb_server.app.requests if r.operation == "UpsertBucket"]
        assert statuses[:2] == [fault.status, 200]


# ---- UpsertBucket refused: wandb.init raises at once --------------------------------------------
@pytest.mark.parametrize(
    "inject, error",
    [
        pytest.param(lambda f: f.fail("UpsertBucket", status=400, message="refused by test"), "CommError", id="400"),
        pytest.param(lambda f: f.fail("UpsertBucket", status=403, message="refused by test"), "CommError", id="403"),
        pytest.param(lambda f: f.graphql_error("UpsertBucket", "refused by test"), "Error", id="graphql-error"),
    ],
)
def test_refused_init_upsert_makes_wandb_init_raise_at_once(train, wandb_server, inject, error):
    """NOTES section 0: 400/403 and HTTP 200 with GraphQL errors are not retried: ``wandb.init``
    raises with the server's message, well before the init timeout, and no run exists."""
    inject(wandb_server.faults)
    result = train("init-refused", env={"WANDB_INIT_TIMEOUT": "60"}, split=False)
    line = next((x for x in result.stdout.splitlines() if x.startswith("E2E-ERROR ")), "")
    assert line.startswith(f"E2E-ERROR {error}: ") and "refused by test" in line, result.report()
    assert result.exit_code == 1
    assert wandb_server.faults.count("UpsertBucket") == 1, "the refusal was retried"
    assert result.duration < 30
    assert wandb_server.model.runs == {}


def test_init_upsert_failing_for_good_gives_up_after_the_init_timeout(train, wandb_server):
    """NOTES section 0: 5xx is retried until ``WANDB_INIT_TIMEOUT``, then ``wandb.init`` raises
    ``CommError: Timed out while retrying``."""
    wandb_server.faults.fail("UpsertBucket", status=500, times=None)
    result = train("init-give-up", env={"WANDB_INIT_TIMEOUT": "3"}, split=False)
    line = next((x for x in result.stdout.splitlines() if x.startswith("E2E-ERROR ")), "")
    assert line.startswith("E2E-ERROR CommError: ") and "500" in line, result.report()
    assert wandb_server.faults.count("UpsertBucket") >= 2, "the SDK did not retry"
    assert result.duration >= 3
    assert wandb_server.model.runs == {}
