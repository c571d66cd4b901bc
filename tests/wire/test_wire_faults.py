"""Fault injection on the wire (no SDK): the registry's matching, each action as an HTTP client
sees it, the control API, and that injected faults are recorded but are not problems.

What the real SDK does with these faults: ``tests/e2e/test_e2e_faults.py``.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

from pytest_runresume.wire import FakeServer
from pytest_runresume.wire.faults import Fault, Faults

TIMEOUT = 10
VIEWER = "query Viewer { viewer { id entity } }"
UPSERT = (
    "mutation UpsertBucket($name: String, $project: String, $config: JSONString, $host: String) {"
    " upsertBucket(input: {name: $name, modelName: $project, config: $config, host: $host})"
    " { bucket { id name } inserted } }"
)
CONFIG = json.dumps({"_wandb": {"value": {"t": {"1": [1]}}}})
HISTORY = {"files": {"wandb-history.jsonl": {"offset": 0, "content": ['{"_step":0}', '{"_step":1}']}}}


def gql(served: FakeServer, query: str = VIEWER, variables: dict | None = None) -> requests.Response:
    return requests.post(
        f"{served.url}/graphql",
        json={"query": query, "variables": variables},
        auth=("api", served.api_key),
        timeout=TIMEOUT,
    )


def upsert(served: FakeServer, run_id: str = "r") -> requests.Response:
    return gql(served, UPSERT, {"name": run_id, "project": "p", "config": CONFIG, "host": "h"})


def stream(served: FakeServer, body: dict, run_id: str = "r") -> requests.Response:
    path = f"{served.model.entity}/p/{run_id}"
    return requests.post(
        f"{served.url}/files/{path}/file_stream", json=body, auth=("api", served.api_key), timeout=TIMEOUT
    )


# ---- the registry (pure) -----------------------------------------------------------------------
def test_take_consumes_times_then_stops_matching():
    faults = Faults()
    faults.fail("UpsertBucket", status=500, times=2)
    assert faults
    assert [f.status for f in faults.take("UpsertBucket")] == [500]
    assert faults.take("Viewer") == []
    assert [f.status for f in faults.take("UpsertBucket")] == [500]
    assert faults.take("UpsertBucket") == []
    assert not faults
    assert faults.count("UpsertBucket") == 2 and faults.count(action="fail") == 2


def test_times_none_applies_until_cleared():
    faults = Faults()
    faults.drop("file_stream", times=None)
    for _ in range(5):
        assert [f.action for f in faults.take("file_stream")] == ["drop"]
    faults.clear()
    assert faults.take("file_stream") == [] and faults.injected == []


@pytest.mark.parametrize(
    "target, hits, misses",
    [
        ("graphql", ["Viewer", "UpsertBucket"], ["file_stream", "upload"]),
        ("*", ["Viewer", "file_stream", "upload"], []),
        ("file_stream", ["file_stream"], ["Viewer", "upload"]),
    ],
)
def test_targets(target, hits, misses):
    for op in hits:
        assert Fault("drop", target, times=None).matches(op), op
    for op in misses:
        assert not Fault("drop", target, times=None).matches(op), op


def test_delays_stack_and_only_the_first_terminal_rule_applies():
    faults = Faults()
    faults.delay("file_stream", seconds=0.1)
    faults.fail("file_stream", status=502)
    faults.fail("file_stream", status=503)
    faults.delay("*", seconds=0.2)
    applied = faults.take("file_stream")
    assert [(f.action, f.status) for f in applied] == [("delay", None), ("delay", None), ("fail", 502)]
    assert [(f.action, f.status) for f in faults.take("file_stream")] == [("fail", 503)]


def test_skip_lets_the_first_matching_requests_through():
    faults = Faults()
    faults.drop("file_stream", skip=2)
    assert faults.take("file_stream") == [] and faults.take("Viewer") == [] and faults.take("file_stream") == []
    assert [f.action for f in faults.take("file_stream")] == ["drop"]
    assert faults.take("file_stream") == []


def test_carrying_matches_only_bodies_with_that_string():
    faults = Faults()
    faults.drop("file_stream", carrying="wandb-history.jsonl")
    assert faults.take("file_stream", carries=lambda s: False) == []
    assert faults.take("file_stream", carries=lambda s: s == "wandb-history.jsonl")[0].carrying == "wandb-history.jsonl"


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda f: f.fail("UpsertBucket", status=200), ["400-599", "200"]),
        (lambda f: f.fail("UpsertBucket", status=429, retry_after=1.5), ["retry_after", "1.5"]),
        (lambda f: f.fail("UpsertBucket", times=0), ["times", "0"]),
        (lambda f: f.graphql_error("file_stream"), ["GraphQL target", "file_stream"]),
        (lambda f: f.delay("file_stream", seconds=0), ["seconds", "0"]),
        (lambda f: f.delay("file_stream", seconds=3600), ["60", "3600"]),
        (lambda f: f.drop(""), ["target"]),
        (lambda f: f.drop("file_stream", skip=-1), ["skip", "-1"]),
        (lambda f: f.fail("file_stream", after_handling=True), ["after_handling", "allowed"]),
        (lambda f: f.add({"action": "explode", "target": "x"}), ["explode"]),
        (lambda f: f.add({"action": "fail", "target": "x", "colour": "red"}), ["colour"]),
        (lambda f: f.add({"action": "fail", "status": 500}), ["target"]),
        (lambda f: f.add(["fail"]), ["JSON object"]),
    ],
)
def test_bad_rules_are_refused_naming_what_is_wrong(make, words):
    faults = Faults()
    with pytest.raises(ValueError) as info:
        make(faults)
    for word in words:
        assert word in str(info.value)
    assert faults.rules == []


# ---- each action over HTTP ---------------------------------------------------------------------
def test_fail_answers_the_status_the_next_n_times_then_serves(wandb_server):
    wandb_server.faults.fail("UpsertBucket", status=500, times=2)
    answers = [upsert(wandb_server) for _ in range(3)]
    assert [r.status_code for r in answers] == [500, 500, 200]
    assert answers[1].json()["errors"][0]["message"] == "injected fault: HTTP 500 for UpsertBucket (2 of 2)"
    details = [f.detail for f in wandb_server.faults.injected]
    assert details == ["HTTP 500 for UpsertBucket (1 of 2)", "HTTP 500 for UpsertBucket (2 of 2)"]
    assert len(wandb_server.model.runs) == 1, "the failed requests must not reach the model"
    assert [r.status for r in wandb_server.app.requests if r.operation == "UpsertBucket"] == [500, 500, 200]


def test_fail_429_carries_retry_after(wandb_server):
    wandb_server.faults.fail("file_stream", status=429, retry_after=3)
    upsert(wandb_server)
    r = stream(wandb_server, HISTORY)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert "HTTP 429" in r.json()["error"]
    assert wandb_server.model.run("testent/p/r").history_lines == []
    assert stream(wandb_server, HISTORY).status_code == 200


def test_graphql_error_is_http_200_with_errors(wandb_server):
    wandb_server.faults.graphql_error("UpsertBucket", "run was previously created and deleted")
    r = upsert(wandb_server)
    assert r.status_code == 200
    assert r.json() == {"errors": [{"message": "run was previously created and deleted"}], "data": None}
    assert wandb_server.model.runs == {}


def test_drop_closes_without_an_answer_and_the_server_keeps_serving(wandb_server):
    wandb_server.faults.drop("UpsertBucket")
    with pytest.raises(requests.ConnectionError):
        upsert(wandb_server)
    assert wandb_server.model.runs == {}
    assert upsert(wandb_server).status_code == 200
    assert gql(wandb_server).status_code == 200


@pytest.mark.rules("R36")
def test_drop_after_handling_applies_the_request_and_loses_the_answer(wandb_server):
    """The client cannot tell it was applied, so it re-sends; the same lines at the same offset
    are held once (R36)."""
    upsert(wandb_server)
    wandb_server.faults.drop("file_stream", after_handling=True, carrying="wandb-history.jsonl")
    with pytest.raises(requests.ConnectionError):
        stream(wandb_server, HISTORY)
    run = wandb_server.model.run("testent/p/r")
    assert run.steps == [0, 1]
    assert stream(wandb_server, HISTORY).status_code == 200  # the re-send
    assert run.steps == [0, 1]
    assert wandb_server.model.problems == []


def test_carrying_leaves_other_requests_alone(wandb_server):
    upsert(wandb_server)
    wandb_server.faults.fail("file_stream", status=503, carrying="complete")
    assert stream(wandb_server, HISTORY).status_code == 200
    assert stream(wandb_server, {"complete": True, "exitcode": 0}).status_code == 503
    assert stream(wandb_server, {"complete": True, "exitcode": 0}).status_code == 200


def test_delay_holds_the_request_then_serves_it(wandb_server):
    wandb_server.faults.delay("Viewer", seconds=0.3)
    t0 = time.monotonic()
    assert gql(wandb_server).status_code == 200
    assert time.monotonic() - t0 >= 0.3
    assert wandb_server.faults.count("Viewer", "delay") == 1


def test_the_control_api_and_health_are_never_faulted(wandb_server):
    wandb_server.faults.fail("*", status=500, times=None)
    assert requests.get(f"{wandb_server.url}/healthz", timeout=TIMEOUT).status_code == 200
    r = requests.get(f"{wandb_server.url}/_runresume/state", auth=("api", wandb_server.api_key), timeout=TIMEOUT)
    assert r.status_code == 200
    assert gql(wandb_server).status_code == 500


def test_unauthorized_requests_are_refused_before_faults(wandb_server):
    wandb_server.faults.fail("Viewer", status=500)
    r = requests.post(f"{wandb_server.url}/graphql", json={"query": VIEWER}, timeout=TIMEOUT)
    assert r.status_code == 401
    assert wandb_server.faults.pending(), "a refused request must not use up a fault"


def test_in_process_drop_is_a_requests_connection_error(wandb_requests_mock, wandb_server):
    wandb_server.faults.drop("Viewer")
    with pytest.raises(requests.ConnectionError):
        gql(wandb_server)
    assert gql(wandb_server).status_code == 200


# ---- the control API ---------------------------------------------------------------------------
def ctl(served: FakeServer, method: str, body: object = None) -> requests.Response:
    return requests.request(
        method, f"{served.url}/_runresume/faults", json=body, auth=("api", served.api_key), timeout=TIMEOUT
    )


def test_control_api_adds_lists_and_clears_faults(wandb_server):
    r = ctl(wandb_server, "POST", {"action": "fail", "target": "UpsertBucket", "status": 409, "times": 2})
    assert r.status_code == 200
    assert r.json()["pending"][0] | {"used": 0} == r.json()["pending"][0]
    assert upsert(wandb_server).status_code == 409
    listed = ctl(wandb_server, "GET").json()
    assert listed["pending"][0]["used"] == 1
    assert [(f["operation"], f["action"]) for f in listed["injected"]] == [("UpsertBucket", "fail")]
    assert ctl(wandb_server, "DELETE").json() == {"pending": [], "injected": []}
    assert upsert(wandb_server).status_code == 200


def test_control_api_refuses_a_bad_fault_naming_it():
    with FakeServer() as served:
        r = ctl(served, "POST", {"action": "fail", "target": "UpsertBucket", "status": 700})
        assert r.status_code == 400
        assert "700" in r.json()["errors"][0]["message"]
        assert served.faults.rules == []
        assert ctl(served, "POST", {"action": "delay", "target": "x", "seconds": 1}).status_code == 200


def test_reset_clears_faults_so_each_test_starts_clean():
    with FakeServer() as served:
        served.faults.fail("Viewer", status=500, times=None)
        assert gql(served).status_code == 500
        served.reset()
        assert not served.faults and served.faults.injected == []
        assert gql(served).status_code == 200
