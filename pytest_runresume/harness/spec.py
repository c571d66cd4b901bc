"""What a test asks the harness for: where to send a signal (:class:`Trigger`), which signal, to
whom, on which start, with what grace period (:class:`Preemption`)."""

from __future__ import annotations

import signal as _signal
from dataclasses import dataclass, field

from ..model.tags import implements
from . import protocol
from .signals import parse_signal, signal_exit_code

TRIGGER_KINDS = protocol.TRIGGER_KINDS
TARGETS = ("process", "point", "group")
#: ``Preemption.start`` values that are not a start number.
EVERY = "every"


@dataclass(frozen=True)
class Trigger:
    """Where in the code under test a signal is sent.

    Attributes:
        kind: ``"step"`` (after ``run.log`` committed W&B step ``step``), ``"init"`` (after
            ``wandb.init`` returned), ``"preempting"`` (after ``run.mark_preempting()``), or
            ``"point"`` (when the code calls ``pytest_runresume.trigger_point(name)``), or
            ``"runtime"`` (at the first ``run.log`` at least ``seconds`` after ``wandb.init``
            returned in this process: the run's own clock, not the test's).
        step: the W&B ``_step`` for ``kind="step"`` (steps, >= 0).
        name: the point's name for ``kind="point"``.
        seconds: for ``kind="runtime"``, seconds (>= 0).

    Raises:
        ValueError: an unknown kind, or a kind without its value.
    """

    kind: str = "step"
    step: int | None = None
    name: str | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in TRIGGER_KINDS:
            raise ValueError(f"unknown trigger kind {self.kind!r}; expected one of {TRIGGER_KINDS}")
        if self.kind == "step" and (not isinstance(self.step, int) or isinstance(self.step, bool) or self.step < 0):
            raise ValueError(f"a step trigger needs a step >= 0, got {self.step!r}")
        if self.kind == "point" and not self.name:
            raise ValueError("a point trigger needs the point's name")
        if self.kind == "runtime" and (
            not isinstance(self.seconds, (int, float)) or isinstance(self.seconds, bool) or self.seconds < 0
        ):
            raise ValueError(f"a runtime trigger needs seconds >= 0, got {self.seconds!r}")

    @classmethod
    def at_step(cls, step: int) -> Trigger:
        """Right after W&B step ``step`` is logged."""
        return cls("step", step=step)

    def describe(self) -> str:
        """Human-readable, for reports: ``after step 5``, ``after init``..."""
        if self.kind == "step":
            return f"after step {self.step}"
        if self.kind == "point":
            return f"at point {self.name!r}"
        if self.kind == "runtime":
            return f"at the first log after {self.seconds:g} s of run time"
        return f"after {self.kind}"

    def to_env(self) -> str:
        """The value of the hook's ``RUNRESUME_TRIGGER`` variable."""
        return protocol.trigger_to_env(self.kind, self.step, self.name, self.seconds)


@dataclass(frozen=True)
class Preemption:
    """A signal to send at a trigger point.

    Attributes:
        signal: the signal (name, number or ``signal.Signals``); default SIGUSR1.
        trigger: where to send it (default: after step 1).
        target: ``"process"`` (the command's own process), ``"point"`` (the process that reached
            the trigger point: the training run under ``wandb agent`` or a launch script), or
            ``"group"`` (every process of the command's tree, wandb-core included, as a
            scheduler's cancel does).
        sync: for step triggers, wait until the backend has received that step before signalling,
            so what the server holds at the signal is the same every time. (A step logged with an
            explicit ``run.log(..., step=N)`` is still pending in the client until a later step or
            the exit commits it, so there is nothing to wait for: the signal lands right away.)
            If the backend does not get the step within ``sync_timeout``, the signal is still sent
            (so the command does not hang) and the result carries a ``sync-timeout`` problem that
            fails every verdict.
        sync_timeout: seconds to wait for that (the SDK sends at most every transmit interval).
        escalate_after: if set, SIGKILL the target this many seconds after the signal if it has
            not exited: the scheduler's grace period (SLURM's KillWait, Kubernetes'
            ``terminationGracePeriodSeconds``). The diagnosis says when it ran out.
        start: which start of the training code inside one ``run()`` gets the signal: ``1`` (the
            default: the first start that reaches the trigger point, once per ``run()`` even when
            the command restarts its training process itself, as submitit, ``torchrun
            --max-restarts``, ``wandb agent --count 2`` or a retry loop do), ``k`` (the k-th start
            that reaches it), or ``"every"`` (each start). A start is one process reaching the
            trigger point.

    Raises:
        ValueError: a bad signal, target or start.
    """

    signal: _signal.Signals = _signal.SIGUSR1
    trigger: Trigger = field(default_factory=lambda: Trigger.at_step(1))
    target: str = "process"
    sync: bool = True
    sync_timeout: float = 20.0
    escalate_after: float | None = None
    start: int | str = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "signal", parse_signal(self.signal))
        if self.target not in TARGETS:
            raise ValueError(f"unknown signal target {self.target!r}; expected one of {TARGETS}")
        if self.start != EVERY and (not isinstance(self.start, int) or isinstance(self.start, bool) or self.start < 1):
            raise ValueError(f"start must be a start number >= 1 or {EVERY!r}, got {self.start!r}")
        if self.escalate_after is not None and (
            isinstance(self.escalate_after, bool)
            or not isinstance(self.escalate_after, (int, float))
            or not self.escalate_after >= 0
        ):
            raise ValueError(f"escalate_after must be seconds >= 0, got {self.escalate_after!r}")

    @property
    @implements("R67")
    def exit_code(self) -> int:
        """128 + signum: the exit code a correct handler ends with (R67)."""
        return signal_exit_code(self.signal)

    def fires_at(self, start: int) -> bool:
        """Whether the ``start``-th start (1-based) to reach the trigger point gets the signal."""
        return self.start == EVERY or self.start == start

    def describe(self) -> str:
        """``SIGUSR1 after step 4`` (plus the target, start and grace period where not default)."""
        text = f"{self.signal.name} {self.trigger.describe()}"
        if self.target != "process":
            text += f" to the {self.target}"
        if self.start != 1:
            text += " at every start" if self.start == EVERY else f" at start {self.start}"
        if self.escalate_after is not None:
            text += f", SIGKILL {self.escalate_after:g} s later"
        return text
