"""The sweep and agent operations over the wire (NOTES 1.8), with the documents the real SDK sends.

``g_sweep_create`` and ``g_agent_run_preempt_resume`` (shipped in ``tests/data/captures``) hold what
``wandb sweep`` and ``wandb agent`` (0.31.0) sent to a recording server: ``UpsertSweep``,
``SweepWithRuns``, ``CreateAgent``, ``Heartbeat``, and the sweep run's own requests. The other
``UpsertSweep`` variants the CLI falls back to, and the one ``wandb sweep --pause`` & co. send, are
built from the same text the way ``wandb/apis/public/sweeps.py`` builds them.

Rules R72, R81, R82, R86, A03.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from test_wire_replay import load, missing_selected_fields  # the capture reader and field checker

from pytest_runresume.model import Limits, Model, messages
from pytest_runresume.wire import FakeServer

TIMEOUT = 10
CREATE = next(r for r in load("g_sweep_create") if r.get("graphql_op") == "UpsertSweep")
AGENT = load("g_agent_run_preempt_resume")
SWEEP_WITH_RUNS, CREATE_AGENT, HEARTBEAT = (
    next(r for r in AGENT if r.get("graphql_op") == op) for op in ("SweepWithRuns", "CreateAgent", "Heartbeat")
)

#: ``_set_sweep_state``'s mutation (wandb 0.31 ``apis/public/sweeps.py``).
SET_STATE = """
    mutation UpsertSweep(
        $id: ID,
        $state: String,
        $entityName: String,
        $projectName: String
    ) {
        upsertSweep(input: {
            id: $id,
            state: $state,
            entityName: $entityName,
            projectName: $projectName
        }){
            sweep {
                name
            }
        }
    }
"""


def _variant(drop_launch_vars: bool, drop_project: bool, drop_warnings: bool) -> str:
    """One of the CLI's fallback ``UpsertSweep`` documents, derived from the captured first one."""
    query = CREATE["query"]
    if drop_launch_vars:
        query = query.replace("$launchScheduler: JSONString, $templateVariableValues: JSONString,", "")
        query = query.replace("launchScheduler: $launchScheduler,templateVariableValues: $templateVariableValues,", "")
    if drop_project:
        start = query.index("project {")
        end = query.index("}\n        }\n", start) + len("}\n        }\n")
        query = query[:start] + query[end:]
    if drop_warnings:
        query = query.replace("configValidationWarnings", "")
    return query


@pytest.fixture(scope="module")
def server():
    with FakeServer() as srv:  # one loopback server for the module, reset for each test
        yield srv


@pytest.fixture
def served(server):
    server.reset()
    return server


