"""The run store of the reference model: runs by entity/project/run id, their state, and the clock.

Pure: no sockets, files or subprocesses. It owns the lock, the clock and the runs; families of
behaviour that live beside it (the sweep controller, :mod:`.sweeps`) depend on a narrow protocol of
it and hear of what happens through its listeners (:meth:`RunStore.on_run_ended`,
:meth:`RunStore.on_reset`). It imports none of them: :class:`~.backend.Backend`, the composition
root, builds the store and its families together.

Thread safety: every public method takes ``self.lock``; :meth:`wait_for` waits on ``self.changed``,
which is notified after each change, so the harness can wait for an event with a bounded timeout
instead of sleeping.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from . import concurrency, messages
from . import filters as filters_mod
from .clock import Clock, OffsetClock
from .errors import LimitExceeded, RuleViolation
from .limits import LINE_OVERHEAD, MAX_CLOCK, Limits, finite_number
from .readings import Readings
from .runs import (
    CRASHED,
    DEFAULT_CRASH_TIMEOUT,
    HISTORY,
    KILLED,
    LINE_FILES,
    OUTPUT,
    SUMMARY,
    Attempt,
    RunKey,
    RunRecord,
    derive_state,
    file_name_cost,
    line_cost,
)

T = TypeVar("T")

#: Characters the SDK forbids in a run id (R31, SDK ``validate_run_id``).
RESERVED_RUN_ID_CHARS = ":;,#?/'"
#: Characters the init reference (S5) forbids, and the length S6 allows (A05, ``run_id_rules="docs"``).
DOCS_RESERVED_RUN_ID_CHARS = "/\\#?%:"
DOCS_MAX_RUN_ID_LENGTH = 64
#: W&B's project naming rules: at most 128 characters, none of these.
MAX_PROJECT_NAME = 128
RESERVED_PROJECT_CHARS = "/\\#?%:"
#: How long a deleted run can be undeleted (R26, S22: "for 7 days"). Seconds of the backend clock.
UNDELETE_WINDOW = 7 * 24 * 3600.0


def validate_run_id(run_id: object, rules: str = "sdk") -> str:
    """Check a run id the way the SDK does (R31, A05), or with ``rules="docs"`` the way the docs
    describe it (S5's reserved characters, S6's 64 characters).

    Returns:
        The run id.

    Raises:
        ValueError: naming the run id and what is wrong with it (empty, whitespace, reserved character,
            too long).
    """
    if not isinstance(run_id, str):
        raise ValueError(messages.BAD_RUN_ID.format(run_id=run_id, why="not a string"))
    if not run_id:
        raise ValueError(messages.BAD_RUN_ID.format(run_id=run_id, why="empty"))
    if run_id != run_id.strip():
        raise ValueError(messages.BAD_RUN_ID.format(run_id=run_id, why="starts or ends with whitespace"))
    reserved = DOCS_RESERVED_RUN_ID_CHARS if rules == "docs" else RESERVED_RUN_ID_CHARS
    if rules == "docs" and len(run_id) > DOCS_MAX_RUN_ID_LENGTH:
        raise ValueError(messages.BAD_RUN_ID.format(run_id=run_id, why=f"longer than {DOCS_MAX_RUN_ID_LENGTH}"))
    bad = sorted({c for c in run_id if c in reserved})
    if bad:
        raise ValueError(messages.BAD_RUN_ID.format(run_id=run_id, why=f"contains reserved {''.join(bad)!r}"))
    return run_id


def iso_time(t: float) -> str:
    """A backend time as the API's ``DateTime`` (UTC, seconds, no zone suffix)."""
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class FileChunk:
    """Lines for one file of a file_stream request: ``content`` goes at line index ``offset``."""

    offset: int
    content: list[str]


