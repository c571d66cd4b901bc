"""How the entrypoint battery runs a command: its settings, the embedded fake backend and the working
directories (:class:`BatteryCore`), one harness per check, a harness failure turned into a check
failure with the diagnosis's likely cause, and :class:`CheckResult`. What each check asserts is in
:mod:`.entrypoint`; how the results are reported in :mod:`.report`.
"""

from __future__ import annotations

import os
import shlex
import signal as _signal
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ..harness import (
    ExpectationFailed,
    Finding,
    Harness,
    HarnessError,
    Preemption,
    RunResult,
    Trigger,
    parse_signal,
)
from ..harness.findings import BUG
from ..harness.schedulers import Scheduler
from ..harness.spec import TARGETS
from ..model import Model
from ..wire import FakeServer
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


_B = TypeVar("_B", bound="BatteryCore")


@dataclass
class BatteryCore:
    """The settings and plumbing of :class:`~.entrypoint.EntrypointBattery` (whose docstring documents
    the arguments): it runs the command through a harness of its own per check, and runs the checks
    (the ``_check_<name>`` methods a subclass defines) with their prerequisites."""

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
        self.served = FakeServer(Model(crash_timeout=self.crash_timeout)).start()
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

    def __enter__(self: _B) -> _B:
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

    # ---- running the checks --------------------------------------------------------------------------
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
