"""Bad input on the wire: each gets a named error (never a 500), is recorded as a problem, leaves
the model as it was, and the server keeps serving the next request.

Covered here: malformed JSON, UpsertBucket variables of the wrong shape, invalid run ids (R31, A05),
file_stream bodies of the wrong shape, offsets that skip lines or point absurdly far, and bodies over
the size limit (plain, chunked, gzip bomb). Unknown operations, broken gzip and a file_stream for a
run that does not exist are in ``test_wire_graphql.py`` / ``test_wire_http.py``.
"""

from __future__ import annotations

import base64
import gzip
import json
import socket

import pytest
import requests

from pytest_runresume.model import messages
from pytest_runresume.wire import FakeServer
from pytest_runresume.wire.app import MAX_BODY, MAX_LINE_GAP

TIMEOUT = 10
UPSERT = (
    "mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String, $config: JSONString,"
    " $host: String, $tags: [String!], $summaryMetrics: JSONString, $notes: String) {"
    " upsertBucket(input: {id: $id, name: $name, modelName: $project, entityName: $entity, config: $config,"
    " host: $host, tags: $tags, summaryMetrics: $summaryMetrics, notes: $notes}) { bucket { id name } inserted } }"
)
GOOD = {
    "name": "run-a",
    "project": "proj",
    "config": json.dumps({"lr": {"value": 0.1}, "_wandb": {"value": {"t": {"1": [1]}}}}),
    "host": "h",
}
PATH = "testent/proj/run-a"


@pytest.fixture(scope="module")
def server():
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def served(server):
    """A fresh model; after the test, the server must still answer a plain request."""
    server.reset()
    yield server
    assert gql(server, "query Viewer { viewer { id } }", None).status_code == 200, "the server stopped serving"


def gql(served: FakeServer, query: str, variables: dict | None) -> requests.Response:
    return requests.post(
        f"{served.url}/graphql",
        json={"query": query, "variables": variables},
        auth=("api", served.api_key),
        timeout=TIMEOUT,
    )


def stream(served: FakeServer, body: object, path: str = PATH, **kw) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(
        f"{served.url}/files/{path}/file_stream", data=data, auth=("api", served.api_key), timeout=TIMEOUT, **kw
    )


def refused(r: requests.Response) -> str:
    """The GraphQL error text of a refused request (HTTP 200 + errors: the SDK does not retry it)."""
    assert r.status_code == 200, r.text
    body = r.json()
    assert body.get("data") is None and body["errors"], body
    return body["errors"][0]["message"]


def history(*steps: int) -> list[str]:
    return [json.dumps({"_step": s, "loss": 1.0}) for s in steps]


# ---- malformed JSON ----------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[1, 2", b""], ids=["broken", "not-utf8", "cut", "empty"])
def test_malformed_json_on_graphql_is_named(served, raw):
    r = requests.post(f"{served.url}/graphql", data=raw, auth=("api", served.api_key), timeout=TIMEOUT)
    text = refused(r)
    assert text.startswith("malformed request body for /graphql") or text.startswith("malformed GraphQL")
    assert served.model.problems == [text]


