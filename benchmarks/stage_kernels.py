"""Throughput of each CPU stage against the bare kernel it wraps, measured in one run, one core.

    python benchmarks/stage_kernels.py [--docs 20000] [--only read filter ...] [--profile]

Documents are the sample corpus (``samples/web``, ``samples/math``) repeated to ``--docs``, with
``lang`` from lid.176 where a stage runs after langid. Each timing is the best of 3 to 5, a stage
and its kernel alternating so that load on a shared machine hits both alike (tokenize and langid:
best of 3 each); Arrow runs on one thread. Stages are called as a worker calls them, without Ray,
on batches of the size a worker gets: the reader's ``batch_rows`` (2,000) and dedup's
``batch_size`` (512). The kernel is the library call that does the stage's useful work and nothing
else, on plain Python lists, so stage/kernel is the share of the stage's time spent on its work
(>= 0.8x is the target; under it, ``--profile`` shows where the rest goes):

* read: ``read_tasks`` (the Ray UDF: reader, NFC, ids, rejects, Arrow batches) on a gzipped JSONL
  file vs ``gzip`` + a JSON parser per line + NFC (the source's ``normalize_unicode``, on by
  default) into the same id/text/url/source/domain/path/input_file columns: against
  ``orjson.loads``, the parser our reader uses (strict), and the stdlib ``json.loads`` (a plain
  reader's loop); without NFC for scale;
* langid: the default stage vs fastText lid.176 ``predict`` one call per document;
* each web filter (``length``, ``repetition``, ``gopher_quality``, ``c4``, ``fineweb``, defaults):
  ``FilterStage.process`` with that one filter on batches with ``lang`` set vs the filter's own
  ``score(text, lang)`` over the list of strings (``clean`` + ``score`` for C4, which rewrites the
  text before scoring);
* MinHash signatures: the dedup sketch map task ``DuplicateSearch.sketch`` vs ``Sketcher.sketch``
  on the same 512 strings at a time (its chunking then matches), with the exact keys and shingle
  sets the default ``exact: true, verify: jaccard`` needs;
* LSH buckets: what the band keys add to that map task, with the sketcher's result given
  (``bucket_keys`` with exact + band keys minus with the exact key only: the rest of the task is
  the same code either way). The difference of the whole task's two times is shown too: it is
  the difference of two ~5 µs-a-document figures, so it swings widely between runs. Plus ``explode_keys`` (the shuffle's per-block prepare: its ``id`` is
  dictionary-encoded, so no id string is copied) vs ``band_hashes`` on the same signature
  matrices; the shuffle's
  ``bucket_edges`` is shown for scale (the repeated corpus makes its buckets unusually large);
* tokenize: the stage vs tiktoken ``encode_ordinary_batch``;
* Parquet write: ``write_batch`` with the documents sink vs ``pq.write_table`` of the same columns
  with the same options (zstd, 4,096-row groups, the same dictionary columns).
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import json
import pstats
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table
from timing import best_of

from curate.config import DownloadConfig, SourceConfig
from curate.config.models import ReadConfig
from curate.dedup.lsh import band_hashes
from curate.dedup.search import DuplicateSearch
from curate.lang.cld2 import cld2_votes
from curate.lang.text import prediction_text
from curate.outputs import write_batch
from curate.outputs.documents import DocumentsSink
from curate.outputs.parquet import ROW_GROUP_ROWS, dictionary_columns
from curate.runtime.read import read_tasks
from curate.schema import BASE_SCHEMA, set_column
from curate.sources import FileTask
from curate.stages.dedup import DedupConfig
from curate.stages.filter import FilterConfig, FilterStage
from curate.stages.langid import LangIDConfig, LanguageID
from curate.stages.tokenize import Tokenize, TokenizeConfig
from filters.base import Filter

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
READ_BATCH = ReadConfig().batch_rows  # the reader's batches: what every stage but dedup gets
DEDUP_BATCH = DedupConfig().resources.batch_size
WEB_FILTERS = ("length", "repetition", "gopher_quality", "c4", "fineweb")
SECTIONS = ("read", "langid", "filter", "minhash", "lsh", "tokenize", "write")
TARGET = 0.8


@dataclass
class Section:
    title: str
    rows: list[tuple[str, float]]
    #: (stage, kernel: short names; the kernel's row, the stage's row, the stage's work for --profile)
    pairs: list[tuple[str, str, str, str, Callable[[], object]]] = field(default_factory=list)

    def seconds(self, name: str) -> float:
        return dict(self.rows)[name]


def best_alternating(*fns: Callable[[], object], repeat: int = 5) -> list[float]:
    """Best of ``repeat`` runs of each, taking turns, so load that comes and goes on a shared
    machine hits them all alike: seconds per function."""
    times = [best_of(fn, 1) for _ in range(repeat) for fn in fns]
    return [min(times[i:: len(fns)]) for i in range(len(fns))]


def best_pair(kernel: Callable[[], object], stage: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    """(kernel seconds, stage seconds), best of ``repeat`` alternating runs."""
    kernel_s, stage_s = best_alternating(kernel, stage, repeat=repeat)
    return kernel_s, stage_s


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


def batches(table: pa.Table, rows: int) -> list[pa.Table]:
    return [table.slice(i, rows) for i in range(0, table.num_rows, rows)]


def with_langs(batch: pa.Table) -> pa.Table:
    """The batch as the filters and dedup see it after langid: every row alive, ``lang`` set."""
    stage = LanguageID(LangIDConfig(models=["lid.176"], top_k=1, line_mix=False))
    stage.setup()
    return set_column(batch, "lang", stage.process(batch).column("lang"))


def bench_read(texts: list[str], tmp: Path) -> Section:
    path = tmp / "docs.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"id": f"doc-{i}", "text": text, "url": f"https://example.com/{i}"}) + "\n")
    source = SourceConfig(name="bench", format="jsonl", paths=[str(path)])
    task = FileTask(source="bench", format="jsonl", path=str(path), relpath=path.name)
    tasks = pa.table({"tasks": [json.dumps([task.to_row()])]})
    download = DownloadConfig()

    def bare(loads: Callable[[bytes], dict], form: str | None = None) -> pa.Table:
        ids, docs, urls = [], [], []
        with gzip.open(path, "rb") as stream:
            for line in stream:
                record = loads(line)
                ids.append(f"bench/{record['id']}")
                docs.append(unicodedata.normalize(form, record["text"]) if form else record["text"])
                urls.append(record["url"])
        n = len(ids)
        return pa.table({"id": ids, "text": pa.array(docs, pa.large_string()), "url": urls, "source": ["bench"] * n,
                         "domain": ["web"] * n, "path": [path.name] * n, "input_file": [str(path)] * n})

    def stage(source: SourceConfig = source) -> list[pa.Table]:
        return list(read_tasks(tasks, {"bench": source}, download, READ_BATCH))

    json_nfc, ours = best_pair(lambda: bare(json.loads, "NFC"), stage)
    orjson_nfc, ours_again = best_pair(lambda: bare(orjson.loads, "NFC"), stage)
    without_nfc = best_of(lambda: stage(source.model_copy(update={"normalize_unicode": None})), 3)
    rows = [
        ("gzip + json.loads per line -> Arrow columns (raw)", best_of(lambda: bare(json.loads), 3)),
        ("gzip + orjson.loads per line -> Arrow columns (raw)", best_of(lambda: bare(orjson.loads), 3)),
        ("gzip + json.loads + NFC per line -> Arrow columns (raw)", json_nfc),
        ("gzip + orjson.loads + NFC per line -> Arrow columns (raw)", orjson_nfc),
        ("curate read_tasks (jsonl reader: orjson, NFC, ids, rejects, Arrow batches)", min(ours, ours_again)),
        ("curate read_tasks, normalize_unicode: null (no NFC)", without_nfc),
    ]
    # The same work: our reader NFC-normalises by default (sources.*.normalize_unicode), so its
    # kernels do too. Our reader parses with orjson (json for the lines orjson reads differently),
    # so the strict kernel is the orjson loop; the stdlib loop is what a plain reader does.
    return Section("read + decode (gzipped JSONL)", rows,
                   [("read + decode", "gzip + orjson.loads + NFC", rows[3][0], rows[4][0], stage),
                    ("read + decode", "gzip + json.loads + NFC", rows[2][0], rows[4][0], stage)])


def bench_langid(texts: list[str], batch: pa.Table) -> Section:
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
    default_name = (f"curate langid stage, default (CLD2 settles {len(settled) / len(lines):.0%} of docs, "
                    f"heliport asked on {asked / len(lines):.0%})")
    rows = [
        ("fastText lid.176 predict, one call per doc (raw)", per_doc),
        ("fastText lid.176 predict, one call per batch (raw)", best_of(lambda: model.predict(lines, k=1))),
        ("pycld2 detect, per doc (raw)", best_of(lambda: [cld2_votes(x) for x in lines])),
        ("heliport identify_topk_with_score, per doc (raw)", best_of(lambda: [heliport.identify_topk_with_score(x, 3) for x in lines])),
        ("curate langid stage, lid.176 alone (normalise + predict + codes)", best_of(lambda: alone.process(batch))),
        (default_name, best_of(lambda: stage.process(batch))),
        ("curate langid stage, default + line_mix (+ one lid.176 predict per line)", best_of(lambda: with_mix.process(batch))),
    ]
    # The stage's target is >= 1.0x the documents/s of bare lid.176's per-document loop: say where it stands.
    named = [(name if "(raw)" in name else f"{name} [{per_doc / seconds:.2f}x bare lid.176 per doc]", seconds)
             for name, seconds in rows]
    return Section("langid", named, [("langid (default)", "lid.176 predict per doc", named[0][0], named[5][0],
                                        lambda: stage.process(batch))])


def bench_filters(texts: list[str], langs: list[str | None], batch: pa.Table) -> Section:
    rows: list[tuple[str, float]] = []
    pairs = []
    for name in WEB_FILTERS:
        stage = FilterStage(FilterConfig(filters=[{"name": name}]))
        stage.setup()
        flt = stage.config.filters[0]
        if type(flt).clean is Filter.clean:
            kernel_name = f"{name}: score(text, lang) per doc (raw)"
            kernel = lambda flt=flt: [flt.score(t, lang) for t, lang in zip(texts, langs)]  # noqa: E731
        else:
            kernel_name = f"{name}: score(*clean(text, lang)) per doc (raw)"
            kernel = lambda flt=flt: [flt.score(flt.clean(t, lang)[0], lang) for t, lang in zip(texts, langs)]  # noqa: E731
        run = lambda stage=stage: [stage.process(b) for b in batches(batch, READ_BATCH)]  # noqa: E731
        stage_name = f"{name}: curate FilterStage.process, {READ_BATCH:,}-doc batches"
        rows += list(zip((kernel_name, stage_name), best_pair(kernel, run, 3)))
        pairs.append((f"filter {name}", kernel_name.split(": ")[1].removesuffix(" per doc (raw)"), kernel_name, stage_name, run))
    return Section("heuristic filters (one filter per stage, lang set)", rows, pairs)


def bench_minhash(texts: list[str], langs: list[str | None], batch: pa.Table) -> Section:
    search = DuplicateSearch(DedupConfig())  # verify: jaccard, exact + near
    by_signature = DuplicateSearch(DedupConfig(verify="signature"))
    sketcher = search.sketcher()
    parts = batches(batch, DEDUP_BATCH)
    lists = [(texts[i : i + DEDUP_BATCH], langs[i : i + DEDUP_BATCH]) for i in range(0, len(texts), DEDUP_BATCH)]
    stage = lambda: [search.sketch(b) for b in parts]  # noqa: E731
    kernel, ours = best_pair(lambda: [sketcher.sketch(t, lang, with_shingle_sets=True) for t, lang in lists], stage)
    bare, signature_only = best_pair(lambda: [sketcher.sketch(t, lang, with_shingle_sets=False) for t, lang in lists],
                                     lambda: [by_signature.sketch(b) for b in parts], 3)
    rows = [
        ("Sketcher.sketch, signatures + exact keys + shingle sets (raw)", kernel),
        ("Sketcher.sketch, signatures + exact keys (raw)", bare),
        (f"curate DuplicateSearch.sketch, verify: jaccard (default), {DEDUP_BATCH}-doc batches", ours),
        (f"curate DuplicateSearch.sketch, verify: signature, {DEDUP_BATCH}-doc batches", signature_only),
    ]
    return Section("MinHash signatures (dedup sketch map task)", rows,
                   [("MinHash signatures", "Sketcher.sketch", rows[0][0], rows[2][0], stage)])


class GivenSketches(DuplicateSearch):
    """The sketch map task with the sketcher's result given, so only the code around it is timed."""

    given = None

    def sketcher(self):
        return SimpleNamespace(sketch=lambda texts, langs, with_shingle_sets: self.given)


