"""Scheduler profiles: who gets which signal when a scheduler preempts a job, when the SIGKILL
follows, and whether (and how) the job comes back.

A profile (:class:`Slurm`, :class:`Kubernetes`, :class:`SpotVM`) is a frozen description of the
scheduler's settings. The harness makes one :class:`Job` per profile and command: each
``run(cmd, scheduler=profile)`` of the same command is the next run of that job (its requeue or
restart). The runner knows nothing scheduler-specific; it asks the job, through a narrow hook:

- :meth:`Job.launch`: the command as the scheduler starts it (a batch script run by its
  interpreter, a container's PID 1), its working directory and environment for this run;
- :meth:`Job.preemption`: the :class:`~.spec.Preemption` the test asked for, with the signal this
  scheduler delivers to the training process;
- :meth:`Job.at_trigger`, :meth:`Job.on_message` (a fake SLURM command's request, e.g.
  ``scontrol requeue``) and :meth:`Job.on_exit` (the job's main process ended): the
  :class:`Delivery` steps to carry out, each a signal to a named target after some seconds;
- :meth:`Job.pids` and :meth:`Job.deliverable`: the processes a target names, and whether a signal
  reaches them (a container's PID 1 ignores a signal it has no handler for);
- :meth:`Job.finish`: the :class:`~.results.JobRecord` for the result: requeued or not, and the
  profile's own findings.

Grace periods (``KillWait``, ``terminationGracePeriodSeconds``, a spot VM's notice) are real
seconds for the process under test: keep them small in tests. What the backend decides (the crash
timeout, R61) still moves on the backend's clock.

The scheduler facts each profile follows, with their sources, are in ``docs/schedulers/README.md``;
the recipes and the mistakes each profile catches in ``docs/schedulers/slurm.md``,
``kubernetes.md`` and ``spot.md``.
"""

from __future__ import annotations

import os
import re
import shlex
import signal as _signal
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import slurm as _slurm
from .diagnosis import Finding, finding, run_findings
from .results import JobRecord
from .signals import parse_signal
from .spec import Preemption, Trigger

if TYPE_CHECKING:
    from .results import RunResult

__all__ = [
    "SCHEDULERS",
    "Delivery",
    "Job",
    "Kubernetes",
    "Launch",
    "Scheduler",
    "Slurm",
    "SpotVM",
    "TreeView",
    "scheduler_from_name",
]

#: Container volumes :class:`Kubernetes` knows, and what each survives.
VOLUMES = (None, "emptyDir", "persistentVolumeClaim")
RESTART_POLICIES = ("OnFailure", "Never")
#: Spot VM providers and their notice in seconds (GCP: 30 s from the ACPI soft-off to the power-off
#: for Spot VMs; AWS: the two-minute interruption notice).
SPOT_NOTICE = {"gcp": 30.0, "aws": 120.0}
SLURM_EVENTS = ("time_limit", "preempt", "cancel")


@dataclass(frozen=True)
class Launch:
    """How one run of a job is started.

    Attributes:
        argv: the command (the scheduler's wrapper included, e.g. ``["/bin/bash", "job.sbatch"]``).
        cwd: its working directory.
        env: variables to add to the harness's environment for this run (``SLURM_*``,
            ``WANDB_DIR``, ``PATH`` ...).
    """

    argv: list[str]
    cwd: Path
    env: dict[str, str]


@dataclass(frozen=True)
class Delivery:
    """One signal a job's scheduler sends.

    Attributes:
        signal: what.
        target: a target name the job's :meth:`Job.pids` understands (``"batch"``, ``"steps"``,
            ``"job"``; ``"pid1"``, ``"pod"``; ``"main"``, ``"all"``).
        at: seconds after the event that caused it (the trigger point, a request, the exit).
        reason: why, in the scheduler's terms (shown in reports and findings).
        grace_end: this is the SIGKILL that ends a grace period (the diagnosis says it ran out
            when it reached a process).
        point: what the result's :class:`~.results.SentSignal` records as its point
            (``"escalation"`` for ``grace_end``).
    """

    signal: _signal.Signals
    target: str
    at: float
    reason: str
    grace_end: bool = False
    point: str = ""


@dataclass(frozen=True)
class TreeView:
    """The process tree of the run, as the runner sees it.

    Attributes:
        pid: the command's own process (the batch shell, the container's PID 1), once started.
        tree: every live process of the run (the supervisor's descendants), on call.
    """

    pid: int | None
    tree: Callable[[], list[int]]


