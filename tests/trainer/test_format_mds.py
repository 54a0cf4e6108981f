"""The MDS trainer format, read back with mosaicml-streaming's own reader (and compared with its writer)."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest

from curate.trainer.formats import format_named
from curate.trainer.formats.base import ShardContent
from curate.trainer.formats.mds import MDSFormat
from tests.trainer.conftest import streaming_installed

VOCAB, EOS = 151665, 151643  # Qwen2.5


if not streaming_installed():
    pytest.skip("mosaicml-streaming is not installed (pip install --no-deps mosaicml-streaming==0.13.0)",
                allow_module_level=True)


def flat(rows: list[np.ndarray], dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays back to back plus their offsets (ShardContent's layout)."""
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    return (np.concatenate(rows).astype(dtype) if rows else np.zeros(0, dtype)), offsets


def content(split: str, number: int, tokens: list[np.ndarray], doc_lens: list[list[int]],
            row_ids: list[str] | None, seq_len: int | None) -> ShardContent:
    """A ShardContent of these rows (the documents side is the rows' stream, as one document each)."""
    row_tokens, row_offsets = flat(tokens, "uint32")
    lens, lens_offsets = flat([np.array(d) for d in doc_lens], "int32")
    return ShardContent(
        split=split, number=number, row_tokens=row_tokens, row_offsets=row_offsets, doc_lens=lens,
        doc_lens_offsets=lens_offsets, row_ids=row_ids, doc_tokens=row_tokens, doc_offsets=row_offsets,
        doc_ids=[f"d{number}-{r}" for r in range(len(tokens))], doc_repeats=np.zeros(len(tokens), np.int32),
        doc_groups=["*"] * len(tokens), vocab_size=VOCAB, eos_id=EOS, seq_len=seq_len)


def packed_part(number: int, rows: int, seq_len: int, rng: np.random.Generator) -> ShardContent:
    """``rows`` packed rows of ``seq_len + 1`` tokens, each cut into 1-4 document pieces."""
    tokens, pieces = [], []
    for _ in range(rows):
        row = rng.integers(0, VOCAB, seq_len + 1, dtype=np.uint32)
        row[rng.integers(0, seq_len + 1)] = VOCAB - 1  # always an id above uint16
        cuts = np.sort(rng.choice(np.arange(1, seq_len + 1), rng.integers(0, 4), replace=False))
        tokens.append(row)
        pieces.append(np.diff(np.concatenate([[0], cuts, [seq_len + 1]])).tolist())
    return content("train", number, tokens, pieces, None, seq_len)


def unpacked_part(number: int, lengths: list[int], rng: np.random.Generator) -> ShardContent:
    """One row per document (ending in EOS), with ``<id>#<repeat>`` row ids."""
    tokens = [np.append(rng.integers(0, VOCAB, n - 1, dtype=np.uint32), EOS) for n in lengths]
    ids = [f"doc-{number}-{r}#{r % 2}" if r != 1 else f"dök/ü-{number}#0" for r in range(len(lengths))]
    return content("validation", number, tokens, [[n] for n in lengths], ids, None)


def write_split(fmt: MDSFormat, folder: Path, parts: list[ShardContent]) -> list[dict]:
    written = [info for part in reversed(parts) for info in fmt.write(part, folder)]  # any order
    return fmt.merge(folder, parts[0].split, written, {"vocab_size": VOCAB, "eos_id": EOS, "seq_len": parts[0].seq_len})


def expected_rows(parts: list[ShardContent]) -> list[tuple[np.ndarray, np.ndarray, str | None]]:
    return [(p.row(r), p.row_doc_lens(r), None if p.row_ids is None else p.row_ids[r])
            for p in parts for r in range(p.rows)]


def read_back(streaming: types.ModuleType, split_folder: Path) -> list[dict]:
    """Every sample, in order, through ``StreamingDataset`` (not ``LocalDataset``: it works here).

    It runs unshuffled on one rank, in a single process (its shared memory lives in /dev/shm)."""
    dataset = streaming.base.StreamingDataset(local=str(split_folder), shuffle=False, batch_size=1)
    by_index = [dataset[i] for i in range(len(dataset))]
    iterated = list(dataset)
    assert len(iterated) == len(by_index) == dataset.num_samples
    for a, b in zip(iterated, by_index):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    return iterated


def assert_samples_are_rows(samples: list[dict], parts: list[ShardContent]) -> None:
    expected = expected_rows(parts)
    assert len(samples) == len(expected) == sum(p.rows for p in parts)
    for sample, (tokens, doc_lens, row_id) in zip(samples, expected):
        assert sample["input_ids"].dtype == np.uint32 and sample["doc_lens"].dtype == np.int32
        np.testing.assert_array_equal(sample["input_ids"], tokens)
        np.testing.assert_array_equal(sample["doc_lens"], doc_lens)
        assert int(sample["doc_lens"].sum()) == len(sample["input_ids"])
        if row_id is None:
            assert "id" not in sample
        else:
            assert sample["id"] == row_id


