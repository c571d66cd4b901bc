"""``wandb sweep`` with a deprecated distribution (``log_uniform``: ``min``/``max`` are exponents):
the sweep is created and the real CLI prints the sweeps engine's warning the fake answers as
``configValidationWarnings`` (docs/sweeps.md, "Differences from W&B's sweeps engine").
"""

from __future__ import annotations

CONFIG = """\
method: random
program: train.py
parameters:
  lr:
    distribution: log_uniform
    min: -5
    max: 0
"""


def test_wandb_sweep_prints_the_deprecation_warning(runresume):
    (runresume.workdir / "sweep.yaml").write_text(CONFIG)
    created = runresume.run(["wandb", "sweep", "--project", "sp", "sweep.yaml"])
    assert created.returncode == 0, created.report()
    output = created.stdout + created.stderr
    assert "Malformed sweep config detected!" in output, created.report()
    assert "Violation 1. lr uses log_uniform, where min/max specify base-e exponents." in output, created.report()
    assert runresume.model.sweeps.get("testent/sp/swp00001").config["parameters"]["lr"]["distribution"] == "log_uniform"
    assert runresume.model.problems == []
