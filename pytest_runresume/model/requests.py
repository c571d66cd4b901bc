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
from .sdk_versions import UnknownSDKVersion, Version, parse_version

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
        sdk_version: the wandb release that sent it, from the config's ``_wandb.value.cli_version``
            (every release 0.17-0.31 puts it in each config it sends); ``None`` when not given.
        after_init: the config's telemetry (``_wandb.value.t``) has ``imports_finish`` (key ``"2"``),
            which the SDK records only once ``wandb.init`` has returned (wandb 0.19: its import
            hooks are registered in ``Run._on_ready``): the upsert of a running process
            (``run.tags = ...``), never the one that starts it; see :func:`~.upserts.starts_process`.
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
    sdk_version: Version | None = None
    after_init: bool = False

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
            UnknownSDKVersion: a ``_wandb.value.cli_version`` that is not a ``MAJOR.MINOR[.PATCH]``
                string (a ``ValueError``).
        """
        run_id = validate_run_id(variables.get("name"))
        config, config_size = json_object(variables.get("config"), "config")
        summary, summary_size = json_object(variables.get("summaryMetrics") or None, "summaryMetrics")
        tags = variables.get("tags")
        strings = {attr: variables.get(var) for var, attr in STRING_VARIABLES.items()}
        sdk_version, after_init = _sdk_of(config)
        return cls(
            run_id=run_id,
            config=config,
            config_size=config_size,
            summary=summary,
            summary_size=summary_size,
            tags=None if tags is None else tuple(tags),
            sdk_version=sdk_version,
            after_init=after_init,
            **strings,
        )


def _sdk_of(config: dict[str, Any] | None) -> tuple[Version | None, bool]:
    """``(sdk_version, after_init)`` of a config's ``_wandb.value`` (see :class:`RunUpsert`).

    Raises:
        UnknownSDKVersion: ``cli_version`` is given but is not a version string.
    """
    wb = config.get("_wandb") if config else None
    value = wb.get("value") if isinstance(wb, dict) else None
    if not isinstance(value, dict):
        return None, False
    telemetry = value.get("t")
    after_init = isinstance(telemetry, dict) and "2" in telemetry
    text = value.get("cli_version")
    if text is None:
        return None, after_init
    if not isinstance(text, str):
        raise UnknownSDKVersion(f"config _wandb.cli_version must be a version string, got {text!r:.80}")
    try:
        return parse_version(text), after_init
    except UnknownSDKVersion as exc:
        raise UnknownSDKVersion(f"config _wandb.cli_version: {exc}") from None
