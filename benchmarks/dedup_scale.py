"""End-to-end dedup of a generated corpus through ``python -m curate.run``: wall time, memory.

    python benchmarks/dedup_scale.py [--docs 200000] [--words 200] [--partitions N]
        [--object-store-gb 0.5 --memory-cap-gb 3 --work-dir /scratch]

Writes ``--docs`` Zipf-word documents as JSONL shards (5% exact copies with case and
punctuation changed, 10% near copies with a few words replaced), runs a read -> dedup ->
write pipeline on a local Ray, samples the memory of the whole process tree (driver, raylet,
workers) every 0.5 s, and prints wall time, documents/s, peak private heap in total and of the
largest process (object-store pages counted apart), and how many planted copies were removed.
With ``--memory-cap-gb`` the run is confined to a memory cgroup of that size (``memory_cap.py``):
dedup is a global stage, so this shows the corpus going through Ray's object store and its
spill directory rather than through memory.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import itertools
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import memory_cap
import psutil
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]


def zipf_text(words: int, seed: int = 0) -> Callable[[random.Random], str]:
    """A maker of documents of ``words`` Zipf-distributed random words (a 50,000-word vocabulary)."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(50000)]
    cum = list(itertools.accumulate(1 / (rank + 1) ** 0.9 for rank in range(len(vocab))))
    return lambda r: " ".join(r.choices(vocab, cum_weights=cum, k=words))


def _open_shard(folder: Path, index: int, gzip_file: bool):
    if gzip_file:
        return gzip.open(folder / f"part-{index:03d}.jsonl.gz", "wt", encoding="utf-8", compresslevel=1)
    return open(folder / f"part-{index:03d}.jsonl", "w", encoding="utf-8")  # noqa: SIM115 - the caller closes it


def write_corpus(folder: Path, docs: int, words: int, shards: int, seed: int = 0,
                 make_text: Callable[[random.Random], str] | None = None, gzip_files: bool = False) -> dict[str, int]:
    """Write ``docs`` documents over ``shards`` JSONL files (``.jsonl.gz`` with ``gzip_files``): 5% exact
    copies of earlier ones with case and punctuation changed, 10% near copies with two words marked,
    the rest new from ``make_text`` (default: :func:`zipf_text`). Returns the planted counts."""
    make_text = make_text or zipf_text(words, seed)
    rng = random.Random(seed)
    planted = {"exact": 0, "near": 0}
    originals: list[str] = []
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(_open_shard(folder, i, gzip_files)) for i in range(shards)]
        for i in range(docs):
            roll = rng.random()
            if originals and roll < 0.05:
                text = rng.choice(originals).upper() + "!"
                planted["exact"] += 1
            elif originals and roll < 0.15:
                original = rng.choice(originals)
                sep = " " if original.count(" ") >= 2 else ""  # spaceless scripts: mark two characters
                tokens = original.split(" ") if sep else list(original)
                for j in rng.sample(range(len(tokens)), 2):
                    tokens[j] = "zz" + tokens[j]
                text = sep.join(tokens)
                planted["near"] += 1
            else:
                text = make_text(rng)
                if len(originals) < 20000:
                    originals.append(text)
            files[i % shards].write(json.dumps({"id": f"d{i:07d}", "text": text}) + "\n")
    return planted


def pipeline_yaml(data: Path, out: Path, partitions: int | None, object_store_gb: float | None = None,
                  driver_edges_mb: float | None = None) -> str:
    shuffle = f"\n    shuffle_partitions: {partitions}" if partitions else ""
    if driver_edges_mb is not None:
        shuffle += f"\n    driver_edges_mb: {driver_edges_mb}"
    store = f"\nray: {{object_store_memory_gb: {object_store_gb}, spill_dir: {out.parent}/spill}}" if object_store_gb else ""
    return f"""name: dedup_scale
output_dir: {out}
sources:
  - name: gen
    paths: ["{data}/*.jsonl"]
    domain: web
stages:
  dedup:
    threshold: 0.8{shuffle}{store}
"""


def private_memory(proc: psutil.Process) -> tuple[int, int]:
    """(heap, object store): the process's private pages outside and inside Ray's shared-memory
    object store. Pages a worker wrote into the store count as its private memory until another
    process maps them, but they are the store's (bounded by object_store_memory, spilled to
    disk), not the worker's heap."""
    heap = store = 0
    for region in proc.memory_maps(grouped=True):
        private = region.private_clean + region.private_dirty
        if "plasma" in region.path:
            store += private
        else:
            heap += private
    return heap, store


