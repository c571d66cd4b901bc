"""The requeue loop: run an entrypoint again and again, as a scheduler requeue or spot restarts
do, preempting chosen attempts, then check that the run came through whole (R35, R36, R66, R69)."""

from __future__ import annotations

import signal as _signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..model.tags import implements
from .errors import ExpectationFailed
from .findings import BUG, Finding, finding, render_findings, resolve
from .history_findings import run_findings
from .results import RunResult
from .spec import Preemption, Trigger

if TYPE_CHECKING:
    from .runner import Harness
    from .schedulers import Scheduler


@dataclass
class RequeueResult:
    """The attempts of a requeue loop.

    Attributes:
        results: one :class:`RunResult` per process start, in order, each as its process left it.
        states: the run state each attempt left (lowercase; ``"unknown"`` when it wrote no single run).
        preemptions: what the loop planned for each attempt (``None``: left alone).
    """

    results: list[RunResult]
    states: list[str]
    preemptions: list[Preemption | Trigger | None] = field(default_factory=list)

    def report(self) -> str:
        """Every attempt's report, numbered, each as that attempt ended."""
        return "\n\n".join(f"=== attempt {i + 1} ===\n{r.report()}" for i, r in enumerate(self.results))

    @implements("R21", "R28", "R35", "R36", "R66", "R67", "R73")
    def findings(self, total_steps: int | None = None, step_key: str | None = None) -> list[Finding]:
        """Everything wrong with the loop as a whole, bugs and notes (see :meth:`check`)."""
        out: list[Finding] = []
        for i, res in enumerate(self.results):
            for f in res.findings:
                if f.code not in ("w&b-steps-repeated", "steps-repeated", "not-resumed", "run-id-changed"):
                    out.append(Finding(f.code, f"attempt {i + 1}: {f.message}", f.severity, f.rules))
            handled = [  # signals that reached the process and were not ignored (a container's PID 1)
                s
                for s in res.signals
                if s.pids and not s.note and not s.escalation and s.signal not in (_signal.SIGKILL, _signal.SIGCONT)
            ]
            if handled and res.exit_code == 0 and not any(f.code == "handler-exits-zero" for f in res.findings):
                out.append(
                    finding(
                        "handler-exits-zero",
                        f"attempt {i + 1} got {handled[0].signal.name} and exited 0: a preempted attempt must exit "
                        "non-zero, or the scheduler treats the job as done and never requeues it",
                    )
                )
        planned = [(i, p) for i, p in enumerate(self.preemptions) if p is not None]
        undelivered = [(i, p) for i, p in planned if i >= len(self.results) or not self.results[i].signals]
        if undelivered:
            said = ", ".join(f"attempt {i + 1}: {p.describe()}" for i, p in undelivered)
            out.append(
                finding(
                    "preemption-not-delivered",
                    f"planned preemptions never happened ({said}): the loop ended after {len(self.results)} "
                    f"attempt(s), the last exiting {self.results[-1].exit_code if self.results else None}",
                )
            )
        ids = [sorted(r.key.path for r in res.runs) for res in self.results]
        flat = {p for paths in ids for p in paths}
        if len(flat) != 1 or any(len(paths) != 1 for paths in ids):
            why = "the run id is not fixed before wandb.init or is persisted too late"
            for i in range(1, len(self.results)):
                prev, cur = self.results[i - 1], self.results[i]
                if len(prev.runs) == 1 and len(cur.runs) == 1 and prev.runs[0].key != cur.runs[0].key:
                    hard = not any(s.signal != _signal.SIGKILL for s in prev.signals) and prev.signals
                    why = (
                        f"attempt {i + 1} started a new run after a SIGKILL: the run id is persisted too late "
                        "(only in the preemption handler or after training) — fix it before wandb.init and "
                        "persist it before training"
                        if hard
                        else f"attempt {i + 1} started a new run: the run id is made anew at each start — take it "
                        "from the checkpoint or from WANDB_RUN_ID"
                    )
                    break
            out.append(finding("run-id-changed", f"expected one run id across restarts, got {ids}: {why}"))
            return resolve(out)
        run = self.results[-1].run
        out.extend(run_findings(run, step_key))
        steps = run.steps
        if total_steps is not None and len(steps) != total_steps:
            out.append(finding("steps-missing", f"{len(steps)} steps logged, expected {total_steps}"))
        if self.states and self.states[-1] != "finished":
            out.append(finding("not-finished", f"the last attempt ended {self.states[-1]!r}, not 'finished'"))
        return resolve(out)

    def check(self, total_steps: int | None = None, step_key: str | None = None) -> RequeueResult:
        """Assert the loop ended well; returns ``self``.

        - every attempt that got a preemption signal exited non-zero, and every planned preemption
          was delivered (the loop did not stop early at an exit 0, R66, R67);
        - every attempt wrote the same single run id (the id was fixed before init, R21/R28);
        - every restart resumed the run (no new run at step 0, R14 vs R35);
        - W&B steps are 0..N-1 with no duplicates and no gaps (R35, R36);
        - the script's own step counter (``step_key``, or found by name: ``train_step``,
          ``global_step`` ...) never repeats after a handled preemption: the handler saved the
          checkpoint (after a SIGKILL a repeat is expected and only noted, R73);
        - no attempt's diagnosis found a bug (``mark_preempting()`` without a signal, dropped rows,
          a signal that never reached the run ...);
        - the final state is ``finished`` (R55); with ``total_steps``, exactly that many steps.

        Raises:
            ExpectationFailed: the first line names the first mistake; then every likely cause with
                its rule ids; then every attempt's report as that attempt ended.
        """
        __tracebackhide__ = True  # pytest shows the failing test's line, not this method's source
        bugs = [f for f in self.findings(total_steps, step_key) if f.severity == BUG]
        if bugs:
            raise ExpectationFailed(
                f"requeue loop: {bugs[0].message}" + render_findings(bugs, notes=False) + "\n" + self.report()
            )
        return self


