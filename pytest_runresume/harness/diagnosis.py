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
"""

from __future__ import annotations

import re
import signal as _signal
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ..model import derive_state

if TYPE_CHECKING:
    from ..model import Attempt, RunRecord
    from .results import RunResult

BUG = "bug"
NOTE = "note"


class Code(NamedTuple):
    """What a finding code means: its rules, the mistake, and what to change.

    ``replaces``: more general codes this one explains better; when both are found, only this one
    is reported (a scheduler profile's finding names the scheduler's setting behind a generic one).
    """

    rules: tuple[str, ...]
    meaning: str
    fix: str
    replaces: tuple[str, ...] = ()


#: Every finding code (stable: tests may ``allow`` one; ``docs/failures.md`` is generated from it).
CODES: dict[str, Code] = {
    "handler-exits-zero": Code(
        ("R66", "R67"),
        "the preemption handler exits 0, so the run is finished and never requeued",
        "end the handler with sys.exit(128 + signum)",
    ),
    "no-handler": Code(
        ("R68", "R70e"),
        "no handler for the preemption signal: the process dies of it and the run is crashed after the timeout",
        "register a handler for the scheduler's signal before training (checkpoint, mark_preempting, exit 128+signum)",
    ),
    "no-mark-preempting": Code(
        ("R65", "R68"),
        "the handler exits non-zero without run.mark_preempting(): the run is failed, not preempted",
        "call run.mark_preempting() in the handler, before exiting",
    ),
    "mark-preempting-without-signal": Code(
        ("R69",),
        "run.mark_preempting() is called with no preemption (e.g. right after wandb.init): every failure is requeued",
        "call run.mark_preempting() only in the preemption signal handler",
    ),
    "signal-not-forwarded": Code(
        ("R68",),
        "the signal reached a launcher (a batch shell, a wrapper script), never the process holding the run",
        "start the training with exec, or trap the signal in the launcher and forward it to the child",
    ),
    "grace-period-ran-out": Code(
        ("R73",),
        "the handler did not finish within the grace period (SLURM's KillWait, Kubernetes' "
        "terminationGracePeriodSeconds, a spot VM's notice) and was SIGKILLed",
        "make the checkpoint and the exit fit in the scheduler's grace period (or ask for a longer one)",
    ),
    "wandb-core-signalled": Code(
        ("R65", "R68"),
        "the termination signal reached wandb-core together with the training process (SLURM's end of a job, "
        "a VM shutdown with KillMode=control-group, a signal to the whole process group): wandb-core exits at "
        "once, so run.mark_preempting() and the last rows never reach W&B and the run ends crashed",
        "act on a signal that reaches the training process alone, before the job ends: SLURM's --signal "
        "(wandb-core ignores SIGUSR1 and SIGUSR2) with srun, or B: with a trap; KillMode=mixed on a VM",
        ("no-handler", "no-mark-preempting"),
    ),
    "signal-batch-shell-only": Code(
        ("R68",),
        "SLURM's --signal=B:... signals the batch shell only, and the batch script neither execs the training "
        "nor traps and forwards the signal, so the training process never gets it",
        "start the training with exec, or trap the signal in the batch script and forward it to the training "
        "process, or drop B: and start the training with srun",
        ("signal-not-forwarded", "no-handler"),
    ),
    "signal-reached-nobody": Code(
        ("R68",),
        "SLURM's --signal without B: goes to the job's srun steps only, and the batch script starts the training "
        "without srun, so no process gets the signal",
        "start the training with srun (or use --signal=B:... with exec or a trap in the batch script)",
        ("signal-not-forwarded",),
    ),
    "requeue-changed-run-id": Code(
        ("R21", "R28"),
        "the scheduler restarted the job (a SLURM requeue, a new pod, a rebooted VM) and the restart wrote a new "
        "run: the run id is derived from something the restart changes",
        "derive the run id from what the restart keeps (SLURM_JOB_ID, the Job's name, the checkpoint) and pass "
        "resume='allow'",
        ("run-id-changed",),
    ),
    "workdir-not-persistent": Code(
        ("R09", "R12", "R35"),
        "the restarted container's working directory is not a persistent volume, so what the previous one "
        "wrote (wandb/wandb-resume.json for resume='auto', the checkpoint) is gone: a new run, or steps "
        "trained again",
        "mount the working directory (WANDB_DIR and the checkpoint) from a persistentVolumeClaim",
        ("run-id-changed", "requeue-changed-run-id", "steps-repeated", "not-resumed"),
    ),
    "not-requeued": Code(
        ("R66", "R71"),
        "the scheduler or launcher does not restart the job after this run, so nothing resumes the run (SLURM "
        "requeues only on a REQUEUE preemption or `scontrol requeue`, not at a time limit or with --no-requeue; a "
        "Job stops after backoffLimit failures; submitit does not requeue when checkpoint() returns None)",
        "ask for the restart it needs: `scontrol requeue $SLURM_JOB_ID` in the handler or the batch script's "
        "trap, --requeue, a larger backoffLimit, a DelayedSubmission from submitit's checkpoint()",
    ),
    "rows-dropped": Code(
        ("R34", "R35"),
        "the SDK dropped rows logged with an explicit step below W&B's current step: the checkpoint lags the W&B step",
        "save the checkpoint in the preemption handler; log without step= or from the resumed run's step",
    ),
    "steps-repeated": Code(
        ("R35", "R36"),
        "the script's own step counter was logged again after a handled preemption: steps were trained twice",
        "save the checkpoint in the preemption handler, so a restart continues where the signal stopped it",
    ),
    "w&b-steps-repeated": Code(
        ("R35", "R36"),
        "W&B steps were logged more than once in one run",
        "resume the run (resume='allow') instead of starting its history again",
    ),
    "not-resumed": Code(
        ("R03", "R14", "R35"),
        "a restart wrote to the same run id without resuming it: its history restarted at step 0",
        "pass resume='allow' (or 'must' on restarts) to wandb.init",
    ),
    "run-id-changed": Code(
        ("R21", "R28"),
        "a restart wrote a new run instead of resuming the previous one: the run id is made anew or persisted too late",
        "fix the run id before wandb.init and persist it before training (checkpoint, WANDB_RUN_ID, the job id)",
    ),
    "resume-must-missing": Code(
        ("R02",),
        "resume='must' on a run that does not exist yet: the first start fails",
        "use resume='allow' with a fixed run id",
    ),
    "config-changed-on-resume": Code(
        ("R39", "R40"),
        "config.update with a changed value raised in the resumed process (values loaded on resume count as set)",
        "pass allow_val_change=True, or log values that change during training",
    ),
    "preemption-not-delivered": Code(
        ("R66",),
        "a requeue loop ended before every planned preemption was delivered (an attempt exited 0 early)",
        "see the attempt that exited 0: a preempted attempt must exit non-zero",
    ),
    "steps-missing": Code(
        ("R35", "R36", "R63"),
        "W&B steps are not contiguous from 0, or fewer than expected (a note when a SIGKILL explains the gap: "
        "rows still in the killed process's client are lost)",
        "resume from the step after the last one W&B holds (run.starting_step) or from a checkpoint saved in the "
        "preemption handler; a restart must not skip steps",
    ),
    "not-finished": Code(
        ("R55",), "the last attempt of a requeue loop did not end finished", "see the last attempt's findings"
    ),
    "exception": Code((), "the process raised an exception (context for a failure)", "see the exception"),
    "harness-problem": Code(
        (),
        "the harness could not do what it promised (a sync that timed out, an exit status never reported, "
        "an ambiguous run)",
        "see the message; e.g. sync=False for offline runs",
    ),
}

#: The SDK's warning when ``run.log(..., step=k)`` is below the current step (R34).
DROPPED_ROWS = re.compile(r"Tried to log to step (\d+) that is less than the current step (\d+)")
#: submitit's log line when a preempted job is not requeued (``SignalHandler.checkpoint_and_try_requeue``).
_SUBMITIT_NOT_REQUEUED = re.compile(r"Job not requeued because: ([^\n]*?)\.?(?:\n|$)")
_CONFIG_ERROR = re.compile(r"Attempted to change value of key \"([^\"]+)\" from (.*?) to (.*?)(?:\n|$)")
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt))(?::\s*(.*))?$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
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
_COUNTER_NAMES = ("train_step", "global_step", "trainer/global_step", "step", "iteration", "iter", "batch_idx")


@dataclass(frozen=True)
class Finding:
    """One likely cause, named.

    Attributes:
        code: a key of :data:`CODES` (stable: tests may ``allow`` it).
        message: one line: what was seen, and what to change.
        severity: ``"bug"`` (fails every verdict) or ``"note"`` (context).
        rules: the rule ids (R-ids of ``rules.md``) it concerns.
    """

    code: str
    message: str
    severity: str = BUG
    rules: tuple[str, ...] = ()

    def render(self) -> str:
        """``[bug: handler-exits-zero] message (R66, R67)``."""
        rules = f" ({', '.join(self.rules)})" if self.rules else ""
        return f"[{self.severity}: {self.code}] {self.message}{rules}"


def finding(code: str, message: str, severity: str = BUG) -> Finding:
    """A :class:`Finding` with the rules of its code."""
    return Finding(code, message, severity, CODES[code].rules)


def render_findings(findings: Iterable[Finding], notes: bool = True) -> str:
    """The findings as ``\\n  likely cause: ...`` lines (bugs first), or ``""``."""
    items = sorted((f for f in findings if notes or f.severity == BUG), key=lambda f: f.severity != BUG)
    return "".join(f"\n  likely cause: {f.render()}" for f in items)


def plain(text: str) -> str:
    """``text`` without ANSI colour codes (the SDK colours its terminal output)."""
    return _ANSI.sub("", text)


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
    import json

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
    last = run.attempts[-1] if run.attempts else None
    if last is not None and last.number > 1 and not last.resumed and last.start_line > 0:
        out.append(
            finding(
                "not-resumed",
                f"process {last.number} did not resume run {run.key.path}: it wrote to the same id without resuming, "
                "so its history restarted at step 0 — pass resume='allow' (or 'must') to wandb.init on a restart",
            )
        )
    dup = sorted(s for s, n in Counter(run.steps).items() if s is not None and n > 1)
    if dup:
        out.append(
            finding("w&b-steps-repeated", f"W&B steps {dup[:10]} of run {run.key.path} were logged more than once")
        )
    per_attempt = _attempt_rows(run)
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
    state = result.served.backend.state(run) if run is not None else None
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
            backend = result.served.backend
            state = derive_state(attempt, backend.now(), backend.crash_timeout, backend.readings)
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
        hard = run is not None and _after_hard_kill(run)
        off_by_one = len(dropped) == 1 and int(m.group(1)) == int(m.group(2)) - 1
        out.append(
            finding(
                "rows-dropped",
                f'the SDK dropped rows: "Tried to log to step {m.group(1)} that is less than the current step '
                f"{m.group(2)}\" — the script logs explicit steps from a checkpoint that lags W&B's step "
                + (
                    "(expected after a SIGKILL, which no handler can catch)"
                    if hard
                    else "(only the step just before the restart: an off-by-one on resume — if the checkpoint "
                    "holds the last completed step, start at that step + 1)"
                    if off_by_one
                    else "(save the checkpoint in the preemption handler, or log without step=)"
                ),
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
            if not run.attempt.resumed and result.served.backend.state(before) != "finished":
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
                        f"(which ended {result.served.backend.state(before)!r}): {how}",
                    )
                )
    if result.job is not None:
        out = list(result.job.findings) + out
    return resolve(out)


def resolve(findings: Sequence[Finding]) -> list[Finding]:
    """``findings`` without those another present finding replaces (:attr:`Code.replaces`), in order."""
    present = {f.code for f in findings}
    replaced = {r for code in present for r in CODES[code].replaces}
    return [f for f in findings if f.code not in replaced]
