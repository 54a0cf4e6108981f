"""Peak memory of a streaming run as its input grows: is it bounded?

    python benchmarks/memory_bounds.py [--docs 100000 400000] [--object-store-gb 0.5]

For each size, writes that many generated documents (as benchmarks/dedup_scale.py does), runs
read -> filters -> tokenize -> write through ``python -m curate.run`` on a local Ray whose object
store is capped (so Ray must spill instead of holding the stream), samples the memory of every
process of the run, and prints input size, wall time and the peaks. Bounded means: the largest
process and the sum over processes stay flat while the input grows many times over the object
store; a run that materialised its input would grow with it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from dedup_scale import run_measured, write_corpus
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


def measure(docs: int, words: int, object_store_gb: float, docs_per_shard: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out"
        data.mkdir()
        write_corpus(data, docs, words, max(1, -(-docs // docs_per_shard)))
        size = sum(p.stat().st_size for p in data.iterdir())
        config = Path(tmp) / "memory_bounds.yaml"
        config.write_text(pipeline_yaml(data, out, object_store_gb))
        wall, sampler = run_measured(config)
        summary = json.loads((out / "stats" / "summary.json").read_text())
        worker_peak = max((s.get("peak_rss_mb") or 0) for s in summary["stages"])
        return {"docs": docs, "input_mib": size / 2**20, "wall": wall, "tokens": summary["tokens"],
                "heap_single": sampler.peak_heap_single / 2**30, "heap_name": sampler.peak_heap_name,
                "heap_total": sampler.peak_heap_total / 2**30, "store": sampler.peak_store / 2**30,
                "worker_rss": worker_peak / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, nargs="+", default=[100_000, 400_000])
    parser.add_argument("--words", type=int, default=200)
    parser.add_argument("--docs-per-shard", type=int, default=12_500)
    parser.add_argument("--object-store-gb", type=float, default=0.5)
    args = parser.parse_args()

    console = Console()
    rows = []
    for docs in args.docs:
        console.print(f"running {docs:,} documents ...")
        rows.append(measure(docs, args.words, args.object_store_gb, args.docs_per_shard))
    table = Table(title=f"Streaming run (read -> filters -> tokenize -> write), object store capped at "
                        f"{args.object_store_gb:g} GiB")
    for name in ("documents", "input MiB", "input / object store", "wall s", "docs/s", "largest process heap GiB",
                 "all processes heap GiB", "object-store pages GiB", "peak RSS of a stage worker GiB"):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(f"{r['docs']:,}", f"{r['input_mib']:,.0f}", f"{r['input_mib'] / 1024 / args.object_store_gb:.1f}x",
                      f"{r['wall']:.1f}", f"{r['docs'] / r['wall']:,.0f}", f"{r['heap_single']:.2f} ({r['heap_name']})",
                      f"{r['heap_total']:.2f}", f"{r['store']:.2f}", f"{r['worker_rss']:.2f}")
    console.print(table)
    if len(rows) > 1:
        growth = rows[-1]["input_mib"] / rows[0]["input_mib"]
        console.print(f"input grew {growth:.1f}x; largest process heap grew "
                      f"{rows[-1]['heap_single'] / max(rows[0]['heap_single'], 1e-9):.2f}x, "
                      f"all processes {rows[-1]['heap_total'] / max(rows[0]['heap_total'], 1e-9):.2f}x")


if __name__ == "__main__":
    main()
