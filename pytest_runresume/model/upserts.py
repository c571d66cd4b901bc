"""The run store's operations the SDK drives at ``wandb.init``: creating a run, starting a process of
it (``UpsertBucket``), answering ``RunResumeStatus``, forks (R44-R46).

Pure; everything is checked before anything changes.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from . import concurrency, messages
from .core import StoreBase
from .errors import LimitExceeded, RuleViolation
from .limits import finite_number
from .names import validate_run_id
from .requests import RunUpsert
from .resume import Outcome, decide_resume, starting_step
from .runs import (
    Attempt,
    RunKey,
    RunRecord,
    line_cost,
)
from .sdk_versions import parse_version
from .tags import implements


class UpsertOps(StoreBase):
    """Creating runs and starting their processes: ``UpsertBucket`` (R01-R14, R31-R39, R44,
    A02), ``Run.create`` (R53), ``RunResumeStatus`` (R43)."""

    def _create(self, key: RunKey) -> RunRecord:
        self._check_create(key)
        storage_id = base64.b64encode(f"Run:v1:{key.run_id}:{key.project}:{key.entity}".encode()).decode()
        rec = RunRecord(key=key, storage_id=storage_id, created_at=self.now())
        self.runs[key] = rec
        return rec

    @implements("R25")
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

    @implements("R53")
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

    @implements("R01", "R03", "R07", "R14", "R38", "R39")
    def upsert_run(self, req: RunUpsert) -> tuple[RunRecord, bool]:
        """Create or update a run as one ``UpsertBucket`` asks (the wire's typed request).

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
            ValueError: a fork branch point whose ``step`` is not a finite number >= 0 (R44).
            RuleViolation: ``unset_resume="refuse"`` and an init without resume into an existing run
                (A02).
            LimitExceeded: a new run past ``max_runs``, or more bytes than the storage limits allow.
        """
        config, config_size, summary, summary_size = req.config, req.config_size, req.summary, req.summary_size
        branch = _branch_point(config)
        with self.lock:
            now = self.now()
            key = self.key(req.entity, req.project, req.run_id)
            rec = self.runs.get(key)
            inserted = rec is None
            resumed = rec is not None and req.storage_id is not None and req.storage_id == rec.storage_id
            starts = starts_process(rec, req)
            unset_resume = starts and not resumed and rec is not None and rec.exists_for_resume
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
            if req.tags is not None:
                rec.tags = list(req.tags)
            for attr in ("notes", "display_name", "group", "job_type", "sweep", "host", "program"):
                if getattr(req, attr) is not None:
                    setattr(rec, attr, getattr(req, attr))
            if summary is not None:
                rec.summary = summary
                rec.set_size("summary", summary_size)
            if inserted and req.state in ("pending", "running") and not req.program:
                # Run.create(state=...) (R53): a run created ahead of time, not started by a process.
                rec.created_pending = req.state == "pending"
                if req.state == "running":
                    rec.attempts.append(Attempt(1, now, resumed=False, start_line=0, last_heard=now))
                rec.event(now, "create", f"created with state={req.state} through the API (R53)")
            if branch is not None and inserted:
                self._fork(rec, branch[0], branch[1], now)
            if starts:
                number = len(rec.attempts) + 1
                previous = rec.attempt
                lines = len(rec.history_lines)
                rec.attempts.append(
                    Attempt(
                        number=number,
                        started_at=now,
                        resumed=resumed,
                        start_line=lines,
                        last_heard=now,
                        sdk_version=req.sdk_version,
                        starting_step=starting_step(lines, rec.resume_step, req.sdk_version) if resumed else None,
                    )
                )
                concurrency.note_start(rec, previous, now, self.crash_timeout)  # R16
                rec.created_pending = False
                rec.resume_asked = False
                rec.forced_state = None
                how = "resumed (R35)" if resumed else ("new run" if number == 1 else "same id, no resume (R14)")
                started = rec.attempts[-1]
                release = None if req.sdk_version is None else ".".join(map(str, req.sdk_version))
                rec.event(
                    now,
                    "init",
                    f"process {number} started: {how}; history lines={len(rec.history_lines)}"
                    f" last_step={rec.last_step}"
                    + ("" if started.starting_step is None else f" starting_step={started.starting_step}")
                    + ("" if release is None else f"; wandb {release}"),
                    {
                        "number": number,
                        "resumed": resumed,
                        "last_step": rec.last_step,
                        "starting_step": started.starting_step,
                        "sdk_version": release,
                    },
                )
            else:
                rec.event(now, "upsert", "run updated")
            if rec.attempt is not None:
                rec.attempt.last_heard = now
            concurrency.note_writer(rec)
            self._bump()
            return rec, inserted

    def upsert(self, fields: dict[str, Any]) -> tuple[RunRecord, bool]:
        """Deprecated: ``UpsertBucket`` variables as a dict. Seed runs with :meth:`start`,
        :meth:`update`, :meth:`~.ingest.FileStreamOps.log` and :meth:`~.ingest.FileStreamOps.exit`;
        the wire calls :meth:`upsert_run`. Kept for one release.

        Raises:
            ValueError: a missing or bad run id (R31), a config or summary that is not a JSON
                object; and what :meth:`upsert_run` raises.
        """
        warnings.warn(
            "Model.upsert(fields) is deprecated: use model.start(...), model.update(...), model.log(...)"
            " and model.exit(...) (or upsert_run(RunUpsert.from_variables(fields)))",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.upsert_run(RunUpsert.from_variables(fields))

    def start(
        self,
        path: str,
        resume: str | bool | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        host: str = "localhost",
        program: str = "train.py",
        tags: Sequence[str] | None = None,
        sdk: str | None = None,
    ) -> RunRecord:
        """A process starts the run at ``path`` (``entity/project/run_id`` or ``project/run_id``), as
        ``wandb.init(id=..., resume=resume, config=config)`` does: the SDK's resume decision
        (:func:`~.resume.decide_resume`, R01-R14), then ``RunResumeStatus`` when it resumes, then the
        init upsert.

        Args:
            resume: ``"must"``, ``"allow"``, ``"never"``, ``"auto"``, ``True`` or unset.
            config: plain values (``{"lr": 0.1}``), laid over the run's config as ``{"value": ...}``.
            sdk: the wandb release of the process (``"0.30.0"``), sent as ``_wandb.cli_version`` like
                the SDK does: ``run.attempt.sdk_version``, and what its predicted
                ``run.attempt.starting_step`` follows (R35). ``None``: not said (the installed
                release is assumed).

        Returns:
            The run; its new process is ``run.attempt``.

        Raises:
            RuleViolation: the decision is an error (``must`` on a missing run, R02; ``never`` on an
                existing one, R05); nothing is changed.
            ValueError: a bad path or run id (R31), an unknown resume mode.
            UnknownSDKVersion: ``sdk`` is not a ``MAJOR.MINOR[.PATCH]`` string (a ``ValueError``).
            LimitExceeded: see :meth:`upsert_run`.
        """
        key = self._path_key(path)
        sdk_version = None if sdk is None else parse_version(sdk)
        with self.lock:
            rec = self.runs.get(key)
            exists = rec is not None and self.exists_for_resume(rec)
            decision = decide_resume(resume, exists, key.run_id)
            if decision.outcome is Outcome.ERROR:
                raise RuleViolation(f"{decision.error} ({decision.rule})")
            storage_id = None
            if decision.outcome is Outcome.RESUME and rec is not None:
                self.resume_status(key.entity, key.project, key.run_id)
                storage_id = rec.storage_id
            merged = dict(rec.config) if rec is not None else {}
            merged.setdefault("_wandb", {"value": {"t": {}}})  # wandb-core's marker of a started run (R43)
            if sdk is not None:
                merged["_wandb"] = {"value": {**merged["_wandb"]["value"], "cli_version": sdk}}
            merged.update({k: {"value": v} for k, v in (config or {}).items()})
            req = RunUpsert(
                run_id=key.run_id, entity=key.entity, project=key.project, storage_id=storage_id,
                host=host, program=program, config=merged, config_size=len(json.dumps(merged, default=str)),
                tags=None if tags is None else tuple(tags), sdk_version=sdk_version,
            )  # fmt: skip
            return self.upsert_run(req)[0]

    def update(
        self,
        path: str,
        *,
        config: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        notes: str | None = None,
        display_name: str | None = None,
    ) -> RunRecord:
        """The running process updates the run (``run.config.update``, ``run.tags = ...``,
        ``run.name = ...``; R38, R39): no new process starts.

        Args:
            config: plain values laid over the run's config (the client merges, R39).
            summary: keys laid over the run's summary.

        Raises:
            KeyError: no such run.
            LimitExceeded: see :meth:`upsert_run`.
        """
        with self.lock:
            rec = self.run(path)
            merged_config = None
            if config is not None:
                merged_config = {**rec.config, **{k: {"value": v} for k, v in config.items()}}
            merged_summary = None if summary is None else {**rec.summary, **summary}
            req = RunUpsert(
                run_id=rec.key.run_id, entity=rec.key.entity, project=rec.key.project,
                config=merged_config, config_size=len(json.dumps(merged_config, default=str)),
                summary=merged_summary, summary_size=len(json.dumps(merged_summary, default=str)),
                tags=None if tags is None else tuple(tags), notes=notes, display_name=display_name,
            )  # fmt: skip
            return self.upsert_run(req)[0]

    def _path_key(self, path: str) -> RunKey:
        """The key of ``entity/project/run_id`` or ``project/run_id``.

        Raises:
            ValueError: another shape, or a bad run id (R31).
        """
        parts = path.strip("/").split("/")
        if len(parts) not in (2, 3):
            raise ValueError(f"not a run path: {path!r} (expected entity/project/run_id or project/run_id)")
        entity = parts[0] if len(parts) == 3 else None
        return self.key(entity, parts[-2], validate_run_id(parts[-1]))

    @implements("R44")
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

    @implements("R44")
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


def starts_process(rec: RunRecord | None, req: RunUpsert) -> bool:
    """Whether ``req`` starts a new process of ``rec`` (a new :class:`~.runs.Attempt`): the one place
    that decides it.

    Only a process sends ``host``/``program`` (``wandb.init``). Its first upsert starts a process when
    the run is new or never started, when it does not name the stored run's ``id`` (no resume:
    R14), after a ``RunResumeStatus``/``RewindRun`` (a resume: R01/R03/R07, R47), or after the last
    process exited. A later upsert of the same process sends every field again (after
    ``run.tags += ...``, ``run.name = ...``, ``run.notes = ...``) and starts nothing: from wandb 0.20
    it names the id without asking first; wandb 0.19 sends no id, but its config's telemetry already
    has ``imports_finish`` (:attr:`~.requests.RunUpsert.after_init`), which no init upsert of any
    supported release carries.
    """
    if not req.from_a_process:
        return False
    if rec is None or rec.attempt is None or rec.attempt.complete:
        return True
    if req.after_init:
        return False
    if rec.resume_asked:
        return True
    return req.storage_id is None or req.storage_id != rec.storage_id
