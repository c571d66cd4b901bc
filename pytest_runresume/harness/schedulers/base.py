"""The hook between the runner and a scheduler profile: :class:`Scheduler` (a profile's settings),
:class:`Job` (one job of a profile, each run of its command the next run of the job), and what a job
answers: :class:`Launch` (how a run starts), :class:`Delivery` (a signal to send) and the
:class:`TreeView` it reads the processes from. The profiles themselves are in :mod:`.slurm`,
:mod:`.kubernetes` and :mod:`.spot`; the package docstring says how the runner uses the hook.
"""

from __future__ import annotations

import os
import signal as _signal
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..findings import Finding, finding
from ..results import JobRecord
from ..spec import Preemption, Trigger

if TYPE_CHECKING:
    from ..results import RunResult


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
        point: what the result's :class:`~..results.SentSignal` records as its point
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
    """A scheduler profile: a frozen description of a scheduler's settings (how the runner uses it:
    :mod:`pytest_runresume.harness.schedulers`)."""

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
