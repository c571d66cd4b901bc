"""What a run's history shows across its attempts: a restart that did not resume, W&B steps logged
twice, the script's own step counter trained again after a resume, W&B steps missing.

Reads only the run record (:class:`~pytest_runresume.model.RunRecord`), so every route uses it: one
result (:func:`.diagnosis.diagnose`), a requeue loop, a scheduler profile, the entrypoint
conformance suite.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .findings import BUG, NOTE, Finding, finding

if TYPE_CHECKING:
    from ..model import RunRecord

_COUNTER_NAMES = ("train_step", "global_step", "trainer/global_step", "step", "iteration", "iter", "batch_idx")


def _counter_key(rows: Sequence[dict[str, Any]], step_key: str | None) -> str | None:
    if step_key is not None:
        return step_key
    for name in _COUNTER_NAMES:
        values = [r.get(name) for r in rows if name in r]
        if len(values) >= 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return name
    return None


def _attempt_rows(run: RunRecord) -> list[list[dict[str, Any]]]:
    """The history rows of each attempt (by the line index each attempt began at)."""

    bounds = [a.start_line for a in run.attempts] + [len(run.history_lines)]
    out = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        out.append([json.loads(line) for line in run.history_lines[lo:hi] if line is not None])
    return out


def _after_hard_kill(run: RunRecord) -> bool:
    """Whether the attempt before the latest ended without reporting an exit (SIGKILL, R73)."""
    return len(run.attempts) >= 2 and not run.attempts[-2].complete


def run_findings(run: RunRecord, step_key: str | None = None) -> list[Finding]:
    """What is wrong with a run's history across its attempts (any route: one result or a loop).

    Args:
        run: the run as some process left it.
        step_key: the history key of the script's own step counter (default: the first of
            ``train_step``, ``global_step``, ``trainer/global_step``, ``step``, ``iteration``,
            ``iter``, ``batch_idx`` that the run logs as integers).
    """
    out: list[Finding] = []
    per_attempt = _attempt_rows(run)
    last = run.attempts[-1] if run.attempts else None
    if last is not None and last.number > 1 and not last.resumed and last.start_line > 0:
        first = next((r.get("_step") for r in per_attempt[-1] if isinstance(r.get("_step"), int)), 0)
        effect = (
            "so its history restarted at step 0"
            if first == 0
            else f"W&B merged it into the run (R14); its history went on at step {first} only because the "
            "script passes step= itself"
        )
        out.append(
            finding(
                "not-resumed",
                f"process {last.number} did not resume run {run.key.path}: it wrote to the same id without resuming, "
                f"{effect} — pass resume='allow' (or 'must') to wandb.init on a restart",
            )
        )
    dup = sorted(s for s, n in Counter(run.steps).items() if s is not None and n > 1)
    if dup:
        out.append(
            finding("w&b-steps-repeated", f"W&B steps {dup[:10]} of run {run.key.path} were logged more than once")
        )
    key = _counter_key([r for rows in per_attempt for r in rows], step_key)
    if key is not None and len(per_attempt) >= 2:
        seen: set[Any] = set()
        previous: list[Any] = []
        for number, rows in enumerate(per_attempt, start=1):
            values = [r[key] for r in rows if key in r]
            again = sorted({v for v in values if v in seen}, key=repr)
            if again and number > 1:
                hard = not run.attempts[number - 2].complete
                if hard:
                    why = "expected after a SIGKILL, which no handler can catch (checkpoint more often to lose less)"
                elif previous and again == [previous[-1]]:
                    why = (
                        f"only the last step before the signal ({again[0]}) was trained again: an off-by-one on "
                        "resume — if the checkpoint holds the last completed step, start at that step + 1"
                    )
                else:
                    why = (
                        "the steps between the last checkpoint and the preemption were trained again — save the "
                        "checkpoint in the preemption handler, before exiting"
                    )
                out.append(
                    finding(
                        "steps-repeated",
                        f"{key!r} values {again[:10]} were logged again by process {number}: {why}",
                        NOTE if hard else BUG,
                    )
                )
            seen.update(values)
            previous = values or previous
    out.extend(_gaps(run))
    return out


def _gaps(run: RunRecord) -> list[Finding]:
    """W&B steps missing from 0..last: a note where a SIGKILL explains them (rows still in the killed
    process's client buffer are lost, R63: only metrics already sent are kept), else a bug."""
    steps = [s for s in run.steps if s is not None]
    if not steps or sorted(set(steps)) == list(range(max(steps) + 1)):
        return []
    missing = sorted(set(range(max(steps) + 1)) - set(steps))
    explained: set[int] = set()
    rows = _attempt_rows(run)
    for k in range(1, len(rows)):
        if run.attempts[k - 1].complete:
            continue
        before: list[int] = [r["_step"] for part in rows[:k] for r in part if isinstance(r.get("_step"), int)]
        after: list[int] = [r["_step"] for r in rows[k] if isinstance(r.get("_step"), int)]
        if after:
            lo, hi = (max(before) if before else -1), min(after)
            explained.update(range(lo + 1, hi))
    unexplained = [s for s in missing if s not in explained]
    if unexplained:
        return [
            finding(
                "steps-missing",
                f"W&B steps {unexplained[:10]} of run {run.key.path} are missing (steps not contiguous from 0)",
            )
        ]
    return [
        finding(
            "steps-missing",
            f"W&B steps {missing[:10]} of run {run.key.path} are missing: they were still in the client of the "
            "process that was SIGKILLed (only rows already sent survive a SIGKILL) — expected; a restart that "
            "resumes from its checkpoint logs the later steps",
            NOTE,
        )
    ]
