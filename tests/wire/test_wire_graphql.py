"""GraphQL over the wire: how the operation is found, how refusals look, and the public ``Run`` query.

NOTES section 0: wandb-core fills ``operationName``; the public API sends ``""`` and the name comes
from the document (which may start with a ``#graphql`` comment line and hold fragments). A request the
fake cannot answer is HTTP 200 with ``errors`` (no retry) and is recorded in ``model.problems``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from pytest_runresume.model import RunUpsert, messages
from pytest_runresume.wire import FakeServer

TIMEOUT = 10
CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"


def captured(scenario: str, op: str) -> dict:
    """The first recorded GraphQL request ``op`` of a capture."""
    with open(CAPTURES / f"{scenario}.jsonl") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec.get("graphql_op") == op:
                return rec
    raise LookupError(f"{op} not in {scenario}")


def post(served: FakeServer, body: object, **kw) -> requests.Response:
    kw.setdefault("auth", ("api", served.api_key))
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(
        f"{served.url}/graphql", data=data, headers={"Content-Type": "application/json"}, timeout=TIMEOUT, **kw
    )


def gql(served: FakeServer, query: str, variables: dict | None, op: str | None) -> requests.Response:
    r = post(served, {"query": query, "variables": variables, "operationName": op})
    assert r.status_code == 200, r.text
    return r


def error_of(r: requests.Response) -> str:
    body = r.json()
    assert r.status_code == 200, "a refusal is HTTP 200 + errors so the SDK does not retry (NOTES 0)"
    assert body.get("data") is None
    return body["errors"][0]["message"]


def upsert_real(served: FakeServer, name: str = "run-a", project: str = "proj") -> None:
    """The real first UpsertBucket of captures/a_new_run (query and variables), for run ``name``."""
    rec = captured("a_new_run", "UpsertBucket")
    variables = dict(rec["variables"], name=name, project=project)
    body = gql(served, rec["query"], variables, "UpsertBucket").json()
    assert "errors" not in body, body


RUN_QUERY = captured("f_api_run_state", "Run")["query"] if CAPTURES.is_dir() else ""


# ---- operation name ------------------------------------------------------------------------------
def test_operation_name_from_operationName(served):
    """NOTES section 0, 1.1: wandb-core's ``operationName`` picks the handler."""
    rec = captured("a_new_run", "Viewer")
    r = gql(served, rec["query"], rec["variables"], "Viewer")
    assert r.json()["data"]["viewer"]["entity"] == served.model.entity
    assert served.app.requests[-1].operation == "Viewer"


def test_operationName_picks_one_of_several_operations(served):
    """NOTES section 0: with several operations in one document ``operationName`` selects one."""
    doc = "query GetDefaultEntity { viewer { id entity } }\nquery Nope { nope }"
    r = gql(served, doc, None, "GetDefaultEntity")
    assert r.json()["data"]["viewer"]["entity"] == served.model.entity


@pytest.mark.parametrize("op", ["", None])
def test_operation_name_from_the_document(served, op):
    """NOTES section 0: the public API sends ``operationName: ""``; the name comes from the document."""
    rec = captured("f_api_run_state", "GetDefaultEntity")
    r = gql(served, rec["query"], rec["variables"], op)
    assert r.json()["data"]["viewer"]["entity"] == served.model.entity
    assert served.app.requests[-1].operation == "GetDefaultEntity"


def test_public_run_query_with_graphql_comment_and_fragment(served):
    """NOTES section 0 and 1.7: the real ``Run`` document (``#graphql`` first line, ``...RunFragment``)
    with ``operationName: ""`` is dispatched as ``Run``."""
    assert RUN_QUERY.lstrip().startswith("#graphql") and "fragment RunFragment" in RUN_QUERY
    upsert_real(served)
    r = gql(served, RUN_QUERY, {"entity": "testent", "name": "run-a", "project": "proj"}, "")
    body = r.json()
    assert "errors" not in body, body
    assert body["data"]["project"]["run"]["name"] == "run-a"
    assert served.app.requests[-1].operation == "Run"
    assert served.model.problems == []


# ---- refusals ------------------------------------------------------------------------------------
def test_unknown_operation_is_an_error_naming_it_and_a_problem(served):
    """NOTES section 0 (HTTP 200 + errors, no retry): an operation without handler is named."""
    r = gql(
        served,
        "mutation DeleteProject($id: ID!) { deleteProject(input: {id: $id}) { clientMutationId } }",
        {"id": "x"},
        "DeleteProject",
    )
    text = error_of(r)
    assert text == messages.UNKNOWN_OPERATION.format(name="DeleteProject")
    assert "DeleteProject" in text
    assert served.model.problems == [text]


def test_unknown_operation_from_the_document_is_named(served):
    """NOTES section 0: also when the name came from the document (public API, ``operationName: ""``)."""
    r = gql(
        served,
        "#graphql\nquery RunOutputArtifacts { project { run { outputArtifacts { edges { node { name } } } } } }",
        {},
        "",
    )
    text = error_of(r)
    assert text == messages.UNKNOWN_OPERATION.format(name="RunOutputArtifacts")
    assert served.model.problems == [text]


