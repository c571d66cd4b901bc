"""The reference model: runs, their state, the resume decision and the clock. Pure (no I/O)."""

from .._lazy import deprecated_names
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

#: Old names, answered with a DeprecationWarning for one release.
__getattr__ = deprecated_names(__name__, {"Backend": "Model"}, globals())
