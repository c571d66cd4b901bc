"""The resume decision of ``wandb.init(resume=...)`` (R01-R08, R13, R14, R43).

The SDK (wandb-core) makes this decision itself from the server's ``RunResumeStatus`` answer; the
model implements it as the reference the real client is checked against, and as the answer to
"what should happen?" in users' unit tests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from . import messages, sdk_versions
from .sdk_versions import Version
from .tags import implements

RESUME_MODES = ("must", "allow", "never", "auto")


class Outcome(enum.Enum):
    """What ``wandb.init`` does with a run id."""

    RESUME = "resume"  #: continue the existing run from its last step
    NEW = "new"  #: create a new run with that id
    ERROR = "error"  #: raise, and create no run
    UPSERT = "upsert"  #: no check at all; write into whatever run has the id (R14)


@dataclass(frozen=True)
class ResumeDecision:
    """The outcome of one ``wandb.init`` with a run id, and the rule that decided it.

    Attributes:
        outcome: see :class:`Outcome`.
        rule: the R-id from ``rules.md`` that decides this cell.
        error: the reason when ``outcome`` is ``ERROR``; ``None`` otherwise.
    """

    outcome: Outcome
    rule: str
    error: str | None = None


@implements("R13", "R18")
def normalize_resume(mode: str | bool | None) -> str | None:
    """Map a ``resume`` argument or ``WANDB_RESUME`` value to a mode (R13, R18).

    ``True`` means ``"auto"``; ``False`` and ``None`` mean unset.

    Raises:
        ValueError: for any other value, naming it.
    """
    if mode is True:
        return "auto"
    if mode is False or mode is None:
        return None
    if isinstance(mode, str) and mode in RESUME_MODES:
        return mode
    raise ValueError(messages.BAD_RESUME_MODE.format(mode=mode))


@implements("R01", "R02", "R03", "R04", "R05", "R06", "R07", "R08", "R14")
def decide_resume(mode: str | bool | None, run_exists: bool, run_id: str = "<id>") -> ResumeDecision:
    """Decide what ``wandb.init(id=run_id, resume=mode)`` does.

    Args:
        mode: ``"must"``, ``"allow"``, ``"never"``, ``"auto"``, ``True``/``False`` or ``None``.
        run_exists: whether the run exists *as the SDK reads it* (R43: the server returned it and its
            ``wandbConfig`` has key ``t``; pre-created, never-started runs count as missing).
        run_id: only used in error texts.

    Returns:
        The :class:`ResumeDecision`, carrying the R-id of the cell of the S1 table it implements.

    Raises:
        ValueError: for an unknown mode.
    """
    m = normalize_resume(mode)
    if m is None:
        return ResumeDecision(Outcome.UPSERT if run_exists else Outcome.NEW, "R14")
    table = {
        ("must", True): ResumeDecision(Outcome.RESUME, "R01"),
        ("must", False): ResumeDecision(Outcome.ERROR, "R02", messages.RESUME_MUST_MISSING.format(run_id=run_id)),
        ("allow", True): ResumeDecision(Outcome.RESUME, "R03"),
        ("allow", False): ResumeDecision(Outcome.NEW, "R04"),
        ("never", True): ResumeDecision(Outcome.ERROR, "R05", messages.RESUME_NEVER_EXISTS.format(run_id=run_id)),
        ("never", False): ResumeDecision(Outcome.NEW, "R06"),
        ("auto", True): ResumeDecision(Outcome.RESUME, "R07"),
        ("auto", False): ResumeDecision(Outcome.NEW, "R08"),
    }
    return table[(m, run_exists)]


@implements("R35")
def starting_step(history_line_count: int, last_step: int | None, sdk: Version | None = None) -> int:
    """The first step a resumed run logs (R35), as release ``sdk`` of the wandb SDK computes it.

    The SDK takes the last step from the history tail's ``_step``, else the summary's. From wandb
    0.31.0 (fact ``summary_step_resume_plus_one``, checked end to end in
    ``tests/e2e/test_e2e_resume_semantics.py``) the run starts one after it whenever it is known or
    there are history lines at all (0 + 1 for lines without ``_step``); only a run with no history
    lines and no ``_step`` anywhere starts at 0: a summary ``_step`` of 7 with an empty history
    gives 8. Older releases add the 1 only when there are history lines: the summary's ``_step`` 7
    with an empty history gives 7 (NOTES 1.3, wandb-core's ``runbranch/resume.go``).

    Args:
        history_line_count: lines of history the server holds.
        last_step: the ``_step`` of the last history line, else of the summary (``None`` if unknown).
        sdk: the SDK release of the resuming process (``Attempt.sdk_version``); ``None``: the
            installed release, else the newest supported one.
    """
    base = last_step if last_step is not None else 0
    if history_line_count > 0:
        return base + 1
    if sdk_versions.has("summary_step_resume_plus_one", sdk_versions.assumed(sdk)):
        return 0 if last_step is None else base + 1
    return base
