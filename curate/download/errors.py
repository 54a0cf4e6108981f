"""What a download can fail with: a DownloadError for the user, a Retryable for the retry loop."""

from __future__ import annotations


class DownloadError(RuntimeError):
    """A file could not be fetched after the configured retries (or not at all)."""


class ChecksumMismatch(DownloadError):
    pass


class Retryable(Exception):
    """Transient trouble (a reset, a timeout, a 5xx, a trickle): the next attempt resumes."""