def bench_lsh(batch: pa.Table) -> Section:
    """The band keys' share of the sketch map task, signatures given: ``bucket_keys`` with band
    keys minus ``bucket_keys`` with the exact key only (the rest of the task is the same code
    either way), plus ``explode_keys`` of the band keys; the whole task's difference is shown too."""
    near, exact = DedupConfig(verify="none"), DedupConfig(near=False)
    bands, rows_per_band = DuplicateSearch(near).band_parameters()
    parts = batches(batch, DEDUP_BATCH)
    sketcher = DuplicateSearch(near).sketcher()
    done = [sketcher.sketch(p.column("text").to_pylist(), p.column("lang").to_pylist(), with_shingle_sets=False)
            for p in parts]
    signatures = [s.signatures for s in done]

    def task(config: DedupConfig) -> Callable[[], list[pa.Table]]:
        search = GivenSketches(config)

        def run() -> list[pa.Table]:
            out = []
            for part, sketches in zip(parts, done):
                search.given = sketches
                out.append(search.sketch(part))
            return out
        return run

    with_near, band_keys = task(near), task(DedupConfig(exact=False, verify="none"))()
    near_search, exact_search = DuplicateSearch(near), DuplicateSearch(exact)
    kernel_s, keys_near_s, keys_exact_s, explode_s = best_alternating(
        lambda: [band_hashes(s, bands, rows_per_band) for s in signatures],
        lambda: [near_search.bucket_keys(d) for d in done],
        lambda: [exact_search.bucket_keys(d) for d in done],
        lambda: [DuplicateSearch.explode_keys(t) for t in band_keys], repeat=9)
    exact_s, near_s = best_pair(task(exact), with_near)
    rows = [
        (f"band_hashes on the signature matrix, {bands} bands x {rows_per_band} rows (raw)", kernel_s),
        (f"curate bucket_keys, exact + band keys, {DEDUP_BATCH}-doc batches", keys_near_s),
        (f"curate bucket_keys, exact key only, {DEDUP_BATCH}-doc batches", keys_exact_s),
        ("curate explode_keys of the band keys (the shuffle's per-block prepare)", explode_s),
        ("curate LSH buckets: bucket_keys (exact + bands) - (exact only) + explode_keys",
         keys_near_s - keys_exact_s + explode_s),
        ("  the same from the whole sketch map task (signatures given): with bands - without + explode_keys",
         near_s - exact_s + explode_s),
        ("  for scale: bucket_edges (shuffle reduce) on the band keys as one partition",
         best_of(lambda: DuplicateSearch.bucket_edges(pa.concat_tables([DuplicateSearch.explode_keys(t) for t in band_keys])))),
    ]
    return Section("LSH buckets", rows, [("LSH buckets", "band_hashes", rows[0][0], rows[4][0], with_near)])


