"""What one supervised process did, kept as it was when the process ended (:class:`RunResult`)."""

from __future__ import annotations

import shlex
import signal as _signal
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model import RunRecord, TimelineEvent
from .errors import ExpectationFailed
from .findings import Finding, render_findings

if TYPE_CHECKING:
    from ..wire import FakeServer
    from .spec import Preemption


@dataclass
class SentSignal:
    """A signal the harness sent.

    Attributes:
        signal: which.
        pids: to which processes.
        t: wall-clock time it was sent, seconds since the epoch.
        point: what the process reported at the trigger point (``{"point": "step", "step": 5, ...}``).
        backend_last_step: the last step the backend held when the signal was sent.
        commands: the command line of each pid it went to (``{pid: "bash launch.sh"}``).
        start: which start of the training code reached the trigger point (1-based), if known.
        reason: why a scheduler profile sent it (``"--signal=B:USR1@90"``, ``"SIGKILL after
            KillWait=2s"``), ``""`` for the harness's own signals.
        note: what became of it when it did not simply land (``"reached no process: ..."``,
            ``"ignored by the container's PID 1: ..."``), else ``""``.
    """

    signal: _signal.Signals
    pids: list[int]
    t: float
    point: dict[str, Any]
    backend_last_step: int | None = None
    commands: dict[int, str] = field(default_factory=dict)
    start: int | None = None
    reason: str = ""
    note: str = ""

    @property
    def escalation(self) -> bool:
        """Whether this is the SIGKILL that ended a grace period."""
        return self.point.get("point") == "escalation"


@dataclass
class JobRecord:
    """What a scheduler profile made of one run of its job (see :mod:`.schedulers`).

    Attributes:
        scheduler: the profile's name (``"slurm"``, ``"kubernetes"``, ``"spot-gcp"``, ``"spot-aws"``).
        job_id: the job's id (``SLURM_JOB_ID``, the Kubernetes Job's name, the VM's name).
        restart: which run of the job this was: 0 for the first, N after N requeues/restarts
            (``SLURM_RESTART_COUNT``, the Job's container restarts and replacement pods).
        settings: the profile's settings that matter for a failure, in the scheduler's own terms
            (``"KillWait=2s, --signal=B:USR1@120"``).
        workdir: the working directory this run had (``WANDB_DIR`` too).
        requeued: whether the scheduler restarts the job after this run.
        requeue_reason: why (or why not), in the scheduler's terms.
        expected_exit: the exit status a correct job ends with after a preemption, or ``None``
            when the scheduler does not look at it (SLURM: the batch script's status decides nothing).
        findings: the profile's own diagnosis of this run (codes of :data:`.findings.CODES`).
        title: the job in the scheduler's words (``"SLURM job 4242"``).
    """

    scheduler: str
    job_id: str
    restart: int
    settings: str
    workdir: Path
    requeued: bool = False
    requeue_reason: str = ""
    expected_exit: int | None = None
    findings: list[Finding] = field(default_factory=list)
    title: str = ""


@dataclass
class ProcessEvent:
    """Something the hook inside a process of the command reported (see :mod:`.protocol`).

    Attributes:
        event: ``init`` (``wandb.init`` returned), ``mark_preempting`` or ``handler`` (a signal
            handler was registered).
        pid: the reporting process.
        detail: the message (run id, entity, project, resumed, starting step, signal number ...).
        signals_before: how many signals the harness had sent to the command when it was recorded.
    """

    event: str
    pid: int
    detail: dict[str, Any]
    signals_before: int


