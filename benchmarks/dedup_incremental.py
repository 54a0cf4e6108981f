"""Incremental dedup: a new batch against an earlier run's index vs. rerunning dedup over everything.

    python benchmarks/dedup_incremental.py [--docs 200000] [--new-share 0.1] [--workers 2]
        [--object-store-gb 1 --memory-cap-gb 6 --work-dir /scratch --corpus-dir /scratch/corpus]

Writes a corpus A of ``--docs`` Zipf-word documents (``dedup_scale.write_corpus``: 5% exact and 10%
near copies inside it) and a new batch B of ``--new-share`` as many, a third of which are exact or
near copies of A's documents. Then, each through ``python -m curate.run`` (read -> dedup -> write,
``executor: local``):

1. A alone, writing its dedup index (``dedup.index.write``): the run that happened earlier;
2. B alone, reading A's index (``dedup.index.read``): the incremental run;
3. A + B in one run: what rerunning everything costs.

With ``--object-store-gb`` the runs go through Ray's shuffles (``executor: ray``, the store capped,
spilling under ``--work-dir``) instead of ``executor: local``; with ``--memory-cap-gb`` each runs
inside a memory cgroup of that size (``memory_cap.py``) and the table adds its largest ``rss +
shmem`` and OOM kills. ``--corpus-dir`` keeps corpus A (``dedup_scale.py``'s layout) for reuse.

It prints wall and CPU seconds of each (the process tree's), the ratio of 3 to 2, and checks that
how many documents of B run 2 decides as run 3 does (all with ``--prefer best``; with the default
``earlier`` the new copies that beat an earlier one by ``keep_by`` are removed instead of kept).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import polars as pl
from dedup_scale import corpus, run_measured, zipf_text
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]


def write_new_batch(a_dir: Path, b_dir: Path, docs: int, words: int, seed: int = 7) -> dict[str, int]:
    """``docs`` documents: a sixth exact copies of A's (case changed), a sixth near copies (two words
    marked), the rest new."""
    rng = random.Random(seed)
    originals = [json.loads(line)["text"] for path in sorted(a_dir.glob("*.jsonl"))
                 for line in path.read_text(encoding="utf-8").splitlines()[:2000]]
    make_text = zipf_text(words, seed)
    planted = {"exact": 0, "near": 0}
    with open(b_dir / "new-000.jsonl", "w", encoding="utf-8") as f:
        for i in range(docs):
            roll = rng.random()
            if roll < 1 / 6:
                text, kind = rng.choice(originals).upper(), "exact"
            elif roll < 1 / 3:
                tokens = rng.choice(originals).split(" ")
                for j in rng.sample(range(len(tokens)), 2):
                    tokens[j] = "zz" + tokens[j]
                text, kind = " ".join(tokens), "near"
            else:
                text, kind = make_text(rng), None
            if kind:
                planted[kind] += 1
            f.write(json.dumps({"id": f"n{i:07d}", "text": text}) + "\n")
    return planted


def config(root: Path, name: str, inputs: list[Path], index: dict, workers: int,
           object_store_gb: float | None = None) -> Path:
    paths = ", ".join(f'"{p}/*.jsonl"' for p in inputs)
    executor = (f"executor: ray\nray: {{object_store_memory_gb: {object_store_gb}, spill_dir: {root}/spill}}"
                if object_store_gb else f"executor: local\nlocal: {{workers: {workers}}}")
    path = root / f"{name}.yaml"
    path.write_text(f"""name: {name}
output_dir: {root / name}
sources:
  - {{name: gen, paths: [{paths}], domain: web, fields: {{text: text, id: id}}}}
