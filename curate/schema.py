"""The document table every stage reads and writes.

Rows never disappear between stages: a stage that drops a document sets ``reject_stage`` and
``reject_reason`` on it, and the writer routes such rows to ``rejected/``. Later stages only
see rows that are still alive (the engine hides the others from them).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Columns the readers produce, in order. Stages append their own columns after these.
BASE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("text", pa.large_string()),
        pa.field("source", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("url", pa.string()),
        pa.field("path", pa.string()),
        pa.field("code_language", pa.string()),
        pa.field("metadata", pa.string()),  # JSON of the input fields the field map did not name
        pa.field("fetch_date", pa.string()),  # web captures: when it was fetched (ISO 8601)
        pa.field("content_type", pa.string()),  # web captures: HTTP Content-Type (no parameters)
        pa.field("charset", pa.string()),  # encoding the text was decoded from
        pa.field("input_file", pa.string()),  # the file (path or URL) the row was read from; None: made by a stage
        pa.field("reject_stage", pa.string()),
        pa.field("reject_reason", pa.string()),
        pa.field("reject_detail", pa.string()),
    ]
)

REJECT_COLUMNS = ("reject_stage", "reject_reason", "reject_detail")


def empty_documents() -> pa.Table:
    return BASE_SCHEMA.empty_table()


def alive_mask(table: pa.Table) -> pa.ChunkedArray:
    """True for rows no stage has rejected yet."""
    return pc.is_null(table.column("reject_stage"))


def reject_rows(table: pa.Table, mask: np.ndarray | pa.Array, stage: str, reasons, details=None) -> pa.Table:
    """Mark rows where ``mask`` is true as rejected by ``stage``.

    ``reasons`` and ``details`` are a single string or one value per row (only the masked rows'
    values are used). Rows rejected earlier keep their first rejection.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return table
    n = table.num_rows
    reasons = [reasons] * n if isinstance(reasons, str) or reasons is None else list(reasons)
    details = [details] * n if isinstance(details, str) or details is None else list(details)
    already = ~np.asarray(alive_mask(table).to_numpy(zero_copy_only=False), dtype=bool)
    new = mask & ~already
    out = {}
    for name, values in (("reject_stage", [stage] * n), ("reject_reason", reasons), ("reject_detail", details)):
        current = table.column(name).to_pylist()
        out[name] = pa.array([v if flag else c for v, c, flag in zip(values, current, new)], pa.string())
    for name, column in out.items():
        table = table.set_column(table.schema.get_field_index(name), name, column)
    return table


def set_column(table: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Replace ``name`` if present, else append it."""
    index = table.schema.get_field_index(name)
    if index >= 0:
        return table.set_column(index, name, values)
    return table.append_column(name, values)


def add_missing_columns(table: pa.Table, columns: dict[str, pa.DataType],
                        fill: dict[str, object] | None = None) -> pa.Table:
    """``table`` with each of ``columns`` it lacks appended: nulls, or ``fill[name]`` in every row
    (rows a stage never saw still carry its columns, so every batch has one schema)."""
    for name, dtype in columns.items():
        if name not in table.column_names:
            if fill and name in fill:
                values = pa.array([fill[name]] * table.num_rows, dtype)
            else:
                values = pa.nulls(table.num_rows, dtype)
            table = table.append_column(name, values)
    return table


def conform_to_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, in its order and types (missing ones null), so
    rows a stage made can join the run's dataset."""
    return pa.table([table.column(f.name).cast(f.type) if f.name in table.column_names
                     else pa.nulls(table.num_rows, f.type) for f in schema], schema=schema)


def text_bytes(table: pa.Table) -> int:
    """UTF-8 bytes of the ``text`` column (what 'bytes in/out' means in the run summary)."""
    if table.num_rows == 0:
        return 0
    return int(pc.sum(pc.binary_length(table.column("text"))).as_py() or 0)
