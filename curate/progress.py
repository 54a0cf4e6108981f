"""Live progress in the terminal: files read (and bytes fetched) and documents written.

Files and bytes come from the run's stats actor, polled in a background thread because the
driver's main thread is busy pulling results; documents come from the writers' reports.
Nothing is shown when stdout is not a terminal (CI logs stay clean).
"""

from __future__ import annotations

import threading

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


class RunProgress:
    def __init__(self, console: Console, total_files: int, stats, poll_seconds: float = 0.5) -> None:
        self.stats = stats
        self.poll_seconds = poll_seconds
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
            console=console, transient=True, disable=not console.is_terminal,
        )
        self.files = self.progress.add_task("files", total=total_files, detail="")
        self.documents = self.progress.add_task("documents", total=None, detail="")
        self.kept = self.rejected = self.tokens = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        if not self.progress.disable:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self.progress.__exit__(*exc)

    def _poll(self) -> None:
        from curate.runtime.stats import ask

        while not self._stop.wait(self.poll_seconds):
            try:
                read = ask(self.stats, "snapshot", timeout=5).get("read", {})
            except Exception:  # progress is best effort; the run's own errors surface elsewhere
                continue
            fetched = read.get("downloaded_bytes", 0) / 1e6
            cached = int(read.get("cached_files", 0))
            self.progress.update(self.files, completed=int(read.get("files", 0)),
                                 detail=f"{fetched:,.1f} MB fetched" + (f" · {cached} from cache" if cached else ""))

    def written(self, records: list[dict]) -> None:
        """Account for one batch of writer reports."""
        for r in records:
            if r["record"] == "kept":
                self.kept += r["rows"]
                self.tokens += r["tokens"]
            elif r["record"] == "rejected":
                self.rejected += r["rows"]
        self.progress.update(self.documents, completed=self.kept + self.rejected,
                             detail=f"kept {self.kept:,} · rejected {self.rejected:,} · {self.tokens:,} tokens")
