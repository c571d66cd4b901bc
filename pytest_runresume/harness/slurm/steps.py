"""Which signal goes to which processes of a job, and when: the ``--signal`` warning
(:func:`warning_signal_steps`), the end of a job (:func:`termination_steps`) and a preemption
(:func:`preemption_steps`), as :class:`SignalStep` items for the runner to carry out.
"""

from __future__ import annotations

import signal as _signal
from dataclasses import dataclass

from .options import KILL_WAIT_DEFAULT, SlurmSignal
from .sbatch import SbatchScript


@dataclass(frozen=True)
class SignalStep:
    """One signal the runner must send, to whom, and when.

    Attributes:
        signal: what to send.
        target: ``"batch"``: the batch shell's own pid only (not its children); ``"steps"``:
            every process of every ``srun`` step, not the batch shell; ``"job"``: the batch shell
            and every process of every step (the whole tree: the batch step's processes are
            tracked as a group too).
        at: seconds after the delivery starts.
        reason: why, for the timeline (names the SLURM mechanism).
    """

    signal: _signal.Signals
    target: str
    at: float
    reason: str


def warning_signal_steps(spec: SlurmSignal, at: float = 0.0) -> list[SignalStep]:
    """The ``--signal`` warning: SIGCONT, then the signal, to the batch shell (``B:``) or the steps.

    ``send_job_warn_signal`` (``src/slurmctld/job_mgr.c``) sends SIGCONT first, then the signal,
    once per run of the job (``WARN_SENT``, cleared on requeue).

    Args:
        spec: the script's ``--signal``.
        at: when, in seconds from the start of the delivery (the runner maps the job's end time
            minus ``sig_time`` to this).
    """
    why = f"--signal={spec.describe()}"
    return [
        SignalStep(_signal.SIGCONT, spec.target, at, f"{why}: SIGCONT first"),
        SignalStep(spec.signal, spec.target, at, why),
    ]


def termination_steps(
    kill_wait: float = KILL_WAIT_DEFAULT, at: float = 0.0, reason: str = "job end"
) -> list[SignalStep]:
    """How SLURM ends a job: SIGCONT and SIGTERM to every step and the batch step, SIGKILL after ``KillWait``.

    The same for a time limit, ``scancel`` without ``--signal``, a cancel or requeue preemption
    after its grace time, and ``scontrol requeue`` of a running job (``_rpc_terminate_job`` ->
    ``_kill_all_active_steps(..., batch=true)`` in ``src/slurmd/slurmd/req.c``; scancel(1);
    slurm.conf(5) ``KillWait``, default 30 s).

    Args:
        kill_wait: ``KillWait`` seconds (scale it down in tests).
        at: when the termination starts, in seconds from the start of the delivery.
        reason: the cause, for the timeline.

    Raises:
        ValueError: a negative ``kill_wait``.
    """
    if kill_wait < 0:
        raise ValueError(f"kill_wait must be >= 0, not {kill_wait}")
    return [
        SignalStep(_signal.SIGCONT, "job", at, f"{reason}: SIGCONT to every step"),
        SignalStep(_signal.SIGTERM, "job", at, f"{reason}: SIGTERM to every step"),
        SignalStep(_signal.SIGKILL, "job", at + kill_wait, f"{reason}: SIGKILL after KillWait={kill_wait:g}s"),
    ]


def preemption_steps(
    script: SbatchScript | None = None,
    *,
    grace_time: float = 0.0,
    kill_wait: float = KILL_WAIT_DEFAULT,
    send_user_signal: bool = False,
) -> list[SignalStep]:
    """A preemption (``PreemptMode=REQUEUE`` or ``CANCEL``) as slurmctld delivers it.

    With ``GraceTime`` > 0 the job is told at once: SIGCONT and SIGTERM to the steps, or, with
    ``PreemptParameters=send_user_signal`` and a ``--signal`` in the script, that signal to its
    targets instead; its end time becomes now + ``GraceTime``, where the normal termination
    follows (``_job_check_grace_internal`` in ``src/interfaces/preempt.c``; preempt.shtml
    ``GraceTime``; slurm.conf(5) ``send_user_signal``). With no grace time the termination starts
    at once. The immediate SIGTERM without flags goes to the steps, not the batch shell (scancel(1):
    "By default, signals other than SIGKILL are not sent to the batch step").

    Args:
        script: the job's parsed script (its ``--signal`` matters only with ``send_user_signal``).
        grace_time: the partition's or QOS's ``GraceTime`` in seconds.
        kill_wait: ``KillWait`` in seconds.
        send_user_signal: whether ``PreemptParameters=send_user_signal`` is configured.

    Raises:
        ValueError: a negative ``grace_time`` or ``kill_wait``.
    """
    if grace_time < 0:
        raise ValueError(f"grace_time must be >= 0, not {grace_time}")
    steps: list[SignalStep] = []
    if grace_time > 0:
        if send_user_signal and script is not None and script.signal is not None:
            steps += warning_signal_steps(script.signal, 0.0)
        else:
            steps += [
                SignalStep(_signal.SIGCONT, "steps", 0.0, f"preempted, GraceTime={grace_time:g}s: SIGCONT"),
                SignalStep(_signal.SIGTERM, "steps", 0.0, f"preempted, GraceTime={grace_time:g}s: SIGTERM"),
            ]
    steps += termination_steps(kill_wait, at=grace_time, reason="preempted")
    return steps
