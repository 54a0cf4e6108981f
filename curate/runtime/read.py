"""The read path: a Ray task per input file (code files grouped), fetching remote ones into the
cache, reading them into Arrow batches with unique ids, and replaying a cached read on resume."""

from __future__ import annotations

import json
import os
import posixpath
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from curate.config import DownloadConfig, SourceConfig
from curate.ids import CachedIds, FileIds, input_metric
from curate.runtime.failures import StageFailed
from curate.runtime.stats import report_batch, started
from curate.schema import BASE_SCHEMA, alive_mask, text_bytes
from curate.sources import FileTask

#: Code files are small: read this many per task instead of one task per file.
CODE_FILES_PER_TASK = 64


def fetch_for_read(task: FileTask, source: SourceConfig, download: DownloadConfig) -> tuple[str, dict[str, float]]:
    """A local path to read ``task`` from (fetched into the cache when remote), and fetch metrics."""
    from curate.download import fetch, is_remote, verify_checksum

    checksum = next((source.checksums[k] for k in (task.path, task.relpath, posixpath.basename(task.relpath))
                     if k in source.checksums), None)
    if not is_remote(task.path):
        if checksum:
            verify_checksum(Path(task.path), checksum, task.path)
        return task.path, {}
    result = fetch(task.path, download, checksum=checksum, max_bytes=source.max_bytes,
                   storage_options=source.storage_options)
    return str(result.path), {"downloaded_bytes": result.bytes_downloaded, "cached_files": int(result.from_cache),
                              "fetch_attempts": result.attempts}


def size_on_disk(path: str) -> int:
    """Bytes the read stage takes in: the input file as stored (compressed), local or downloaded."""
    try:
        return os.path.getsize(path.removeprefix("file://"))
    except OSError:  # vanished or unreadable: the reader reports it as a row of its own
        return 0


def read_tasks(
    batch: pa.Table, sources: dict[str, SourceConfig], download: DownloadConfig, batch_rows: int, stats=None,
    read_dir: str | None = None,
) -> Iterator[pa.Table]:
    """Ray UDF: each input row is a JSON list of FileTasks (a read group); yields document batches.

    A file that cannot be fetched fails the run (StageFailed naming the URL) unless its source
    says ``on_error: skip``, in which case one rejected row records it. With ``read_dir`` every
    finished group is also kept as one Parquet file there, and a group found there is served from
    it (a resumed run does not fetch or parse it again); a group with a skipped file is not kept.
    """
    from curate import checkpoint

    pending: list[pa.Table] = []
    pending_rows = 0
    for encoded in batch.column("tasks").to_pylist():
        cache_dir = Path(read_dir) if read_dir else None
        key = checkpoint.group_key(encoded) if cache_dir else ""
        hit = checkpoint.cached_group(cache_dir, key) if cache_dir else None
        if hit is not None:
            tables = _replay_group(hit, batch_rows, stats)
            writer = None
        else:
            writer = checkpoint.GroupWriter(cache_dir, key) if cache_dir else None
            tables = read_group(encoded, sources, download, batch_rows, stats, writer)
        for table in tables:
            pending.append(table)
            pending_rows += table.num_rows
            if pending_rows >= batch_rows:
                yield pa.concat_tables(pending)
                pending, pending_rows = [], 0
    if pending:
        yield pa.concat_tables(pending)


def read_group(encoded: str, sources: dict[str, SourceConfig], download: DownloadConfig, batch_rows: int,
                stats, writer) -> Iterator[pa.Table]:
    from curate.download import DownloadError
    from curate.readers import read_file
    from curate.readers.context import ReadContext

    group_metrics: dict[str, float] = {}
    skipped = False
    try:
        for task_dict in json.loads(encoded):
            task = FileTask(**task_dict)
            source = sources[task.source]
            start, cpu_start = time.time(), time.process_time()
            started(stats, "read", task.path)
            rows = alive = nbytes = size = 0
            away = away_cpu = 0.0  # time spent by the consumer while this generator waited at yield
            fetched: dict[str, float] = {}
            file_ids = FileIds.for_task(task, source)
            try:
                try:
                    local_path, fetched = fetch_for_read(task, source, download)
                    size = size_on_disk(local_path)
                    tables = read_file(task, source, batch_rows, local_path, file_ids.claimed)
                except DownloadError as exc:
                    if source.on_error != "skip":
                        raise
                    skipped, fetched = True, {"unreachable_files": 1}
                    row = ReadContext(task, source, task.path).file_error("unreachable", str(exc))
                    tables = iter([pa.Table.from_pylist([row], schema=BASE_SCHEMA)])
                for table in tables:
                    rows += table.num_rows
                    kept = alive_mask(table)
                    alive_here = int(pc.sum(kept).as_py() or 0)
                    alive += alive_here
                    # out: the documents, as every stage counts (no copy of the batch when all are)
                    nbytes += text_bytes(table if alive_here == table.num_rows else table.filter(kept))
                    if writer is not None:
                        writer.write(table)
                    # On the in-process executor the stages downstream run while this generator
                    # is suspended here: that time is theirs, not the read's.
                    left, left_cpu = time.time(), time.process_time()
                    yield table
                    away += time.time() - left
                    away_cpu += time.process_time() - left_cpu
                file_ids.check(stats)
            except Exception as exc:
                raise StageFailed("read", f"{type(exc).__name__}: {exc}", where=task.path) from exc
            metrics = {"files": 1, "docs_in": rows, "docs_out": alive, "rejected": rows - alive, "bytes_in": size,
                       "bytes_out": nbytes, "seconds": time.time() - start - away,
                       "cpu_seconds": time.process_time() - cpu_start - away_cpu, **fetched,
                       input_metric(task.source, task.path): rows}
            for name, value in metrics.items():
                group_metrics[name] = group_metrics.get(name, 0) + value
            report_batch(stats, "read", start, **metrics)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        # A skipped file is not read: keeping the group would freeze the outage into the cache,
        # so the next run fetches it again.
        if skipped:
            writer.abort()
        else:
            writer.commit(group_metrics)


def _replay_group(path: Path, batch_rows: int, stats) -> Iterator[pa.Table]:
    """A group finished by an earlier attempt: its documents and its read metrics, from the cache."""
    import pyarrow.parquet as pq

    from curate.checkpoint import cached_metrics

    start, cpu_start = time.time(), time.process_time()
    metrics = cached_metrics(path)
    cached_ids = CachedIds()
    away = away_cpu = 0.0  # the consumer's time while suspended at yield (see read_group)
    for record_batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        table = pa.Table.from_batches([record_batch])
        cached_ids.add(table)
        left, left_cpu = time.time(), time.process_time()
        yield table
        away += time.time() - left
        away_cpu += time.process_time() - left_cpu
    cached_ids.check(stats)
    metrics.pop("seconds", None)
    metrics.pop("cpu_seconds", None)
    report_batch(stats, "read", start, **metrics, resumed_files=metrics.get("files", 0),
                 seconds=time.time() - start - away, cpu_seconds=time.process_time() - cpu_start - away_cpu)


def group_tasks(tasks: list[FileTask]) -> list[dict[str, str]]:
    """One Ray input row per data file, and per chunk of code files."""
    rows: list[dict[str, str]] = []
    code: list[FileTask] = []
    for task in tasks:
        if task.format == "code":
            code.append(task)
        else:
            rows.append({"tasks": json.dumps([task.to_row()])})
    for i in range(0, len(code), CODE_FILES_PER_TASK):
        rows.append({"tasks": json.dumps([t.to_row() for t in code[i : i + CODE_FILES_PER_TASK]])})
    return rows
