"""Incremental dedup: a new batch against an earlier run's index vs. rerunning dedup over everything.

    python benchmarks/dedup_incremental.py [--docs 200000] [--new-share 0.1] [--workers 2]

Writes a corpus A of ``--docs`` Zipf-word documents (``dedup_scale.write_corpus``: 5% exact and 10%
near copies inside it) and a new batch B of ``--new-share`` as many, a third of which are exact or
near copies of A's documents. Then, each through ``python -m curate.run`` (read -> dedup -> write,
``executor: local``):

1. A alone, writing its dedup index (``dedup.index.write``): the run that happened earlier;
2. B alone, reading A's index (``dedup.index.read``): the incremental run;
3. A + B in one run: what rerunning everything costs.

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

import polars as pl
from dedup_scale import write_corpus, zipf_text
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


def config(root: Path, name: str, inputs: list[Path], index: dict, workers: int) -> Path:
    paths = ", ".join(f'"{p}/*.jsonl"' for p in inputs)
    path = root / f"{name}.yaml"
    path.write_text(f"""name: {name}
output_dir: {root / name}
sources:
  - {{name: gen, paths: [{paths}], domain: web, fields: {{text: text, id: id}}}}
stages:
  dedup: {{threshold: 0.8, index: {json.dumps(index)}}}
executor: local
local: {{workers: {workers}}}
""")
    return path


def run(path: Path) -> tuple[float, float]:
    """(wall, CPU seconds of the child process tree) of one ``curate.run``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "curate.run", str(path)], cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        a_dir, b_dir = root / "a", root / "b"
        a_dir.mkdir()
        b_dir.mkdir()
        write_corpus(a_dir, args.docs, args.words, max(1, args.docs // 12_500))
        new = int(args.docs * args.new_share)
        planted = write_new_batch(a_dir, b_dir, new, args.words)
        index = root / "run_a" / "artifacts" / "dedup" / "index"
        runs = {
            "A alone, writing its index": run(config(root, "run_a", [a_dir], {"write": True}, args.workers)),
            "B against A's index (incremental)": run(config(root, "run_b", [b_dir], {
                "read": [str(index)], "prefer": args.prefer}, args.workers)),
            "A + B in one run (rerun everything)": run(config(root, "joint", [a_dir, b_dir], {}, args.workers)),
        }
        incremental, joint = decisions(root / "run_b"), decisions(root / "joint")
        same = sum(joint.get(doc_id, "missing") == detail for doc_id, detail in incremental.items())
        removed = sum(detail is not None for detail in incremental.values())
    table = Table(title=f"Incremental dedup: A {args.docs:,} documents, B {new:,} new ({planted['exact']:,} exact "
                        f"and {planted['near']:,} near copies of A), executor: local, {args.workers} workers")
    for column in ("run", "wall s", "CPU s"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, (wall, cpu) in runs.items():
        table.add_row(name, f"{wall:,.1f}", f"{cpu:,.1f}")
    console.print(table)
    (_, inc_cpu), (_, joint_cpu) = runs["B against A's index (incremental)"], runs["A + B in one run (rerun everything)"]
    inc_wall, joint_wall = runs["B against A's index (incremental)"][0], runs["A + B in one run (rerun everything)"][0]
    console.print(f"rerun everything / incremental: {joint_wall / inc_wall:.1f}x wall, {joint_cpu / inc_cpu:.1f}x CPU; "
                  f"B's documents removed incrementally: {removed:,}; decisions equal to the joint run's: "
                  f"{same:,} of {len(incremental):,}" + (" (prefer: earlier keeps A's copy where the joint run keeps "
                                                          "a longer new one)" if args.prefer == "earlier" else ""))


if __name__ == "__main__":
    main()
