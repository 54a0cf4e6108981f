"""Read one input file into batches of documents (:data:`curate.schema.BASE_SCHEMA`).

Each format is a module with ``iter_rows(ctx)`` (see :mod:`curate.readers.context`). Bad
records never stop a read and are never lost: they come back as rejected rows. When a file
turns unreadable part-way (corrupt gzip, truncated WARC), the rows read so far are kept and one
per-file error row says where and why.
"""

from __future__ import annotations

import importlib
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import zstandard

from curate.config import SourceConfig
from curate.readers.batch import Batch
from curate.readers.context import ReadContext
from curate.schema import BASE_SCHEMA
from curate.sources import FileTask, link_out_of_tree

READERS: dict[str, str] = {
    "jsonl": "curate.readers.jsonl",
    "parquet": "curate.readers.parquet",
    "text": "curate.readers.text",
    "code": "curate.readers.code",
    "archive": "curate.readers.archive",
    "warc": "curate.readers.warc",
}

#: Exceptions that mean "this file's bytes are bad", not "our code is wrong".
#: (zstandard and lzma errors are not OSErrors: a garbage .zst or .xz raises them.)
FILE_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, ValueError, zlib.error, tarfile.TarError, zipfile.BadZipFile,
    zstandard.ZstdError, lzma.LZMAError,
)
_CORRUPT_ERRORS = (zlib.error, tarfile.TarError, zipfile.BadZipFile, zstandard.ZstdError, lzma.LZMAError)


def reader_for(fmt: str) -> Callable[[ReadContext], Iterator[dict[str, Any]]]:
    if fmt not in READERS:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(sorted(READERS))})")
    return importlib.import_module(READERS[fmt]).iter_rows


#: How a cut file announces itself: tarfile ("unexpected end of data"), fastwarc on a .warc.zst
#: ("incomplete frame"), gzip/bz2/lzma/zstd ("compressed file ended").
_TRUNCATION_SIGNS = ("truncat", "end of stream", "compressed file ended", "unexpected end of data", "incomplete frame")


def _classify(exc: BaseException) -> str:
    text = f"{type(exc).__name__} {exc}".lower()
    if isinstance(exc, EOFError) or any(sign in text for sign in _TRUNCATION_SIGNS):
        return "truncated_file"
    if isinstance(exc, _CORRUPT_ERRORS) or "gzip" in text or "zstd" in text or "crc" in text:
        return "corrupt_file"
    return "unreadable_file"


def read_file(task: FileTask, source: SourceConfig, batch_rows: int, local_path: str | None = None,
              claimed_ids: set[int] | None = None) -> Iterator[pa.Table]:
    """Batches of rows from one file; corrupt tails become a per-file error row, not an exception.
    ``claimed_ids``: where the digests of the records' own ids go (:class:`curate.ids.FileIds`)."""
    ctx = ReadContext(task=task, source=source, local_path=local_path or task.path,
                      used_ids=claimed_ids if claimed_ids is not None else set())
    target = link_out_of_tree(task, source.paths) if ctx.local_path == task.path else None  # not a download
    if target is not None:
        detail = f"a symbolic link to {target!r}, outside the folder it was listed from; not followed"
        yield pa.Table.from_pylist([ctx.rejected(task.relpath, b"", "symlink", detail)], schema=BASE_SCHEMA)
        return
    rows = Batch(ctx)
    try:
        for row in reader_for(task.format)(ctx):
            rows.add(row)
            if len(rows) >= batch_rows:
                yield rows.take()
    except FILE_ERRORS as exc:
        rows.add(ctx.file_error(_classify(exc), exc))
    if len(rows):
        yield rows.take()
