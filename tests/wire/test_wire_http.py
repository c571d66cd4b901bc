"""The HTTP side of the wire: auth, file_stream, uploads, telemetry, the control API, binding.

Every test talks to a real :class:`FakeServer` on 127.0.0.1 with ``requests`` (NOTES section 0:
wandb-core is a separate Go process, so only a loopback server sees its traffic).
"""

from __future__ import annotations

import gzip
import json
import socket

import pytest
import requests

from pytest_runresume.model import messages
from pytest_runresume.wire import FakeServer

TIMEOUT = 10

UPSERT = """
mutation UpsertBucket ($id: String, $name: String, $project: String, $entity: String, $config: JSONString,
    $host: String, $program: String) {
  upsertBucket(input: {id:$id,name:$name,modelName:$project,entityName:$entity,config:$config,
      host:$host,jobProgram:$program}) {
    bucket { id name project { id name entity { id name } } historyLineCount }
    inserted
  }
}
"""

CREATE_RUN_FILES = """
mutation CreateRunFiles ($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName:$entity,projectName:$project,runName:$run,files:$files}) {
    runID uploadHeaders files { name uploadUrl }
  }
}
"""

CONFIG = json.dumps({"lr": {"value": 0.1}, "_wandb": {"value": {"t": {"1": [1]}, "cli_version": "0.31.0"}}})


def auth(served: FakeServer) -> tuple[str, str]:
    return ("api", served.api_key)


def gql(served: FakeServer, query: str, variables: dict | None, op: str | None, **kw) -> requests.Response:
    body = {"query": query, "variables": variables, "operationName": op}
    kw.setdefault("auth", auth(served))
    return requests.post(f"{served.url}/graphql", json=body, timeout=TIMEOUT, **kw)


def start_run(served: FakeServer, run_id: str = "run-a", project: str = "proj") -> str:
    """Init upsert like wandb-core's first UpsertBucket; returns the run path."""
    r = gql(
        served,
        UPSERT,
        {
            "id": None,
            "name": run_id,
            "project": project,
            "entity": None,
            "config": CONFIG,
            "host": "h",
            "program": "p.py",
        },
        "UpsertBucket",
    )
    assert r.status_code == 200, r.text
    assert "errors" not in r.json(), r.json()
    return f"{served.model.entity}/{project}/{run_id}"


def file_stream(served: FakeServer, path: str, body: object, **kw) -> requests.Response:
    kw.setdefault("auth", auth(served))
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{served.url}/files/{path}/file_stream", data=data, timeout=TIMEOUT, **kw)


# ---- auth ----------------------------------------------------------------------------------------
BAD_AUTHS = [
    pytest.param(None, id="no-authorization"),
    pytest.param(("api", "0" * 40), id="wrong-key"),
    pytest.param(("api", ""), id="empty-key"),
]


@pytest.mark.parametrize("bad", BAD_AUTHS)
def test_graphql_without_the_right_key_is_401(served, bad):
    """NOTES section 0 (auth): /graphql needs ``Basic api:KEY`` with this server's key, else 401."""
    r = gql(served, "query Viewer { viewer { id entity } }", None, "Viewer", auth=bad)
    assert r.status_code == 401
    assert r.json()["errors"][0]["message"] == messages.UNAUTHORIZED


def test_graphql_with_a_garbage_authorization_header_is_401(served):
    """NOTES section 0 (auth): a header that is not valid Basic base64 is refused, not crashed on."""
    body = {"query": "query Viewer { viewer { id } }", "operationName": "Viewer"}
    for header in ("Bearer " + served.api_key, "Basic !!!not-base64!!!", "Basic " + served.api_key):
        r = requests.post(f"{served.url}/graphql", json=body, headers={"Authorization": header}, timeout=TIMEOUT)
        assert r.status_code == 401, header


def test_graphql_with_the_right_key_is_200(served):
    """NOTES section 0 (auth) and 1.1: the right key gets the Viewer answer."""
    r = gql(served, "query Viewer { viewer { id entity username } }", None, "Viewer")
    assert r.status_code == 200
    assert r.json()["data"]["viewer"]["entity"] == served.model.entity


