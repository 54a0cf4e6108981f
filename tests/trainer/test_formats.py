"""Trainer formats (``shards: {format: [...]}``) built by the real Ray shard builder and read back by
the trainers' own readers: Megatron-core's ``IndexedDataset`` and ``np.memmap``; every format must
hold exactly the Parquet shards' content (same order, ids, EOS, document boundaries), and the
provenance tables must lead every token of a packed row back to its document."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import shared_ray
from tests.trainer.test_shards import EOS, write_tokens

VOCAB = 151665
#: Every format, all at once (their reader libraries are in the test install: README).
FORMATS = ["parquet", "megatron", "memmap", "mds", "litdata"]
MIXTURE = {"web": 0.5, "math": 0.3, "code": 0.2}
OPTIONS = {
    "rows": dict(validation=0.2, mixture=MIXTURE, target_tokens=120_000, tokens_per_shard=40_000, seed=5),
    "packed": dict(seq_len=64, last="drop", validation=0.1, mixture=MIXTURE, target_tokens=120_000,
                   tokens_per_shard=30_000, seed=7),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """2,000 documents (web/math/code, 1-300 tokens) in 5 token files, built as both configs in
    every format at once."""
    from curate.config import ShardsConfig
    from curate.trainer.shards import build_shards

    tmp = tmp_path_factory.mktemp("formats")
    rng = np.random.default_rng(11)
    docs = [{"id": f"d{i}", "domain": ("web", "math", "code")[i % 3], "lang": "en",
             "input_ids": rng.integers(0, VOCAB - 1, rng.integers(0, 300)).tolist() + [EOS]} for i in range(2000)]
    write_tokens(tmp / "tokens", docs, 5, 2)
    shared_ray()
    token_manifest = {"tokenizer": {"name": "qwen2.5"}, "vocab_size": VOCAB, "eos_id": EOS}
    manifests = {name: build_shards(tmp / "tokens", tmp / name, ShardsConfig(**options, format=FORMATS),
                                    token_manifest, wave_tokens=50_000)
                 for name, options in OPTIONS.items()}
    return tmp, {d["id"]: d for d in docs}, manifests


def parquet_rows(folder, split: str, column: str) -> list[list]:
    """Rows of every Parquet shard of a split, shard after shard."""
    return [pq.read_table(f).column(column).to_pylist() for f in sorted((folder / split).glob("*.parquet"))]


def test_megatron_prefixes_hold_each_groups_documents_in_the_global_order(built) -> None:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    tmp, docs, manifests = built
    out = tmp / "rows"
    for split in ("train", "validation"):
        ids = [i for shard in parquet_rows(out, split, "id") for i in shard]
        rows = [r for shard in parquet_rows(out, split, "input_ids") for r in shard]
        weights = (out / "megatron" / split / "data_path.txt").read_text().split()
        blend = dict(zip(weights[1::2], map(float, weights[0::2])))
        assert set(blend) == {"web", "math", "code"} and abs(sum(blend.values()) - 1) < 1e-5
        for group in ("web", "math", "code"):
            expected = [row for i, row in zip(ids, rows) if docs[i.split("#")[0]]["domain"] == group]
            dataset = IndexedDataset(str(out / "megatron" / split / group))
            assert len(dataset) == len(expected) > 0, (split, group)
            assert all(dataset[k].tolist() == row for k, row in enumerate(expected))
            assert dataset.document_indices.tolist() == list(range(len(expected) + 1))
            assert dataset[0].dtype == np.int32  # Megatron's dtype for a 151,665-id vocabulary
            share = sum(map(len, expected)) / manifests["rows"]["splits"][split]["tokens"]
            assert blend[group] == pytest.approx(share, abs=1e-5)
    assert not list((out / "megatron" / "train").glob("*/"))  # the per-shard pieces are merged away


def test_memmap_shards_are_the_documents_back_to_back(built) -> None:
    tmp, docs, manifests = built
    for name in ("rows", "packed"):
        out = tmp / name
        for split in ("train", "validation"):
            parquet = sorted((out / split).glob("*.parquet"))
            memmaps = sorted((out / "memmap" / split).glob("*.npy"))
            assert [p.stem for p in memmaps] == [p.stem for p in parquet]
            for shard, tokens_path in zip(parquet, memmaps):
                meta = json.loads(tokens_path.with_suffix(".json").read_text())
                stream = np.memmap(tokens_path, dtype=meta["dtype"], mode="r")
                assert meta["dtype"] == "uint32" and len(stream) == meta["tokens"]
                documents = [docs[d["id"]]["input_ids"] for d in meta["documents"]]
                assert stream.tolist() == [t for d in documents for t in d]
                assert all(stream[d["end"] - 1] == EOS for d in meta["documents"])
                rows = pq.read_table(shard).column("input_ids").to_pylist()
                flat = [t for r in rows for t in r]
                if name == "rows":  # one row per document: the same documents in the same order
                    assert rows == documents
                    ids = pq.read_table(shard).column("id").to_pylist()
                    assert ids == [f"{d['id']}#{d['repeat']}" for d in meta["documents"]]
                else:  # packed with last: drop: the rows are the stream cut to whole rows
                    assert flat == stream[: len(flat)].tolist() and len(stream) - len(flat) < 65


def test_provenance_leads_every_packed_token_to_its_document(built) -> None:
    tmp, docs, manifests = built
    out = tmp / "packed"
    for split in ("train", "validation"):
        for shard in sorted((out / split).glob("*.parquet")):
            rows = pq.read_table(shard).column("input_ids").to_pylist()
            pieces = pq.read_table(out / "provenance" / split / shard.name).to_pylist()
            rebuilt: list[list[int]] = [[] for _ in rows]
            tail = 0
            for p in pieces:
                tokens = docs[p["id"]]["input_ids"][p["doc_start"] : p["doc_start"] + p["length"]]
                assert len(tokens) == p["length"] and p["group"] == docs[p["id"]]["domain"]
                if p["row"] < 0:
                    tail += p["length"]
                    continue
                assert p["row_start"] == len(rebuilt[p["row"]])
                rebuilt[p["row"]] += tokens
            assert rebuilt == rows
            meta = json.loads((out / "memmap" / split / f"{shard.stem}.json").read_text())
            assert sum(len(r) for r in rows) + tail == meta["tokens"]  # the cut tail is accounted for
            order = list(dict.fromkeys((p["id"], p["repeat"]) for p in pieces))
            assert order == [(d["id"], d["repeat"]) for d in meta["documents"]]


def test_mds_holds_the_parquet_rows(built, streaming) -> None:
    """mosaicml-streaming's StreamingDataset (the ``streaming`` fixture: tests/trainer/conftest.py)."""
    from streaming.base import StreamingDataset

    tmp, _, _ = built
    for name in ("rows", "packed"):
        out = tmp / name
        for split in ("train", "validation"):
            rows = [r for shard in parquet_rows(out, split, "input_ids") for r in shard]
            lens = [r for shard in parquet_rows(out, split, "doc_lens") for r in shard]
            dataset = StreamingDataset(local=str(out / "mds" / split), shuffle=False, batch_size=1)
            assert dataset.num_samples == len(rows) > 0
            samples = [dataset[k] for k in range(len(rows))]
            assert [s["input_ids"].tolist() for s in samples] == rows
            assert [s["doc_lens"].tolist() for s in samples] == lens
            if name == "rows":
                assert [s["id"] for s in samples] == [i for shard in parquet_rows(out, split, "id") for i in shard]


