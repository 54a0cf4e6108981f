"""Answers of completed model requests, kept so that a killed and restarted run re-sends none.

Keyed by a SHA-256 of what decides the answer: the model (id, revision), the backend, the
endpoint and the request body (the prompt as token ids or text, the sampling, the seed). The
server's address is not part of the key: replicas of one model answer alike. Stored in SQLite
in write-ahead-log mode, so the workers of a run on one machine (or on a POSIX file system they
share) read and write it at once; each answer is committed as it arrives, so a run killed in the
middle of a batch loses none it had.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def request_key(model: str, revision: str | None, backend: str, path: str, body: dict[str, Any]) -> str:
    identity = {"model": model, "revision": revision, "backend": backend, "path": path, "body": body}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class RequestCache:
    """A SQLite table of (key, answer JSON)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=60, check_same_thread=False)
        self.lock = threading.Lock()  # one connection, shared by the request threads
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL)")
        self.db.commit()

    def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):  # SQLite's limit on bound parameters
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            with self.lock:
                rows = self.db.execute(f"SELECT key, answer FROM answers WHERE key IN ({marks})", chunk).fetchall()
            found.update((key, json.loads(answer)) for key, answer in rows)
        return found

    def put_many(self, items: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Keep answers (committed at once; safe from the request threads)."""
        rows = [(key, json.dumps(answer, separators=(",", ":"))) for key, answer in items]
        if rows:
            with self.lock, self.db:
                self.db.executemany("INSERT OR REPLACE INTO answers (key, answer) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        self.db.close()