@pytest.mark.parametrize("bad", BAD_AUTHS)
def test_file_stream_without_the_right_key_is_401(served, bad):
    """NOTES section 0 (auth): /files/.../file_stream needs the key; nothing reaches the model."""
    path = start_run(served)
    r = file_stream(
        served, path, {"files": {"wandb-history.jsonl": {"offset": 0, "content": ['{"_step":0}']}}}, auth=bad
    )
    assert r.status_code == 401
    assert served.model.run(path).history_lines == []


def test_file_stream_with_the_right_key_is_200(served):
    """NOTES section 0 (auth), 1.6: the right key is accepted and the lines land."""
    path = start_run(served)
    r = file_stream(served, path, {"files": {"wandb-history.jsonl": {"offset": 0, "content": ['{"_step":0}']}}})
    assert r.status_code == 200
    assert served.model.run(path).history_lines == ['{"_step":0}']


def test_signed_upload_put_needs_no_key(served):
    """NOTES section 0 (auth), 1.5: upload PUTs carry no Authorization; the URL's signature is the key."""
    path = start_run(served)
    sig = served.app.sign_upload(f"{path}/config.yaml")
    r = requests.put(f"{served.url}/upload/{path}/config.yaml?sig={sig}", data=b"lr: 0.1\n", timeout=TIMEOUT)
    assert r.status_code == 200
    assert served.model.run(path).uploads["config.yaml"] == b"lr: 0.1\n"


@pytest.mark.parametrize(
    "query",
    ["", "?sig=", "?sig=0123456789abcdef0123456789abcdef01234567", "?sig={other}"],
    ids=["no-sig", "empty-sig", "wrong-sig", "sig-of-another-file"],
)
def test_upload_without_a_valid_signature_or_key_is_401_and_changes_nothing(served, query):
    """Before: ``PUT /upload/...`` was stored with no key at all. Now a keyless PUT needs the
    signature CreateRunFiles put in the URL, for that very file: else 401, nothing stored, no problem."""
    path = start_run(served)
    query = query.format(other=served.app.sign_upload(f"{path}/requirements.txt"))
    before = len(served.app.requests)
    r = requests.put(f"{served.url}/upload/{path}/config.yaml{query}", data=b"evil", timeout=TIMEOUT)
    assert r.status_code == 401
    assert r.json()["error"] == messages.UNAUTHORIZED
    assert served.model.run(path).uploads == {}
    assert served.model.problems == []
    assert len(served.app.requests) == before  # not even in the request log


# ---- file_stream ---------------------------------------------------------------------------------
def test_file_stream_malformed_json_is_400_and_a_problem(served):
    """NOTES 1.6: a body that is not JSON is answered 400 naming file_stream, and recorded."""
    path = start_run(served)
    r = file_stream(served, path, b'{"files": {')
    assert r.status_code == 400
    error = r.json()["error"]
    assert "file_stream" in error and path in error
    assert error in served.model.problems


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([], id="not-an-object"),
        pytest.param({"files": ["wandb-history.jsonl"]}, id="files-not-an-object"),
        pytest.param({"files": {"wandb-history.jsonl": {"offset": "0", "content": ["{}"]}}}, id="offset-not-int"),
        pytest.param({"files": {"wandb-history.jsonl": {"offset": 0, "content": "{}"}}}, id="content-not-list"),
        pytest.param({"files": {"wandb-history.jsonl": {"offset": 0, "content": [1]}}}, id="line-not-str"),
    ],
)
def test_file_stream_wrong_shape_is_400_and_a_problem(served, body):
    """NOTES 1.6: ``files`` must map names to ``{offset: int, content: [str]}``; else 400 + problem."""
    path = start_run(served)
    r = file_stream(served, path, body)
    assert r.status_code == 400
    assert "file_stream" in r.json()["error"]
    assert r.json()["error"] in served.model.problems
    assert served.model.run(path).history_lines == []


