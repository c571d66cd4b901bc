"""Typed requests of the model: what one ``UpsertBucket`` asks, with W&B's names and parsed values.

The wire turns GraphQL variables into a :class:`RunUpsert` (:meth:`RunUpsert.from_variables`) and
the model decides what it means (:meth:`~.upserts.UpsertOps.upsert_run`; whether it starts a process
is :func:`~.upserts.starts_process`, the one place that decides it). Tests that seed the model call
the intention-named methods instead (``start``, ``update``, ``log``, ``exit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .core import json_object
from .names import validate_run_id

#: ``UpsertBucket`` variable -> :class:`RunUpsert` attribute, for the variables that are plain strings.
STRING_VARIABLES = {
    "entity": "entity",
    "project": "project",
    "id": "storage_id",
    "host": "host",
    "program": "program",
    "notes": "notes",
    "displayName": "display_name",
    "groupName": "group",
    "jobType": "job_type",
    "sweep": "sweep",
    "state": "state",
}


@dataclass(frozen=True)
class RunUpsert:
    """One ``UpsertBucket`` (NOTES 1.2), typed.

    Attributes:
        run_id: the run's id (``name``), checked like the SDK does (R31).
        entity, project: where the run lives (``None``: the defaults).
        storage_id: the stored run's opaque ``id`` when the client names it: it resumes that run
            (R01/R03/R07) or, from the public API, updates it.
        host, program: sent by the first upsert of a process (and by later ones that send every
            field); see :func:`~.upserts.starts_process`.
        config, summary: the config and summary JSON objects, replacing the stored ones (R39);
            ``None`` keeps them. ``config_size``/``summary_size``: their sizes in characters.
        tags: replace the stored tags when given (R38).
        notes, display_name, group, job_type, sweep: set when given (``sweep`` is never cleared).
        state: ``pending``/``running`` with ``Run.create`` (R53).
    """

    run_id: str
    entity: str | None = None
    project: str | None = None
    storage_id: str | None = None
    host: str | None = None
    program: str | None = None
    config: dict[str, Any] | None = None
    config_size: int = 0
    summary: dict[str, Any] | None = None
    summary_size: int = 0
    tags: tuple[str, ...] | None = None
    notes: str | None = None
    display_name: str | None = None
    group: str | None = None
    job_type: str | None = None
    sweep: str | None = None
    state: str | None = None

    @property
    def from_a_process(self) -> bool:
        """It carries ``host`` or ``program``: a process sent it (``wandb.init``), not the API."""
        return self.host is not None or self.program is not None

    @classmethod
    def from_variables(cls, variables: Mapping[str, Any]) -> RunUpsert:
        """The request ``UpsertBucket`` variables ask (``config``/``summaryMetrics`` as JSON strings
        or objects).

        Raises:
            ValueError: a missing or bad run id (R31), a config or summary that is not a JSON object.
        """
        run_id = validate_run_id(variables.get("name"))
        config, config_size = json_object(variables.get("config"), "config")
        summary, summary_size = json_object(variables.get("summaryMetrics") or None, "summaryMetrics")
        tags = variables.get("tags")
        strings = {attr: variables.get(var) for var, attr in STRING_VARIABLES.items()}
        return cls(
            run_id=run_id,
            config=config,
            config_size=config_size,
            summary=summary,
            summary_size=summary_size,
            tags=None if tags is None else tuple(tags),
            **strings,
        )