def test_litdata_holds_the_parquet_rows(built) -> None:
    from litdata import StreamingDataset, TokensLoader

    tmp, _, _ = built
    for name in ("rows", "packed"):
        out = tmp / name
        for split in ("train", "validation"):
            rows = [r for shard in parquet_rows(out, split, "input_ids") for r in shard]
            folder = str(out / "litdata" / split)
            if name == "packed":  # LitGPT's way: fixed blocks of seq_len + 1 tokens
                dataset = StreamingDataset(folder, item_loader=TokensLoader(block_size=65), shuffle=False)
                assert len(dataset) == len(rows) > 0
                assert [dataset[k].tolist() for k in range(len(rows))] == rows
            else:
                dataset = StreamingDataset(folder, shuffle=False)
                assert len(dataset) == len(rows) > 0
                items = [dataset[k] for k in range(len(rows))]
                assert [i["input_ids"].tolist() for i in items] == rows
                assert [i["id"] for i in items] == [i for shard in parquet_rows(out, split, "id") for i in shard]


def test_verify_checks_every_format(built, tmp_path) -> None:
    from curate.trainer.formats.megatron import read_index, write_index
    from curate.verify import main, verify_tokens

    tmp, _, manifests = built
    trainer = tmp_path / "trainer"
    shutil.copytree(tmp / "rows", trainer)
    assert verify_tokens(trainer)[0] == [] and main([str(trainer)]) == 0
    idx = trainer / "megatron" / "train" / "web.idx"
    dtype, lengths, _, _ = read_index(idx)
    write_index(idx, dtype, np.concatenate([lengths[:-1], [lengths[-1] + 1]]))  # one document longer
    meta = sorted((trainer / "memmap" / "validation").glob("*.json"))[0]
    info = json.loads(meta.read_text())
    info["documents"][0]["end"] -= 1
    meta.write_text(json.dumps(info))
    (trainer / "memmap" / "train" / "stray.npy").write_bytes(b"\0\0\0\0")
    problems, _ = verify_tokens(trainer)
    assert any("megatron/train" in p and "web.idx: sha256" in p for p in problems), problems
    assert any("memmap/validation" in p and "sha256" in p for p in problems), problems
    assert any("stray.npy is on disk but not in the manifest" in p for p in problems), problems
    assert main([str(trainer)]) == 1


