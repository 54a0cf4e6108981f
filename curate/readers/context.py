"""What every reader gets: the file, its source's options, and helpers that build rows.

Readers are generators of row dicts (``iter_rows(ctx)``); they never build Arrow tables or
decide ids themselves. :meth:`ReadContext.document` and :meth:`ReadContext.rejected` make the
rows, so every format produces the same columns and the same kind of stable id:
``<source name>/<record key>``, where the key is the record's own id when the field map names
one, else the file's path plus the record's position in it.
"""

from __future__ import annotations

import io
import json
import unicodedata
from dataclasses import dataclass
from typing import IO, Any

import fsspec

from curate.config import SourceConfig
from curate.readers.charset import decode_bytes
from curate.readers.zstd_stream import open_zstd
from curate.sources import FileTask

#: Rejected raw records keep at most this much of their text (the rest is counted in the detail).
MAX_REJECTED_TEXT = 64 * 1024


@dataclass
class ReadContext:
    task: FileTask
    source: SourceConfig
    local_path: str
    """What to open: the downloaded copy of a remote file, or the local file itself."""
    position: str = "start"
    """Where the reader is (``line 12``, ``record 7 at byte 3456``); named in per-file error rows."""

    def open(self, compression: str | None = "infer") -> IO[bytes]:
        """The file's bytes, decompressed by suffix (.gz, .zst, .bz2, .xz) unless told otherwise."""
        if compression == "infer":
            compression = fsspec.utils.infer_compression(self.task.path)
        if compression == "zstd":  # fsspec's zstd reader ends silently at a cut frame
            return open_zstd(fsspec.open(self.local_path, "rb").open())
        handle = fsspec.open(self.local_path, "rb", compression=compression).open()
        # zstandard's reader has no readline(); a buffer over any decompressor gives it one.
        return io.BufferedReader(handle) if compression else handle

    def doc_id(self, key: str) -> str:
        return f"{self.task.source}/{key}"

    def _base(self, key: str, text: str, columns: dict[str, Any]) -> dict[str, Any]:
        metadata = columns.pop("metadata", None)
        if isinstance(metadata, dict):
            metadata = json.dumps(metadata, ensure_ascii=False, default=str) if metadata else None
        row = {
            "id": self.doc_id(key),
            "text": text,
            "source": self.task.source,
            "domain": self.source.domain,
            "path": self.task.relpath,
            "metadata": metadata,
        }
        row.update(columns)
        return row

    def document(self, key: str, text: str, **columns: Any) -> dict[str, Any]:
        """A kept document; its text is Unicode-normalised as the source asks."""
        form = self.source.normalize_unicode
        return self._base(key, unicodedata.normalize(form, text) if form else text, columns)

    def rejected(self, key: str, raw: str | bytes, reason: str, detail: str, **columns: Any) -> dict[str, Any]:
        """A record that cannot become a document, kept (bounded) with the reason why."""
        if isinstance(raw, bytes):
            raw = raw[: MAX_REJECTED_TEXT * 4].decode("utf-8", errors="replace")
        if len(raw) > MAX_REJECTED_TEXT:
            detail = f"{detail}; text truncated to {MAX_REJECTED_TEXT} characters"
            raw = raw[:MAX_REJECTED_TEXT]
        row = self._base(key, raw, columns)
        row.update(reject_stage="read", reject_reason=reason, reject_detail=f"{self.task.path}: {detail}")
        return row

    def file_error(self, reason: str, exc: BaseException | str) -> dict[str, Any]:
        """One row standing for the part of a file that could not be read."""
        cause = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        return self.rejected(f"{self.task.relpath}#error", "", reason, f"after {self.position}: {cause}")


def decode_text(data: bytes, declared: str | None = None) -> tuple[str, str] | None:
    """Bytes -> (text, charset), or None if hopeless (mojibake, binary): the caller rejects those.

    One decoder for every reader: :func:`curate.readers.charset.decode_bytes` (BOM, UTF-8, the
    declared charset, detection with a web prior).
    """
    return decode_bytes(data, declared)
