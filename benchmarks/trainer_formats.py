"""Trainer formats: write speed of every ``shards: {format: ...}`` writer against a raw write of the
same arrays, bytes per token on disk, and read speed through each trainer's own loader against a
bare read of the same files.

    python benchmarks/trainer_formats.py [--tokens 5000000] [--rounds 5]

**Content.** The sample corpus (web and math texts, the small code files) is tokenized once with
the real Tokenize stage (Qwen2.5, 151,665 ids, EOS appended), then repeated to about
``--tokens`` tokens: every copy gets a unique ``(id, repeat)`` (repeat numbers 0..3), its domain
as the mixture group and a seeded order key, as the map side of the shard build routes them. That
one bucket becomes one shard's :class:`~curate.trainer.formats.base.ShardContent` through
:func:`curate.trainer.shards.shard_content`, twice: packed (``seq_len`` 2048, ``last: drop``)
and unpacked (one row per document). Megatron and memmap hold the documents before packing, so
their files are the same for both and are measured once.

**Write** is ``write`` + ``merge`` of that one shard into a fresh folder, as a one-shard run
leaves it (so it includes the sha256 of every file, which the manifest lists, and Megatron's
concatenation of its per-shard pieces). The raw baseline is the cheapest write that leaves the
same token values on disk in the same dtype, so the ratio is what the format's own layout and
bookkeeping cost (goal >= 0.8x):

* Parquet: ``pq.write_table`` of the very Arrow table the writer builds, with its options (zstd,
  no dictionary, its row groups). The compression is the format's, not overhead, so the raw side
  pays it too; what is left is our wrapper (building the table, the sha256).
* Megatron: the documents' tokens ``.astype(int32).tofile`` plus the int32 lengths array: the
  ``.bin`` and the part of the ``.idx`` that carries information.
* memmap: ``doc_tokens.astype(uint32).tofile``: the ``.npy`` it writes, without the JSON.
* MDS: the rows' tokens ``.tofile`` (uint32): the same tokens without per-sample headers.
* LitData: the rows' tokens ``.astype(int32).tofile``: LitGPT's int32 tokens without litdata's
  chunk headers and index.

The "sha256" column is the time to hash the files the format leaves (measured alone), the part
of the write that a raw ``tofile`` does not do; "ratio w/o sha256" takes it out of the format's
time, which leaves the layout's own cost. (A page-cache ``tofile`` runs at memory speed, ~6
GB/s here, while sha256 manages ~1.7 GB/s, so a format that hashes what it writes cannot reach
0.8x of a bare ``tofile`` whatever its layout.) Bytes per token count every file the format
leaves (indexes and metadata included) against raw uint32 (4 bytes).

**Read** iterates every row (or sequence, or block) of the written split through the trainer's
own loader and touches the data, against a bare read of the same files touched the same way
(the ratio is the loader's per-sample machinery): Parquet: :class:`curate.trainer.loader.TokenShards`
through a torch DataLoader, 0 workers, batches of 8 rows, vs ``pq.read_table`` + one int64
tensor; Megatron: ``IndexedDataset[i]`` for every sequence, summed, vs ``np.memmap`` of the
``.bin`` summed; MDS: ``streaming.StreamingDataset[i]`` for every sample vs ``np.fromfile`` of the
``.mds`` files; LitData: ``litdata.StreamingDataset`` iterated (``TokensLoader(block_size=2049)``
when packed, the default loader otherwise) vs ``np.fromfile`` of the chunks; memmap:
``np.memmap`` cut into 2048-token int64 tensors as OLMo's ``MemMapDataset`` does vs one
``np.fromfile`` made one int64 tensor. The files are in the page cache (written just before), so
this is the loader's CPU cost, not the disk's.

**Timing**: CPU seconds of this process (``time.process_time``: on a shared 2-core machine wall
time mostly measures the neighbours), fewest over ``--rounds`` interleaved rounds (every kernel
once per round, so all get the same conditions), after one untimed warm-up round; one process,
no DataLoader workers, so tokens/s is per core. litdata and streaming caches live in the
temporary folder, which is removed at the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import types
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table
from stage_kernels import SAMPLES
from token_shards import in_batches, interleaved_cpu, unrepeated_texts

from curate.config import ShardsConfig
from curate.outputs.parquet import file_sha256
from curate.stages.tokenize import Tokenize, TokenizeConfig
from curate.tokenizer import load_tokenizer
from curate.trainer.formats import FORMATS, ShardContent, TrainerFormat
from curate.trainer.formats.megatron import megatron_dtype
from curate.trainer.shards import id_hashes, seeded_keys, shard_content, trainer_formats

SEQ_LEN = 2048
warnings.filterwarnings("ignore", message="Transformer Engine and Apex are not installed")  # megatron-core import
DOCUMENT_FORMATS = ("megatron", "memmap")  # hold the documents before packing: one measurement


# ------------------------------------------------------------------------- the content


def labelled_texts() -> list[tuple[str, str]]:
    """(text, domain) of every sample text once: web and math as ``sample_texts`` reads them
    (web files first, then math), then the code files ``unrepeated_texts`` adds."""
    texts = unrepeated_texts()
    web = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in SAMPLES.glob("web/*.jsonl"))
    math = len((SAMPLES / "math" / "problems.jsonl").read_text(encoding="utf-8").splitlines())
    domains = ["web"] * web + ["math"] * math
    return [(t, domains[i] if i < len(domains) else "code") for i, t in enumerate(texts)]


def bucket_table(target_tokens: int) -> tuple[pa.Table, int]:
    """One bucket as the map side routes it, from the samples tokenized once and repeated; and
    how many copies of the samples it holds."""
    labelled = labelled_texts()
    stage = Tokenize(TokenizeConfig())
    stage.setup()
    ids = [stage.process(b).column("input_ids") for b in in_batches([t for t, _ in labelled], 512)]
    base = pa.chunked_array([c for col in ids for c in col.chunks]).combine_chunks()
    lengths = np.diff(base.offsets.to_numpy()).astype(np.int64)
    flat = base.values.to_numpy().astype(np.uint32)
    copies = max(1, round(target_tokens / flat.size))
    n = len(lengths)
    copy = np.repeat(np.arange(copies), n)
    doc = np.tile(np.arange(n), copies)
    repeat = (copy % 4).astype(np.int32)  # a document with up to 4 copies, then a new id
    names = [f"{labelled[d][1]}-{d}-{c // 4}" for d, c in zip(doc.tolist(), copy.tolist())]
    keys = seeded_keys(id_hashes(names), 0, "order", repeat.astype(np.int64))
    offsets = np.concatenate([[0], np.cumsum(np.tile(lengths, copies))]).astype(np.int32)
    input_ids = pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.tile(flat, copies), pa.uint32()))
    return pa.table({"_key": pa.array(keys, pa.uint64()), "_repeat": pa.array(repeat, pa.int32()),
                     "_group": pa.array([labelled[d][1] for d in doc.tolist()], pa.string()),
                     "id": pa.array(names, pa.string()), "input_ids": input_ids}), copies


def contents(table: pa.Table, vocab_size: int, eos_id: int) -> dict[str, tuple[ShardContent, ShardsConfig]]:
    configs = {"packed": ShardsConfig(seq_len=SEQ_LEN, last="drop", format=list(FORMATS)),
               "unpacked": ShardsConfig(format=list(FORMATS))}
    return {name: (shard_content(table, split="train", number=0, cfg=cfg, vocab_size=vocab_size, eos_id=eos_id), cfg)
            for name, cfg in configs.items()}


def held_tokens(fmt: TrainerFormat, content: ShardContent) -> int:
    return int(len(content.doc_tokens if fmt.holds == "documents" else content.row_tokens))


# ------------------------------------------------------------------------- write


def write_split(fmt: TrainerFormat, content: ShardContent, root: Path) -> list[dict]:
    """``write`` + ``merge`` of one shard, as a one-shard run leaves the format's folder."""
    folder = root / fmt.folder
    parts = fmt.write(content, folder)
    meta = {"vocab_size": content.vocab_size, "eos_id": content.eos_id, "seq_len": content.seq_len, "last": "drop"}
    return fmt.merge(folder, content.split, parts, meta)