def bench_tokenize(texts: list[str], batch: pa.Table) -> Section:
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
    return Section("tokenize", rows, [("tokenize", "encode_ordinary_batch", rows[0][0], rows[2][0],
                                      lambda: stage.process(batch))])


def bench_write(batch: pa.Table, tmp: Path) -> Section:
    tokenize = Tokenize(TokenizeConfig())
    tokenize.setup()
    parts = batches(tokenize.process(batch), READ_BATCH)  # the pipeline's last batches: lang, tokens
    sink = [DocumentsSink()]
    kept = [p.select([c for c in p.column_names if c != "input_ids" and not c.startswith("reject_")]) for p in parts]
    target = tmp / "bare.parquet"
    kernel = lambda: [pq.write_table(t, target, compression="zstd", row_group_size=ROW_GROUP_ROWS,  # noqa: E731
                                     use_dictionary=dictionary_columns(t)) for t in kept]
    stage = lambda: [write_batch(p, str(tmp / "staging"), sink) for p in parts]  # noqa: E731
    rows = list(zip(("pq.write_table, zstd, same row groups and dictionary columns (raw)",
                     f"curate write_batch, documents sink, {READ_BATCH:,}-doc batches"), best_pair(kernel, stage)))
    return Section("Parquet write (documents/)", rows, [("Parquet write", "pq.write_table", rows[0][0], rows[1][0], stage)])


