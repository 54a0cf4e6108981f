"""Flat token memmaps (OLMo style): one raw token file per shard plus a small metadata file.

``memmap/<split>/part-<n>.npy`` is the shard's documents back to back (each ending in EOS), as a
raw little-endian array with no header (OLMo's ``MemMapDataset`` and ``np.memmap`` read it with
the dtype alone), uint16 when the vocabulary fits, else uint32. ``part-<n>.json`` says the dtype,
the token count, the EOS id and every document's ``[start, end)`` token offsets and id, so a
document can be found again without scanning for EOS. The trainer cuts its own sequences.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from curate.trainer.formats.base import ShardContent, TrainerFormat, file_entry, smallest_token_dtype


class MemmapFormat(TrainerFormat):
    name: ClassVar[str] = "memmap"
    holds: ClassVar[str] = "documents"
    folder: ClassVar[str] = "memmap"
    reader: ClassVar[str] = "numpy.memmap (OLMo's MemMapDataset)"

    def write(self, content: ShardContent, folder: Path) -> list[dict[str, Any]]:
        dtype = smallest_token_dtype(content.vocab_size)
        target = folder / content.split
        target.mkdir(parents=True, exist_ok=True)
        tokens_path = target / f"{content.stem}.npy"
        content.doc_tokens.astype(dtype, copy=False).tofile(tokens_path)
        meta = {
            "dtype": dtype.name, "tokens": int(len(content.doc_tokens)), "eos_id": content.eos_id,
            "documents": [{"id": doc_id, "repeat": int(repeat), "start": int(start), "end": int(end)}
                          for doc_id, repeat, start, end in zip(content.doc_ids, content.doc_repeats.tolist(),
                                                                content.doc_offsets[:-1].tolist(),
                                                                content.doc_offsets[1:].tolist())],
        }
        meta_path = target / f"{content.stem}.json"
        meta_path.write_text(json.dumps(meta), encoding="utf-8")
        return [file_entry(folder, tokens_path, dtype=dtype.name, tokens=meta["tokens"],
                           documents=content.documents),
                file_entry(folder, meta_path)]

    def check(self, folder: Path, split: str, files: list[dict[str, Any]], meta: dict[str, Any]) -> list[str]:
        problems = []
        documents = tokens = 0
        for entry in files:
            if not entry["file"].endswith(".npy"):
                continue
            path = folder / entry["file"]
            name = f"memmap/{entry['file']}"
            info = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            data = np.memmap(path, dtype=np.dtype(info["dtype"]), mode="r") if path.stat().st_size else np.zeros(0)
            docs = info["documents"]
            starts = np.array([d["start"] for d in docs], dtype=np.int64)
            ends = np.array([d["end"] for d in docs], dtype=np.int64)
            if len(data) != info["tokens"] or (len(docs) and (starts[0] != 0 or ends[-1] != len(data)
                                                              or (starts[1:] != ends[:-1]).any())):
                problems.append(f"{name}: document offsets do not tile its {len(data)} tokens")
                continue
            if len(data) and int(data.max()) >= meta["vocab_size"]:
                problems.append(f"{name}: token id {int(data.max())} is not below vocab_size {meta['vocab_size']}")
            if len(docs) and (data[ends - 1] != meta["eos_id"]).any():
                problems.append(f"{name}: documents that do not end with eos_id {meta['eos_id']}")
            documents, tokens = documents + len(docs), tokens + len(data)
        want = (meta["split"]["documents"], meta["split"]["document_tokens"])
        if (documents, tokens) != want:
            problems.append(f"memmap/{split}: {documents} documents / {tokens} tokens, manifest says {want[0]} / {want[1]}")
        return problems
