"""False rejections of good real math by the quickstart chain (``pipelines/code_math.yaml``).

Runs the YAML's language ID stage, then its filters (decontamination skipped: it needs the
benchmark index and these sets are train splits) over good math and prints, per set and per
language, the share rejected and by which rule. Sets: GSM8K train and MATH train samples
(benchmarks/data, see its README) and every MGSM problem (../shared/realdata/math_mgsm.jsonl).

    python benchmarks/math_rejections.py [--config pipelines/code_math.yaml] [--show REASON]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa

from curate.config import load_config
from curate.schema import BASE_SCHEMA
from curate.stages.filter import FilterConfig, FilterStage
from curate.stages.langid import LanguageID

ROOT = Path(__file__).resolve().parent.parent
SETS = {
    "gsm8k_train": ROOT / "benchmarks" / "data" / "gsm8k_train_dev.jsonl",
    "math_train": ROOT / "benchmarks" / "data" / "math_competition_dev.jsonl",
    "mgsm": ROOT.parent / "shared" / "realdata" / "math_mgsm.jsonl",
}
SKIPPED = {"decontamination"}


def load_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build_chain(config: Path) -> tuple[LanguageID, FilterStage]:
    """The YAML's langid stage and its filter stage minus the skipped filters."""
    stages = {spec.key: spec for spec in load_config(config).stages}
    langid = LanguageID(stages["langid"].options, "langid")
    langid.setup()
    options = stages["filter"].options
    kept = [f for f in options.filters if f.name not in SKIPPED]
    filters = FilterStage(FilterConfig(filters=kept, keep_signals=False), "filter")
    filters.setup()
    return langid, filters


def run(rows: list[dict], langid: LanguageID, filters: FilterStage) -> list[dict]:
    table = pa.Table.from_pylist(
        [{"id": r["id"], "text": r["text"], "source": "dev", "domain": "math"} for r in rows], schema=BASE_SCHEMA
    )
    return filters.process(langid.process(table)).to_pylist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--config", type=Path, default=ROOT / "pipelines" / "code_math.yaml")
    parser.add_argument("--show", help="print the documents rejected for this reason")
    args = parser.parse_args()
    langid, filters = build_chain(args.config)
    print(f"{'set':<12} {'lang':<9} {'docs':>5} {'rejected':>9} {'lid_wrong':>9}  reasons")
    for name, path in SETS.items():
        rows = load_rows(path)
        by_lang: dict[str, list[dict]] = defaultdict(list)
        for row, out in zip(rows, run(rows, langid, filters)):
            by_lang[row.get("lang", "?")].append(out)
        for lang, outs in sorted(by_lang.items()):
            reasons = Counter(
                f"{o['reject_stage']}.{o['reject_reason']}" for o in outs if o["reject_reason"] is not None
            )
            rejected = sum(reasons.values())
            wrong = sum(1 for o in outs if o["lang"] is not None and o["lang"].split("_")[0] != lang.split("_")[0])
            top = ", ".join(f"{r} {c}" for r, c in reasons.most_common(4))
            print(f"{name:<12} {lang:<9} {len(outs):>5} {100 * rejected / len(outs):>8.1f}% {100 * wrong / len(outs):>8.1f}%  {top}")
            if args.show:
                for o in outs:
                    if o["reject_reason"] and args.show in f"{o['reject_stage']}.{o['reject_reason']}":
                        print(f"--- {o['id']}: {o['reject_detail']}\n{o['text'][:600]}\n")


if __name__ == "__main__":
    main()
