"""The harness: supervised subprocesses, exact trigger points, real signals, results, diagnosis.

Modules, each importing only those above it in this list: ``protocol`` (the contract with the hook
inside the process under test), ``signals``, ``errors``, ``spec`` (:class:`Trigger`,
:class:`Preemption`), ``diagnosis`` (:class:`Finding`, :func:`diagnose`), ``results``
(:class:`RunResult`), ``schedulers`` (:class:`Slurm`, :class:`Kubernetes`, :class:`SpotVM`), ``runner``
(:class:`Harness`), ``requeue`` (:func:`requeue_loop`).

The names below are imported on first use (PEP 562), so importing ``pytest_runresume.harness.spec``
(the pytest plugin does, to parse markers in every session) does not load the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .diagnosis import CODES, Finding, diagnose
    from .errors import ExpectationFailed, HarnessError, SignalNotDelivered, SubprocessHung, TriggerNotReached
    from .requeue import RequeueResult, requeue_loop
    from .results import ProcessEvent, RunResult, SentSignal
    from .runner import Harness
    from .schedulers import Kubernetes, Scheduler, Slurm, SpotVM
    from .signals import parse_signal, signal_exit_code
    from .spec import Preemption, Trigger

_EXPORTS = {
    "CODES": ".diagnosis",
    "Finding": ".diagnosis",
    "diagnose": ".diagnosis",
    "ExpectationFailed": ".errors",
    "HarnessError": ".errors",
    "SignalNotDelivered": ".errors",
    "SubprocessHung": ".errors",
    "TriggerNotReached": ".errors",
    "RequeueResult": ".requeue",
    "requeue_loop": ".requeue",
    "ProcessEvent": ".results",
    "RunResult": ".results",
    "SentSignal": ".results",
    "Harness": ".runner",
    "Kubernetes": ".schedulers",
    "Scheduler": ".schedulers",
    "Slurm": ".schedulers",
    "SpotVM": ".schedulers",
    "parse_signal": ".signals",
    "signal_exit_code": ".signals",
    "Preemption": ".spec",
    "Trigger": ".spec",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
