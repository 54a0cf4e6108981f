"""Does the dashboard stay bounded on a big run? Time and peak memory of ``python -m dashboards build``
on generated outputs of growing size, against a bare Polars aggregate over the same files.

    python benchmarks/dashboard_scale.py                      # 1M and 10M kept rows (+20% rejected)
    python benchmarks/dashboard_scale.py --rows 200000 --rows 2000000 --keep

The generated output has the columns the dashboard reads (ids, short texts drawn from a pool,
domain, source, lang, lang_score, code_language, quality_score, dup_cluster(_size), synthetic,
synth_task, n_tokens), written as 100,000-row part files with the writer's row groups, and a
``stats/summary.json`` like a run's. Each build runs in a fresh process; peak memory is that
process's max RSS. The "raw" column is the fastest useful thing one can do: one lazy group-by
(tokens per language) over the same files, also in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
ROWS_PER_FILE = 100_000
LANGS = [f"l{i:03d}_Latn" for i in range(200)]  # a long tail: Zipf-weighted below
DOMAINS = ["web", "code", "math", "synthetic"]
REASONS = [("langid", "low_score"), ("filter", "gopher_quality.stop_words"), ("filter", "repetition.dup_line_frac"),
           ("filter", "length.too_short"), ("quality", "low_quality"), ("dedup", "near_duplicate"),
           ("dedup", "exact_duplicate"), ("synthesize", "wrong_language")]
RAW = """
import sys, polars as pl
out = sys.argv[1]
(pl.scan_parquet(f"{out}/documents/*.parquet").group_by("lang")
 .agg(pl.len(), pl.col("n_tokens").cast(pl.Int64).sum()).collect(engine="streaming"))
"""


def _part(rng: np.random.Generator, n: int, start: int, rejected: bool) -> pl.DataFrame:
    weights = 1.0 / np.arange(1, len(LANGS) + 1)
    pool = pl.Series([("word " * int(k)).strip() + f" {k}" for k in rng.integers(5, 60, 512)])
    domain = pl.Series(DOMAINS).gather(rng.choice(len(DOMAINS), n, p=[0.7, 0.15, 0.1, 0.05]))
    is_code, is_synth = pl.col("domain") == "code", pl.col("domain") == "synthetic"
    in_cluster = pl.Series(rng.random(n) < 0.05)
    frame = pl.DataFrame({
        "row": np.arange(start, start + n),
        "text": pool.gather(rng.integers(0, len(pool), n)),
        "domain": domain,
        "src": rng.integers(0, 3, n),
        "lang_pick": pl.Series(LANGS).gather(rng.choice(len(LANGS), n, p=weights / weights.sum())),
        "code_pick": pl.Series(["python", "rust", "c"]).gather(rng.integers(0, 3, n)),
        "task_pick": pl.Series(["qa", "rephrase"]).gather(rng.integers(0, 2, n)),
        "lang_score": rng.uniform(0.3, 1.0, n).astype(np.float32),
        "quality_score": rng.uniform(0, 5, n),
        "cluster": rng.integers(0, max(1, n // 50), n),
        "size": rng.integers(2, 9, n).astype(np.int32),
        "in_cluster": in_cluster,
        "n_tokens": rng.lognormal(6, 1.2, n).astype(np.int32) + 1,
    }).select(
        id=pl.lit("doc/") + pl.col("row").cast(pl.String),
        text=pl.col("text"),
        source=pl.col("domain") + pl.col("src").cast(pl.String),
        domain=pl.col("domain"),
        lang=pl.when(~is_code).then(pl.col("lang_pick")),
        code_language=pl.when(is_code).then(pl.col("code_pick")),
        lang_score=pl.col("lang_score"),
        quality_score=pl.col("quality_score"),
        synthetic=is_synth,
        synth_task=pl.when(is_synth).then(pl.col("task_pick")),
        dup_cluster=pl.when(pl.col("in_cluster")).then(pl.lit(f"c{start}-") + pl.col("cluster").cast(pl.String)),
        dup_cluster_size=pl.when(pl.col("in_cluster")).then(pl.col("size")),
        n_tokens=pl.col("n_tokens"),
    )
    if rejected:
        pick = rng.integers(0, len(REASONS), n)
        frame = frame.with_columns(
            reject_stage=pl.Series([r[0] for r in REASONS]).gather(pick),
            reject_reason=pl.Series([r[1] for r in REASONS]).gather(pick),
            reject_detail=pl.lit("generated"),
        )
    return frame


def generate(out: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for folder, total in (("documents", rows), ("rejected", rows // 5)):
        (out / folder).mkdir(parents=True)
        for start in range(0, total, ROWS_PER_FILE):
            n = min(ROWS_PER_FILE, total - start)
            _part(rng, n, start, folder == "rejected").write_parquet(
                out / folder / f"part-{start // ROWS_PER_FILE:05d}.parquet", compression="zstd", row_group_size=4096)
    rejected = rows // 5
    stages = [{"stage": s, "docs_in": rows + rejected, "docs_out": rows + rejected - (i + 1) * rejected // 5,
               "rejected": rejected // 5, "bytes_in": 0, "bytes_out": 0} for i, s in
              enumerate(["read", "langid", "filter", "quality", "dedup", "tokenize"])]
    summary = {"pipeline": "generated", "config": "generated", "config_hash": "0", "documents": rows,
               "tokens": 0, "rejected": rejected, "wall_seconds": 0.0, "stages": stages,
               "stage_config": {"langid": {"uses": "langid", "thresholds": {}, "threshold": None},
                                "quality": {"uses": "quality", "thresholds": {"web": 2.5, "*": 2.0}},
                                "tokenize": {"uses": "tokenize"}}}
    (out / "stats").mkdir()
    (out / "stats" / "summary.json").write_text(json.dumps(summary))


def measure(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GiB) of one fresh Python process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], cwd=REPO, stdout=subprocess.DEVNULL)
    _, status, usage = __import__("os").wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{args} failed ({status})")
    return time.perf_counter() - start, usage.ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append", help="kept rows (repeat for several sizes)")
    parser.add_argument("--keep", action="store_true", help="keep the generated outputs")
    args = parser.parse_args()
    sizes = args.rows or [1_000_000, 10_000_000]
    work = Path(tempfile.mkdtemp(prefix="dashboard_scale_"))
    print(f"{'kept rows':>11} {'rejected':>10} {'files':>6} {'on disk':>9} {'generate':>9} "
          f"{'raw s':>7} {'raw GiB':>8} {'build s':>8} {'build GiB':>10} {'s ratio':>8} {'page MB':>8}")
    try:
        for rows in sizes:
            out = work / f"run_{rows}"
            start = time.perf_counter()
            generate(out, rows)
            generated = time.perf_counter() - start
            disk = sum(f.stat().st_size for f in out.rglob("*.parquet")) / 2**30
            files = len(list(out.rglob("*.parquet")))
            raw_s, raw_gib = measure(["-c", RAW, str(out)])
            page = out / "dashboard.html"
            build_s, build_gib = measure(["-m", "dashboards", "build", str(out), "-o", str(page)])
            print(f"{rows:>11,} {rows // 5:>10,} {files:>6} {disk:>7.2f}GB {generated:>8.1f}s "
                  f"{raw_s:>7.1f} {raw_gib:>8.2f} {build_s:>8.1f} {build_gib:>10.2f} {build_s / raw_s:>7.1f}x "
                  f"{page.stat().st_size / 1e6:>8.1f}", flush=True)
            if not args.keep:
                shutil.rmtree(out)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"peak RSS from getrusage; machine max RSS so far {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
