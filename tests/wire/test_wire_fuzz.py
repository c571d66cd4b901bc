"""Fuzzers for the fake's wire (issue 14): the GraphQL endpoint (documents from the schema of the
operations the fake answers, ``pytest_runresume/wire/schema.graphql``, through hypothesis-graphql,
with fuzzed variables), file_stream bodies and the control API.

Invariants, for every request:
- no 500 (nor any 5xx but the 503 of ``max_inflight_bytes``);
- a refused request (4xx, or GraphQL ``errors``) changes nothing;
- memory stays bounded: what the backend stores stays under its limits, the request log under its.

The requests go through the WSGI app in-process (werkzeug's test client), so hundreds of examples
cost a few seconds. Profiles: ``RUNRESUME_FUZZ=ci`` (default; derandomized, the same examples on
every run, a few seconds) and ``RUNRESUME_FUZZ=long`` (random, 20x the examples, for local runs):
``RUNRESUME_FUZZ=long python -m pytest tests/wire/test_wire_fuzz.py``.
"""

from __future__ import annotations

import gzip
import json
import os
from importlib import resources
from typing import Any

import graphql
import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import Mode, from_schema
from werkzeug.test import Client

from pytest_runresume.model import FileChunk, Limits, ManualClock, Model, RunUpsert
from pytest_runresume.wire import HANDLERS, FakeWandbApp
from pytest_runresume.wire.limits import WireLimits

settings.register_profile(
    "runresume-fuzz-ci",
    derandomize=True,
    database=None,
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile(
    "runresume-fuzz-long", parent=settings.get_profile("runresume-fuzz-ci"), derandomize=False, max_examples=2_400
)
FUZZ = settings.get_profile(f"runresume-fuzz-{os.environ.get('RUNRESUME_FUZZ', 'ci')}")

SDL = resources.files("pytest_runresume.wire").joinpath("schema.graphql").read_text()
SCHEMA = graphql.build_schema(SDL)
LIMITS = Limits(max_line_gap=1_000, max_run_bytes=200_000, max_total_bytes=400_000, max_runs=20, max_problems=500)
WIRE = WireLimits(request_log=50, max_decompressed=100_000, max_json_depth=16)
KEY = "k" * 40
AUTH = {"Authorization": "Basic " + __import__("base64").b64encode(f"api:{KEY}".encode()).decode()}
HISTORY = [json.dumps({"_step": i, "loss": 1.0 / (i + 1)}) for i in range(3)]


def fresh() -> tuple[FakeWandbApp, Client]:
    """A backend holding one run with history (and its source for forks), served in-process."""
    model = Model(clock=ManualClock(), limits=LIMITS)
    config = json.dumps({"lr": {"value": 0.1}, "_wandb": {"value": {"t": {"1": [1]}}}})
    model.upsert_run(RunUpsert.from_variables({"name": "run-a", "project": "proj", "host": "h", "config": config}))
    model.file_stream(model.key(None, "proj", "run-a"), {"wandb-history.jsonl": FileChunk(0, HISTORY)})
    app = FakeWandbApp(model, KEY, limits=WIRE)
    return app, Client(app)


def fingerprint(app: FakeWandbApp) -> str:
    """Everything a refused request must leave as it was (problems and the request log aside)."""
    b = app.model
    with b.lock:
        runs = sorted((str(k), repr(r)) for k, r in b.runs.items())
        return repr((runs, b.now(), sorted(map(str, b.deleted)), b.sweeps.sweeps, b.sweeps.agents, app.faults.rules))


def check(app: FakeWandbApp, before: str, status: int, body: bytes) -> None:
    """The invariants of one answered request."""
    assert status < 500 or status == 503, (status, body[:500])
    refused = status >= 400
    if not refused and body.startswith(b"{"):
        answer = json.loads(body)
        refused = isinstance(answer, dict) and bool(answer.get("errors"))
    if refused:
        assert fingerprint(app) == before, ("a refused request changed the backend", status, body[:300])
    b = app.model
    assert b.stored_bytes <= LIMITS.max_total_bytes
    assert all(r.stored_bytes <= LIMITS.max_run_bytes for r in b.runs.values())
    assert all(gaps <= LIMITS.max_line_gap for r in b.runs.values() for gaps in r.gaps.values())
    assert len(b.runs) <= LIMITS.max_runs and len(b.problems) <= LIMITS.max_problems
    assert len(app.requests) <= WIRE.request_log


# ---- values that have broken servers before ---------------------------------------------------------
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 2, -1, 2**63, 1e308, 1e999, float("nan"), 1e13, 10**13]),
)
NAMES = st.sampled_from(["run-a", "run-b", "proj", "testent", "_step", "src", "", " x", "a/b", "swp00001"])
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, NAMES, st.text(max_size=30))
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8) | NAMES, inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def config_strings(draw: st.DrawFn) -> str:
    """A config JSON string, often with a fork branch point whose step is anything."""
    wandb: dict[str, Any] = {"t": {"1": [1]}}
    if draw(st.booleans()):
        wandb["branch_point"] = {"run_id": draw(NAMES), "step": draw(JSONISH)}
    text = json.dumps({"lr": {"value": draw(JSONISH)}, "_wandb": {"value": wandb}})
    return draw(st.sampled_from([text, text[:-1], "[" * 40 + "]" * 40, '{"a": ' + "[" * 30 + "]" * 30 + "}"]))


