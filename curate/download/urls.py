"""What a URL names: its protocol, whether it is remote, and the path part that names a file."""

from __future__ import annotations

from urllib.parse import urlsplit

LOCAL_PROTOCOLS = ("", "file", "local")


def protocol_of(url: str) -> str:
    scheme = urlsplit(url).scheme
    return "" if len(scheme) <= 1 else scheme  # "C:\\..." has a one-letter scheme


def is_remote(url: str) -> bool:
    return protocol_of(url) not in LOCAL_PROTOCOLS


def url_path(url: str) -> str:
    """The path part of a URL: a signed URL's ``?X-Amz-Signature=…`` names no file."""
    return urlsplit(url).path if protocol_of(url) in ("http", "https") else url
