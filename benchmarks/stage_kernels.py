"""Throughput of our stages against the raw kernels they wrap, measured in one run, one core.

    python benchmarks/stage_kernels.py [--docs 20000]

Prints documents/s and the ratio of each of our stages to the fastest raw kernel on the same
documents (the sample corpus repeated). A ratio near 1.0 means the stage adds little overhead.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from pathlib import Path

import pyarrow as pa
from rich.console import Console
from rich.table import Table
from timing import best_of

from curate.lang.cld2 import cld2_votes
from curate.lang.text import prediction_text
from curate.schema import BASE_SCHEMA
from curate.stages.langid import LangIDConfig, LanguageID
from curate.stages.tokenize import Tokenize, TokenizeConfig

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def sample_texts() -> list[str]:
    texts = []
    for path in sorted(SAMPLES.glob("web/*.jsonl")) + [SAMPLES / "math" / "problems.jsonl"]:
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            texts.append(unicodedata.normalize("NFC", record.get("text") or record["body"]))
    return texts


def as_batch(texts: list[str]) -> pa.Table:
    rows = [{"id": str(i), "text": t, "source": "bench", "domain": "web"} for i, t in enumerate(texts)]
    return pa.Table.from_pylist(rows, schema=BASE_SCHEMA)


def bench_tokenize(texts: list[str], batch: pa.Table) -> list[tuple[str, float]]:
    stage = Tokenize(TokenizeConfig())
    stage.setup()
    encoding = stage.tokenizer.encoding
    hf_backend = stage.tokenizer.hf.backend_tokenizer
    hf_backend.encode_special_tokens = True
    rows = [
        ("tiktoken encode_ordinary_batch (raw)", best_of(lambda: encoding.encode_ordinary_batch(texts, num_threads=1))),
        ("HF tokenizers encode_batch (raw)", best_of(lambda: hf_backend.encode_batch(texts, add_special_tokens=False))),
        ("curate tokenize stage (ids + Arrow list column)", best_of(lambda: stage.process(batch))),
    ]
    return rows


def bench_langid(texts: list[str], batch: pa.Table) -> list[tuple[str, float]]:
    alone = LanguageID(LangIDConfig(models=["lid.176"], top_k=1, line_mix=False))
    alone.setup()
    stage = LanguageID(LangIDConfig(top_k=1, line_mix=False))  # the default: cld2, lid.176, heliport
    stage.setup()
    with_mix = LanguageID(LangIDConfig(top_k=1, line_mix=True))
    with_mix.setup()
    model, heliport = alone.identifier.model, stage.identifier.heliport
    lines = [prediction_text(t, 2000) for t in texts]
    per_doc = best_of(lambda: [model.predict([line], k=1) for line in lines])
    settled = stage.identifier.settled_by_cld2(lines)
    rest = [line for j, line in enumerate(lines) if j not in settled]
    asked = sum(stage.identifier.needs_second_opinion(ranked) for ranked in
                ([(alone.identifier.code(row[0], line), float(p[0]))] for line, row, p in zip(rest, *model.predict(rest, k=1))))
    rows = [
        ("fastText lid.176 predict, one call per doc (raw)", per_doc),
        ("fastText lid.176 predict, one call per batch (raw)", best_of(lambda: model.predict(lines, k=1))),
        ("pycld2 detect, per doc (raw)", best_of(lambda: [cld2_votes(x) for x in lines])),
        ("heliport identify_topk_with_score, per doc (raw)", best_of(lambda: [heliport.identify_topk_with_score(x, 3) for x in lines])),
        ("curate langid stage, lid.176 alone (normalise + predict + codes)", best_of(lambda: alone.process(batch))),
        (f"curate langid stage, default (CLD2 settles {len(settled) / len(lines):.0%} of docs, "
         f"heliport asked on {asked / len(lines):.0%})",
         best_of(lambda: stage.process(batch))),
        ("curate langid stage, default + line_mix (+ one lid.176 predict per line)", best_of(lambda: with_mix.process(batch))),
    ]
    # The stage's target is >= 1.0x the documents/s of bare lid.176's per-document loop: say where it stands.
    return [(name if "(raw)" in name else f"{name} [{per_doc / seconds:.2f}x bare lid.176 per doc]", seconds)
            for name, seconds in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=20000)
    args = parser.parse_args()
    base = sample_texts()
    texts = (base * (args.docs // len(base) + 1))[: args.docs]
    batch = as_batch(texts)
    console = Console()
    for title, rows in (("tokenize", bench_tokenize(texts, batch)), ("langid", bench_langid(texts, batch))):
        fastest_raw = min(seconds for name, seconds in rows if "(raw)" in name)
        table = Table(title=f"{title}: {len(texts):,} documents, {sum(map(len, texts)) / 1e6:.1f} M chars, 1 core")
        for column in ("kernel", "docs/s", "ratio to fastest raw"):
            table.add_column(column, justify="left" if column == "kernel" else "right")
        for name, seconds in rows:
            table.add_row(name, f"{len(texts) / seconds:,.0f}", f"{fastest_raw / seconds:.2f}")
        console.print(table)


if __name__ == "__main__":
    main()