@pytest.mark.parametrize("doc", ["query Viewer { viewer { id ", "this is not graphql", "query { }"])
def test_document_that_does_not_parse_is_an_error_and_a_problem(served, doc):
    """NOTES section 0: a malformed document is refused (200 + errors) and recorded."""
    r = gql(served, doc, None, "Viewer")
    text = error_of(r)
    assert text.startswith(messages.MALFORMED_GRAPHQL.format(detail=""))
    assert served.model.problems == [text]


def test_operationName_not_in_the_document_is_an_error(served):
    """NOTES section 0: ``operationName`` naming an operation the document does not hold is refused."""
    r = gql(served, "query Viewer { viewer { id } }", None, "UpsertBucket")
    text = error_of(r)
    assert "UpsertBucket" in text
    assert text.startswith(messages.MALFORMED_GRAPHQL.format(detail=""))
    assert served.model.problems == [text]


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param('{ project(name: "p") { id } }', id="anonymous"),
        pytest.param("query A { viewer { id } }\nquery B { viewer { id } }", id="two-operations"),
    ],
)
def test_document_without_exactly_one_named_operation_and_no_operationName(served, doc):
    """NOTES section 0: without ``operationName`` the document must name exactly one operation (the
    one anonymous document an SDK sends, ``query { viewer { id } }``, is the next test's)."""
    text = error_of(gql(served, doc, None, ""))
    assert text.startswith(messages.MALFORMED_GRAPHQL.format(detail=""))
    assert served.model.problems == [text]


@pytest.mark.parametrize("doc", ["query { viewer { id } }", "{ viewer { id } }"])
def test_the_anonymous_viewer_query_of_older_sdks_is_answered_as_viewer(served, doc):
    """wandb <= 0.28.0 checks the API key with an anonymous ``query { viewer { id } }``."""
    body = gql(served, doc, None, "").json()
    assert body["data"]["viewer"]["id"] and served.model.problems == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param([1, 2], id="not-an-object"),
        pytest.param({"variables": {}}, id="no-query"),
        pytest.param({"query": 5}, id="query-not-a-string"),
    ],
)
def test_malformed_graphql_body_is_an_error_and_a_problem(served, body):
    """NOTES section 0 (``POST /graphql`` JSON ``{query, variables, operationName}``)."""
    text = error_of(post(served, body))
    assert "/graphql" in text
    assert served.model.problems == [text]


def test_variables_not_an_object_is_an_error(served):
    """NOTES section 0: ``variables`` must be an object (or null)."""
    text = error_of(gql(served, "query Viewer { viewer { id } }", [1], "Viewer"))  # type: ignore[arg-type]
    assert "variables" in text
    assert served.model.problems == [text]


def test_missing_required_variable_is_an_error_naming_the_operation(served):
    """NOTES 1.3: RunResumeStatus without ``name`` is refused naming the operation, not a 500."""
    rec = captured("c_must_exist", "RunResumeStatus")
    text = error_of(gql(served, rec["query"], {"project": "proj", "entity": None}, "RunResumeStatus"))
    assert "RunResumeStatus" in text
    assert served.model.problems == [text]


@pytest.mark.rules("R31")
def test_upsert_with_a_bad_run_id_is_refused(served):
    """R31, NOTES section 2 (refuse with 200 + errors): a reserved character in the run id."""
    rec = captured("a_new_run", "UpsertBucket")
    text = error_of(gql(served, rec["query"], dict(rec["variables"], name="a/b"), "UpsertBucket"))
    assert "UpsertBucket" in text and "a/b" in text
    assert served.model.runs == {}


# ---- the public Run query and RunResumeStatus -----------------------------------------------------
def test_public_run_for_a_missing_run_is_null(served):
    """NOTES 1.7: ``project.run == null`` makes the SDK raise RunNotFoundError."""
    r = gql(served, RUN_QUERY, {"entity": "testent", "name": "does-not-exist", "project": "proj"}, "")
    body = r.json()
    assert "errors" not in body
    assert body["data"]["project"]["run"] is None
    assert served.model.problems == []


@pytest.mark.rules("R51")
def test_public_run_state_is_lowercase_and_projectId_is_an_int(served):
    """R51 (lowercase states), NOTES 1.7 (``projectId`` parsed as int)."""
    upsert_real(served)
    upsert_real(served, "run-b", project="other")
    for name, project in (("run-a", "proj"), ("run-b", "other")):
        run = gql(served, RUN_QUERY, {"entity": "testent", "name": name, "project": project}, "").json()["data"][
            "project"
        ]["run"]
        assert run["state"] == "running"
        assert run["state"] == run["state"].lower()
        assert isinstance(int(run["projectId"]), int)
        assert run["user"]["username"] == served.model.username
        assert isinstance(run["historyKeys"], dict) and "lastStep" in run["historyKeys"]
        json.loads(run["config"])
        json.loads(run["summaryMetrics"])
    run_a = gql(served, RUN_QUERY, {"entity": "testent", "name": "run-a", "project": "proj"}, "").json()
    run_b = gql(served, RUN_QUERY, {"entity": "testent", "name": "run-b", "project": "other"}, "").json()
    assert run_a["data"]["project"]["run"]["projectId"] != run_b["data"]["project"]["run"]["projectId"]


