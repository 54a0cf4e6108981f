"""Lightning LitData "optimized" datasets: ``litdata/<split>/index.json`` plus ``chunk-<n>-<i>.bin``.

This is what ``litdata.StreamingDataset`` reads, and so what LitGPT pretraining reads. The chunks
are written by litdata's own ``BinaryWriter`` (no compression, ``chunk_bytes`` ~64 MiB), so the
binary layout is litdata's: ``uint32`` item count, ``uint32[count + 1]`` byte offsets, the items.

* Packed rows (``seq_len`` set): one item per row, the row's ``seq_len + 1`` tokens as a 1-D
  int32 torch tensor (``no_header_tensor``), as LitGPT's prepare scripts write them. LitGPT
  reads them with ``TokensLoader(block_size=seq_len + 1)``, which cuts every chunk's token
  stream into blocks and never lets a block span two chunks; whole rows per chunk therefore
  give back exactly the rows. A shorter row (``shards.last: keep``) would shift every block
  after it or be dropped unseen, so such a shard is refused before anything is written.
  Document boundaries (``doc_lens``) are not stored: ``TokensLoader`` returns tokens only.
* Rows without packing (one per document): one item per row, ``{"input_ids": uint32 array,
  "doc_lens": int32 array, "id": "<id>#<repeat>"}``, read by the default ``PyTreeLoader``.

litdata names a writer's chunks ``chunk-<rank>-<i>.bin`` and its index ``<rank>.index.json``,
with the rank taken from the environment (every Ray task would be rank 0 and overwrite the
others). So each shard task writes into a private staging folder, then moves its chunks to
``chunk-<shard>-<i>.bin`` and writes ``<shard>.index.json``: what ``litdata.optimize`` leaves
with one worker per shard. ``merge`` joins those indexes in shard order into ``index.json``, as
litdata's own merge does (chunk lists concatenated, one shared config), so the dataset holds
shard 0's rows, then shard 1's, and so on.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from curate.trainer.formats.base import ShardContent, TrainerFormat, count_problems, file_entry

INDEX = "index.json"
CHUNK_NAME = re.compile(r"chunk-\d+-\d+\.bin")


def is_packed(content: ShardContent) -> bool:
    """Fixed ``seq_len + 1``-token rows (read by ``TokensLoader``) rather than one row per document."""
    return content.seq_len is not None and content.row_ids is None


def check_packed_rows(content: ShardContent) -> None:
    """Refuse rows that ``TokensLoader(block_size=seq_len + 1)`` cannot give back as they are."""
    assert content.seq_len is not None
    width = content.seq_len + 1
    lengths = np.diff(content.row_offsets)
    bad = np.flatnonzero(lengths != width)
    if len(bad):
        raise ValueError(
            f"litdata: {content.split}/{content.stem} row {int(bad[0])} has {int(lengths[bad[0]])} tokens, not "
            f"seq_len + 1 = {width}; LitData's TokensLoader reads fixed blocks of seq_len + 1 tokens, so a short "
            "last row (shards.last: keep) cannot be written as litdata: use shards.last: drop or pad")
    if content.vocab_size > 2**31:
        raise ValueError(f"litdata: a vocabulary of {content.vocab_size} ids does not fit LitGPT's int32 tokens")


def row_items(content: ShardContent) -> Any:
    """The shard's items in order: int32 token tensors when packed, else one dict per row."""
    if is_packed(content):
        import torch

        for r in range(content.rows):
            yield torch.from_numpy(content.row(r).astype(np.int32))
        return
    ids = content.row_ids if content.row_ids is not None else [str(r) for r in range(content.rows)]
    for r in range(content.rows):
        yield {"input_ids": np.ascontiguousarray(content.row(r), dtype=np.uint32),
               "doc_lens": np.ascontiguousarray(content.row_doc_lens(r), dtype=np.int32), "id": ids[r]}


def write_chunks(content: ShardContent, staging: Path, chunk_bytes: int) -> dict[str, Any]:
    """Write the shard with litdata's ``BinaryWriter`` into ``staging``; returns its per-rank index."""
    from litdata.streaming.item_loader import PyTreeLoader, TokensLoader
    from litdata.streaming.writer import BinaryWriter

    loader = TokensLoader() if is_packed(content) else PyTreeLoader()
    writer = BinaryWriter(str(staging), chunk_bytes=chunk_bytes, item_loader=loader)
    for index, item in enumerate(row_items(content)):
        writer.add_item(index, item)
    writer.done()
    rank_index = staging / f"{writer.rank}.{INDEX}"
    return json.loads(rank_index.read_text(encoding="utf-8"))