def test_file_stream_gzip_body_is_read(served):
    """NOTES 1.6 / app.py: a gzip ``Content-Encoding`` body is decompressed before parsing."""
    path = start_run(served)
    body = json.dumps({"files": {"wandb-history.jsonl": {"offset": 0, "content": ['{"_step":0}']}}}).encode()
    r = file_stream(served, path, gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200
    assert served.model.run(path).history_lines == ['{"_step":0}']


def test_file_stream_broken_gzip_is_400_and_a_problem(served):
    """NOTES 1.6 / app.py contract ("every malformed body is answered with an error naming it and
    recorded"): a body claiming gzip that is not gzip is a malformed body, not a 500."""
    path = start_run(served)
    r = file_stream(served, path, b"\x00\x01not gzip", headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400
    assert "file_stream" in r.json()["error"]
    assert served.model.problems, "the malformed body was not recorded as a problem"


@pytest.mark.rules("R29")
def test_file_stream_for_a_run_never_upserted_is_404_and_a_problem(served):
    """NOTES 1.6, R29: file_stream before any UpsertBucket names the run path; 404 + problem."""
    r = file_stream(served, "testent/proj/ghost", {"files": {}})
    assert r.status_code == 404
    expected = messages.FILE_STREAM_NO_RUN.format(path="testent/proj/ghost")
    assert r.json()["error"] == expected
    assert expected in served.model.problems
    assert served.model.get("testent", "proj", "ghost") is None


@pytest.mark.rules("R61", "R62")
def test_empty_heartbeat_keeps_the_run_alive(served):
    """R62, R61: ``{}`` is a heartbeat; it resets the crash timer (silence is counted from it)."""
    path = start_run(served)
    model = served.model
    model.advance_clock(model.crash_timeout * 2 / 3)  # 200 s of silence
    r = file_stream(served, path, {})
    assert r.status_code == 200
    assert r.json().get("stopped") is not True
    model.advance_clock(model.crash_timeout * 2 / 3)  # 400 s after the upsert, 200 s after the heartbeat
    assert model.state(model.run(path)) == "running"
    assert any(e.kind == "heartbeat" for e in model.run(path).timeline)
    model.advance_clock(model.crash_timeout / 3 + 1)  # now > timeout since the heartbeat
    assert model.state(model.run(path)) == "crashed"
    assert model.problems == []


@pytest.mark.rules("R58")
def test_file_stream_answers_stopped_after_request_stop(served):
    """R58, NOTES 1.6: after ``model.request_stop(path)`` the answer carries ``"stopped": true``."""
    path = start_run(served)
    r = file_stream(served, path, {})
    assert r.status_code == 200 and "stopped" not in r.json()
    served.model.request_stop(path)
    r = file_stream(served, path, {})
    assert r.status_code == 200
    assert r.json()["stopped"] is True
    r = file_stream(served, path, {"complete": True, "exitcode": 255})
    assert r.status_code == 200
    assert served.model.state(served.model.run(path)) == "killed"


@pytest.mark.rules("R36", "R37")
def test_file_stream_writes_lines_at_offsets_and_summary(served):
    """R36, R37, NOTES 1.6: lines go at their offsets; ``wandb-summary.json`` replaces the summary."""
    path = start_run(served)
    file_stream(
        served, path, {"files": {"wandb-history.jsonl": {"offset": 0, "content": ['{"_step":0}', '{"_step":1}']}}}
    )
    file_stream(
        served,
        path,
        {
            "files": {
                "wandb-history.jsonl": {"offset": 2, "content": ['{"_step":2}']},
                "wandb-summary.json": {"offset": 0, "content": ['{"loss":0.5,"_step":2}']},
                "output.log": {"offset": 0, "content": ["hello"]},
            }
        },
    )
    run = served.model.run(path)
    assert run.history_lines == ['{"_step":0}', '{"_step":1}', '{"_step":2}']
    assert run.last_step == 2
    assert run.summary == {"loss": 0.5, "_step": 2}
    assert run.files["output.log"] == ["hello"]
    assert served.model.problems == []


# ---- uploads -------------------------------------------------------------------------------------
def test_create_run_files_urls_point_at_this_server_and_put_bytes_arrive(served):
    """NOTES 1.5: CreateRunFiles answers upload URLs on this server; the PUT bytes reach ``run.uploads``."""
    path = start_run(served)
    entity, project, run_id = path.split("/")
    names = ["wandb-metadata.json", "requirements.txt", "config.yaml", "media/images/a b.png"]
    r = gql(
        served,
        CREATE_RUN_FILES,
        {"entity": entity, "project": project, "run": run_id, "files": names},
        "CreateRunFiles",
    )
    assert r.status_code == 200
    files = r.json()["data"]["createRunFiles"]["files"]
    assert [f["name"] for f in files] == names
    payloads = {}
    for i, f in enumerate(files):
        assert f["uploadUrl"].startswith(f"{served.url}/upload/{path}/"), f["uploadUrl"]
        payloads[f["name"]] = bytes([i]) * (i + 1) + b"\xff\x00binary"
        put = requests.put(f["uploadUrl"], data=payloads[f["name"]], timeout=TIMEOUT)
        assert put.status_code == 200, (f["uploadUrl"], put.text)
    assert served.model.run(path).uploads == payloads
    assert served.model.problems == []


@pytest.mark.rules("R29")
def test_upload_for_a_missing_run_is_404_and_a_problem(served):
    """NOTES 1.5, R29: a PUT for a run that does not exist names it and is recorded."""
    r = requests.put(
        f"{served.url}/upload/testent/proj/nope/config.yaml", data=b"x", auth=auth(served), timeout=TIMEOUT
    )
    assert r.status_code == 404
    expected = messages.NO_SUCH_RUN.format(path="testent/proj/nope")
    assert r.json()["error"] == expected
    assert expected in served.model.problems


# ---- telemetry and unknown paths -----------------------------------------------------------------
@pytest.mark.parametrize("path", ["/sdk/otel/v1/metrics", "/sdk/otel/v1/logs"])
def test_sdk_otel_is_404_and_not_a_problem(served, path):
    """NOTES section 0: SDK telemetry is answered 404 (so it stops) and is not a problem."""
    r = requests.post(f"{served.url}{path}", data=b"\x0a\x00", timeout=TIMEOUT)
    assert r.status_code == 404
    assert served.model.problems == []


@pytest.mark.parametrize("method,path", [("GET", "/nope"), ("POST", "/api/v1/whatever"), ("GET", "/files/a/b")])
def test_unknown_path_is_404_and_a_problem(served, method, path):
    """NOTES section 0 / app.py: a path the fake does not serve is 404, named and recorded."""
    r = requests.request(method, f"{served.url}{path}", auth=auth(served), timeout=TIMEOUT)
    assert r.status_code == 404
    expected = messages.UNEXPECTED_REQUEST.format(method=method, path=path)
    assert r.json()["errors"][0]["message"] == expected
    assert served.model.problems == [expected]


def test_wrong_method_is_an_error_and_a_problem(served):
    """NOTES section 1 (``POST /graphql`` only): a GET on /graphql is refused (4xx) and recorded."""
    r = requests.get(f"{served.url}/graphql", auth=auth(served), timeout=TIMEOUT)
    assert 400 <= r.status_code < 500
    assert any("/graphql" in p for p in served.model.problems)


def test_healthz_answers_without_auth(served):
    """NOTES section 0 (server reachable on loopback): ``/healthz`` is a cheap liveness probe."""
    r = requests.get(f"{served.url}/healthz", timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == {"ok": True}


# ---- control API ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "/_runresume/state", None),
        ("POST", "/_runresume/clock", {"advance": 301}),
        ("POST", "/_runresume/reset", {}),
    ],
)
@pytest.mark.parametrize("bad", BAD_AUTHS)
def test_control_api_needs_auth(served, method, path, body, bad):
    """NOTES section 2 (server-side state) / app.py: the control API is authenticated like /graphql."""
    run_path = start_run(served)
    r = requests.request(method, f"{served.url}{path}", json=body, auth=bad, timeout=TIMEOUT)
    assert r.status_code == 401
    assert served.model.state(served.model.run(run_path)) == "running"


def test_control_state_lists_runs(served):
    """NOTES section 2 (server derives the state): GET /_runresume/state shows runs and their state."""
    path = start_run(served)
    r = requests.get(f"{served.url}/_runresume/state", auth=auth(served), timeout=TIMEOUT)
    assert r.status_code == 200
    state = r.json()
    assert [run["path"] for run in state["runs"]] == [path]
    assert state["runs"][0]["state"] == "running"
    assert state["problems"] == []


@pytest.mark.rules("R60", "R61")
def test_control_clock_makes_a_silent_run_crashed(served):
    """R60, R61: POST /_runresume/clock {"advance": 301} makes a run silent for > 300 s crashed."""
    path = start_run(served)
    before = served.model.now()
    r = requests.post(f"{served.url}/_runresume/clock", json={"advance": 301}, auth=auth(served), timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.json()["now"] >= before + 301
    assert served.model.state(served.model.run(path)) == "crashed"
    snap = requests.get(f"{served.url}/_runresume/state", auth=auth(served), timeout=TIMEOUT).json()
    assert snap["runs"][0]["state"] == "crashed"


def test_control_reset_empties_runs(served):
    """NOTES section 2 / app.py: POST /_runresume/reset forgets every run (a fresh server)."""
    start_run(served)
    start_run(served, "run-b")
    r = requests.post(f"{served.url}/_runresume/reset", auth=auth(served), timeout=TIMEOUT)
    assert r.status_code == 200
    assert served.model.runs == {}
    snap = requests.get(f"{served.url}/_runresume/state", auth=auth(served), timeout=TIMEOUT).json()
    assert snap["runs"] == []


@pytest.mark.rules("R58")
def test_control_stop_makes_file_stream_answer_stopped(served):
    """R58: POST /_runresume/stop {"path": ...} is the wire form of ``model.request_stop``."""
    path = start_run(served)
    r = requests.post(f"{served.url}/_runresume/stop", json={"path": path}, auth=auth(served), timeout=TIMEOUT)
    assert r.status_code == 200
    assert file_stream(served, path, {}).json()["stopped"] is True


@pytest.mark.parametrize(
    "path,data",
    [
        pytest.param("/_runresume/clock", b"{not json", id="clock-malformed-json"),
        pytest.param("/_runresume/clock", json.dumps({"advance": -5}).encode(), id="clock-negative"),
        pytest.param("/_runresume/clock", json.dumps({"advance": "soon"}).encode(), id="clock-not-a-number"),
        pytest.param("/_runresume/stop", json.dumps({}).encode(), id="stop-no-path"),
        pytest.param("/_runresume/stop", json.dumps({"path": "testent/proj/ghost"}).encode(), id="stop-missing-run"),
    ],
)
def test_control_api_bad_request_is_a_4xx_and_a_problem(served, path, data):
    """R61/R58 control endpoints, app.py contract ("every problem ... is answered with an error naming
    it and recorded in model.problems"): a bad control request is a 4xx with an error, not a 500."""
    r = requests.post(f"{served.url}{path}", data=data, auth=auth(served), timeout=TIMEOUT)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])
    assert served.model.problems, "the bad control request was not recorded as a problem"


