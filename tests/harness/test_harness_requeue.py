"""The requeue loop catches the mistakes users make (issue: requeue loop; R14, R21, R35, R69)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_runresume import ExpectationFailed, Preemption, Trigger

# A template training script; the placeholders switch in one mistake each.
TEMPLATE = """
    import json, os, signal, sys, uuid, wandb
    ckpt = "ckpt.json"
    state = json.load(open(ckpt)) if os.path.exists(ckpt) else {{"step": -1}}
    run_id = {run_id}
    run = wandb.init(project="rq", id=run_id, resume={resume})
    {preempting_call}
    def handler(signum, frame):
        json.dump(state, open(ckpt, "w"))
        run.mark_preempting()
        sys.exit(128 + signum)
    signal.signal(signal.SIGUSR1, handler)
    for step in range(state["step"] + 1, 6):
        {bug}
        state["step"] = step
        run.log({{"train_step": step}})
    run.finish()
    os.remove(ckpt) if os.path.exists(ckpt) else None
"""

GOOD = {"run_id": '"rq-good"', "resume": '"allow"', "preempting_call": "", "bug": ""}


def write(tmp_path: Path, **changes: str) -> list[str]:
    path = tmp_path / "rq.py"
    path.write_text(textwrap.dedent(TEMPLATE.format(**{**GOOD, **changes})))
    return ["python", str(path)]


def test_a_correct_script_passes(runresume, tmp_path):
    """The reference: preempted once, resumed, finished, steps 0..5 once each."""
    loop = runresume.requeue(write(tmp_path), [Preemption("SIGUSR1", Trigger.at_step(2))])
    loop.check(total_steps=6, step_key="train_step")
    assert loop.states == ["preempted", "finished"]


@pytest.mark.rules("R21", "R28")
def test_run_id_that_changes_each_start_is_caught(runresume, tmp_path):
    """An id made fresh at every start (persisted too late, or never): two runs, not one (R21, R28)."""
    loop = runresume.requeue(
        write(tmp_path, run_id="uuid.uuid4().hex[:8]"), [Preemption("SIGUSR1", Trigger.at_step(2))]
    )
    with pytest.raises(ExpectationFailed, match="one run id across restarts"):
        loop.check()


@pytest.mark.rules("R14")
def test_restart_without_resume_is_caught(runresume, tmp_path):
    """No resume= with a fixed id: the restart does not resume; W&B steps start again at 0 (R14)."""
    loop = runresume.requeue(write(tmp_path, resume="None"), [Preemption("SIGUSR1", Trigger.at_step(2))])
    with pytest.raises(ExpectationFailed, match="did not resume"):
        loop.check()


@pytest.mark.rules("R69", "R70b")
def test_unconditional_mark_preempting_is_the_documented_anti_pattern(runresume, tmp_path):
    """mark_preempting() right after init plus an ordinary bug: the run ends preempted though nothing
    preempted it, and would be requeued forever (R69, R70b 'always' column)."""
    script = write(
        tmp_path,
        preempting_call="run.mark_preempting()",
        bug='if step == 1: raise ValueError("a code bug")',
    )
    with pytest.raises(ExpectationFailed, match=r"no preemption happened.*R69"):
        runresume.requeue(script, [])
