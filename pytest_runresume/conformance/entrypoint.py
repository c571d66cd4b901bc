"""Entrypoint conformance: a standard battery of preemption checks run against a user's training
command (``runresume check -- python train.py``, or the packaged ``test_entrypoint`` module).

Each check runs the command with the harness against an embedded fake backend, in a fresh working
directory (which is also ``WANDB_DIR``).

========================  ======================================================================
``finishes``              left alone it exits 0 and the run is ``finished`` (R55, R66, R70a)
``preempted``             the signal after step N: exit 128+signum, ``preempted``, requeueable
``resumed``               restarted with the same id: resumes at the last step + 1, each step once
``crashed``               SIGKILL after step N: ``running`` until the crash timeout, then ``crashed``
``restarted_after_kill``  SIGKILL after step N, then the same command, same environment, same
                          directory: the same run resumed, each step once, ``finished`` (R73)
``failed``                an exception after step N: non-zero exit, ``failed``, not preempted (R69)
``auto_same_dir``         with ``resume="auto"``, a restart in the same directory resumes the run
``auto_other_dir``        ... and a start in another directory makes a new run
========================  ======================================================================

What each check gives the command as its run id:

- ``finishes``, ``preempted``, ``crashed``, ``restarted_after_kill``, ``failed``: a new id in
  ``WANDB_RUN_ID`` (R18); ``restarted_after_kill`` gives the same one to the killed start and the
  restart, both in the check's directory (a checkpoint written there survives the kill). The command
  must honour it (``wandb.init`` reads it when no ``id=`` is passed; a ``--run-id`` flag of its own
  should default to it).
- ``resumed``: the ``preempted`` check's id in ``WANDB_RUN_ID`` again, in that check's directory.
- ``auto_same_dir``, ``auto_other_dir``: no ``WANDB_RUN_ID``. They test the id-less path of
  ``resume="auto"`` by definition: the SDK finds the id in ``wandb/wandb-resume.json`` of the working
  directory (R09-R12). The first run is preempted after step N and restarted in the same directory;
  then the command starts in another directory. Both are skipped when that first run writes no
  ``wandb/wandb-resume.json``: the command does not use ``resume="auto"``, or it cannot run without a
  run id (it exits before the trigger point, e.g. on ``os.environ["WANDB_RUN_ID"]``): it needs its
  run id from outside, as in W&B's ``WANDB_RESUME=auto WANDB_RUN_ID=<id> python eval.py``, and the
  checks above cover that.

Every signal the battery sends (the preemption signal, SIGKILL) goes to ``target``, as the ``preempt``
marker's ``Preemption(target=...)``: ``"process"`` (default: the command's own process), ``"point"``
(the process that reached the trigger point: the training run when the command is a launcher) or
``"group"`` (every process of the command's tree, wandb-core included, as a scheduler's cancel does).
"""

from __future__ import annotations

import os
import re
import shlex
import signal as _signal
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..harness import (
    ExpectationFailed,
    Finding,
    Harness,
    HarnessError,
    Preemption,
    RunResult,
    Trigger,
    TriggerNotReached,
    parse_signal,
)
from ..harness.diagnosis import BUG, run_findings
from ..harness.pictures import write_pictures as harness_pictures
from ..harness.requeue import RequeueResult
from ..harness.schedulers import Scheduler
from ..harness.spec import TARGETS
from ..model import Backend
from ..wire import ServedBackend
from .checks import BY_NAME, CHECKS, Check

#: How the command learns its run id.
RUN_ID_ENV = "WANDB_RUN_ID"
#: Read by the harness's hook in the child: ``run.log`` raises after that step.
INJECT_ENV = "RUNRESUME_INJECT_EXCEPTION_AT_STEP"


@dataclass
class CheckResult:
    """The outcome of one check.

    Attributes:
        check: which check.
        status: ``passed``, ``failed`` or ``skipped``.
        reason: one line: what was seen (passed) or what went wrong and the likely cause.
        details: the harness's reports (timeline, exit, output tail) of the runs involved.
        duration: wall seconds.
        runs: what the harness ran for this check, in order (a prerequisite's runs are its own).
        pictures: the picture files written for it (:func:`write_pictures`; failed checks only).
    """

    check: Check
    status: str
    reason: str
    details: str = ""
    duration: float = 0.0
    runs: list[RunResult] = field(default_factory=list)
    pictures: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.check.name


