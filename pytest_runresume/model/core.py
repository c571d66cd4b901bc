"""The core of the run store: the lock, the clock, the runs, the problems, what the runs hold and the
listeners; looking runs up and deriving their state.

Pure: no sockets, files or subprocesses. The families of operations on the runs
(:mod:`.projects`, :mod:`.lifecycle`, :mod:`.upserts`, :mod:`.ingest`) extend :class:`StoreBase`;
:class:`~.store.RunStore` puts them together. Behaviour that lives beside the store (the sweep
controller, :mod:`.sweeps`) depends on a narrow protocol of it and hears of what happens through its
listeners (:meth:`StoreBase.on_run_ended`, :meth:`StoreBase.on_reset`); the store imports none of it.

Thread safety: every public method takes ``self.lock``; :meth:`StoreBase.wait_for` waits on
``self.changed``, which is notified after each change, so the harness can wait for an event with a
bounded timeout instead of sleeping.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any, TypeVar

from . import messages
from .clock import Clock, OffsetClock
from .errors import LimitExceeded
from .limits import MAX_CLOCK, Limits, finite_number
from .readings import Readings
from .runs import (
    DEFAULT_CRASH_TIMEOUT,
    RunKey,
    RunRecord,
)
from .states import run_state
from .tags import implements

T = TypeVar("T")


def iso_time(t: float) -> str:
    """A backend time as the API's ``DateTime`` (UTC, seconds, no zone suffix)."""
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def json_object(value: Any, what: str) -> tuple[dict[str, Any] | None, int]:
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


class StoreBase:
    """The core of the run store: lock, clock, runs, problems, limits, listeners, lookup and state
    (the operations are in the families that extend it; :class:`~.store.RunStore` has them all).

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
            (e.g. ``Model(interrupt_exit_state="killed")``).
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
        self._compose()

    def _compose(self) -> None:
        """Build the families of behaviour that live beside the store (none here); a composition
        root (:class:`~.model.Model`) overrides it. Called once, at the end of ``__init__``."""

    def reset(self) -> None:
        """Forget all runs and problems (a fresh server). The clock keeps its time."""
        with self.lock:
            self.runs.clear()
            self.problems.clear()
            self.problems_dropped = 0
            for listener in self._reset_listeners:
                listener()
            self.deleted.clear()
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

    def record_problem_once(self, text: str) -> None:
        """:meth:`record_problem`, unless the same text is already recorded (e.g. once per blocked host
        and test, however often the client retries)."""
        with self.lock:
            if text not in self.problems:
                self._problem(text)
                self._bump()

    def runs_with_id(self, run_id: str) -> list[RunRecord]:
        """The runs (any entity or project) whose run id is ``run_id``, oldest first."""
        with self.lock:
            return [r for r in self.iter_runs() if r.key.run_id == run_id]

    def holds_step(self, run_id: str, step: int, key: RunKey | None = None) -> bool:
        """Whether the run ``key`` (or, without a key, any run with id ``run_id``) holds history up to
        ``step`` (the harness's sync before a signal: the server's data at the signal)."""
        with self.lock:
            if key is not None:
                run = self.runs.get(key)
                runs = [run] if run is not None else []
            else:
                runs = [r for r in self.runs.values() if r.key.run_id == run_id]
            return any(r.last_step is not None and r.last_step >= step for r in runs)

    def timeline_lengths(self) -> dict[str, int]:
        """``run path -> number of timeline events`` now (to tell later events from earlier ones)."""
        with self.lock:
            return {r.key.path: len(r.timeline) for r in self.runs.values()}

    def copies_of_runs(self, keep: Callable[[RunRecord], bool]) -> list[RunRecord]:
        """Snapshots (deep copies, oldest first) of the runs ``keep`` accepts, taken under the lock."""
        with self.lock:
            return [r.copy() for r in self.iter_runs() if keep(r)]

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
            for name, size, scope in (
                ("max_run_bytes", run_size, "for one run"),
                ("max_total_bytes", self.stored_bytes + added, "for all runs"),
            ):
                limit = getattr(self.limits, name)
                if size > limit:
                    text = messages.STORAGE_LIMIT.format(
                        what=what, path=path, size=size, scope=scope, limit=limit, name=name
                    )
                    raise LimitExceeded(text, name)

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

    def _run_ended(self, rec: RunRecord) -> None:
        """A process of ``rec`` reported its exit: tell the listeners (the sweep controller requeues
        a preempted sweep run, R81, R72)."""
        for listener in self._run_ended_listeners:
            listener(rec)

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
        """The run's state now: :func:`~pytest_runresume.model.states.run_state` at the store's clock,
        crash timeout and readings."""
        with self.lock:
            return run_state(run, self.now(), self.crash_timeout, self.readings)

    @implements("R43")
    def exists_for_resume(self, run: RunRecord) -> bool:
        """Whether the client will treat ``run`` as existing (R43): it has ``_wandb.t``, or it is a
        never-started pending run and ``pending_resumable`` is set (A08)."""
        return run.exists_for_resume or (
            self.readings.pending_resumable and run.created_pending and run.attempt is None
        )

    @implements("R43")
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