def call(served: FakeServer, query: str, variables: dict[str, Any], op: str | None) -> dict[str, Any]:
    r = requests.post(
        f"{served.url}/graphql",
        json={"query": query, "variables": variables, "operationName": op},
        auth=("api", served.api_key),
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    return r.json()


def ok(served: FakeServer, rec: dict[str, Any], **variables: Any) -> dict[str, Any]:
    """Send a captured request (variables overridden), check every selected field is answered."""
    body = call(served, rec["query"], {**rec["variables"], **variables}, rec["graphql_op"])
    assert "errors" not in body, body
    assert missing_selected_fields(rec["query"], rec["graphql_op"], body["data"]) == []
    return body["data"]


def create_sweep(served: FakeServer) -> str:
    return ok(served, CREATE)["upsertSweep"]["sweep"]["name"]


def sweep_state(served: FakeServer, name: str) -> str:
    return ok(served, SWEEP_WITH_RUNS, sweep=name)["project"]["sweep"]["state"]


# ---- UpsertSweep ----------------------------------------------------------------------------------


def test_upsert_sweep_creates_the_sweep_the_cli_prints(served):
    """NOTES 1.8: the captured ``wandb sweep`` request creates a grid sweep in the viewer's entity
    (``entityName`` is null) and the project it names; the answer carries the name and project."""
    data = ok(served, CREATE)
    sweep = data["upsertSweep"]["sweep"]
    assert sweep["name"] == "swp00001"
    assert sweep["project"]["name"] == "sweepproj" and sweep["project"]["entity"]["name"] == "testent"
    assert data["upsertSweep"]["configValidationWarnings"] == []
    model = served.model.sweeps.get("testent/sweepproj/swp00001")
    assert model.method == "grid" and model.grid_size() == 2 and model.program == "train.py"
    assert model.config_yaml == CREATE["variables"]["config"]


@pytest.mark.parametrize(
    "flags",
    [(False, False, False), (True, False, False), (True, False, True), (True, True, True)],
    ids=["mutation_5", "mutation_3", "mutation_2", "mutation_1"],
)
def test_every_upsert_sweep_variant_the_cli_tries_is_answered(served, flags):
    """The CLI tries its variants in turn, with the same variables, and takes the first that
    succeeds: each one works alone."""
    query = _variant(*flags)
    body = call(served, query, CREATE["variables"], "UpsertSweep")
    assert "errors" not in body, body
    assert missing_selected_fields(query, "UpsertSweep", body["data"]) == []
    assert body["data"]["upsertSweep"]["sweep"]["name"] == "swp00001"


def test_bayes_is_created_and_without_a_metric_refused(served):
    """``method: bayes``: the real server creates the sweep (PENDING until an agent asks); without a
    ``metric`` it is a GraphQL error naming it, a rule refusal and not a problem."""
    config = "method: bayes\nmetric: {name: loss, goal: minimize}\nparameters:\n  lr: {min: 0.1, max: 1.0}\n"
    body = call(served, CREATE["query"], {**CREATE["variables"], "config": config}, "UpsertSweep")
    assert body["data"]["upsertSweep"]["sweep"]["name"] == "swp00001"
    assert served.model.sweeps.get("testent/sweepproj/swp00001").method == "bayes"
    config = "method: bayes\nparameters:\n  lr: {min: 0.1, max: 1.0}\n"
    body = call(served, CREATE["query"], {**CREATE["variables"], "config": config}, "UpsertSweep")
    assert "needs a metric" in body["errors"][0]["message"]
    assert served.model.problems == [] and len(served.model.sweeps.sweeps) == 1


def test_deprecated_distributions_are_answered_as_the_engines_warnings(served):
    """``configValidationWarnings``: W&B's server answers its sweeps engine's warnings, which
    ``wandb sweep`` prints; for a config the fake accepts, the deprecated ``log_uniform`` spellings
    (one per top-level parameter, in the config's order, worded as the engine words them). A
    ``wandb sweep --update`` with such a config gets them too; a state change gets none."""
    config = (
        "method: random\nparameters:\n  wd: {distribution: inv_log_uniform, min: -3, max: 0}\n"
        "  lr: {distribution: log_uniform, min: -5, max: 0}\n  n: {values: [1, 2]}\n"
        "  opt: {parameters: {m: {distribution: q_log_uniform, min: 0, max: 3}}}\n"
    )
    data = ok(served, CREATE, config=config)
    assert data["upsertSweep"]["configValidationWarnings"] == [
        "wd uses inv_log_uniform, where min/max specify base-e exponents. Use inv_log_uniform_values to specify limit values.",
        "lr uses log_uniform, where min/max specify base-e exponents. Use log_uniform_values to specify limit values.",
    ]
    sweep_id = served.model.sweeps.get("testent/sweepproj/swp00001").storage_id
    update = "method: random\nparameters:\n  b: {distribution: q_log_uniform, min: 0, max: 3, q: 2}\n"
    assert ok(served, CREATE, id=sweep_id, config=update)["upsertSweep"]["configValidationWarnings"] == [
        "b uses q_log_uniform, where min/max specify base-e exponents. Use q_log_uniform_values to specify limit values."
    ]
    assert ok(served, CREATE, id=sweep_id, state="PAUSED")["upsertSweep"]["configValidationWarnings"] == []


def test_bad_config_is_refused_without_failing_the_test(served):
    """A config the server refuses (grid over a continuous range) is a documented refusal: an error
    naming it, not a problem."""
    config = "method: grid\nparameters:\n  lr: {min: 0.1, max: 1.0}\n"
    body = call(served, CREATE["query"], {**CREATE["variables"], "config": config}, "UpsertSweep")
    assert "discrete" in body["errors"][0]["message"]
    assert served.model.problems == []


@pytest.mark.rules("R86")
@pytest.mark.parametrize(
    ("steps", "states"),
    [
        (["PAUSED", "RUNNING"], ["PAUSED", "RUNNING"]),
        (["FINISHED"], ["FINISHED"]),
        (["PAUSED", "CANCELED"], ["PAUSED", "CANCELED"]),
    ],
    ids=["pause-resume", "stop", "pause-cancel"],
)
def test_state_changes_the_way_wandb_sweep_flags_send_them(served, steps, states):
    """R86: ``--pause/--resume/--stop/--cancel`` send UpsertSweep with the sweep's opaque id and
    PAUSED/RUNNING/FINISHED/CANCELED; SweepWithRuns answers the new state."""
    name = create_sweep(served)
    sweep_id = ok(served, SWEEP_WITH_RUNS, sweep=name)["project"]["sweep"]["id"]
    seen = []
    for state in steps:
        variables = {"id": sweep_id, "state": state, "entityName": "testent", "projectName": "sweepproj"}
        body = call(served, SET_STATE, variables, None)
        assert body["data"]["upsertSweep"]["sweep"]["name"] == name
        seen.append(sweep_state(served, name))
    assert seen == states


@pytest.mark.rules("R86")
def test_refused_state_change_is_an_error_but_not_a_problem(served):
    """R86: resuming a cancelled sweep is refused (a documented refusal, not a test problem)."""
    name = create_sweep(served)
    sweep_id = served.model.sweeps.get(f"testent/sweepproj/{name}").storage_id
    variables = {"id": sweep_id, "entityName": "testent", "projectName": "sweepproj"}
    call(served, SET_STATE, {**variables, "state": "CANCELED"}, None)
    body = call(served, SET_STATE, {**variables, "state": "RUNNING"}, None)
    assert "cannot set sweep" in body["errors"][0]["message"]
    assert served.model.problems == [] and sweep_state(served, name) == "CANCELED"


def test_update_replaces_the_config(served):
    """``wandb sweep --update``: UpsertSweep with the id and a new config."""
    name = create_sweep(served)
    sweep_id = served.model.sweeps.get(f"testent/sweepproj/{name}").storage_id
    config = "method: grid\nparameters:\n  lr:\n    values: [1, 2, 3]\n"
    ok(served, CREATE, id=sweep_id, config=config)
    assert ok(served, SWEEP_WITH_RUNS, sweep=name)["project"]["sweep"]["config"] == config


def test_update_with_a_display_name_renames_the_sweep(served):
    """UpsertSweep with the id and ``displayName`` renames the sweep (W&B's own
    ``test_sweep_with_edited_display_name`` does it through the SDK's internal upsert)."""
    name = create_sweep(served)
    sweep = served.model.sweeps.get(f"testent/sweepproj/{name}")
    ok(served, CREATE, id=sweep.storage_id, displayName="Updated Sweep Name")
    assert ok(served, SWEEP_WITH_RUNS, sweep=name)["project"]["sweep"]["displayName"] == "Updated Sweep Name"


@pytest.mark.parametrize("bad", ["", "   ", 7])
def test_update_with_a_bad_display_name_is_refused_and_changes_nothing(served, bad):
    name = create_sweep(served)
    sweep = served.model.sweeps.get(f"testent/sweepproj/{name}")
    before = (sweep.display_name, sweep.config_yaml, sweep.updated_at)
    config = "method: grid\nparameters:\n  lr:\n    values: [1, 2, 3]\n"
    body = call(served, CREATE["query"], {**CREATE["variables"], "id": sweep.storage_id, "displayName": bad,
                                          "config": config}, "UpsertSweep")  # fmt: skip
    assert "displayName" in body["errors"][0]["message"]
    assert (sweep.display_name, sweep.config_yaml, sweep.updated_at) == before  # not the config either
    served.model.problems.clear()  # the bad request is the point


# ---- SweepWithRuns, CreateAgent, Heartbeat -------------------------------------------------------------


def test_sweep_with_runs_answers_config_and_state_and_null_for_a_missing_sweep(served):
    """NOTES 1.8: the agent reads ``config`` (YAML, for ``command:``); ``sweep: null`` makes it say
    "not found"."""
    name = create_sweep(served)
    sweep = ok(served, SWEEP_WITH_RUNS, sweep=name)["project"]["sweep"]
    assert sweep["state"] == "PENDING" and sweep["method"] == "grid" and sweep["runs"]["edges"] == []
    assert sweep["config"] == CREATE["variables"]["config"]
    assert ok(served, SWEEP_WITH_RUNS, sweep="nosuchsweep")["project"]["sweep"] is None


def test_heartbeat_commands_are_a_json_string(served):
    """NOTES 1.8: ``commands`` is a JSON *string*; an idle agent gets one ``run`` with the program and
    ``{name: {value}}`` args; while it reports that run alive it gets nothing more."""
    name = create_sweep(served)
    agent_id = ok(served, CREATE_AGENT, sweep=name)["createAgent"]["agent"]["id"]
    beat = ok(served, HEARTBEAT, id=agent_id, runState="{}")["agentHeartbeat"]
    assert beat["agent"]["id"] == agent_id and isinstance(beat["commands"], str)
    (cmd,) = json.loads(beat["commands"])
    assert cmd == {"type": "run", "run_id": f"{name}-r001", "program": "train.py", "args": {"lr": {"value": 0.1}}}
    alive = json.dumps({cmd["run_id"]: True})
    assert json.loads(ok(served, HEARTBEAT, id=agent_id, runState=alive)["agentHeartbeat"]["commands"]) == []


def test_unknown_agent_is_an_error_naming_it(served):
    body = call(served, HEARTBEAT["query"], {**HEARTBEAT["variables"], "id": "QWdlbnQ6bm9uZQ=="}, "Heartbeat")
    assert "QWdlbnQ6bm9uZQ==" in body["errors"][0]["message"]
    assert served.model.problems
    served.model.problems.clear()


def test_sweeps_and_agents_past_their_limits_are_graphql_errors_that_change_nothing():
    """Issue 14: ``max_sweeps`` and ``max_agents`` (``docs/limits.md``) are answered as GraphQL errors
    naming the limit (not a 500), recorded as problems, and nothing is created."""
    with FakeServer(Model(limits=Limits(max_sweeps=1, max_agents=1))) as srv:
        name = create_sweep(srv)
        ok(srv, CREATE_AGENT, sweep=name)
        sweeps, agents = dict(srv.model.sweeps.sweeps), dict(srv.model.sweeps.agents)
        body = call(srv, CREATE["query"], CREATE["variables"], "UpsertSweep")
        path = f"testent/{CREATE['variables']['projectName']}"
        assert body["errors"][0]["message"] == "UpsertSweep: " + messages.TOO_MANY_SWEEPS.format(path=path, limit=1)
        body = call(srv, CREATE_AGENT["query"], {**CREATE_AGENT["variables"], "sweep": name}, "CreateAgent")
        sweep = srv.model.sweeps.get(f"{path}/{name}")
        assert body["errors"][0]["message"] == "CreateAgent: " + messages.TOO_MANY_AGENTS.format(
            path=sweep.path, limit=1
        )
        assert srv.model.sweeps.sweeps == sweeps and srv.model.sweeps.agents == agents
        assert len(srv.model.problems) == 2 and all("(max_" in p for p in srv.model.problems)
        srv.model.problems.clear()


def replay_run(served: FakeServer, run_id: str) -> None:
    """The captured sweep run's own requests (init, preempting, exit 143), for our run id."""
    auth = ("api", served.api_key)
    for rec in AGENT:
        if rec["path"] == "/graphql" and rec["graphql_op"] in ("UpsertBucket", "CreateRunFiles"):
            variables = json.loads(json.dumps(rec["variables"]).replace("swrun001", run_id))
            body = {"query": rec["query"], "variables": variables, "operationName": rec["graphql_op"]}
            r = requests.post(f"{served.url}/graphql", json=body, auth=auth, timeout=TIMEOUT)
        elif rec["path"].endswith("/file_stream"):
            path = rec["path"].replace("swrun001", run_id)
            r = requests.post(f"{served.url}{path}", data=json.dumps(rec["body"]), auth=auth, timeout=TIMEOUT)
        else:
            continue
        assert r.status_code == 200 and "errors" not in r.json(), r.text


@pytest.mark.rules("R72", "R81", "R82")
def test_captured_preempted_sweep_run_is_requeued_and_handed_out_as_resume(served):
    """R81, R82, R72: replaying the real sweep run (mark_preempting, exit 143) leaves it preempted and
    queued; the next heartbeat of another agent gets it back as ``resume`` with the same id and args
    before the second grid combination; SweepWithRuns lists it as preempted."""
    name = create_sweep(served)
    first = ok(served, CREATE_AGENT, sweep=name)["createAgent"]["agent"]["id"]
    (cmd,) = json.loads(ok(served, HEARTBEAT, id=first, runState="{}")["agentHeartbeat"]["commands"])
    replay_run(served, cmd["run_id"])
    run = served.model.run(f"testent/sweepproj/{cmd['run_id']}")
    assert served.model.state(run) == "preempted" and run.sweep == name
    assert list(served.model.sweeps.get(name).queue) == [cmd["run_id"]]
    (node,) = ok(served, SWEEP_WITH_RUNS, sweep=name)["project"]["sweep"]["runs"]["edges"]
    assert node["node"]["name"] == cmd["run_id"] and node["node"]["state"] == "preempted"
    assert node["node"]["exitcode"] == 143

    second = ok(served, CREATE_AGENT, sweep=name)["createAgent"]["agent"]["id"]
    (again,) = json.loads(ok(served, HEARTBEAT, id=second, runState="{}")["agentHeartbeat"]["commands"])
    assert again == {**cmd, "type": "resume"}
    assert served.model.problems == []


# ---- GetSweeps (Project.sweeps) -------------------------------------------------------------------

#: ``Project.sweeps()``'s query (wandb 0.31 ``apis/_generated``: ``GetSweeps`` and ``SweepFragment``).
GET_SWEEPS = """
query GetSweeps($project: String!, $entity: String!, $filters: JSONString!, $cursor: String, $perPage: Int = 50) {
  project(name: $project, entityName: $entity) {
    totalSweeps
    sweeps(after: $cursor, first: $perPage, filters: $filters) {
      pageInfo { __typename endCursor hasNextPage }
      edges { node { __typename id name displayName method state description bestLoss config
                     createdAt updatedAt runCount runCountExpected } }
    }
  }
}
"""


def get_sweeps(served: FakeServer, **variables: Any) -> dict[str, Any]:
    return call(served, GET_SWEEPS, {"entity": "testent", "project": "uncategorized", **variables}, "GetSweeps")


def test_get_sweeps_pages_through_the_project_s_sweeps(served):
    names = [create_sweep(served) for _ in range(3)]
    project = CREATE["variables"].get("projectName") or "uncategorized"
    first = get_sweeps(served, project=project, perPage=2)
    assert "errors" not in first and missing_selected_fields(GET_SWEEPS, "GetSweeps", first["data"]) == []
    page = first["data"]["project"]
    assert page["totalSweeps"] == 3 and page["sweeps"]["pageInfo"]["hasNextPage"] is True
    cursor = page["sweeps"]["pageInfo"]["endCursor"]
    rest = get_sweeps(served, project=project, perPage=2, cursor=cursor)["data"]["project"]["sweeps"]
    assert rest["pageInfo"]["hasNextPage"] is False
    listed = [e["node"]["name"] for e in page["sweeps"]["edges"] + rest["edges"]]
    assert listed == names  # oldest first
    assert get_sweeps(served, project="no-such-project")["data"] == {"project": None}


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        ({"perPage": 0}, "perPage must be a positive integer"),
        ({"perPage": "2"}, "perPage must be a positive integer"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "not a cursor this server handed out"),
        ({"cursor": 7}, "cursor must be a string"),
        ({"filters": '{"name": "x"}'}, "SWEEPS_QUERY_FILTERING"),
        ({"project": None}, "entity and project must be strings"),
    ],
)
def test_get_sweeps_bad_variables_are_named_errors(served, variables, words):
    create_sweep(served)
    before = dict(served.model.sweeps.sweeps)
    out = get_sweeps(served, **variables)
    assert out["data"] is None and words in out["errors"][0]["message"]
    assert served.model.sweeps.sweeps == before
    served.model.problems.clear()  # the bad request is the point