class _Failed(Exception):
    def __init__(self, reason: str, details: str = "", cause: BaseException | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details
        self.cause = cause


class _Skipped(Exception):
    pass


def resolve_command(command: str | Sequence[str], cwd: Path | None = None) -> list[str]:
    """The argv to run: paths in it that exist relative to ``cwd`` (default: the current directory)
    made absolute, since each check runs in a directory of its own."""
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if not argv:
        raise ValueError("no command to check")
    base = Path(cwd) if cwd is not None else Path.cwd()
    out = []
    for i, arg in enumerate(argv):
        candidate = base / arg
        if (i > 0 or "/" in arg) and not arg.startswith("-") and not os.path.isabs(arg) and candidate.exists():
            arg = str(candidate.resolve())
        out.append(arg)
    return out


def _first_line(exc: BaseException) -> tuple[str, str]:
    text = str(exc)
    head, _, rest = text.partition("\n")
    return head, rest


def _causes(findings: Sequence[Finding]) -> str:
    """`` — likely cause: [bug: code] ... (R..)`` for the bug findings (the notes when there is no bug),
    or ``""``: the diagnosis every verdict of the harness reports through."""
    bugs = [f for f in findings if f.severity == BUG]
    shown = bugs or list(findings)
    return "".join(f" — likely cause: {f.render()}" for f in shown)


@dataclass
class EntrypointBattery:
    """The battery for one command.

    Args:
        command: the training command (a string split like a shell would, or an argv list).
        signal: the preemption signal (default SIGUSR1).
        step: the W&B step after which signals and the exception are injected.
        base_dir: where the checks' working directories go, kept (default: a temporary directory,
            removed by :meth:`close`).
        timeout: seconds one run of the command may take.
        crash_timeout: the fake backend's crash timeout (R61); the clock is moved, never waited for.
        cwd: where relative paths in ``command`` are resolved (default: the current directory).
        target: who gets every signal the battery sends, as :class:`~pytest_runresume.harness.Preemption`'s
            ``target``: ``"process"`` (the command's own process), ``"point"`` (the process that
            reached the trigger point, e.g. the training run under a launcher), ``"group"`` (every
            process of the command's tree, wandb-core included, as a scheduler's cancel does).
        grace: seconds from the preemption signal to SIGKILL if the command has not exited (the
            scheduler's grace period: SLURM's KillWait and Kubernetes' terminationGracePeriodSeconds
            default to 30 s); ``None`` waits without limit (up to ``timeout``). With ``scheduler``
            it sets that scheduler's grace period (``None``: the profile's own).
        scheduler: a scheduler profile (:mod:`pytest_runresume.harness.schedulers`): every run of
            a check is a run of that scheduler's job (a restart in the same check is its requeue),
            the preemption is what that scheduler delivers (``signal`` and ``target`` do not apply
            to it), and SIGKILL (the crash checks: a node failure) goes to every process of the job.
    """

    command: str | Sequence[str]
    signal: str | int | _signal.Signals = "SIGUSR1"
    step: int = 2
    base_dir: Path | None = None
    timeout: float = 120.0
    crash_timeout: float = 300.0
    cwd: Path | None = None
    target: str = "process"
    grace: float | None = 30.0
    scheduler: Scheduler | None = None
    argv: list[str] = field(init=False)
    results: dict[str, CheckResult] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.argv = resolve_command(self.command, self.cwd)
        self.sig = parse_signal(self.signal)
        if self.step < 0:
            raise ValueError(f"the step must be >= 0, got {self.step}")
        if self.target not in TARGETS:
            raise ValueError(f"unknown signal target {self.target!r}; expected one of {TARGETS}")
        if self.grace is not None and not self.grace > 0:
            raise ValueError(f"the grace period must be seconds > 0, got {self.grace}")
        if self.scheduler is not None and self.grace is not None:
            self.scheduler = self.scheduler.with_grace(self.grace)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if self.base_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="runresume-check-")
            self.base_dir = Path(self._tmp.name)
        self.base_dir = Path(self.base_dir)
        self.served = ServedBackend(Backend(crash_timeout=self.crash_timeout)).start()
        self._preempted: tuple[Harness, str, RunResult] | None = None
        self._auto: tuple[Harness, RunResult, bool] | _Failed | _Skipped | None = None
        self._steps: int | None = None
        self._harnesses: list[Harness] = []

    # ---- plumbing ------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the backend; remove the working directories if they are temporary."""
        self.served.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> EntrypointBattery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def description(self) -> str:
        if self.scheduler is not None:
            return (
                f"{shlex.join(self.argv)}  (under {self.scheduler.name}: its preemption after step {self.step}, "
                f"grace period {self.scheduler.grace:g} s; SIGKILL to the whole job after step {self.step})"
            )
        to = "" if self.target == "process" else f", sent to the {self.target}"
        grace = f", SIGKILL {self.grace:g} s after an unfinished {self.sig.name}" if self.grace is not None else ""
        return f"{shlex.join(self.argv)}  ({self.sig.name} and SIGKILL after step {self.step}{to}{grace})"

    def _harness(self, name: str) -> Harness:
        assert self.base_dir is not None
        harness = Harness(self.served, self.base_dir / name, timeout=self.timeout)
        self._harnesses.append(harness)
        return harness

    def _preemption(self, sig: _signal.Signals | str | int | None = None) -> Preemption | Trigger:
        if self.scheduler is not None:
            if sig is None:
                return Trigger.at_step(self.step)  # the scheduler's own preemption
            return Preemption(parse_signal(sig), Trigger.at_step(self.step), target="group")  # a node failure
        signal = parse_signal(sig) if sig is not None else self.sig
        grace = None if signal == _signal.SIGKILL else self.grace
        return Preemption(signal, Trigger.at_step(self.step), target=self.target, escalate_after=grace)

    def _sent_to(self, result: RunResult) -> str:
        """For a target other than the process: how many processes the signal reached."""
        if self.target == "process" or not result.signals:
            return ""
        sent = result.signals[0]
        n = len(sent.pids)
        return f" ({sent.signal.name} sent to {n} process{'es' if n != 1 else ''}, target {self.target})"

    def _run(
        self,
        harness: Harness,
        run_id: str | None,
        preempt: Preemption | Trigger | None = None,
        env: dict[str, str] | None = None,
    ) -> RunResult:
        env = dict(env or {})
        if run_id is not None:
            env[RUN_ID_ENV] = run_id
        before = len(harness.results)
        try:
            return harness.run(self.argv, preempt=preempt, env=env, scheduler=self.scheduler)
        except HarnessError as exc:
            head, rest = _first_line(exc)
            findings = harness.results[-1].findings if len(harness.results) > before else []
            raise _Failed(head + _causes(findings), rest, exc) from None
        except (FileNotFoundError, ValueError) as exc:
            raise _Failed(str(exc)) from None

    def _signal_and_exit(self, harness: Harness) -> tuple[_signal.Signals, int | None]:
        """The preemption signal that reaches the training process, and the exit a correct command
        ends with after it (``None``: the scheduler does not look at it)."""
        if self.scheduler is None:
            return self.sig, 128 + int(self.sig)
        job = harness.job(self.scheduler, self.argv)
        return job.signal(), job.expected_exit()

    def _expect(
        self,
        result: RunResult,
        hint: str = "",
        state: str | None = None,
        exit_code: int | None = None,
        requeueable: bool | None = None,
    ) -> None:
        try:
            result.expect(state=state, exit_code=exit_code, requeueable=requeueable)
        except ExpectationFailed as exc:
            head, rest = _first_line(exc)
            causes = _causes(result.findings)
            raise _Failed(head + (causes or (f": {hint}" if hint else "")), rest) from None

    def _one_run(self, result: RunResult) -> None:
        if len(result.runs) != 1:
            raise _Failed(
                f"the command wrote {len(result.runs)} runs, expected one "
                f"({', '.join(r.key.path for r in result.runs) or 'none'})" + _causes(result.findings),
                result.report(),
            )

    def _run_id(self, name: str) -> str:
        return f"rr-{name.replace('_', '-')}-{os.getpid()}-{int(time.time() * 1000) % 100000}"

    # ---- the checks ----------------------------------------------------------------------------------
    def run(self, only: Sequence[str] | None = None) -> list[CheckResult]:
        """Run the checks (all, or those named in ``only``, in the battery's order).

        Raises:
            ValueError: naming an unknown check.
        """
        unknown = sorted(set(only or ()) - set(BY_NAME))
        if unknown:
            raise ValueError(f"unknown check(s) {unknown}; known: {[c.name for c in CHECKS]}")
        names = [c.name for c in CHECKS if not only or c.name in only]
        return [self.run_check(name) for name in names]

    def run_check(self, name: str) -> CheckResult:
        """Run one check (its prerequisites run first if they have not)."""
        if name in self.results:
            return self.results[name]
        check = BY_NAME[name]
        fn: Callable[[], str] = getattr(self, f"_check_{name}")
        seen = {id(r) for h in self._harnesses for r in h.results}
        t0 = time.monotonic()
        try:
            reason = fn()
            result = CheckResult(check, "passed", reason)
        except _Failed as exc:
            result = CheckResult(check, "failed", exc.reason, exc.details)
        except _Skipped as exc:
            result = CheckResult(check, "skipped", str(exc))
        result.duration = time.monotonic() - t0
        result.runs = [r for h in self._harnesses for r in h.results if id(r) not in seen]
        self.results[name] = result
        return result

    def _check_finishes(self) -> str:
        result = self._run(self._harness("finishes"), self._run_id("finishes"))
        self._one_run(result)
        hint = ""
        if result.exit_code != 0:
            hint = "left alone, the command must run to its end and exit 0"
        self._expect(result, hint, state="finished", exit_code=0, requeueable=False)
        self._steps = len(result.run.steps)
        return f"exit 0, finished, {self._steps} steps logged"

    def _check_preempted(self) -> str:
        harness, run_id = self._harness("preempted"), self._run_id("preempted")
        pre = self._preemption()
        result = self._run(harness, run_id, preempt=pre)
        self._preempted = (harness, run_id, result)
        self._one_run(result)
        signal, exit_code = self._signal_and_exit(harness)
        sig = signal.name
        hint = ""
        if result.killed_by_signal == signal:
            hint = f"no {sig} handler: the process died of the signal (register one before training, R68)"
        elif result.exit_code == 0:
            hint = f"the {sig} handler exits 0; a preempted run must exit non-zero, 128+signum (R66, R67)"
        elif result.state == "failed":
            hint = f"the {sig} handler does not call run.mark_preempting() before exiting (R65, R68)"
        self._expect(result, hint, state="preempted", exit_code=exit_code, requeueable=True)
        return f"exit {result.exit_code}, preempted at step {result.run.last_step}, requeueable{self._sent_to(result)}"

    def _check_resumed(self) -> str:
        if self._preempted is None:
            self.run_check("preempted")
        if self._preempted is None:
            raise _Skipped("needs the preempted run, which did not start")
        harness, run_id, first = self._preempted
        if first.signals == []:
            raise _Skipped("needs a preempted run: the preemption signal was never sent")
        second = self._run(harness, run_id)
        results = [first, second]
        states = [r.state if len(r.runs) == 1 else "unknown" for r in results]
        loop = RequeueResult(results, states, [first.preemption, None])
        bugs = [f for f in loop.findings(total_steps=self._steps) if f.severity == BUG]
        if bugs:
            head = f"the restart: {bugs[0].message}"
            ids = {r.key.run_id for res in results for r in res.runs}
            if len(ids) > 1 or run_id not in ids:
                head += f"; the command must use the run id in {RUN_ID_ENV} ({run_id}) or persist its own (R18, R21)"
            raise _Failed(head + _causes(bugs), loop.report()) from None
        run = second.run
        start = run.attempts[-1].start_line
        before = max((x for x in run.steps[:start] if x is not None), default=None)
        after = next((x for x in run.steps[start:] if x is not None), None)
        return f"resumed at step {after} after step {before}; steps 0..{run.last_step} once each, finished"

    def _check_crashed(self) -> str:
        harness = self._harness("crashed")
        result = self._run(harness, self._run_id("crashed"), preempt=self._preemption(_signal.SIGKILL))
        self._one_run(result)
        backend = self.served.backend
        if result.state != "running":
            hint = ""
            if result.state == "preempting":
                hint = "mark_preempting() was called without a preemption (R69)"
            raise _Failed(
                f"right after the SIGKILL the run is {result.state!r}, expected 'running' until the crash timeout"
                + (_causes(result.findings) or (f": {hint}" if hint else "")),
                result.report(),
            )
        backend.advance_clock(backend.crash_timeout - 1)
        if result.state != "running":
            raise _Failed(f"{result.state!r} before the crash timeout passed, expected 'running'", result.report())
        backend.advance_clock(1)
        hint = "mark_preempting() was called without a preemption (R69)" if result.state == "preempted" else ""
        self._expect(result, hint, state="crashed", requeueable=False)
        return (
            f"killed by SIGKILL at step {result.run.last_step}: running, crashed after {backend.crash_timeout:g} s"
            + self._sent_to(result)
        )

    def _check_restarted_after_kill(self) -> str:
        """A SIGKILL runs no handler (R63, R73), so whatever the command persists only there is lost:
        the restart (same command, same environment and ``WANDB_RUN_ID``, same directory) must find
        its run id and resume that run. Steps redone since the last periodic checkpoint are expected
        after a SIGKILL; W&B numbers its steps, so they stay contiguous."""
        harness, run_id = self._harness("restarted_after_kill"), self._run_id("restarted_after_kill")
        first = self._run(harness, run_id, preempt=self._preemption(_signal.SIGKILL))
        self._one_run(first)
        killed_id, killed_at = first.run.key.run_id, first.run.last_step
        second = self._run(harness, run_id)
        details = "\n\n".join(
            f"=== {what} ===\n{r.report()}" for what, r in (("killed start", first), ("restart", second))
        )
        if not second.runs:
            last = next((line.strip() for line in reversed(second.stderr.splitlines()) if line.strip()), "")
            raise _Failed(
                f"the restart after SIGKILL wrote no run (exit code {second.exit_code}"
                + (f", last output: {last[:120]}" if last else "")
                + ")",
                details,
            )
        loop = RequeueResult(
            [first, second], [r.state if len(r.runs) == 1 else "unknown" for r in (first, second)], [None, None]
        )
        causes = _causes([f for f in loop.findings() if f.code != "not-finished"])
        ids = sorted(r.key.run_id for r in second.runs)
        if ids != [killed_id]:
            ignores = f"; it also ignores {RUN_ID_ENV} ({run_id})" if killed_id != run_id else ""
            raise _Failed(
                f"the restart after SIGKILL wrote run {', '.join(ids)}, not {killed_id}: the run id is persisted "
                "too late (only in the preemption handler or after training) — fix it before wandb.init and "
                f"persist it before training (R21, R28){ignores}" + causes,
                details,
            )
        run = second.run
        attempt = run.attempts[-1]
        if len(run.attempts) < 2 or not attempt.resumed:
            raise _Failed(
                f"the restart did not resume (no resume= on wandb.init, or no WANDB_RESUME): it wrote run "
                f"{killed_id} again from step 0 instead of continuing after step {killed_at}; pass "
                "resume='allow' or 'must' with the run id (R03, R14, R35)" + causes,
                details,
            )
        steps = run.steps
        dup = sorted(st for st, n in Counter(steps).items() if st is not None and n > 1)
        if dup:
            raise _Failed(f"W&B steps logged more than once after the restart: {dup[:10]} (R35, R36)" + causes, details)
        gaps = [f for f in run_findings(run) if f.code == "steps-missing"]
        if any(f.severity == BUG for f in gaps):
            raise _Failed(
                f"W&B steps are not contiguous from 0 after the restart: {steps[:25]} (R35, R36)" + causes, details
            )
        hint = "the restart after SIGKILL must run to its end and exit 0" if second.exit_code != 0 else ""
        try:
            second.expect(state="finished", exit_code=0)
        except ExpectationFailed as exc:
            head, _ = _first_line(exc)
            raise _Failed(f"after the restart: {head}" + (f": {hint}" if hint else ""), details) from None
        resumed_at = steps[attempt.start_line] if attempt.start_line < len(steps) else None
        return (
            f"killed by SIGKILL at step {killed_at}; the restart resumed run {killed_id} at step {resumed_at}; "
            f"steps 0..{run.last_step} once each, finished"
            + (f" (note: {gaps[0].message})" if gaps else "")
            + self._sent_to(first)
        )

    def _check_failed(self) -> str:
        env = {INJECT_ENV: str(self.step)}
        harness = self._harness("failed")
        result = self._run(harness, self._run_id("failed"), env=env)
        self._one_run(result)
        injected = "exception injected after step" in result.stderr + result.stdout
        hint = ""
        if result.state == "preempted" or result.run.attempt is not None and result.run.attempt.preempting:
            hint = "mark_preempting() was called for an exception, so a bug would be requeued forever (R69)"
        elif result.exit_code == 0 and not injected:
            hint = f"the command never logged step {self.step}, so the exception was not raised"
        elif result.exit_code == 0:
            hint = "the exception was swallowed and the command exited 0"
        signal, _ = self._signal_and_exit(harness)
        if result.exit_code == 128 + int(signal):
            raise _Failed(
                f"exit code {result.exit_code} after an exception, the preemption exit code: it would be requeued (R66)",
                result.report(),
            )
        self._expect(result, hint, state="failed", requeueable=False)
        return f"exit {result.exit_code}, failed, not requeueable"

    def _auto_first(self) -> tuple[Harness, RunResult]:
        """The first run without a run id (preempted after step N), shared by both auto checks."""
        if self._auto is None:
            harness = self._harness("auto")

            def wrote_resume_file() -> bool:  # in WANDB_DIR: a scheduler may give each run its own directory
                job = harness.results[-1].job if harness.results else None
                workdir = job.workdir if job is not None else harness.workdir
                return (workdir / "wandb" / "wandb-resume.json").is_file()

            try:
                result = self._run(harness, None, preempt=self._preemption())
            except _Failed as exc:
                needs_id = isinstance(exc.cause, TriggerNotReached) and not wrote_resume_file()
                self._auto = _Skipped(self._needs_run_id(harness.results[-1])) if needs_id else exc
            else:
                self._auto = (harness, result, wrote_resume_file())
        if isinstance(self._auto, (_Failed, _Skipped)):
            raise self._auto
        harness, result, uses_auto = self._auto
        if not uses_auto:
            raise _Skipped("entrypoint does not use resume='auto' (its first run wrote no wandb/wandb-resume.json)")
        self._one_run(result)
        return harness, result

    def _needs_run_id(self, result: RunResult) -> str:
        """The skip reason of the auto checks for a command that exited before the trigger point
        without a run id and wrote no wandb-resume.json."""
        why = (
            f"these checks run it without {RUN_ID_ENV} by definition: they test resume='auto' finding the id "
            "in wandb/wandb-resume.json of the working directory (R09-R12)"
        )
        if not result.runs:
            last = next((line.strip() for line in reversed(result.stderr.splitlines()) if line.strip()), "")
            said = f" (its last output: {last[:120]})" if last else ""
            return (
                f"the command needs its run id from outside ({RUN_ID_ENV}): without it, it exited with code "
                f"{result.exit_code} before any run and wrote no wandb/wandb-resume.json{said}; {why}"
            )
        return (
            f"the command needs its run id from outside ({RUN_ID_ENV}) or does not use resume='auto': without "
            f"it, it exited with code {result.exit_code} before the trigger point "
            f"({Trigger.at_step(self.step).describe()}) and wrote no wandb/wandb-resume.json; {why}"
        )

    def _check_auto_same_dir(self) -> str:
        harness, first = self._auto_first()
        second = self._run(harness, None)
        self._one_run(second)
        first_id, second_id = first.run.key.run_id, second.run.key.run_id
        if second_id != first_id:
            raise _Failed(
                f"the restart in the same directory wrote run {second_id}, not {first_id}: it did not auto-resume (R09)"
                + _causes([f for f in second.findings if f.severity == BUG]),
                second.report(),
            )
        if not second.run.attempts[-1].resumed:
            raise _Failed(f"the restart wrote to {first_id} without resuming it (R07)", second.report())
        return f"run {first_id} resumed from its wandb-resume.json"

    def _check_auto_other_dir(self) -> str:
        _, first = self._auto_first()
        other = self._run(self._harness("auto-other"), None)
        self._one_run(other)
        if other.run.key.run_id == first.run.key.run_id:
            raise _Failed(
                f"a start in another directory resumed run {first.run.key.run_id}: the id must come from the "
                "directory's wandb-resume.json only (R09)",
                other.report(),
            )
        if other.run.attempts[-1].resumed:
            raise _Failed(f"a start in another directory resumed run {other.run.key.run_id}", other.report())
        return f"another directory made a new run ({other.run.key.run_id})"