def raw_write(name: str, fmt: TrainerFormat, content: ShardContent) -> tuple[str, Callable[[Path], object]]:
    """(what it is, the write) of the raw baseline of format ``name``."""
    if name == "parquet":
        table = fmt.table(content)
        options = dict(compression="zstd", use_dictionary=False, row_group_size=fmt.row_group_rows)
        return "pq.write_table, same table + options", lambda d: pq.write_table(table, d / "raw.parquet", **options)
    if name == "megatron":
        dtype = megatron_dtype(content.vocab_size)
        lengths = np.diff(content.doc_offsets)

        def megatron(d: Path) -> None:
            content.doc_tokens.astype(dtype).tofile(d / "raw.bin")
            lengths.astype(np.int32).tofile(d / "raw.len")
        return f"doc tokens .astype({dtype.name}).tofile + lengths", megatron
    if name == "memmap":
        return "doc tokens .astype(uint32).tofile", lambda d: content.doc_tokens.astype(np.uint32).tofile(d / "raw.npy")
    if name == "mds":
        return "row tokens .tofile (uint32)", lambda d: content.row_tokens.tofile(d / "raw.mds")
    if name == "litdata":
        return "row tokens .astype(int32).tofile", lambda d: content.row_tokens.astype(np.int32).tofile(d / "raw.bin")
    raise KeyError(name)


