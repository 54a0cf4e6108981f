"""Where every token of a shard came from: one row per document piece, written next to each shard.

``trainer/provenance/<split>/part-<n>.parquet`` has, for every piece of a document in a shard, in
order: ``row`` (the packed row of the Parquet/MDS/LitData shard, -1 for a tail that ``last: drop``
cut off, which only the document formats hold), ``row_start`` and ``length`` (where in that row),
``id`` and ``repeat`` (the document and which copy; null id for padding), ``doc_start`` (the
piece's offset inside the document), ``doc_index`` (the document's place in the shard's document
order: the sequence number in a memmap shard) and ``group`` (the mixture group, which names the
Megatron prefix). :mod:`curate.trainer.trace` joins it with the run's ``documents/`` to say which
documents, sources, filters, scores and synthesis prompts fed a training row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.trainer.formats.base import ShardContent

SCHEMA = pa.schema([
    ("row", pa.int64()), ("row_start", pa.int32()), ("length", pa.int32()), ("id", pa.string()),
    ("repeat", pa.int32()), ("doc_start", pa.int64()), ("doc_index", pa.int64()), ("group", pa.string()),
])


def pieces(content: ShardContent) -> pa.Table:
    """The provenance table of one shard (see the module doc)."""
    doc_starts = content.doc_offsets[:-1]
    doc_ends = content.doc_offsets[1:]
    piece_lens = content.doc_lens.astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(piece_lens)[:-1]]).astype(np.int64)  # in the rows' token stream
    rows = np.repeat(np.arange(content.rows, dtype=np.int64), np.diff(content.doc_lens_offsets))
    doc = np.searchsorted(doc_ends, starts, side="right")  # == documents for a pad piece
    real = doc < content.documents
    # what the rows do not hold (last: drop): the rest of the document cut, and any later documents
    held = int(starts[-1] + piece_lens[-1]) if len(starts) else 0
    tail_docs = np.arange(np.searchsorted(doc_ends, held, side="right"), content.documents)
    tail_starts = np.maximum(doc_starts[tail_docs], held)
    ids = np.array(content.doc_ids + [None], dtype=object)
    groups = np.array(content.doc_groups + [None], dtype=object)
    repeats = np.concatenate([content.doc_repeats.astype(np.int32), [0]])
    doc_all = np.concatenate([doc, tail_docs]).astype(np.int64)
    start_all = np.concatenate([starts, tail_starts]).astype(np.int64)
    table = pa.table({
        "row": np.concatenate([rows, np.full(len(tail_docs), -1, np.int64)]),
        "row_start": np.concatenate([starts - content.row_offsets[rows], np.zeros(len(tail_docs), np.int64)]).astype(np.int32),
        "length": np.concatenate([piece_lens, doc_ends[tail_docs] - tail_starts]).astype(np.int32),
        "id": pa.array(ids[doc_all], pa.string()),
        "repeat": pa.array(np.where(doc_all < content.documents, repeats[doc_all], 0), pa.int32()),
        "doc_start": np.where(doc_all < content.documents,
                              start_all - np.concatenate([doc_starts, [0]])[doc_all], 0).astype(np.int64),
        "doc_index": np.where(np.concatenate([real, np.ones(len(tail_docs), bool)]), doc_all, -1),
        "group": pa.array(groups[doc_all], pa.string()),
    }, schema=SCHEMA)
    return table


def write_provenance(content: ShardContent, folder: Path) -> Path:
    path = folder / content.split / f"{content.stem}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pieces(content), path, compression="zstd")
    return path