# ---- reports --------------------------------------------------------------------------------------
def write_pictures(results: Sequence[CheckResult], directory: Path) -> list[Path]:
    """Write the picture of every run of every failed check into ``directory``
    (``runresume-check-<check>-<project>-<run id>.html``), add each path to its check's details
    (so the table's details and the JUnit XML name it) and :attr:`CheckResult.pictures`; returns
    every file written."""
    out: list[Path] = []
    for result in results:
        if result.status != "failed" or not result.runs:
            continue
        result.pictures = harness_pictures(
            result.runs,
            directory,
            note=f"runresume check: {result.name} failed: {result.reason}",
            prefix=f"runresume-check-{result.name}",
        )
        lines = "\n".join(f"picture: {path}" for path in result.pictures)
        result.details = f"{result.details}\n{lines}" if result.details else lines
        out.extend(result.pictures)
    return out


def render_table(results: Sequence[CheckResult]) -> str:
    """The results as a text table, then the counts."""
    rows = [("CHECK", "RESULT", "RULES", "TIME", "DETAIL")]
    for r in results:
        rows.append((r.name, r.status.upper(), " ".join(r.check.rules), f"{r.duration:.1f}s", r.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4] for row in rows]
    counts = {s: sum(r.status == s for r in results) for s in ("passed", "failed", "skipped")}
    lines.append("")
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines)


