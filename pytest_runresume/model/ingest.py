"""The run store's ingest: ``file_stream`` requests (history, events, console, summary; heartbeats,
``preempting``, ``complete``) and uploaded files (R36, R37, R62, R65, R66, R94-R96).

Pure; a request is checked against the limits before anything of it is applied.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import concurrency, messages, sdk_versions
from .core import StoreBase, json_object
from .errors import LimitExceeded
from .limits import LINE_OVERHEAD
from .runs import (
    EVENTS,
    HISTORY,
    LINE_FILES,
    OUTPUT,
    SUMMARY,
    Attempt,
    RunKey,
    RunRecord,
    file_name_cost,
    line_cost,
)
from .states import derive_state
from .tags import implements


@dataclass(frozen=True)
class FileChunk:
    """Lines for one file of a file_stream request: ``content`` goes at line index ``offset``."""

    offset: int
    content: list[str]


class FileStreamOps(StoreBase):
    """What a run's processes send after ``wandb.init``: ``file_stream`` (R36, R37, R62, R65,
    R66, R94-R96) and uploaded files."""

    @implements("R36", "R37", "R62", "R64", "R65", "R94", "R95")
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
                sdk_rewrite = name == EVENTS and _rewrites_events(attempt) and chunk.offset <= len(rec.files[EVENTS])
                for problem in rec.write_lines(name, chunk.offset, chunk.content):
                    if sdk_rewrite:  # the release's own doing (R36), not the user's: noted, not a problem
                        rec.event(now, "sdk-rewrite", f"{problem} (wandb {_release(attempt)}, R36)")
                    else:
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

    def log(self, path: str, *rows: Mapping[str, Any]) -> RunRecord:
        """The run's process logs history rows (``run.log(row)``): each row is appended as one line of
        ``wandb-history.jsonl`` after what the run holds, with the next ``_step`` unless it has one.

        Raises:
            KeyError: no such run.
            LimitExceeded: more than the storage limits allow (nothing is written).
        """
        with self.lock:
            rec = self.run(path)
            step = -1 if rec.last_step is None else rec.last_step
            lines = []
            for row in rows:
                step = int(row.get("_step", step + 1))
                lines.append(json.dumps({**row, "_step": step}, separators=(",", ":")))
            self.file_stream(rec.key, {HISTORY: FileChunk(len(rec.files.get(HISTORY, ())), lines)})
            return rec

    def exit(self, path: str, exit_code: int = 0, *, preempting: bool = False) -> RunRecord:
        """The run's process exits and says so (``complete`` with ``exitcode``; R55, R66, R70):
        ``preempting=True`` first marks it (``run.mark_preempting()``, R65).

        Raises:
            KeyError: no such run.
        """
        with self.lock:
            rec = self.run(path)
            if preempting:
                self.file_stream(rec.key, {}, preempting=True)
            self.file_stream(rec.key, {}, complete=True, exit_code=exit_code)
            return rec

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
                    summary, size = json_object(chunk.content[-1], f"{SUMMARY} line")
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

    @implements("R96")
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


@implements("R36")
def _rewrites_events(attempt: Attempt) -> bool:
    """Whether ``attempt`` is a resumed process whose wandb release writes ``wandb-events.jsonl``
    from offset 0 again, over the stored lines (0.20 to 0.28.0: fact
    ``events_and_output_continue_on_resume``, docs/sdk-versions.md); its release is
    :attr:`~.runs.Attempt.sdk_version`, else the one :func:`~.sdk_versions.assumed`."""
    release = sdk_versions.assumed(attempt.sdk_version)
    return attempt.resumed and not sdk_versions.has("events_and_output_continue_on_resume", release)


def _release(attempt: Attempt) -> str:
    """``"0.25.1"``, or ``"0.25.1 (assumed)"`` for a process that did not say its release."""
    text = ".".join(map(str, sdk_versions.assumed(attempt.sdk_version)))
    return text if attempt.sdk_version is not None else f"{text} (assumed)"
