"""A run's state, derived: every state rule in one place (:func:`run_state`, over :func:`derive_state`).

The SDK never sends a state; the server derives it from what each process sent (``preempting``,
``complete``, ``exitcode``) and from silence on the server's clock.
"""

from __future__ import annotations

from .readings import DEFAULT_READINGS, INTERRUPT_EXIT_CODE, Readings
from .runs import CRASHED, FAILED, FINISHED, KILLED, PENDING, PREEMPTED, PREEMPTING, RUNNING, Attempt, RunRecord
from .tags import implements

__all__ = ["derive_state", "run_state"]


@implements(
    "R50",
    "R53",
    "R55",
    "R58",
    "R59",
    "R60",
    "R61",
    "R63",
    "R66",
    "R70",
    "R70a",
    "R70b",
    "R70c",
    "R70d",
    "R70e",
    "R71",
    "R72",
)
def derive_state(
    attempt: Attempt | None, now: float, crash_timeout: float, readings: Readings = DEFAULT_READINGS
) -> str:
    """The state of a run whose latest process is ``attempt``, at time ``now``.

    - no attempt yet: ``pending`` (R50, R53);
    - complete and exit code 0: ``finished`` (R55, R66, R70a) - exit 0 always wins;
    - complete, non-zero, stop requested by the server: ``killed`` (R58);
    - complete, non-zero, preempting seen: ``preempted`` (R66, R70b-e, R71);
    - complete with 255 (Ctrl+C) and ``interrupt_exit_state="killed"``: ``killed`` (A04, R70d);
    - complete, non-zero: ``failed`` (R55, R66);
    - not complete and silent for ``crash_timeout`` seconds: ``preempted`` if preempting was seen
      (R70c/e "always" column; after ``preempting_timeout`` if set, A06), else ``crashed`` (R60,
      R61), or ``killed`` if its sweep was cancelled while it ran (R59: the agent SIGKILLed it).
      Silent means no request at all, or with ``crash_trigger="metrics"`` no posted data (A06);
    - preempting and still heard from: ``preempting`` (A01; ``running`` with
      ``preempting_state="running"``);
    - otherwise ``running``.

    Args:
        attempt: the latest attempt, or ``None`` for a run created but never started.
        now: the backend clock, seconds since the epoch.
        crash_timeout: seconds of silence after which a run counts as crashed.
        readings: the fake's choices where the docs contradict each other (:class:`Readings`).
    """
    if attempt is None:
        return PENDING
    if attempt.complete:
        if attempt.exit_code in (0, None):
            return FINISHED
        if attempt.stop_requested:
            return KILLED
        if attempt.preempting:
            return PREEMPTED
        if attempt.exit_code == INTERRUPT_EXIT_CODE and readings.interrupt_exit_state == KILLED:
            return KILLED
        return FAILED
    if readings.crash_trigger == "metrics":
        since = attempt.last_data if attempt.last_data is not None else attempt.started_at
    else:
        since = attempt.last_heard
    if attempt.preempting:
        timeout = crash_timeout if readings.preempting_timeout is None else readings.preempting_timeout
        if now - since >= timeout:
            return PREEMPTED
        return PREEMPTING if readings.preempting_state == PREEMPTING else RUNNING
    if now - since < crash_timeout:
        return RUNNING
    return KILLED if attempt.killed_by_cancel else CRASHED


@implements("R52")
def run_state(run: RunRecord, now: float, crash_timeout: float, readings: Readings = DEFAULT_READINGS) -> str:
    """The state of ``run`` at time ``now``: every state rule in one place.

    A state set through the API (``UpdateRunState``, R52) holds until a process starts the run again
    (:attr:`RunRecord.forced_state`); otherwise the state is its latest process's
    (:func:`derive_state`).

    Args:
        run: the run.
        now: the backend clock, seconds since the epoch.
        crash_timeout: seconds of silence after which a run counts as crashed.
        readings: the fake's choices where the docs contradict each other (:class:`Readings`).
    """
    if run.forced_state is not None:
        return run.forced_state
    return derive_state(run.attempt, now, crash_timeout, readings)