# ---- UpsertBucket variables that are not what the operation expects ----------------------------
@pytest.mark.parametrize(
    "change, named",
    [
        ({"config": "{nope"}, "variable config is not JSON"),
        ({"config": "[1, 2]"}, "variable config must be a JSON object"),
        ({"config": json.dumps({"_wandb": 3})}, "config key _wandb"),
        ({"config": json.dumps({"_wandb": {"value": [1]}})}, "config key _wandb"),
        ({"config": json.dumps({"_wandb": {"value": {"cli_version": "latest"}}})}, "config _wandb.cli_version"),
        ({"config": json.dumps({"_wandb": {"value": {"cli_version": 19}}})}, "config _wandb.cli_version"),
        ({"summaryMetrics": "[1]"}, "variable summaryMetrics must be a JSON object"),
        ({"summaryMetrics": "{x"}, "variable summaryMetrics is not JSON"),
        ({"tags": "abc"}, "variable tags must be a list of strings"),
        ({"tags": [1, 2]}, "variable tags must be a list of strings"),
        ({"project": 5}, "variable project must be a string"),
        ({"entity": ["e"]}, "variable entity must be a string"),
        ({"notes": {"a": 1}}, "variable notes must be a string"),
        ({"id": 7}, "variable id must be a string"),
    ],
    ids=lambda x: next(iter(x)) if isinstance(x, dict) else None,
)
def test_upsert_variables_of_the_wrong_shape_are_refused_naming_the_variable(served, change, named):
    """Nothing of a refused upsert reaches the model, and a later good upsert works (before this
    check, a config of ``[1, 2]`` was stored and every later RunResumeStatus answered 500)."""
    text = refused(gql(served, UPSERT, dict(GOOD, **change)))
    assert text.startswith("UpsertBucket: ") and named in text, text
    assert served.model.problems == [text]
    assert served.model.runs == {}
    assert "errors" not in gql(served, UPSERT, GOOD).json()


@pytest.mark.rules("R31")
@pytest.mark.parametrize(
    "run_id, why",
    [
        ("", "empty"),
        (" a", "whitespace"),
        ("a ", "whitespace"),
        *[(f"a{c}b", "reserved") for c in ":;,#?/'"],
        (5, "not a string"),
        (None, "not a string"),
    ],
)
def test_invalid_run_ids_are_a_graphql_error_naming_the_id(served, run_id, why):
    """R31/A05: the model's ``validate_run_id`` refuses the id; the wire answers a GraphQL error
    naming it (not a 500), and no run is created."""
    text = refused(gql(served, UPSERT, dict(GOOD, name=run_id)))
    assert text.startswith(f"UpsertBucket: bad run id {run_id!r}: "), text
    assert why in text
    assert served.model.runs == {}


# ---- file_stream bodies that are not what file_stream expects ----------------------------------
@pytest.mark.parametrize(
    "body, named",
    [
        ({"files": {"wandb-history.jsonl": {"offset": 0, "content": ["not json"]}}}, "line 0 is not a JSON object"),
        ({"files": {"wandb-history.jsonl": {"offset": 0, "content": ["[1]"]}}}, "line 0 is not a JSON object"),
        ({"files": {"wandb-events.jsonl": {"offset": 0, "content": ["1"]}}}, "wandb-events.jsonl line 0"),
        ({"files": {"wandb-summary.json": {"offset": 0, "content": ["{x"]}}}, "wandb-summary.json line 0"),
        ({"files": {"wandb-history.jsonl": {"offset": -3, "content": history(0)}}}, "offset: int >= 0"),
        ({"files": {"wandb-history.jsonl": {"offset": True, "content": history(0)}}}, "offset: int >= 0"),
        ({"files": {"wandb-history.jsonl": {"offset": 10**9, "content": history(0)}}}, "(max_line_gap)"),
        ({"complete": True, "exitcode": "0"}, "exitcode must be an integer"),
        ({"complete": "yes", "exitcode": 0}, "complete must be true or false"),
        ({"preempting": 1}, "preempting must be true or false"),
        ({"uploaded": "config.yaml"}, "uploaded must be a list of file names"),
        ({"uploaded": [1]}, "uploaded must be a list of file names"),
    ],
    ids=[
        "line-not-json",
        "line-not-object",
        "events-line",
        "summary-not-json",
        "negative-offset",
        "bool-offset",
        "absurd-offset",
        "exitcode-str",
        "complete-str",
        "preempting-int",
        "uploaded-str",
        "uploaded-ints",
    ],
)
def test_file_stream_bodies_of_the_wrong_shape_are_400_naming_the_field(served, body, named):
    """The whole request is refused before anything is applied: no line, no state change."""
    refused_ok = gql(served, UPSERT, GOOD)
    assert "errors" not in refused_ok.json()
    before = served.model.snapshot()
    r = stream(served, body)
    assert r.status_code == 400
    text = r.json()["error"]
    assert text.startswith(f"malformed request body for file_stream of {PATH}: ") and named in text, text
    assert served.model.problems == [text]
    after = served.model.snapshot()
    assert after["runs"][0]["history_lines"] == 0 and after["runs"][0]["state"] == before["runs"][0]["state"]
    assert stream(served, {"files": {"wandb-history.jsonl": {"offset": 0, "content": history(0)}}}).status_code == 200


