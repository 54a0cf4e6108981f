"""Which documents fed a training row: provenance pieces joined with the run's ``documents/``.

    python -m curate.trainer trace OUT --split train --shard 3 --row 17        # Parquet/MDS/LitData row
    python -m curate.trainer trace OUT --split train --shard 3 --document 40   # memmap document
    python -m curate.trainer trace OUT --split train --group web --sequence 9  # Megatron sequence

``OUT`` is a run's output folder (with ``trainer/`` and ``documents/``). For every piece of the
row (or the one document) it prints where the piece sits, the document id and copy, and the
document's own columns: source, domain, language, the signals of every filter it passed, quality
scores and, for synthetic documents, the model, task, template and source document that made it.
A trainer's step N on rank r maps to a shard and row through its own sampler; this answers the rest.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

#: Document columns too long or too nested to print per piece.
_SKIPPED = frozenset({"text", "lang_top", "lang_mix", "metadata"})


def provenance_files(trainer: Path, split: str) -> list[Path]:
    files = sorted((trainer / "provenance" / split).glob("part-*.parquet"))
    if not files:
        raise FileNotFoundError(f"{trainer / 'provenance' / split}: no provenance tables (built before provenance existed?)")
    return files


def pieces_where(trainer: Path, split: str, shard: int, column: str, value: int) -> pa.Table:
    """The provenance rows of one shard whose ``column`` (``row`` or ``doc_index``) is ``value``."""
    table = pq.read_table(provenance_files(trainer, split)[shard])
    picked = table.filter(pc.equal(table.column(column), value))
    if picked.num_rows == 0:
        what = "row" if column == "row" else "document"
        raise IndexError(f"{split} shard {shard} has no {what} {value}")
    return picked


def megatron_sequence(trainer: Path, split: str, group: str, sequence: int) -> tuple[int, int]:
    """(shard, document index in the shard) of sequence ``sequence`` of a group's Megatron prefix:
    the prefix holds the group's documents shard after shard, in order."""
    seen = 0
    for shard, path in enumerate(provenance_files(trainer, split)):
        table = pq.read_table(path, columns=["doc_index", "group"])
        docs = pc.unique(table.filter(pc.equal(table.column("group"), group)).column("doc_index")).to_pylist()
        docs = sorted(d for d in docs if d >= 0)
        if sequence < seen + len(docs):
            return shard, docs[sequence - seen]
        seen += len(docs)
    raise IndexError(f"the {split} prefix of group {group!r} has {seen} sequences, not {sequence + 1}")


def documents_by_id(out: Path, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The run's document rows for ``ids`` (without the text), read with a filter, not whole."""
    folder = out / "documents"
    if not folder.is_dir():
        return {}
    dataset = pads.dataset(folder, format="parquet")
    columns = [c for c in dataset.schema.names if c not in _SKIPPED]
    table = dataset.to_table(columns=columns, filter=pc.field("id").isin(ids))
    return {row["id"]: {k: v for k, v in row.items() if v is not None} for row in table.to_pylist()}


def trace(out: Path, split: str, pieces: pa.Table) -> list[dict[str, Any]]:
    """Every piece with the document it comes from (``document`` is absent for padding)."""
    rows = pieces.to_pylist()
    found = documents_by_id(out, sorted({p["id"] for p in rows if p["id"] is not None}))
    return [{**p, **({"document": found.get(p["id"], "not in documents/")} if p["id"] is not None else {})}
            for p in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curate.trainer trace", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="a run's output folder (holds trainer/ and documents/)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--shard", type=int, help="shard number (part-<n>)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--row", type=int, help="a row of the Parquet, MDS or LitData shard")
    where.add_argument("--document", type=int, help="a document of the memmap shard (its order in the shard)")
    where.add_argument("--sequence", type=int, help="a sequence of a Megatron prefix (with --group)")
    parser.add_argument("--group", help="the mixture group naming the Megatron prefix (web, math, ...)")
    args = parser.parse_args(argv)
    trainer = args.out / "trainer"
    try:
        if args.sequence is not None:
            if args.group is None:
                parser.error("--sequence needs --group")
            shard, document = megatron_sequence(trainer, args.split, args.group, args.sequence)
            pieces = pieces_where(trainer, args.split, shard, "doc_index", document)
        elif args.shard is None:
            parser.error("--row and --document need --shard")
        elif args.row is not None:
            pieces = pieces_where(trainer, args.split, args.shard, "row", args.row)
        else:
            pieces = pieces_where(trainer, args.split, args.shard, "doc_index", args.document)
    except (FileNotFoundError, IndexError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for piece in trace(args.out, args.split, pieces):
        print(json.dumps(piece, ensure_ascii=False, default=str))
    return 0