class MemorySampler(threading.Thread):
    """Peak memory of a process and all its descendants (driver, raylet, workers), sampled."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.cpu_seconds: dict[int, float] = {}  # pid -> user + system seconds, last seen
        self.names: dict[int, str] = {}  # pid -> process title (Ray workers: ray::<task or actor>)
        self.peak_heap_total = 0
        self.peak_heap_single = 0
        self.peak_heap_name = ""
        self.peak_store = 0
        self.peak_rss_total = 0  # resident set sizes added up: shared pages (libraries, store) counted per process
        self.history: list[tuple[float, int]] = []  # (seconds since start, heap of all processes) per sample
        self.stop = threading.Event()

    def run(self) -> None:
        started = time.perf_counter()
        while not self.stop.is_set():
            sampled = time.perf_counter()
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            heaps, store, rss = [], 0, 0
            for proc in procs:
                with contextlib.suppress(psutil.Error):  # exited between listing and reading
                    heap, in_store = private_memory(proc)
                    rss += proc.memory_info().rss
                    times = proc.cpu_times()
                    self.cpu_seconds[proc.pid] = times.user + times.system
                    self.names[proc.pid] = proc.name()
                    heaps.append((heap, proc.name()))
                    store += in_store
            self.peak_heap_total = max(self.peak_heap_total, sum(h for h, _ in heaps))
            self.peak_store = max(self.peak_store, store)
            self.peak_rss_total = max(self.peak_rss_total, rss)
            largest = max(heaps, default=(0, ""))
            self.history.append((time.perf_counter() - started, sum(h for h, _ in heaps)))
            if largest[0] > self.peak_heap_single:
                self.peak_heap_single, self.peak_heap_name = largest
            # Reading every process's smaps is not free (near a whole core at 0.5 s on a run with
            # many workers): wait at least 4x what the sample took, so it costs under 20% of a core.
            time.sleep(max(self.interval, 4 * (time.perf_counter() - sampled)))

    @property
    def cpu_total(self) -> float:
        """CPU seconds of every process seen (its last sample: up to one interval short per process)."""
        return sum(self.cpu_seconds.values())

    def cpu_by_name(self) -> dict[str, tuple[int, float]]:
        """(processes, CPU seconds) per process title, largest first: where a run's time goes
        outside its stages (Ray's daemons, idle workers, actor start-up)."""
        totals: dict[str, tuple[int, float]] = {}
        for pid, seconds in self.cpu_seconds.items():
            count, total = totals.get(self.names.get(pid, "?"), (0, 0.0))
            totals[self.names.get(pid, "?")] = (count + 1, total + seconds)
        return dict(sorted(totals.items(), key=lambda kv: -kv[1][1]))


def run_measured(config: Path, memory_cap_gb: float | None = None
                 ) -> tuple[float, MemorySampler, memory_cap.MemoryCap | None]:
    """Run ``python -m curate.run config`` while sampling its memory, inside a memory cgroup of
    ``memory_cap_gb`` when given; (wall seconds, sampler, the closed cgroup with its peaks)."""
    cap = memory_cap.MemoryCap(int(memory_cap_gb * 2**30)) if memory_cap_gb else None
    started = time.perf_counter()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "curate.run", str(config)], cwd=REPO,
                                preexec_fn=cap.enter if cap else None,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sampler = MemorySampler(proc.pid)
        sampler.start()
        output, _ = proc.communicate()
    finally:
        if cap:
            cap.close()
    wall = time.perf_counter() - started
    sampler.stop.set()
    if proc.returncode != 0:
        raise SystemExit(f"pipeline failed with exit code {proc.returncode}:\n{output}")
    return wall, sampler, cap


