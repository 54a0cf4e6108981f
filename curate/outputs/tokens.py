"""``tokens/``: one row per kept document (id, domain, lang, ``input_ids``), and ``manifest.json``
naming the tokenizer, its fingerprint and every shard with its checksum."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from curate.outputs.base import FinalizeContext, Sink
from curate.outputs.parquet import write_part

TOKEN_COLUMNS = ("id", "domain", "lang", "input_ids")
MANIFEST = "manifest.json"


class TokensSink(Sink):
    name: ClassVar[str] = "tokens"
    folder: ClassVar[str] = "tokens"
    always_present: ClassVar[bool] = False  # only runs with a tokenizing stage have it

    def __init__(self, tokenizer: str) -> None:
        self.tokenizer = tokenizer  # the name the tokenizing stage loads (curate.tokenizer)

    def write(self, kept: pa.Table, rejected: pa.Table, staging: Path, part: str) -> list[dict[str, Any]]:
        if not kept.num_rows:
            return []
        if "input_ids" not in kept.column_names:
            raise ValueError("the tokens output needs an input_ids column: no tokenizing stage ran on these rows")
        columns = [c for c in TOKEN_COLUMNS if c in kept.column_names]  # no lang without langid
        return [write_part(kept.select(columns), staging, self.folder, part)]

    def finalize(self, staging: Path, ctx: FinalizeContext) -> dict[str, Any]:
        from curate.outputs.commit import write_json
        from curate.tokenizer import load_tokenizer

        tokenizer = load_tokenizer(self.tokenizer)
        (staging / self.folder).mkdir(exist_ok=True)  # no kept documents: no shard, still a manifest
        write_json(staging / self.folder / MANIFEST, manifest(ctx, tokenizer))
        return {"tokenizer": {"name": tokenizer.name, "fingerprint": tokenizer.fingerprint}}


def manifest(ctx: FinalizeContext, tokenizer) -> dict[str, Any]:
    shards = sorted((f for f in ctx.files if f["folder"] == "tokens"), key=lambda f: f["file"])
    return {
        "format": "curate.tokens/1",
        "tokenizer": {"name": tokenizer.name, "fingerprint": tokenizer.fingerprint, "ranks_sha256": tokenizer.ranks_sha256},
        "vocab_size": tokenizer.vocab_size,
        "eos_id": tokenizer.eos_id,
        "dtype": "uint32",
        "layout": "one row per document: input_ids = tokens + eos",
        "total_tokens": sum(s["tokens"] for s in shards),
        "total_documents": sum(s["rows"] for s in shards),
        "shards": [{"file": s["file"].split("/", 1)[1], "documents": s["rows"], "tokens": s["tokens"],
                    "bytes": s["bytes"], "sha256": s["sha256"]} for s in shards],
        "config_hash": ctx.loaded.config_hash,
    }
