"""The same CPU pipeline end to end in curate and in datatrove: documents/s, scaling, memory.

    python benchmarks/e2e_datatrove.py [--docs 100000] [--workers 1 2] [--languages eng_Latn ...]

Both sides read the same generated corpus (``--docs`` documents in JSONL.gz shards, real prose
in 40 languages recombined from the sentences of ``benchmarks/data/lid_labelled.jsonl`` (built from
``samples/web``) with a fifth of the words swapped, 5% junk, and 5% exact and 10% near copies
planted by ``dedup_scale.write_corpus``), run

    read -> fastText LID (lid.176, keep score > 0.65) -> Gopher quality -> MinHash dedup
         (5-grams, 14 bands x 8 rows) -> Qwen2.5 tokenizer (+EOS) -> write

and write the kept documents (Parquet), the tokens and every rejected document. curate runs as
``python -m curate.run`` twice: ``curate`` with ``executor: local`` and ``local.workers: W`` (its
fastest setting on one machine: no Ray, W processes) and ``curate-ray`` on a local Ray of W CPUs
(the executor that also runs on clusters); datatrove runs ``LocalPipelineExecutor`` with W
tasks and W workers per step (MinHash buckets: one task per band). Each run is a fresh process
pinned to W cores (``sched_setaffinity``, inherited by Ray's and datatrove's worker processes),
so "W workers" means W cores on both sides. Memory and CPU time are sampled every second over
the whole process tree (see ``dedup_scale.MemorySampler``); on a shared machine CPU seconds are
the steadier measure, wall time the one users feel.

datatrove runs twice: as it comes (``datatrove``: its Gopher word-tokenises with spaCy's English
tokenizer, ~95% of its time) and configured the way a user who cares about speed would
(``datatrove-ws``: ``str.split`` words for Gopher, replacing ``gopher_quality_filter.split_into_words``
in each worker, and for MinHash's shingles, replacing the signature step's ``word_tokenizer``,
which is spaCy's English tokenizer too). Everything else is the same in both.
Besides the totals the run prints each stage's seconds side by side: curate's ``cpu_seconds``
from ``stats/summary.json`` (CPU time inside the stage's batches, summed over workers; dedup: the
global stage's wall time), datatrove's ``time_stats`` from each executor's ``stats.json`` (summed
over tasks; a step-level block such as MinHash stage 1 times the blocks before it too, so their
time is subtracted from it).

Where the two pipelines differ (printed with the results):

- Gopher: datatrove's ``GopherQualityFilter`` word-tokenises every document with spaCy's English
  tokenizer (or ``str.split`` in ``datatrove-ws``); curate's ``gopher_quality`` uses per-script
  word units and stop words of 46 languages. Its stock stop words are Gopher's eight English ones, which reject nearly all
  non-English prose, so by default (``--datatrove-stop-words all``) it gets the union of curate's
  spaced-script stop-word lists instead; it still rejects most Chinese, Japanese, Thai, Lao,
  Khmer and Burmese documents (too few "words"), so its dedup and tokenizer see ~20% fewer
  documents. The table shows the documents each side kept after each step.
- Dedup: curate also removes exact duplicates (content hash) before MinHash; datatrove's four
  MinHash steps only. Neither verifies candidates (curate ``verify: none``). Both use union-find
  clusters and keep one document per cluster.
- LID: datatrove predicts all 176 labels on the whole text; curate the top 3 on the first
  2,000 normalised characters.
- Outputs: curate writes documents/ and tokens/ as zstd Parquet and rejected/ with reasons;
  datatrove writes documents as Parquet, tokens as its ``.ds`` files, rejections as JSONL.gz
  per step (its exclusion writers), and an intermediate copy of the filtered corpus that
  MinHash step 4 reads again (its documented way to run MinHash after filtering).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup_scale import MemorySampler, write_corpus  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: Comparable knobs, one place: datatrove's MinhashConfig defaults (14 x 8 = 112 hashes, 5-grams).
LID_THRESHOLD = 0.65
BANDS, ROWS, NGRAM = 14, 8, 5


# --------------------------------------------------------------------------- corpus


_SENTENCE_END = re.compile(r"(?<=[.!?;。！？।۔])\s+|(?<=[。！？])")


def sentence_pools(languages: list[str] | None) -> dict[str, list[str]]:
    """Per language, the sentences of the prose written for this project (``lid_labelled.jsonl``,
    built from ``samples/web`` plus sentences of its own), paragraphs cut at sentence ends."""
    pools: dict[str, set[str]] = defaultdict(set)
    for line in (REPO / "benchmarks" / "data" / "lid_labelled.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        pools[record["lang"]].update(s.strip() for s in _SENTENCE_END.split(record["text"]) if len(s.strip()) > 10)
    chosen = {lang: sorted(pool) for lang, pool in pools.items() if not languages or lang in languages}
    if not chosen:
        raise SystemExit(f"no sample prose for {languages}")
    return chosen


def prose_maker(languages: list[str] | None, junk_share: float = 0.05, swap_rate: float = 0.2):
    """Documents of 2-4 paragraphs of 2-4 sentences drawn from one language's pool, with
    ``swap_rate`` of the words (characters in spaceless scripts) swapped for others of the same
    language: each document is new text in that language, and two documents built from the same
    sentences still share few 5-grams (the pools are small). ``junk_share`` of the documents are
    junk lines from ``samples/junk``."""
    pools = sentence_pools(languages)
    langs = sorted(pools)
    spaced = {lang: sum(s.count(" ") for s in pool) > 2 * len(pool) for lang, pool in pools.items()}
    units = {lang: sorted({u for s in pool for u in (s.split() if spaced[lang] else s) if not u.isspace()})
             for lang, pool in pools.items()}
    junk = [json.loads(line)["text"] for line in (REPO / "samples" / "junk" / "junk.jsonl").read_text().splitlines()]

    def make(rng: random.Random) -> str:
        if rng.random() < junk_share:
            return "\n".join(rng.choices(junk, k=rng.randint(1, 4)))
        lang = rng.choice(langs)
        sentences, vocab, sep = pools[lang], units[lang], " " if spaced[lang] else ""
        paragraphs = []
        for _ in range(rng.randint(2, 4)):
            text = sep.join(rng.sample(sentences, min(len(sentences), rng.randint(2, 4))))
            parts = text.split(" ") if sep else list(text)
            paragraphs.append(sep.join(rng.choice(vocab) if rng.random() < swap_rate and not p.isspace() else p
                                       for p in parts))
        return "\n\n".join(paragraphs)

    return make


def check_corpus(docs: int = 4000) -> None:
    """How many random document pairs reach the MinHash threshold (5-gram Jaccard) without being
    planted copies: the generator should make next to none (junk documents aside)."""
    make, rng = prose_maker(None), random.Random(1)
    texts = [make(rng) for _ in range(docs)]

    def grams(text: str) -> set:
        units = text.lower().split() if text.count(" ") > 10 else [c for c in text if not c.isspace()]
        return {tuple(units[i:i + NGRAM]) for i in range(max(1, len(units) - NGRAM + 1))}

    sets = [grams(t) for t in texts]
    pairs = [(rng.randrange(docs), rng.randrange(docs)) for _ in range(200_000)]
    scores = [len(sets[a] & sets[b]) / max(1, len(sets[a] | sets[b])) for a, b in pairs if a != b]
    print(f"max {max(scores):.2f}, >=0.5: {sum(s >= 0.5 for s in scores)}, >=0.72: {sum(s >= 0.72 for s in scores)}"
          f" of {len(scores)} random pairs")


# --------------------------------------------------------------------------- curate


def curate_yaml(data: Path, out: Path, workers: int, executor: str = "local") -> str:
    return f"""name: e2e_bench
