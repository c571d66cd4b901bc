"""R36 on the wire: file_stream offsets continue across a resume and a retried post stores nothing twice.

wandb-core retries a file_stream POST that failed or timed out (NOTES 1.6: non-2xx is retried), so the
server can receive the very same body twice. Lines go at their ``offset``: the replay lands on the
lines it already wrote, with the same content, so nothing is duplicated and no problem is recorded.
A different line at an offset already written would be a rewrite, which R36 forbids: the fake
records it.
"""

from __future__ import annotations

import json

import pytest
import requests

from pytest_runresume.model import messages
from pytest_runresume.wire import FakeServer

TIMEOUT = 10
HISTORY = "wandb-history.jsonl"
EVENTS = "wandb-events.jsonl"
OUTPUT = "output.log"

INIT = """
mutation UpsertBucket ($id: String, $name: String, $project: String, $config: JSONString, $program: String) {
  upsertBucket(input: {id:$id,name:$name,modelName:$project,config:$config,jobProgram:$program}) {
    bucket { id historyLineCount } inserted
  }
}
"""
RESUME_STATUS = """
query RunResumeStatus ($project: String, $entity: String, $name: String!) {
  model(name:$project, entityName:$entity) { bucket(name:$name, missingOk:true) {
    id historyLineCount eventsLineCount logLineCount historyTail } }
}
"""
CONFIG = json.dumps({"_wandb": {"value": {"t": {"1": [1]}}}})


@pytest.fixture
def served(wandb_server: FakeServer) -> FakeServer:
    """The plugin's served fake, fresh for this test; it fails the test at teardown on any problem."""
    return wandb_server


def graphql(served: FakeServer, query: str, **variables) -> dict:
    r = requests.post(
        f"{served.url}/graphql",
        json={"query": query, "variables": variables},
        auth=("api", served.api_key),
        timeout=TIMEOUT,
    )
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    return r.json()["data"]


def init(served: FakeServer, storage_id: str | None = None) -> dict:
    """The init upsert of a process (with the run's storage id when it resumes)."""
    return graphql(served, INIT, id=storage_id, name="r36", project="p", config=CONFIG, program="t.py")["upsertBucket"]


def body(offsets: dict[str, int], *steps: int, complete: bool = False) -> bytes:
    """A file_stream body writing one history, events and output line per step at the given offsets."""
    files = {
        HISTORY: {
            "offset": offsets[HISTORY],
            "content": [json.dumps({"_step": s, "loss": 1 / (s + 1)}) for s in steps],
        },
        EVENTS: {"offset": offsets[EVENTS], "content": [json.dumps({"_runtime": s}) for s in steps]},
        OUTPUT: {"offset": offsets[OUTPUT], "content": [f"step {s}" for s in steps]},
    }
    out: dict = {"files": files}
    if complete:
        out.update(complete=True, exitcode=0)
    return json.dumps(out).encode()


def post(served: FakeServer, raw: bytes) -> requests.Response:
    r = requests.post(
        f"{served.url}/files/{served.model.entity}/p/r36/file_stream",
        data=raw,
        auth=("api", served.api_key),
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    return r


def counts(served: FakeServer) -> dict[str, int]:
    run = served.model.run("p/r36")
    return {name: len(run.files[name]) for name in (HISTORY, EVENTS, OUTPUT)}


@pytest.mark.rules("R36")
def test_r36_a_retried_post_with_the_same_offset_stores_no_duplicate(served):
    """R36: the same body posted twice (a retry) leaves each line once; no problem recorded."""
    init(served)
    first = body({HISTORY: 0, EVENTS: 0, OUTPUT: 0}, 0, 1)
    post(served, first)
    post(served, first)
    assert counts(served) == {HISTORY: 2, EVENTS: 2, OUTPUT: 2}
    assert served.model.run("p/r36").steps == [0, 1]
    assert served.model.problems == []


@pytest.mark.rules("R36")
def test_r36_a_late_retry_of_an_older_chunk_changes_nothing(served):
    """R36: a retry of chunk 1 arriving after chunk 2 was stored rewrites nothing and appends nothing."""
    init(served)
    first = body({HISTORY: 0, EVENTS: 0, OUTPUT: 0}, 0, 1)
    post(served, first)
    post(served, body({HISTORY: 2, EVENTS: 2, OUTPUT: 2}, 2))
    post(served, first)
    assert counts(served) == {HISTORY: 3, EVENTS: 3, OUTPUT: 3}
    assert served.model.run("p/r36").steps == [0, 1, 2]
    assert served.model.problems == []


@pytest.mark.rules("R35", "R36")
def test_r36_resumed_process_continues_at_the_line_counts_and_its_retry_is_harmless(served):
    """R35/R36: RunResumeStatus reports the line counts; the resumed process writes there (appended,
    the old lines untouched), its retried post adds nothing, and a retried final post is one exit."""
    storage_id = init(served)["bucket"]["id"]
    post(served, body({HISTORY: 0, EVENTS: 0, OUTPUT: 0}, 0, 1, 2, complete=True))
    before = list(served.model.run("p/r36").history_lines)

    bucket = graphql(served, RESUME_STATUS, project="p", entity=None, name="r36")["model"]["bucket"]
    assert (bucket["historyLineCount"], bucket["eventsLineCount"], bucket["logLineCount"]) == (3, 3, 3)
    assert json.loads(json.loads(bucket["historyTail"])[-1])["_step"] == 2  # starting step 3 (R35)
    init(served, storage_id)
    offsets = {HISTORY: 3, EVENTS: 3, OUTPUT: 3}
    post(served, body(offsets, 3, 4))
    post(served, body(offsets, 3, 4))
    final = body({HISTORY: 5, EVENTS: 5, OUTPUT: 5}, 5, complete=True)
    post(served, final)
    post(served, final)

    run = served.model.run("p/r36")
    assert counts(served) == {HISTORY: 6, EVENTS: 6, OUTPUT: 6}
    assert run.steps == [0, 1, 2, 3, 4, 5]
    assert run.history_lines[:3] == before
    assert [(a.resumed, a.start_line, a.exit_code) for a in run.attempts] == [(False, 0, 0), (True, 3, 0)]
    assert served.model.state(run) == "finished"
    assert served.model.problems == []


@pytest.mark.rules("R36")
def test_r36_a_different_line_at_a_written_offset_is_a_recorded_rewrite(served):
    """R36 (history is appended, never rewritten): a post that puts other content at an offset already
    written is answered 200 like any post, and recorded as a problem naming the file and the line."""
    init(served)
    post(served, body({HISTORY: 0, EVENTS: 0, OUTPUT: 0}, 0, 1))
    post(served, body({HISTORY: 1, EVENTS: 2, OUTPUT: 2}, 7))
    run = served.model.run("p/r36")
    assert served.model.problems == [messages.LINE_REWRITTEN.format(path=run.key.path, index=1, file=HISTORY)]
    served.model.problems.clear()  # expected here; the fixture fails a test on any problem left
