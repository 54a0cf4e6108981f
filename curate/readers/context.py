"""What every reader gets: the file, its source's options, and helpers that build rows.

Readers are generators of rows (``iter_rows(ctx)``): dicts, or :data:`PlainDocument` tuples for
the usual document; they never build Arrow tables or decide ids themselves.
:meth:`ReadContext.document`, :meth:`ReadContext.plain_document` and :meth:`ReadContext.rejected`
make the rows, so every format produces the same columns and the same kind of stable id, in one
of two namespaces that cannot meet (source names hold no ``/`` or ``:``):

- ``<source>/<id>``: a record's own id (:meth:`ReadContext.own_id`), unique in its file by a
  check as it is read, re-keyed or refused per the source's ``ids`` option;
- ``<source>:<key>``: a key the reader derives from where the record is (``<file>:<line>``,
  ``<file>@<offset>``, ``<file>!<member>``, the file's path), unique by construction.

Every row also names its ``input_file``, so (input_file, id) is unique in a run whatever the
records claim: dedup decides by that, and the summary accounts for every input by it.
"""

from __future__ import annotations

import io
import json
import unicodedata
from dataclasses import dataclass, field
from typing import IO, Any

import fsspec

from curate.config import SourceConfig
from curate.download import url_path
from curate.ids import DuplicateIdError, id_digest
from curate.readers.charset import decode_bytes
from curate.readers.zstd_stream import open_zstd
from curate.sources import FileTask


class RecordId(str):
    """A finished document id built from a record's own id (not a key to prefix)."""


#: (id, text, url, metadata JSON): a document row that needs no other column.
PlainDocument = tuple[str, str, str | None, str | None]


__all__ = ["DuplicateIdError", "PlainDocument", "ReadContext", "RecordId", "decode_text"]


@dataclass
class ReadContext:
    task: FileTask
    source: SourceConfig
    local_path: str
    """What to open: the downloaded copy of a remote file, or the local file itself."""
    position: str = "start"
    """Where the reader is (``line 12``, ``record 7 at byte 3456``); named in per-file error rows."""
    used_ids: set[int] = field(default_factory=set)
    """64-bit digests of the record ids this file has given out: the per-file uniqueness check
    costs ~70 bytes a record, only for records that carry their own id."""

    def open(self, compression: str | None = "infer") -> IO[bytes]:
        """The file's bytes, decompressed by suffix (.gz, .zst, .bz2, .xz) unless told otherwise."""
        if compression == "infer":
            compression = fsspec.utils.infer_compression(url_path(self.task.path))  # not a signed URL's query
        if compression == "zstd":  # fsspec's zstd reader ends silently at a cut frame
            return open_zstd(fsspec.open(self.local_path, "rb").open())
        handle = fsspec.open(self.local_path, "rb", compression=compression).open()
        # A decompressor without readline() or read1() gets a buffer that adds them. gzip, bz2 and
        # lzma files have both, and go unwrapped: a buffer's read fills itself across the end of
        # the stream, so a bad checksum there would take the last block's good lines with it.
        needs_buffer = compression and not (hasattr(handle, "readline") and hasattr(handle, "read1"))
        return io.BufferedReader(handle) if needs_buffer else handle

    def doc_id(self, key: str) -> str:
        """``<source>:<key>`` for keys derived from a record's place; own ids pass through."""
        return key if isinstance(key, RecordId) else f"{self.task.source}:{key}"

    def own_id(self, value: Any) -> RecordId:
        """A record's own id as a document id no other record of this file has (``ids`` option)."""
        value = str(value)
        first = self._scoped(value) if self.source.ids == "file" else f"{self.task.source}/{value}"
        if self._claim(first):
            return RecordId(first)
        if self.source.ids == "error":
            raise DuplicateIdError(
                f"source {self.task.source!r}: id {value!r} appears twice in {self.task.path} (again at "
                f"{self.position}); ids must be unique (sources.*.ids: error). Set ids: rekey or ids: file to re-key them")
        scoped_id = self._scoped(value)
        candidate, n = scoped_id, 1
        while not self._claim(candidate):  # deterministic: the file is read in order
            n += 1
            candidate = f"{scoped_id}#{n}"
        return RecordId(candidate)

    def _scoped(self, value: str) -> str:
        """``<source>/<file>:<id>``: an own id scoped by its file."""
        return f"{self.task.source}/{self.task.relpath}:{value}"

    def _claim(self, doc_id: str) -> bool:
        digest = id_digest(doc_id)
        if digest in self.used_ids:
            return False
        self.used_ids.add(digest)
        return True

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
            "input_file": self.task.path,
        }
        row.update(columns)
        return row

    def document(self, key: str, text: str, **columns: Any) -> dict[str, Any]:
        """A kept document; its text is Unicode-normalised as the source asks."""
        form = self.source.normalize_unicode
        return self._base(key, unicodedata.normalize(form, text) if form else text, columns)

    def plain_document(self, key: str, text: str, url: str | None, metadata: dict[str, Any]) -> PlainDocument:
        """A kept document with no columns but id, text, url and metadata (most JSONL and Parquet
        records), as a tuple: :class:`curate.readers.batch.Batch` puts it in columns without a dict."""
        form = self.source.normalize_unicode
        return (self.doc_id(key), unicodedata.normalize(form, text) if form else text, url,
                json.dumps(metadata, ensure_ascii=False, default=str) if metadata else None)

    def rejected(self, key: str, raw: str | bytes, reason: str, detail: str, *, size: int | None = None,
                 **columns: Any) -> dict[str, Any]:
        """A record that cannot become a document, kept with the reason why: its text (bytes decoded
        with U+FFFD for what is not UTF-8) up to the source's ``max_record_bytes``; above that, a
        marker with its size. ``size``: the whole record's bytes when ``raw`` holds only its start."""
        limit = self.source.max_record_bytes
        length = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", errors="replace"))
        total = max(size or 0, length)
        if total > limit:
            raw = f"[not kept: {total} bytes > max_record_bytes {limit}]"
        elif isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
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