def _grace(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be seconds >= 0, got {value!r}")
    return float(value)


def _caught(pid: int, sig: _signal.Signals) -> bool | None:
    """Whether ``pid`` has a handler for ``sig`` (``SigCgt`` in ``/proc/PID/status``); ``None`` if gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (int(sig) - 1) & 1)
    except OSError:
        return None
    return None


def _alive(pid: int) -> bool:
    """A live, not yet reaped-and-gone process that is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def _subtree(root: int, tree: list[int]) -> list[int]:
    """``root`` and its descendants among ``tree`` (by ``/proc`` parent links)."""
    parents: dict[int, int] = {}
    for pid in tree:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                parents[pid] = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [root], [root]
    while todo:
        cur = todo.pop()
        for pid, ppid in parents.items():
            if ppid == cur and pid not in out:
                out.append(pid)
                todo.append(pid)
    return out


def _python_first(env: Mapping[str, str]) -> str:
    """``PATH`` with this interpreter's directory first: ``python`` in a batch script or a container's
    shell command is the interpreter the tests run with (the image's Python)."""
    return os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.environ.get("PATH", ""))])


class Scheduler(ABC):
    """A scheduler profile: a frozen description of a scheduler's settings (see the module docstring)."""

    #: The profile's name, as ``runresume check --scheduler`` and the marker spell it.
    name: str = ""

    @abstractmethod
    def new_job(self, argv: Sequence[str], base_dir: Path, number: int) -> Job:
        """A job running ``argv`` under this profile, its files under ``base_dir``.

        Raises:
            ValueError: the command cannot run under this scheduler (e.g. not a batch script).
        """

    @property
    @abstractmethod
    def grace(self) -> float:
        """The grace period in seconds, from the termination signal to SIGKILL."""

    @abstractmethod
    def with_grace(self, seconds: float) -> Scheduler:
        """A copy with the grace period set (``runresume check --grace``)."""


