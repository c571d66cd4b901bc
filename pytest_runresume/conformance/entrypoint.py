"""Entrypoint conformance: a standard battery of preemption checks run against a user's training
command (``runresume check -- python train.py``, or the packaged ``test_entrypoint`` module).

Each check runs the command with the harness against an embedded fake backend, in a fresh working
directory (which is also ``WANDB_DIR``).

========================  ======================================================================
``finishes``              left alone it exits 0 and the run is ``finished`` (R55, R66, R70a)
``preempted``             the signal after step N: exit 128+signum, ``preempted``, requeueable
``resumed``               restarted with the same id: resumes at the last step + 1, each step once
``crashed``               SIGKILL after step N: ``running`` until the crash timeout, then ``crashed``
``restarted_after_kill``  SIGKILL after step N, then the same command, same environment, same
                          directory: the same run resumed, each step once, ``finished`` (R73)
``failed``                an exception after step N: non-zero exit, ``failed``, not preempted (R69)
``auto_same_dir``         with ``resume="auto"``, a restart in the same directory resumes the run
``auto_other_dir``        ... and a start in another directory makes a new run
========================  ======================================================================

What each check gives the command as its run id:

- ``finishes``, ``preempted``, ``crashed``, ``restarted_after_kill``, ``failed``: a new id in
  ``WANDB_RUN_ID`` (R18); ``restarted_after_kill`` gives the same one to the killed start and the
  restart, both in the check's directory (a checkpoint written there survives the kill). The command
  must honour it (``wandb.init`` reads it when no ``id=`` is passed; a ``--run-id`` flag of its own
  should default to it).
- ``resumed``: the ``preempted`` check's id in ``WANDB_RUN_ID`` again, in that check's directory.
- ``auto_same_dir``, ``auto_other_dir``: no ``WANDB_RUN_ID``. They test the id-less path of
  ``resume="auto"`` by definition: the SDK finds the id in ``wandb/wandb-resume.json`` of the working
  directory (R09-R12). The first run is preempted after step N and restarted in the same directory;
  then the command starts in another directory. Both are skipped when that first run writes no
  ``wandb/wandb-resume.json``: the command does not use ``resume="auto"``, or it cannot run without a
  run id (it exits before the trigger point, e.g. on ``os.environ["WANDB_RUN_ID"]``): it needs its
  run id from outside, as in W&B's ``WANDB_RESUME=auto WANDB_RUN_ID=<id> python eval.py``, and the
  checks above cover that.

Every signal the battery sends (the preemption signal, SIGKILL) goes to ``target``, as the ``preempt``
marker's ``Preemption(target=...)``: ``"process"`` (default: the command's own process), ``"point"``
(the process that reached the trigger point: the training run when the command is a launcher) or
``"group"`` (every process of the command's tree, wandb-core included, as a scheduler's cancel does).

The battery's plumbing (running the command, :class:`CheckResult`) is in :mod:`.battery`, the reports
(table, pictures, JUnit XML) in :mod:`.report`; their public names are importable from here too.
"""

from __future__ import annotations

import re
import signal as _signal
from collections import Counter

from ..harness import (
    ExpectationFailed,
    Harness,
    RunResult,
    Trigger,
    TriggerNotReached,
)
from ..harness.findings import BUG
from ..harness.history_findings import run_findings
from ..harness.requeue import RequeueResult
from .battery import INJECT_ENV, RUN_ID_ENV, BatteryCore, _causes, _Failed, _first_line, _Skipped
from .battery import CheckResult as CheckResult  # re-exported (the CLI, the package, the tests)
from .battery import resolve_command as resolve_command
from .checks import CHECKS as CHECKS
from .checks import Check as Check
from .report import junit_xml as junit_xml
from .report import render_details as render_details
from .report import render_table as render_table
from .report import write_pictures as write_pictures
from .report import xml_text as xml_text


