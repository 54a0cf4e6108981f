"""Document ids are unique per run: checked per file as it is read, across files here.

Readers make ids unique inside their file (:meth:`curate.readers.context.ReadContext.own_id`).
Across files, ids derived from a record's place (``<source>:<file>:<line>``) and ids scoped by
file (``ids: file``) cannot meet by construction. Only records' own ids kept as given
(``ids: rekey`` / ``error``) can repeat in two files read by parallel tasks: each read task sends
the 64-bit digests of its file's own ids to one :class:`IdIndex` (in the run's stats actor)
when the file is done, and a repeat fails the run naming both files. That costs 8 bytes a
record on the wire and ~12 bytes a record in the index.

Stages that need a key that is unique whatever the ids say (dedup) use :func:`row_keys`:
``(id, input_file)`` is unique because ids are unique per file by the per-file check alone.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import xxhash


def id_digest(doc_id: str) -> int:
    """A stable 64-bit digest of an id (the same in every process, unlike ``hash``): XXH3, ~6x
    blake2b's speed on short ids; digests live only as long as a run, so none is stored."""
    return xxhash.xxh3_64_intdigest(doc_id.encode("utf-8", "surrogatepass"))


def id_digests(ids: Iterable[str]) -> np.ndarray:
    return np.fromiter((id_digest(i) for i in ids), dtype=np.uint64)


class IdIndex:
    """Which input file first used each id digest, for a whole run, in bounded sorted runs.

    Each file's digests become a sorted run; runs merge when the newer one is at least half
    the size of the one before it (as in a log-structured merge), so a lookup costs
    O(log^2 n) and the merging O(n log n) over the run.
    """

    def __init__(self) -> None:
        self.files: list[str] = []
        self.index: dict[str, int] = {}
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted digests, file index of each)

    def claim(self, file: str, digests: np.ndarray) -> dict[str, int]:
        """Record ``file``'s digests; returns {other file: how many of ``file``'s ids it used}.

        A file claimed again (a retried read task, a replayed read cache) is checked, not added twice.
        """
        digests = np.asarray(digests, dtype=np.uint64)
        clashes: dict[str, int] = {}
        mine = self.index.get(file, -1)
        for run, owners in self.runs:
            at = np.minimum(np.searchsorted(run, digests), len(run) - 1)
            for owner in owners[at[run[at] == digests]].tolist():
                if owner != mine:
                    clashes[self.files[owner]] = clashes.get(self.files[owner], 0) + 1
        if len(digests) and mine < 0:
            self.index[file] = len(self.files)
            self.files.append(file)
            order = np.argsort(digests, kind="stable")
            self.runs.append((digests[order], np.full(len(digests), len(self.files) - 1, dtype=np.int32)))
            self._merge()
        return clashes

    def _merge(self) -> None:
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            (a, fa), (b, fb) = self.runs.pop(), self.runs.pop()
            digests, owners = np.concatenate([b, a]), np.concatenate([fb, fa])
            order = np.argsort(digests, kind="stable")
            self.runs.append((digests[order], owners[order]))


class DuplicateIdError(RuntimeError):
    """A record id repeated where the source's ``ids`` option forbids it: fails the run, naming it."""


class FileIds:
    """One file's own record ids as a read task passes its rows on, checked against the run's
    other files when the file is done (the rows are never held, only 8-byte digests).

    A reader that claims ids itself (:meth:`curate.readers.context.ReadContext.own_id` digests
    each one to keep it unique in its file) fills :attr:`claimed`, so no id is digested twice;
    :meth:`add` digests the own ids of rows that come from elsewhere (a replayed read cache).
    """

    def __init__(self, source: str, file: str, mode: str, active: bool) -> None:
        self.source, self.file, self.mode, self.active = source, file, mode, active
        self.parts: list[np.ndarray] = []
        self.claimed: set[int] = set()

    @classmethod
    def for_task(cls, task, config) -> FileIds:
        """Checked when the source keeps records' own ids as given (``ids: rekey`` or ``error``)."""
        has_own = config.fields.id is not None or task.format == "warc"
        return cls(task.source, task.path, config.ids, has_own and config.ids != "file")

    def add(self, table: pa.Table) -> None:
        if self.active:
            self.parts.append(id_digests(own_ids(table.column("id"), self.source)))

    def check(self, stats) -> None:
        """Claim this file's ids in the run's index (the stats actor); a repeat fails the run."""
        if not self.active or stats is None:
            return
        from curate.runtime.stats import ask

        parts = [*self.parts, np.fromiter(self.claimed, np.uint64, len(self.claimed))]
        clashes = ask(stats, "claim_ids", self.file, np.concatenate(parts))
        if clashes:
            raise duplicate_id_error(self.source, self.file, self.mode, clashes)


