"""Fetch remote files into a local cache, surviving flaky servers.

* retries with exponential backoff and full jitter on 5xx/429/408, timeouts and connection
  resets; a body cut short is a failure too (its length is checked);
* resume: a partial download lives on as ``<cache>.part`` and the next attempt (or the next run)
  asks for the missing bytes only (HTTP ``Range``; ``seek`` for other fsspec filesystems); a
  server that ignores ``Range``, or answers ``206`` from another offset than asked, gets a clean
  restart (Content-Range's start and total are checked, so no byte is appended twice);
* a trickling server is cut off: ``download.min_bytes_per_second`` per ``timeout_seconds``
  window (retried), and ``download.deadline_seconds`` for the whole file;
* an unasked ``Content-Encoding`` is undone unless the URL names a file in that coding (see
  :func:`body_decoder`); redirect loops and bad URLs are DownloadErrors, so ``on_error: skip`` applies;
* optional sha256/md5 checksums, checked before a file counts as downloaded;
* a per-file byte limit for sampling runs; and a cache so a rerun does not fetch again.

HTTP goes through ``requests`` with ``Accept-Encoding: identity`` so byte offsets mean bytes of
the file; s3://, gs://, hf:// and the rest go through fsspec with the filesystem's own
credential chain.
"""

from curate.download.errors import ChecksumMismatch, DownloadError
from curate.download.fetch import (
    FetchResult,
    backoff_delay,
    cache_path,
    downloads_dir,
    fetch,
    file_digest,
    verify_checksum,
)
from curate.download.urls import LOCAL_PROTOCOLS, is_remote, protocol_of, url_path

__all__ = [
    "LOCAL_PROTOCOLS", "ChecksumMismatch", "DownloadError", "FetchResult", "backoff_delay", "cache_path",
    "downloads_dir", "fetch", "file_digest", "is_remote", "protocol_of", "url_path", "verify_checksum",
]
