"""Megatron-LM / NeMo indexed datasets: ``<prefix>.bin`` (tokens) + ``<prefix>.idx`` (the index).

One prefix per split and mixture group (``megatron/train/web.bin``, ``megatron/train/math.bin``,
...), each holding that group's documents in the global seeded order, one sequence per document
(as Megatron's ``preprocess_data.py`` writes them), EOS included. ``megatron/<split>/data_path.txt``
holds the blend for Megatron's ``--data-path`` (``weight prefix`` pairs: each group's share of the
split's tokens as built, so Megatron's ``BlendedDataset`` reproduces the mixture; it packs and
shuffles by itself).

The ``.idx`` layout is Megatron-core's ``_IndexWriter`` (version 1): the 9-byte header
``MMIDIDX\\0\\0``, version ``<Q`` 1, the dtype code ``<B``, the sequence count ``<Q``, the
document count ``<Q``, then int32 sequence lengths, int64 byte pointers into the ``.bin`` and
int64 document indices (``[0, 1, ..., n]``: every sequence is a whole document). The token dtype
is Megatron's choice for the vocabulary (``DType.optimal_dtype``): uint16 under 65,500 ids, else
int32.

Each shard task writes its own pieces (``<group>/part-<n>.bin/.idx``); the driver concatenates a
split's pieces per group, in shard order, into the one prefix Megatron reads, and removes them.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from curate.trainer.formats.base import ShardContent, TrainerFormat, file_entry

INDEX_HEADER = b"MMIDIDX\x00\x00"
#: Megatron-core's DType codes.
DTYPE_CODES = {np.dtype(np.uint8): 1, np.dtype(np.int8): 2, np.dtype(np.int16): 3, np.dtype(np.int32): 4,
               np.dtype(np.int64): 5, np.dtype(np.float64): 6, np.dtype(np.float32): 7, np.dtype(np.uint16): 8}


def megatron_dtype(vocab_size: int) -> np.dtype:
    """Megatron-core's ``DType.optimal_dtype(vocab_size)``."""
    return np.dtype(np.uint16 if vocab_size < 65500 else np.int32)


