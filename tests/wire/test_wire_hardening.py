"""Hardening of the served fake (issue 14): every finding of the attack run, each with the status,
the error's name and text, and proof that nothing changed.

- no 500s, nothing half-applied: deep JSON, non-finite numbers in fork steps, RewindRun and clock
  moves, huge offsets on any file, a last-resort handler;
- bounded resources: gaps per file (all gaps together), stored bytes per run and per server, the
  number of runs, the request log, decompression per request and at once, GraphQL documents, read
  timeouts and a cap on connections;
- every request authenticated except the health probe and the run page on loopback; uploads by a
  signature in their URL; keyless requests change nothing and are not problems.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.test import Client

from pytest_runresume.model import Limits, Model, messages
from pytest_runresume.wire import FakeServer, FakeWandbApp
from pytest_runresume.wire.limits import WireLimits

TIMEOUT = 10
UPSERT = (
    "mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String, $config: JSONString,"
    " $host: String) { upsertBucket(input: {id: $id, name: $name, modelName: $project, entityName: $entity,"
    " config: $config, host: $host}) { bucket { id name } inserted } }"
)
REWIND = (
    "mutation RewindRun($runName: String!, $entity: String, $project: String, $metricName: String!,"
    " $metricValue: Float!) { rewindRun(runName: $runName, entityName: $entity, projectName: $project,"
    " metricName: $metricName, metricValue: $metricValue) { rewoundRun { id } } }"
)
CREATE_RUN_FILES = (
    "mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {"
    " createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run, files: $files}) {"
    " runID uploadHeaders files { name uploadUrl } } }"
)
PATH = "testent/proj/run-a"


def config(**wandb_value: Any) -> str:
    return json.dumps({"lr": {"value": 0.1}, "_wandb": {"value": {"t": {"1": [1]}, **wandb_value}}})


GOOD = {"name": "run-a", "project": "proj", "config": config(), "host": "h"}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def served(server: FakeServer) -> FakeServer:
    server.reset()
    return server


def served_with(limits: Limits | None = None, wire: WireLimits | None = None) -> FakeServer:
    return FakeServer(Model(limits=limits), limits=wire)


def auth(served: FakeServer) -> tuple[str, str]:
    return ("api", served.api_key)


def post(served: FakeServer, path: str, data: bytes, **kw: Any) -> requests.Response:
    kw.setdefault("auth", auth(served))
    return requests.post(f"{served.url}{path}", data=data, timeout=TIMEOUT, **kw)


def gql(served: FakeServer, query: str, variables: Any = None, **kw: Any) -> requests.Response:
    return post(served, "/graphql", json.dumps({"query": query, "variables": variables}).encode(), **kw)


def stream(served: FakeServer, body: Any, path: str = PATH, **kw: Any) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return post(served, f"/files/{path}/file_stream", data, **kw)


def refused(r: requests.Response) -> str:
    """The text of a GraphQL error (HTTP 200 + errors, which the SDK does not retry)."""
    assert r.status_code == 200, r.text
    body = r.json()
    assert body.get("data") is None and body["errors"], body
    return body["errors"][0]["message"]


def start_run(served: FakeServer) -> None:
    assert "errors" not in gql(served, UPSERT, GOOD).json()


def fingerprint(served: FakeServer) -> str:
    """Everything a refused request must leave as it was (the model's view of every run)."""
    b = served.model
    with b.lock:
        runs = {
            str(k): (r.files, r.summary, r.config, r.uploads.keys(), r.archived, len(r.timeline), r.sizes, r.gaps)
            for k, r in b.runs.items()
        }
        return repr((runs, b.clock.now() // 1000 if hasattr(b.clock, "offset") else None, b.deleted.keys()))


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# ---- no 500s, nothing half-applied ---------------------------------------------------------------
def test_deeply_nested_json_body_is_a_named_error_not_a_500(served):
    """Before: RecursionError in json.loads, a 500. Now a GraphQL error naming max_json_depth."""
    raw = b'{"query": "query Viewer { viewer { id } }", "variables": {"a": ' + deep(100_000).encode() + b"}}"
    text = refused(post(served, "/graphql", raw))
    assert text.startswith("malformed request body for /graphql: JSON nested deeper than 64 levels (max_json_depth)")
    assert served.model.problems == [text]


def test_deeply_nested_json_on_file_stream_is_400(served):
    start_run(served)
    before = fingerprint(served)
    r = stream(served, b'{"files": ' + deep(5000).encode() + b"}")
    assert r.status_code == 400
    assert "(max_json_depth)" in r.json()["error"]
    assert fingerprint(served) == before


@pytest.mark.parametrize("where", ["config", "history-line"])
def test_deeply_nested_json_inside_strings_is_refused_before_anything_changes(served, where):
    """JSON strings the body carries (config, history lines) are held to the same depth: deeper ones
    would be stored and break later answers (json.dumps of the run)."""
    nested = '{"a": ' + "[" * 200 + "]" * 200 + "}"
    if where == "config":
        text = refused(gql(served, UPSERT, dict(GOOD, config=nested)))
        assert text.startswith("UpsertBucket: variable config is not JSON: JSON nested deeper than 64 levels")
        assert served.model.runs == {}
    else:
        start_run(served)
        before = fingerprint(served)
        r = stream(served, {"files": {"wandb-history.jsonl": {"offset": 0, "content": [nested]}}})
        assert r.status_code == 400 and "line 0 is not a JSON object" in r.json()["error"]
        assert fingerprint(served) == before


@pytest.mark.parametrize("step", ["1e999", "-1e999", "Infinity", "NaN", '"abc"', "true", "-1", "[2]"])
def test_fork_step_that_is_not_a_finite_number_is_refused_and_no_run_is_created(served, step):
    """Before: a fork step of 1e999 was a 500 (OverflowError) and "abc"/NaN a GraphQL error, and the
    fork run was created anyway. Now a GraphQL error naming the step, and no run."""
    gql(served, UPSERT, dict(GOOD, name="src"))
    cfg = config().replace(
        '"t": {"1": [1]}', '"t": {"1": [1]}, "branch_point": {"run_id": "src", "step": ' + step + "}"
    )
    before = fingerprint(served)
    text = refused(gql(served, UPSERT, dict(GOOD, name="fork1", config=cfg)))
    assert text.startswith("UpsertBucket: fork branch point step (_wandb.branch_point.step) must be"), text
    assert served.model.get(None, "proj", "fork1") is None
    assert fingerprint(served) == before
    assert served.model.problems == [text]


def test_a_good_fork_step_still_forks(served):
    gql(served, UPSERT, dict(GOOD, name="src"))
    cfg = config(branch_point={"run_id": "src", "step": 2.0})
    assert "errors" not in gql(served, UPSERT, dict(GOOD, name="fork1", config=cfg)).json()
    assert served.model.run("testent/proj/fork1").fork_of == ("src", 2)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e308 * 10, "abc", None, True])
def test_rewind_to_a_value_that_is_not_a_finite_number_changes_nothing(served, value):
    """Before: RewindRun Infinity was a 500 after the history had been archived. Now a GraphQL error
    naming metricValue, and the run as it was."""
    start_run(served)
    line = json.dumps({"_step": 0, "loss": 1.0})
    assert stream(served, {"files": {"wandb-history.jsonl": {"offset": 0, "content": [line]}}}).ok
    before = fingerprint(served)
    variables = {"runName": "run-a", "project": "proj", "metricName": "_step", "metricValue": value}
    text = refused(gql(served, REWIND, variables))
    assert text.startswith("RewindRun: RewindRun metricValue (the _step to rewind to) must be"), text
    assert fingerprint(served) == before
    assert served.model.run(PATH).archived == []


@pytest.mark.parametrize(
    "advance, why",
    [
        ("Infinity", "must be a finite number"),
        ("-Infinity", "must be a finite number"),
        ("NaN", "must be a finite number"),
        ("1e308", "the clock would pass the year 9999"),
        ("1e999", "must be a finite number"),
        ('"abc"', "advance must be a number of seconds"),
        ("true", "advance must be a number of seconds"),
        ("-5", "must be >= 0"),
    ],
)
def test_clock_moves_that_are_not_finite_or_too_far_are_400_and_the_clock_stays(served, advance, why):
    """Before: the clock moved by Infinity/1e308 was accepted and the run page and UpsertBucket were
    500s ever after, even after a reset."""
    offset = served.model.clock.offset
    r = post(served, "/_runresume/clock", b'{"advance": ' + advance.encode() + b"}")
    assert r.status_code == 400
    text = r.json()["errors"][0]["message"]
    assert text.startswith("control API /_runresume/clock: ") and why in text, text
    assert served.model.clock.offset == offset
    assert served.model.problems == [text]
    assert requests.get(f"{served.url}/", timeout=TIMEOUT).status_code == 200
    assert "errors" not in gql(served, UPSERT, GOOD).json()


@pytest.mark.parametrize("name", ["custom.txt", "wandb-events.jsonl", "media/x.log", "output.log"])
@pytest.mark.parametrize("offset", [10**13, 10**30])
def test_huge_offsets_on_any_file_are_400_and_store_nothing(served, name, offset):
    """Before: only history/events/output.log had a gap limit; any other name was padded up to its
    offset (MemoryError/OverflowError at 1e13/1e30). Now every file name has it."""
    start_run(served)
    before = fingerprint(served)
    content = ['{"a": 1}'] if name.endswith(".jsonl") else ["x"]
    r = stream(served, {"files": {name: {"offset": offset, "content": content}}})
    assert r.status_code == 400
    text = r.json()["error"]
    assert text.startswith(f"malformed request body for file_stream of {PATH}: {name} offset {offset} would leave")
    assert text.endswith("(max_line_gap)")
    assert fingerprint(served) == before
    assert served.model.problems == [text]


def test_repeated_gaps_cannot_grow_a_file_without_end():
    """Before: the gap limit was measured from what the run held, so repeating a 100k gap grew the
    file by 100k empty lines each time. Now all gaps of a file together are bounded."""
    with served_with(Limits(max_line_gap=10)) as srv:
        start_run(srv)
        assert stream(srv, {"files": {"custom.txt": {"offset": 6, "content": ["a"]}}}).status_code == 200
        before = fingerprint(srv)
        r = stream(srv, {"files": {"custom.txt": {"offset": 13, "content": ["b"]}}})
        assert r.status_code == 400
        assert "would leave 6 more lines unsent; the run's custom.txt already has 6 and at most 10" in r.json()["error"]
        assert fingerprint(srv) == before
        # filling the gap frees it again
        assert stream(srv, {"files": {"custom.txt": {"offset": 0, "content": ["."] * 6}}}).ok
        assert stream(srv, {"files": {"custom.txt": {"offset": 13, "content": ["b"]}}}).ok
        assert srv.model.run(PATH).gaps["custom.txt"] == 6


def test_last_resort_handler_names_an_unexpected_error(served, monkeypatch):
    """Anything unexpected becomes a named 500 recorded as a problem (the fuzzers never reach it)."""

    def boom(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(served.app, "on_ctl_state", boom)
    r = requests.get(f"{served.url}/_runresume/state", auth=auth(served), timeout=TIMEOUT)
    assert r.status_code == 500
    text = messages.INTERNAL_ERROR.format(method="GET", path="/_runresume/state", error="RuntimeError: kaboom")
    assert r.json()["error"] == text
    assert served.model.problems == [text]


# ---- bounded resources -------------------------------------------------------------------------------
def test_stored_bytes_per_run_are_bounded_and_a_refused_request_stores_nothing():
    with served_with(Limits(max_run_bytes=20_000)) as srv:
        start_run(srv)
        assert stream(srv, {"files": {"output.log": {"offset": 0, "content": ["x" * 5_000]}}}).ok
        before = fingerprint(srv)
        r = stream(srv, {"files": {"output.log": {"offset": 1, "content": ["y" * 20_000]}}})
        assert r.status_code == 413
        text = r.json()["error"]
        assert text.startswith(f"file_stream for {PATH} would make the fake W&B backend hold ")
        assert text.endswith("bytes for one run; the limit is 20000 bytes (max_run_bytes)")
        assert fingerprint(srv) == before and srv.model.problems == [text]


def test_stored_bytes_of_all_runs_are_bounded():
    with served_with(Limits(max_total_bytes=30_000)) as srv:
        for run in ("r1", "r2"):
            assert "errors" not in gql(srv, UPSERT, dict(GOOD, name=run)).json()
            r = stream(srv, {"files": {"output.log": {"offset": 0, "content": ["x" * 12_000]}}}, f"testent/proj/{run}")
            assert r.ok
        r = stream(srv, {"files": {"output.log": {"offset": 1, "content": ["x" * 12_000]}}}, "testent/proj/r2")
        assert r.status_code == 413 and r.json()["error"].endswith(
            "for all runs; the limit is 30000 bytes (max_total_bytes)"
        )
        assert srv.model.stored_bytes <= 30_000


def test_uploads_count_toward_the_limits():
    with served_with(Limits(max_run_bytes=10_000)) as srv:
        start_run(srv)
        sig = srv.app.sign_upload(f"{PATH}/model.bin")
        r = requests.put(f"{srv.url}/upload/{PATH}/model.bin?sig={sig}", data=b"\0" * 20_000, timeout=TIMEOUT)
        assert r.status_code == 413 and r.json()["error"].endswith("(max_run_bytes)")
        assert srv.model.run(PATH).uploads == {}


def test_the_number_of_runs_is_bounded():
    with served_with(Limits(max_runs=2)) as srv:
        for run in ("r1", "r2"):
            assert "errors" not in gql(srv, UPSERT, dict(GOOD, name=run)).json()
        text = refused(gql(srv, UPSERT, dict(GOOD, name="r3")))
        assert text == "UpsertBucket: " + messages.TOO_MANY_RUNS.format(path="testent/proj/r3", limit=2)
        assert len(srv.model.runs) == 2


def test_the_request_log_is_a_ring_buffer():
    with served_with(wire=WireLimits(request_log=5)) as srv:
        for _ in range(12):
            requests.get(f"{srv.url}/healthz", timeout=TIMEOUT)
        gql(srv, "query Viewer { viewer { id } }")
        assert len(srv.app.requests) == 5 and srv.app.requests.dropped == 8
        assert srv.app.requests[-1].operation == "Viewer"


def test_gzip_bomb_is_413_naming_max_decompressed():
    with served_with(wire=WireLimits(max_decompressed=100_000)) as srv:
        start_run(srv)
        bomb = gzip.compress(b'{"files": {"output.log": {"offset": 0, "content": ["' + b"x" * 5_000_000 + b'"]}}}')
        r = stream(srv, bomb, headers={"Content-Encoding": "gzip"})
        assert r.status_code == 413
        assert r.json()["error"] == messages.INFLATED_TOO_LARGE.format(
            method="POST", path=f"/files/{PATH}/file_stream", limit=100_000, name="max_decompressed"
        )
        assert srv.app.inflight.held == 0


@pytest.mark.parametrize("how", ["plain", "gzip-inflating"])
def test_body_bytes_at_once_are_bounded_503_and_retryable(served, how):
    """While other requests hold ``max_inflight_bytes`` bytes (bodies as received, and inflated),
    a body is answered 503 with Retry-After (the SDK retries 5xx); that is load, not a problem of
    the test. ``gzip-inflating``: the compressed body fits, its inflated bytes do not."""
    start_run(served)
    budget = served.app.inflight
    body = json.dumps({"files": {"output.log": {"offset": 0, "content": ["hi" * 1000]}}}).encode()
    headers = {}
    if how == "gzip-inflating":
        body, headers = gzip.compress(body), {"Content-Encoding": "gzip"}
    taken = budget.limit - (len(body) if how == "gzip-inflating" else 0)
    assert budget.take(taken)
    try:
        r = stream(served, body, headers=headers)
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert r.json()["error"].endswith("(max_inflight_bytes); retry")
        assert served.model.problems == [] and served.model.run(PATH).files["output.log"] == []
    finally:
        budget.give(taken)
    assert budget.held == 0
    assert stream(served, body, headers=headers).ok


@pytest.mark.parametrize(
    "query, named",
    [
        ("query Viewer { viewer { id } } " + "#" * 70_000, "(max_graphql_chars)"),
        ("query Viewer { viewer { " + "id " * 6_000 + "} }", "(max_graphql_tokens)"),
        ("query Viewer { viewer { " + " ".join(f"a{i}: id" for i in range(101)) + " } }", "(max_graphql_aliases)"),
        ("query Viewer " + "{ a " * 40 + "}" * 40, "(max_graphql_depth)"),
        ("query Viewer " + "{ a " * 2_000 + "}" * 2_000, "(max_graphql_depth)"),
    ],
    ids=["chars", "tokens", "aliases", "depth", "deep-recursion"],
)
def test_graphql_documents_are_bounded(served, query, named):
    """Before: a 1 MB document of aliases cost ~24 s of CPU. Now it is refused before parsing
    (characters) or while parsing (tokens), naming the limit."""
    t0 = time.monotonic()
    text = refused(gql(served, query))
    assert text.startswith("malformed GraphQL request: ") and text.endswith(named), text
    assert time.monotonic() - t0 < 5
    assert served.model.problems == [text]


def test_create_run_files_with_too_many_or_bad_names_is_refused(served):
    start_run(served)
    entity, project, run = PATH.split("/")
    many = {"entity": entity, "project": project, "run": run, "files": [f"f{i}" for i in range(1_001)]}
    assert refused(gql(served, CREATE_RUN_FILES, many)).endswith("the limit is 1000 (max_upload_files)")
    bad = dict(many, files="config.yaml")
    assert "variable files must be a list of file names" in refused(gql(served, CREATE_RUN_FILES, bad))


def _raw(srv: FakeServer, data: bytes, read: bool = True) -> tuple[bytes, float]:
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        answer = b""
        while read:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - t0


def test_a_body_shorter_than_its_content_length_is_408_after_the_read_timeout():
    """Before: a body shorter than its Content-Length held a handler thread for ever."""
    with served_with(wire=WireLimits(read_timeout=0.5)) as srv:
        key = base64.b64encode(f"api:{srv.api_key}".encode()).decode()
        head = f"POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {key}\r\nContent-Length: 100\r\n\r\n"
        answer, took = _raw(srv, head.encode() + b'{"query"')
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"(read_timeout)" in answer and took < 5
        assert srv.model.runs == {}


@pytest.mark.parametrize("data", [b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"], ids=["idle", "half-headers"])
def test_idle_and_slow_connections_are_closed_after_the_read_timeout(data):
    with served_with(wire=WireLimits(read_timeout=0.5)) as srv:
        answer, took = _raw(srv, data)
        assert answer == b"" and 0.4 < took < 5


def test_connections_past_max_connections_get_503_without_a_thread():
    with served_with(wire=WireLimits(max_connections=2, read_timeout=5)) as srv:
        held = [socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT) for _ in range(2)]
        try:
            time.sleep(0.2)  # both accepted and waiting for a request line
            answer, _ = _raw(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 503") and b"(max_connections)" in answer
            assert srv.refused_connections == 1
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + 5
        while requests.get(f"{srv.url}/healthz", timeout=TIMEOUT).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)


# ---- authentication --------------------------------------------------------------------------------
KEYLESS = [
    ("POST", "/graphql", {"query": "mutation UpsertBucket { x }", "variables": GOOD}),
    ("POST", f"/files/{PATH}/file_stream", {"complete": True, "exitcode": 1}),
    ("PUT", f"/upload/{PATH}/config.yaml", None),
    ("GET", "/_runresume/state", None),
    ("POST", "/_runresume/clock", {"advance": 301}),
    ("POST", "/_runresume/reset", {}),
    ("POST", "/_runresume/stop", {"path": PATH}),
    ("POST", "/_runresume/faults", {"action": "fail", "target": "*", "times": 5}),
    ("DELETE", "/_runresume/faults", None),
    ("GET", "/nope", None),
    ("POST", "/api/v1/whatever", None),
    ("GET", "/graphql", None),
    ("DELETE", "/healthz", None),
    ("PATCH", f"/files/{PATH}/file_stream", None),
]


@pytest.mark.parametrize("method, path, body", KEYLESS, ids=[f"{m} {p}" for m, p, _ in KEYLESS])
@pytest.mark.parametrize("key", [None, "wrong"], ids=["no-key", "wrong-key"])
def test_keyless_requests_on_every_route_are_401_and_change_nothing(served, method, path, body, key):
    """Before: unauthenticated 404/405s were recorded as backend problems (any local process could
    fail someone else's test at teardown) and uploads were stored without a key."""
    start_run(served)
    served.faults.delay("Viewer", 0.01)
    served.model.problems.clear()
    before, log, faults = fingerprint(served), len(served.app.requests), served.faults.snapshot()
    count = served.app.unauthenticated
    kw: dict[str, Any] = {"auth": ("api", key)} if key else {}
    r = requests.request(method, f"{served.url}{path}", json=body, timeout=TIMEOUT, **kw)
    assert r.status_code == 401
    assert r.json()["errors"][0]["message"] == messages.UNAUTHORIZED
    assert fingerprint(served) == before and served.model.problems == []
    assert served.faults.snapshot() == faults
    assert len(served.app.requests) == log and served.app.unauthenticated == count + 1


def test_the_health_probe_and_the_run_page_on_loopback_need_no_key(served):
    for path in ("/healthz", "/", "/_runresume/ui", "/testent/proj/runs/run-a"):
        assert requests.get(f"{served.url}{path}", timeout=TIMEOUT).status_code == 200, path
    assert served.model.problems == []


def test_the_run_page_of_a_server_not_on_loopback_asks_for_the_key():
    app = FakeWandbApp(Model(), "k" * 40, ui_needs_key=True)
    client = Client(app)
    r = client.get("/")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
    key = base64.b64encode(b"api:" + b"k" * 40).decode()
    assert client.get("/", headers={"Authorization": f"Basic {key}"}).status_code == 200
    assert client.get("/healthz").status_code == 200
