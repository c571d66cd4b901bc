"""The harness: supervised subprocesses, exact trigger points, real signals, results."""

from .errors import ExpectationFailed, HarnessError, SignalNotDelivered, SubprocessHung, TriggerNotReached
from .requeue import RequeueResult, requeue_loop
from .runner import Harness, Preemption, RunResult, SentSignal, Trigger
from .signals import parse_signal, signal_exit_code

__all__ = [
    "ExpectationFailed",
    "Harness",
    "HarnessError",
    "Preemption",
    "RequeueResult",
    "RunResult",
    "SentSignal",
    "SignalNotDelivered",
    "SubprocessHung",
    "Trigger",
    "TriggerNotReached",
    "parse_signal",
    "requeue_loop",
    "signal_exit_code",
]
