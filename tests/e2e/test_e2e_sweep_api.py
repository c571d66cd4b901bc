"""Sweeps as W&B's server answers them, with the real SDK (0.31.0) in a real subprocess: a new sweep
is ``PENDING`` until an agent asks; ``method: bayes`` is created (and refused without a metric);
``prior_runs`` are linked and ``runCountExpected`` is the grid's size (W&B's own system test
``test_sweep_api_expected_run_count`` asks these with its custom ``Sweep`` query); ``sweep.agents()``
(``GetSweepAgents``) and ``Agent.runs()`` (``GetAgentRuns``) list what the agent did.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest

SDK = tuple(int(x) for x in version("wandb").split(".")[:2])

SCRIPT = """
    import json, wandb
    from wandb import Api
    from wandb.apis.public.sweeps import Sweep

    QUERY = '''
    query Sweep($project: String, $entity: String, $name: String!) {
        project(name: $project, entityName: $entity) {
            sweep(sweepName: $name) { id name state runCountExpected bestLoss config
                priorRuns { edges { node { id name } } } } } }
    '''
    out = {}
    with wandb.init(project="sw") as run:
        run.log({"x": 1})
        prior = run.id
    grid = {"name": "g", "method": "grid",
            "parameters": {"p1": {"values": [1, 2, 3]},
                           "p2": {"parameters": {"a": {"values": [1, 2, 3]}, "b": {"value": 1}}}}}
    gid = wandb.sweep(grid, project="sw", prior_runs=[prior])
    api = Api()
    s = Sweep.get(api, "testent", "sw", gid, query=QUERY)
    out["grid"] = [s.expected_run_count, [e["node"]["name"] for e in s._attrs["priorRuns"]["edges"]], s.state]
    out["prior_run"] = prior
    out["prior_sweep"] = api.run(f"testent/sw/{prior}").sweep.id
    bayes = {"name": "b", "method": "bayes", "metric": {"name": "m", "goal": "maximize"},
             "parameters": {"lr": {"min": 0.0, "max": 1.0}, "k": {"values": [1, 2, 3]}}}
    bid = wandb.sweep(bayes, project="sw")
    out["bayes_new"] = [Api().sweep(f"testent/sw/sweeps/{bid}").state,
                        Sweep.get(Api(), "testent", "sw", bid, query=QUERY).expected_run_count]

    def train():
        with wandb.init() as r:
            r.log({"m": r.config.lr * r.config.k})

    wandb.agent(bid, function=train, count=3, project="sw")
    sweep = Api().sweep(f"testent/sw/sweeps/{bid}")
    out["bayes_state"] = sweep.state
    out["bayes_runs"] = sorted([r.id, r.config["lr"], r.config["k"], r.summary["m"]] for r in sweep.runs)
    agents = sweep.agents()
    out["agents"] = [[a.host, a.state, a.totalRuns] for a in agents]
    out["agent_runs"] = [r.id for r in agents[0].runs()]
    try:
        wandb.sweep({"method": "bayes", "parameters": {"lr": {"values": [1]}}}, project="sw")
        out["no_metric"] = None
    except Exception as exc:
        out["no_metric"] = str(exc)
    print("SWEEPAPI " + json.dumps(out))
"""


@pytest.mark.skipif(SDK < (0, 28), reason="Sweep.get(api, ...) and sweep.agents() are wandb >= 0.28")
def test_sweep_states_bayes_prior_runs_and_agents_through_the_public_api(runresume, run_tagged):
    out = run_tagged(SCRIPT, "SWEEPAPI")
    b = runresume.model
    assert out["grid"] == [9, [out["prior_run"]], "PENDING"]  # 3 x (3 x 1) combinations, nothing asked yet
    assert out["prior_sweep"] == b.sweeps.get("testent/sw/swp00001").name
    assert out["bayes_new"] == ["PENDING", None]
    assert out["bayes_state"] == "RUNNING"
    sweep = b.sweeps.get("testent/sw/swp00002")
    expected = sorted(
        [rid, srun.params["lr"]["value"], srun.params["k"]["value"], b.run(f"sw/{rid}").summary["m"]]
        for rid, srun in sweep.runs.items()
    )
    assert out["bayes_runs"] == expected and len(expected) == 3
    assert all(0.0 <= lr <= 1.0 and k in (1, 2, 3) for _, lr, k, _ in out["bayes_runs"])
    assert [a[1:] for a in out["agents"]] == [["RUNNING", 3]]
    assert out["agent_runs"] == list(sweep.runs)
    assert out["no_metric"] is not None and "needs a metric" in out["no_metric"]
    assert b.problems == []
