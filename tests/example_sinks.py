"""The README's "Extending" example of an output format, run by tests/outputs/test_outputs.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from curate.outputs.base import Sink
from curate.outputs.parquet import file_sha256


class JsonLinesSink(Sink):
    """``jsonl/``: the kept documents' id, language and text, one JSON object per line."""

    name: ClassVar[str] = "jsonl"
    folder: ClassVar[str] = "jsonl"

    def write(self, kept: pa.Table, rejected: pa.Table, staging: Path, part: str) -> list[dict[str, Any]]:
        if not kept.num_rows:
            return []
        target = staging / self.folder / f"part-{part}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        columns = [c for c in ("id", "lang", "text") if c in kept.column_names]
        with target.open("w", encoding="utf-8") as f:
            for row in kept.select(columns).to_pylist():
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        return [{"record": "file", "folder": self.folder, "file": f"{self.folder}/{target.name}",
                 "rows": kept.num_rows, "tokens": 0, "bytes": target.stat().st_size, "sha256": file_sha256(target)}]