# ---- binding -------------------------------------------------------------------------------------
def test_non_loopback_host_is_refused():
    """NOTES section 0 (a loopback server): binding 0.0.0.0 without opting in is a ValueError."""
    with pytest.raises(ValueError, match="0.0.0.0"):
        FakeServer(host="0.0.0.0")


def test_non_loopback_host_with_opt_in_warns():
    """NOTES section 0: ``allow_non_loopback=True`` is allowed but warns (construction only, no bind)."""
    with pytest.warns(UserWarning, match="0.0.0.0"):
        server = FakeServer(host="0.0.0.0", allow_non_loopback=True)
    with pytest.raises(RuntimeError):
        _ = server.url  # not started


def test_default_binds_loopback_only(served):
    """NOTES section 0: the default server listens on 127.0.0.1 and ``env()`` points there."""
    assert served.url.startswith("http://127.0.0.1:")
    assert served.env() == {"WANDB_BASE_URL": served.url, "WANDB_API_KEY": served.api_key}
    assert len(served.api_key) == 40


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback_available(), reason="no IPv6 loopback here")
def test_ipv6_loopback_url_is_usable():
    """NOTES section 0 (``WANDB_BASE_URL`` of a loopback server): host "::1" is accepted as loopback,
    so its URL must be a valid one (``http://[::1]:PORT``) that a client can reach."""
    server = FakeServer(host="::1").start()
    try:
        assert server.url.startswith("http://[::1]:"), server.url
        assert requests.get(f"{server.url}/healthz", timeout=TIMEOUT).status_code == 200
    finally:
        server.stop()


def test_the_run_links_wandb_prints_open_the_run_page(served):
    """The "View run at <base>/<entity>/<project>/runs/<id>" link the SDK prints opens the run page
    instead of a 404 (and so does the project link)."""
    for path in ("/testent/proj/runs/run-a", "/testent/proj"):
        r = requests.get(served.url + path, timeout=5)
        assert r.status_code == 200 and "<html" in r.text.lower(), path
    assert served.model.problems == []