class LitDataFormat(TrainerFormat):
    name: ClassVar[str] = "litdata"
    holds: ClassVar[str] = "rows"
    folder: ClassVar[str] = "litdata"
    writes_with: ClassVar[tuple[str, str] | None] = ("litdata", "pip install --no-deps litdata==0.2.76 lightning-utilities")
    reader: ClassVar[str] = "litdata (litdata.StreamingDataset)"
    #: litdata's chunk target (an item is never split, so a chunk holds whole rows).
    chunk_bytes: ClassVar[int] = 64 << 20

    def write(self, content: ShardContent, folder: Path) -> list[dict[str, Any]]:
        if is_packed(content):
            check_packed_rows(content)
        target = folder / content.split
        staging = target / f".{content.stem}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        index = {"chunks": [], "config": None}
        if content.rows:
            index = write_chunks(content, staging, self.chunk_bytes)
        files = []
        for i, chunk in enumerate(index["chunks"]):
            final = target / f"chunk-{content.number}-{i}.bin"
            (staging / chunk["filename"]).replace(final)
            chunk["filename"] = final.name
            tokens = {"tokens": chunk["dim"]} if chunk["dim"] is not None else {}
            files.append(file_entry(folder, final, shard=content.number, chunk=i, rows=chunk["chunk_size"], **tokens))
        shutil.rmtree(staging)
        part_index = target / f"{content.number}.{INDEX}"
        part_index.write_text(json.dumps(index, sort_keys=True), encoding="utf-8")
        files.append(file_entry(folder, part_index, shard=content.number, rows=content.rows, part_index=True))
        return files

    def merge(self, folder: Path, split: str, parts: list[dict[str, Any]], content_meta: dict[str, Any]) -> list[dict[str, Any]]:
        target = folder / split
        indexes = sorted((p for p in parts if p.get("part_index")), key=lambda p: p["shard"])
        chunks: list[dict[str, Any]] = []
        config: dict[str, Any] | None = None
        for part in indexes:
            data = json.loads((folder / part["file"]).read_text(encoding="utf-8"))
            if data["config"] is not None:
                if config is None:
                    config = data["config"]
                elif body(config) != body(data["config"]):
                    raise ValueError(f"litdata: {split} shard {part['shard']} was written with another layout "
                                     f"({data['config']} vs {config})")
            chunks.extend(data["chunks"])
        index_path = target / INDEX
        if config is not None:
            tmp = target / f"{INDEX}.tmp"
            tmp.write_text(json.dumps({"chunks": chunks, "config": config, "updated_at": str(time.time())},
                                      sort_keys=True), encoding="utf-8")
            tmp.replace(index_path)
        else:  # no rows at all: nothing litdata could read
            index_path.unlink(missing_ok=True)
        for part in indexes:
            (folder / part["file"]).unlink()
        keep = {chunk["filename"] for chunk in chunks}
        for stale in target.iterdir():  # chunks of an earlier run with more shards, crashed tasks' staging
            if stale.is_dir() and stale.name.endswith(".staging"):
                shutil.rmtree(stale)
            elif CHUNK_NAME.fullmatch(stale.name) and stale.name not in keep:
                stale.unlink()
        if config is None:
            return []
        chunk_files = sorted((p for p in parts if not p.get("part_index")), key=lambda p: (p["shard"], p["chunk"]))
        rows = sum(p["rows"] for p in indexes)
        return chunk_files + [file_entry(folder, index_path, rows=rows, chunks=len(chunks), shards=len(indexes),
                                         item_loader=config["item_loader"])]


    def check(self, folder: Path, split: str, files: list[dict[str, Any]], meta: dict[str, Any]) -> list[str]:
        """The index's item counts against each chunk's own count and the split's rows."""
        index_path = folder / split / INDEX
        if not index_path.is_file():
            return [] if meta["split"]["rows"] == 0 else [f"litdata/{split}: no {INDEX}"]
        index = json.loads(index_path.read_text(encoding="utf-8"))
        files = [(c["filename"], folder / split / c["filename"], c["chunk_size"]) for c in index["chunks"]]
        return count_problems(f"litdata/{split}", files, meta["split"]["rows"], "items")


def body(config: dict[str, Any]) -> dict[str, Any]:
    """A writer config without its ``types`` (litdata's merge compares configs the same way)."""
    return {key: value for key, value in config.items() if key != "types"}
