"""A bounded sample of documents for the browser: a few per group, whatever the size of the run.

Picking rows reads only the grouping columns, one part file at a time, and stops as soon as
every group has its quota; fetching them reads only the row groups that hold them. So the cost
is a pass over a couple of small columns at worst and a handful of row groups of text, never
the corpus's text.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dashboards.queries import parquet_files

#: Columns the browser never shows (token ids, per-line language lists: bulky and unreadable).
SKIP_COLUMNS = frozenset({"input_ids", "lang_mix"})


def sample_rows(output_dir: str | Path, folder: str, by: list[str], per_group: int = 5,
                max_text_chars: int = 3000, seed: int = 0) -> list[dict[str, Any]]:
    """Up to ``per_group`` rows of ``folder`` for every value of ``by``, as JSON-ready dicts.

    Files are visited in a seeded order so the sample is not always the first shard's head.
    ``text`` is cut to ``max_text_chars`` (``text_chars`` keeps the full length).
    """
    files = parquet_files(output_dir, folder)
    random.Random(seed).shuffle(files)
    taken: dict[tuple, int] = defaultdict(int)
    groups_left: set[tuple] | None = None
    rows: list[dict[str, Any]] = []
    for path in files:
        scan = pl.scan_parquet(path)
        have = scan.collect_schema().names()
        keys = [pl.col(c) if c in have else pl.lit(None, pl.String).alias(c) for c in by]
        picks = (scan.select(keys).with_row_index("_row")
                 .group_by(by, maintain_order=True).head(per_group).collect())
        if groups_left is None:
            groups_left = _all_groups(output_dir, folder, by)
        chosen = []
        for pick in picks.iter_rows(named=True):
            group = tuple(pick[c] for c in by)
            if taken[group] < per_group:
                taken[group] += 1
                chosen.append(pick["_row"])
                if taken[group] == per_group:
                    groups_left.discard(group)
        if chosen:
            rows.extend(_fetch(path, chosen, max_text_chars, folder))
        if not groups_left:
            break
    return rows


def _all_groups(output_dir: str | Path, folder: str, by: list[str]) -> set[tuple]:
    from dashboards.queries import _scan

    scan = _scan(output_dir, folder)
    have = scan.collect_schema().names()
    keys = [pl.col(c) if c in have else pl.lit(None, pl.String).alias(c) for c in by]
    return {tuple(r) for r in scan.select(keys).unique().collect().iter_rows()}


def _fetch(path: Path, rows: list[int], max_text_chars: int, folder: str) -> list[dict[str, Any]]:
    """Read just the row groups holding ``rows`` and return those rows."""
    parquet = pq.ParquetFile(path)
    starts, start = [], 0
    for i in range(parquet.metadata.num_row_groups):
        starts.append(start)
        start += parquet.metadata.row_group(i).num_rows
    wanted = defaultdict(list)
    for row in sorted(rows):
        group = max(i for i, s in enumerate(starts) if s <= row)
        wanted[group].append(row - starts[group])
    columns = [c for c in parquet.schema_arrow.names if c not in SKIP_COLUMNS]
    out = []
    for group, offsets in sorted(wanted.items()):
        table = parquet.read_row_group(group, columns=columns).take(pa.array(offsets))
        for record in table.to_pylist():
            out.append(_clean(record, max_text_chars, folder, path.name))
    return out


def _clean(record: dict[str, Any], max_text_chars: int, folder: str, file: str) -> dict[str, Any]:
    text = record.pop("text", None) or ""
    doc = {"status": "kept" if folder == "documents" else "rejected", "file": file,
           "text": text[:max_text_chars], "text_chars": len(text)}
    for key, value in record.items():
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            continue
        doc[key] = value
    return doc


def browser_sample(output_dir: str | Path, per_group: int = 5, max_text_chars: int = 3000,
                   seed: int = 0) -> list[dict[str, Any]]:
    """Kept documents per domain and language, rejected ones per stage and reason."""
    kept = sample_rows(output_dir, "documents", ["domain", "lang"], per_group=max(1, per_group // 2),
                       max_text_chars=max_text_chars, seed=seed)
    dropped = sample_rows(output_dir, "rejected", ["reject_stage", "reject_reason"], per_group=per_group,
                          max_text_chars=max_text_chars, seed=seed)
    return kept + dropped
