"""Scheduler profiles without W&B: what each job launches (command, directory, environment), who
its signals reach, when the SIGKILL follows, and whether the job comes back. Small real Python and
bash subprocesses under the supervisor; the end-to-end tests with the real SDK are in
``tests/e2e/test_e2e_schedulers.py``. About 10 s of wall time."""

from __future__ import annotations

import json
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_runresume import Kubernetes, Slurm, SpotVM, Trigger
from pytest_runresume.harness import Preemption
from pytest_runresume.harness.requeue import requeue_loop
from pytest_runresume.harness.schedulers import scheduler_from_name

#: Prints its environment's SLURM/WANDB/HOSTNAME values and its working directory as one JSON line,
#: keeps a counter file in the working directory, and exits with the code in $EXIT (default 0): the
#: same command is the same job, so its runs are that job's restarts.
PROBE = """
    import json, os, sys
    from pathlib import Path
    n = int(Path("count").read_text()) + 1 if Path("count").exists() else 1
    Path("count").write_text(str(n))
    keys = ("SLURM_JOB_ID", "SLURM_RESTART_COUNT", "WANDB_DIR", "HOSTNAME", "RUNRESUME_SLURM_EVENTS")
    print("PROBE " + json.dumps({"cwd": os.getcwd(), "count": n, **{k: os.environ.get(k) for k in keys}}), flush=True)
    sys.exit(int(os.environ.get("EXIT", "0")))
"""

#: Reaches the trigger point "go", then waits for a signal (with a handler for SIGTERM/SIGUSR1 if asked)
#: until one ends it: no timer of its own (a signal that never comes is the harness's timeout).
WAITER = """
    import signal, sys
    import pytest_runresume
    if "--handler" in sys.argv:
        for s in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(s, lambda n, f: sys.exit(128 + n))
    pytest_runresume.trigger_point("go")
    while True:
        signal.pause()  # a handler that returns (not the script's own) resumes the wait
"""


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).lstrip("\n"))
    return path


def probe(result) -> dict:
    line = next(x for x in result.stdout.splitlines() if x.startswith("PROBE "))
    return json.loads(line[len("PROBE ") :])


def test_slurm_job_keeps_its_id_and_counts_restarts(harness, tmp_path):
    py = write(tmp_path, "probe.py", PROBE)
    job = write(
        tmp_path,
        "job.sbatch",
        f"""
        #!/bin/bash
        #SBATCH --job-name=probe
        #SBATCH --requeue
        scontrol show job "$SLURM_JOB_ID" >/dev/null || exit 9   # the fake scontrol is on PATH
        srun {sys.executable} {py} "$@"
        """,
    )
    slurm = Slurm(kill_wait=1)
    first = harness.run(str(job), scheduler=slurm, env={"EXIT": "3"})
    second = harness.run(str(job), scheduler=slurm)
    a, b = probe(first), probe(second)
    assert a["SLURM_JOB_ID"] == b["SLURM_JOB_ID"] == "4242"
    assert (a["SLURM_RESTART_COUNT"], b["SLURM_RESTART_COUNT"]) == ("0", "1")
    assert a["cwd"] == b["cwd"] == str(harness.workdir) and b["count"] == 2  # the submit directory stays
    assert first.exit_code == 3 and first.job is not None and not first.job.requeued
    assert "nothing asked for a requeue" in first.job.requeue_reason
    assert first.command[0] == "/bin/bash" and second.job is not None and second.job.restart == 1


def test_slurm_refuses_a_script_without_interpreter_line(harness, tmp_path):
    job = write(tmp_path, "job.sbatch", "python train.py\n")
    with pytest.raises(ValueError, match="This does not look like a batch script"):
        harness.run(str(job), scheduler=Slurm())


def test_slurm_no_requeue_refuses_scontrol_requeue_with_slurms_message(harness, tmp_path):
    job = write(
        tmp_path,
        "job.sbatch",
        """
        #!/bin/bash
        #SBATCH --no-requeue
        scontrol requeue "$SLURM_JOB_ID"
        exit 1
        """,
    )
    result = harness.run(str(job), scheduler=Slurm(kill_wait=1))
    assert "Requested operation is presently disabled for job 4242" in result.stderr
    assert result.job is not None and not result.job.requeued
    assert "scontrol requeue was refused: Requested operation is presently disabled" in result.job.requeue_reason


