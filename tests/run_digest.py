"""A stored, comparable summary of a run's outputs: documents, rejected, tokens and stats, row for
row, so a refactor can show the quickstart's outputs are unchanged (tests/test_quickstart.py).

Each row of ``documents`` and ``rejected`` is reduced to its key (id, input file relative to the
repository) and a digest of every column except the volatile ones (the time a generation was
made) and the model-judge floats, which are kept as numbers and compared with a tolerance: the
random-weight stand-in's scores may move in the last digits with the CPU's thread count. Token
rows are digested whole. Stats keep only counts (no timings, batch or partition counts, caches).

    python -m tests.run_digest OUT_DIR          # print the digest of a run
    python -m tests.run_digest OUT_DIR --write  # store it as tests/data/quickstart_digest.json
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
STORED = ROOT / "tests" / "data" / "quickstart_digest.json"

#: Columns left out of a row's digest: when a generation was made.
VOLATILE = frozenset({"synth_generated_at"})
#: The model judge's floats: compared with TOLERANCE, not digested.
JUDGE_FLOATS = ("quality_score", "quality_confidence", "quality_nll", "quality_judge_score")
TOLERANCE = 2e-3
#: Stats kept per stage: counts that do not depend on timing, parallelism or caches.
STAGE_COUNTS = ("docs_in", "docs_out", "rejected", "bytes_in", "bytes_out", "files",
                "candidate_edges", "false_positive_edges", "clusters")  # fmt: skip
SUMMARY_KEYS = ("documents", "tokens", "rejected", "rejected_by_reason", "kept_by_language_domain", "reports")


def _relative(path: str | None) -> str | None:
    if path is None:
        return None
    return path.removeprefix(str(ROOT) + "/")


def _digest(value: Any) -> str:
    """A short hash of a row, with the checkout's own path taken out of every value (a reader's
    ``reject_detail`` names the file it refused by its absolute path)."""
    text = json.dumps(value, sort_keys=True, default=str).replace(str(ROOT) + "/", "")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def table_rows(folder: Path) -> dict[str, dict[str, Any]]:
    """key -> {digest, judge floats} for every row of the Parquet files in ``folder``."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such output folder")
    rows: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            row["input_file"] = _relative(row.get("input_file"))
            key = f"{row['id']}|{row['input_file'] or ''}"
            judge = {name: row.pop(name) for name in JUDGE_FLOATS if name in row}
            kept = {k: v for k, v in row.items() if k not in VOLATILE}
            rows[key] = {"digest": _digest(kept), **{k: v for k, v in judge.items() if v is not None}}
    return rows


def summarize(out: Path) -> dict[str, Any]:
    summary = json.loads((out / "stats" / "summary.json").read_text())
    return {
        "documents": table_rows(out / "documents"),
        "rejected": table_rows(out / "rejected"),
        "tokens": {key: value["digest"] for key, value in table_rows(out / "tokens").items()},
        "stages": {s["stage"]: {k: s[k] for k in STAGE_COUNTS if k in s} for s in summary["stages"]},
        "summary": {k: summary.get(k) for k in SUMMARY_KEYS},
    }


def differences(got: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """What differs between two digests, one line per difference (empty: the same run)."""
    out: list[str] = []
    for part in ("documents", "rejected"):
        a, b = got[part], stored[part]
        out += [f"{part}: {key} missing" for key in sorted(b.keys() - a.keys())]
        out += [f"{part}: {key} new" for key in sorted(a.keys() - b.keys())]
        for key in sorted(a.keys() & b.keys()):
            if a[key]["digest"] != b[key]["digest"]:
                out.append(f"{part}: {key} differs")
            for name in JUDGE_FLOATS:
                x, y = a[key].get(name), b[key].get(name)
                if (x is None) != (y is None) or (x is not None and abs(x - y) > TOLERANCE):
                    out.append(f"{part}: {key} {name} {x} != {y}")
    for part in ("tokens", "stages", "summary"):
        a, b = got[part], stored[part]
        for key in sorted(a.keys() | b.keys()):
            if a.get(key) != b.get(key):
                out.append(f"{part}: {key}: {a.get(key)!r} != {b.get(key)!r}")
    return out


if __name__ == "__main__":
    digest = summarize(Path(sys.argv[1]))
    if "--write" in sys.argv:
        STORED.write_text(json.dumps(digest, indent=1, sort_keys=True) + "\n")
    else:
        print(json.dumps(digest, indent=1, sort_keys=True))
