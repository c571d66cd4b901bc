"""The harness: supervised subprocesses, exact trigger points, real signals, results, diagnosis.

Modules, each importing only those above it in this list: ``protocol`` (the contract with the hook
inside the process under test), ``signals``, ``errors``, ``spec`` (:class:`Trigger`,
:class:`Preemption`), ``diagnosis`` (:class:`Finding`, :func:`diagnose`), ``results``
(:class:`RunResult`), ``schedulers`` (:class:`Slurm`, :class:`Kubernetes`, :class:`SpotVM`), ``runner``
(:class:`Harness`), ``requeue`` (:func:`requeue_loop`).
"""

from .diagnosis import CODES, Finding, diagnose
from .errors import ExpectationFailed, HarnessError, SignalNotDelivered, SubprocessHung, TriggerNotReached
from .requeue import RequeueResult, requeue_loop
from .results import ProcessEvent, RunResult, SentSignal
from .runner import Harness
from .schedulers import Kubernetes, Scheduler, Slurm, SpotVM
from .signals import parse_signal, signal_exit_code
from .spec import Preemption, Trigger

__all__ = [
    "CODES",
    "ExpectationFailed",
    "Finding",
    "Harness",
    "HarnessError",
    "Kubernetes",
    "Preemption",
    "ProcessEvent",
    "RequeueResult",
    "RunResult",
    "Scheduler",
    "SentSignal",
    "SignalNotDelivered",
    "Slurm",
    "SpotVM",
    "SubprocessHung",
    "Trigger",
    "TriggerNotReached",
    "diagnose",
    "parse_signal",
    "requeue_loop",
    "signal_exit_code",
]