class RunStore:
    """The fake W&B server's runs, their state and rules (without the sweep controller: see
    :class:`~.backend.Backend`, which adds it).

    Args:
        entity: the default entity (``viewer.entity``) that runs created without one land in.
        username: the viewer's user name.
        clock: where the model reads the time; default :class:`OffsetClock` (wall time plus an
            offset that tests advance).
        crash_timeout: seconds without a request before a run counts as crashed (R61, default 300).
        readings: where the docs contradict each other, the reading the fake follows (A01-A08,
            :class:`~pytest_runresume.model.readings.Readings`; ``docs/contradictions.md``).
        preempting_state, unset_resume, interrupt_exit_state, crash_trigger, preempting_timeout,
            pending_resumable, run_id_rules: one reading each, applied on top of ``readings``
            (e.g. ``Backend(interrupt_exit_state="killed")``).
        limits: what the model stores at most (:class:`~pytest_runresume.model.limits.Limits`,
            ``docs/limits.md``); a request past a limit is refused whole (:class:`LimitExceeded`).
    """

    def __init__(
        self,
        entity: str = "testent",
        username: str = "tester",
        clock: Clock | None = None,
        crash_timeout: float = DEFAULT_CRASH_TIMEOUT,
        *,
        readings: Readings | None = None,
        preempting_state: str | None = None,
        unset_resume: str | None = None,
        interrupt_exit_state: str | None = None,
        crash_trigger: str | None = None,
        preempting_timeout: float | None = None,
        pending_resumable: bool | None = None,
        run_id_rules: str | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.entity = entity
        self.username = username
        self.clock: Clock = clock if clock is not None else OffsetClock()
        self.crash_timeout = float(crash_timeout)
        self.readings = (readings or Readings()).replace(
            preempting_state=preempting_state,
            unset_resume=unset_resume,
            interrupt_exit_state=interrupt_exit_state,
            crash_trigger=crash_trigger,
            preempting_timeout=preempting_timeout,
            pending_resumable=pending_resumable,
            run_id_rules=run_id_rules,
        )
        self.limits = limits if limits is not None else Limits()
        #: Problems not kept because ``limits.max_problems`` were already recorded.
        self.problems_dropped = 0
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.runs: dict[RunKey, RunRecord] = {}
        self.problems: list[str] = []
        self._projects: dict[tuple[str, str], int] = {}
        #: Called under the lock with a run whose process reported its exit (``complete``).
        self._run_ended_listeners: list[Callable[[RunRecord], object]] = []
        #: Called under the lock when the store is reset.
        self._reset_listeners: list[Callable[[], object]] = []
        self.version = 0  # bumped on every change; lets waiters and snapshots tell "something new"
        #: Deleted runs (R25, R26): key -> (the run, backend time of deletion). Hidden from lookups.
        self.deleted: dict[RunKey, tuple[RunRecord, float]] = {}
        #: ``(run, attempt number)`` of processes running when their sweep was cancelled (R59).
        self.killed_by_cancel: set[tuple[RunKey, int]] = set()
        self._compose()

    def _compose(self) -> None:
        """Build the families of behaviour that live beside the store (none here); a composition
        root (:class:`~.backend.Backend`) overrides it. Called once, at the end of ``__init__``."""

    # ---- housekeeping ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all runs and problems (a fresh server). The clock keeps its time."""
        with self.lock:
            self.runs.clear()
            self.problems.clear()
            self.problems_dropped = 0
            for listener in self._reset_listeners:
                listener()
            self.deleted.clear()
            self.killed_by_cancel.clear()
            self._bump()

    def now(self) -> float:
        """The backend clock, seconds since the epoch."""
        return self.clock.now()

    def advance_clock(self, seconds: float) -> float:
        """Move the backend clock forward (for R61 without waiting) and return the new time.

        Raises:
            TypeError: if the clock cannot be moved (a custom clock without ``advance``).
            ValueError: if ``seconds`` is not a finite number >= 0, or would move the clock past
                the year 9999 (:data:`~.limits.MAX_CLOCK`); the clock is not moved.
        """
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError(f"the backend clock {self.clock!r} cannot be advanced")
        try:
            finite_number(seconds, "seconds", minimum=0)
        except ValueError as exc:
            raise ValueError(messages.CLOCK_LIMIT.format(seconds=seconds, why=exc.args[0])) from None
        with self.lock:
            if self.now() + float(seconds) > MAX_CLOCK:
                why = "the clock would pass the year 9999"
                raise ValueError(messages.CLOCK_LIMIT.format(seconds=seconds, why=why))
            t = float(advance(float(seconds)))
            self._bump()
            return t

    def record_problem(self, text: str) -> None:
        """Remember something a test should fail on (unknown operation, malformed request ...)."""
        with self.lock:
            self._problem(text)
            self._bump()

    def record_event(self, run: RunRecord, kind: str, detail: str, data: dict[str, Any] | None = None) -> None:
        """Add an event to ``run``'s timeline at the backend's clock (e.g. the harness's ``signal``),
        with its facts as ``data`` (see :class:`~.runs.TimelineEvent`)."""
        with self.lock:
            run.event(self.now(), kind, detail, data)
            self._bump()

    def _problem(self, text: str) -> None:
        if len(self.problems) < self.limits.max_problems:
            self.problems.append(text)
        else:
            self.problems_dropped += 1

    @property
    def stored_bytes(self) -> int:
        """What all runs hold together (deleted ones included), as the storage limits count it."""
        with self.lock:
            return sum(r.stored_bytes for r in self.runs.values()) + sum(
                r.stored_bytes for r, _ in self.deleted.values()
            )

    def check_storage(self, rec: RunRecord | None, added: int, what: str, path: str) -> None:
        """Refuse adding ``added`` bytes to ``rec`` (or to a new run) past ``max_run_bytes`` or
        ``max_total_bytes``.

        Raises:
            LimitExceeded: naming the limit; nothing is changed.
        """
        if added <= 0:
            return
        with self.lock:
            run_size = (rec.stored_bytes if rec is not None else 0) + added
            if run_size > self.limits.max_run_bytes:
                raise LimitExceeded(
                    messages.STORAGE_LIMIT.format(
                        what=what, path=path, size=run_size, scope="for one run",
                        limit=self.limits.max_run_bytes, name="max_run_bytes",
                    ),
                    "max_run_bytes",
                )  # fmt: skip
            total = self.stored_bytes + added
            if total > self.limits.max_total_bytes:
                raise LimitExceeded(
                    messages.STORAGE_LIMIT.format(
                        what=what, path=path, size=total, scope="for all runs",
                        limit=self.limits.max_total_bytes, name="max_total_bytes",
                    ),
                    "max_total_bytes",
                )  # fmt: skip

    def on_run_ended(self, listener: Callable[[RunRecord], object]) -> None:
        """Call ``listener(run)`` (under the lock) whenever a process of a run reports its exit."""
        with self.lock:
            self._run_ended_listeners.append(listener)

    def on_reset(self, listener: Callable[[], object]) -> None:
        """Call ``listener()`` (under the lock) whenever the store is reset (:meth:`reset`)."""
        with self.lock:
            self._reset_listeners.append(listener)

    def notify_changed(self) -> None:
        """Tell waiters (:meth:`wait_for`) that the model changed. Call it under the lock."""
        self._bump()

    def _bump(self) -> None:
        self.version += 1
        self.changed.notify_all()

    def wait_for(self, predicate: Callable[[], T], timeout: float) -> T:
        """Wait until ``predicate()`` (called under the lock) returns something truthy.

        Args:
            predicate: checked now and after every change of the model.
            timeout: seconds to wait at most.

        Returns:
            The truthy value ``predicate`` returned.

        Raises:
            TimeoutError: if it is still falsy after ``timeout`` seconds.
        """
        with self.changed:
            result = self.changed.wait_for(predicate, timeout=timeout)
            if not result:
                raise TimeoutError(f"condition not met within {timeout:.1f} s")
            return result

    # ---- lookup -------------------------------------------------------------------------------------
    def key(self, entity: str | None, project: str | None, run_id: str) -> RunKey:
        """Make a :class:`RunKey`, filling the default entity and the SDK's default project."""
        return RunKey(entity or self.entity, project or "uncategorized", run_id)

    def project_number(self, entity: str, project: str) -> int:
        """A stable integer id for a project (the public API parses ``projectId`` as an int)."""
        with self.lock:
            return self._projects.setdefault((entity, project), len(self._projects) + 1)

    def get(self, entity: str | None, project: str | None, run_id: str) -> RunRecord | None:
        """The run at that path, or ``None``."""
        with self.lock:
            return self.runs.get(self.key(entity, project, run_id))

    def run(self, path: str) -> RunRecord:
        """The run at ``entity/project/run_id`` (or ``project/run_id`` in the default entity).

        Raises:
            KeyError: naming the path when there is no such run.
        """
        parts = path.strip("/").split("/")
        if len(parts) == 3:
            rec = self.get(parts[0], parts[1], parts[2])
        elif len(parts) == 2:
            rec = self.get(None, parts[0], parts[1])
        else:
            raise KeyError(f"not a run path: {path!r} (expected entity/project/run_id)")
        if rec is None:
            raise KeyError(messages.NO_SUCH_RUN.format(path=path))
        return rec

    def iter_runs(self) -> Iterator[RunRecord]:
        """All runs, oldest first."""
        with self.lock:
            return iter(sorted(self.runs.values(), key=lambda r: r.created_at))

    def state(self, run: RunRecord) -> str:
        """The run's state now (see :func:`~pytest_runresume.model.runs.derive_state`); a state set
        with :meth:`update_state` (R52) holds until a process starts the run again."""
        with self.lock:
            if run.forced_state is not None:
                return run.forced_state
            state = derive_state(run.attempt, self.now(), self.crash_timeout, self.readings)
            if state == CRASHED and run.attempt is not None and (run.key, run.attempt.number) in self.killed_by_cancel:
                return KILLED  # R59: its sweep was cancelled and the agent SIGKILLed it
            return state

    def exists_for_resume(self, run: RunRecord) -> bool:
        """Whether the client will treat ``run`` as existing (R43): it has ``_wandb.t``, or it is a
        never-started pending run and ``pending_resumable`` is set (A08)."""
        return run.exists_for_resume or (
            self.readings.pending_resumable and run.created_pending and run.attempt is None
        )

    def wandb_config(self, run: RunRecord) -> dict[str, Any]:
        """The ``wandbConfig(keys: ["t"])`` answer (R43): ``{"t": ...}`` for a run that exists for
        resume, ``{}`` otherwise; a resumable pending run gets an empty ``t`` (A08)."""
        if run.exists_for_resume:
            return run.wandb_config()
        return {"t": {}} if self.exists_for_resume(run) else {}

    def by_storage_id(self, storage_id: str) -> RunRecord:
        """The run whose wire ``id`` is ``storage_id``.

        Raises:
            KeyError: naming the id when no run has it.
        """
        with self.lock:
            for rec in self.runs.values():
                if rec.storage_id == storage_id:
                    return rec
        raise KeyError(f"no run has the id {storage_id!r}")

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

    # ---- projects and run listings (the public API) -------------------------------------------
    def create_project(self, entity: str | None, name: object) -> tuple[str, str, bool]:
        """``wandb.Api().create_project(name, entity)`` (``CreateProject``/``upsertModel``): the
        project exists afterwards (an existing one is kept: the mutation is an upsert).

        Returns:
            ``(entity, project, inserted)``.

        Raises:
            ValueError: a project name that is not a string of 1-128 characters without
                ``/ \\ # ? % :`` (W&B's project naming rules); nothing is created.
        """
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_PROJECT_NAME:
            raise ValueError(
                messages.BAD_PROJECT_NAME.format(name=name, why=f"not a string of 1-{MAX_PROJECT_NAME} characters")
            )
        bad = sorted({c for c in name if c in RESERVED_PROJECT_CHARS})
        if bad:
            raise ValueError(messages.BAD_PROJECT_NAME.format(name=name, why=f"contains reserved {''.join(bad)!r}"))
        with self.lock:
            ent = entity or self.entity
            inserted = (ent, name) not in self._projects
            self.project_number(ent, name)
            self._bump()
            return ent, name, inserted

    def has_project(self, entity: str | None, project: str) -> bool:
        """Whether the project was created (``create_project``) or holds a run, deleted or not."""
        with self.lock:
            ent = entity or self.entity
            return (ent, project) in self._projects or any(
                k.entity == ent and k.project == project for k in (*self.runs, *self.deleted)
            )

    def run_document(self, rec: RunRecord) -> dict[str, Any]:
        """What the run filters of ``wandb.Api().runs(filters=...)`` look at (:mod:`.filters`)."""
        with self.lock:
            summary = rec.summary
            wb = summary.get("_wandb")
            runtime = wb.get("runtime") if isinstance(wb, dict) else None
            if runtime is None:
                runtime = summary.get("_runtime")
            attempt = rec.attempt
            return {
                "name": rec.key.run_id,
                "displayName": rec.display_name or rec.key.run_id,
                "state": self.state(rec),
                "createdAt": iso_time(rec.created_at),
                "heartbeatAt": iso_time(attempt.last_heard if attempt else rec.created_at),
                "duration": runtime,
                "group": rec.group,
                "host": rec.host,
                "jobType": rec.job_type,
                "tags": list(rec.tags),
                "username": self.username,
                "sweep": rec.sweep,
                "config": rec.config,
                "summary": summary,
            }

    def list_runs(self, entity: str | None, project: str, filters: Any = None, order: object = None) -> list[RunRecord]:
        """The runs of a project that match ``filters``, in ``order`` (``Runs``, see :mod:`.filters`);
        deleted runs are left out (R25).

        Raises:
            ValueError: a malformed filter or order, naming it.
        """
        filters = {} if filters is None else filters
        filters_mod.check(filters)
        filters_mod.order_key(order)
        with self.lock:
            ent = entity or self.entity
            runs = [r for r in self.runs.values() if r.key.entity == ent and r.key.project == project]
            docs = [(self.run_document(r), r) for r in runs]
            by_id = {id(doc): rec for doc, rec in docs}
            chosen = [doc for doc, _ in docs if filters_mod.matches(doc, filters)]
            return [by_id[id(doc)] for doc in filters_mod.sort_runs(chosen, order)]

    def update_state(self, storage_id: str, state: str) -> RunRecord:
        """``wandb.Api().run(path).update_state(state)`` (R52): only to ``pending`` from
        ``running``, ``failed``, ``crashed`` or ``preempted`` (to requeue), and to ``failed`` from
        ``pending`` or ``running``. Sweep runs cannot be updated.

        Raises:
            KeyError: no run has that id.
            RuleViolation: any other transition, naming it.
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
                raise RuleViolation(f"cannot update run {rec.key.path} from {current!r} to {state!r} (R52)")
            rec.forced_state = state
            rec.event(
                self.now(),
                "state",
                f"state updated {current} -> {state} through the API (R52)",
                {"from": current, "to": state},
            )
            self._bump()
            return rec

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
            self.killed_by_cancel.add((run.key, attempt.number))
            run.event(self.now(), "sweep", "sweep cancelled: the agent kills this process -> killed (R59)")
            self._bump()
            return True

    # ---- operations the SDK drives ------------------------------------------------------------------
    def _create(self, key: RunKey) -> RunRecord:
        self._check_create(key)
        storage_id = base64.b64encode(f"Run:v1:{key.run_id}:{key.project}:{key.entity}".encode()).decode()
        rec = RunRecord(key=key, storage_id=storage_id, created_at=self.now())
        self.runs[key] = rec
        return rec

    def _check_create(self, key: RunKey) -> None:
        """Refuse creating the run ``key`` (bad id, deleted id, too many runs) before anything changes."""
        validate_run_id(key.run_id)
        if key in self.deleted:
            raise RuleViolation(messages.RUN_DELETED.format(path=key.path))  # R25
        if self.readings.run_id_rules == "docs":
            try:
                validate_run_id(key.run_id, "docs")
            except ValueError as exc:
                raise RuleViolation(f"{exc.args[0]} (A05, run_id_rules='docs')") from None
        if len(self.runs) + len(self.deleted) >= self.limits.max_runs:
            raise LimitExceeded(messages.TOO_MANY_RUNS.format(path=key.path, limit=self.limits.max_runs), "max_runs")

    def create_run(
        self,
        run_id: str,
        project: str | None = None,
        entity: str | None = None,
        state: str = "pending",
        config: dict[str, Any] | None = None,
    ) -> RunRecord:
        """Create a run ahead of time, like ``wandb.apis.public.Run.create`` (R53).

        A ``pending`` run has no ``_wandb.t`` in its config, so wandb-core treats it as missing for
        resume (R43): ``must`` fails on it and ``allow`` starts it as a new run with that id.

        Raises:
            ValueError: on a bad run id (R31) or a state other than ``pending``/``running``.
        """
        if state not in ("pending", "running"):
            raise ValueError(f"Run.create takes state 'pending' or 'running', not {state!r} (R53)")
        with self.lock:
            key = self.key(entity, project, run_id)
            rec = self.runs.get(key) or self._create(key)
            rec.config.update({k: {"value": v} for k, v in (config or {}).items()})
            rec.set_size("config", len(json.dumps(rec.config, default=str)))
            rec.created_pending = state == "pending"
            if state == "running":
                rec.attempts.append(Attempt(1, self.now(), resumed=False, start_line=0, last_heard=self.now()))
            rec.event(self.now(), "create", f"created with state={state} (R53)")
            self._bump()
            return rec

    def resume_status(self, entity: str | None, project: str | None, run_id: str) -> RunRecord | None:
        """Answer ``RunResumeStatus``: the run, or ``None`` if there is none (R01-R08, R43)."""
        with self.lock:
            rec = self.get(entity, project, run_id)
            if rec is not None:
                rec.resume_asked = True
                rec.event(
                    self.now(),
                    "resume-status",
                    f"resume status asked; exists={self.exists_for_resume(rec)} "
                    f"lines={len(rec.history_lines)} last_step={rec.last_step}",
                )
                self._bump()
            return rec

    def upsert(self, fields: dict[str, Any]) -> tuple[RunRecord, bool]:
        """Create or update a run from ``UpsertBucket`` variables.

        The first upsert of a process (it carries ``host`` or ``program``) starts a new
        :class:`Attempt`; it is *resumed* when it carries the stored run's ``id`` (R01/R03/R07), and a
        plain upsert into an existing id without resume is kept too, history appended (R14, A02;
        ``unset_resume`` picks another reading). A later upsert of the same process carries
        ``host`` and ``program`` as well when it sends every field (wandb-core does after
        ``run.tags += ...``); it starts no attempt: only an upsert without the run's ``id``, or one
        after a ``RunResumeStatus``/``RewindRun``, or after the last process exited, does.
        ``config`` replaces the stored config (the client already merged it, R39); ``tags`` replace
        the stored tags when given (R38); ``sweep`` is never cleared.

        Returns:
            ``(run, inserted)``.

        Everything is checked before anything changes: a refused upsert leaves the backend as it was.

        Raises:
            ValueError: on a missing or bad run id (R31), a config or summary that is not a JSON
                object, a fork branch point whose ``step`` is not a finite number >= 0 (R44).
            RuleViolation: ``unset_resume="refuse"`` and an init without resume into an existing run
                (A02).
            LimitExceeded: a new run past ``max_runs``, or more bytes than the storage limits allow.
        """
        run_id = fields.get("name")
        validate_run_id(run_id)
        assert isinstance(run_id, str)
        config, config_size = _json_object(fields.get("config"), "config")
        summary, summary_size = _json_object(fields.get("summaryMetrics") or None, "summaryMetrics")
        branch = _branch_point(config)
        with self.lock:
            now = self.now()
            key = self.key(fields.get("entity"), fields.get("project"), run_id)
            rec = self.runs.get(key)
            inserted = rec is None
            resumed = rec is not None and fields.get("id") is not None and fields.get("id") == rec.storage_id
            starts_process = (fields.get("host") is not None or fields.get("program") is not None) and (
                rec is None or rec.attempt is None or not resumed or rec.resume_asked or rec.attempt.complete
            )
            unset_resume = starts_process and not resumed and rec is not None and rec.exists_for_resume
            if unset_resume and self.readings.unset_resume == "refuse":
                assert rec is not None
                raise RuleViolation(
                    f"run {rec.key.path} already exists and this init did not ask to resume it"
                    " (A02, unset_resume='refuse': WANDB_RESUME defaults to never, S6)"
                )
            overwrite = unset_resume and self.readings.unset_resume == "overwrite"
            if rec is None:
                self._check_create(key)
            old = rec.sizes if rec is not None else {}
            added = (config_size - old.get("config", 0) if config is not None else 0) + (
                summary_size - old.get("summary", 0) if summary is not None else 0
            )
            if overwrite and rec is not None:
                added += sum(line_cost(line) for line in rec.history_lines)
            self.check_storage(rec, added, "UpsertBucket", key.path)
            if rec is None:
                rec = self._create(key)
            if overwrite:
                rec.clear_data()
                rec.event(now, "overwrite", "init without resume: old data archived, run starts empty (A02)")
            if config is not None:
                rec.config = config
                rec.set_size("config", config_size)
            if fields.get("tags") is not None:
                rec.tags = list(fields["tags"])
            for attr, var in (
                ("notes", "notes"),
                ("display_name", "displayName"),
                ("group", "groupName"),
                ("job_type", "jobType"),
                ("sweep", "sweep"),
                ("host", "host"),
                ("program", "program"),
            ):
                if fields.get(var) is not None:
                    setattr(rec, attr, fields[var])
            if summary is not None:
                rec.summary = summary
                rec.set_size("summary", summary_size)
            if inserted and fields.get("state") in ("pending", "running") and not fields.get("program"):
                # Run.create(state=...) (R53): a run created ahead of time, not started by a process.
                rec.created_pending = fields["state"] == "pending"
                if fields["state"] == "running":
                    rec.attempts.append(Attempt(1, now, resumed=False, start_line=0, last_heard=now))
                rec.event(now, "create", f"created with state={fields['state']} through the API (R53)")
            if branch is not None and inserted:
                self._fork(rec, branch[0], branch[1], now)
            if starts_process:
                number = len(rec.attempts) + 1
                previous = rec.attempt
                rec.attempts.append(
                    Attempt(
                        number=number,
                        started_at=now,
                        resumed=resumed,
                        start_line=len(rec.history_lines),
                        last_heard=now,
                    )
                )
                concurrency.note_start(rec, previous, now, self.crash_timeout)  # R16
                rec.created_pending = False
                rec.resume_asked = False
                rec.forced_state = None
                how = "resumed (R35)" if resumed else ("new run" if number == 1 else "same id, no resume (R14)")
                rec.event(
                    now,
                    "init",
                    f"process {number} started: {how}; history lines={len(rec.history_lines)}"
                    f" last_step={rec.last_step}",
                    {"number": number, "resumed": resumed, "last_step": rec.last_step},
                )
            else:
                rec.event(now, "upsert", "run updated")
            if rec.attempt is not None:
                rec.attempt.last_heard = now
            concurrency.note_writer(rec)
            self._bump()
            return rec, inserted

    def _fork(self, rec: RunRecord, source_id: str, step: int, now: float) -> None:
        """``fork_from="<source>?_step=<step>"`` (R44-R46): the new run branches from the source at
        ``step``: the source's summary is copied, and its history up to ``step`` is shared
        (``run.fork_of`` names it; :meth:`full_history` shows both)."""
        source = self.runs.get(RunKey(rec.key.entity, rec.key.project, source_id))
        rec.fork_of = (source_id, step)
        if source is not None:
            rec.summary = dict(source.summary)
            rec.set_size("summary", source.sizes.get("summary", 0))
        rec.event(now, "fork", f"forked from {source_id} at _step {step} (R44)")

    def full_history(self, run: RunRecord) -> list[dict[str, Any]]:
        """The history as the app shows it: for a fork, the source's rows up to the fork step, then
        the run's own (R44); for other runs, ``run.history``."""
        with self.lock:
            own = run.history
            if run.fork_of is None:
                return own
            source = self.runs.get(RunKey(run.key.entity, run.key.project, run.fork_of[0]))
            shared = [row for row in (source.history if source else []) if row.get("_step", 0) <= run.fork_of[1]]
            return shared + own

    def file_stream(
        self,
        key: RunKey,
        files: dict[str, FileChunk],
        *,
        preempting: bool = False,
        complete: bool = False,
        exit_code: int | None = None,
        uploaded: list[str] | None = None,
        async_client: str | None = None,
    ) -> bool:
        """Apply one file_stream request (R36, R37, R62, R65, R66).

        Every request counts as hearing from the run's latest process. A run marked ``crashed``
        by silence (R60, R61) while its process kept running is ``running`` again when that process
        is heard from, and its later ``complete`` ends it as reported (``finished`` for exit 0): the
        server side of recovering it with ``wandb sync`` (R64).

        Args:
            key: the run.
            files: file name -> :class:`FileChunk`. Line files are written at their offsets;
                ``wandb-summary.json`` replaces the summary with its last line.
            preempting: the request carried ``"preempting": true`` (``run.mark_preempting()``).
            complete: the request carried ``"complete": true`` (the process is exiting).
            exit_code: the ``exitcode`` with ``complete``.
            uploaded: file names the client says it uploaded.
            async_client: the ``X-WANDB-ASYNC-CLIENT-ID`` of a shared-mode writer that sent
                ``X-WANDB-USE-ASYNC-FILESTREAM: true`` (R94-R96): its lines are appended after what
                any writer sent, the backend numbers the history steps (the client's ``_step`` is
                ignored, R96), a re-sent line of the same client is stored once, and its summary
                keys are merged into the run's summary.

        Returns:
            ``True`` when the server wants the run to stop (answered as ``"stopped": true``, R58).

        Raises:
            KeyError: when the run was never created (the text names the path).
            ValueError: a ``wandb-summary.json`` line that is not a JSON object.
            LimitExceeded: an offset past ``max_line_gap``, or more data than the storage limits
                allow. Nothing of the request is applied.
        """
        with self.lock:
            now = self.now()
            rec = self.runs.get(key)
            if rec is None:
                raise KeyError(messages.FILE_STREAM_NO_RUN.format(path=key.path))
            seen: set[tuple[str, str, int]] = set()
            if async_client is not None:
                files, seen = self._shared_mode_chunks(rec, async_client, files)
            summary = self._check_file_stream(rec, files)
            rec.async_seen |= seen
            attempt = rec.attempt
            if attempt is None:  # pre-created run written to without an init upsert
                attempt = Attempt(1, now, resumed=False, start_line=len(rec.history_lines))
                rec.attempts.append(attempt)
            attempt.last_heard = now
            if any(chunk.content for name, chunk in files.items() if name != OUTPUT):
                attempt.last_data = now  # posted metrics: the crash clock of crash_trigger="metrics" (A06)
            if not files and not preempting and not complete:
                rec.event(now, "heartbeat", "heartbeat (R62)")
            final = concurrency.fingerprint(files, exit_code, uploaded) if complete else None
            second_writer = concurrency.evidence(rec, attempt, files, complete, exit_code, final)  # R16
            for name, chunk in files.items():
                if name == SUMMARY:
                    if summary is not None and async_client is not None:
                        rec.summary.update(summary)  # each writer its keys (R95)
                        rec.set_size("summary", len(json.dumps(rec.summary, default=str)))
                    elif summary is not None:
                        rec.summary = summary
                        rec.set_size("summary", len(chunk.content[-1]))
                    continue
                before = rec.last_step
                for problem in rec.write_lines(name, chunk.offset, chunk.content):
                    self._problem(problem)
                if name == LINE_FILES[0] and chunk.content:
                    first = chunk.offset
                    rec.event(
                        now,
                        "history",
                        f"history lines {first}..{first + len(chunk.content) - 1}"
                        f" (last _step {before} -> {rec.last_step})",
                    )
            if uploaded:
                rec.event(now, "uploaded", ", ".join(uploaded))
            if preempting and not attempt.preempting:
                attempt.preempting = True
                rec.event(now, "preempting", "run.mark_preempting() received (R65)")
            found = concurrency.confirm(rec, attempt, second_writer)
            if found is not None:
                self._problem(found.describe())
                rec.event(now, "concurrent", found.describe())
            if complete:
                attempt.complete = True
                attempt.exit_code = exit_code
                attempt.final_request = final
                state = derive_state(attempt, now, self.crash_timeout, self.readings)
                rec.event(
                    now,
                    "exit",
                    f"exit code {exit_code} reported -> {state} (R55, R66, R70)",
                    {"exit_code": exit_code, "state": state},
                )
                self._run_ended(rec)
            self._bump()
            return attempt.stop_requested and not attempt.complete

    def _run_ended(self, rec: RunRecord) -> None:
        """A process of ``rec`` reported its exit: tell the listeners (the sweep controller requeues
        a preempted sweep run, R81, R72)."""
        for listener in self._run_ended_listeners:
            listener(rec)

    def concurrent_writers(self, run: RunRecord) -> list[concurrency.ConcurrentWriters]:
        """Pairs of processes seen writing ``run`` at the same time (R16), with the evidence; see
        :mod:`.concurrency`. Each pair is also a problem, so a test fails unless it expects it."""
        with self.lock:
            return [concurrency.pair(run, a) for a in run.attempts if a.concurrent]

    def _check_file_stream(self, rec: RunRecord, files: dict[str, FileChunk]) -> dict[str, Any] | None:
        """Check a file_stream request against the limits before anything is applied.

        Returns:
            The new summary (the last ``wandb-summary.json`` line, parsed), if the request has one.

        Raises:
            ValueError: a summary line that is not a JSON object.
            LimitExceeded: an offset past ``max_line_gap`` (kind ``gap``), more than
                ``max_run_bytes``/``max_total_bytes``.
        """
        added = 0
        summary = None
        for name, chunk in files.items():
            if name == SUMMARY:
                if chunk.content:
                    summary, size = _json_object(chunk.content[-1], f"{SUMMARY} line")
                    added += size - rec.sizes.get("summary", 0)
                continue
            have = len(rec.files.get(name, ()))
            gap = max(0, chunk.offset - have)
            held = rec.gaps.get(name, 0)
            if gap and held + gap > self.limits.max_line_gap:
                raise LimitExceeded(
                    messages.LINE_GAP_LIMIT.format(
                        file=name, offset=chunk.offset, gap=gap, held=held, limit=self.limits.max_line_gap
                    ),
                    "max_line_gap",
                    kind="gap",
                )
            added += gap * line_cost(None) + sum(line_cost(line) for line in chunk.content)
            if name not in rec.files:
                added += file_name_cost(name)
        self.check_storage(rec, added, "file_stream", rec.key.path)
        return summary

    def _shared_mode_chunks(
        self, rec: RunRecord, client: str, files: dict[str, FileChunk]
    ) -> tuple[dict[str, FileChunk], set[tuple[str, str, int]]]:
        """Rewrite a shared-mode writer's chunks (R94-R96): drop the lines this client already sent
        (by its own offsets), place the rest after everything stored, and give history lines the
        next backend step numbers. Returns the chunks and the line keys to add to
        ``rec.async_seen`` once the request is applied (nothing is changed here)."""
        out: dict[str, FileChunk] = {}
        seen: set[tuple[str, str, int]] = set()
        for name, chunk in files.items():
            if name == SUMMARY:
                out[name] = chunk
                continue
            fresh: list[str] = []
            step = rec.last_step
            for i, line in enumerate(chunk.content):
                if (client, name, chunk.offset + i) in seen or (client, name, chunk.offset + i) in rec.async_seen:
                    continue
                seen.add((client, name, chunk.offset + i))
                if name == HISTORY:
                    row = json.loads(line)
                    step = 0 if step is None else step + 1
                    row["_step"] = step
                    line = json.dumps(row, separators=(",", ":"))
                fresh.append(line)
            if fresh:
                out[name] = FileChunk(len(rec.files.get(name, ())), fresh)
        return out, seen

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

    def upload(self, key: RunKey, name: str, data: bytes) -> None:
        """Store an uploaded run file (``PUT`` to an ``uploadUrl``).

        Raises:
            KeyError: no such run.
            LimitExceeded: more than the storage limits allow (nothing is stored).
        """
        with self.lock:
            rec = self.runs.get(key)
            if rec is None:
                raise KeyError(messages.NO_SUCH_RUN.format(path=key.path))
            old = rec.uploads.get(name)
            added = len(data) + len(name) + LINE_OVERHEAD - (0 if old is None else len(old) + len(name) + LINE_OVERHEAD)
            self.check_storage(rec, added, f"upload {name}", key.path)
            rec.uploads[name] = data
            rec.set_size("uploads", rec.sizes.get("uploads", 0) + added)
            self._bump()

    # ---- questions users and the harness ask --------------------------------------------------------
    def is_requeueable(self, run: RunRecord) -> bool:
        """Whether the run may be requeued: it ended ``preempted`` (R66, R71, R81).

        Exit 0 is never requeued; a plain failure is not either.
        """
        return self.state(run) == "preempted"

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able view of every run: state, steps, attempts, timeline; and the problems."""
        with self.lock:
            return {
                "now": self.now(),
                "problems": list(self.problems),
                "runs": [
                    {
                        "path": r.key.path,
                        "state": self.state(r),
                        "last_step": r.last_step,
                        "history_lines": len(r.history_lines),
                        "attempts": [vars(a).copy() for a in r.attempts],
                        "timeline": [vars(e).copy() for e in r.timeline],
                    }
                    for r in self.iter_runs()
                ],
            }


def _json_object(value: Any, what: str) -> tuple[dict[str, Any] | None, int]:
    """A config or summary as the wire gives it (a JSON string or an object) and its size.

    Raises:
        ValueError: naming ``what`` when it is not a JSON object.
    """
    if value is None:
        return None, 0
    if isinstance(value, str):
        try:
            obj = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"{what} is not JSON: {exc}") from None
        size = len(value)
    else:
        obj = value
        size = -1
    if not isinstance(obj, dict):
        raise ValueError(f"{what} must be a JSON object, got {value!r:.80}")
    if size < 0:
        obj = dict(obj)
        size = len(json.dumps(obj, default=str))
    return obj, size


def _branch_point(config: dict[str, Any] | None) -> tuple[str, int] | None:
    """The fork branch point (R44) in a config's ``_wandb.value.branch_point``: ``(run id, step)``.

    Raises:
        ValueError: a branch point whose ``step`` is not a finite number >= 0.
    """
    wb = config.get("_wandb") if config else None
    value = wb.get("value") if isinstance(wb, dict) else None
    branch = value.get("branch_point") if isinstance(value, dict) else None
    if not isinstance(branch, dict) or not branch.get("run_id"):
        return None
    step = finite_number(branch.get("step", 0), "fork branch point step (_wandb.branch_point.step)", 0, 2.0**63)
    return str(branch["run_id"]), int(step)
