"""Two processes writing one run at the same time (R16: "unexpected results").

The server cannot tell which process sent a file_stream request (the requests carry no writer id),
so the model detects a second writer in two steps:

1. *Overlap*: a process starts (its init upsert) while the run's latest process has not reported its
   exit and was heard from within the crash timeout. That alone is not proof: a process killed with
   SIGKILL a moment ago looks the same, and its restart must not be flagged.
2. *Evidence* that the earlier process is in fact still writing, after the overlap:
   - a history or events line the new process's part of the run already holds is written again
     with different content (two writers at the same offsets), or
   - the exit is reported again by a request that is not a re-send of the one that reported it.

On the first evidence the backend records a problem naming both writers
(``messages.CONCURRENT_WRITERS``) and a ``concurrent`` timeline event; ``Model.concurrent_writers``
lists what was found. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from . import messages
from .runs import EVENTS, HISTORY, Attempt, RunRecord
from .tags import implements


class _Chunk(Protocol):  # backend.FileChunk (not imported: backend imports this module)
    @property
    def offset(self) -> int: ...

    @property
    def content(self) -> list[str]: ...


@dataclass(frozen=True)
class ConcurrentWriters:
    """Two processes that wrote one run at the same time.

    Attributes:
        path: the run path.
        first: the earlier process's attempt (still writing when ``second`` started).
        second: the later process's attempt.
        evidence: what showed that ``first`` kept writing.
    """

    path: str
    first: Attempt
    second: Attempt
    evidence: tuple[str, ...]

    def describe(self) -> str:
        """The problem text naming both writers (``messages.CONCURRENT_WRITERS``)."""
        return messages.CONCURRENT_WRITERS.format(
            path=self.path,
            first=writer(self.first),
            second=writer(self.second),
            evidence="; ".join(self.evidence),
        )


def writer(attempt: Attempt) -> str:
    """``process 1 (started 12:00:01 UTC, writer 01a2...)``: how a problem names a process."""
    started = datetime.fromtimestamp(attempt.started_at, tz=timezone.utc).strftime("%H:%M:%S")
    who = f", writer {attempt.writer_id}" if attempt.writer_id else ""
    return f"process {attempt.number} (started {started} UTC{who})"


@implements("R16")
def note_start(rec: RunRecord, previous: Attempt | None, now: float, crash_timeout: float) -> None:
    """Called when a process starts on ``rec``: remember an overlap with a live ``previous`` one."""
    new = rec.attempt
    if new is None or previous is None or new is previous:
        return
    if not previous.complete and now - previous.last_heard < crash_timeout:
        new.overlaps = previous.number


def note_writer(rec: RunRecord) -> None:
    """Name the processes by the writer ids wandb-core puts in the config (``_wandb.value.e``).

    A writer id not seen before goes to the latest attempt without one, the next to the one before
    (a resumed process's config lists the earlier writers first; a process that wrote the run at
    the same time as a later one may send its id after the later one started).
    """
    wandb = rec.config.get("_wandb") if isinstance(rec.config, dict) else None
    value = wandb.get("value") if isinstance(wandb, dict) else None
    writers = value.get("e") if isinstance(value, dict) else None
    if not isinstance(writers, dict):
        return
    known = {a.writer_id for a in rec.attempts}
    new = [str(w) for w in writers if w not in known]
    for attempt in reversed(rec.attempts):
        if not new:
            break
        if attempt.writer_id is None:
            attempt.writer_id = new.pop()


def fingerprint(files: Mapping[str, _Chunk], exit_code: Any, uploaded: list[str] | None) -> str:
    """A short hash of what a final file_stream request carried (to tell a re-send from another writer)."""
    body = [sorted((name, c.offset, list(c.content)) for name, c in files.items()), exit_code, sorted(uploaded or [])]
    return hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def evidence(
    rec: RunRecord,
    attempt: Attempt,
    files: Mapping[str, _Chunk],
    complete: bool,
    exit_code: Any,
    final: str | None,
) -> list[str]:
    """What in one file_stream request shows that an earlier process is still writing.

    Called before the request is applied. Empty unless ``attempt`` overlaps an earlier process.

    Args:
        rec: the run.
        attempt: its latest attempt (the request is attributed to it).
        files: the request's chunks.
        complete: the request reports the exit.
        exit_code: its exit code.
        final: :func:`fingerprint` of the request when ``complete``.
    """
    if attempt.overlaps is None:
        return []
    found: list[str] = []
    for name in (HISTORY, EVENTS):
        chunk = files.get(name)
        if chunk is None:
            continue
        held = rec.files.get(name, [])
        for i, line in enumerate(chunk.content):
            idx = chunk.offset + i
            if attempt.start_line <= idx < len(held) and held[idx] is not None and held[idx] != line:
                found.append(f"{name} line {idx} was written twice with different content")
                break
    if complete and attempt.complete and final != attempt.final_request:
        found.append(f"the exit was reported twice (exit codes {attempt.exit_code} and {exit_code})")
    return found


@implements("R16")
def confirm(rec: RunRecord, attempt: Attempt, found: list[str]) -> ConcurrentWriters | None:
    """Record ``found`` on ``attempt``; return the pair the first time there is evidence, else ``None``."""
    if not found or attempt.overlaps is None:
        return None
    first_time = not attempt.concurrent
    attempt.concurrent.extend(found)
    return pair(rec, attempt) if first_time else None


def pair(rec: RunRecord, attempt: Attempt) -> ConcurrentWriters:
    """The :class:`ConcurrentWriters` of an attempt with evidence."""
    assert attempt.overlaps is not None
    first = rec.attempts[attempt.overlaps - 1]
    return ConcurrentWriters(rec.key.path, first, attempt, tuple(attempt.concurrent))
