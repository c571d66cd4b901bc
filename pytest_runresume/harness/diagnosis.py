"""The diagnosis: look at what a finished process did and name the likely cause of each mistake.

One module, used by every verdict: the ``preempt``/``crash`` markers, :meth:`RunResult.expect`,
``requeue(...).check()``, the sweep helpers and ``runresume check``. It reads only what the harness
recorded: the exit status, the signals sent and to which processes, what the hook inside the
command reported (``wandb.init``, ``run.mark_preempting()``, signal handlers registered), the run as
the process left it (attempts, history, timeline) and the SDK's own warnings on stderr.

A :class:`Finding` has a code (:data:`CODES`), the rules it concerns, a one-line message that says
what was seen and what to change, and a severity: ``bug`` (never correct for an entrypoint that must
survive preemption: every verdict fails on it unless the test allows that code) or ``note`` (context
for a failure, e.g. an exception's last line).

The codes and the :class:`Finding` type are in :mod:`.findings`, what a run's history shows across
its attempts in :mod:`.history_findings`; this module looks at one process and re-exports both
(``from pytest_runresume.harness.diagnosis import CODES, Finding, run_findings`` keeps working).
"""

from __future__ import annotations

import re
import signal as _signal
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..model import derive_state
from ..model.tags import implements
from .findings import BUG, CODES, NOTE, Code, Finding, finding, plain, render_findings, resolve
from .history_findings import _after_hard_kill, run_findings

if TYPE_CHECKING:
    from ..model import Attempt, RunRecord
    from .results import RunResult

__all__ = [
    "BUG",
    "CODES",
    "DROPPED_ROWS",
    "NOTE",
    "Code",
    "Finding",
    "diagnose",
    "finding",
    "plain",
    "render_findings",
    "resolve",
    "run_findings",
]

#: The SDK's warning when ``run.log(..., step=k)`` is below the current step (R34).
DROPPED_ROWS = re.compile(r"Tried to log to step (\d+) that is less than the current step (\d+)")
#: submitit's log line when a preempted job is not requeued (``SignalHandler.checkpoint_and_try_requeue``).
_SUBMITIT_NOT_REQUEUED = re.compile(r"Job not requeued because: ([^\n]*?)\.?(?:\n|$)")
_CONFIG_ERROR = re.compile(r"Attempted to change value of key \"([^\"]+)\" from (.*?) to (.*?)(?:\n|$)")
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt))(?::\s*(.*))?$")
#: Signals the handler checks do not apply to: SIGKILL/SIGSTOP cannot be caught, SIGCONT & co. do not
#: end a process (a SIGCONT is a harmless pause point), and SIGINT is Ctrl+C, which W&B's pattern
#: leaves to Python's KeyboardInterrupt for manual cancellation (R68, R70d).
_NOT_PREEMPTION = frozenset(
    {
        _signal.SIGKILL,
        _signal.SIGSTOP,
        _signal.SIGCONT,
        _signal.SIGCHLD,
        _signal.SIGURG,
        _signal.SIGWINCH,
        _signal.SIGINT,
    }
)
#: Signals that end wandb-core (a Go program: SIGUSR1/SIGUSR2 are ignored, seen with wandb 0.31).
_TERMINATING = frozenset({_signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT})


def _sig_name(signum: int) -> str:
    try:
        return _signal.Signals(signum).name
    except ValueError:
        return str(signum)


def _last_exception(text: str) -> str | None:
    for line in reversed(plain(text).splitlines()):
        line = line.strip()
        if _EXC_LINE.match(line):
            return line
    return None


def _starts(result: RunResult, run: RunRecord) -> list[Any]:
    """The ``init`` events of the processes of this command that wrote ``run``, in order."""
    return [e for e in result.events if e.event == "init" and e.detail.get("run_id") == run.key.run_id]


def _run_of(result: RunResult, pids: Iterable[int]) -> RunRecord | None:
    """The run (of ``result.runs``) that one of ``pids`` initialised, if any."""
    wanted = set(pids)
    ids = {e.detail.get("run_id") for e in result.events if e.event == "init" and e.pid in wanted}
    found = [r for r in result.runs if r.key.run_id in ids]
    return found[0] if len(found) == 1 else None


