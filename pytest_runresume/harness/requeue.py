"""The requeue loop: run an entrypoint again and again, as a scheduler requeue or spot restarts
do, preempting chosen attempts, then check that the run came through whole (R35, R36, R66, R69)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ExpectationFailed

if TYPE_CHECKING:
    from .runner import Harness, Preemption, RunResult


@dataclass
class RequeueResult:
    """The attempts of a requeue loop.

    Attributes:
        results: one :class:`RunResult` per process start, in order.
        states: the run state after each attempt (lowercase).
    """

    results: list[RunResult]
    states: list[str]

    def report(self) -> str:
        """Every attempt's report, numbered."""
        return "\n\n".join(f"=== attempt {i + 1} ===\n{r.report()}" for i, r in enumerate(self.results))

    def check(self, total_steps: int | None = None, step_key: str | None = None) -> RequeueResult:
        """Assert the loop ended well; returns ``self``.

        - every attempt wrote the same single run id (the id was fixed before init, R21/R28);
        - every restart resumed the run (``resumed`` True: no new run at step 0, R14 vs R35);
        - W&B steps are 0..N-1 with no duplicates and no gaps (R35, R36);
        - with ``step_key``, the script's own step counter (a logged key) never repeats: steps between
          the last checkpoint and the kill were not trained and logged twice;
        - the final state is ``finished`` (R55);
        - with ``total_steps``, exactly that many steps were logged.

        Raises:
            ExpectationFailed: naming the first mistake, with every attempt's timeline.
        """
        problems: list[str] = []
        ids = [sorted(r.key.path for r in res.runs) for res in self.results]
        flat = {p for paths in ids for p in paths}
        if len(flat) != 1 or any(len(paths) != 1 for paths in ids):
            problems.append(
                f"expected one run id across restarts, got {ids}: the run id is not fixed before "
                "wandb.init or is persisted too late (R21, R28)"
            )
        else:
            run = self.results[-1].run
            not_resumed = [a.number for a in run.attempts[1:] if not a.resumed]
            if not_resumed:
                problems.append(
                    f"attempt(s) {not_resumed} did not resume the run: each restart started again at "
                    "step 0 (pass resume='allow' or 'must' with the run id, R03, R14, R35)"
                )
            steps = run.steps
            dup = sorted(s for s, n in Counter(steps).items() if s is not None and n > 1)
            if dup:
                problems.append(f"W&B steps logged more than once: {dup[:10]} (R35, R36)")
            elif steps != list(range(len(steps))):
                problems.append(f"W&B steps are not contiguous from 0: {steps[:20]}...")
            if total_steps is not None and len(steps) != total_steps:
                problems.append(f"{len(steps)} steps logged, expected {total_steps}")
            if step_key is not None:
                own = [row.get(step_key) for row in run.history if step_key in row]
                own_dup = sorted({s for s, n in Counter(own).items() if n > 1}, key=repr)
                if own_dup:
                    problems.append(
                        f"{step_key!r} values {own_dup[:10]} were logged twice: steps between the last "
                        "checkpoint and the preemption were trained again after the restart"
                    )
        if self.states and self.states[-1] != "finished":
            problems.append(f"the last attempt ended {self.states[-1]!r}, not 'finished'")
        if problems:
            raise ExpectationFailed("requeue loop: " + "; ".join(problems) + "\n" + self.report())
        return self


def requeue_loop(
    harness: Harness,
    command: str | Sequence[str],
    preemptions: Sequence[Preemption | None],
    max_attempts: int | None = None,
    **run_kwargs: Any,
) -> RequeueResult:
    """Start ``command`` until it exits 0, at most ``max_attempts`` times (default: one more than
    the preemptions), preempting attempt *i* with ``preemptions[i]`` (``None``: leave it alone).

    A restart follows any non-zero exit, as a scheduler's requeue does. An attempt that was not
    preempted by the harness but ends ``preempted`` fails at once: ``mark_preempting()`` was called
    without a preemption, so every bug would be requeued forever (R69, the documented anti-pattern).

    Raises:
        ExpectationFailed: for that anti-pattern, or when ``max_attempts`` run out.
    """
    limit = max_attempts if max_attempts is not None else len(preemptions) + 1
    results: list[RunResult] = []
    states: list[str] = []
    for i in range(limit):
        preempt = preemptions[i] if i < len(preemptions) else None
        result = harness.run(command, preempt=preempt, **run_kwargs)
        results.append(result)
        state = result.state if len(result.runs) == 1 else "unknown"
        states.append(state)
        if preempt is None and state == "preempted":
            raise ExpectationFailed(
                f"attempt {i + 1} ended 'preempted' but no preemption happened (exit code {result.exit_code}): "
                "mark_preempting() is called when the run is not being preempted, so a code bug would be "
                "requeued forever (R69). Call it only in the preemption signal handler (R68).\n"
                + RequeueResult(results, states).report()
            )
        if result.returncode == 0:
            return RequeueResult(results, states)
    raise ExpectationFailed(
        f"the command did not finish within {limit} attempts; states {states}\n"
        + RequeueResult(results, states).report()
    )