@pytest.mark.rules("R36")
def test_offsets_that_skip_lines_are_kept_and_named(served):
    """R36: lines land at their offsets even after a gap (nothing is invented or dropped); the gap is
    a problem naming the missing lines."""
    gql(served, UPSERT, GOOD)
    assert stream(served, {"files": {"wandb-history.jsonl": {"offset": 0, "content": history(0, 1)}}}).ok
    assert stream(served, {"files": {"wandb-history.jsonl": {"offset": 5, "content": history(5)}}}).ok
    run = served.model.run(PATH)
    assert run.steps == [0, 1, None, None, None, 5]
    assert run.history_lines[2:5] == [None, None, None]
    assert served.model.problems == [
        messages.OFFSET_GAP.format(path=PATH, file="wandb-history.jsonl", offset=5, have=2, gap_end=4)
    ]


def test_the_largest_gap_allowed_is_kept(served):
    gql(served, UPSERT, GOOD)
    ok = stream(served, {"files": {"output.log": {"offset": MAX_LINE_GAP, "content": ["last"]}}})
    assert ok.status_code == 200
    assert len(served.model.run(PATH).files["output.log"]) == MAX_LINE_GAP + 1


# ---- huge payloads -----------------------------------------------------------------------------
@pytest.fixture
def small():
    """A server whose body limit is 4 KiB, so the limit is reached without sending megabytes."""
    with FakeServer() as srv:
        srv.app.max_body = 4096
        yield srv


def test_body_over_the_limit_is_413_naming_the_limit(small):
    r = stream(small, {"files": {"output.log": {"offset": 0, "content": ["x" * 5000]}}})
    assert r.status_code == 413
    text = messages.BODY_TOO_LARGE.format(method="POST", path=f"/files/{PATH}/file_stream", limit=4096)
    assert r.json()["error"] == text and "4096 bytes" in text
    assert small.model.problems == [text]
    assert gql(small, "query Viewer { viewer { id } }", None).status_code == 200


def test_chunked_body_over_the_limit_is_413(small):
    chunks = (b"x" * 1024 for _ in range(8))  # a generator: requests sends it chunked, no Content-Length
    r = requests.post(f"{small.url}/graphql", data=chunks, auth=("api", small.api_key), timeout=TIMEOUT)
    assert r.status_code == 413
    assert "4096 bytes" in r.json()["errors"][0]["message"]


def test_gzip_bomb_is_413_not_inflated(small):
    """A small gzip body that inflates past the limit is refused without inflating all of it."""
    bomb = gzip.compress(b'{"files": {"output.log": {"offset": 0, "content": ["' + b"x" * 1_000_000 + b'"]}}}')
    assert len(bomb) < 4096
    r = stream(small, bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413
    assert "after gzip decompression" in r.json()["error"]


def test_default_limit_is_checked_from_content_length_before_reading(served):
    """The default limit (MAX_BODY) is enforced from the header: nothing is read or buffered."""
    key = base64.b64encode(f"api:{served.api_key}".encode()).decode()
    with socket.create_connection(("127.0.0.1", served.port), timeout=TIMEOUT) as sock:
        sock.sendall(
            f"POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {key}\r\n"
            f"Content-Length: {MAX_BODY + 1}\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert f"{MAX_BODY} bytes".encode() in answer
    served.model.problems.clear()  # the fixture checks the server still serves; the 413 was expected