def folder_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def hash_files(files: list[Path]) -> Callable[[], object]:
    """The sha256 of every file, as the writers' manifest entries compute them."""
    return lambda: [file_sha256(f) for f in files]


def bench_write(cases: list[tuple[str, str, TrainerFormat, ShardContent]], work: Path,
                rounds: int) -> tuple[list[dict], dict[tuple[str, str], Path]]:
    """Interleaved rounds of every format's write and its raw write; each round writes into fresh
    folders, removed between rounds (outside the timing). A write runs slower right after a big
    one (the page cache and the allocator settle), so every other round runs the raw write of a
    pair first. The untimed warm-up round's folders
    are kept for the sizes and the read benchmark."""
    baselines = {(name, label): raw_write(name, fmt, content) for name, label, fmt, content in cases}

    def kernels(into: Path, raw_first: bool) -> dict[str, Callable[[], object]]:
        table: dict[str, Callable[[], object]] = {}
        for name, label, fmt, content in cases:
            ours, raw = into / f"{name}-{label}", into / f"{name}-{label}-raw"
            ours.mkdir(parents=True)
            raw.mkdir(parents=True)
            pair = {f"{name}/{label}": lambda fmt=fmt, content=content, ours=ours: write_split(fmt, content, ours),
                    f"{name}/{label}/raw": lambda go=baselines[(name, label)][1], raw=raw: go(raw)}
            table.update(reversed(pair.items()) if raw_first else pair)
        return table

    written = work / "written"
    interleaved_cpu(kernels(written, False), rounds=1)  # warm-up: imports, allocator, page cache
    folders = {(name, label): written / f"{name}-{label}" for name, label, _, _ in cases}
    hashes = {f"{name}/{label}": hash_files(folder_files(folders[(name, label)])) for name, label, _, _ in cases}
    best: dict[str, float] = {}
    for r in range(rounds):
        into = work / f"round-{r}"
        times = interleaved_cpu({**kernels(into, r % 2 == 1), **{f"{k}/sha256": fn for k, fn in hashes.items()}}, rounds=1)
        best = {k: min(v, best.get(k, float("inf"))) for k, v in times.items()}
        shutil.rmtree(into)
    rows = []
    for name, label, fmt, content in cases:
        key = f"{name}/{label}"
        size = sum(p.stat().st_size for p in folder_files(folders[(name, label)]))
        rows.append({"format": name, "content": label, "raw": baselines[(name, label)][0],
                     "tokens": held_tokens(fmt, content), "ours": best[key], "raw_s": best[f"{key}/raw"],
                     "sha256": best[f"{key}/sha256"], "bytes": size})
    return rows, folders


# ------------------------------------------------------------------------- read


def streaming_base() -> types.ModuleType:
    """mosaicml-streaming's ``streaming.base`` without the package ``__init__`` (which imports
    torchvision, which cannot load next to a CPU-only torch): tests/trainer/conftest.py's way."""
    if "streaming" not in sys.modules:
        spec = importlib.util.find_spec("streaming")
        package = types.ModuleType("streaming")
        package.__path__ = list(spec.submodule_search_locations)
        package.__file__ = spec.origin
        sys.modules["streaming"] = package
    import streaming.base

    return streaming.base


def touch_file(path: Path, dtype: np.dtype) -> int:
    """A bare read: the whole file into memory, summed as ``dtype`` (a trailing partial item aside)."""
    data = np.fromfile(path, dtype=np.uint8)
    return int(data[: len(data) - len(data) % dtype.itemsize].view(dtype).sum())