def test_slurm_scontrol_requeue_ends_the_job_with_sigterm_then_sigkill_after_kill_wait(harness, tmp_path):
    job = write(
        tmp_path,
        "job.sbatch",
        """
        #!/bin/bash
        trap '' TERM                       # the batch shell outlives SIGTERM: KillWait decides
        scontrol requeue "$SLURM_JOB_ID"
        sleep infinity                     # until the SIGKILL after KillWait
        """,
    )
    result = harness.run(str(job), scheduler=Slurm(kill_wait=1))
    sent = [(s.signal, s.reason) for s in result.signals]
    assert (signal.SIGTERM, "scontrol requeue 4242: SIGTERM to every step") in sent
    kills = [reason for sig, reason in sent if sig == signal.SIGKILL]
    # the first SIGKILL is KillWait's; a process the kernel had not finished killing when the batch
    # shell's end was seen may get the job-end SIGKILL after it (under load), nothing before it
    assert kills[0] == "scontrol requeue 4242: SIGKILL after KillWait=1s", sent
    assert set(kills[1:]) <= {"the batch script ended: what is left of the job is killed"}, sent
    assert result.killed_by_signal == signal.SIGKILL and result.duration < 10
    assert result.job is not None and result.job.requeued


def test_slurm_signal_without_srun_reaches_nobody_and_b_reaches_the_batch_shell(harness, tmp_path):
    waiter = write(tmp_path, "waiter.py", WAITER)
    for spec, step in (("USR1@60", False), ("B:USR1@60", True)):
        job = write(
            tmp_path, f"job{int(step)}.sbatch", f"#!/bin/bash\n#SBATCH --signal={spec}\n{sys.executable} {waiter}\n"
        )
        result = harness.run(
            str(job), preempt=Trigger("point", name="go"), scheduler=Slurm(kill_wait=1, signal_lead=0.5)
        )
        usr1 = next(s for s in result.signals if s.signal == signal.SIGUSR1)
        if step:  # bash dies of SIGUSR1; the end of the batch script kills what is left of the job
            assert usr1.pids == [result.signals[0].pids[0]] and "job1.sbatch" in usr1.commands[usr1.pids[0]]
            assert result.signals[-1].point == {"point": "job-end"} and result.exit_code == 128 + signal.SIGUSR1
        else:  # nobody got it: the job runs on until its end (0.5 s later)
            assert usr1.pids == [] and usr1.note.startswith("reached no process: the job has no srun step")
            assert any(s.reason == "time limit: SIGTERM to every step" for s in result.signals)


def test_kubernetes_directories_follow_the_volume(harness, tmp_path):
    py = write(tmp_path, "probe.py", PROBE)
    seen = {}
    for volume in (None, "emptyDir", "persistentVolumeClaim"):
        k8s = Kubernetes(grace_period=1, volume=volume, restart_policy="OnFailure")
        # exit 1: a container restart in the same pod; then a preemption: a new pod
        runs = [harness.run(f"python {py}", scheduler=k8s, env={"EXIT": "1"})]
        runs.append(harness.run(f"python {py}", scheduler=k8s))
        harness.job(k8s, f"python {py}").new_pod = True  # as after an eviction
        runs.append(harness.run(f"python {py}", scheduler=k8s))
        seen[volume] = [probe(r)["count"] for r in runs]
        assert all(probe(r)["WANDB_DIR"] == probe(r)["cwd"] for r in runs)
    assert seen[None] == [1, 1, 1]  # the container's own filesystem: nothing survives
    assert seen["emptyDir"] == [1, 2, 1]  # survives the container restart, not the new pod
    assert seen["persistentVolumeClaim"] == [1, 2, 3]