@pytest.mark.rules("R51", "R55", "R58", "R61", "R65", "R66")
@pytest.mark.parametrize("state", ["finished", "failed", "crashed", "preempting", "preempted", "killed"])
def test_public_run_state_values(served, state):
    """R51, R55, R58, R61, R65, R66: each derived state reaches the public API in lowercase."""
    upsert_real(served)
    model = served.model
    key = model.key("testent", "proj", "run-a")
    if state in ("preempting", "preempted"):
        model.file_stream(key, {}, preempting=True)
    if state == "killed":
        model.request_stop("testent/proj/run-a")
    if state in ("finished", "failed", "preempted", "killed"):
        model.file_stream(key, {}, complete=True, exit_code=0 if state == "finished" else 1)
    if state == "crashed":
        model.advance_clock(model.crash_timeout + 1)
    run = gql(served, RUN_QUERY, {"entity": "testent", "name": "run-a", "project": "proj"}, "").json()
    assert run["data"]["project"]["run"]["state"] == state


@pytest.mark.rules("R02", "R04")
def test_run_resume_status_for_a_missing_run_is_bucket_null(served):
    """NOTES 1.3, R02/R04: a missing run is ``model.bucket == null``."""
    rec = captured("c_must_exist", "RunResumeStatus")
    body = gql(served, rec["query"], {"project": "proj", "entity": None, "name": "nope"}, "RunResumeStatus").json()
    assert "errors" not in body
    assert body["data"]["model"]["bucket"] is None
    assert body["data"]["model"]["entity"]["name"] == served.model.entity


@pytest.mark.rules("R43", "R53")
def test_run_resume_status_of_a_precreated_run_has_no_t(served):
    """R43, R53: a run created ahead (``Run.create``) has a bucket but no ``t`` in ``wandbConfig``."""
    served.model.create_run("pre", project="proj", state="pending")
    rec = captured("c_must_exist", "RunResumeStatus")
    body = gql(served, rec["query"], {"project": "proj", "entity": None, "name": "pre"}, "RunResumeStatus").json()
    bucket = body["data"]["model"]["bucket"]
    assert bucket is not None
    assert "t" not in json.loads(bucket["wandbConfig"])
    for count in ("historyLineCount", "eventsLineCount", "logLineCount"):
        assert bucket[count] == 0


@pytest.mark.rules("R29")
def test_create_run_files_for_a_missing_run_is_an_error_naming_it(served):
    """NOTES 1.5, R29: CreateRunFiles for an unknown run names the path."""
    rec = captured("a_new_run", "CreateRunFiles")
    text = error_of(gql(served, rec["query"], dict(rec["variables"], run="ghost"), "CreateRunFiles"))
    assert "testent/proj/ghost" in text
    assert served.model.problems == [text]


@pytest.mark.parametrize(
    "op", ["OrganizationCoreWeaveOrganizationID", "ProbeServerCapabilities", "ProbeServerSettings"]
)
def test_optional_queries_answer_empty_data(served, op):
    """NOTES 1.4: optional queries are answered ``{"data": {}}`` without a problem."""
    body = gql(served, f"query {op} {{ whatever }}", {"entityName": "testent"}, op).json()
    assert body == {"data": {}}
    assert served.model.problems == []


def test_type_probes_of_older_sdks_are_answered_from_the_schema(served):
    """wandb 0.19-0.25 probe fields with ``__type`` (``ProbeRunInput``): the answer comes from
    ``schema.graphql``; a type the fake does not model is null (the SDK then keeps off that path)."""
    doc = 'query ProbeRunInput { RunType: __type(name:"Run") { fields { name } } }'
    fields = [f["name"] for f in gql(served, doc, None, "").json()["data"]["RunType"]["fields"]]
    assert "projectId" in fields and "history" in fields
    doc = 'query ProbeDeleteFiles { T: __type(name:"DeleteFilesInput") { inputFields { name } } }'
    assert gql(served, doc, None, "").json()["data"] == {"T": None}
    assert served.model.problems == []


def test_run_stopped_status_of_older_sdks_names_the_run_by_run_id(served):
    """wandb <= 0.22 polls ``RunStoppedStatus`` with ``entityName``/``projectName``/``runId``."""
    served.model.upsert_run(RunUpsert.from_variables({"name": "old", "project": "proj", "host": "h"}))
    doc = """query RunStoppedStatus($projectName: String, $entityName: String, $runId: String!) {
      project(name: $projectName, entityName: $entityName) { run(name: $runId) { stopped } } }"""
    variables = {"entityName": "testent", "projectName": "proj", "runId": "old"}
    body = gql(served, doc, variables, "RunStoppedStatus").json()
    assert body["data"]["project"]["run"]["stopped"] is False and served.model.problems == []
