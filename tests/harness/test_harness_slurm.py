"""SLURM pieces of the harness: ``#SBATCH`` parsing, the job environment, the delivery steps, and
the fake client commands run as real subprocesses (they record each request as a JSON line).

No backend and no W&B here: these are the building blocks a scheduler profile composes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_runresume.harness.slurm import (
    EVENTS_ENV,
    FAKE_COMMANDS,
    FAKE_MODULES,
    SbatchError,
    SlurmSignal,
    fake_bin_dir,
    install_fake_commands,
    parse_sbatch,
    parse_sbatch_file,
    parse_signal_spec,
    parse_time_limit,
    preemption_steps,
    read_events,
    requeue_requests,
    slurm_env,
    termination_steps,
    warning_signal_steps,
)

# ------------------------------------------------------------------ parsing


def sbatch(body: str, name: str = "job.sbatch"):
    return parse_sbatch(textwrap.dedent(body).lstrip("\n"), filename=name)


@pytest.mark.parametrize(
    "directive",
    [
        "#SBATCH --signal=B:USR1@90",
        "#SBATCH --signal B:USR1@90",
        "#SBATCH   --signal='B:USR1@90'",
        "#SBATCH --sig=b:sigusr1@90",
    ],
)
def test_signal_directive_forms(directive: str) -> None:
    s = sbatch(f"#!/bin/bash\n{directive}\npython train.py\n")
    assert s.signal == SlurmSignal(signal.SIGUSR1, 90, batch_only=True)
    assert s.signal.target == "batch"
    assert s.signal.describe() == "B:USR1@90"


@pytest.mark.parametrize(
    ("spec", "sig", "secs", "batch", "resv"),
    [
        ("USR1", signal.SIGUSR1, 60, False, False),  # no @: 60 s before the end
        ("10@5", signal.SIGUSR1, 5, False, False),  # a number
        ("SIGTERM@0", signal.SIGTERM, 0, False, False),
        ("usr2@300", signal.SIGUSR2, 300, False, False),
        ("RB:XCPU@65535", signal.SIGXCPU, 65535, True, True),
        ("BR:USR1@1", signal.SIGUSR1, 1, True, True),
        ("B:USR1@", signal.SIGUSR1, 0, True, False),  # strtol reads "" as 0, as sbatch does
    ],
)
def test_parse_signal_spec(spec: str, sig: signal.Signals, secs: int, batch: bool, resv: bool) -> None:
    assert parse_signal_spec(spec) == SlurmSignal(sig, secs, batch_only=batch, reservation=resv)


@pytest.mark.parametrize("spec", ["FOO@9", "USR1@70000", "USR1@-1", "USR1@9s", "B:", "SEGV"])
def test_parse_signal_spec_refuses(spec: str) -> None:
    with pytest.raises(ValueError, match="invalid --signal specification"):
        parse_signal_spec(spec)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("10", 600),
        ("1:30", 120),  # minutes:seconds, rounded up to the minute
        ("1:00:00", 3600),
        ("2-3", 2 * 86400 + 3 * 3600),
        ("2-3:04", 2 * 86400 + 3 * 3600 + 4 * 60),
        ("2-3:04:05", 2 * 86400 + 3 * 3600 + 5 * 60),
        ("0", None),
        ("UNLIMITED", None),
        ("infinite", None),
        ("-1", None),
    ],
)
def test_parse_time_limit(value: str, seconds: int | None) -> None:
    assert parse_time_limit(value) == seconds


@pytest.mark.parametrize("value", ["1-2-3", "1:2:3:4", "10m", "", ":", "1-:3:4"])
def test_parse_time_limit_refuses(value: str) -> None:
    with pytest.raises(ValueError, match="invalid time limit"):
        parse_time_limit(value)


def test_script_fields_and_last_option_wins() -> None:
    s = sbatch(
        """
        #!/bin/bash
        # a comment, then a blank line

        #SBATCH --job-name="my train"   # trailing comment
        #SBATCH -t 1:30 --requeue
        #SBATCH --no-requeue
        #SBATCH --requeue=expedite
        #SBATCH --signal=USR1@120
        #SBATCH --signal=B:USR2
        #SBATCH --partition gpu --exclusive
        srun python train.py
        """
    )
    assert s.shebang == "/bin/bash"
    assert s.job_name == "my train"
    assert s.time_limit == "1:30" and s.time_limit_s == 120
    assert s.requeue is True and s.requeue_allowed(cluster_default=False)
    assert s.signal == SlurmSignal(signal.SIGUSR2, 60, batch_only=True)
    assert s.first_command_line == 11
    other = {d.option: d.value for d in s.directives}
    assert other["partition"] == "gpu" and other["exclusive"] is None
    assert [d.lineno for d in s.directives if d.option == "signal"] == [8, 9]


def test_short_options_attached_and_separate() -> None:
    s = sbatch("#SBATCH -Jtrain -t10\n#SBATCH -J 'with space' -t 5\necho\n")
    assert s.job_name == "with space" and s.time_limit_s == 300


def test_requeue_unset_follows_the_cluster() -> None:
    s = sbatch("#!/bin/sh\nexec python train.py\n")
    assert s.requeue is None and s.signal is None and s.time_limit_s is None and s.job_name is None
    assert s.requeue_allowed() is True  # JobRequeue=1 by default
    assert s.requeue_allowed(cluster_default=False) is False


def test_directives_stop_at_the_first_command_and_indented_ones_are_comments() -> None:
    s = sbatch(
        """
        #!/bin/bash
        #SBATCH --time=10
          #SBATCH --signal=B:USR1@60
        module load cuda
        #SBATCH --requeue
        srun python train.py
        """
    )
    assert s.signal is None and s.requeue is None and s.time_limit_s == 600
    assert s.first_command_line == 4
    ignored = s.ignored_directives()
    assert [n for n, _ in ignored] == [3, 5]
    assert "first column" in ignored[0][1] and "after the first command (line 4)" in ignored[1][1]


def test_deprecated_slurm_prefix_is_read() -> None:
    assert sbatch("#SLURM --signal=USR1@5\ntrue\n").signal == SlurmSignal(signal.SIGUSR1, 5)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("#SBATCH --signal=FOO@9", "unknown signal 'FOO'"),
        ("#SBATCH --signal=USR1@70000", "sig_time must be in 0..65535"),
        ("#SBATCH --time=1-2-3", "invalid time limit specification"),
        ('#SBATCH -J "unterminated', 'unmatched "'),
        ("#SBATCH --re", "option '--re' is ambiguous"),
        ("#SBATCH --signal", "option '--signal' requires an argument"),
        ("#SBATCH requeue", "not an option: 'requeue'"),
        ("#SBATCH :USR1", "unexpected ':'"),
        ("#SBATCH --requeue=now", "--requeue takes no value or 'expedite'"),
    ],
)
def test_bad_directive_names_file_and_line(line: str, problem: str) -> None:
    with pytest.raises(SbatchError) as err:
        sbatch(f"#!/bin/bash\n#SBATCH --time=5\n{line}\npython train.py\n", name="jobs/train.sbatch")
    assert err.value.lineno == 3 and err.value.filename == "jobs/train.sbatch"
    assert str(err.value).startswith("jobs/train.sbatch:3: ")
    assert problem in str(err.value) and line in str(err.value)


def test_parse_sbatch_file(tmp_path: Path) -> None:
    path = tmp_path / "job.sbatch"
    path.write_text("#!/bin/bash\n#SBATCH --signal=USR1@300\n#SBATCH --requeue\nsrun python t.py\n")
    s = parse_sbatch_file(path)
    assert s.filename == str(path) and s.signal == SlurmSignal(signal.SIGUSR1, 300) and s.requeue is True


# ------------------------------------------------------------------ environment and delivery steps


def test_slurm_env_contract(tmp_path: Path) -> None:
    env = slurm_env(4242, 2, job_name="train", submit_dir=tmp_path, events_file=tmp_path / "ev.jsonl", time_limit_s=600)
    assert env["SLURM_JOB_ID"] == env["SLURM_JOBID"] == "4242"
    assert env["SLURM_RESTART_COUNT"] == "2"
    assert env["SLURM_JOB_NAME"] == "train"
    assert env["SLURM_NTASKS"] == env["SLURM_NTASKS_PER_NODE"] == env["SLURM_NNODES"] == "1"
    assert env["SLURM_PROCID"] == env["SLURM_LOCALID"] == env["SLURM_NODEID"] == "0"
    assert env["SLURM_SUBMIT_DIR"] == str(tmp_path)
    assert env[EVENTS_ENV] == str(tmp_path / "ev.jsonl")
    assert env["RUNRESUME_SLURM_REQUEUE"] == "1" and env["RUNRESUME_SLURM_TIME_LIMIT"] == "600"
    assert "SLURM_ARRAY_JOB_ID" not in env
    assert all(isinstance(v, str) for v in env.values())
    arr = slurm_env(7, array_job_id=5, array_task_id=3, requeue=False)
    assert arr["SLURM_ARRAY_JOB_ID"] == "5" and arr["SLURM_ARRAY_TASK_ID"] == "3"
    assert arr["RUNRESUME_SLURM_REQUEUE"] == "0"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"job_id": 0}, "positive integer"),
        ({"job_id": "12a"}, "positive integer"),
        ({"job_id": 1, "restart_count": -1}, "restart_count"),
        ({"job_id": 1, "ntasks": 0}, "ntasks"),
        ({"job_id": 1, "array_job_id": 3}, "go together"),
    ],
)
def test_slurm_env_refuses(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        slurm_env(**kwargs)


def test_warning_signal_steps_target_batch_or_steps() -> None:
    batch = warning_signal_steps(parse_signal_spec("B:USR1@90"), at=3.0)
    assert [(s.signal, s.target, s.at) for s in batch] == [
        (signal.SIGCONT, "batch", 3.0),
        (signal.SIGUSR1, "batch", 3.0),
    ]
    steps = warning_signal_steps(parse_signal_spec("USR1@90"))
    assert {s.target for s in steps} == {"steps"}
    assert "--signal=USR1@90" in steps[1].reason


def test_termination_steps_sigterm_then_sigkill_after_kill_wait() -> None:
    steps = termination_steps(kill_wait=2.5, at=1.0, reason="time limit")
    assert [(s.signal, s.target, s.at) for s in steps] == [
        (signal.SIGCONT, "job", 1.0),
        (signal.SIGTERM, "job", 1.0),
        (signal.SIGKILL, "job", 3.5),
    ]
    assert "KillWait=2.5s" in steps[-1].reason
    with pytest.raises(ValueError):
        termination_steps(kill_wait=-1)


def test_preemption_steps() -> None:
    script = sbatch("#SBATCH --signal=B:USR1@90\nexec python t.py\n")
    now = preemption_steps(script, kill_wait=2)
    assert [(s.signal, s.at) for s in now] == [(signal.SIGCONT, 0), (signal.SIGTERM, 0), (signal.SIGKILL, 2)]
    grace = preemption_steps(script, grace_time=5, kill_wait=2)
    assert [(s.signal, s.target, s.at) for s in grace[:2]] == [
        (signal.SIGCONT, "steps", 0),
        (signal.SIGTERM, "steps", 0),
    ]
    assert [(s.signal, s.at) for s in grace[2:]] == [(signal.SIGCONT, 5), (signal.SIGTERM, 5), (signal.SIGKILL, 7)]
    user = preemption_steps(script, grace_time=5, kill_wait=2, send_user_signal=True)
    assert [(s.signal, s.target) for s in user[:2]] == [(signal.SIGCONT, "batch"), (signal.SIGUSR1, "batch")]
    with pytest.raises(ValueError):
        preemption_steps(grace_time=-1)


# ------------------------------------------------------------------ fake commands as real subprocesses


@pytest.fixture
def job(tmp_path: Path) -> dict[str, str]:
    """The environment of job 4242 (restart 1) with the fake commands first on PATH."""
    bindir = install_fake_commands(tmp_path / "bin")
    env = dict(os.environ)
    env.update(
        slurm_env(
            4242, 1, job_name="train", submit_dir=tmp_path, events_file=tmp_path / "events.jsonl", time_limit_s=600
        )
    )
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(
    cmd: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def events(env: dict[str, str]):
    return read_events(env[EVENTS_ENV])


def test_install_fake_commands(tmp_path: Path) -> None:
    bindir = install_fake_commands(tmp_path / "bin", python=sys.executable)
    for name in FAKE_COMMANDS:
        path = bindir / name
        assert os.access(path, os.X_OK)
        assert path.read_text().splitlines()[0] == f"#!{sys.executable}"
    for module in FAKE_MODULES:  # what the commands import, beside them
        assert (bindir / module).read_text() == (fake_bin_dir() / module).read_text()


def test_installed_commands_find_their_modules_with_pythonsafepath(job: dict[str, str]) -> None:
    # PYTHONSAFEPATH (Python 3.11+) leaves the script's directory off sys.path; srun and scontrol
    # import their modules from it all the same.
    job["PYTHONSAFEPATH"] = "1"
    r = run("scontrol requeue $SLURM_JOB_ID && srun true", job)
    assert (r.returncode, r.stderr) == (0, "")
    assert [(e.command, e.action) for e in events(job)] == [("scontrol", "requeue"), ("srun", "step")]


def test_scontrol_requeue_records_and_exits_0(job: dict[str, str]) -> None:
    r = run("scontrol requeue $SLURM_JOB_ID", job)
    assert (r.returncode, r.stderr) == (0, "")
    (ev,) = events(job)
    assert (ev.command, ev.action, ev.argv, ev.exit_code) == ("scontrol", "requeue", ("requeue", "4242"), 0)
    assert ev.job_id == "4242" and ev.restart_count == 1
    assert ev.data["job_ids"] == ["4242"]
    assert requeue_requests(events(job), 4242) == [ev]


def test_scontrol_requeue_from_python_like_lightning(job: dict[str, str]) -> None:
    # Lightning's _SignalConnector runs subprocess.call(["scontrol", "requeue", job_id]).
    code = "import os, subprocess, sys; sys.exit(subprocess.call(['scontrol', 'requeue', os.environ['SLURM_JOB_ID']]))"
    assert subprocess.run([sys.executable, "-c", code], env=job, timeout=30).returncode == 0
    assert [e.action for e in events(job)] == ["requeue"]


def test_scontrol_requeue_variants(job: dict[str, str]) -> None:
    assert run("scontrol req Incomplete jobid=4242", job).returncode == 0
    assert run("scontrol requeuehold 4242", job).returncode == 0
    evs = events(job)
    assert [(e.action, e.data["flags"]) for e in evs] == [("requeue", ["Incomplete"]), ("requeuehold", [])]
    assert len(requeue_requests(evs, 4242)) == 2


def test_scontrol_requeue_array_task_id(job: dict[str, str]) -> None:
    job.update(SLURM_ARRAY_JOB_ID="4200", SLURM_ARRAY_TASK_ID="42")
    assert run("scontrol requeue 4200_42", job).returncode == 0
    assert events(job)[0].data["job_ids"] == ["4200_42"]


def test_scontrol_requeue_of_another_job_fails(job: dict[str, str]) -> None:
    r = run("scontrol requeue 99", job)
    assert r.returncode == 1 and "Invalid job id specified for job 99" in r.stderr
    (ev,) = events(job)
    assert ev.exit_code == 1 and ev.data["job_ids"] == [] and requeue_requests([ev], 99) == []


def test_scontrol_requeue_refused_for_no_requeue_job(job: dict[str, str]) -> None:
    job["RUNRESUME_SLURM_REQUEUE"] = "0"
    r = run("scontrol requeue $SLURM_JOB_ID", job)
    assert r.returncode == 1 and "Requested operation is presently disabled for job 4242" in r.stderr
    assert requeue_requests(events(job), 4242) == []


def test_fake_commands_need_the_events_file(job: dict[str, str]) -> None:
    del job[EVENTS_ENV]
    r = run("scontrol requeue $SLURM_JOB_ID", job)
    assert r.returncode == 1 and f"{EVENTS_ENV} is not set" in r.stderr


def test_scontrol_show_job(job: dict[str, str]) -> None:
    r = run("scontrol show job $SLURM_JOB_ID", job)
    assert r.returncode == 0
    assert "JobId=4242 JobName=train" in r.stdout and "Restarts=1" in r.stdout and "Requeue=1" in r.stdout
    assert "TimeLimit=00:10:00" in r.stdout and "JobState=RUNNING" in r.stdout
    one = run("scontrol -o show job", job)
    assert len(one.stdout.strip().splitlines()) == 1
    bad = run("scontrol show job 7", job)
    assert bad.returncode == 1 and "Invalid job id specified" in bad.stderr
    assert run("scontrol show hostnames 'n[01-03],gpu7'", job).stdout.split() == ["n01", "n02", "n03", "gpu7"]
    unsupported = run("scontrol update JobId=4242 TimeLimit=5", job)
    assert unsupported.returncode == 1 and "not simulated" in unsupported.stderr
    assert [e.action for e in events(job)] == ["show_job", "show_job", "show_job", "show_hostnames", "unsupported"]


def test_squeue_sbatch_scancel(job: dict[str, str]) -> None:
    q = run("squeue -j $SLURM_JOB_ID", job)
    assert q.returncode == 0 and "JOBID" in q.stdout and "4242" in q.stdout and " R " in q.stdout
    assert run("squeue -h -j 1", job).stdout == ""
    s = run("sbatch --parsable job.sbatch", job)
    assert (s.returncode, s.stdout.strip()) == (0, "4243")
    assert run("sbatch job.sbatch", job).stdout.strip() == "Submitted batch job 4243"
    c = run("scancel --signal=USR1 -b $SLURM_JOB_ID", job)
    assert c.returncode == 0
    assert run("scancel 5", job).returncode == 1
    evs = events(job)
    assert [e.action for e in evs] == ["squeue", "squeue", "submit", "submit", "cancel", "cancel"]
    cancel = evs[4]
    assert cancel.data["signal"] == "USR1" and cancel.data["batch"] is True and cancel.data["job_ids"] == ["4242"]


def test_srun_execs_the_command_and_records_the_step(job: dict[str, str], tmp_path: Path) -> None:
    code = "import os; print(os.getpid(), os.environ['SLURM_STEP_ID'], os.environ['SLURM_PROCID'])"
    r = run(
        f'srun --unbuffered --output %j_%t_%x.out {sys.executable} -c "{code}"; srun -n 1 {sys.executable} -c "{code}"',
        job,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    first = (tmp_path / "4242_0_train.out").read_text().split()
    second = r.stdout.split()
    steps = events(job)
    assert [e.data["step_id"] for e in steps] == [0, 1]
    # exec: the recorded pid is the pid the task itself reports
    assert int(first[0]) == steps[0].pid and int(second[0]) == steps[1].pid
    assert first[1:] == ["0", "0"] and second[1:] == ["1", "0"]
    assert steps[0].data["step_argv"][0] == sys.executable


def test_srun_signal_reaches_the_task(job: dict[str, str], tmp_path: Path) -> None:
    task = tmp_path / "task.py"
    task.write_text(
        textwrap.dedent(
            """
            import signal, sys
            signal.signal(signal.SIGUSR1, lambda *a: sys.exit(42))
            print("ready", flush=True)
            while True:
                signal.pause()  # until the signal ends it (the test's timeout if it never comes)
            """
        )
    )
    proc = subprocess.Popen(["srun", sys.executable, str(task)], env=job, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGUSR1)
        assert proc.wait(timeout=20) == 42
    finally:
        proc.kill()
        proc.wait()


def test_srun_refuses_what_it_does_not_simulate(job: dict[str, str]) -> None:
    r = run("srun -n 4 true", job)
    assert r.returncode == 1 and "--ntasks=4 is not simulated" in r.stderr
    missing = run("srun no-such-program-xyz", job)
    assert missing.returncode == 2 and "No such file or directory" in missing.stderr
    assert [e.exit_code for e in events(job)] == [1, 2]


def test_packaged_commands_work_from_the_package_dir(job: dict[str, str]) -> None:
    bindir = fake_bin_dir()
    if not os.access(bindir / "scontrol", os.X_OK):
        pytest.skip("installed without executable bits: install_fake_commands() is the way")
    job["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    assert run("scontrol requeue $SLURM_JOB_ID", job).returncode == 0
    assert [e.action for e in events(job)] == ["requeue"]


def test_read_events_skips_a_partial_last_line_and_names_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    assert read_events(path) == []
    record = {"command": "scontrol", "action": "requeue", "argv": ["requeue", "1"], "exit_code": 0}
    record.update(job_id="1", restart_count=0, time=time.time(), pid=5, job_ids=["1"])
    good = json.dumps(record)
    path.write_text(good + "\n" + '{"command": "scon')
    (ev,) = read_events(path)
    assert ev.data == {"job_ids": ["1"]}
    path.write_text(good + "\nnot json\n")
    with pytest.raises(ValueError, match=r"ev.jsonl:2: not a fake-SLURM event record"):
        read_events(path)
