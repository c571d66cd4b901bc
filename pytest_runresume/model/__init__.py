"""The reference model: runs, their state, the resume decision and the clock. Pure (no I/O).

The names below are imported on first use (PEP 562): the pytest plugin loads in every session and
reads only the light modules (``tags``, the harness's ``spec``); the run store loads when a test
first needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .clock import Clock, ManualClock, OffsetClock
    from .errors import LimitExceeded, RuleViolation
    from .ingest import FileChunk
    from .limits import Limits
    from .names import validate_run_id
    from .readings import DEFAULT_READINGS, Readings
    from .reference import Model
    from .requests import RunUpsert
    from .resume import Outcome, ResumeDecision, decide_resume, normalize_resume, starting_step
    from .runs import (
        DEFAULT_CRASH_TIMEOUT,
        STATES,
        TERMINAL_STATES,
        Attempt,
        RunKey,
        RunRecord,
        TimelineEvent,
    )
    from .states import derive_state, run_state

#: Public name -> the module that defines it.
_EXPORTS = {
    **dict.fromkeys(("Clock", "ManualClock", "OffsetClock"), ".clock"),
    **dict.fromkeys(("LimitExceeded", "RuleViolation"), ".errors"),
    "FileChunk": ".ingest",
    "Limits": ".limits",
    "validate_run_id": ".names",
    **dict.fromkeys(("DEFAULT_READINGS", "Readings"), ".readings"),
    "Model": ".reference",
    "RunUpsert": ".requests",
    **dict.fromkeys(("Outcome", "ResumeDecision", "decide_resume", "normalize_resume", "starting_step"), ".resume"),
    **dict.fromkeys(
        ("Attempt", "DEFAULT_CRASH_TIMEOUT", "RunKey", "RunRecord", "STATES", "TERMINAL_STATES", "TimelineEvent"),
        ".runs",
    ),
    **dict.fromkeys(("derive_state", "run_state"), ".states"),
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), renamed={"Backend": "Model"})

__all__ = [
    "DEFAULT_CRASH_TIMEOUT",
    "DEFAULT_READINGS",
    "STATES",
    "TERMINAL_STATES",
    "Attempt",
    "Model",
    "Clock",
    "FileChunk",
    "LimitExceeded",
    "Limits",
    "ManualClock",
    "OffsetClock",
    "Outcome",
    "Readings",
    "ResumeDecision",
    "RunKey",
    "RuleViolation",
    "RunRecord",
    "RunUpsert",
    "TimelineEvent",
    "decide_resume",
    "derive_state",
    "normalize_resume",
    "run_state",
    "starting_step",
    "validate_run_id",
]