VARIABLE_NAMES = [
    "id", "name", "project", "entity", "config", "summaryMetrics", "tags", "host", "program", "state", "sweep",
    "runName", "metricName", "metricValue", "files", "run", "input", "runState", "entityName", "projectName",
    "displayName", "notes", "groupName", "jobType", "display_name",
]  # fmt: skip
VARIABLES = st.one_of(
    st.dictionaries(
        st.sampled_from(VARIABLE_NAMES), st.one_of(JSONISH, config_strings(), st.just("run-a")), max_size=10
    ),
    st.fixed_dictionaries(
        {"name": NAMES, "project": st.just("proj"), "host": st.just("h"), "config": config_strings()}
    ),
    st.fixed_dictionaries(
        {"runName": NAMES, "project": st.just("proj"), "metricName": st.just("_step"), "metricValue": JSONISH}
    ),
    JSONISH,
)


@st.composite
def graphql_requests(draw: st.DrawFn) -> bytes:
    """A GraphQL request body: a document from the schema named as one of the fake's operations
    (or another name), fuzzed variables; sometimes a broken envelope."""
    mode = draw(st.sampled_from([Mode.POSITIVE, Mode.NEGATIVE]))
    kind = draw(st.sampled_from(["query", "mutation"]))
    doc = str(draw(from_schema(SCHEMA, mode=mode) if kind == "query" else from_schema(SCHEMA, mode=mode)))
    name = draw(st.sampled_from(sorted(HANDLERS) + ["Nope", "query"]))
    doc = doc.replace("mutation {", f"mutation {name} {{", 1) if doc.startswith("mutation") else f"query {name} {doc}"
    body: Any = {"query": doc, "variables": draw(VARIABLES)}
    if draw(st.booleans()):
        body["operationName"] = draw(st.one_of(st.just(name), JSONISH))
    envelope = draw(st.sampled_from(["ok", "ok", "ok", "list", "no-query", "truncated"]))
    if envelope == "list":
        body = [body]
    elif envelope == "no-query":
        body.pop("query")
    raw = json.dumps(body).encode()
    return raw[: len(raw) // 2] if envelope == "truncated" else raw


@FUZZ
@given(graphql_requests())
def test_fuzz_graphql(raw: bytes) -> None:
    app, client = fresh()
    before = fingerprint(app)
    r = client.post("/graphql", data=raw, headers=AUTH)
    check(app, before, r.status_code, r.get_data())


# ---- file_stream ----------------------------------------------------------------------------------------
FILE_NAMES = st.sampled_from(
    ["wandb-history.jsonl", "wandb-events.jsonl", "output.log", "wandb-summary.json"]
) | st.text(max_size=12)
LINES = st.one_of(
    st.text(max_size=40),
    st.builds(json.dumps, st.dictionaries(st.sampled_from(["_step", "loss", "_runtime"]), JSONISH, max_size=3)),
    st.just('{"a": ' + "[" * 20 + "]" * 20 + "}"),
    JSONISH,
)
OFFSETS = st.one_of(st.integers(min_value=0, max_value=2_000), NUMBERS, JSONISH)
CHUNKS = st.one_of(
    st.fixed_dictionaries({"offset": OFFSETS, "content": st.lists(LINES, max_size=5)}),
    st.fixed_dictionaries({"offset": OFFSETS, "content": st.lists(st.text(max_size=5_000), max_size=8)}),
    JSONISH,
)
FILE_STREAM_BODIES = st.one_of(
    st.fixed_dictionaries(
        {"files": st.dictionaries(FILE_NAMES, CHUNKS, max_size=4)},
        optional={
            "preempting": JSONISH,
            "complete": JSONISH,
            "exitcode": JSONISH,
            "uploaded": JSONISH | st.lists(st.text(max_size=5)),
        },
    ),
    JSONISH,
)


@FUZZ
@given(
    st.lists(
        st.tuples(
            FILE_STREAM_BODIES,
            st.sampled_from(["run-a", "run-b"]),
            st.sampled_from(["plain", "plain", "gzip", "bomb", "broken-gzip", "shared"]),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_fuzz_file_stream(requests: list[tuple[Any, str, str]]) -> None:
    app, client = fresh()
    for body, run, how in requests:
        raw = json.dumps(body).encode()
        headers = dict(AUTH)
        if how in ("gzip", "bomb", "broken-gzip"):
            headers["Content-Encoding"] = "gzip"
            raw = gzip.compress(raw + (b" " * 1_000_000 if how == "bomb" else b""))
            raw = raw[:-5] if how == "broken-gzip" else raw
        elif how == "shared":
            headers.update({"X-WANDB-USE-ASYNC-FILESTREAM": "true", "X-WANDB-ASYNC-CLIENT-ID": "w1"})
        before = fingerprint(app)
        r = client.post(f"/files/testent/proj/{run}/file_stream", data=raw, headers=headers)
        check(app, before, r.status_code, r.get_data())
        assert app.inflight.held == 0


# ---- the control API --------------------------------------------------------------------------------------
CONTROL = st.sampled_from(
    [
        ("GET", "/_runresume/state"),
        ("POST", "/_runresume/clock"),
        ("POST", "/_runresume/stop"),
        ("POST", "/_runresume/faults"),
        ("GET", "/_runresume/faults"),
        ("DELETE", "/_runresume/faults"),
        ("POST", "/_runresume/reset"),
        ("PUT", "/_runresume/clock"),
        ("POST", "/_runresume/nope"),
    ]
)
CONTROL_BODIES = st.one_of(
    st.fixed_dictionaries({"advance": JSONISH}),
    st.fixed_dictionaries({"path": st.one_of(st.just("testent/proj/run-a"), JSONISH)}),
    st.fixed_dictionaries(
        {"action": st.sampled_from(["fail", "delay", "drop", "graphql_error", "nope"]) | JSONISH},
        optional={
            "target": st.sampled_from(["UpsertBucket", "file_stream", "*"]) | JSONISH,
            "status": JSONISH,
            "times": JSONISH,
            "seconds": JSONISH,
            "retry_after": JSONISH,
            "carrying": JSONISH,
            "skip": JSONISH,
        },
    ),
    JSONISH,
)


@FUZZ
@given(CONTROL, CONTROL_BODIES, st.sampled_from(["key", "key", "key", "none", "wrong"]))
def test_fuzz_control_api(route: tuple[str, str], body: Any, key: str) -> None:
    app, client = fresh()
    headers = AUTH if key == "key" else ({"Authorization": "Basic d3Jvbmc6a2V5"} if key == "wrong" else {})
    before, problems = fingerprint(app), list(app.model.problems)
    r = client.open(route[1], method=route[0], data=json.dumps(body).encode(), headers=headers)
    check(app, before, r.status_code, r.get_data())
    if key != "key":
        assert r.status_code == 401 and app.model.problems == problems and app.requests == []
    # whatever was accepted, the backend still answers its pages and the SDK's first upsert
    assert client.get("/").status_code == 200
    upsert = json.dumps({"query": "mutation UpsertBucket { x }", "variables": {"name": "run-z", "project": "proj"}})
    answer = client.post("/graphql", data=upsert, headers=AUTH)
    assert answer.status_code == 200 and (route[1] == "/_runresume/reset" or "errors" not in answer.get_json())


def test_the_schema_names_a_root_field_for_every_kind_of_operation():
    """The SDL parses, and its root fields cover what the handlers answer."""
    fields = set(SCHEMA.query_type.fields) | set(SCHEMA.mutation_type.fields)  # type: ignore[union-attr]
    assert {"viewer", "model", "project", "upsertBucket", "createRunFiles", "rewindRun", "agentHeartbeat"} <= fields
    assert len(HANDLERS) >= 20