def duplicate_id_error(source: str, file: str, mode: str, clashes: dict[str, int]) -> DuplicateIdError:
    """The error for a file whose own ids repeat those of other files (``clashes``: file -> count)."""
    others = "; ".join(f"{n} of them also in {other}" for other, n in sorted(clashes.items())[:5])
    return DuplicateIdError(
        f"source {source!r}: record ids of {file} repeat ids of other files ({others}). Ids must be "
        f"unique per run (sources.*.ids: {mode}); set ids: file on source {source!r} to scope "
        "each id by its file ('<source>/<file>:<id>')")


class CachedIds:
    """The own ids of a replayed read-cache group, claimed again per input file, so that files
    read fresh in this run are checked against them (the index lives only as long as one run)."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], FileIds] = {}

    def add(self, table: pa.Table) -> None:
        import pyarrow.compute as pc

        pairs = {(s, f) for s, f in zip(table.column("source").to_pylist(), table.column("input_file").to_pylist()) if f}
        for source, file in pairs:
            check = self.files.setdefault((source, file), FileIds(source, file, "rekey", True))
            check.add(table.filter(pc.equal(table.column("input_file"), file)))

    def check(self, stats) -> None:
        for check in self.files.values():
            check.check(stats)


#: Read metrics keep each input's record count under this prefix, saved with the read cache and
#: checkpoints (a resumed run still accounts for every input). The stats actor keeps the largest
#: value reported, not the sum: a read task that Ray retries after a worker died reports its
#: files again, with the same counts.
INPUT_METRIC = "input\t"


def input_metric(source: str, file: str) -> str:
    return f"{INPUT_METRIC}{source}\t{file}"


def parse_input_metric(key: str) -> tuple[str, str] | None:
    """(source, file) of an :func:`input_metric` key, else None."""
    if not key.startswith(INPUT_METRIC):
        return None
    source, file = key[len(INPUT_METRIC):].split("\t", 1)
    return source, file


def check_distinct_files(sources: list, tasks: list) -> None:
    """Ids derived from a record's place (``<source>:<file>:<line>``) are unique only if no two
    inputs of a source share a relative path: refuse that before any work, naming the key."""
    from curate.config import ConfigError

    index = {source.name: i for i, source in enumerate(sources)}
    by_relpath: dict[tuple[str, str], str] = {}
    for task in tasks:
        other = by_relpath.get((task.source, task.relpath))
        if other is None:
            by_relpath[(task.source, task.relpath)] = task.path
            continue
        key = f"sources.{index[task.source]}.paths"
        if other == task.path:
            raise ConfigError(f"{key}: {task.path} is listed more than once (its records would be read twice, "
                              "with the same ids)")
        raise ConfigError(f"{key}: {other} and {task.path} are both {task.relpath!r} under their listed folders, so "
                          "their records' ids would repeat; list them in two sources or from one folder")


def own_ids(ids: pa.Array | pa.ChunkedArray, source: str) -> list[str]:
    """The ids among ``ids`` built from records' own ids (``<source>/...``), not from places."""
    import pyarrow.compute as pc

    return pc.filter(ids, pc.starts_with(ids, f"{source}/")).to_pylist()


def row_keys(table: pa.Table) -> list[str]:
    """A key per row unique in the run by construction: id (unique per file) + the input file.

    ``<id>\\0<input_file>\\0<len(id)>``: sorts by id first (so "the smallest id breaks ties"
    still holds), and stays unambiguous whatever bytes an id holds. Rows a stage made
    (synthesize) have no input file; their ids are the stage's own.
    """
    ids = table.column("id").to_pylist()
    files = (table.column("input_file").to_pylist() if "input_file" in table.column_names
             else [None] * table.num_rows)
    return [f"{i}\0{f or ''}\0{len(i)}" for i, f in zip(ids, files)]


def id_of_key(key: str) -> str:
    """The id inside a :func:`row_keys` key."""
    return key[: int(key.rsplit("\0", 1)[1])]
