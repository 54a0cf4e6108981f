"""Near-dedup quality on planted pairs of known Jaccard similarity, through the real stage on Ray.

    python benchmarks/dedup_quality.py [--pairs-per-level 40] [--threshold 0.8]

Two corpora: generated Zipf-word documents, and the multilingual sample documents (real
text in 39 languages; character shingles for the spaceless ones). Each base document gets
one edited copy whose true Jaccard (over the stage's own shingles) falls in a known bin; bases
are unrelated to each other. The stage runs on a local Ray with and without verification.

Printed per corpus: detection probability per true-Jaccard bin next to the theoretical LSH
S-curve ``1 - (1 - s**r)**b`` for the chosen bands/rows (without verification the measured
curve should follow it; with verification nothing below the threshold survives), recall for
pairs with true Jaccard >= threshold + 0.05, and precision of the pairs the stage clustered.
"""

from __future__ import annotations

import argparse
import json
import random
import unicodedata
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from curate.config import StageSpec
from curate.dedup.sketch import Sketcher
from curate.runtime.plan import apply_global_stage
from curate.schema import BASE_SCHEMA
from curate.stages.dedup import Dedup, DedupConfig

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LEVELS = np.round(np.arange(0.40, 1.0001, 0.05), 2)


def zipf_documents(n: int, words: int, seed: int) -> list[tuple[str, str | None]]:
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(30000)]
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(vocab))]
    return [(" ".join(rng.choices(vocab, weights, k=words)), None) for _ in range(n)]


def sample_documents() -> list[tuple[str, str | None]]:
    docs = []
    for path in sorted((SAMPLES / "web").glob("*.jsonl")):
        if path.name == "near_duplicates.jsonl":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            docs.append((unicodedata.normalize("NFC", record["text"]), record.get("expected_lang")))
    return docs


def edited_copy(text: str, lang: str | None, target: float, sketcher: Sketcher, rng: random.Random) -> tuple[str, float]:
    """A copy of ``text`` with units replaced until its true Jaccard drops to about ``target``."""
    char_unit = bool(sketcher.char_units([text], [lang])[0])
    units = list(text) if char_unit else text.split(" ")
    base = sketcher.sketch([text], [lang]).shingle_sets[0]
    best = (text, 1.0)
    order = list(range(len(units)))
    rng.shuffle(order)
    lo, hi = 0, len(order)
    while lo < hi:  # binary search on how many units to replace
        mid = (lo + hi) // 2
        changed = list(units)
        for i in order[:mid]:
            changed[i] = ("\u4e00" if char_unit else "zq") + str(rng.randint(0, 999))
        candidate = ("" if char_unit else " ").join(changed)
        shingles = sketcher.sketch([candidate], [lang]).shingle_sets[0]
        inter = len(np.intersect1d(base, shingles))
        sim = inter / (len(base) + len(shingles) - inter)
        if abs(sim - target) < abs(best[1] - target):
            best = (candidate, sim)
        if sim > target:
            lo = mid + 1
        else:
            hi = mid
    return best


def planted(bases: list[tuple[str, str | None]], per_level: int, seed: int) -> tuple[list[dict], list[tuple[str, str, float]]]:
    """One edited copy per base document (bases are never reused: copies of one base would be
    near-duplicates of each other), ``per_level`` pairs per target Jaccard level."""
    rng = random.Random(seed)
    sketcher = Sketcher()
    rows, pairs = [], []
    k = 0
    for level in LEVELS:
        for _ in range(per_level):
            text, lang = bases[k]
            copy, sim = edited_copy(text, lang, float(level), sketcher, rng)
            a, b = f"p{k}-a", f"p{k}-b"
            rows += [{"id": a, "text": text, "lang": lang}, {"id": b, "text": copy, "lang": lang}]
            pairs.append((a, b, sim))
            k += 1
    return rows, pairs


def run_stage(ray, rows: list[dict], **options) -> dict[str, dict]:
    schema = BASE_SCHEMA.append(pa.field("lang", pa.string()))
    table = pa.Table.from_pylist([{"source": "bench", "domain": "web", **r} for r in rows], schema=schema)
    spec = StageSpec("dedup", Dedup, DedupConfig(**options))
    out = apply_global_stage(ray.data.from_arrow(table).repartition(4), spec)
    return {r["id"]: r for r in out.select_columns(["id", "dup_cluster"]).take_all()}