stages:
  dedup: {{threshold: 0.8, index: {json.dumps(index)}}}
{executor}
""")
    return path


class Measured(NamedTuple):
    wall: float
    cpu: float
    peak_gib: float | None = None  # largest rss + shmem in the memory cgroup
    oom_kills: int | None = None


def run(path: Path, memory_cap_gb: float | None = None) -> Measured:
    """Wall and CPU seconds of one ``curate.run`` (the process tree's); inside a memory cgroup
    of ``memory_cap_gb`` when given, with its peak and OOM kills."""
    if memory_cap_gb:
        wall, sampler, cap = run_measured(path, memory_cap_gb)
        return Measured(wall, sampler.cpu_total, cap.peak_unreclaimable / 2**30, cap.oom_kills)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "curate.run", str(path)], cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Measured(wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def decisions(out: Path) -> dict[str, str | None]:
    kept = pl.read_parquet(out / "documents" / "*.parquet").select("id")
    rejected = pl.read_parquet(out / "rejected" / "*.parquet").select("id", "reject_detail")
    return {**{i: None for i in kept["id"].to_list()}, **dict(zip(rejected["id"], rejected["reject_detail"]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--new-share", type=float, default=0.1)
    parser.add_argument("--words", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--prefer", choices=["earlier", "best"], default="earlier",
                        help="dedup.index.prefer of the incremental run (best: decisions equal the joint run's)")
    parser.add_argument("--object-store-gb", type=float, default=None,
                        help="run through Ray's shuffles (executor: ray) with the object store capped (it spills)")
    parser.add_argument("--memory-cap-gb", type=float, default=None,
                        help="run each inside a memory cgroup of this size (needs root; see memory_cap.py)")
    parser.add_argument("--work-dir", default=None, help="where inputs, outputs and spills go (default: $TMPDIR)")
    parser.add_argument("--corpus-dir", default=None,
                        help="keep corpus A here and reuse it when it is already there (same --docs)")
    args = parser.parse_args()
    if args.memory_cap_gb and not args.object_store_gb:
        parser.error("--memory-cap-gb needs --object-store-gb (Ray's default store is 30%% of the machine's memory)")
    console = Console()
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        root = Path(tmp)
        a_dir, b_dir = Path(args.corpus_dir or root / "a"), root / "b"
        b_dir.mkdir()
        corpus(a_dir, args.docs, args.words, 12_500, console)
        new = int(args.docs * args.new_share)
        planted = write_new_batch(a_dir, b_dir, new, args.words)
        index = root / "run_a" / "artifacts" / "dedup" / "index"
        options = {"workers": args.workers, "object_store_gb": args.object_store_gb}
        runs = {
            "A alone, writing its index": run(config(root, "run_a", [a_dir], {"write": True}, **options),
                                              args.memory_cap_gb),
            "B against A's index (incremental)": run(config(root, "run_b", [b_dir], {
                "read": [str(index)], "prefer": args.prefer}, **options), args.memory_cap_gb),
            "A + B in one run (rerun everything)": run(config(root, "joint", [a_dir, b_dir], {}, **options),
                                                       args.memory_cap_gb),
        }
        incremental, joint = decisions(root / "run_b"), decisions(root / "joint")
        same = sum(joint.get(doc_id, "missing") == detail for doc_id, detail in incremental.items())
        removed = sum(detail is not None for detail in incremental.values())
    how = (f"Ray, {args.object_store_gb:g} GiB object store" if args.object_store_gb
           else f"executor: local, {args.workers} workers")
    capped = f", each in a {args.memory_cap_gb:g} GiB memory cgroup" if args.memory_cap_gb else ""
    table = Table(title=f"Incremental dedup: A {args.docs:,} documents, B {new:,} new ({planted['exact']:,} exact "
                        f"and {planted['near']:,} near copies of A), {how}{capped}")
    columns = ("run", "wall s", "CPU s") + (("largest rss + shmem", "OOM kills") if args.memory_cap_gb else ())
    for column in columns:
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, measured in runs.items():
        cells = [name, f"{measured.wall:,.1f}", f"{measured.cpu:,.1f}"]
        if args.memory_cap_gb:
            cells += [f"{measured.peak_gib:.2f} GiB", str(measured.oom_kills)]
        table.add_row(*cells)
    console.print(table)
    incremental_run, joint_run = runs["B against A's index (incremental)"], runs["A + B in one run (rerun everything)"]
    inc_wall, inc_cpu, joint_wall, joint_cpu = incremental_run.wall, incremental_run.cpu, joint_run.wall, joint_run.cpu
    console.print(f"rerun everything / incremental: {joint_wall / inc_wall:.1f}x wall, {joint_cpu / inc_cpu:.1f}x CPU; "
                  f"B's documents removed incrementally: {removed:,}; decisions equal to the joint run's: "
                  f"{same:,} of {len(incremental):,}" + (" (prefer: earlier keeps A's copy where the joint run keeps "
                                                          "a longer new one)" if args.prefer == "earlier" else ""))


if __name__ == "__main__":
    main()
