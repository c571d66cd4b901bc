"""Projects and run listings of the run store (the public API's ``CreateProject`` and ``Runs``).

Pure; the filters themselves are :mod:`.filters`.
"""

from __future__ import annotations

from typing import Any

from . import filters as filters_mod
from . import messages
from .core import StoreBase, iso_time
from .names import MAX_PROJECT_NAME, RESERVED_PROJECT_CHARS
from .runs import (
    RunRecord,
)


class ProjectOps(StoreBase):
    """Projects and the run listings of the public API (``CreateProject``, ``Runs``)."""

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