class Job(ABC):
    """One job of a profile inside one harness; each run of its command is its next run.

    Attributes:
        profile: the profile.
        argv: the command as the test gave it.
        dir: a directory of the job's own (fake commands, events, container directories).
        job_id: the scheduler's id for it.
        results: the results of its runs so far, in order.
    """

    def __init__(self, profile: Scheduler, argv: Sequence[str], base_dir: Path, job_id: str) -> None:
        self.profile = profile
        self.argv = list(argv)
        self.dir = base_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.job_id = job_id
        self.results: list[RunResult] = []
        self.preempted_now = False  # a preemption was delivered in the current run
        self.workdir: Path | None = None

    @property
    def restart(self) -> int:
        """Which run of the job comes next: 0 for the first, N after N restarts."""
        return len(self.results)

    # ---- the hook ---------------------------------------------------------------------------------
    @abstractmethod
    def launch(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Launch:
        """The next run's command, working directory and extra environment.

        Args:
            argv: the command as the harness resolved it (``python`` -> this interpreter).
            cwd: the working directory the test asked for (or the harness's default).
            env: the extra variables the test asked for.
        """

    @abstractmethod
    def signal(self) -> _signal.Signals:
        """The signal this scheduler delivers to the training process at a preemption."""

    def preemption(self, preempt: Preemption | Trigger) -> Preemption:
        """The effective preemption: the test's trigger, start and sync with this scheduler's signal.

        A SIGKILL is not a scheduler's preemption but a node failure: it is sent as the test asks
        (``target="group"`` reaches every process of the job).

        Raises:
            ValueError: the test asked for another signal, another target or its own grace period:
                with a scheduler, the scheduler decides who gets what and when the SIGKILL follows.
        """
        self.preempted_now = False
        sig = self.signal()
        if isinstance(preempt, Trigger):
            return Preemption(sig, preempt)
        if preempt.signal == _signal.SIGKILL:
            return preempt  # a node failure, not the scheduler's doing: the harness sends it as asked
        if preempt.signal != sig:
            raise ValueError(
                f"{self.describe()} delivers {sig.name} to the training process, not {preempt.signal.name}: "
                "leave the signal to the scheduler (pass a Trigger, or the scheduler's signal)"
            )
        if preempt.target != "process" or preempt.escalate_after is not None:
            raise ValueError(
                f"with a scheduler profile the scheduler picks the processes and the grace period "
                f"({self.settings()}): drop target={preempt.target!r} / escalate_after={preempt.escalate_after!r}"
            )
        return preempt

    @abstractmethod
    def at_trigger(self) -> list[Delivery]:
        """What the scheduler sends when the test's trigger point is reached (the preemption)."""

    def on_message(self, msg: Mapping[str, Any]) -> list[Delivery]:
        """What the scheduler does about a request from inside the job (default: nothing)."""
        return []

    def on_exit(self) -> list[Delivery]:
        """What the scheduler does when the job's main process exits (default: nothing)."""
        return []

    @abstractmethod
    def pids(self, target: str, view: TreeView) -> tuple[list[int], str]:
        """The live processes ``target`` names now, and a note when it names none (or ``""``)."""

    def deliverable(self, pid: int, sig: _signal.Signals, view: TreeView) -> str:
        """``""`` if ``sig`` reaches ``pid``, else why not (default: it always does)."""
        return ""

    @abstractmethod
    def requeue(self, result: RunResult) -> tuple[bool, str]:
        """Whether the scheduler restarts the job after ``result``, and why (or why not)."""

    @abstractmethod
    def settings(self) -> str:
        """The settings that matter for a failure, in the scheduler's own terms."""

    def describe(self) -> str:
        """``SLURM job 4242`` ..."""
        return f"{self.profile.name} job {self.job_id}"

    def expected_exit(self) -> int | None:
        """The exit status of a correctly preempted run, or ``None`` if the scheduler ignores it."""
        return 128 + int(self.signal())

    def findings(self, result: RunResult) -> list[Finding]:
        """The profile's own diagnosis of a run (base: a restart that made a new run)."""
        out: list[Finding] = []
        prev = self.results[-1] if self.results else None
        if prev is None or len(prev.runs) != 1 or len(result.runs) != 1:
            return out
        before, now = prev.runs[0], result.runs[0]
        attempt = now.attempt
        if before.key != now.key and attempt is not None and not attempt.resumed:
            out.append(
                finding(
                    "requeue-changed-run-id",
                    f"{self.describe()} came back (run {self.restart} of the job) and wrote a new run {now.key.path} "
                    f"instead of resuming {before.key.path}: {self.id_advice()}",
                )
            )
        return out

    def id_advice(self) -> str:
        """How to keep the run id across this scheduler's restarts."""
        return "take the run id from something the restart keeps (the checkpoint, a fixed id) and pass resume='allow'"

    def finish(self, result: RunResult) -> JobRecord:
        """The record of this run (requeue decision, findings); the run becomes part of the job."""
        requeued, why = self.requeue(result)
        record = JobRecord(
            scheduler=self.profile.name,
            job_id=self.job_id,
            restart=self.restart,
            settings=self.settings(),
            workdir=self.workdir or Path("."),
            requeued=requeued,
            requeue_reason=why,
            expected_exit=self.expected_exit(),
            findings=self.findings(result),
            title=self.describe(),
        )
        self.results.append(result)
        return record


# ==================================================================================================
# SLURM


@dataclass(frozen=True)
class Slurm(Scheduler):
    """SLURM running the user's own batch script (``runresume.run("job.sbatch ARGS", scheduler=Slurm())``).

    The command is what you would give ``sbatch``: the script and its arguments. The script runs
    under its ``#!`` interpreter in the submit directory (the harness's working directory, kept
    across requeues) with the job's environment (:func:`.slurm.slurm_env`: ``SLURM_JOB_ID`` fixed,
    ``SLURM_RESTART_COUNT`` + 1 at each requeue) and the fake ``scontrol``/``squeue``/``sbatch``/
    ``srun``/``scancel`` first on ``PATH``. ``#SBATCH`` lines are read as sbatch reads them.

    At the trigger point (``event``):

    - ``"time_limit"`` (the default when the script has ``--signal``): the ``--signal`` warning,
      SIGCONT then the signal, to the batch shell only with ``B:``, else to every process of every
      ``srun`` step (none without ``srun``: the signal reaches nobody); ``signal_lead`` seconds later
      the job ends (below). SLURM does not requeue a job that reached its time limit: only
      ``scontrol requeue`` from inside the job does.
    - ``"preempt"`` (the default without ``--signal``): ``PreemptMode=REQUEUE``. With ``grace_time``
      0 the job ends at once (below); with ``grace_time`` > 0, SIGCONT + SIGTERM to the steps (or the
      ``--signal`` signal with ``send_user_signal``) and the job ends ``grace_time`` seconds later.
      The job is requeued unless the script says ``--no-requeue`` (then it is cancelled).
    - ``"cancel"``: ``scancel``: the job ends at once, not requeued.

    The job ends (time limit, preemption, cancel, ``scontrol requeue`` of the running job) with
    SIGCONT and SIGTERM to every process of the job, ``wandb-core`` included, then SIGKILL after
    ``kill_wait`` seconds. When the batch script exits, what is left of the job is killed.

    Attributes:
        kill_wait: ``KillWait`` (slurm.conf), seconds from SIGTERM to SIGKILL (SLURM's default 30).
        event: what happens at the trigger point (see above); ``None``: ``time_limit`` if the
            script has ``--signal``, else ``preempt``.
        signal_lead: seconds from the ``--signal`` warning to the end of the job; ``None``: the
            script's ``@sig_time`` (60 by default): scale it down in tests.
        grace_time: the partition's ``GraceTime`` for ``event="preempt"`` (default 0).
        send_user_signal: ``PreemptParameters=send_user_signal``.
        job_id: the first job's ``SLURM_JOB_ID`` (later jobs of the same harness count up).

    Raises:
        ValueError: a negative time, an unknown event.
    """

    kill_wait: float = _slurm.KILL_WAIT_DEFAULT
    event: str | None = None
    signal_lead: float | None = None
    grace_time: float = 0.0
    send_user_signal: bool = False
    job_id: int = 4242
    name = "slurm"

    def __post_init__(self) -> None:
        _grace(self.kill_wait, "kill_wait (KillWait)")
        _grace(self.grace_time, "grace_time (GraceTime)")
        if self.signal_lead is not None:
            _grace(self.signal_lead, "signal_lead")
        if self.event is not None and self.event not in SLURM_EVENTS:
            raise ValueError(f"unknown SLURM event {self.event!r}; expected one of {SLURM_EVENTS}")

    @property
    def grace(self) -> float:
        return self.kill_wait

    def with_grace(self, seconds: float) -> Slurm:
        return replace(self, kill_wait=seconds)

    def new_job(self, argv: Sequence[str], base_dir: Path, number: int) -> SlurmJob:
        return SlurmJob(self, argv, base_dir, str(self.job_id + number - 1))


class SlurmJob(Job):
    """A batch job: its script parsed once, its fake commands and events file under :attr:`dir`."""

    profile: Slurm

    def __init__(self, profile: Slurm, argv: Sequence[str], base_dir: Path, job_id: str) -> None:
        super().__init__(profile, argv, base_dir, job_id)
        if not argv:
            raise ValueError("SLURM: no batch script given")
        path = Path(argv[0])
        try:
            self.script = _slurm.parse_sbatch_file(path)
        except OSError as exc:
            raise ValueError(f"sbatch: error: Unable to open file {argv[0]}: {exc.strerror}") from None
        if self.script.shebang is None:
            raise ValueError(
                f"sbatch: error: This does not look like a batch script.  The first\n"
                f"sbatch: error: line must start with #! followed by the path to an interpreter.\n"
                f"sbatch: error: For instance: #!/bin/sh  ({argv[0]})"
            )
        self.path = path.resolve()
        self.events_file = self.dir / "events.jsonl"
        self.bin = _slurm.install_fake_commands(self.dir / "bin")
        sig = self.script.signal
        self.event = profile.event or ("time_limit" if sig is not None else "preempt")
        self.batch_traps: dict[_signal.Signals, bool] = {}
        self.lead = (
            profile.signal_lead if profile.signal_lead is not None else float(sig.seconds_before_end if sig else 0)
        )

    def launch(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Launch:
        self.preempted_now = False
        self.batch_traps = {}
        self.workdir = cwd
        interp = shlex.split(self.script.shebang or "/bin/sh")
        job_env = _slurm.slurm_env(
            self.job_id,
            self.restart,
            job_name=self.script.job_name or self.path.name,
            submit_dir=cwd,
            events_file=self.events_file,
            requeue=self.script.requeue_allowed(),
            time_limit_s=self.script.time_limit_s,
        )
        job_env["PATH"] = os.pathsep.join([str(self.bin), _python_first(env)])
        job_env["PYTHON"] = sys.executable
        return Launch([*interp, str(self.path), *argv[1:]], cwd, job_env)

    def signal(self) -> _signal.Signals:
        sig = self.script.signal
        if self.event == "time_limit" and sig is not None:
            return sig.signal
        if self.event == "preempt" and self.profile.grace_time > 0 and self.profile.send_user_signal and sig:
            return sig.signal
        return _signal.SIGTERM

    def expected_exit(self) -> int | None:
        return None  # SLURM requeues on its own decision; the batch script's status decides nothing

    def _end(self, at: float, why: str) -> list[Delivery]:
        return [
            Delivery(s.signal, s.target, s.at, s.reason, grace_end=s.signal == _signal.SIGKILL)
            for s in _slurm.termination_steps(self.profile.kill_wait, at=at, reason=why)
        ]

    def at_trigger(self) -> list[Delivery]:
        self.preempted_now = True
        sig = self.script.signal
        if self.event == "time_limit":
            steps: list[Delivery] = []
            if sig is not None:
                steps = [
                    Delivery(s.signal, s.target, 0.0, f"time limit near: {s.reason}")
                    for s in _slurm.warning_signal_steps(sig)
                ]
            return steps + self._end(self.lead, "time limit")
        if self.event == "cancel":
            return self._end(0.0, "scancel")
        out = []
        for s in _slurm.preemption_steps(
            self.script,
            grace_time=self.profile.grace_time,
            kill_wait=self.profile.kill_wait,
            send_user_signal=self.profile.send_user_signal,
        ):
            out.append(Delivery(s.signal, s.target, s.at, s.reason, grace_end=s.signal == _signal.SIGKILL))
        return out

    def on_message(self, msg: Mapping[str, Any]) -> list[Delivery]:
        if msg.get("event") != "slurm" or msg.get("exit_code") != 0:
            return []
        if msg.get("action") in ("requeue", "requeuehold") and self.job_id in (msg.get("job_ids") or []):
            return self._end(0.0, f"scontrol {msg.get('action')} {self.job_id}")
        if msg.get("action") == "cancel" and msg.get("signal") in (None, ""):
            return self._end(0.0, f"scancel {self.job_id}")
        return []

    def on_exit(self) -> list[Delivery]:
        return [
            Delivery(
                _signal.SIGKILL,
                "job",
                0.0,
                "the batch script ended: what is left of the job is killed",
                point="job-end",
            )
        ]

    def deliverable(self, pid: int, sig: _signal.Signals, view: TreeView) -> str:
        if pid == view.pid:  # remember whether the batch shell traps it (B: then reaches a handler)
            self.batch_traps[sig] = bool(_caught(pid, sig))
        return ""

    def steps(self) -> list[_slurm.SlurmEvent]:
        """The ``srun`` steps this run of the job started (from the events file)."""
        return [
            e
            for e in _slurm.read_events(self.events_file)
            if e.command == "srun" and e.exit_code == 0 and e.job_id == self.job_id and e.restart_count == self.restart
        ]

    def pids(self, target: str, view: TreeView) -> tuple[list[int], str]:
        tree = view.tree()
        if target == "batch":
            return ([view.pid] if view.pid is not None and _alive(view.pid) else []), ""
        if target == "job":
            return [p for p in tree if _alive(p)], ""
        if target == "steps":
            steps = self.steps()
            if not steps:
                return [], "reached no process: the job has no srun step (without B:, --signal goes to job steps only)"
            live = set(tree)
            out: list[int] = []
            for e in steps:
                if e.pid in live:
                    out += [p for p in _subtree(e.pid, tree) if p not in out and _alive(p)]
            return out, ("" if out else "reached no process: every srun step had ended")
        raise ValueError(f"unknown SLURM target {target!r}")

    def requeue(self, result: RunResult) -> tuple[bool, str]:
        events = _slurm.read_events(self.events_file)
        mine = [e for e in events if e.job_id == self.job_id and e.restart_count == self.restart]
        if _slurm.requeue_requests(mine, self.job_id):
            return True, "`scontrol requeue` from inside the job"
        refused = [
            e for e in mine if e.command == "scontrol" and e.action in ("requeue", "requeuehold") and e.exit_code
        ]
        said = "; ".join(str(x) for e in refused for x in e.data.get("errors", [])) if refused else ""
        if result.returncode == 0:
            return False, "the batch script exited 0: the job completed"
        if self.preempted_now and self.event == "preempt":
            if self.script.requeue_allowed():
                return True, "preempted (PreemptMode=REQUEUE)"
            return (
                False,
                f"preempted, but the script says --no-requeue, so PreemptMode=REQUEUE cancelled job {self.job_id}",
            )
        what = {
            "time_limit": "reached its time limit",
            "cancel": "was cancelled (scancel)",
            "preempt": "ended",
        }[self.event if self.preempted_now else "preempt"]
        return False, (
            f"the job {what} (exit {result.exit_code}) and nothing asked for a requeue: SLURM requeues a job only "
            "when it is preempted with PreemptMode=REQUEUE or asked with `scontrol requeue $SLURM_JOB_ID`"
            + (f" (scontrol requeue was refused: {said})" if said else "")
        )

    def settings(self) -> str:
        sig = self.script.signal
        parts = [f"KillWait={self.profile.kill_wait:g}s", f"--signal={sig.describe()}" if sig else "no --signal"]
        if self.event == "time_limit" and sig is not None:
            parts.append(f"time limit {self.lead:g}s after the signal")
        if self.event == "preempt":
            parts.append(f"preempted, GraceTime={self.profile.grace_time:g}s")
        if self.script.requeue is False:
            parts.append("--no-requeue")
        return ", ".join(parts)

    def describe(self) -> str:
        return f"SLURM job {self.job_id}"

    def id_advice(self) -> str:
        return (
            f"a requeued job keeps SLURM_JOB_ID ({self.job_id}) while SLURM_RESTART_COUNT, the time and random ids "
            "change: derive the run id from SLURM_JOB_ID (or keep it in the checkpoint) and pass resume='allow'"
        )

    def findings(self, result: RunResult) -> list[Finding]:
        out = super().findings(result)
        sig = self.script.signal
        if sig is None:
            return out
        warnings = [s for s in result.signals if s.signal == sig.signal and s.reason.startswith("time limit near")]
        if not warnings:
            return out
        first = warnings[0]
        holders = result.holders
        handled = any(e.event == "mark_preempting" and e.signals_before > 0 for e in result.events)
        if not first.pids:
            out.append(
                finding(
                    "signal-reached-nobody",
                    f"--signal={sig.describe()} (no B:) signals the job's srun steps only, and {self.path.name} "
                    "starts the training without srun, so no process got "
                    f"{first.signal.name}: start it with `srun python ...` (or use `--signal=B:...` with exec or a trap)",
                )
            )
        elif (
            sig.batch_only
            and holders
            and not set(holders) & set(first.pids)
            and not handled
            and not self.batch_traps.get(first.signal)
        ):
            went = ", ".join(f"pid {p} ({first.commands.get(p, '?')})" for p in first.pids)
            held = ", ".join(f"pid {p}" for p in holders)
            out.append(
                finding(
                    "signal-batch-shell-only",
                    f"--signal={sig.describe()} signals the batch shell only ({went}); the training process holding "
                    f"the run ({held}) never got {first.signal.name}: in {self.path.name} start it with `exec`, or "
                    f"trap {first.signal.name.removeprefix('SIG')} and forward it (`cmd & child=$!; wait $child` with "
                    f"`trap 'kill -{first.signal.name.removeprefix('SIG')} $child' ...`), or drop B: and run it with srun",
                )
            )
        return out


# ==================================================================================================
# Kubernetes


@dataclass(frozen=True)
class Kubernetes(Scheduler):
    """A Kubernetes Job's container running the command as its PID 1.

    A preemption (eviction, node drain, pod deletion) sends ``stop_signal`` (SIGTERM) to the
    container's PID 1 only, the command's own process; a PID 1 without a handler for it ignores it
    (pid_namespaces(7)). After ``grace_period`` seconds every process of the pod gets SIGKILL. When
    PID 1 exits, the kernel kills the rest of its namespace.

    Restarts (the requeue loop): a preempted pod is replaced by a new pod; a container that exits
    non-zero is restarted in the same pod (``restart_policy="OnFailure"``) or replaced by a new pod
    (``"Never"``); ``backoff_limit`` failures end the Job. The working directory (also ``WANDB_DIR``)
    is the container's own filesystem unless ``volume`` says otherwise: an ``emptyDir`` survives a
    container restart but not a new pod; a ``persistentVolumeClaim`` survives both.

    Attributes:
        grace_period: ``terminationGracePeriodSeconds`` (Kubernetes' default 30).
        restart_policy: the pod template's ``restartPolicy`` (``OnFailure`` or ``Never``; a Job
            does not allow ``Always``).
        backoff_limit: the Job's ``backoffLimit`` (default 6).
        volume: ``None`` (the container's filesystem), ``"emptyDir"`` or ``"persistentVolumeClaim"``.
        stop_signal: the image's ``STOPSIGNAL`` / ``lifecycle.stopSignal`` (default SIGTERM).
        job_name: the Job's name (pod names are ``<job_name>-<suffix>``, in ``HOSTNAME``).

    Raises:
        ValueError: a negative grace period or backoff limit, an unknown policy or volume.
    """

    grace_period: float = 30.0
    restart_policy: str = "OnFailure"
    backoff_limit: int = 6
    volume: str | None = None
    stop_signal: str | int | _signal.Signals = "SIGTERM"
    job_name: str = "train"
    name = "kubernetes"

    def __post_init__(self) -> None:
        _grace(self.grace_period, "grace_period (terminationGracePeriodSeconds)")
        if self.restart_policy not in RESTART_POLICIES:
            raise ValueError(
                f"restartPolicy {self.restart_policy!r}: a Job's pod template takes one of {RESTART_POLICIES}"
            )
        if isinstance(self.backoff_limit, bool) or not isinstance(self.backoff_limit, int) or self.backoff_limit < 0:
            raise ValueError(f"backoffLimit must be an integer >= 0, got {self.backoff_limit!r}")
        if self.volume not in VOLUMES:
            raise ValueError(f"unknown volume {self.volume!r}; expected one of {VOLUMES}")
        object.__setattr__(self, "stop_signal", parse_signal(self.stop_signal))

    @property
    def grace(self) -> float:
        return self.grace_period

    def with_grace(self, seconds: float) -> Kubernetes:
        return replace(self, grace_period=seconds)

    def new_job(self, argv: Sequence[str], base_dir: Path, number: int) -> KubernetesJob:
        return KubernetesJob(self, argv, base_dir, self.job_name if number == 1 else f"{self.job_name}-{number}")


class KubernetesJob(Job):
    """A Job: its pods and their containers, each with a working directory as the volume says."""

    profile: Kubernetes

    def __init__(self, profile: Kubernetes, argv: Sequence[str], base_dir: Path, job_id: str) -> None:
        super().__init__(profile, argv, base_dir, job_id)
        self.pod = 0
        self.container = 0
        self.failures = 0
        self.new_pod = True
        self.dirs: list[Path] = []

    def _dir(self) -> Path:
        volume = self.profile.volume
        if volume == "persistentVolumeClaim":
            return self.dir / "persistentVolumeClaim"
        if volume == "emptyDir":
            return self.dir / f"pod-{self.pod}" / "emptyDir"
        return self.dir / f"pod-{self.pod}" / f"container-{self.container}"

    def pod_name(self) -> str:
        return f"{self.job_id}-{format(self.pod * 7919 + 104729, 'x')[-5:]}"

    def launch(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Launch:
        self.preempted_now = False
        if self.results:
            if self.new_pod:
                self.pod += 1
                self.container = 0
            else:
                self.container += 1
        workdir = self._dir()
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.dirs.append(workdir)
        return Launch(
            list(argv), workdir, {"WANDB_DIR": str(workdir), "HOSTNAME": self.pod_name(), "PATH": _python_first(env)}
        )

    def signal(self) -> _signal.Signals:
        return parse_signal(self.profile.stop_signal)

    def at_trigger(self) -> list[Delivery]:
        self.preempted_now = True
        sig = self.signal()
        grace = self.profile.grace_period
        return [
            Delivery(sig, "pid1", 0.0, f"pod deleted (preemption): {sig.name} to the container's PID 1"),
            Delivery(
                _signal.SIGKILL,
                "pod",
                grace,
                f"SIGKILL after terminationGracePeriodSeconds={grace:g}",
                grace_end=True,
            ),
        ]

    def on_exit(self) -> list[Delivery]:
        return [
            Delivery(
                _signal.SIGKILL, "pod", 0.0, "PID 1 exited: the kernel kills the rest of the container", point="job-end"
            )
        ]

    def pids(self, target: str, view: TreeView) -> tuple[list[int], str]:
        if target == "pid1":
            return ([view.pid] if view.pid is not None and _alive(view.pid) else []), ""
        if target == "pod":
            return [p for p in view.tree() if _alive(p)], ""
        raise ValueError(f"unknown Kubernetes target {target!r}")

    def deliverable(self, pid: int, sig: _signal.Signals, view: TreeView) -> str:
        if pid == view.pid and sig not in (_signal.SIGKILL, _signal.SIGSTOP) and _caught(pid, sig) is False:
            return f"ignored: the container's PID 1 has no {sig.name} handler, and PID 1 ignores such signals"
        return ""

    def requeue(self, result: RunResult) -> tuple[bool, str]:
        if result.returncode == 0:
            return False, "PID 1 exited 0: the pod succeeded and the Job is complete"
        self.failures += 1
        if self.failures > self.profile.backoff_limit:
            return False, f"BackoffLimitExceeded: {self.failures} failures > backoffLimit={self.profile.backoff_limit}"
        if self.preempted_now:
            self.new_pod = True
            return True, "the pod was deleted: the Job controller creates a new pod"
        if self.profile.restart_policy == "OnFailure":
            self.new_pod = False
            return True, f"exit {result.exit_code}: restartPolicy=OnFailure restarts the container in the same pod"
        self.new_pod = True
        return True, f"exit {result.exit_code}: restartPolicy=Never, the Job controller creates a new pod"

    def settings(self) -> str:
        return (
            f"terminationGracePeriodSeconds={self.profile.grace_period:g}, restartPolicy={self.profile.restart_policy}, "
            f"backoffLimit={self.profile.backoff_limit}, working directory on "
            + (self.profile.volume or "the container's own filesystem")
        )

    def describe(self) -> str:
        return f"Kubernetes Job {self.job_id}"

    def id_advice(self) -> str:
        return (
            "a new pod has a new name (HOSTNAME) and, without a persistentVolumeClaim, a fresh filesystem: take the "
            "run id from the Job (an env var in the pod template) or a persistent volume and pass resume='allow'"
        )

    def findings(self, result: RunResult) -> list[Finding]:
        out = super().findings(result)
        if len(self.dirs) < 2 or self.dirs[-1] == self.dirs[-2] or len(result.runs) != 1 or not self.results:
            return out
        prev = self.results[-1]
        before_dir = self.dirs[-2]
        lost = sorted(
            str(p.relative_to(before_dir))
            for p in [before_dir / "wandb" / "wandb-resume.json", *before_dir.glob("*")]
            if p.is_file()
        )
        if not lost:
            return out
        where = self.profile.volume or "the container's own filesystem"
        run, attempt = result.runs[0], result.runs[0].attempt
        new_run = len(prev.runs) == 1 and prev.runs[0].key != run.key
        auto = "wandb/wandb-resume.json" in lost
        if new_run or (
            attempt is not None and attempt.resumed and any(f.code == "steps-repeated" for f in run_findings(run))
        ):
            why = (
                "resume='auto' found no wandb/wandb-resume.json, so the new pod started a new run "
                f"{run.key.path} instead of resuming {prev.runs[0].key.path}"
                if auto and new_run
                else f"the files the previous container wrote ({', '.join(lost[:4])}) were gone"
            )
            out.append(
                finding(
                    "workdir-not-persistent",
                    f"the restarted container's working directory is on {where}, which does not survive a "
                    + ("new pod" if self.profile.volume == "emptyDir" else "restart")
                    + f": {why} — mount the working directory (WANDB_DIR and the checkpoint) from a persistentVolumeClaim",
                )
            )
        return out


# ==================================================================================================
# Spot / preemptible VMs


@dataclass(frozen=True)
class SpotVM(Scheduler):
    """A spot (preemptible) VM that is shut down at a preemption, and restarted.

    At the trigger point the guest's shutdown sends SIGTERM to every process of the training's
    service (systemd's ``KillMode=control-group``, the default; wandb-core included) or to its main
    process only (``KillMode=mixed``); the VM is powered off (SIGKILL to everything) ``notice``
    seconds later. The restart is the same VM booting again (or a replacement with the same
    persistent disk): the working directory survives.

    Attributes:
        provider: ``"gcp"`` (notice 30 s: Spot VMs are powered off 30 s after the ACPI soft-off) or
            ``"aws"`` (notice 120 s, the interruption notice; the notice itself, a metadata entry, is
            not simulated: the shutdown at its end is).
        notice: seconds from SIGTERM to the power-off (default: the provider's).
        kill_mode: ``"control-group"`` or ``"mixed"`` (systemd.kill(5)).
        instance: the VM's name (``HOSTNAME``).

    Raises:
        ValueError: an unknown provider or kill mode, a negative notice.
    """

    provider: str = "gcp"
    notice: float | None = None
    kill_mode: str = "control-group"
    instance: str = "spot-1"
    name = "spot"

    def __post_init__(self) -> None:
        if self.provider not in SPOT_NOTICE:
            raise ValueError(f"unknown spot VM provider {self.provider!r}; expected one of {sorted(SPOT_NOTICE)}")
        if self.notice is not None:
            _grace(self.notice, "notice")
        if self.kill_mode not in ("control-group", "mixed"):
            raise ValueError(f"KillMode {self.kill_mode!r}: expected 'control-group' or 'mixed'")
        object.__setattr__(self, "name", f"spot-{self.provider}")

    @property
    def grace(self) -> float:
        return self.notice if self.notice is not None else SPOT_NOTICE[self.provider]

    def with_grace(self, seconds: float) -> SpotVM:
        return replace(self, notice=seconds)

    def new_job(self, argv: Sequence[str], base_dir: Path, number: int) -> SpotJob:
        return SpotJob(self, argv, base_dir, self.instance if number == 1 else f"{self.instance}-{number}")


class SpotJob(Job):
    """The training on one spot VM, restarted after each preemption."""

    profile: SpotVM

    def launch(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Launch:
        self.preempted_now = False
        self.workdir = cwd
        return Launch(list(argv), cwd, {"HOSTNAME": self.job_id, "PATH": _python_first(env)})

    def signal(self) -> _signal.Signals:
        return _signal.SIGTERM

    def at_trigger(self) -> list[Delivery]:
        self.preempted_now = True
        grace = self.profile.grace
        who = "all" if self.profile.kill_mode == "control-group" else "main"
        return [
            Delivery(_signal.SIGTERM, who, 0.0, f"preempted: shutdown, SIGTERM (KillMode={self.profile.kill_mode})"),
            Delivery(
                _signal.SIGKILL,
                "all",
                grace,
                f"power-off {grace:g}s after the {self.profile.provider} notice",
                grace_end=True,
            ),
        ]

    def pids(self, target: str, view: TreeView) -> tuple[list[int], str]:
        if target == "main":
            return ([view.pid] if view.pid is not None and _alive(view.pid) else []), ""
        if target == "all":
            return [p for p in view.tree() if _alive(p)], ""
        raise ValueError(f"unknown spot VM target {target!r}")

    def requeue(self, result: RunResult) -> tuple[bool, str]:
        if result.returncode == 0:
            return False, "the training exited 0: done"
        return True, "the VM boots again and the training service starts with its persistent disk"

    def settings(self) -> str:
        return f"{self.profile.provider} notice {self.profile.grace:g}s, KillMode={self.profile.kill_mode}"

    def describe(self) -> str:
        return f"spot VM {self.job_id}"

    def id_advice(self) -> str:
        return "keep the run id on the persistent disk (the checkpoint) or pass a fixed one, with resume='allow'"


# ==================================================================================================

#: Profile names (``runresume check --scheduler``, the marker's ``scheduler="..."``) -> factory.
SCHEDULERS: dict[str, Callable[..., Scheduler]] = {
    "slurm": Slurm,
    "kubernetes": Kubernetes,
    "spot-gcp": lambda **kw: SpotVM("gcp", **kw),
    "spot-aws": lambda **kw: SpotVM("aws", **kw),
}


def scheduler_from_name(name: str, **options: Any) -> Scheduler:
    """The profile called ``name`` (a key of :data:`SCHEDULERS`) with ``options``.

    Raises:
        ValueError: an unknown name (listing the known ones) or a bad option.
    """
    key = re.sub(r"[_\s]", "-", name.strip().lower())
    if key not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; expected one of {sorted(SCHEDULERS)}")
    try:
        return SCHEDULERS[key](**options)
    except TypeError as exc:
        raise ValueError(f"scheduler {key!r}: {exc}") from None
