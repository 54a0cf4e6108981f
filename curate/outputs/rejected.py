"""``rejected/``: every rejected row with its stage, reason, detail and original text."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from curate.outputs.base import Sink
from curate.outputs.parquet import write_part


class RejectedSink(Sink):
    name: ClassVar[str] = "rejected"
    folder: ClassVar[str] = "rejected"

    def write(self, kept: pa.Table, rejected: pa.Table, staging: Path, part: str) -> list[dict[str, Any]]:
        if not rejected.num_rows:
            return []
        table = rejected.drop_columns([c for c in ("input_ids",) if c in rejected.column_names])
        return [write_part(table, staging, self.folder, part)]
