"""``documents/``: the kept documents with every column the stages added (no token ids)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from curate.outputs.base import Sink
from curate.outputs.parquet import write_part


class DocumentsSink(Sink):
    name: ClassVar[str] = "documents"
    folder: ClassVar[str] = "documents"

    def write(self, kept: pa.Table, rejected: pa.Table, staging: Path, part: str) -> list[dict[str, Any]]:
        if not kept.num_rows:
            return []
        columns = [c for c in kept.column_names if c != "input_ids" and not c.startswith("reject_")]
        return [write_part(kept.select(columns), staging, self.folder, part)]