def test_unknown_format_is_a_config_error() -> None:
    from pydantic import ValidationError

    from curate.config import ShardsConfig

    with pytest.raises(ValidationError, match="unknown format"):
        ShardsConfig(format=["parquet", "tfrecord"])
    assert ShardsConfig(format="megatron").formats == ["megatron"]


@pytest.mark.skipif(importlib.util.find_spec("megatron") is None, reason="megatron-core is not installed")
def test_megatron_check_finds_a_broken_index_without_the_sha(built, tmp_path) -> None:
    """The format's own check (what verify runs once the files match): a .bin/.idx disagreement."""
    from curate.trainer.formats.megatron import MegatronFormat, read_index, write_index

    tmp, _, manifests = built
    folder = tmp_path / "megatron"
    shutil.copytree(tmp / "rows" / "megatron", folder)
    files = manifests["rows"]["formats"]["megatron"]["splits"]["train"]
    meta = {"vocab_size": VOCAB, "eos_id": EOS, "seq_len": None, "split": manifests["rows"]["splits"]["train"]}
    assert MegatronFormat().check(folder, "train", files, meta) == []
    dtype, lengths, _, _ = read_index(folder / "train" / "math.idx")
    write_index(folder / "train" / "math.idx", dtype, lengths[:-1])
    problems = MegatronFormat().check(folder, "train", files, meta)
    assert any("math.idx" in p and "the .bin holds" in p for p in problems), problems


def test_a_format_the_run_cannot_write_fails_before_any_work(tmp_path) -> None:
    from tests.conftest import REPO, run_pipeline

    path = tmp_path / "bad.yaml"
    path.write_text(f"""name: bad
output_dir: {tmp_path / 'out'}
sources: [{{name: web, paths: ["{REPO}/samples/web/*.jsonl"], domain: web}}]
stages: {{tokenize: {{}}}}
shards: {{seq_len: 128, last: keep, format: [parquet, litdata]}}
""")
    result = run_pipeline(str(path))
    assert result.returncode == 2 and "shards" in result.stderr and "set last to drop or pad" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["megatron", "memmap", "mds", "litdata"])
def test_each_formats_own_check_passes_clean_output_and_catches_a_lost_row(built, tmp_path, name) -> None:
    """What verify runs after the sha256s: counts against the manifest (here, the manifest's
    split rows/documents raised by one, as if the format had lost one)."""
    from curate.trainer.formats import format_named

    tmp, _, manifests = built
    fmt = format_named(name)
    folder = tmp / "packed" / fmt.folder
    split = manifests["packed"]["splits"]["train"]
    files = manifests["packed"]["formats"][name]["splits"]["train"]
    meta = {"vocab_size": VOCAB, "eos_id": EOS, "seq_len": 64, "split": split}
    assert fmt.check(folder, "train", files, meta) == []
    more = {**split, "rows": split["rows"] + 1, "documents": split["documents"] + 1}
    problems = fmt.check(folder, "train", files, {**meta, "split": more})
    assert problems and all("manifest says" in p for p in problems), problems
