"""zstd Parquet shards (the default): ``trainer/<split>/part-<n>.parquet``, read by our PyTorch loader
(:mod:`curate.trainer.loader`), HF ``datasets``, torchtitan or Polars.

Columns: ``input_ids`` (list<uint32>: a packed ``seq_len + 1``-token row, or one document),
``doc_lens`` (list<int32>: the document pieces of the row) and, without packing, ``id``
(``<document id>#<repeat>``). No dictionary encoding: token ids barely repeat within a page, so
it costs time and makes files bigger.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.trainer.formats.base import ShardContent, TrainerFormat, file_entry


def list_array(values: np.ndarray, offsets: np.ndarray, value_type: pa.DataType) -> pa.Array:
    """A list<value_type> array from a flat buffer and its offsets (no copy of the values)."""
    return pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), pa.array(values, value_type)).cast(
        pa.list_(value_type))


class ParquetFormat(TrainerFormat):
    name: ClassVar[str] = "parquet"
    holds: ClassVar[str] = "rows"
    folder: ClassVar[str] = "."
    reader: ClassVar[str] = "pyarrow / curate.trainer.loader"

    def __init__(self, row_group_rows: int = 1024) -> None:
        self.row_group_rows = row_group_rows

    def table(self, content: ShardContent) -> pa.Table:
        columns = {"input_ids": list_array(content.row_tokens, content.row_offsets, pa.uint32()),
                   "doc_lens": list_array(content.doc_lens, content.doc_lens_offsets, pa.int32())}
        if content.row_ids is not None:
            columns["id"] = pa.array(content.row_ids, pa.string())
        return pa.table(columns)

    def write(self, content: ShardContent, folder: Path) -> list[dict[str, Any]]:
        path = folder / content.split / f"{content.stem}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(self.table(content), path, compression="zstd", use_dictionary=False,
                       row_group_size=self.row_group_rows)
        return [file_entry(folder, path, rows=content.rows, tokens=int(len(content.row_tokens)))]
