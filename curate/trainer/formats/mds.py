"""MosaicML Streaming (MDS): what Composer / LLM Foundry's ``StreamingDataset`` reads.

Each shard task writes its rows as an MDS dataset of its own, ``mds/<split>/part-<n>/`` with
``shard.00000.mds``, ``shard.00001.mds``, ... (uncompressed, a new file past 64 MiB) and that
part's ``index.json``; the driver then writes ``mds/<split>/index.json`` listing every part's
files in shard order, their basenames relative to the split folder (``part-00000/shard.00000.mds``),
which is what ``streaming.base.util.merge_index`` does. ``StreamingDataset(local="mds/train")``
reads only that root index, so the per-part ones are removed once merged.

Columns: ``input_ids`` (``ndarray:uint32``, the form LLM Foundry's ``StreamingTextDataset`` reads
as pre-tokenized ids), ``doc_lens`` (``ndarray:int32``: the row's document pieces) and, without
packing, ``id`` (``str``). The files are written here with numpy and json, byte for byte as
mosaicml-streaming 0.13's ``MDSWriter`` writes them, because writing must not need the reader
library (and ``import streaming`` pulls in torchvision). The layout:

* a shard file: ``<u4`` sample count ``n``, ``n + 1`` ``<u4`` absolute byte offsets of the samples,
  the writer's config as ``json.dumps(sort_keys=True)``, then the samples back to back;
* a sample: one ``<u4`` size per variable-size column, then each column's bytes, columns sorted
  by name (``doc_lens``, ``id``, ``input_ids``);
* ``ndarray:<dtype>`` (dtype fixed, shape not): one byte ``ndim << 2 | shape code`` (shape code
  0..3: the smallest of uint8/16/32/64 holding every dimension), the shape in that dtype, then
  the values; ``str`` is plain UTF-8.

The size limit works as the writer's: a shard starts at ``8 + len(config)`` bytes, each sample
adds its size + 4, and a sample that would pass the limit starts the next file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from curate.trainer.formats.base import ShardContent, TrainerFormat, count_problems, file_entry

#: MDSWriter's default ``size_limit`` (``1 << 26``).
SIZE_LIMIT = 64 << 20
INDEX = "index.json"


def columns_of(content: ShardContent) -> dict[str, str]:
    """Column name -> MDS encoding, sorted by name as MDSWriter orders them."""
    columns = {"input_ids": "ndarray:uint32", "doc_lens": "ndarray:int32"}
    if content.row_ids is not None:
        columns["id"] = "str"
    return dict(sorted(columns.items()))


def shard_config(columns: dict[str, str], size_limit: int | None) -> dict[str, Any]:
    """MDSWriter's ``get_config()``: the fields every shard carries, in its file and in the index."""
    return {"version": 2, "format": "mds", "compression": None, "hashes": [], "size_limit": size_limit,
            "column_names": list(columns), "column_encodings": list(columns.values()),
            "column_sizes": [None] * len(columns)}  # every column here has a variable size


def ndarray_header(n: int) -> bytes:
    """MDS ``ndarray:<dtype>`` header of a 1-d array of ``n`` values (dtype in the column, shape in
    the sample): ``ndim << 2 | code``, then the shape as uint8/16/32/64 (code 0..3, the smallest that holds it)."""
    code = (n >= 1 << 8) + (n >= 1 << 16) + (n >= 1 << 32)
    return bytes([1 << 2 | code]) + n.to_bytes(1 << code, "little")


def sample_pieces(content: ShardContent, with_id: bool) -> tuple[list[list[Any]], list[int]]:
    """Every row as one MDS sample of the columns ``doc_lens``, [``id``,] ``input_ids``: the pieces
    of each sample (sizes, headers, and slices of the shard's two flat buffers, not copies) and its size."""
    tokens = memoryview(content.row_tokens.astype("<u4", copy=False)).cast("B")
    lens = memoryview(content.doc_lens.astype("<i4", copy=False)).cast("B")
    rows, pieces = content.row_offsets.tolist(), content.doc_lens_offsets.tolist()
    samples, sizes = [], []
    for r in range(content.rows):
        n_tokens, n_lens = rows[r + 1] - rows[r], pieces[r + 1] - pieces[r]
        if not n_tokens or not n_lens:
            raise ValueError("MDS cannot encode an empty array (MDSWriter refuses 0-element arrays)")
        h_lens, h_tokens = ndarray_header(n_lens), ndarray_header(n_tokens)
        fields = [h_lens, lens[4 * pieces[r] : 4 * pieces[r + 1]]]
        field_sizes = [len(h_lens) + 4 * n_lens]
        if with_id:
            text = content.row_ids[r].encode("utf-8")
            fields.append(text)
            field_sizes.append(len(text))
        fields += [h_tokens, tokens[4 * rows[r] : 4 * rows[r + 1]]]
        field_sizes.append(len(h_tokens) + 4 * n_tokens)
        samples.append([np.array(field_sizes, dtype="<u4").tobytes(), *fields])
        sizes.append(4 * len(field_sizes) + sum(field_sizes))
    return samples, sizes


