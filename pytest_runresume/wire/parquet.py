"""The parquet export of a run's history (what ``run.scan_history()`` downloads in wandb 0.31).

The real server exports the history of a run to parquet files and hands out their URLs in
``parquetHistory``; wandb-core downloads and reads them itself (Go), so the *client* needs no
pyarrow. The fake needs it to *write* them: pyarrow is the optional ``parquet`` extra. Without it
every row is served as live data instead (:mod:`.public`), which the SDK reads the same way.

One column per key, typed from its values: ``bool``, ``int64``, ``float64`` (ints and floats
mixed) or ``string``; a missing value is null. ``_step`` is ``int64``, as W&B writes it.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
from typing import Any

#: Column types, in the order a column's values are tried.
_KINDS = ("bool", "int64", "float64", "string")


def available() -> bool:
    """Whether pyarrow is installed (``pip install pytest-runresume[parquet]``)."""
    return importlib.util.find_spec("pyarrow") is not None


def column_types(rows: Sequence[dict[str, Any]]) -> dict[str, str] | None:
    """Each key's column type, or ``None`` when a column mixes kinds no one type holds (a string
    and a number) or holds a value that is not a scalar: such a history stays live data."""
    kinds: dict[str, set[str]] = {}
    for row in rows:
        for key, value in row.items():
            seen = kinds.setdefault(key, set())
            if value is None:
                continue
            if isinstance(value, bool):
                seen.add("bool")
            elif isinstance(value, int):
                seen.add("int64")
            elif isinstance(value, float):
                seen.add("float64")
            elif isinstance(value, str):
                seen.add("string")
            else:
                return None
    out: dict[str, str] = {}
    for key, seen in kinds.items():
        if seen <= {"int64", "float64"}:
            out[key] = "float64" if "float64" in seen else "int64"
        elif len(seen) == 1:
            out[key] = next(iter(seen))
        else:
            return None
    return out


def write(rows: Sequence[dict[str, Any]]) -> bytes:
    """The rows as one parquet file.

    Raises:
        ValueError: rows :func:`column_types` cannot type.
        ModuleNotFoundError: pyarrow is not installed.
    """
    import pyarrow as pa  # noqa: PLC0415 - optional dependency
    import pyarrow.parquet as pq  # noqa: PLC0415

    types = column_types(rows)
    if types is None:
        raise ValueError("history rows hold values no parquet column type holds")
    arrow = {"bool": pa.bool_(), "int64": pa.int64(), "float64": pa.float64(), "string": pa.string()}
    columns = {}
    for key, kind in types.items():
        values = [row.get(key) for row in rows]
        if kind == "float64":
            values = [None if x is None else float(x) for x in values]
        columns[key] = pa.array(values, type=arrow[kind])
    table = pa.table(columns)
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()