def read_kernels(name: str, label: str, root: Path, cache: Path) -> tuple[int, Callable[[], object], Callable[[], object]]:
    """(tokens the loader gives, the loader, the bare read) of one written format."""
    import torch

    if name == "parquet":
        from torch.utils.data import DataLoader

        from curate.trainer.loader import TokenShards

        folder = root / "train"
        files = sorted(folder.glob("*.parquet"))
        tokens = sum(len(pq.read_table(f, columns=["input_ids"]).column("input_ids").combine_chunks().flatten())
                     for f in files)
        collate = None if label == "packed" else list  # documents differ in length: a list of tensors

        def loader() -> None:
            for batch in DataLoader(TokenShards(folder, seed=0, batch_size=8), batch_size=8, num_workers=0,
                                    collate_fn=collate):
                if isinstance(batch, list):
                    for sample in batch:
                        sample["input_ids"].sum()
                else:
                    batch["input_ids"].sum()

        def bare() -> None:
            for f in files:
                table = pq.read_table(f, columns=["input_ids"])
                torch.from_numpy(table.column("input_ids").combine_chunks().flatten().to_numpy().astype(np.int64)).sum()
        return tokens, loader, bare
    if name == "megatron":
        from megatron.core.datasets.indexed_dataset import IndexedDataset

        prefixes = sorted(p.with_suffix("") for p in (root / "megatron" / "train").glob("*.idx"))
        bins = [p.with_suffix(".bin") for p in prefixes]
        tokens = sum(p.stat().st_size for p in bins) // 4

        def loader() -> None:
            for prefix in prefixes:
                dataset = IndexedDataset(str(prefix))
                for i in range(len(dataset)):
                    dataset[i].sum()

        def bare() -> None:
            for path in bins:
                np.memmap(path, dtype=np.int32, mode="r").sum()
        return tokens, loader, bare
    if name == "memmap":
        paths = sorted((root / "memmap" / "train").glob("*.npy"))
        tokens = sum(p.stat().st_size // 4 // SEQ_LEN * SEQ_LEN for p in paths)

        def loader() -> None:
            for path in paths:
                data = np.memmap(path, dtype=np.uint32, mode="r")
                for i in range(len(data) // SEQ_LEN):
                    torch.from_numpy(data[i * SEQ_LEN : (i + 1) * SEQ_LEN].astype(np.int64))

        def bare() -> None:
            for path in paths:
                torch.from_numpy(np.fromfile(path, dtype=np.uint32).astype(np.int64))
        return tokens, loader, bare
    if name == "mds":
        base = streaming_base()
        folder = root / "mds" / "train"
        files = sorted(folder.rglob("*.mds"))
        probe = base.StreamingDataset(local=str(folder), shuffle=False, batch_size=1)
        tokens = sum(len(probe[i]["input_ids"]) for i in range(probe.num_samples))
        del probe  # its shared memory goes with it, so the folder can be opened again

        def loader() -> None:
            dataset = base.StreamingDataset(local=str(folder), shuffle=False, batch_size=1)
            for i in range(dataset.num_samples):
                dataset[i]["input_ids"].sum()
            del dataset

        def bare() -> None:
            for path in files:
                touch_file(path, np.dtype(np.uint32))
        return tokens, loader, bare
    if name == "litdata":
        from litdata import StreamingDataset, TokensLoader

        folder = root / "litdata" / "train"
        chunks = sorted(folder.glob("chunk-*.bin"))

        def dataset() -> StreamingDataset:
            if label == "packed":
                return StreamingDataset(str(folder), item_loader=TokensLoader(block_size=SEQ_LEN + 1), shuffle=False,
                                        cache_dir=str(cache / "litdata"))
            return StreamingDataset(str(folder), shuffle=False, cache_dir=str(cache / "litdata"))

        items = list(dataset())
        tokens = sum(len(i) if label == "packed" else len(i["input_ids"]) for i in items)
        del items

        def loader() -> None:
            for item in dataset():
                (item if label == "packed" else item["input_ids"]).sum()

        def bare() -> None:
            for path in chunks:
                touch_file(path, np.dtype(np.int32))
        return tokens, loader, bare
    raise KeyError(name)


def bench_read(cases: list[tuple[str, str]], folders: dict[tuple[str, str], Path], work: Path,
               rounds: int) -> list[dict]:
    # streaming puts its file locks in gettempdir() (its shared memory, in /dev/shm, goes with
    # each dataset): keep them in the work folder, removed with it.
    (work / "tmp").mkdir()
    before, tempfile.tempdir = tempfile.tempdir, str(work / "tmp")
    try:
        return read_all(cases, folders, work, rounds)
    finally:
        tempfile.tempdir = before


def read_all(cases: list[tuple[str, str]], folders: dict[tuple[str, str], Path], work: Path,
             rounds: int) -> list[dict]:
    prepared = {(name, label): read_kernels(name, label, folders[(name, label)], work / "cache")
                for name, label in cases}
    kernels = {}
    for (name, label), (_, loader, bare) in prepared.items():
        kernels[f"{name}/{label}"] = loader
        kernels[f"{name}/{label}/raw"] = bare
    interleaved_cpu(kernels, rounds=1)  # warm-up
    best = interleaved_cpu(kernels, rounds=rounds)
    return [{"format": name, "content": label, "tokens": prepared[(name, label)][0],
             "ours": best[f"{name}/{label}"], "raw_s": best[f"{name}/{label}/raw"]} for name, label in cases]


# ------------------------------------------------------------------------- main

READERS = {
    "parquet": ("TokenShards + DataLoader(0 workers, batch 8)", "pq.read_table + one int64 tensor"),
    "megatron": ("IndexedDataset[i], every sequence", "np.memmap of the .bin, summed"),
    "mds": ("streaming StreamingDataset[i], every sample", "np.fromfile of the .mds files"),
    "litdata": ("litdata StreamingDataset iterated", "np.fromfile of the chunks"),
    "memmap": ("np.memmap cut into 2048-token int64 tensors", "one np.fromfile + one int64 tensor"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=5_000_000, help="tokens in the shard (about)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (the best counts)")
    args = parser.parse_args()
    if not 0 < args.tokens < 2**31:
        parser.error("--tokens must be in (0, 2**31): the bucket's input_ids is a list<uint32> with int32 offsets")
    console = Console()
    tokenizer = load_tokenizer("qwen2.5")
    table, copies = bucket_table(args.tokens)
    built = contents(table, tokenizer.vocab_size, tokenizer.eos_id)
    cases = []
    for label, (content, cfg) in built.items():
        for name, fmt in trainer_formats(cfg).items():
            if name in DOCUMENT_FORMATS and label != "packed":
                continue
            cases.append((name, "documents" if name in DOCUMENT_FORMATS else label, fmt, content))
    packed, unpacked = built["packed"][0], built["unpacked"][0]
    console.print(f"content: {unpacked.documents:,} documents ({copies} "
                  f"copies of the samples), {len(unpacked.doc_tokens):,} tokens; packed: {packed.rows:,} rows of "
                  f"{SEQ_LEN + 1} tokens ({len(packed.row_tokens):,} tokens, last: drop); Qwen2.5 "
                  f"(vocab {tokenizer.vocab_size:,}, EOS {tokenizer.eos_id})")
    del table

    with tempfile.TemporaryDirectory(prefix="trainer-formats-") as tmp:
        work = Path(tmp)
        rows, folders = bench_write(cases, work, args.rounds)
        out = Table(title=f"write + merge of one shard, CPU time, best of {args.rounds} interleaved rounds "
                          "(goal: >= 0.8x raw)")
        for column in ("format", "content", "raw baseline (same arrays)", "tokens", "raw tok/s/core",
                       "format tok/s/core", "ratio", "sha256 share", "ratio w/o sha256", "bytes/token (raw uint32 = 4)"):
            out.add_column(column, justify="left" if column in ("format", "content", "raw baseline (same arrays)") else "right")
        for row in rows:
            ratio = row["raw_s"] / row["ours"]
            out.add_row(row["format"], row["content"], row["raw"], f"{row['tokens']:,}",
                        f"{row['tokens'] / row['raw_s']:,.0f}", f"{row['tokens'] / row['ours']:,.0f}",
                        f"[{'green' if ratio >= 0.8 else 'red'}]{ratio:.2f}x[/]", f"{row['sha256'] / row['ours']:.0%}",
                        f"{row['raw_s'] / max(row['ours'] - row['sha256'], 1e-9):.2f}x",
                        f"{row['bytes'] / row['tokens']:.3f}")
        console.print(out)

        reads = bench_read([(name, label) for name, label, _, _ in cases], folders, work, args.rounds)
        out = Table(title=f"read every row through the trainer's loader, CPU time, best of {args.rounds} "
                          "interleaved rounds (files in the page cache)")
        for column in ("format", "content", "loader", "bare read", "tokens", "bare tok/s", "loader tok/s", "ratio"):
            out.add_column(column, justify="left" if column in ("format", "content", "loader", "bare read") else "right")
        for row in reads:
            loader, bare = READERS[row["format"]]
            if row["format"] == "litdata":
                loader += f" ({'TokensLoader(2049)' if row['content'] == 'packed' else 'PyTreeLoader'})"
            out.add_row(row["format"], row["content"], loader, bare, f"{row['tokens']:,}",
                        f"{row['tokens'] / row['raw_s']:,.0f}", f"{row['tokens'] / row['ours']:,.0f}",
                        f"{row['raw_s'] / row['ours']:.2f}x")
        console.print(out)


if __name__ == "__main__":
    main()