def shard_header(sizes: list[int], config_data: bytes) -> bytes:
    """MDSWriter's ``encode_joint_shard`` up to the samples: count, offsets, config."""
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    offsets += 4 + 4 * (len(sizes) + 1) + len(config_data)
    if offsets[-1] >= 1 << 32:
        raise ValueError(f"an MDS shard of {int(offsets[-1])} bytes does not fit its uint32 offsets")
    return np.uint32(len(sizes)).tobytes() + offsets.astype("<u4").tobytes() + config_data


def group_samples(sizes: list[int], base: int, size_limit: int | None) -> list[tuple[int, int]]:
    """``[start, end)`` sample ranges of the shard files, cut as MDSWriter cuts them (except that
    a first sample over the limit does not leave an empty ``shard.00000.mds`` before it, as there)."""
    ranges, start, size = [], 0, base
    for i, sample in enumerate(sizes):
        if size_limit and i > start and size_limit < size + sample + 4:
            ranges.append((start, i))
            start, size = i, base
        size += sample + 4
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges


def write_index(path: Path, shards: list[dict[str, Any]]) -> None:
    """An ``index.json`` (version 2) as the writer leaves it."""
    path.write_text(json.dumps({"version": 2, "shards": shards}, sort_keys=True), encoding="utf-8")


class MDSFormat(TrainerFormat):
    name: ClassVar[str] = "mds"
    holds: ClassVar[str] = "rows"
    folder: ClassVar[str] = "mds"
    reader: ClassVar[str] = "mosaicml-streaming (streaming.StreamingDataset)"

    def __init__(self, size_limit: int | None = SIZE_LIMIT) -> None:
        if size_limit is not None and not 0 < size_limit < 1 << 32:
            raise ValueError(f"size_limit must be in (0, 2**32) bytes, got {size_limit}")
        self.size_limit = size_limit

    def write(self, content: ShardContent, folder: Path) -> list[dict[str, Any]]:
        columns = columns_of(content)
        config = shard_config(columns, self.size_limit)
        config_data = json.dumps(config, sort_keys=True).encode("utf-8")
        target = folder / content.split / content.stem
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.glob("shard.*.mds"):  # a retried task's earlier files
            stale.unlink()
        samples, sizes = sample_pieces(content, "id" in columns)
        row_tokens = np.diff(content.row_offsets)
        shards, tokens = [], []
        for number, (start, end) in enumerate(group_samples(sizes, 8 + len(config_data), self.size_limit)):
            header = shard_header(sizes[start:end], config_data)
            basename = f"shard.{number:05d}.mds"
            with open(target / basename, "wb") as out:
                out.write(header)
                for sample in samples[start:end]:
                    out.writelines(sample)
            size = len(header) + sum(sizes[start:end])
            shards.append({"samples": end - start, "raw_data": {"basename": basename, "bytes": size, "hashes": {}},
                           "zip_data": None, **config})
            tokens.append(int(row_tokens[start:end].sum()))
        write_index(target / INDEX, shards)
        return [{"split": content.split, "number": content.number, "part": content.stem, "rows": content.rows,
                 "tokens": int(row_tokens.sum()), "shards": shards, "shard_tokens": tokens}]

    def merge(self, folder: Path, split: str, parts: list[dict[str, Any]], content_meta: dict[str, Any]) -> list[dict[str, Any]]:
        """One ``<split>/index.json`` over every part's files, in shard order; the part indexes go."""
        files, shards = [], []
        for part in sorted(parts, key=lambda p: p["number"]):
            for shard, tokens in zip(part["shards"], part["shard_tokens"]):
                basename = f"{part['part']}/{shard['raw_data']['basename']}"
                shards.append({**shard, "raw_data": {**shard["raw_data"], "basename": basename}})
                files.append(file_entry(folder, folder / split / basename, part=part["part"],
                                        rows=shard["samples"], samples=shard["samples"], tokens=tokens))
            (folder / split / part["part"] / INDEX).unlink(missing_ok=True)
        index = folder / split / INDEX
        index.parent.mkdir(parents=True, exist_ok=True)
        write_index(index, shards)
        rows = sum(s["samples"] for s in shards)
        files.append(file_entry(folder, index, rows=rows, samples=rows, shards=len(shards),
                                tokens=sum(p["tokens"] for p in parts)))
        return files

    def check(self, folder: Path, split: str, files: list[dict[str, Any]], meta: dict[str, Any]) -> list[str]:
        """The root index's sample counts against each file's own count and the split's rows."""
        index = json.loads((folder / split / INDEX).read_text(encoding="utf-8"))
        files = [(s["raw_data"]["basename"], folder / split / s["raw_data"]["basename"], s["samples"])
                 for s in index["shards"]]
        return count_problems(f"mds/{split}", files, meta["split"]["rows"], "samples")

