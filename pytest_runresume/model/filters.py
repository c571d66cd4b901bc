"""``wandb.Api().runs(path, filters=..., order=...)``: the MongoDB-style run filters and orders.

Pure. What is supported is what ``Api.runs`` documents (wandb 0.31, ``wandb/apis/public/api.py``):

- fields ``createdAt``, ``displayName``, ``duration``, ``group``, ``host``, ``jobType``, ``name``,
  ``state``, ``tags``, ``username`` (the snake_case spellings the docs' examples use, e.g.
  ``display_name``, are accepted too), ``sweep``, and items of the config or the summary:
  ``config.KEY`` (or ``config.KEY.value``, how the config is stored) and ``summary_metrics.KEY``;
  a dotted key reaches into nested values;
- operators ``$and``, ``$or``, ``$nor``, ``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``,
  ``$in``, ``$nin``, ``$exists``, ``$regex`` with MongoDB's meaning (equality with a list field
  such as ``tags`` means "contains"; a comparison with a missing field or a value of another type
  is false; ``$ne``/``$nin`` match a missing field). Python's ``re`` stands in for RE2.
- orders ``[+|-]created_at``, ``heartbeat_at``, ``config.KEY[.value]``, ``summary_metrics.KEY``
  (and the same field names as the filters); missing values sort last.

Anything else (an unknown operator or field, a malformed value) is a :class:`ValueError` naming it,
so a typo is not silently "no runs".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

#: Field names of a filter -> the key in a run document (see ``Model.run_document``).
FIELDS = {
    "createdAt": "createdAt", "created_at": "createdAt",
    "heartbeatAt": "heartbeatAt", "heartbeat_at": "heartbeatAt",
    "displayName": "displayName", "display_name": "displayName",
    "duration": "duration",
    "group": "group",
    "host": "host",
    "jobType": "jobType", "job_type": "jobType",
    "name": "name", "id": "name",
    "state": "state",
    "tags": "tags",
    "username": "username",
    "sweep": "sweep", "sweepName": "sweep",
}  # fmt: skip
#: Prefixes of config and summary items.
CONFIG_PREFIXES = ("config.",)
SUMMARY_PREFIXES = ("summary_metrics.", "summaryMetrics.")
OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex")
LOGICAL = ("$and", "$or", "$nor")

_MISSING = object()


def _dig(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def lookup(doc: Mapping[str, Any], field: str) -> Any:
    """The value of ``field`` in a run document, or a missing marker.

    Raises:
        ValueError: an unknown field, naming the ones there are.
    """
    for prefix in CONFIG_PREFIXES:
        if field.startswith(prefix) and len(field) > len(prefix):
            parts = field[len(prefix) :].split(".")
            item = doc["config"].get(parts[0], _MISSING)
            if item is _MISSING:
                return _MISSING
            rest = parts[1:]
            if isinstance(item, Mapping) and "value" in item:
                item = item["value"]
                if rest[:1] == ["value"]:
                    rest = rest[1:]
            return _dig(item, rest)
    for prefix in SUMMARY_PREFIXES:
        if field.startswith(prefix) and len(field) > len(prefix):
            return _dig(doc["summary"], field[len(prefix) :].split("."))
    if field in FIELDS:
        value = doc.get(FIELDS[field])
        return _MISSING if value is None else value
    known = ", ".join(sorted(set(FIELDS))) + ", config.KEY, summary_metrics.KEY"
    raise ValueError(f"runs filter: unknown field {field!r} (the fields are {known})")


def _comparable(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return (isinstance(a, numbers) and isinstance(b, numbers)) or type(a) is type(b)


def _eq(value: Any, target: Any) -> bool:
    if value is _MISSING:
        return target is None
    if isinstance(value, list) and not isinstance(target, list):
        return any(_eq(v, target) for v in value)
    return _comparable(value, target) and value == target if target is not None else value is None


def _cmp(value: Any, op: str, target: Any) -> bool:
    if value is _MISSING:
        return False
    if isinstance(value, list):
        return any(_cmp(v, op, target) for v in value)
    if not _comparable(value, target) or target is None:
        return False
    if op == "$gt":
        return bool(value > target)
    if op == "$gte":
        return bool(value >= target)
    if op == "$lt":
        return bool(value < target)
    return bool(value <= target)


def _operator(value: Any, op: str, arg: Any, field: str) -> bool:
    if op == "$eq":
        return _eq(value, arg)
    if op == "$ne":
        return not _eq(value, arg)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return _cmp(value, op, arg)
    if op in ("$in", "$nin"):
        if not isinstance(arg, list):
            raise ValueError(f"runs filter: {op} of {field!r} takes a list, got {arg!r:.80}")
        found = any(_eq(value, a) for a in arg)
        return found if op == "$in" else not found
    if op == "$exists":
        if not isinstance(arg, bool):
            raise ValueError(f"runs filter: $exists of {field!r} takes true or false, got {arg!r:.80}")
        return (value is not _MISSING) == arg
    if op == "$regex":
        if not isinstance(arg, str):
            raise ValueError(f"runs filter: $regex of {field!r} takes a string, got {arg!r:.80}")
        try:
            pattern = re.compile(arg)
        except re.error as exc:
            raise ValueError(f"runs filter: bad $regex {arg!r} for {field!r}: {exc}") from None
        values = value if isinstance(value, list) else [value]
        return any(isinstance(v, str) and pattern.search(v) is not None for v in values)
    raise ValueError(f"runs filter: unknown operator {op!r} for {field!r} (the operators are {', '.join(OPERATORS)})")


def matches(doc: Mapping[str, Any], filters: Any) -> bool:
    """Whether the run document ``doc`` matches ``filters`` (a MongoDB-style query object).

    Raises:
        ValueError: a malformed query, an unknown operator or field, naming it.
    """
    if not isinstance(filters, Mapping):
        raise ValueError(f"runs filter must be an object, got {filters!r:.80}")
    for key, arg in filters.items():
        if not isinstance(key, str):
            raise ValueError(f"runs filter: keys must be strings, got {key!r:.80}")
        if key in LOGICAL:
            if not isinstance(arg, list) or not arg:
                raise ValueError(f"runs filter: {key} takes a non-empty list of queries, got {arg!r:.80}")
            results = [matches(doc, sub) for sub in arg]
            ok = all(results) if key == "$and" else any(results) if key == "$or" else not any(results)
            if not ok:
                return False
            continue
        if key.startswith("$"):
            raise ValueError(
                f"runs filter: unknown operator {key!r} at the top (the logical ones are {', '.join(LOGICAL)})"
            )
        value = lookup(doc, key)
        if isinstance(arg, Mapping) and arg and all(isinstance(k, str) and k.startswith("$") for k in arg):
            if not all(_operator(value, op, a, key) for op, a in arg.items()):
                return False
        elif not _eq(value, arg):
            return False
    return True


def check(filters: Any) -> None:
    """Validate ``filters`` without a run: every operator and field is known.

    Raises:
        ValueError: naming what is wrong.
    """
    empty: dict[str, Any] = {"config": {}, "summary": {}}
    matches(empty, filters)


def order_key(order: object) -> tuple[str, bool]:
    """``order`` as ``(field, descending)``: ``"+created_at"``, ``"-summary_metrics.loss"`` ...

    Raises:
        ValueError: not a string, or an unknown field.
    """
    if order is None or order == "":
        return "createdAt", False
    if not isinstance(order, str):
        raise ValueError(f"runs order must be a string, got {order!r:.80}")
    descending = order.startswith("-")
    field = order.lstrip("+-")
    lookup({"config": {}, "summary": {}}, field)  # raises on an unknown field
    return field, descending


def sort_runs(docs: Sequence[Mapping[str, Any]], order: object) -> list[Mapping[str, Any]]:
    """``docs`` in ``order``; runs without the field last, ties by creation time."""
    field, descending = order_key(order)

    def rank(doc: Mapping[str, Any]) -> tuple[Any, ...]:
        value = lookup(doc, field)
        if value is _MISSING or isinstance(value, (list, Mapping)):
            return (1, 0, "")
        if isinstance(value, bool):
            return (0, 0, int(value))
        if isinstance(value, (int, float)):
            return (0, 0, value)
        return (0, 1, str(value))

    present = [d for d in docs if rank(d)[0] == 0]
    missing = [d for d in docs if rank(d)[0] == 1]
    present.sort(key=lambda d: (rank(d)[1:], d.get("createdAt") or ""), reverse=descending)
    return present + missing
