"""pytest-runresume: prove in CI, without a network, that training code survives preemption and
resumes correctly under W&B run-resume rules.

The public surface: the reference model (``Model``, ``ManualClock``, ``decide_resume``), the
served fake (``FakeServer``), the harness (``Harness``, ``Preemption``, ``Trigger``,
``RunResult``, the scheduler profiles ``Slurm``, ``Kubernetes``, ``SpotVM``), and ``trigger_point`` for named trigger points in user code. The pytest plugin
(fixtures ``wandb_server`` and ``runresume``, marker ``preempt``) loads itself through the
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
    from .model import ManualClock, Model, OffsetClock, Outcome, RunRecord, decide_resume
    from .wire import FakeServer

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
    **dict.fromkeys(("Model", "ManualClock", "OffsetClock", "Outcome", "RunRecord", "decide_resume"), ".model"),
    "FakeServer": ".wire",
}


__getattr__, __dir__ = lazy_exports(
    __name__, _EXPORTS, globals(), renamed={"Backend": "Model", "ServedBackend": "FakeServer"}
)


__version__ = "0.1.0"


def trigger_point(name: str) -> None:
    """Mark a named trigger point in your own code (``@pytest.mark.preempt(at="point:NAME")``).

    Outside the harness this does nothing and costs a dictionary lookup.
    """
    child = sys.modules.get("_runresume_child")
    if child is not None:
        child.trigger_point(name)


__all__ = [
    "Model",
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
    "FakeServer",
    "SignalNotDelivered",
    "Slurm",
    "SpotVM",
    "SubprocessHung",
    "Trigger",
    "TriggerNotReached",
    "decide_resume",
    "trigger_point",
]