def prefix_name(group: str) -> str:
    """A file-name-safe prefix for a mixture group (``web/deu_Latn`` -> ``web.deu_Latn``, ``*`` -> ``rest``)."""
    name = "rest" if group == "*" else group.replace("/", ".")
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def write_index(path: Path, dtype: np.dtype, lengths: np.ndarray) -> None:
    """A version-1 ``.idx`` for sequences of ``lengths`` tokens, one document each."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) and int(lengths.max()) > np.iinfo(np.int32).max:
        raise ValueError(f"{path}: a document of {int(lengths.max())} tokens does not fit Megatron's int32 lengths")
    pointers = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths) > 1:
        np.cumsum(lengths[:-1] * dtype.itemsize, out=pointers[1:])
    with open(path, "wb") as out:
        out.write(INDEX_HEADER)
        out.write(struct.pack("<Q", 1))
        out.write(struct.pack("<B", DTYPE_CODES[dtype]))
        out.write(struct.pack("<Q", len(lengths)))
        out.write(struct.pack("<Q", len(lengths) + 1))
        out.write(lengths.astype(np.int32).tobytes())
        out.write(pointers.tobytes())
        out.write(np.arange(len(lengths) + 1, dtype=np.int64).tobytes())


def read_index(path: Path) -> tuple[np.dtype, np.ndarray, np.ndarray, np.ndarray]:
    """(token dtype, sequence lengths, byte pointers, document indices) of a version-1 ``.idx``."""
    data = path.read_bytes()
    if not data.startswith(INDEX_HEADER):
        raise ValueError(f"{path}: not a Megatron index (header {data[:9]!r})")
    version, = struct.unpack_from("<Q", data, 9)
    if version != 1:
        raise ValueError(f"{path}: index version {version}, expected 1")
    code, = struct.unpack_from("<B", data, 17)
    sequences, documents = struct.unpack_from("<QQ", data, 18)
    dtype = next(d for d, c in DTYPE_CODES.items() if c == code)
    at = 34
    lengths = np.frombuffer(data, np.int32, sequences, at)
    pointers = np.frombuffer(data, np.int64, sequences, at + 4 * sequences)
    doc_index = np.frombuffer(data, np.int64, documents, at + 12 * sequences)
    return dtype, lengths, pointers, doc_index


class MegatronFormat(TrainerFormat):
    name: ClassVar[str] = "megatron"
    holds: ClassVar[str] = "documents"
    folder: ClassVar[str] = "megatron"
    reader: ClassVar[str] = "megatron-core (megatron.core.datasets.indexed_dataset.IndexedDataset)"

    def write(self, content: ShardContent, folder: Path) -> list[dict[str, Any]]:
        dtype = megatron_dtype(content.vocab_size)
        groups = np.array(content.doc_groups, dtype=object)
        lengths = np.diff(content.doc_offsets)
        # token ids are below 2**31: uint32 -> int32 is a view, not a copy
        stream = content.doc_tokens.view(np.int32) if dtype == np.int32 else content.doc_tokens.astype(dtype)
        written = []
        for group in sorted(set(content.doc_groups)):
            in_group = groups == group
            members = np.flatnonzero(in_group)
            stem = folder / content.split / prefix_name(group) / content.stem
            stem.parent.mkdir(parents=True, exist_ok=True)
            tokens = stream if in_group.all() else stream[np.repeat(in_group, lengths)]
            bin_path, idx_path = stem.with_suffix(".bin"), stem.with_suffix(".idx")
            tokens.tofile(bin_path)
            write_index(idx_path, dtype, lengths[members])
            written.append({"group": group, "documents": int(len(members)), "tokens": int(lengths[members].sum()),
                            "bin": str(bin_path.relative_to(folder)), "idx": str(idx_path.relative_to(folder))})
        return written

    def merge(self, folder: Path, split: str, parts: list[dict[str, Any]], content_meta: dict[str, Any]) -> list[dict[str, Any]]:
        dtype = megatron_dtype(content_meta["vocab_size"])
        by_group: dict[str, list[dict[str, Any]]] = {}
        for part in parts:
            by_group.setdefault(part["group"], []).append(part)
        files, blend = [], []
        total = sum(p["tokens"] for p in parts) or 1
        for group, pieces in sorted(by_group.items()):
            prefix = folder / split / prefix_name(group)
            lengths = [read_index(folder / piece["idx"])[1] for piece in pieces]
            if len(pieces) == 1:  # nothing to concatenate: move it
                os.replace(folder / pieces[0]["bin"], prefix.with_suffix(".bin"))
            else:
                with open(prefix.with_suffix(".bin"), "wb") as out:
                    for piece in pieces:
                        with open(folder / piece["bin"], "rb") as src:
                            shutil.copyfileobj(src, out, 16 << 20)
            write_index(prefix.with_suffix(".idx"), dtype, np.concatenate(lengths) if lengths else np.zeros(0, np.int64))
            shutil.rmtree(folder / split / prefix_name(group))
            tokens = sum(p["tokens"] for p in pieces)
            documents = sum(p["documents"] for p in pieces)
            for suffix in (".bin", ".idx"):
                files.append(file_entry(folder, prefix.with_suffix(suffix), group=group, documents=documents,
                                        tokens=tokens, dtype=dtype.name))
            blend.append((tokens / total, prefix.name))
        data_path = folder / split / "data_path.txt"
        data_path.write_text(" ".join(f"{weight:.6f} {name}" for weight, name in blend) + "\n", encoding="utf-8")
        return [*files, file_entry(folder, data_path)]

    def check(self, folder: Path, split: str, files: list[dict[str, Any]], meta: dict[str, Any]) -> list[str]:
        problems = []
        expected = megatron_dtype(meta["vocab_size"])
        documents = tokens = 0
        for entry in files:
            if not entry["file"].endswith(".idx"):
                continue
            idx = folder / entry["file"]
            name = f"megatron/{entry['file']}"
            dtype, lengths, pointers, doc_index = read_index(idx)
            bin_path = idx.with_suffix(".bin")
            if dtype != expected:
                problems.append(f"{name}: dtype {dtype.name}, Megatron's for vocab_size {meta['vocab_size']} is {expected.name}")
            size = bin_path.stat().st_size if bin_path.is_file() else -1
            if size != int(lengths.astype(np.int64).sum()) * dtype.itemsize:
                problems.append(f"{name}: sequence lengths add up to {int(lengths.sum())} tokens, the .bin holds {size} bytes")
                continue
            ends = np.cumsum(lengths.astype(np.int64)) * dtype.itemsize
            if len(pointers) and (pointers != np.concatenate([[0], ends[:-1]])).any():
                problems.append(f"{name}: sequence pointers do not follow the lengths")
            if (doc_index != np.arange(len(lengths) + 1)).any():
                problems.append(f"{name}: document indices are not one sequence per document")
            data = np.memmap(bin_path, dtype=dtype, mode="r") if size else np.zeros(0, dtype)
            if len(data) and int(data.max()) >= meta["vocab_size"]:
                problems.append(f"{name}: token id {int(data.max())} is not below vocab_size {meta['vocab_size']}")
            if len(lengths) and (data[ends // dtype.itemsize - 1] != meta["eos_id"]).any():
                problems.append(f"{name}: documents that do not end with eos_id {meta['eos_id']}")
            documents, tokens = documents + len(lengths), tokens + int(lengths.sum())
        want = (meta["split"]["documents"], meta["split"]["document_tokens"])
        if (documents, tokens) != want:
            problems.append(f"megatron/{split}: {documents} documents / {tokens} tokens, manifest says {want[0]} / {want[1]}")
        return problems