class EntrypointBattery(BatteryCore):
    """The battery for one command.

    Args:
        command: the training command (a string split like a shell would, or an argv list).
        signal: the preemption signal (default SIGUSR1).
        step: the W&B step after which signals and the exception are injected.
        base_dir: where the checks' working directories go, kept (default: a temporary directory,
            removed by :meth:`close`).
        timeout: seconds one run of the command may take.
        crash_timeout: the fake backend's crash timeout (R61); the clock is moved, never waited for.
        cwd: where relative paths in ``command`` are resolved (default: the current directory).
        target: who gets every signal the battery sends, as :class:`~pytest_runresume.harness.Preemption`'s
            ``target``: ``"process"`` (the command's own process), ``"point"`` (the process that
            reached the trigger point, e.g. the training run under a launcher), ``"group"`` (every
            process of the command's tree, wandb-core included, as a scheduler's cancel does).
        grace: seconds from the preemption signal to SIGKILL if the command has not exited (the
            scheduler's grace period: SLURM's KillWait and Kubernetes' terminationGracePeriodSeconds
            default to 30 s); ``None`` waits without limit (up to ``timeout``). With ``scheduler``
            it sets that scheduler's grace period (``None``: the profile's own).
        scheduler: a scheduler profile (:mod:`pytest_runresume.harness.schedulers`): every run of
            a check is a run of that scheduler's job (a restart in the same check is its requeue),
            the preemption is what that scheduler delivers (``signal`` and ``target`` do not apply
            to it), and SIGKILL (the crash checks: a node failure) goes to every process of the job.
    """

    def _check_finishes(self) -> str:
        result = self._run(self._harness("finishes"), self._run_id("finishes"))
        self._one_run(result)
        hint = ""
        if result.exit_code != 0:
            hint = "left alone, the command must run to its end and exit 0"
        self._expect(result, hint, state="finished", exit_code=0, requeueable=False)
        self._steps = len(result.run.steps)
        return f"exit 0, finished, {self._steps} steps logged"

    def _check_preempted(self) -> str:
        harness, run_id = self._harness("preempted"), self._run_id("preempted")
        pre = self._preemption()
        result = self._run(harness, run_id, preempt=pre)
        self._preempted = (harness, run_id, result)
        self._one_run(result)
        signal, exit_code = self._signal_and_exit(harness)
        sig = signal.name
        hint = ""
        if result.killed_by_signal == signal:
            hint = f"no {sig} handler: the process died of the signal (register one before training, R68)"
        elif result.exit_code == 0:
            hint = f"the {sig} handler exits 0; a preempted run must exit non-zero, 128+signum (R66, R67)"
        elif result.state == "failed":
            hint = f"the {sig} handler does not call run.mark_preempting() before exiting (R65, R68)"
        self._expect(result, hint, state="preempted", exit_code=exit_code, requeueable=True)
        return f"exit {result.exit_code}, preempted at step {result.run.last_step}, requeueable{self._sent_to(result)}"

    def _check_resumed(self) -> str:
        if self._preempted is None:
            self.run_check("preempted")
        if self._preempted is None:
            raise _Skipped("needs the preempted run, which did not start")
        harness, run_id, first = self._preempted
        if first.signals == []:
            raise _Skipped("needs a preempted run: the preemption signal was never sent")
        second = self._run(harness, run_id)
        results = [first, second]
        states = [r.state if len(r.runs) == 1 else "unknown" for r in results]
        loop = RequeueResult(results, states, [first.preemption, None])
        bugs = [f for f in loop.findings(total_steps=self._steps) if f.severity == BUG]
        if bugs:
            head = f"the restart: {bugs[0].message}"
            ids = {r.key.run_id for res in results for r in res.runs}
            if len(ids) > 1 or run_id not in ids:
                head += f"; the command must use the run id in {RUN_ID_ENV} ({run_id}) or persist its own (R18, R21)"
            raise _Failed(head + _causes(bugs), loop.report()) from None
        run = second.run
        start = run.attempts[-1].start_line
        before = max((x for x in run.steps[:start] if x is not None), default=None)
        after = next((x for x in run.steps[start:] if x is not None), None)
        return f"resumed at step {after} after step {before}; steps 0..{run.last_step} once each, finished"

    def _check_crashed(self) -> str:
        harness = self._harness("crashed")
        result = self._run(harness, self._run_id("crashed"), preempt=self._preemption(_signal.SIGKILL))
        self._one_run(result)
        model = self.served.model
        if result.state != "running":
            hint = ""
            if result.state == "preempting":
                hint = "mark_preempting() was called without a preemption (R69)"
            raise _Failed(
                f"right after the SIGKILL the run is {result.state!r}, expected 'running' until the crash timeout"
                + (_causes(result.findings) or (f": {hint}" if hint else "")),
                result.report(),
            )
        model.advance_clock(model.crash_timeout - 1)
        if result.state != "running":
            raise _Failed(f"{result.state!r} before the crash timeout passed, expected 'running'", result.report())
        model.advance_clock(1)
        hint = "mark_preempting() was called without a preemption (R69)" if result.state == "preempted" else ""
        self._expect(result, hint, state="crashed", requeueable=False)
        return (
            f"killed by SIGKILL at step {result.run.last_step}: running, crashed after {model.crash_timeout:g} s"
            + self._sent_to(result)
        )

    def _check_restarted_after_kill(self) -> str:
        """A SIGKILL runs no handler (R63, R73), so whatever the command persists only there is lost:
        the restart (same command, same environment and ``WANDB_RUN_ID``, same directory) must find
        its run id and resume that run. Steps redone since the last periodic checkpoint are expected
        after a SIGKILL; W&B numbers its steps, so they stay contiguous."""
        harness, run_id = self._harness("restarted_after_kill"), self._run_id("restarted_after_kill")
        first = self._run(harness, run_id, preempt=self._preemption(_signal.SIGKILL))
        self._one_run(first)
        killed_id, killed_at = first.run.key.run_id, first.run.last_step
        second = self._run(harness, run_id)
        details = "\n\n".join(
            f"=== {what} ===\n{r.report()}" for what, r in (("killed start", first), ("restart", second))
        )
        if not second.runs:
            last = next((line.strip() for line in reversed(second.stderr.splitlines()) if line.strip()), "")
            raise _Failed(
                f"the restart after SIGKILL wrote no run (exit code {second.exit_code}"
                + (f", last output: {last[:120]}" if last else "")
                + ")",
                details,
            )
        loop = RequeueResult(
            [first, second], [r.state if len(r.runs) == 1 else "unknown" for r in (first, second)], [None, None]
        )
        causes = _causes([f for f in loop.findings() if f.code != "not-finished"])
        ids = sorted(r.key.run_id for r in second.runs)
        if ids != [killed_id]:
            ignores = f"; it also ignores {RUN_ID_ENV} ({run_id})" if killed_id != run_id else ""
            raise _Failed(
                f"the restart after SIGKILL wrote run {', '.join(ids)}, not {killed_id}: the run id is persisted "
                "too late (only in the preemption handler or after training) — fix it before wandb.init and "
                f"persist it before training (R21, R28){ignores}" + causes,
                details,
            )
        run = second.run
        attempt = run.attempts[-1]
        if len(run.attempts) < 2 or not attempt.resumed:
            raise _Failed(
                f"the restart did not resume (no resume= on wandb.init, or no WANDB_RESUME): it wrote run "
                f"{killed_id} again from step 0 instead of continuing after step {killed_at}; pass "
                "resume='allow' or 'must' with the run id (R03, R14, R35)" + causes,
                details,
            )
        steps = run.steps
        dup = sorted(st for st, n in Counter(steps).items() if st is not None and n > 1)
        if dup:
            raise _Failed(f"W&B steps logged more than once after the restart: {dup[:10]} (R35, R36)" + causes, details)
        gaps = [f for f in run_findings(run) if f.code == "steps-missing"]
        if any(f.severity == BUG for f in gaps):
            raise _Failed(
                f"W&B steps are not contiguous from 0 after the restart: {steps[:25]} (R35, R36)" + causes, details
            )
        hint = "the restart after SIGKILL must run to its end and exit 0" if second.exit_code != 0 else ""
        try:
            second.expect(state="finished", exit_code=0)
        except ExpectationFailed as exc:
            head, _ = _first_line(exc)
            raise _Failed(f"after the restart: {head}" + (f": {hint}" if hint else ""), details) from None
        resumed_at = steps[attempt.start_line] if attempt.start_line < len(steps) else None
        return (
            f"killed by SIGKILL at step {killed_at}; the restart resumed run {killed_id} at step {resumed_at}; "
            f"steps 0..{run.last_step} once each, finished"
            + (f" (note: {gaps[0].message})" if gaps else "")
            + self._sent_to(first)
        )

    def _check_failed(self) -> str:
        env = {INJECT_ENV: str(self.step)}
        harness = self._harness("failed")
        result = self._run(harness, self._run_id("failed"), env=env)
        self._one_run(result)
        injected = "exception injected after step" in result.stderr + result.stdout
        hint = ""
        if result.state == "preempted" or result.run.attempt is not None and result.run.attempt.preempting:
            hint = "mark_preempting() was called for an exception, so a bug would be requeued forever (R69)"
        elif result.exit_code == 0 and not injected:
            hint = f"the command never logged step {self.step}, so the exception was not raised"
        elif result.exit_code == 0:
            hint = "the exception was swallowed and the command exited 0"
        signal, _ = self._signal_and_exit(harness)
        if result.exit_code == 128 + int(signal):
            raise _Failed(
                f"exit code {result.exit_code} after an exception, the preemption exit code: it would be requeued (R66)",
                result.report(),
            )
        self._expect(result, hint, state="failed", requeueable=False)
        return f"exit {result.exit_code}, failed, not requeueable"

    def _auto_first(self) -> tuple[Harness, RunResult]:
        """The first run without a run id (preempted after step N), shared by both auto checks."""
        if self._auto is None:
            harness = self._harness("auto")

            def wrote_resume_file() -> bool:  # in WANDB_DIR: a scheduler may give each run its own directory
                job = harness.results[-1].job if harness.results else None
                workdir = job.workdir if job is not None else harness.workdir
                return (workdir / "wandb" / "wandb-resume.json").is_file()

            try:
                result = self._run(harness, None, preempt=self._preemption())
            except _Failed as exc:
                needs_id = isinstance(exc.cause, TriggerNotReached) and not wrote_resume_file()
                last = harness.results[-1]
                crash = _crash_without_run_id(last) if needs_id else None
                if crash is not None:
                    self._auto = _Failed(crash, last.report(), exc.cause)
                elif needs_id:
                    self._auto = _Skipped(self._needs_run_id(last))
                else:
                    self._auto = exc
            else:
                self._auto = (harness, result, wrote_resume_file())
        if isinstance(self._auto, (_Failed, _Skipped)):
            raise self._auto
        harness, result, uses_auto = self._auto
        if not uses_auto:
            raise _Skipped("entrypoint does not use resume='auto' (its first run wrote no wandb/wandb-resume.json)")
        self._one_run(result)
        return harness, result

    def _needs_run_id(self, result: RunResult) -> str:
        """The skip reason of the auto checks for a command that exited before the trigger point
        without a run id and wrote no wandb-resume.json."""
        why = (
            f"these checks run it without {RUN_ID_ENV} by definition: they test resume='auto' finding the id "
            "in wandb/wandb-resume.json of the working directory (R09-R12)"
        )
        if not result.runs:
            last = next((line.strip() for line in reversed(result.stderr.splitlines()) if line.strip()), "")
            said = f" (its last output: {last[:120]})" if last else ""
            return (
                f"the command needs its run id from outside ({RUN_ID_ENV}): without it, it exited with code "
                f"{result.exit_code} before any run and wrote no wandb/wandb-resume.json{said}; {why}"
            )
        return (
            f"the command needs its run id from outside ({RUN_ID_ENV}) or does not use resume='auto': without "
            f"it, it exited with code {result.exit_code} before the trigger point "
            f"({Trigger.at_step(self.step).describe()}) and wrote no wandb/wandb-resume.json; {why}"
        )

    def _check_auto_same_dir(self) -> str:
        harness, first = self._auto_first()
        second = self._run(harness, None)
        self._one_run(second)
        first_id, second_id = first.run.key.run_id, second.run.key.run_id
        if second_id != first_id:
            raise _Failed(
                f"the restart in the same directory wrote run {second_id}, not {first_id}: it did not auto-resume (R09)"
                + _causes([f for f in second.findings if f.severity == BUG]),
                second.report(),
            )
        if not second.run.attempts[-1].resumed:
            raise _Failed(f"the restart wrote to {first_id} without resuming it (R07)", second.report())
        return f"run {first_id} resumed from its wandb-resume.json"

    def _check_auto_other_dir(self) -> str:
        _, first = self._auto_first()
        other = self._run(self._harness("auto-other"), None)
        self._one_run(other)
        if other.run.key.run_id == first.run.key.run_id:
            raise _Failed(
                f"a start in another directory resumed run {first.run.key.run_id}: the id must come from the "
                "directory's wandb-resume.json only (R09)",
                other.report(),
            )
        if other.run.attempts[-1].resumed:
            raise _Failed(f"a start in another directory resumed run {other.run.key.run_id}", other.report())
        return f"another directory made a new run ({other.run.key.run_id})"


def _crash_without_run_id(result: RunResult) -> str | None:
    """Why a command started without ``WANDB_RUN_ID`` that exited before any run failed, or ``None``
    when it refused on purpose: it exited with a message, or with an error about its run id
    (``sys.exit``, argparse, ``KeyError: 'WANDB_RUN_ID'``). An uncaught exception about anything
    else is a crash on the path a first start takes (a new job, a scheduler that gives no id), e.g.
    a fallback id from a function the installed wandb does not have: a bug, not a skip."""
    if result.runs or "Traceback (most recent call last):" not in result.stderr:
        return None
    error = next((line.strip() for line in reversed(result.stderr.splitlines()) if line.strip()), "")
    if RUN_ID_ENV in error or re.search(r"run[ _-]?id", error, re.I):
        return None
    return (
        f"started without {RUN_ID_ENV}, the command crashed before any run (exit code {result.exit_code}): "
        f"{error[:200]} — a first start (a new job, or a scheduler that gives no run id) takes this path; "
        "make the id-less start work (a fallback id, e.g. from secrets.token_hex, persisted before "
        "training) or, if the command needs its run id, refuse with a message (sys.exit, argparse)"
    )