def test_registry_names_the_mds_format() -> None:
    fmt = format_named("mds")
    assert isinstance(fmt, MDSFormat) and fmt.size_limit == 1 << 26
    assert (fmt.holds, fmt.folder, fmt.name) == ("rows", "mds", "mds")


def test_packed_rows_read_back_with_streaming_dataset(streaming, tmp_path) -> None:
    rng = np.random.default_rng(0)
    parts = [packed_part(0, 40, 127, rng), packed_part(1, 9, 127, rng), packed_part(2, 3, 127, rng)]
    fmt = MDSFormat(size_limit=8 << 10)  # ~14 rows of 128 tokens per file: part 0 spans 3 files
    files = write_split(fmt, tmp_path, parts)
    split = tmp_path / "train"

    index = json.loads((split / "index.json").read_text())
    basenames = [s["raw_data"]["basename"] for s in index["shards"]]
    assert basenames[:3] == [f"part-00000/shard.0000{i}.mds" for i in range(3)]
    assert basenames[3:] == ["part-00001/shard.00000.mds", "part-00002/shard.00000.mds"]
    assert all(s["column_names"] == ["doc_lens", "input_ids"] for s in index["shards"])
    assert all(s["raw_data"]["bytes"] <= 8 << 10 for s in index["shards"])
    assert sorted(p.relative_to(split).as_posix() for p in split.rglob("*") if p.is_file()) == ["index.json", *basenames]

    assert [f["file"] for f in files] == [f"train/{b}" for b in basenames] + ["train/index.json"]
    assert sum(f["rows"] for f in files[:-1]) == files[-1]["rows"] == 52
    assert files[-1]["tokens"] == 52 * 128 and sum(f["tokens"] for f in files[:-1]) == 52 * 128
    assert all(f["bytes"] == (tmp_path / f["file"]).stat().st_size and len(f["sha256"]) == 64 for f in files)

    assert_samples_are_rows(read_back(streaming, split), parts)


def test_unpacked_rows_with_ids_read_back_with_streaming_dataset(streaming, tmp_path) -> None:
    rng = np.random.default_rng(1)
    # lengths on both sides of the uint8 / uint16 shape codes, and one row past 65,535 tokens
    parts = [unpacked_part(0, [5, 255, 256, 1, 70_000, 12], rng), unpacked_part(1, [300, 2, 65_536], rng)]
    files = write_split(MDSFormat(), tmp_path, parts)
    split = tmp_path / "validation"
    index = json.loads((split / "index.json").read_text())
    assert [s["samples"] for s in index["shards"]] == [6, 3]
    assert index["shards"][0]["column_names"] == ["doc_lens", "id", "input_ids"]
    assert index["shards"][0]["column_encodings"] == ["ndarray:int32", "str", "ndarray:uint32"]
    assert [f["file"] for f in files][-1] == "validation/index.json"
    assert_samples_are_rows(read_back(streaming, split), parts)


@pytest.mark.parametrize("packed", [True, False])
def test_part_files_are_byte_identical_to_mds_writer(streaming, tmp_path, packed) -> None:
    rng = np.random.default_rng(2)
    part = packed_part(0, 30, 63, rng) if packed else unpacked_part(0, [3, 400, 1, 70_000, 9, 9], rng)
    limit = 4 << 10
    MDSFormat(size_limit=limit).write(part, tmp_path / "ours")
    columns = {"input_ids": "ndarray:uint32", "doc_lens": "ndarray:int32"} | ({} if packed else {"id": "str"})
    with streaming.base.MDSWriter(columns=columns, out=str(tmp_path / "theirs"), size_limit=limit) as writer:
        for tokens, doc_lens, row_id in expected_rows([part]):
            writer.write({"input_ids": tokens, "doc_lens": doc_lens} | ({} if packed else {"id": row_id}))
    ours = tmp_path / "ours" / part.split / part.stem
    theirs = sorted(p.name for p in (tmp_path / "theirs").iterdir())
    assert sorted(p.name for p in ours.iterdir()) == theirs and len(theirs) >= 3  # index.json + 2 shards or more
    for name in theirs:
        assert (ours / name).read_bytes() == (tmp_path / "theirs" / name).read_bytes(), name


def test_empty_row_is_refused(tmp_path) -> None:
    part = content("train", 0, [np.array([1, 2], np.uint32), np.zeros(0, np.uint32)], [[2], [1]], None, None)
    with pytest.raises(ValueError, match="empty"):
        MDSFormat().write(part, tmp_path)
