"""The run store's operations on a run's life after it was written: stop requests (R58), state
updates through the API (R52), rewinds (R47, R48), deletion and undeletion (R25, R26), and the kill
of a cancelled sweep's runs (R59).

Pure; every operation checks before it changes anything.
"""

from __future__ import annotations

from . import messages
from .core import StoreBase
from .errors import RuleViolation
from .limits import finite_number
from .runs import (
    OUTPUT,
    RunRecord,
    line_cost,
)
from .tags import implements, implements_constant

#: How long a deleted run can be undeleted (R26, S22: "for 7 days"). Seconds of the backend clock.
UNDELETE_WINDOW = implements_constant(7 * 24 * 3600.0, "R26")


class LifecycleOps(StoreBase):
    """What happens to a run after it was written: stop (R58), state updates (R52), rewind
    (R47), delete and undelete (R25, R26), a cancelled sweep's kill (R59)."""

    def delete_by_storage_id(self, storage_id: str) -> tuple[RunRecord, bool]:
        """``DeleteRun`` (R25): delete the run whose wire ``id`` is ``storage_id``. Deleting a run
        that is already deleted succeeds and changes nothing, as the real server answers it (the
        ``deleteRun`` mutation is idempotent; W&B's own system tests delete a run twice).

        Returns:
            ``(run, deleted_now)``: ``deleted_now`` is False for a run that was already deleted.

        Raises:
            KeyError: no run, live or deleted, has that id.
        """
        with self.lock:
            for rec, _ in self.deleted.values():
                if rec.storage_id == storage_id:
                    return rec, False
            rec = self.by_storage_id(storage_id)
            return self.delete(rec.key.path), True

    @implements("R52")
    def update_state(self, storage_id: str, state: str) -> RunRecord:
        """``wandb.Api().run(path).update_state(state)`` (R52): only to ``pending`` from
        ``running``, ``failed``, ``crashed`` or ``preempted`` (to requeue), and to ``failed`` from
        ``pending`` or ``running``. Sweep runs cannot be updated.

        Raises:
            KeyError: no run has that id.
            RuleViolation: any other transition, naming it (``messages.INVALID_STATE_TRANSITION``).
        """
        allowed = {"pending": {"running", "failed", "crashed", "preempted"}, "failed": {"pending", "running"}}
        with self.lock:
            rec = self.by_storage_id(storage_id)
            current = self.state(rec)
            if rec.sweep is not None:
                raise RuleViolation(
                    f"run {rec.key.path} belongs to sweep {rec.sweep}: its state cannot be updated (R52)"
                )
            if state not in allowed or current not in allowed[state]:
                raise RuleViolation(
                    messages.INVALID_STATE_TRANSITION.format(path=rec.key.path, current=current, state=state)
                )
            rec.forced_state = state
            rec.event(
                self.now(),
                "state",
                f"state updated {current} -> {state} through the API (R52)",
                {"from": current, "to": state},
            )
            self._bump()
            return rec

    @implements("R47", "R48")
    def rewind(self, entity: str | None, project: str | None, run_id: str, metric: str, value: float) -> RunRecord:
        """``wandb.init(resume_from="<run_id>?_step=<value>")`` (``RewindRun``, R47, R48).

        History is cut back to the lines whose ``_step`` is <= ``value``; the summary is recomputed
        from the kept history; config is kept; console output is reset. The run as it was before is
        archived in ``run.archived`` (the "Forked From" original).

        Preconditions (the rewind docs page): the run exists (a deleted one does not, R25), the
        metric is ``_step``; anything else is refused and changes nothing.

        Raises:
            RuleViolation: no such run (also a deleted one): :data:`~.messages.REWIND_NO_RUN`; a
                metric other than ``_step`` (R45, R48).
            ValueError: ``value`` is not a finite number; nothing is changed.
            LimitExceeded: archiving the history would pass a storage limit; nothing is changed.
        """
        if metric != "_step":
            raise RuleViolation(f"rewind supports only the _step metric, not {metric!r} (R48)")
        step = int(finite_number(value, "RewindRun metricValue (the _step to rewind to)", -(2.0**63), 2.0**63))
        with self.lock:
            rec = self.get(entity, project, run_id)
            if rec is None:
                # The server refuses it (a rule, not a gap of the fake): there is nothing to rewind.
                path = self.key(entity, project, run_id).path
                raise RuleViolation(messages.REWIND_NO_RUN.format(path=path))
            self.check_storage(
                rec,
                sum(line_cost(line) for line in rec.history_lines),
                "rewinding (archiving the history)",
                rec.key.path,
            )
            rec.archive_history()
            rec.resume_asked = True
            rec.truncate_history(step)
            rec.drop_file(OUTPUT)
            rec.event(self.now(), "rewind", f"rewound to _step {step}; {len(rec.history_lines)} lines kept (R47)")
            self._bump()
            return rec

    @implements("R25")
    def delete(self, path: str) -> RunRecord:
        """Delete a run, as ``wandb.Api().run(path).delete()`` does (``DeleteRun``, R25).

        A deleted run is hidden: the public API and ``RunResumeStatus`` no longer find it, and an
        ``UpsertBucket`` for its id (``wandb.init(id=...)``) is refused with a GraphQL error,
        :data:`~.messages.RUN_DELETED` (R25: the id can't be reused; the docs give no error text, so
        the wording is the fake's). :meth:`undelete` brings it back within 7 days (R26).

        Raises:
            KeyError: no such run (also for a run already deleted).
        """
        with self.lock:
            rec = self.run(path)
            del self.runs[rec.key]
            self.deleted[rec.key] = (rec, self.now())
            rec.event(self.now(), "delete", "run deleted; its id can't be reused (R25)")
            self._bump()
            return rec

    @implements("R26")
    def undelete(self, path: str) -> RunRecord:
        """Restore a deleted run, as the project page does for 7 days after the deletion (R26).

        There is no SDK API for this; it is a model (control API) action. The window is measured on
        the backend clock (:data:`UNDELETE_WINDOW`; :meth:`advance_clock` moves it).

        Raises:
            KeyError: ``path`` is not a deleted run (:data:`~.messages.NOT_DELETED`).
            RuleViolation: deleted more than 7 days ago (:data:`~.messages.UNDELETE_EXPIRED`).
        """
        with self.lock:
            parts = path.strip("/").split("/")
            key = None
            if len(parts) == 3:
                key = self.key(parts[0], parts[1], parts[2])
            elif len(parts) == 2:
                key = self.key(None, parts[0], parts[1])
            if key is None or key not in self.deleted:
                raise KeyError(messages.NOT_DELETED.format(path=path))
            rec, deleted_at = self.deleted[key]
            age = self.now() - deleted_at
            if age > UNDELETE_WINDOW:
                raise RuleViolation(messages.UNDELETE_EXPIRED.format(path=key.path, days=age / 86400))
            del self.deleted[key]
            self.runs[key] = rec
            rec.event(self.now(), "undelete", f"run undeleted {age / 86400:.2f} days after its deletion (R26)")
            self._bump()
            return rec

    def is_deleted(self, entity: str | None, project: str | None, run_id: str) -> bool:
        """Whether the run at that path was deleted and not undeleted (R25, R26)."""
        with self.lock:
            return self.key(entity, project, run_id) in self.deleted

    @implements("R59")
    def kill_on_silence(self, run: RunRecord) -> bool:
        """The run's sweep was cancelled (R59): its agent SIGKILLs the process, so no exit is reported;
        the server knows it cancelled the sweep, so when the process falls silent the run is
        ``killed``, not ``crashed``. A process that had already exited is not affected.

        Returns:
            Whether the run's current process was marked.
        """
        with self.lock:
            attempt = run.attempt
            if attempt is None or attempt.complete:
                return False
            attempt.killed_by_cancel = True
            run.event(self.now(), "sweep", "sweep cancelled: the agent kills this process -> killed (R59)")
            self._bump()
            return True

    @implements("R58")
    def request_stop(self, path: str) -> bool:
        """Ask a running run to stop, as the app's stop button does (R58).

        The next file_stream answer carries ``"stopped": true``; the SDK then raises
        ``KeyboardInterrupt`` in the run and reports exit code 255, and the run ends ``killed``.

        A run that is no longer running (its process exited, or it is crashed by silence) is left
        as it is, and asking twice is asking once: ``Run.stop()`` "on a run that is no longer
        running has no effect" (wandb 0.31 ``Run.stop`` docstring).

        Returns:
            Whether the stop was recorded now (``False``: it was already asked, or the run is not running).

        Raises:
            KeyError: no such run.
            ValueError: the run has not started (the control API's error: nothing to stop).
        """
        with self.lock:
            rec = self.run(path)
            if rec.attempt is None:
                raise ValueError(f"run {path!r} has not started; nothing to stop")
            return self._stop(rec)

    def _stop(self, rec: RunRecord) -> bool:
        attempt = rec.attempt
        if attempt is None or attempt.stop_requested or self.state(rec) not in ("running", "preempting"):
            return False
        attempt.stop_requested = True
        rec.event(self.now(), "stop", "stop requested by the server (R58)")
        self._bump()
        return True

    @implements("R58")
    def stop_run(self, storage_id: str) -> bool:
        """``StopRun`` (``wandb.Api().run(path).stop()``, R58): the stop flag of a running run; on a run
        that is pending, already stopped or no longer running it has no effect (the SDK's docstring:
        "Calling it again, or on a run that is no longer running, has no effect").

        Returns:
            Whether the stop was recorded now.

        Raises:
            KeyError: no run has that id.
        """
        with self.lock:
            return self._stop(self.by_storage_id(storage_id))

    @implements("R66", "R71", "R81")
    def is_requeueable(self, run: RunRecord) -> bool:
        """Whether the run may be requeued: it ended ``preempted`` (R66, R71, R81).

        Exit 0 is never requeued; a plain failure is not either.
        """
        return self.state(run) == "preempted"