def _attempt_of(result: RunResult, run: RunRecord, pids: Iterable[int]) -> Attempt | None:
    """The attempt of ``run`` written by one of ``pids``; the run's last attempt when none did.

    A command may start its training process more than once (submitit's requeue, ``torchrun
    --max-restarts``, a retry loop): the process that got the signal is then not the last one, and
    its exit, not the last one's, says how it handled the signal. Each start that called
    ``wandb.init`` reported it, so the k-th of this command's starts wrote the k-th of its attempts.
    """
    starts = _starts(result, run)
    wanted = set(pids)
    for k, e in enumerate(starts):
        if e.pid in wanted:
            index = len(run.attempts) - len(starts) + k
            if 0 <= index < len(run.attempts):
                return run.attempts[index]
    return run.attempt


def _restart_findings(result: RunResult, sent: Sequence[Any]) -> list[Finding]:
    """A restart inside the command (a new process after the signalled one) that wrote a new run."""
    signalled = {p for s in sent for p in s.pids}
    inits = [e for e in result.events if e.event == "init"]
    for before, after in zip(inits, inits[1:], strict=False):
        old, new = before.detail.get("run_id"), after.detail.get("run_id")
        if before.pid in signalled and after.pid != before.pid and old and new and old != new:
            hard = all(s.signal == _signal.SIGKILL for s in sent if before.pid in s.pids)
            how = (
                "the run id is persisted too late (only in the preemption handler or after training) — fix it "
                "before wandb.init and persist it before training"
                if hard
                else "the run id is made anew at each start — fix it when the job is submitted (it is pickled with "
                "the job) or take it from the checkpoint or WANDB_RUN_ID"
            )
            return [
                finding(
                    "run-id-changed",
                    f"the command restarted its training process after the signal (pid {before.pid} -> {after.pid}, "
                    f"as submitit's requeue or torchrun --max-restarts do) and the restart wrote a new run {new!r} "
                    f"instead of resuming {old!r}: {how}",
                )
            ]
    return []


def _signalled(result: RunResult) -> list[Any]:
    return [s for s in result.signals if not s.escalation]