def clustered_similarities(out: dict[str, dict], sets: dict[str, np.ndarray]) -> list[float]:
    """True Jaccard of every pair of documents the stage put in one cluster."""
    clusters: dict[str, list[str]] = {}
    for doc_id, row in out.items():
        if row["dup_cluster"] is not None:
            clusters.setdefault(row["dup_cluster"], []).append(doc_id)
    sims = []
    for members in clusters.values():
        for i, x in enumerate(members):
            for y in members[i + 1 :]:
                inter = len(np.intersect1d(sets[x], sets[y]))
                sims.append(inter / (len(sets[x]) + len(sets[y]) - inter))
    return sims


def evaluate(out: dict[str, dict], pairs, threshold: float, sets: dict[str, np.ndarray]) -> dict:
    detected = [(sim, out[a]["dup_cluster"] is not None and out[a]["dup_cluster"] == out[b]["dup_cluster"])
                for a, b, sim in pairs]
    high = [hit for sim, hit in detected if sim >= threshold + 0.05]
    clustered = clustered_similarities(out, sets)
    return {
        "detected": detected,
        "recall": sum(high) / len(high) if high else float("nan"),
        "precision": sum(s >= threshold for s in clustered) / len(clustered) if clustered else float("nan"),
        "clustered_pairs": len(clustered),
    }


def main() -> None:
    import ray

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs-per-level", type=int, default=40)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=128)
    args = parser.parse_args()

    ray.init(include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    console = Console()
    options = {"threshold": args.threshold, "num_perm": args.num_perm}
    corpora = {
        "generated (Zipf words)": zipf_documents(len(LEVELS) * args.pairs_per_level, 250, seed=1),
        "samples (real text, 39 languages)": sample_documents(),
    }
    for name, bases in corpora.items():
        rows, pairs = planted(bases, min(args.pairs_per_level, len(bases) // len(LEVELS)), seed=2)
        sets = dict(zip([r["id"] for r in rows],
                        Sketcher().sketch([r["text"] for r in rows], [r["lang"] for r in rows]).shingle_sets))
        results = {verify: evaluate(run_stage(ray, rows, verify=verify, **options), pairs, args.threshold, sets)
                   for verify in ("none", "jaccard")}
        curves = {verify: Dedup(DedupConfig(verify=verify, **options)).band_parameters() for verify in results}
        table = Table(title=f"{name}: {len(pairs)} planted pairs, threshold {args.threshold}, {args.num_perm} perms; "
                            + ", ".join(f"{'verified' if v != 'none' else 'LSH only'}: {b} bands x {r} rows"
                                        for v, (b, r) in curves.items()))
        for column in ("true Jaccard", "pairs", "S-curve (LSH only)", "LSH only", "S-curve (verified)",
                       "LSH + verification"):
            table.add_column(column, justify="right")
        sims = np.array([s for _, _, s in pairs])
        edges = np.append(LEVELS - 0.025, 1.01)
        for lo, hi in zip(edges[:-1], edges[1:]):
            in_bin = (sims >= lo) & (sims < hi)
            if not in_bin.any():
                continue
            mid = float(sims[in_bin].mean())
            cells = []
            for verify, (bands, rows_per_band) in curves.items():
                theory = 1 - (1 - mid**rows_per_band) ** bands
                if verify != "none":  # verification drops everything below the threshold
                    theory = theory if mid >= args.threshold else 0.0
                rate = np.mean([hit for (s, hit) in results[verify]["detected"] if lo <= s < hi])
                cells += [f"{theory:.2f}", f"{rate:.2f}"]
            table.add_row(f"{lo:.3f}-{min(hi, 1):.3f}", str(int(in_bin.sum())), *cells)
        console.print(table)
        for verify, label in (("none", "LSH only"), ("jaccard", "LSH + true-Jaccard verification")):
            r = results[verify]
            console.print(f"  {label}: recall (true J >= {args.threshold + 0.05:.2f}) {r['recall']:.3f}, "
                          f"precision {r['precision']:.3f} over {r['clustered_pairs']} clustered pairs")


if __name__ == "__main__":
    main()
