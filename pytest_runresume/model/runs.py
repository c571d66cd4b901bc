"""Runs of the reference model: what the server holds for one ``entity/project/run_id``.

A run's *state* is never sent by the SDK (it sends only ``preempting``, ``complete`` and ``exitcode``
on file_stream); the server derives it. :func:`~.states.derive_state` is that derivation, rules R50-R58,
R60-R61, R65-R66, R70 and R71.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from . import messages
from .limits import LINE_OVERHEAD
from .sdk_versions import Version
from .tags import implements, implements_constant

#: States as the wire and the public API spell them (R51, A13).
RUNNING = "running"
FINISHED = "finished"
FAILED = "failed"
CRASHED = "crashed"
KILLED = "killed"
PREEMPTING = "preempting"
PREEMPTED = "preempted"
PENDING = "pending"

STATES = implements_constant((RUNNING, FINISHED, FAILED, CRASHED, KILLED, PREEMPTING, PREEMPTED, PENDING), "R51")
#: States after which nothing changes unless a new process resumes the run.
TERMINAL_STATES = frozenset({FINISHED, FAILED, CRASHED, KILLED, PREEMPTED})

#: "About five minutes" without a heartbeat (R61). Seconds.
DEFAULT_CRASH_TIMEOUT = implements_constant(300.0, "R61")

HISTORY = "wandb-history.jsonl"
EVENTS = "wandb-events.jsonl"
OUTPUT = "output.log"
SUMMARY = "wandb-summary.json"
LINE_FILES = (HISTORY, EVENTS, OUTPUT)


@dataclass(frozen=True)
@implements("R24")
class RunKey:
    """``entity/project/run_id``: a run id is unique only within its project (R24)."""

    entity: str
    project: str
    run_id: str

    @property
    @implements("R29")
    def path(self) -> str:
        """The run path ``<entity>/<project>/<run_id>`` (R29)."""
        return f"{self.entity}/{self.project}/{self.run_id}"

    def __str__(self) -> str:
        return self.path


@dataclass
class TimelineEvent:
    """One thing that happened to a run, for reports and assertions.

    Attributes:
        t: backend clock time, seconds since the epoch.
        kind: ``init``, ``resume-status``, ``upsert``, ``history``, ``preempting``, ``exit``,
            ``heartbeat``, ``stop``, ``state``, ``signal``, ``sdk-rewrite`` (a stored line that the
            process's wandb release rewrites, R36: docs/sdk-versions.md) ...
        detail: a short human-readable description.
        lines: how many history lines the run held when it happened (``None`` if unknown): where
            the event sits on the run's history, for pictures (:mod:`pytest_runresume.picture`).
        data: the facts behind ``detail`` as JSON-able values, for events that have them: ``init``
            (``number``, ``resumed``, ``last_step``, ``starting_step``, ``sdk_version``), ``exit``
            (``exit_code``, ``state``), ``state`` (``from``, ``to``), the harness's ``signal``
            (``signal``, ``pids``, ``commands``, ``holders``, ``received``, ``at``, ``escalation``).
    """

    t: float
    kind: str
    detail: str
    lines: int | None = None
    data: dict[str, Any] | None = None


@dataclass
class Attempt:
    """One process's life with a run: from its init upsert to its exit (or silence).

    A run preempted and resumed three times has four attempts.

    Attributes:
        number: 1 for the first process, 2 for the first restart, ...
        started_at: backend clock time of the init upsert, seconds.
        resumed: the client resumed the run (its init upsert carried the stored run's ``id``, R01/R03/R07).
        start_line: history lines the run held when this attempt began.
        preempting: ``run.mark_preempting()`` was received (R65).
        complete: the final file_stream with ``complete: true`` arrived.
        exit_code: the exit code the SDK reported (A04: may differ from the OS exit status).
        stop_requested: the server asked the run to stop (R58), answered with ``stopped: true``.
        last_heard: backend clock time of the last request from this attempt, seconds.
        last_data: backend clock time of the last file_stream request that posted history, events or
            summary (``None`` before the first); the crash clock of ``crash_trigger="metrics"`` (A06).
        overlaps: the number of an earlier attempt that had not exited and was still heard from when
            this one started (R16; see :mod:`.concurrency`), else ``None``.
        concurrent: evidence that the ``overlaps`` process kept writing (two writers at once, R16).
        writer_id: wandb-core's writer id for this process (config ``_wandb.value.e``), when known.
        killed_by_cancel: its sweep was cancelled while it ran, so its agent SIGKILLs it (R59): when it
            falls silent it is ``killed``, not ``crashed``.
        final_request: a fingerprint of the request that reported the exit (a re-send of it is no
            second exit).
        sdk_version: the wandb release the process runs, ``(major, minor, patch)``, from its init
            upsert's config (``_wandb.value.cli_version``); ``None`` when it did not say (a run
            seeded without one).
        starting_step: for a resumed process, the ``run.starting_step`` the model predicts its SDK
            computed (R35, :func:`~.resume.starting_step` for :attr:`sdk_version`); ``None`` for a
            process that did not resume.
    """

    number: int
    started_at: float
    resumed: bool
    start_line: int
    preempting: bool = False
    complete: bool = False
    exit_code: int | None = None
    stop_requested: bool = False
    last_heard: float = 0.0
    last_data: float | None = None
    overlaps: int | None = None
    concurrent: list[str] = field(default_factory=list)
    writer_id: str | None = None
    final_request: str | None = None
    killed_by_cancel: bool = False
    sdk_version: Version | None = None
    starting_step: int | None = None


def line_cost(line: str | None) -> int:
    """What one stored line (or a slot left empty by a gap) counts toward the storage limits."""
    return LINE_OVERHEAD + (len(line) if line else 0)


def file_name_cost(name: str) -> int:
    """What a new line file of a run counts toward the storage limits (its name and its list)."""
    return len(name) + 4 * LINE_OVERHEAD


def _step_of(line: str | None) -> int | None:
    if not line:
        return None
    try:
        row = json.loads(line)
    except ValueError:
        return None
    step = row.get("_step") if isinstance(row, dict) else None
    return step if isinstance(step, int) and not isinstance(step, bool) else None


@dataclass
class RunRecord:
    """Everything the server holds for one run.

    Attributes:
        key: entity/project/run id.
        storage_id: the opaque ``id`` the wire hands out (``bucket.id``).
        created_at: backend clock time of creation, seconds.
        config: ``{key: {"value": v}}`` as the SDK sends it, ``_wandb`` included.
        summary: the latest full summary (replaced, not merged: the client merges, R37).
        files: line files (history, events, output.log) as lists of raw JSON lines; ``None`` marks a
            line index that was skipped by an offset gap (nothing is invented, nothing lost).
        steps: ``_step`` of each history line (``None`` where a line has none).
        tags, notes, display_name, group, job_type, sweep: run metadata.
        attempts: one :class:`Attempt` per process that initialised the run.
        created_pending: created with ``state="pending"`` (R53) or by a sweep, never started.
        uploads: names of files uploaded with PUT.
        timeline: what happened, in order.
        resume_asked: a ``RunResumeStatus`` or ``RewindRun`` was answered for this run since its
            latest attempt began, so the next init upsert with its ``id`` is a new (resumed) process.
        sizes: what the run holds, in bytes (see :mod:`.limits`), by part: ``lines``, ``archived``,
            ``timeline``, ``config``, ``summary``, ``uploads``; :attr:`stored_bytes` is their sum.
        gaps: per file, the line indexes left empty by offset gaps (``None`` slots) it holds.
    """

    key: RunKey
    storage_id: str
    created_at: float
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    files: dict[str, list[str | None]] = field(default_factory=lambda: {f: [] for f in LINE_FILES})
    steps: list[int | None] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    display_name: str | None = None
    group: str | None = None
    job_type: str | None = None
    sweep: str | None = None
    host: str | None = None
    program: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    created_pending: bool = False
    uploads: dict[str, bytes] = field(default_factory=dict)
    timeline: list[TimelineEvent] = field(default_factory=list)
    forced_state: str | None = None
    fork_of: tuple[str, int] | None = None
    archived: list[list[str | None]] = field(default_factory=list)
    #: (writer client id, file, the writer's own line index) already stored, for shared-mode
    #: writers (R96): a re-sent line is stored once.
    async_seen: set[tuple[str, str, int]] = field(default_factory=set)
    resume_asked: bool = False
    sizes: dict[str, int] = field(default_factory=dict)
    gaps: dict[str, int] = field(default_factory=dict)
    _last_step: int | None = None

    def copy(self) -> RunRecord:
        """A copy that later writes to this run do not change: what the run held at one moment
        (a harness result keeps the run as its process left it)."""
        dup = copy.copy(self)
        dup.config = copy.deepcopy(self.config)
        dup.summary = copy.deepcopy(self.summary)
        dup.files = {name: list(lines) for name, lines in self.files.items()}
        dup.steps = list(self.steps)
        dup.tags = list(self.tags)
        dup.attempts = [copy.deepcopy(a) for a in self.attempts]
        dup.uploads = dict(self.uploads)
        dup.timeline = list(self.timeline)
        dup.archived = [list(lines) for lines in self.archived]
        dup.async_seen = set(self.async_seen)
        return dup

    # ---- derived views -------------------------------------------------------------------------
    @property
    def attempt(self) -> Attempt | None:
        """The latest attempt (``None`` before the first process starts)."""
        return self.attempts[-1] if self.attempts else None

    @property
    def history_lines(self) -> list[str | None]:
        """Raw history lines, in offset order."""
        return self.files[HISTORY]

    @property
    def history(self) -> list[dict[str, Any]]:
        """History rows parsed from JSON, in offset order (skipped indexes left out)."""
        return [json.loads(line) for line in self.history_lines if line is not None]

    @property
    @implements("R42")
    def last_step(self) -> int | None:
        """The largest ``_step`` in history, or ``None`` if there is none (R42)."""
        return self._last_step

    @property
    @implements("R35")
    def resume_step(self) -> int | None:
        """The last step the SDK reads when it resumes the run (R35): the ``_step`` of the last
        history line (the ``historyTail`` of ``RunResumeStatus``), else the summary's integer
        ``_step``; ``None`` if neither has one."""
        last = next((i for i in range(len(self.steps) - 1, -1, -1) if self.files[HISTORY][i] is not None), None)
        if last is not None and self.steps[last] is not None:
            return self.steps[last]
        step = self.summary.get("_step")
        return step if isinstance(step, int) and not isinstance(step, bool) else None

    @property
    def stored_bytes(self) -> int:
        """What the run holds, in bytes as the storage limits count them (:mod:`.limits`)."""
        return sum(self.sizes.values())

    def _add_size(self, part: str, delta: int) -> None:
        self.sizes[part] = self.sizes.get(part, 0) + delta

    def set_size(self, part: str, size: int) -> None:
        """Record that ``part`` (``config``, ``summary``, ``uploads``) now holds ``size`` bytes."""
        self.sizes[part] = size

    @property
    @implements("R43")
    def exists_for_resume(self) -> bool:
        """Whether wandb-core treats the run as existing: its config has ``_wandb.value.t`` (R43)."""
        wb = self.config.get("_wandb")
        return isinstance(wb, dict) and isinstance(wb.get("value"), dict) and "t" in wb["value"]

    def wandb_config(self) -> dict[str, Any]:
        """The ``wandbConfig(keys: ["t"])`` view: ``{"t": ...}`` once the client has started it (R43)."""
        if not self.exists_for_resume:
            return {}
        return {"t": self.config["_wandb"]["value"]["t"]}

    def copy_history(self) -> list[str | None]:
        """A copy of the raw history lines (what a rewind archives, R47)."""
        return list(self.history_lines)

    def archive_history(self) -> None:
        """Keep a copy of the history in :attr:`archived` (a rewind, R47; an overwrite, A02)."""
        self.archived.append(self.copy_history())
        self._add_size("archived", sum(line_cost(line) for line in self.history_lines))

    def drop_file(self, name: str) -> None:
        """Empty the line file ``name`` (a rewind resets the console output, R47)."""
        self._add_size("lines", -sum(line_cost(line) for line in self.files.get(name, [])))
        self.gaps.pop(name, None)
        self.files[name] = []

    @implements("R47")
    def truncate_history(self, step: int) -> None:
        """Keep only the history lines up to and including ``_step == step`` and recompute the
        summary from them (R47: "summary is recomputed from the newly logged history")."""
        keep = 0
        for i, s in enumerate(self.steps):
            if s is not None and s <= step:
                keep = i + 1
        cut = self.files[HISTORY][keep:]
        self._add_size("lines", -sum(line_cost(line) for line in cut))
        self.gaps[HISTORY] = self.gaps.get(HISTORY, 0) - sum(1 for line in cut if line is None)
        del self.files[HISTORY][keep:]
        del self.steps[keep:]
        known = [s for s in self.steps if s is not None]
        self._last_step = max(known) if known else None
        summary: dict[str, Any] = {}
        for line in self.files[HISTORY]:
            if line is not None:
                summary.update(json.loads(line))
        self.summary = summary

    def clear_data(self) -> None:
        """Archive the history and start the run empty: no history, events, output or summary
        (``unset_resume="overwrite"``, A02: S5's "always starts a new run")."""
        self.archive_history()
        self.files = {f: [] for f in LINE_FILES}
        self.sizes["lines"] = 0
        self.gaps = {}
        self.steps = []
        self._last_step = None
        self.summary = {}

    # ---- mutation helpers used by the backend ----------------------------------------------------
    def event(self, t: float, kind: str, detail: str, data: dict[str, Any] | None = None) -> None:
        """Append a :class:`TimelineEvent` (with the history lines held now, and ``data`` if given)."""
        self.timeline.append(TimelineEvent(t, kind, detail, len(self.files[HISTORY]), data))
        extra = len(json.dumps(data, default=str)) if data else 0
        self._add_size("timeline", 4 * LINE_OVERHEAD + len(kind) + len(detail) + extra)

    @implements("R36")
    def write_lines(self, name: str, offset: int, lines: list[str]) -> list[str]:
        """Write ``lines`` at line index ``offset`` of file ``name`` (file_stream semantics, R36).

        Returns:
            Problem texts (offset gaps, rewrites with different content). Data is never dropped: a gap
            leaves ``None`` at the missing indexes and the lines land at their offsets.
        """
        problems: list[str] = []
        if name not in self.files:
            self._add_size("lines", file_name_cost(name))
        buf = self.files.setdefault(name, [])
        if offset > len(buf):
            problems.append(
                messages.OFFSET_GAP.format(
                    path=self.key.path, file=name, offset=offset, have=len(buf), gap_end=offset - 1
                )
            )
            gap = offset - len(buf)
            if name == HISTORY:
                self.steps.extend([None] * gap)
            buf.extend([None] * gap)
            self.gaps[name] = self.gaps.get(name, 0) + gap
            self._add_size("lines", gap * line_cost(None))
        for i, line in enumerate(lines):
            idx = offset + i
            if idx < len(buf):
                # output.log lines are rewritten in place by the console writer (carriage returns);
                # history and events are append-only (R36).
                old = buf[idx]
                if name != OUTPUT and old is not None and old != line:
                    problems.append(messages.LINE_REWRITTEN.format(path=self.key.path, index=idx, file=name))
                if old is None:
                    self.gaps[name] = max(0, self.gaps.get(name, 0) - 1)
                self._add_size("lines", line_cost(line) - line_cost(old))
                buf[idx] = line
                if name == HISTORY:
                    self.steps[idx] = _step_of(line)
            else:
                buf.append(line)
                self._add_size("lines", line_cost(line))
                if name == HISTORY:
                    self.steps.append(_step_of(line))
            if name == HISTORY:
                s = self.steps[idx]
                if s is not None and (self._last_step is None or s > self._last_step):
                    self._last_step = s
        return problems