def render_details(results: Sequence[CheckResult]) -> str:
    """The reports of the failed checks."""
    parts = [f"--- {r.name}: {r.reason}\n{r.details}".rstrip() for r in results if r.status == "failed" and r.details]
    return "\n\n".join(parts)


#: ANSI escape sequences: CSI (colours, ``ESC[1;34m``, also its 8-bit form), OSC (titles, links; ended
#: by BEL or ``ESC\\``, never past a line), and the other escapes (``ESC c``, ``ESC ( B``...).
_ANSI = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]")
#: Characters XML 1.0 does not allow (its ``Char`` production), lone surrogates included.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` fit for an XML 1.0 document: ANSI escape sequences stripped (wandb colours its
    ``wandb:`` lines), then every character XML 1.0 forbids dropped (other control characters)."""
    return _NOT_XML_CHAR.sub("", _ANSI.sub("", text))


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = xml_text(text)
    return el


def junit_xml(results: Sequence[CheckResult], command: str, suite: str = "runresume check") -> bytes:
    """A JUnit XML report (one ``testcase`` per check) for CI. Every text and attribute goes through
    :func:`xml_text`, so a colourful output tail still gives a document that parses."""
    root = ET.Element("testsuites")
    ts = _element(
        root,
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(sum(r.status == "failed" for r in results)),
        errors="0",
        skipped=str(sum(r.status == "skipped" for r in results)),
        time=f"{sum(r.duration for r in results):.3f}",
    )
    props = _element(ts, "properties")
    _element(props, "property", name="command", value=command)
    for r in results:
        case = _element(ts, "testcase", classname="runresume.check", name=r.name, time=f"{r.duration:.3f}")
        cprops = _element(case, "properties")
        _element(cprops, "property", name="rules", value=" ".join(r.check.rules))
        if r.status == "failed":
            _element(case, "failure", r.details or r.reason, message=r.reason)
        elif r.status == "skipped":
            _element(case, "skipped", message=r.reason)
        else:
            _element(case, "system-out", r.reason)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
