"""Reading a run's history back, as the public API asks for it (``wandb.Api().run(path)``).

Pure: functions of the rows the model holds (``RunRecord.history``), no I/O.

- ``run.history()`` sends ``RunFullHistory`` (``history(samples:)``), ``run.history(keys=[...])``
  sends ``RunSampledHistory`` (``sampledHistory(specs:)``): both *sampled*. W&B documents only that
  the rows are sampled ("simpler and faster if you are ok with the history records being
  sampled", ``Run.history``) and that at most ``samples`` come back; how it picks them is not
  documented. The fake's stand-in is deterministic: all rows when there are at most ``samples``,
  else ``samples`` rows evenly spaced over the history, the first and the last always kept
  (:func:`sample_rows`).
- ``run.scan_history()`` (0.31: wandb-core, ``RunParquetHistory`` then ``HistoryPage`` for the live
  part) reads every row in a step range, unsampled (:func:`rows_in_steps`). With ``keys`` it
  "only returns rows that contain all of the requested keys" (``Run.scan_history``); the fake's
  ``sampledHistory`` follows the same rule (:func:`select_keys`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: The step key every history row carries.
STEP = "_step"

Row = dict[str, Any]


def check_samples(samples: object, what: str = "samples") -> int:
    """A ``samples``/page size as the queries send it: an integer >= 0.

    Raises:
        ValueError: naming ``what`` when it is not one.
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        raise ValueError(f"variable {what} must be an integer >= 0, got {samples!r:.80}")
    return samples


def sample_rows(rows: Sequence[Row], samples: int) -> list[Row]:
    """At most ``samples`` of ``rows``, in order: all of them when there are no more than that,
    else evenly spaced indexes with the first and the last row always kept (the fake's documented
    stand-in for W&B's undocumented sampling)."""
    n = len(rows)
    if samples <= 0:
        return []
    if n <= samples:
        return list(rows)
    if samples == 1:
        return [rows[-1]]
    picked = sorted({round(i * (n - 1) / (samples - 1)) for i in range(samples)})
    return [rows[i] for i in picked]


def select_keys(rows: Iterable[Row], keys: Sequence[str]) -> list[Row]:
    """The rows that hold every key of ``keys``, each cut down to those keys (``Run.scan_history``:
    "only returns rows that contain all of the requested keys")."""
    return [{k: row[k] for k in keys} for row in rows if all(k in row for k in keys)]


@dataclass(frozen=True)
class Spec:
    """One ``sampledHistory`` spec: the keys (each once, in order), at most ``samples`` rows, and
    the steps ``min_step <= _step <= max_step`` (both inclusive, as ``SampledHistory`` marks them;
    wandb-core's ``SampledHistoryPage`` sends them, ``run.history(keys=)`` does not)."""

    keys: list[str]
    samples: int
    min_step: int | None = None
    max_step: int | None = None


def parse_spec(spec: object) -> Spec:
    """One ``sampledHistory`` spec, a JSON string ``{"keys": [...], "samples": N}`` with optional
    ``minStep``/``maxStep``.

    Raises:
        ValueError: not JSON, not an object, keys not a list of strings, samples not an int >= 0,
            a step bound that is not an integer.
    """
    try:
        obj = json.loads(spec) if isinstance(spec, str) else spec
    except ValueError as exc:
        raise ValueError(f"sampledHistory spec is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"sampledHistory spec must be an object, got {spec!r:.80}")
    keys = obj.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"sampledHistory spec keys must be a non-empty list of strings, got {keys!r:.80}")
    bounds = []
    for name in ("minStep", "maxStep"):
        value = obj.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"sampledHistory spec {name} must be an integer, got {value!r:.80}")
        bounds.append(value)
    samples = check_samples(obj.get("samples", 500), "sampledHistory spec samples")
    return Spec(list(dict.fromkeys(keys)), samples, bounds[0], bounds[1])


def sampled_history(rows: Sequence[Row], specs: Sequence[object]) -> list[list[Row]]:
    """``sampledHistory(specs:)``: one list per spec, the rows in its step range holding all its
    keys, cut to those keys, sampled to its ``samples``."""
    parsed = [parse_spec(spec) for spec in specs]  # validate all before answering any
    out = []
    for spec in parsed:
        lo = spec.min_step if spec.min_step is not None else -(2**63)
        hi = spec.max_step if spec.max_step is not None else 2**63 - 2
        in_range = rows if spec.min_step is None and spec.max_step is None else rows_in_steps(rows, lo, hi + 1)
        out.append(sample_rows(select_keys(in_range, spec.keys), spec.samples))
    return out


def step_of(row: Row) -> int | None:
    """A row's ``_step`` when it is an integer, else ``None``."""
    step = row.get(STEP)
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def rows_in_steps(rows: Iterable[Row], min_step: int, max_step: int, limit: int | None = None) -> list[Row]:
    """The rows with ``min_step <= _step < max_step``, in order, at most ``limit`` (``HistoryPage``'s
    ``history(minStep:, maxStep:, samples:)``: a page of the scan, unsampled)."""
    out = []
    for row in rows:
        step = step_of(row)
        if step is not None and min_step <= step < max_step:
            out.append(row)
            if limit is not None and len(out) >= limit:
                break
    return out


def is_scalar(value: object) -> bool:
    """A value a parquet column of the fake's export can hold: a number, a bool, a string or null."""
    return value is None or isinstance(value, (bool, int, float, str))


def exportable(rows: Sequence[Row]) -> bool:
    """Whether the fake exports these rows to parquet: every value is a scalar (nested values,
    W&B's media and histograms among them, stay live data) and every row has an integer ``_step``."""
    return bool(rows) and all(step_of(row) is not None and all(map(is_scalar, row.values())) for row in rows)