output_dir: {out}
sources:
  - name: gen
    paths: ["{data}/*.jsonl.gz"]
    domain: web
stages:
  langid: {{models: [lid.176], threshold: {LID_THRESHOLD}, default_thresholds: false}}
  filter:
    filters:
      - {{name: gopher_quality}}
  dedup: {{exact: true, near: true, threshold: 0.72, num_perm: {BANDS * ROWS}, bands: {BANDS}, rows: {ROWS}, ngram: {NGRAM},
          verify: none, keep_by: [length]}}
  tokenize: {{tokenizer: qwen2.5, append_eos: true}}
executor: {executor}
local: {{workers: {workers}}}
ray: {{num_cpus: {workers}}}
"""


def curate_counts(out: Path) -> dict[str, int]:
    summary = json.loads((out / "stats" / "summary.json").read_text())
    stages = {s["stage"]: s for s in summary["stages"]}
    return {"read": stages["read"]["docs_out"], "langid": stages["langid"]["docs_out"],
            "filter": stages["filter"]["docs_out"], "dedup": stages["dedup"]["docs_out"],
            "tokens": summary["tokens"]}


# --------------------------------------------------------------------------- datatrove


def datatrove_stop_words(which: str) -> list[str] | None:
    """``english``: Gopher's eight (datatrove's default). ``all``: every spaced-script stop word of
    curate's lists, so datatrove's English-tokenised Gopher passes non-English prose too."""
    if which == "english":
        return None
    from filters.stopwords import STOP_WORDS
    from filters.words import SPACELESS_SCRIPTS

    return sorted({w for lang, words in STOP_WORDS.items() if lang.split("_")[-1] not in SPACELESS_SCRIPTS for w in words})


def whitespace_words(text: str, language: str) -> list[str]:
    """The word tokenizer a speed-minded datatrove user gives Gopher: ``str.split``."""
    return text.split()


def run_datatrove(data: Path, out: Path, workers: int, tokenizer_json: str, lid_model: str, stop_words: str,
                  gopher_words: str = "spacy") -> None:
    """The datatrove pipeline (runs in its own process: ``--datatrove-run``). ``gopher_words``:
    ``spacy`` (datatrove's default word tokenizer for English) or ``whitespace`` (``str.split``)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.filters import GopherQualityFilter, LanguageFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer
    from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
    from datatrove.utils.lid import FT176LID

    class WhitespaceGopher(GopherQualityFilter):
        """datatrove's Gopher with ``str.split`` words: its filter reads the module's
        ``split_into_words``, so that is replaced, in whichever worker process runs the filter
        (with ``workers > 1`` datatrove runs tasks in other processes, where a patch made here
        before the run would not exist)."""

        def filter(self, doc):
            from datatrove.pipeline.filters import gopher_quality_filter

            gopher_quality_filter.split_into_words = whitespace_words
            return super().filter(doc)

    class WhitespaceWords:
        """A word tokenizer for MinHash's shingles: ``str.split`` (datatrove's signature step
        word-tokenises with spaCy's English tokenizer too)."""

        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

    def signatures(**kwargs):
        step = MinhashDedupSignature(**kwargs)
        if gopher_words == "whitespace":
            step.word_tokenizer = WhitespaceWords()
        return step

    class LocalFT176LID(FT176LID):
        """datatrove's lid.176 predictor, loading a local file instead of downloading it."""

        @property
        def model(self):
            if self._model is None:
                from fasttext.FastText import _FastText

                self._model = _FastText(lid_model)
            return self._model

        def predict(self, doc):
            # datatrove's own predict, but through fastText's list form: the single-string form of
            # fasttext 0.9.3 calls np.array(copy=False), which numpy 2 refuses. Same C++ call per doc.
            labels, scores = self.model.predict([doc.text.replace("\n", " ")], k=self.k)
            pairs = {label.split("__")[2]: float(score) for label, score in zip(labels[0], scores[0])}
            return max(pairs.items(), key=lambda x: x[1]), pairs

    class LocalLanguageFilter(LanguageFilter):
        """datatrove checks for the ``fasttext-numpy2-wheel`` distribution by name; the full
        ``fasttext`` 0.9.3 here (numpy 2 ready) provides the same module, so skip that check."""

        def __new__(cls, *args, **kwargs):
            return object.__new__(cls)

    language_filter = LocalLanguageFilter(language_threshold=LID_THRESHOLD,
                                          exclusion_writer=JsonlWriter(f"{out}/rejected/langid"))
    language_filter.model = LocalFT176LID()
    config = MinhashConfig(n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS)
    logs = f"{out}/logs"
    steps = [
        LocalPipelineExecutor(pipeline=[
            JsonlReader(str(data), glob_pattern="*.jsonl.gz"),
            language_filter,
            (WhitespaceGopher if gopher_words == "whitespace" else GopherQualityFilter)(
                stop_words=datatrove_stop_words(stop_words), exclusion_writer=JsonlWriter(f"{out}/rejected/gopher")),
            JsonlWriter(f"{out}/filtered"),
            signatures(output_folder=f"{out}/signatures", config=config),
        ], tasks=workers, workers=workers, logging_dir=f"{logs}/1_signatures"),
        LocalPipelineExecutor(pipeline=[
            MinhashDedupBuckets(input_folder=f"{out}/signatures", output_folder=f"{out}/buckets", config=config),
        ], tasks=BANDS, workers=workers, logging_dir=f"{logs}/2_buckets"),
        LocalPipelineExecutor(pipeline=[
            MinhashDedupCluster(input_folder=f"{out}/buckets", output_folder=f"{out}/remove_ids", config=config),
        ], tasks=1, logging_dir=f"{logs}/3_cluster"),
        LocalPipelineExecutor(pipeline=[
            JsonlReader(f"{out}/filtered"),
            MinhashDedupFilter(input_folder=f"{out}/remove_ids", exclusion_writer=JsonlWriter(f"{out}/rejected/dedup")),
            ParquetWriter(f"{out}/documents"),
            DocumentTokenizer(output_folder=f"{out}/tokens", tokenizer_name_or_path=tokenizer_json,
                              eos_token="<|endoftext|>", shuffle_documents=False),
        ], tasks=workers, workers=workers, logging_dir=f"{logs}/4_filter_tokenize"),
    ]
    for step in steps:
        step.run()


def datatrove_counts(out: Path) -> dict[str, int]:
    """Documents kept after each step and tokens written, from the executors' stats.json."""
    def step(folder: str, name_part: str) -> dict:
        entries = json.loads((out / "logs" / folder / "stats.json").read_text())
        return next(e for e in entries if name_part in e["name"])["stats"]

    def total(value) -> int:
        return int(value["total"] if isinstance(value, dict) else value)

    return {"read": total(step("1_signatures", "READER")["documents"]),
            "langid": total(step("1_signatures", "Language ID").get("forwarded", 0)),
            "filter": total(step("1_signatures", "Gopher").get("forwarded", 0)),
            "dedup": total(step("4_filter_tokenize", "MinHash stage 4").get("forwarded", 0)),
            "tokens": total(step("4_filter_tokenize", "TOKENIZER").get("tokens", 0))}


def datatrove_stage_seconds(out: Path) -> dict[str, float]:
    """Seconds per stage from datatrove's stats.json files (summed over tasks). A block timed for
    the whole step (no per-document count) includes the blocks before it: those are subtracted."""
    seconds: dict[str, float] = defaultdict(float)
    names = {"READER": "read", "Language ID": "langid", "Gopher": "gopher", "WRITER: 🐿 Jsonl": "write (filtered copy)",
             "MinHash stage 1": "minhash signatures", "MinHash stage 2": "minhash buckets",
             "MinHash stage 3": "minhash clusters", "MinHash stage 4": "dedup filter",
             "WRITER: 📒 Parquet": "write (documents)", "TOKENIZER": "tokenize + write"}
    for step in ("1_signatures", "2_buckets", "3_cluster", "4_filter_tokenize"):
        before = 0.0
        for entry in json.loads((out / "logs" / step / "stats.json").read_text()):
            total = float(entry["time_stats"].get("total", 0.0))
            own = total - before if "n" not in entry["time_stats"] and step == "1_signatures" else total
            before += own
            name = next((v for k, v in names.items() if k in entry["name"]), entry["name"])
            seconds["read" if name == "read" and step == "1_signatures" else
                    ("dedup filter" if name == "read" else name)] += own
    return dict(seconds)


def curate_stage_seconds(out: Path) -> dict[str, float]:
    """CPU seconds per stage (``cpu_seconds``: the workers' process time inside the stage's
    batches; with every worker on the same cores, their busy wall time would count the others'
    turns too). dedup, a global stage whose search runs in its own tasks: its wall time."""
    summary = json.loads((out / "stats" / "summary.json").read_text())
    return {s["stage"]: float(s["wall_seconds"] if s["stage"] == "dedup" else s["cpu_seconds"])
            for s in summary["stages"]}


# --------------------------------------------------------------------------- measuring


def measure(cmd: list[str], cores: set[int], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``cmd`` pinned to ``cores``; wall time and peak memory of its process tree."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})}, preexec_fn=lambda: os.sched_setaffinity(0, cores))
    load = os.getloadavg()[0]
    sampler = MemorySampler(proc.pid, interval=1.0)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.perf_counter() - started
    sampler.stop.set()
    if proc.returncode != 0:
        print(output[-6000:])
        raise SystemExit(f"{cmd[:4]} failed with exit code {proc.returncode}")
    return {"wall": wall, "cpu": sampler.cpu_total, "load": (load + os.getloadavg()[0]) / 2,
            "heap": sampler.peak_heap_total, "rss": sampler.peak_rss_total,
            "largest": sampler.peak_heap_single, "largest_name": sampler.peak_heap_name,
            "processes": sampler.cpu_by_name()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--docs-per-shard", type=int, default=5_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--languages", nargs="*", default=None, help="corpus languages (default: all 40 in samples)")
    parser.add_argument("--only", choices=["curate", "curate-ray", "datatrove", "datatrove-ws"], nargs="+",
                        default=None, help="run only these sides")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep corpus and outputs here (default: a temp dir)")
    parser.add_argument("--datatrove-stop-words", choices=["all", "english"], default="all",
                        help="stop words of datatrove's Gopher filter (see the module docstring)")
    parser.add_argument("--datatrove-run", nargs=7,
                        metavar=("DATA", "OUT", "WORKERS", "TOKENIZER", "LID", "STOPWORDS", "GOPHER_WORDS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--processes", action="store_true",
                        help="also print CPU seconds per process title (Ray's daemons, workers, actors)")
    parser.add_argument("--check-corpus", action="store_true", help="only report accidental near-duplicates of the generator")
    args = parser.parse_args()
    if args.check_corpus:
        check_corpus()
        return
    if args.datatrove_run:
        data, out, workers, tokenizer_json, lid, stop_words, gopher_words = args.datatrove_run
        run_datatrove(Path(data), Path(out), int(workers), tokenizer_json, lid, stop_words, gopher_words)
        return

    from curate.lang.models import resolve_model_path
    from curate.tokenizer import QwenTokenizer

    available = sorted(os.sched_getaffinity(0))
    if max(args.workers) > len(available):
        raise SystemExit(f"--workers {max(args.workers)} needs that many cores; this process may use {len(available)}")
    tokenizer_json = str(QwenTokenizer.load().hf_dir() / "tokenizer.json")
    lid_model = str(resolve_model_path("lid.176"))
    console = Console(width=max(200, Console().width))  # the table has 16 columns
    sides = args.only or ["curate", "curate-ray", "datatrove", "datatrove-ws"]
    results: dict[tuple[str, int], dict] = {}
    with contextlib.ExitStack() as stack:
        tmp = str(args.work_dir) if args.work_dir else stack.enter_context(tempfile.TemporaryDirectory())
        data = Path(tmp) / "data"
        data.mkdir(parents=True)
        started = time.perf_counter()
        planted = write_corpus(data, args.docs, 0, max(1, -(-args.docs // args.docs_per_shard)), seed=0,
                               make_text=prose_maker(args.languages), gzip_files=True)
        size = sum(p.stat().st_size for p in data.iterdir())
        console.print(f"generated {args.docs:,} documents ({size / 2**20:,.0f} MiB gzipped, "
                      f"{len(list(data.iterdir()))} shards) in {time.perf_counter() - started:.0f}s: "
                      f"{planted['exact']:,} exact and {planted['near']:,} near copies planted")
        for workers in args.workers:
            cores = set(available[:workers])
            for side in sides:
                out = Path(tmp) / f"{side}-{workers}"
                if side.startswith("curate"):
                    config = Path(tmp) / f"{side}-{workers}.yaml"
                    config.write_text(curate_yaml(data, out, workers, "ray" if side == "curate-ray" else "local"))
                    result = measure([sys.executable, "-m", "curate.run", str(config)], cores)
                    result["counts"] = curate_counts(out)
                    result["stages"] = curate_stage_seconds(out)
                else:
                    words = "whitespace" if side == "datatrove-ws" else "spacy"
                    result = measure([sys.executable, __file__, "--datatrove-run", str(data), str(out), str(workers),
                                      tokenizer_json, lid_model, args.datatrove_stop_words, words], cores,
                                     env={"HF_HUB_OFFLINE": "1"})
                    result["counts"] = datatrove_counts(out)
                    result["stages"] = datatrove_stage_seconds(out)
                results[(side, workers)] = result
                console.print(f"{side} on {workers} core(s): {result['wall']:,.1f} s, {result['cpu']:,.0f} CPU s, "
                              f"peak heap {result['heap'] / 2**30:.2f} GiB, load {result['load']:.1f}, "
                              f"kept {result['counts']}")
                if args.processes:
                    for name, (count, seconds) in list(result["processes"].items())[:15]:
                        console.print(f"    {seconds:7.1f} CPU s  {count:3d} x {name}")
    print_table(console, args, results, len(available))


def print_table(console: Console, args: argparse.Namespace, results: dict, cores: int) -> None:
    table = Table(title=f"End to end, {args.docs:,} documents "
                        f"({', '.join(args.languages) if args.languages else '40 languages'}), "
                        f"read -> LID -> Gopher -> MinHash -> Qwen2.5 tokens -> write; {cores} cores here")
    for column in ("side", "workers (cores)", "wall s", "docs/s", "vs datatrove-ws", "vs 1 worker", "CPU s",
                   "docs/CPU-s", "vs datatrove-ws (CPU)", "vs datatrove (CPU)", "load avg", "peak heap", "peak RSS sum",
                   "after LID", "after Gopher", "after dedup", "tokens"):
        table.add_column(column, justify="left" if column == "side" else "right")
    first = min(args.workers)
    for (side, workers), r in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        peer = results.get(("datatrove-ws", workers))
        stock = results.get(("datatrove", workers))
        single = results.get((side, first))
        c = r["counts"]
        table.add_row(
            side, str(workers), f"{r['wall']:,.1f}", f"{args.docs / r['wall']:,.0f}",
            f"{peer['wall'] / r['wall']:.2f}x" if peer else "-",
            f"{single['wall'] / r['wall']:.2f}x" if single else "-",
            f"{r['cpu']:,.0f}", f"{args.docs / r['cpu']:,.0f}",
            f"{peer['cpu'] / r['cpu']:.2f}x" if peer else "-",
            f"{stock['cpu'] / r['cpu']:.2f}x" if stock else "-", f"{r['load']:.1f}",
            f"{r['heap'] / 2**30:,.2f} GiB", f"{r['rss'] / 2**30:,.2f} GiB",
            f"{c['langid']:,}", f"{c['filter']:,}", f"{c['dedup']:,}", f"{c['tokens']:,}",
        )
    console.print(table)
    print_stage_table(console, results)
    console.print("docs/s: input documents / wall time of the whole run (process start to exit, Ray start "
                  "included). CPU s: user + system seconds of every process of the run (sampled each second), "
                  "the fairer measure on a shared machine; load avg: the machine's 1-minute load during the run. "
                  "Peak heap: private pages of every process of the run, summed; RSS sum counts shared pages "
                  "once per process. See the module docstring for where the two pipelines differ.")
    console.print_json(data={f"{side}-{workers}": {k: v for k, v in r.items()} for (side, workers), r in results.items()})



#: The stages side by side: our stage -> datatrove's blocks doing that job.
STAGE_ROWS = [
    ("read", ["read"], ["read"]),
    ("language ID", ["langid"], ["langid"]),
    ("Gopher", ["filter"], ["gopher"]),
    ("MinHash (signatures, buckets, clusters, filter)", ["dedup"],
     ["minhash signatures", "minhash buckets", "minhash clusters", "dedup filter", "write (filtered copy)"]),
    ("tokenize (+ its write on datatrove)", ["tokenize"], ["tokenize + write"]),
    ("write documents (curate: inside each stage's sink time)", [], ["write (documents)"]),
]


def print_stage_table(console: Console, results: dict) -> None:
    """Seconds per stage, each side's own accounting (module docstring), for every worker count."""
    for workers in sorted({w for _, w in results}):
        sides = [side for side in ("curate", "curate-ray", "datatrove-ws", "datatrove") if (side, workers) in results]
        table = Table(title=f"Seconds per stage, {workers} worker(s) (curate: CPU seconds; dedup: wall; "
                            "datatrove: its time_stats)")
        table.add_column("stage")
        for side in sides:
            table.add_column(side, justify="right")
        if "curate" in sides and "datatrove-ws" in sides:
            table.add_column("datatrove-ws / curate", justify="right")
        for label, ours, theirs in STAGE_ROWS:
            cells, values = [], {}
            for side in sides:
                stages = results[(side, workers)].get("stages", {})
                keys = ours if side.startswith("curate") else theirs
                values[side] = sum(stages.get(k, 0.0) for k in keys) if keys else None
                cells.append("-" if values[side] is None else f"{values[side]:,.1f}")
            if "curate" in sides and "datatrove-ws" in sides:
                a, b = values["curate"], values["datatrove-ws"]
                cells.append(f"{b / a:.2f}x" if a and b is not None else "-")
            table.add_row(label, *cells)
        console.print(table)


if __name__ == "__main__":
    main()
