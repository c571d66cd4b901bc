"""Finding codes and the :class:`Finding` type: the vocabulary every verdict speaks.

:data:`CODES` is the table of every finding code (its rules, the mistake, what to change;
``docs/failures.md`` is generated from it). A :class:`Finding` has a code, the rules it concerns, a
one-line message that says what was seen and what to change, and a severity: ``bug`` (never correct
for an entrypoint that must survive preemption: every verdict fails on it unless the test allows
that code) or ``note`` (context for a failure, e.g. an exception's last line).

Pure data and formatting, no import from the rest of the harness: the diagnosis
(:mod:`.diagnosis`, :mod:`.history_findings`), the scheduler profiles and the results use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

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
    "finished-before-exit": Code(
        ("R55", "R66", "R67"),
        "the run reported exit code 0 to W&B (run.finish() or wandb.finish() in the preemption handler, or the "
        "`with wandb.init()` block ended normally) before the process exited non-zero: the run is finished and "
        "never requeued",
        "do not call run.finish() in the handler: call run.mark_preempting(), save the checkpoint and "
        "sys.exit(128 + signum); the SDK reports that exit code as the process ends",
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
        "a restart wrote to the same run id without resuming it: W&B merged it into the run, its history "
        "restarting at step 0 unless the script passes step= itself",
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

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


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


def resolve(findings: Sequence[Finding]) -> list[Finding]:
    """``findings`` without those another present finding replaces (:attr:`Code.replaces`), in order."""
    present = {f.code for f in findings}
    replaced = {r for code in present for r in CODES[code].replaces}
    return [f for f in findings if f.code not in replaced]
