"""MinHash signature throughput (normalise + shingle + hash), one core, same documents, one run.

    python benchmarks/dedup_signatures.py [--docs 4000] [--num-perm 128]

Compared paths, all with ``num_perm`` permutations and 5-word shingles:

* ``curate``: :class:`curate.dedup.sketch.Sketcher` (vectorised normalisation, span-hashed
  shingles, datasketch-identical permutations), with and without the shingle sets kept for
  verification, and with datasketch's default SHA-1 shingle hash.
* ``datasketch``: ``MinHash.bulk`` on shingles built the usual way in Python (lower-case,
  whitespace split, join 5-grams, UTF-8 encode): less normalisation than ours, so the ratio is
  conservative.
* ``datatrove``: ``MinhashDedupSignature.get_shingles`` + ``get_signature`` (its text
  simplification, SHA-1 shingle hashes, 64-bit permutations) with a whitespace word tokenizer;
  compute only, no signature files written.
* ``rensa``: ``RMinHash`` (Rust) on the same Python shingles, as a reference point.

Peers that are not installed are reported as missing (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import json
import random
import unicodedata
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table
from timing import best_of

from curate.dedup.sketch import Sketcher

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def sample_corpus(n: int) -> tuple[list[str], list[str | None]]:
    """The multilingual sample documents, repeated with a per-copy word so no two are equal."""
    docs = []
    for path in sorted((SAMPLES / "web").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            docs.append((unicodedata.normalize("NFC", record["text"]), record.get("expected_lang")))
    out = [(f"copy{k} {text}", lang) for k in range(n // len(docs) + 1) for text, lang in docs][:n]
    return [t for t, _ in out], [lang for _, lang in out]


def english_like_corpus(n: int, words: int = 300, seed: int = 0) -> list[str]:
    """Latin-script documents of Zipf-distributed words with punctuation and digits."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("etaoinshrdlucmfwypvbgkjqxz") for _ in range(rng.randint(2, 9))) for _ in range(20000)]
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    docs = []
    for _ in range(n):
        tokens = rng.choices(vocab, weights, k=words)
        for i in range(0, words, 17):
            tokens[i] = tokens[i].capitalize() + rng.choice([",", ".", ";", " 2024", ""])
        docs.append(" ".join(tokens))
    return docs


def python_shingles(text: str, n: int = 5) -> list[str]:
    words = text.lower().split()
    return [" ".join(words[i : i + n]) for i in range(max(len(words) - n + 1, 1))] if words else []


def run_curate(sketcher: Sketcher, texts, langs, with_sets: bool) -> Callable[[], object]:
    return lambda: sketcher.sketch(texts, langs, with_shingle_sets=with_sets)


def run_datasketch(texts: list[str], num_perm: int) -> Callable[[], object] | None:
    try:
        from datasketch import MinHash
    except ImportError:
        return None
    return lambda: MinHash.bulk(([s.encode("utf-8") for s in python_shingles(t)] for t in texts), num_perm=num_perm)


def run_datatrove(texts: list[str], num_perm: int, tmpdir: str) -> Callable[[], object] | None:
    try:
        from datatrove.pipeline.dedup import minhash as datatrove_minhash
    except ImportError:
        return None

    class WhitespaceTokenizer:
        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

    if num_perm % 8:
        return None
    # The step loads a spaCy tokenizer for English by default; swap in whitespace splitting.
    datatrove_minhash.load_word_tokenizer = lambda language: WhitespaceTokenizer()
    config = datatrove_minhash.MinhashConfig(num_buckets=num_perm // 8, hashes_per_bucket=8)
    step = datatrove_minhash.MinhashDedupSignature(output_folder=tmpdir, config=config)

    def go():
        for text in texts:
            shingles = step.get_shingles(text)
            if shingles.size:
                step.get_signature(shingles)

    return go


def run_rensa(texts: list[str], num_perm: int) -> Callable[[], object] | None:
    try:
        from rensa import RMinHash
    except ImportError:
        return None

    def go():
        for text in texts:
            m = RMinHash(num_perm=num_perm, seed=1)
            m.update(python_shingles(text))
            m.digest()

    return go


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    corpora = {"samples (39 languages)": sample_corpus(args.docs),
               "english-like (300 words)": (english_like_corpus(args.docs), [None] * args.docs)}
    console = Console()
    sketcher = Sketcher(num_perm=args.num_perm)
    sketcher.sketch(["warm up the character table"])
    sha1_sketcher = Sketcher(num_perm=args.num_perm, hash_function="sha1")
    for name, (texts, langs) in corpora.items():
        with tempfile.TemporaryDirectory() as tmp:
            paths = {
                "curate (signatures only)": run_curate(sketcher, texts, langs, False),
                "curate (+ shingle sets for verification)": run_curate(sketcher, texts, langs, True),
                "curate (SHA-1 shingle hash)": run_curate(sha1_sketcher, texts, langs, False),
                "datasketch MinHash.bulk": run_datasketch(texts, args.num_perm),
                "datatrove MinhashDedupSignature": run_datatrove(texts, args.num_perm, tmp),
                "rensa RMinHash": run_rensa(texts, args.num_perm),
            }
            seconds = {label: best_of(fn, args.repeat) for label, fn in paths.items() if fn is not None}
        ours = seconds["curate (signatures only)"]
        table = Table(title=f"MinHash signatures, {name}: {len(texts)} docs, num_perm={args.num_perm}, one core")
        for column in ("path", "docs/s", "curate / this"):
            table.add_column(column, justify="left" if column == "path" else "right")
        for label, fn in paths.items():
            if fn is None:
                table.add_row(label, "not installed", "-")
                continue
            table.add_row(label, f"{len(texts) / seconds[label]:,.0f}", f"{seconds[label] / ours:.2f}x")
        console.print(table)


if __name__ == "__main__":
    main()
