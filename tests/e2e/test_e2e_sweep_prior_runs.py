"""A grid sweep created with ``prior_runs`` by the real SDK skips the combinations those runs hold, as
W&B's sweeps engine does (docs/sweeps.md): the prior runs' configs are stored as the SDK uploads them
(``{"lr": {"value": 0.1, "desc": null}, "_wandb": ...}``), and ``wandb.agent()`` is handed only the
other combinations, then told to exit.
"""

from __future__ import annotations

SCRIPT = """
    import json, wandb
    from wandb import Api

    priors = []
    for config in ({"lr": 0.1, "n": 1.0}, {"lr": 0.01, "n": 2, "extra": "x"}):  # 1.0 holds n: 1
        with wandb.init(project="pr", config=config) as run:
            priors.append(run.id)
    grid = {"method": "grid", "parameters": {"lr": {"values": [0.1, 0.01]}, "n": {"values": [1, 2]}}}
    sid = wandb.sweep(grid, project="pr", prior_runs=priors)

    def train():
        with wandb.init() as r:
            r.log({"m": r.config.lr * r.config.n})

    wandb.agent(sid, function=train, count=4, project="pr")
    sweep = Api().sweep(f"testent/pr/sweeps/{sid}")
    print("PRIORRUNS " + json.dumps({"priors": priors, "state": sweep.state}))
"""


def test_a_grid_skips_what_the_sdks_prior_runs_hold(runresume, run_tagged):
    out = run_tagged(SCRIPT, "PRIORRUNS")
    sweep = runresume.model.sweeps.get("testent/pr/swp00001")
    assert sweep.prior_runs == out["priors"]
    handed = [(h.kind, h.params) for h in sweep.handouts]  # names sorted, n varying fastest
    assert handed == [
        ("run", {"lr": {"value": 0.1}, "n": {"value": 2}}),
        ("run", {"lr": {"value": 0.01}, "n": {"value": 1}}),
    ]
    assert out["state"] == "FINISHED"
    assert runresume.model.problems == []