def print_section(console: Console, section: Section, texts: list[str]) -> None:
    fastest_raw = min(seconds for name, seconds in section.rows if "(raw)" in name)
    table = Table(title=f"{section.title}: {len(texts):,} documents, {sum(map(len, texts)) / 1e6:.1f} M chars, 1 core")
    for column in ("kernel", "docs/s", "ratio to fastest raw"):
        table.add_column(column, justify="left" if column == "kernel" else "right")
    for name, seconds in section.rows:
        table.add_row(name, f"{len(texts) / seconds:,.0f}", f"{fastest_raw / seconds:.2f}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    parser.add_argument("--profile", action="store_true",
                        help=f"cProfile each stage under {TARGET}x once (top 10 by tottime); use a few thousand --docs")
    args = parser.parse_args()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    base = sample_texts()
    texts = (base * (args.docs // len(base) + 1))[: args.docs]
    batch = as_batch(texts)
    if {"filter", "minhash", "lsh", "write"} & set(args.only):
        batch = with_langs(batch)
    langs = batch.column("lang").to_pylist() if "lang" in batch.column_names else []
    console = Console()
    if not console.is_terminal:  # piped: wide enough that the kernel names fit on one line
        console.width = 150
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="stage_kernels_") as tmp_dir:
        tmp = Path(tmp_dir)
        runs = {
            "read": lambda: bench_read(texts, tmp),
            "langid": lambda: bench_langid(texts, as_batch(texts)),
            "filter": lambda: bench_filters(texts, langs, batch),
            "minhash": lambda: bench_minhash(texts, langs, batch),
            "lsh": lambda: bench_lsh(batch),
            "tokenize": lambda: bench_tokenize(texts, as_batch(texts)),
            "write": lambda: bench_write(batch, tmp),
        }
        for name in SECTIONS:
            if name in args.only:
                sections.append(runs[name]())
                print_section(console, sections[-1], texts)
        summary = Table(title=f"summary: each stage against its bare kernel, {len(texts):,} documents, 1 core")
        for column in ("stage", "kernel", "stage docs/s", "kernel docs/s", "ratio", f">= {TARGET}x"):
            summary.add_column(column, justify="left" if column in ("stage", "kernel") else "right")
        slow = []
        for section in sections:
            for label, short, kernel, stage, fn in section.pairs:
                ratio = section.seconds(kernel) / section.seconds(stage)
                summary.add_row(label, short, f"{len(texts) / section.seconds(stage):,.0f}",
                                f"{len(texts) / section.seconds(kernel):,.0f}", f"{ratio:.2f}",
                                "yes" if ratio >= TARGET else "NO")
                if ratio < TARGET:
                    slow.append((label, fn))
        console.print(summary)
        for label, fn in slow if args.profile else []:
            profile = cProfile.Profile()
            profile.runcall(fn)
            console.rule(f"profile: {label} ({len(texts):,} documents), top 10 by tottime")
            pstats.Stats(profile).sort_stats("tottime").print_stats(10)


if __name__ == "__main__":
    main()
