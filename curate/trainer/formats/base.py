"""The trainer-format contract: one shard's content, in the global order, and the writer of a format.

The shard builder (:mod:`curate.trainer.shards`) decides *what* goes into each shard (mixture,
split, seeded global order, packing) once; every format writes that same content its own way.
A format holds one of two things:

* ``rows``: the rows of the Parquet shards (packed ``seq_len + 1``-token sequences with their
  ``doc_lens``, or one row per document without ``seq_len``): Parquet, MDS, LitData;
* ``documents``: the whole documents in the shard's order, each ending in EOS, for trainers that
  pack themselves (Megatron's ``GPTDataset``, OLMo's memmap): Megatron, memmap. The token stream
  is the rows' stream before packing (so it also holds what ``last: drop`` cuts off).

``write`` runs in the Ray task that built the shard, ``merge`` on the driver once per split, after
every shard of the split is written (to turn per-shard pieces into a few files per split).
Each returns the files it leaves, as ``{"file": path relative to the format's folder, "bytes",
"sha256", ...}``, which go into the manifest and are what ``python -m curate.verify`` checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from curate.outputs.parquet import file_sha256


@dataclass(frozen=True)
class ShardContent:
    """What one shard holds, in order; every array is a flat buffer plus offsets (Arrow's layout)."""

    split: str  # "train" or "validation"
    number: int  # the shard's number within its split: part-<number:05d>
    # rows (the Parquet shard's rows)
    row_tokens: np.ndarray  # uint32, all rows back to back
    row_offsets: np.ndarray  # int64, rows + 1
    doc_lens: np.ndarray  # int32, every row's document pieces back to back (a pad piece too)
    doc_lens_offsets: np.ndarray  # int64, rows + 1
    row_ids: list[str] | None  # "<id>#<repeat>" per row without packing (one row per document), else None
    # documents (before packing)
    doc_tokens: np.ndarray  # uint32, the documents back to back, each ending in EOS
    doc_offsets: np.ndarray  # int64, documents + 1
    doc_ids: list[str]  # document ids, in order (a repeated document appears once per copy)
    doc_repeats: np.ndarray  # int32: which copy of the document this is (0 for the first)
    doc_groups: list[str]  # the mixture group of each document (domain, domain/lang or "*")
    # the tokenizer
    vocab_size: int
    eos_id: int
    seq_len: int | None

    @property
    def rows(self) -> int:
        return len(self.row_offsets) - 1

    @property
    def documents(self) -> int:
        return len(self.doc_offsets) - 1

    @property
    def stem(self) -> str:
        return f"part-{self.number:05d}"

    def row(self, r: int) -> np.ndarray:
        return self.row_tokens[self.row_offsets[r] : self.row_offsets[r + 1]]

    def document(self, d: int) -> np.ndarray:
        return self.doc_tokens[self.doc_offsets[d] : self.doc_offsets[d + 1]]

    def row_doc_lens(self, r: int) -> np.ndarray:
        return self.doc_lens[self.doc_lens_offsets[r] : self.doc_lens_offsets[r + 1]]


def smallest_token_dtype(vocab_size: int, signed_above: bool = False) -> np.dtype:
    """uint16 when every token id fits, else uint32 (int32 for formats without unsigned 32-bit)."""
    if vocab_size <= 2**16:
        return np.dtype(np.uint16)
    return np.dtype(np.int32 if signed_above else np.uint32)


def leading_count(path: Path) -> int:
    """The little-endian uint32 item count MDS shards and LitData chunks both start with."""
    with open(path, "rb") as handle:
        return int.from_bytes(handle.read(4), "little")


def count_problems(label: str, files: list[tuple[str, Path, int]], rows: int, unit: str) -> list[str]:
    """Each file's own leading item count against its index's, and their total against the split's
    rows; ``files`` are (name, path, count the index declares)."""
    problems = [f"{label}/{name}: {leading_count(path)} {unit}, index says {declared}"
                for name, path, declared in files if leading_count(path) != declared]
    total = sum(declared for _, _, declared in files)
    if total != rows:
        problems.append(f"{label}: {total} {unit}, manifest says {rows} rows")
    return problems


def file_entry(folder: Path, path: Path, **extra: Any) -> dict[str, Any]:
    """The manifest entry of one written file."""
    return {"file": str(path.relative_to(folder)), "bytes": path.stat().st_size, "sha256": file_sha256(path), **extra}


class TrainerFormat:
    """One output format of ``trainer/``: written per shard in Ray tasks, merged per split on the driver."""

    name: ClassVar[str]
    holds: ClassVar[Literal["rows", "documents"]]
    #: Where it goes under ``trainer/`` (Parquet keeps ``trainer/<split>/`` for compatibility).
    folder: ClassVar[str]
    #: The pip distribution its readers come from (documented in the manifest; not needed to write).
    reader: ClassVar[str] = ""
    #: (module, pip line) the writer itself imports, checked before a run starts; None: nothing extra.
    writes_with: ClassVar[tuple[str, str] | None] = None

    def write(self, content: ShardContent, folder: Path) -> list[dict[str, Any]]:
        """Write one shard under ``folder`` (this format's folder); returns the files written."""
        raise NotImplementedError

    def merge(self, folder: Path, split: str, parts: list[dict[str, Any]], content_meta: dict[str, Any]) -> list[dict[str, Any]]:
        """Turn the per-shard files of one split into what the trainer reads; returns the files left.

        ``content_meta`` holds ``vocab_size``, ``eos_id``, ``seq_len`` and the split's mixture.
        The default leaves the per-shard files as they are."""
        return parts

    def check(self, folder: Path, split: str, files: list[dict[str, Any]], meta: dict[str, Any]) -> list[str]:
        """Problems in this format's files of one split beyond presence and sha256 (which
        ``python -m curate.verify`` checks for every format): counts, vocabulary, boundaries.
        ``meta`` holds ``vocab_size``, ``eos_id``, ``seq_len`` and the split's manifest entry."""
        return []