def corpus(data: Path, docs: int, words: int, docs_per_shard: int, console: Console) -> dict[str, int]:
    """The generated corpus in ``data``: written there, or reused when a run with the same
    ``docs`` and ``words`` left it (its planted counts are kept beside it)."""
    made = data / "planted.json"
    if made.exists():
        planted = json.loads(made.read_text())
        if planted.get("docs") == docs and planted.get("words") == words:
            console.print(f"reusing {docs:,} generated documents in {data}")
            return planted
        raise SystemExit(f"{data} holds another corpus ({planted}); pass an empty --corpus-dir")
    data.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    planted = write_corpus(data, docs, words, max(1, -(-docs // docs_per_shard)))
    size = sum(p.stat().st_size for p in data.glob("*.jsonl"))
    console.print(f"generated {docs:,} documents ({size / 2**20:,.0f} MiB) in "
                  f"{time.perf_counter() - started:.0f}s: {planted['exact']:,} exact and "
                  f"{planted['near']:,} near copies planted")
    made.write_text(json.dumps({**planted, "docs": docs, "words": words}))
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--words", type=int, default=200)
    parser.add_argument("--docs-per-shard", type=int, default=12_500,
                        help="input file size is fixed, so more documents means more files, as in real corpora")
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--object-store-gb", type=float, default=None, help="cap Ray's object store (it spills)")
    parser.add_argument("--memory-cap-gb", type=float, default=None,
                        help="run inside a memory cgroup of this size (needs root; see memory_cap.py)")
    parser.add_argument("--driver-edges-mb", type=float, default=None,
                        help="dedup's driver_edges_mb (0: clusters always found by Ray tasks)")
    parser.add_argument("--work-dir", default=None, help="where inputs, outputs and spills go (default: $TMPDIR)")
    parser.add_argument("--corpus-dir", default=None,
                        help="keep the generated corpus here and reuse it when it is already there (same --docs)")
    args = parser.parse_args()
    if args.memory_cap_gb and not args.object_store_gb:
        parser.error("--memory-cap-gb needs --object-store-gb (Ray's default store is 30%% of the machine's memory)")

    console = Console()
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        data, out = Path(args.corpus_dir or Path(tmp) / "data"), Path(tmp) / "out"
        planted = corpus(data, args.docs, args.words, args.docs_per_shard, console)
        size = sum(p.stat().st_size for p in data.glob("*.jsonl"))
        config = Path(tmp) / "dedup_scale.yaml"
        config.write_text(pipeline_yaml(data, out, args.partitions, args.object_store_gb, args.driver_edges_mb))
        wall, sampler, cap = run_measured(config, args.memory_cap_gb)
        summary = json.loads((out / "stats" / "summary.json").read_text())
        dedup = next(s for s in summary["stages"] if s["stage"] == "dedup")
        reasons = {r["reason"]: r["docs"] for r in summary["rejected_by_reason"] if r["stage"] == "dedup"}

    table = Table(title=f"Dedup end to end: {args.docs:,} documents, {args.words} words each, "
                        f"{psutil.cpu_count()} cores")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("wall time (read + dedup + write, incl. Ray start)", f"{wall:,.1f} s"),
        ("documents/s", f"{args.docs / wall:,.0f}"),
        ("dedup stage wall", f"{dedup.get('wall_seconds', 0):,.1f} s"),
        ("peak private heap, all processes", f"{sampler.peak_heap_total / 2**30:,.2f} GiB"),
        ("peak private heap, largest process", f"{sampler.peak_heap_single / 2**30:,.2f} GiB ({sampler.peak_heap_name})"),
        ("peak object-store pages held by workers", f"{sampler.peak_store / 2**30:,.2f} GiB"),
        ("shuffle partitions (working memory per task)",
         f"{dedup.get('shuffle_partitions', 0):,} ({dedup.get('task_working_mb', 0):,} MB)"),
        ("planted copies (exact + near)", f"{planted['exact'] + planted['near']:,}"),
        ("removed by dedup", f"{dedup.get('rejected', 0):,}"),
        ("candidate pairs / false positives removed",
         f"{dedup.get('candidate_edges', 0):,} / {dedup.get('false_positive_edges', 0):,}"),
        ("duplicate clusters", f"{dedup.get('clusters', 0):,}"),
        ("clustered by", f"Ray tasks, {dedup['cluster_rounds']} large-star rounds" if dedup.get("cluster_rounds")
         else "the driver's union-find"),
    ]
    if cap:
        rows += [("input / memory cap", f"{size / 2**30:,.2f} GiB / {args.memory_cap_gb:g} GiB"),
                 ("largest rss + shmem held in the cgroup", f"{cap.peak_unreclaimable / 2**30:,.2f} GiB"),
                 ("OOM kills in the cgroup", f"{cap.oom_kills}")]
    if reasons:
        rows.append(("rejected by reason", ", ".join(f"{k} {v:,}" for k, v in reasons.items())))
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
