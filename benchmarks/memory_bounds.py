"""Peak memory of a streaming run as its input grows, and under a hard memory cap: is it bounded?

    python benchmarks/memory_bounds.py [--docs 50000 200000] [--object-store-gb 0.5]
    python benchmarks/memory_bounds.py --gib 1 12 --memory-cap-gb 3 [--work-dir /scratch]

For each size (documents, or GiB of input with ``--gib``), writes generated documents as JSONL
shards (``--text prose``: real prose in 40 languages recombined from ``samples/web``, 2% junk;
``--text zipf``: random Zipf words, which tokenise at ~2 bytes/token), runs
read -> filters -> tokenize -> write through ``python -m curate.run`` on a local Ray whose object
store is capped (so Ray must spill instead of holding the stream), samples the memory of every
process of the run, and prints input size, wall time and the peaks, the last also per quarter of
the run's wall time (a leak shows as a rising last quarter).

``--memory-cap-gb`` runs each size inside a fresh Linux memory cgroup of that size (root and a
writable cgroup filesystem; see ``memory_cap.py``): the kernel then enforces the bound on the
whole process tree, Ray's shared-memory object store included, and an input many times the cap
is one that could not be held in the memory the run had. The table adds the cap, the largest
``rss + shmem`` the cgroup held, and the kernel's OOM kills (0 for a bounded run).

Bounded means: the largest process and the sum over processes stay flat while the input grows
many times over the object store (and the cap); a run that materialised its input would grow
with it, or be killed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import tempfile
from pathlib import Path

import memory_cap
from dedup_scale import MemorySampler, run_measured, zipf_text
from e2e_datatrove import prose_maker
from rich.console import Console
from rich.table import Table


def pipeline_yaml(data: Path, out: Path, object_store_gb: float) -> str:
    return f"""name: memory_bounds
output_dir: {out}
sources:
  - name: gen
    paths: ["{data}/*.jsonl"]
    domain: web
stages:
  filter:
    filters:
      - {{name: length, min_chars: 200}}
      - {{name: repetition}}
  tokenize: {{}}
ray:
  object_store_memory_gb: {object_store_gb}
  spill_dir: {out.parent}/spill
"""


# --------------------------------------------------------------------------- corpus


def _text_maker(text: str, seed: int):
    return prose_maker(None, junk_share=0.02) if text == "prose" else zipf_text(200, seed)


def _write_shard(job: tuple[Path, int, int, str, int]) -> int:
    """Write one shard of ``docs`` documents; its bytes. Seeded by (seed, shard index), so a
    corpus is the same however many processes write it."""
    folder, index, docs, text, seed = job
    make, rng = _text_maker(text, seed), random.Random(f"{seed}-{index}")
    path = folder / f"part-{index:05d}.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for i in range(docs):
            out.write(json.dumps({"id": f"s{index:05d}-{i:07d}", "text": make(rng)}, ensure_ascii=False) + "\n")
    return path.stat().st_size


def average_doc_bytes(text: str, seed: int = 0, sample: int = 2000) -> float:
    make, rng = _text_maker(text, seed), random.Random(f"{seed}-sample")
    return sum(len(json.dumps({"id": "s00000-0000000", "text": make(rng)}, ensure_ascii=False).encode()) + 1
               for _ in range(sample)) / sample


def write_stream(folder: Path, docs: int, docs_per_shard: int, text: str, seed: int = 0) -> int:
    """``docs`` documents over shards of ``docs_per_shard``, written by one process per core; total bytes."""
    jobs = [(folder, index, min(docs_per_shard, docs - start), text, seed)
            for index, start in enumerate(range(0, docs, docs_per_shard))]
    with multiprocessing.get_context("spawn").Pool(os.cpu_count() or 1) as pool:
        return sum(pool.imap_unordered(_write_shard, jobs))


# --------------------------------------------------------------------------- measure


def quarter_peaks(sampler: MemorySampler) -> list[float]:
    """Peak heap over all processes in each quarter of the run's wall time, GiB."""
    if not sampler.history:
        return []
    end = sampler.history[-1][0] or 1.0
    peaks = [0] * 4
    for at, total in sampler.history:
        quarter = min(3, int(4 * at / end))
        peaks[quarter] = max(peaks[quarter], total)
    return [p / 2**30 for p in peaks]