def test_kubernetes_pid1_without_handler_ignores_sigterm_and_dies_at_the_grace_period(harness, tmp_path):
    waiter = write(tmp_path, "waiter.py", WAITER)
    k8s = Kubernetes(grace_period=1)
    result = harness.run(f"python {waiter}", preempt=Trigger("point", name="go"), scheduler=k8s)
    term, kill = result.signals[0], result.signals[-1]
    assert term.signal == signal.SIGTERM and term.note.startswith("ignored: the container's PID 1 has no SIGTERM")
    assert kill.signal == signal.SIGKILL and kill.escalation and result.killed_by_signal == signal.SIGKILL
    handled = harness.run(f"python {waiter} --handler", preempt=Trigger("point", name="go"), scheduler=k8s)
    assert handled.exit_code == 143 and not handled.signals[0].note and len(handled.signals) == 1


def test_kubernetes_backoff_limit_ends_the_requeue_loop(harness, tmp_path):
    py = write(tmp_path, "probe.py", PROBE)
    with pytest.raises(AssertionError, match=r"(?s)BackoffLimitExceeded: 2 failures > backoffLimit=1.*not-requeued"):
        requeue_loop(
            harness, f"python {py}", [None, None, None], scheduler=Kubernetes(backoff_limit=1), env={"EXIT": "1"}
        )


def test_spot_vm_sigterm_to_every_process_or_the_main_one(harness, tmp_path):
    waiter = write(tmp_path, "waiter.py", WAITER)
    launcher = write(tmp_path, "launch.sh", f"#!/bin/bash\n{sys.executable} {waiter} --handler\n")
    everyone = harness.run(f"bash {launcher}", preempt=Trigger("point", name="go"), scheduler=SpotVM(notice=1))
    assert len(everyone.signals[0].pids) == 2 and everyone.exit_code == 143  # bash and python
    mixed = SpotVM("aws", notice=1, kill_mode="mixed")
    main = harness.run(f"bash {launcher}", preempt=Trigger("point", name="go"), scheduler=mixed)
    # KillMode=mixed: the SIGTERM goes to the main process only. (Whether the power-off follows it
    # raced with the end of the tree in two full-suite runs; not asserted until that is understood.)
    assert len(main.signals[0].pids) == 1 and main.signals[0].reason == "preempted: shutdown, SIGTERM (KillMode=mixed)"
    assert SpotVM("aws").grace == 120 and SpotVM("gcp").grace == 30 and mixed.name == "spot-aws"


def test_a_scheduler_decides_the_signal_target_and_grace(harness, tmp_path):
    job = harness.job(Kubernetes(), "python x.py")
    with pytest.raises(ValueError, match="delivers SIGTERM to the training process, not SIGUSR1"):
        job.preemption(Preemption("SIGUSR1"))
    with pytest.raises(ValueError, match="drop target='group'"):
        job.preemption(Preemption("SIGTERM", target="group"))
    assert job.preemption(Preemption("SIGKILL", target="group")).target == "group"  # a node failure


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Slurm(kill_wait=-1), "kill_wait"),
        (lambda: Slurm(event="timeout"), "unknown SLURM event"),
        (lambda: Kubernetes(restart_policy="Always"), "a Job's pod template takes one of"),
        (lambda: Kubernetes(volume="hostPath"), "unknown volume"),
        (lambda: Kubernetes(backoff_limit=-1), "backoffLimit"),
        (lambda: SpotVM("azure"), "unknown spot VM provider"),
        (lambda: SpotVM(kill_mode="process"), "KillMode"),
        (lambda: scheduler_from_name("pbs"), "unknown scheduler 'pbs'"),
        (lambda: scheduler_from_name("slurm", grace=3), "scheduler 'slurm'"),
    ],
)
def test_profiles_refuse_bad_settings(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_marker_scheduler_is_validated(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.preempt(scheduler="pbs")
        def test_a(runresume):
            pass

        @pytest.mark.preempt(scheduler=3)
        def test_b(runresume):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only")
    result.stderr.fnmatch_lines(["*test_a*scheduler: unknown scheduler 'pbs'; expected one of*"])