@dataclass
class RunResult:
    """What one supervised process did, as it was when the process ended.

    Later processes (a restart, a requeue) do not change a result: ``run``/``runs`` are copies of
    the runs as the process left them, and ``state`` is judged from that copy (only the backend's
    clock moves it, R61). The live view is explicit: :meth:`state_now`, :meth:`run_now`.

    Attributes:
        command: the argv that was run.
        returncode: as ``subprocess`` gives it: the exit status, or ``-signum`` if a signal killed
            it; ``None`` when the supervisor never reported one (the result then carries a problem).
        stdout, stderr: its output (text).
        signals: what the harness sent.
        runs: the runs the process started or resumed, as the backend held them when it ended.
        killed: left-over processes the supervisor had to SIGKILL after the grace period.
        duration: wall seconds from launch to the end of the whole tree.
        served: the fake backend it ran against.
        events: what the hook inside the command's processes reported, in order.
        problems: what the harness could not do as promised (a sync that timed out, an exit status
            never reported, an ambiguous run): each fails every verdict on this result.
        preemption: the preemption asked for, if any.
        timeline_from: for each run path, the index of its first timeline event of this process.
        previous: the result of the same command run before this one by the same harness, if any
            (the diagnosis compares run ids across restarts).
        job: what the scheduler profile made of this run (``None`` without ``scheduler=``).
    """

    command: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    signals: list[SentSignal]
    runs: list[RunRecord]
    killed: list[int]
    duration: float
    served: FakeServer
    events: list[ProcessEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    preemption: Preemption | None = None
    timeline_from: dict[str, int] = field(default_factory=dict)
    previous: RunResult | None = None
    job: JobRecord | None = None

    @property
    def exit_code(self) -> int | None:
        """The shell's view: ``128 + signum`` for a process a signal killed, else the exit status."""
        if self.returncode is None:
            return None
        return 128 - self.returncode if self.returncode < 0 else self.returncode

    @property
    def killed_by_signal(self) -> _signal.Signals | None:
        """The signal that ended the process, if no handler caught it."""
        return _signal.Signals(-self.returncode) if self.returncode is not None and self.returncode < 0 else None

    @property
    def run(self) -> RunRecord:
        """The one run this process wrote to, as the process left it.

        Raises:
            ExpectationFailed: if it wrote to none or to several (with the likely cause).
        """
        if len(self.runs) != 1:
            paths = [r.key.path for r in self.runs]
            raise ExpectationFailed(
                f"expected the process to write exactly one run, it wrote {len(self.runs)}: {paths}"
                + self._causes()
                + "\n"
                + self.report()
            )
        return self.runs[0]

    @property
    def state(self) -> str:
        """The run's state as this process left it (lowercase, R51), judged at the backend's clock
        now: a process that died silently is ``running`` until the crash timeout passes (R61)."""
        return self.served.model.state(self.run)

    def state_now(self) -> str:
        """The run's state in the backend now, whatever ran since (lowercase, R51)."""
        return self.served.model.state(self.run_now())

    def run_now(self) -> RunRecord:
        """The run as the backend holds it now (live: later processes change it).

        Raises:
            KeyError: the run is gone (deleted or the backend was reset).
        """
        return self.served.model.run(self.run.key.path)

    def requeueable(self) -> bool:
        """Whether the run, as this process left it, may be requeued (ended ``preempted``, R66, R71)."""
        return self.served.model.is_requeueable(self.run)

    def timeline(self, run: RunRecord | None = None) -> list[TimelineEvent]:
        """This process's own slice of the run's timeline (``run``: one of :attr:`runs`)."""
        rec = run if run is not None else self.run
        return rec.timeline[self.timeline_from.get(rec.key.path, 0) :]

    @property
    def holders(self) -> dict[int, dict[str, Any]]:
        """The processes that called ``wandb.init``: ``{pid: init event detail}``."""
        return {e.pid: e.detail for e in self.events if e.event == "init"}

    @cached_property
    def findings(self) -> list[Finding]:
        """The diagnosis of this process (:func:`.diagnosis.diagnose`), computed once."""
        # The one call up the harness: the diagnosis reads a RunResult, a RunResult asks for its
        # diagnosis (declared in pyproject.toml's import contracts).
        from .diagnosis import diagnose

        return diagnose(self)

    def _causes(self, allow: tuple[str, ...] = ()) -> str:
        return render_findings([f for f in self.findings if f.code not in allow])

    def report(self, tail: int = 30) -> str:
        """The diagnosis, this process's timeline and its last output lines, for failure messages."""
        lines = [f"command: {shlex.join(self.command)}"]
        if self.job is not None:
            j = self.job
            lines.append(
                f"scheduler: {j.title or j.job_id}, run {j.restart} ({j.settings}); "
                + ("requeued" if j.requeued else "not requeued")
                + (f": {j.requeue_reason}" if j.requeue_reason else "")
            )
        causes = render_findings(self.findings, notes=True)
        if causes:
            lines.append("diagnosis:" + causes)
        for p in self.problems:
            lines.append(f"harness problem: {p}")
        for sent in self.signals:
            where = ", ".join(f"{pid} ({sent.commands.get(pid, '?')})" for pid in sent.pids)
            at = sent.point.get("point")
            detail = sent.point.get("step", sent.point.get("name", ""))
            why = f" [{sent.reason}]" if sent.reason else ""
            note = f" — {sent.note}" if sent.note else ""
            if sent.escalation:
                lines.append(f"signal SIGKILL sent to {where or 'no process'}: the grace period ran out{why}{note}")
                continue
            start = f", start {sent.start}" if sent.start is not None else ""
            lines.append(
                f"signal {sent.signal.name} sent to {where or 'no process'} at {at} {detail}{start}"
                f" (backend last step {sent.backend_last_step}){why}{note}"
            )
        if self.returncode is None:
            lines.append("exit: unknown (the supervisor reported no exit status)")
        else:
            lines.append(
                f"exit: returncode {self.returncode} (exit code {self.exit_code})"
                + (f", killed by {self.killed_by_signal.name}" if self.killed_by_signal else "")
            )
        if self.killed:
            lines.append(f"left-over processes killed after the grace period: {self.killed}")
        model = self.served.model
        for rec in self.runs:
            requeue = "requeueable (R66, R71)" if model.is_requeueable(rec) else "not requeueable"
            lines.append(
                f"run {rec.key.path}: state {model.state(rec)} (as this process left it), "
                f"last step {rec.last_step}, {requeue}"
            )
            own = self.timeline(rec)
            t0 = rec.timeline[0].t if rec.timeline else 0.0
            for ev in own:
                lines.append(f"  +{ev.t - t0:7.2f}s {ev.kind:<13} {ev.detail}")
        for name, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            out = text.splitlines()[-tail:]
            if out:
                lines.append(f"--- {name} (last {len(out)} lines) ---")
                lines.extend(out)
        return "\n".join(lines)

    def expect(
        self,
        state: str | None = None,
        exit_code: int | None = None,
        requeueable: bool | None = None,
        allow: tuple[str, ...] | list[str] = (),
    ) -> RunResult:
        """Assert how the run ended, and that the diagnosis found no bug; returns ``self``.

        Args:
            state: the run's expected state as the process left it (compared lowercase, R51/A13).
            exit_code: the expected shell exit code (``128 + signum`` after a handled signal, R67).
            requeueable: whether the backend must consider the run requeueable (R66, R71).
            allow: finding codes (:data:`.findings.CODES`) this test produces on purpose; every
                other finding of severity ``bug`` fails the expectation, even when the state and
                exit code match (e.g. ``run.mark_preempting()`` called before any signal, R69).

        Raises:
            ExpectationFailed: the differences first, then the likely causes with their rule ids,
                then the timeline.
        """
        __tracebackhide__ = True  # pytest shows the failing test's line, not this method's source
        allowed = tuple(allow)
        problems = []
        if exit_code is not None and self.exit_code != exit_code:
            problems.append(f"exit code {self.exit_code}, expected {exit_code}")
        if state is not None and self.state != state.lower():
            problems.append(f"run state {self.state!r}, expected {state.lower()!r}")
        if requeueable is not None and self.requeueable() != requeueable:
            problems.append(f"requeueable is {not requeueable}, expected {requeueable} (R66, R71)")
        bugs = [f for f in self.findings if f.severity == "bug" and f.code not in allowed]
        if problems or bugs:
            head = (
                "; ".join(problems)
                if problems
                else "the run ended as expected, but the diagnosis found a bug (a test that produces it on purpose "
                f"passes allow={[f.code for f in bugs]})"
            )
            raise ExpectationFailed(head + self._causes(allowed) + "\n" + self.report())
        return self
