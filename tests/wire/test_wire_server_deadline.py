"""The per-request deadline of the served fake (``request_timeout``, issue 14): ``read_timeout``
bounds each read only, so a client trickling a byte just within it each time held a handler thread
for ever. Real sockets trickle bytes here; every wait is a bounded wait on the socket."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import time

import pytest
import requests

from pytest_runresume.model import Model
from pytest_runresume.wire import FakeServer
from pytest_runresume.wire.bodies import inflated_size
from pytest_runresume.wire.limits import WireLimits

PACE = 0.2  # seconds between trickled bytes: well within read_timeout
BOUND = 15.0  # no test waits on a socket for longer than this in all
UPSERT = (
    "mutation UpsertBucket($name: String, $project: String) { upsertBucket(input: {name: $name,"
    " modelName: $project}) { bucket { id name } } }"
)


def served(read_timeout: float = 1.0, request_timeout: float = 2.0) -> FakeServer:
    return FakeServer(Model(), limits=WireLimits(read_timeout=read_timeout, request_timeout=request_timeout))


def key_header(srv: FakeServer) -> str:
    return "Authorization: Basic " + base64.b64encode(f"api:{srv.api_key}".encode()).decode()


def trickle(sock: socket.socket, data: bytes, then: bytes = b"") -> tuple[bytes, float]:
    """Send ``data`` one byte every ``PACE`` s (the pace is a bounded wait for an answer on the
    socket), then ``then`` byte by byte the same way, until the server answers or closes. Returns
    what it answered (until it closed) and the seconds from the first byte."""
    t0 = time.monotonic()
    pending = data + then
    answer = b""
    sock.settimeout(PACE)
    while time.monotonic() - t0 < BOUND:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            if pending:
                try:
                    sock.sendall(pending[:1])
                except OSError:
                    break
                pending = pending[1:]
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        answer += chunk
    return answer, time.monotonic() - t0


def test_a_request_line_trickled_past_request_timeout_is_closed_at_the_deadline():
    """Each byte comes within ``read_timeout`` (1 s); the request would take 40 s at this pace."""
    with served(read_timeout=1.0, request_timeout=2.0) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=BOUND) as sock:
            answer, took = trickle(sock, b"GET /healthz?" + b"a" * 200 + b" HTTP/1.1\r\n\r\n")
        assert answer == b""
        assert 1.9 < took < 2.0 + 3 * PACE + 2.0, took  # closed at the deadline, not at the end
        assert srv.app.requests == []


def test_a_body_trickled_past_request_timeout_is_408_and_changes_nothing():
    with served(read_timeout=1.0, request_timeout=2.0) as srv:
        body = json.dumps({"query": "mutation UpsertBucket { x }"}).encode()
        head = f"POST /graphql HTTP/1.1\r\nHost: x\r\n{key_header(srv)}\r\nContent-Length: {len(body)}\r\n\r\n"
        with socket.create_connection(("127.0.0.1", srv.port), timeout=BOUND) as sock:
            sock.sendall(head.encode())
            answer, took = trickle(sock, body)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
        assert b"2 s for the whole request (request_timeout)" in answer
        assert 1.9 < took < 2.0 + 3 * PACE + 2.0, took
        assert srv.model.runs == {}
        assert len(srv.model.problems) == 1 and "(request_timeout)" in srv.model.problems[0]


def test_a_request_whose_bytes_all_arrived_in_time_is_not_cut_by_a_slow_answer():
    """A delay fault holds the request past ``request_timeout`` before its body is read: the
    bytes the client sent in time are still read, and the request is served."""
    with served(read_timeout=1.0, request_timeout=0.5) as srv:
        auth = ("api", srv.api_key)
        r = requests.post(
            f"{srv.url}/graphql",
            json={"query": UPSERT, "variables": {"name": "run-a", "project": "proj"}},
            auth=auth,
            timeout=BOUND,
        )
        assert r.ok and "errors" not in r.json(), r.text
        srv.faults.delay("file_stream", 1.0)
        body = {"files": {"output.log": {"offset": 0, "content": ["hi"]}}}
        path = str(next(iter(srv.model.runs)))
        r = requests.post(f"{srv.url}/files/{path}/file_stream", json=body, auth=auth, timeout=BOUND)
        assert r.status_code == 200, r.text
        assert srv.model.run(path).files["output.log"] == ["hi"]


@pytest.mark.parametrize("value", [0, -1.0, float("inf"), float("nan"), "5", True])
def test_request_timeout_must_be_a_finite_number_of_seconds(value):
    with pytest.raises(ValueError, match=r"limit request_timeout must be a finite number of seconds > 0"):
        WireLimits(request_timeout=value)


@pytest.mark.parametrize("size", [0, 1, 70_000, 1_000_003])
def test_inflated_size_counts_without_keeping_the_bytes(size):
    data = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    assert inflated_size(gzip.compress(data), size, "max_decompressed") == size