@implements("R66", "R69")
def requeue_loop(
    harness: Harness,
    command: str | Sequence[str],
    preemptions: Sequence[Preemption | Trigger | None],
    max_attempts: int | None = None,
    scheduler: Scheduler | None = None,
    **run_kwargs: Any,
) -> RequeueResult:
    """Start ``command`` until it exits 0, at most ``max_attempts`` times (default: one more than
    the preemptions), preempting attempt *i* with ``preemptions[i]`` (``None``: leave it alone).

    A restart follows any non-zero exit, as a scheduler's requeue does; an exit 0 ends the loop (a
    scheduler does not requeue a job that succeeded), so a handler that exits 0 ends it early and
    :meth:`RequeueResult.check` says so. An attempt that was not preempted by the harness but ends
    ``preempted`` fails at once: ``mark_preempting()`` was called without a preemption, so every bug
    would be requeued forever (R69, the documented anti-pattern).

    With ``scheduler`` (a profile of :mod:`.schedulers`) every attempt is the next run of that
    scheduler's job, each preemption is what that scheduler delivers, and the scheduler decides the
    restart: a run it does not requeue (a SLURM job at its time limit without ``scontrol requeue``,
    a Job past its ``backoffLimit``) ends the loop with a ``not-requeued`` failure naming why.

    Raises:
        ExpectationFailed: for that anti-pattern, a run the scheduler does not requeue, or when
            ``max_attempts`` run out.
    """
    limit = max_attempts if max_attempts is not None else len(preemptions) + 1
    planned = list(preemptions)
    results: list[RunResult] = []
    states: list[str] = []
    for i in range(limit):
        preempt = preemptions[i] if i < len(preemptions) else None
        if scheduler is not None:
            run_kwargs["scheduler"] = scheduler
        result = harness.run(command, preempt=preempt, **run_kwargs)
        results.append(result)
        state = result.state if len(result.runs) == 1 else "unknown"
        states.append(state)
        if preempt is None and state == "preempted":
            raise ExpectationFailed(
                f"attempt {i + 1} ended 'preempted' but no preemption happened (exit code {result.exit_code}): "
                "mark_preempting() is called when the run is not being preempted, so a code bug would be "
                "requeued forever (R69). Call it only in the preemption signal handler (R68).\n"
                + RequeueResult(results, states, planned).report()
            )
        if result.returncode == 0:
            return RequeueResult(results, states, planned)
        if result.job is not None and not result.job.requeued:
            stop = finding(
                "not-requeued",
                f"{result.job.title} is not requeued after attempt {i + 1}: {result.job.requeue_reason}",
            )
            causes = [f for r in results for f in r.findings if f.severity == BUG]
            raise ExpectationFailed(
                f"requeue loop: {(causes or [stop])[0].message}"
                + render_findings([*causes, stop], notes=False)
                + "\n"
                + RequeueResult(results, states, planned).report()
            )
    raise ExpectationFailed(
        f"the command did not finish within {limit} attempts; states {states}"
        + render_findings([f for r in results for f in r.findings])
        + "\n"
        + RequeueResult(results, states, planned).report()
    )