def measure(docs: int, args: argparse.Namespace, console: Console) -> dict:
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out"
        data.mkdir()
        size = write_stream(data, docs, args.docs_per_shard, args.text)
        console.print(f"  wrote {docs:,} documents, {size / 2**30:,.2f} GiB; running the pipeline ...")
        config = Path(tmp) / "memory_bounds.yaml"
        config.write_text(pipeline_yaml(data, out, args.object_store_gb))
        wall, sampler, cap = run_measured(config, args.memory_cap_gb)
        summary = json.loads((out / "stats" / "summary.json").read_text())
        out_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        shutil.rmtree(out, ignore_errors=True)
        worker_peak = max((s.get("peak_rss_mb") or 0) for s in summary["stages"])
        return {"docs": docs, "kept": summary["documents"], "input_gib": size / 2**30, "output_gib": out_bytes / 2**30,
                "wall": wall, "tokens": summary["tokens"],
                "heap_single": sampler.peak_heap_single / 2**30, "heap_name": sampler.peak_heap_name,
                "heap_total": sampler.peak_heap_total / 2**30, "store": sampler.peak_store / 2**30,
                "worker_rss": worker_peak / 1024, "quarters": quarter_peaks(sampler),
                "cap_used": cap.peak_unreclaimable / 2**30 if cap else None,
                "oom_kills": cap.oom_kills if cap else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--docs", type=int, nargs="+", help="input sizes in documents (default 50000 200000)")
    sizes.add_argument("--gib", type=float, nargs="+", help="input sizes in GiB of JSONL")
    parser.add_argument("--text", choices=["prose", "zipf"], default="prose")
    parser.add_argument("--docs-per-shard", type=int, default=50_000, help="documents per input file (~65 MiB)")
    parser.add_argument("--object-store-gb", type=float, default=0.5)
    parser.add_argument("--memory-cap-gb", type=float, default=None,
                        help="run inside a memory cgroup of this size (needs root)")
    parser.add_argument("--work-dir", default=None, help="where inputs, outputs and spills go (default: $TMPDIR)")
    args = parser.parse_args()
    if args.memory_cap_gb and not memory_cap.available():
        raise SystemExit("--memory-cap-gb needs a writable memory cgroup (root); none here")

    console = Console(width=220)
    if args.gib:
        per_doc = average_doc_bytes(args.text)
        doc_counts = [max(1, round(g * 2**30 / per_doc)) for g in args.gib]
    else:
        doc_counts = args.docs or [50_000, 200_000]
    rows = []
    for docs in doc_counts:
        console.print(f"{docs:,} documents ...")
        rows.append(measure(docs, args, console))
    print_table(console, rows, args)


def print_table(console: Console, rows: list[dict], args: argparse.Namespace) -> None:
    cap = args.memory_cap_gb
    table = Table(title=f"Streaming run (read -> filters -> tokenize -> write), {args.text} text, object store "
                        f"capped at {args.object_store_gb:g} GiB" + (f", whole run capped at {cap:g} GiB" if cap else ""))
    columns = ["documents", "input GiB", "input / store", "wall s", "docs/s", "largest process heap GiB",
               "all processes heap GiB", "per quarter of the run", "object-store pages GiB",
               "peak RSS of a stage worker GiB"]
    if cap:
        columns += ["input / cap", "cgroup rss+shmem GiB", "OOM kills"]
    for name in columns:
        table.add_column(name, justify="right")
    for r in rows:
        cells = [f"{r['docs']:,}", f"{r['input_gib']:,.2f}", f"{r['input_gib'] / args.object_store_gb:,.1f}x",
                 f"{r['wall']:,.0f}", f"{r['docs'] / r['wall']:,.0f}", f"{r['heap_single']:.2f} ({r['heap_name']})",
                 f"{r['heap_total']:.2f}", " / ".join(f"{q:.2f}" for q in r["quarters"]), f"{r['store']:.2f}",
                 f"{r['worker_rss']:.2f}"]
        if cap:
            cells += [f"{r['input_gib'] / cap:,.1f}x", f"{r['cap_used']:.2f}", str(r["oom_kills"])]
        table.add_row(*cells)
    console.print(table)
    for r in rows:
        console.print(f"{r['docs']:,} documents: kept {r['kept']:,}, {r['tokens']:,} tokens, "
                      f"{r['output_gib']:.2f} GiB written")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        console.print(f"input grew {last['input_gib'] / first['input_gib']:.1f}x; largest process heap grew "
                      f"{last['heap_single'] / max(first['heap_single'], 1e-9):.2f}x, "
                      f"all processes {last['heap_total'] / max(first['heap_total'], 1e-9):.2f}x")


if __name__ == "__main__":
    main()
