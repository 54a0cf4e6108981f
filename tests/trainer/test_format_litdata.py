"""The litdata trainer format, read back with litdata's own ``StreamingDataset``."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from curate.outputs.parquet import file_sha256
from curate.trainer.formats import format_named
from curate.trainer.formats.base import ShardContent
from curate.trainer.formats.litdata import LitDataFormat

pytestmark = pytest.mark.skipif(importlib.util.find_spec("litdata") is None, reason="litdata is not installed")

VOCAB, EOS, SEQ_LEN = 151665, 151643, 15


def offsets(lengths: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)


def documents(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """``n`` documents of 1-40 tokens (ids up to ``VOCAB - 1``), each ending in EOS."""
    docs = [rng.integers(0, VOCAB, size=int(rng.integers(0, 40)), dtype=np.uint32) for _ in range(n)]
    docs = [np.append(d, np.uint32(EOS)) for d in docs]
    if docs:
        docs[0][0] = VOCAB - 1  # the largest id survives
    return docs


def content(number: int, docs: list[np.ndarray], packed: bool, last_short: bool = False) -> ShardContent:
    """A shard: rows of ``SEQ_LEN + 1`` tokens cut from the documents' stream, or one row per document."""
    doc_lens = [len(d) for d in docs]
    flat = np.concatenate(docs) if docs else np.zeros(0, np.uint32)
    ids = [f"s{number}-d{i}" for i in range(len(docs))]
    if packed:
        width = SEQ_LEN + 1
        rows = len(flat) // width + (1 if last_short and len(flat) % width else 0)
        ends = np.cumsum(doc_lens)
        row_lens, pieces = [], []
        for r in range(rows):
            start, stop = r * width, min((r + 1) * width, len(flat))
            cuts = np.unique(np.concatenate([[start], ends[(ends > start) & (ends < stop)], [stop]]))
            pieces.append(np.diff(cuts))
            row_lens.append(stop - start)
        row_tokens, row_ids = flat[: sum(row_lens)], None
        piece_lens = [len(p) for p in pieces]
        lens = np.concatenate(pieces).astype(np.int32) if pieces else np.zeros(0, np.int32)
    else:
        row_lens, piece_lens, row_tokens = doc_lens, [1] * len(docs), flat
        lens, row_ids = np.array(doc_lens, dtype=np.int32), [f"{i}#0" for i in ids]
    return ShardContent(
        split="train", number=number, row_tokens=row_tokens, row_offsets=offsets(row_lens), doc_lens=lens,
        doc_lens_offsets=offsets(piece_lens), row_ids=row_ids, doc_tokens=flat, doc_offsets=offsets(doc_lens),
        doc_ids=ids, doc_repeats=np.zeros(len(docs), np.int32), doc_groups=["web"] * len(docs),
        vocab_size=VOCAB, eos_id=EOS, seq_len=SEQ_LEN if packed else None)


def small_format() -> LitDataFormat:
    fmt = LitDataFormat()
    fmt.chunk_bytes = 700  # a few rows per chunk: every shard spans several chunks
    return fmt


def write_one(shard: ShardContent, folder: str) -> list[dict]:
    """One shard task in its own process (as Ray runs them): every litdata writer there is rank 0."""
    return small_format().write(shard, Path(folder))


def check_files(folder: Path, split: str, files: list[dict]) -> None:
    """The merge leaves exactly litdata's layout, and the manifest entries match the files."""
    left = sorted(p.name for p in (folder / split).iterdir())
    assert left == sorted(Path(f["file"]).name for f in files)
    assert "index.json" in left and all(n == "index.json" or n.startswith("chunk-") for n in left)
    for entry in files:
        path = folder / entry["file"]
        assert entry["bytes"] == path.stat().st_size and entry["sha256"] == file_sha256(path)
    index = json.loads((folder / split / "index.json").read_text())
    assert [c["filename"] for c in index["chunks"]] == [Path(f["file"]).name for f in files[:-1]]
    assert index["config"]["compression"] is None


def test_packed_rows_read_back_by_tokens_loader(tmp_path: Path) -> None:
    from litdata import StreamingDataset
    from litdata.streaming.item_loader import TokensLoader

    rng = np.random.default_rng(0)
    shards = [content(n, documents(rng, count), packed=True) for n, count in enumerate([30, 45, 12, 25])]
    folder = tmp_path / "litdata"
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        parts = [entry for written in pool.map(write_one, shards, [str(folder)] * len(shards)) for entry in written]
    assert format_named("litdata").holds == "rows"
    files = small_format().merge(folder, "train", parts[::-1], {"vocab_size": VOCAB, "eos_id": EOS, "seq_len": SEQ_LEN})
    check_files(folder, "train", files)
    assert files[-1]["rows"] == sum(s.rows for s in shards)
    assert all(sum(f["shard"] == s.number for f in files[:-1]) >= 2 for s in shards)  # several chunks each

    expected = [s.row(r) for s in shards for r in range(s.rows)]
    dataset = StreamingDataset(input_dir=str(folder / "train"), item_loader=TokensLoader(block_size=SEQ_LEN + 1),
                               cache_dir=str(tmp_path / "cache"))
    assert len(dataset) == len(expected)
    got = [np.asarray(item) for item in dataset]
    assert len(got) == len(expected)
    for item, row in zip(got, expected):
        np.testing.assert_array_equal(item.astype(np.int64), row.astype(np.int64))
    assert max(int(item.max()) for item in got) == VOCAB - 1


def test_unpacked_rows_read_back_by_default_loader(tmp_path: Path) -> None:
    from litdata import StreamingDataset

    rng = np.random.default_rng(1)
    shards = [content(n, documents(rng, count), packed=False) for n, count in enumerate([20, 33, 0, 17])]
    folder = tmp_path / "litdata"
    fmt = small_format()
    parts = [entry for shard in shards for entry in fmt.write(shard, folder)]
    (folder / "train" / "chunk-9-0.bin").write_bytes(b"an earlier run's chunk")  # removed by the merge
    files = fmt.merge(folder, "train", parts, {"vocab_size": VOCAB, "eos_id": EOS, "seq_len": None})
    check_files(folder, "train", files)

    expected = [(s.row(r), s.row_doc_lens(r), s.row_ids[r]) for s in shards for r in range(s.rows)]
    dataset = StreamingDataset(input_dir=str(folder / "train"), cache_dir=str(tmp_path / "cache"))
    assert len(dataset) == len(expected) == files[-1]["rows"]
    got = list(dataset)
    assert len(got) == len(expected)
    for item, (tokens, doc_lens, row_id) in zip(got, expected):
        assert item["id"] == row_id
        assert item["input_ids"].dtype == np.uint32 and item["doc_lens"].dtype == np.int32
        np.testing.assert_array_equal(item["input_ids"], tokens)
        np.testing.assert_array_equal(item["doc_lens"], doc_lens)
    assert dataset[len(expected) - 1]["id"] == expected[-1][2]


def test_short_last_row_is_refused_before_writing(tmp_path: Path) -> None:
    shard = content(0, documents(np.random.default_rng(2), 20), packed=True, last_short=True)
    assert len(shard.row(shard.rows - 1)) < SEQ_LEN + 1
    with pytest.raises(ValueError, match=r"litdata.*shards\.last: keep"):
        small_format().write(shard, tmp_path / "litdata")
    assert not any((tmp_path / "litdata").rglob("*.bin"))