@implements("R21", "R28", "R65", "R67", "R68", "R69", "R73")
def diagnose(result: RunResult, step_key: str | None = None) -> list[Finding]:
    """The findings for one process run by the harness (see the module docstring).

    Args:
        result: a finished :class:`~pytest_runresume.harness.RunResult`.
        step_key: the script's own step counter key (see :func:`run_findings`).

    Returns:
        The findings, bugs and notes, in a stable order.
    """
    out: list[Finding] = [finding("harness-problem", p) for p in result.problems]
    text = plain(result.stderr + "\n" + result.stdout)
    sent = _signalled(result)
    catchable = [s for s in sent if s.signal not in _NOT_PREEMPTION]
    escalations = [s for s in result.signals if s.escalation]
    holders = result.holders
    run = result.runs[0] if len(result.runs) == 1 else None
    state = result.served.model.state(run) if run is not None else None
    preempting_events = [e for e in result.events if e.event == "mark_preempting"]

    for e in preempting_events:
        if e.signals_before == 0:
            step = e.detail.get("step")
            when = f"after step {step}" if isinstance(step, int) and step >= 0 else "before the first step"
            out.append(
                finding(
                    "mark-preempting-without-signal",
                    f"run.mark_preempting() was called {when} by pid {e.pid}, before any "
                    "preemption signal: every failure, code bugs included, would count as a preemption and be "
                    "requeued again and again — call it only in the preemption signal handler (R68)",
                )
            )
            break

    if catchable:
        first = catchable[0]
        sig = first.signal.name
        holder_pids = set(holders)
        reached_holder = bool(holder_pids & set(first.pids)) or not holder_pids
        handled = any(e.signals_before > 0 for e in preempting_events)
        # The exit the SDK reported for the process holding the run (the top process may be a
        # launcher or an agent whose own exit says nothing about the handler).
        # The run the signalled process wrote: with restarts inside the command there may be several.
        target = run if run is not None else _run_of(result, first.pids)
        attempt = _attempt_of(result, target, first.pids) if target is not None else None
        if attempt is not None and target is not None and (target is not run or attempt is not target.attempt):
            # restarted inside the command: judge the signalled start by its own attempt
            model = result.served.model
            state = derive_state(attempt, model.now(), model.crash_timeout, model.readings)
        if attempt is not None and attempt.complete:
            reported: int | None = attempt.exit_code
        elif not holder_pids or result.holders.keys() & set(first.pids):
            reported = result.exit_code
        else:
            reported = None
        died = attempt is not None and not attempt.complete
        if escalations and not first.note:
            grace = result.preemption.escalate_after if result.preemption is not None else None
            when = escalations[0].reason or f"{grace if grace is not None else '?'} s after {sig}"
            out.append(
                finding(
                    "grace-period-ran-out",
                    f"the process was still running at the end of the grace period ({when}) and was "
                    f"SIGKILLed (pids {escalations[0].pids}): the grace period ran out before the handler finished "
                    "— make the checkpoint and the exit fit in the scheduler's grace period",
                )
            )
        elif not reached_holder and not handled and state not in ("preempted", "preempting"):
            went = ", ".join(f"pid {p} ({first.commands.get(p, '?')})" for p in first.pids) or "no process"
            if first.note:
                went += f" ({first.note})"
            held = ", ".join(f"pid {p} ({' '.join(map(str, d.get('argv') or [])) or '?'})" for p, d in holders.items())
            out.append(
                finding(
                    "signal-not-forwarded",
                    f"{sig} went to {went}; the process holding the run, {held}, never received it (the run ended "
                    f"{state!r}): the launcher does not forward the signal — start the training with exec "
                    "(`exec python train.py`) or trap the signal and forward it to the child",
                )
            )
        elif not handled and (result.killed_by_signal == first.signal or died):
            registered = sorted(
                {
                    _sig_name(e.detail["signum"])
                    for e in result.events
                    if e.event == "handler" and e.pid in holder_pids and e.detail.get("handler") == "function"
                }
            )
            has = (
                f"it registered handlers for {', '.join(registered)} only"
                if registered
                else "it registered no signal handler"
            )
            out.append(
                finding(
                    "no-handler",
                    f"the process died of {sig}: {has} — register a {sig} handler before training that saves a "
                    "checkpoint, calls run.mark_preempting() and exits 128+signum",
                )
            )
        elif reported == 0 and result.exit_code not in (0, None):
            out.append(
                finding(
                    "finished-before-exit",
                    f"the run told W&B it finished with exit code 0 while the process went on to exit "
                    f"{result.exit_code}: run.finish() (or wandb.finish(), or the end of a `with wandb.init()` "
                    f"block) ran in the {sig} handler or before the exit, so the run is 'finished', not "
                    "'preempted', and is never requeued — don't finish the run in the handler: mark_preempting(), "
                    "checkpoint, sys.exit(128 + signum) and let the SDK report that code",
                )
            )
        elif reported == 0:
            out.append(
                finding(
                    "handler-exits-zero",
                    f"the {sig} handler exited 0: a preempted run must exit non-zero (128+signum = "
                    f"{128 + int(first.signal)}), otherwise it is 'finished' and never requeued",
                )
            )
        elif not handled and state == "failed":
            out.append(
                finding(
                    "no-mark-preempting",
                    f"the {sig} handler exited {reported} without calling run.mark_preempting(): the run is "
                    "'failed', not 'preempted', and is not requeued",
                )
            )

    core = next(
        (
            (s, p)
            for s in catchable
            if s.signal in _TERMINATING
            for p in s.pids
            if "wandb-core" in s.commands.get(p, "")
        ),
        None,
    )
    if core is not None and state not in ("preempted", "finished", "failed"):
        s, pid = core
        caught = {
            e.detail.get("signum")
            for e in result.events
            if e.event == "handler" and e.pid in holders and e.detail.get("handler") == "function"
        }
        if int(s.signal) not in caught:
            core = None  # no handler in the training process: that is the cause ("no-handler")
    if core is not None:
        s, pid = core
        out.append(
            finding(
                "wandb-core-signalled",
                f"{s.signal.name} reached wandb-core (pid {pid}) together with the training process"
                + (f" [{s.reason}]" if s.reason else "")
                + f": wandb-core exited at once, so run.mark_preempting() and the exit never reached W&B (the run "
                f"is {state!r}, crashed after the timeout) — act on a signal that reaches the training process alone "
                "before the job ends (SLURM's --signal, which wandb-core ignores; KillMode=mixed on a VM)",
            )
        )
    not_requeued = _SUBMITIT_NOT_REQUEUED.search(text)
    if catchable and not_requeued:
        out.append(
            finding(
                "not-requeued",
                f'submitit did not requeue the job: "Job not requeued because: {not_requeued.group(1)}" — '
                + (
                    "checkpoint() must return a DelayedSubmission (submitit.helpers.DelayedSubmission(self, ...)), "
                    "not None, for the job to be restarted and the run resumed"
                    if "returned None" in not_requeued.group(1)
                    else "a job that is not checkpointable, or timed out too often, is not restarted"
                ),
            )
        )
    if len(result.runs) > 1 and sent:
        out.extend(_restart_findings(result, sent))

    dropped = list(DROPPED_ROWS.finditer(text))
    for m in dropped[:1]:
        tried, current = int(m.group(1)), int(m.group(2))
        # back at step 0 after a handled preemption: the handler had its chance to save the step
        handled_before = run is not None and any(a.preempting and a.complete for a in run.attempts[:-1])
        from_zero = tried == 0 and current > 0 and (handled_before or not (run is not None and _after_hard_kill(run)))
        hard = not from_zero and run is not None and _after_hard_kill(run)
        lag = "the script logs explicit steps from a checkpoint that lags W&B's step "
        if from_zero:
            why = (
                f"the restart logs from step 0 again while W&B resumed the run at step {current}: the step counter "
                "was not restored on resume, or no checkpoint holding it was saved (save it in the preemption "
                "handler, read it back before the loop, or start at run.starting_step)"
            )
        elif hard:
            why = lag + "(expected after a SIGKILL, which no handler can catch)"
        elif len(dropped) == 1 and tried == current - 1:
            why = lag + (
                "(only the step just before the restart: an off-by-one on resume — if the checkpoint holds the "
                "last completed step, start at that step + 1)"
            )
        else:
            why = lag + "(save the checkpoint in the preemption handler, or log without step=)"
        out.append(
            finding(
                "rows-dropped",
                f'the SDK dropped rows: "Tried to log to step {tried} that is less than the current step {current}" — '
                + why,
                NOTE if hard else BUG,
            )
        )

    exc = _last_exception(result.stderr)
    cfg = _CONFIG_ERROR.search(text)
    if cfg:
        out.append(
            finding(
                "config-changed-on-resume",
                f"config.update changed {cfg.group(1)!r} from {cfg.group(2)} to {cfg.group(3).rstrip('.')} in a "
                "resumed run and raised: values loaded on resume count as set — pass allow_val_change=True, or "
                "log values that change",
            )
        )
    elif exc and re.search(r"resume", exc) and re.search(r"does not exist|requires an existing run|must", exc):
        out.append(
            finding(
                "resume-must-missing",
                f"wandb.init raised {exc!r}: resume='must' needs an existing run, so the first start fails — use "
                "resume='allow' with a fixed run id",
            )
        )
    elif exc and (result.exit_code not in (0, None)) and not catchable:
        out.append(finding("exception", f"the process raised {exc}", NOTE))

    if run is not None:
        out.extend(run_findings(run, step_key))
        prev = result.previous
        if prev is not None and len(prev.runs) == 1 and prev.runs[0].key != run.key and run.attempt is not None:
            before = prev.runs[0]
            if not run.attempt.resumed and result.served.model.state(before) != "finished":
                how = (
                    "the run id is persisted too late (only in the preemption handler or after training) — fix it "
                    "before wandb.init and persist it before training"
                    if before.attempt is not None and not before.attempt.complete
                    else "the run id is made anew at each start — take it from the checkpoint or WANDB_RUN_ID"
                )
                out.append(
                    finding(
                        "run-id-changed",
                        f"the restart wrote a new run {run.key.path} instead of resuming {before.key.path} "
                        f"(which ended {result.served.model.state(before)!r}): {how}",
                    )
                )
    if result.job is not None:
        out = list(result.job.findings) + out
    return resolve(out)
