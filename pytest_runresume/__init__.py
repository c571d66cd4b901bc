"""pytest-runresume: prove in CI, without a network, that training code survives preemption and
resumes correctly under W&B run-resume rules.

The public surface: the reference model (``Backend``, ``ManualClock``, ``decide_resume``), the
served fake (``ServedBackend``), the harness (``Harness``, ``Preemption``, ``Trigger``,
``RunResult``, the scheduler profiles ``Slurm``, ``Kubernetes``, ``SpotVM``), and ``trigger_point`` for named trigger points in user code. The pytest plugin
(fixtures ``wandb_backend`` and ``runresume``, marker ``preempt``) loads itself through the
``pytest11`` entry point.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from .harness import (
        ExpectationFailed,
        Harness,
        HarnessError,
        Kubernetes,
        Preemption,
        RunResult,
        SignalNotDelivered,
        Slurm,
        SpotVM,
        SubprocessHung,
        Trigger,
        TriggerNotReached,
    )
    from .model import Backend, ManualClock, OffsetClock, Outcome, RunRecord, decide_resume
    from .wire import ServedBackend

#: Public names, imported on first use (PEP 562): the plugin loads in every pytest session of a
#: user's repository, and most sessions never start the server.
_EXPORTS = {
    **dict.fromkeys(
        (
            "ExpectationFailed",
            "Harness",
            "HarnessError",
            "Kubernetes",
            "Preemption",
            "RunResult",
            "SignalNotDelivered",
            "Slurm",
            "SpotVM",
            "SubprocessHung",
            "Trigger",
            "TriggerNotReached",
        ),
        ".harness",
    ),
    **dict.fromkeys(("Backend", "ManualClock", "OffsetClock", "Outcome", "RunRecord", "decide_resume"), ".model"),
    "ServedBackend": ".wire",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


__version__ = "0.1.0"


def trigger_point(name: str) -> None:
    """Mark a named trigger point in your own code (``@pytest.mark.preempt(at="point:NAME")``).

    Outside the harness this does nothing and costs a dictionary lookup.
    """
    child = sys.modules.get("_runresume_child")
    if child is not None:
        child.trigger_point(name)


__all__ = [
    "Backend",
    "ExpectationFailed",
    "Harness",
    "HarnessError",
    "Kubernetes",
    "ManualClock",
    "OffsetClock",
    "Outcome",
    "Preemption",
    "RunRecord",
    "RunResult",
    "ServedBackend",
    "SignalNotDelivered",
    "Slurm",
    "SpotVM",
    "SubprocessHung",
    "Trigger",
    "TriggerNotReached",
    "decide_resume",
    "trigger_point",
]
