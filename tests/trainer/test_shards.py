"""Trainer shards from a run's tokens/: packing, mixture, seeded shuffle, split, manifest, and the
Ray build giving the same bytes for any number of CPUs and any tokens/ layout."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, run_pipeline, shared_ray

EOS = 151643


def config(tmp_path, name: str, shards: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""name: {name}
output_dir: {tmp_path / name}
sources:
  - {{name: web, paths: ["{REPO}/samples/web/*.jsonl"], domain: web}}
  - {{name: math, paths: ["{REPO}/samples/math/*.jsonl"], domain: math, fields: {{text: body, id: problem_id}}}}
  - {{name: code, format: code, paths: ["{REPO}/samples/code"], domain: code}}
stages:
  tokenize: {{}}
shards:
{shards}
""")
    return str(path)


def rows(folder, column="input_ids") -> list:
    return [r for f in sorted(folder.glob("*.parquet")) for r in pq.read_table(f).column(column).to_pylist()]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shards")
    shards = """  seq_len: 512
  last: pad
  mixture: {web: 0.5, math: 0.3, code: 0.2}
  target_tokens: 60000
  validation: 0.1
  tokens_per_shard: 20000
  row_group_rows: 8"""
    first = run_pipeline(config(tmp, "a", shards))
    assert first.returncode == 0, first.stdout + first.stderr
    # same config, smaller batches: more and different token shards upstream, and a 1-CPU Ray
    second = run_pipeline(config(tmp, "b", shards), "read.batch_rows=7", "stages.tokenize.resources.batch_size=10",
                     "ray.num_cpus=1")
    assert second.returncode == 0, second.stdout + second.stderr
    return tmp


def test_mixture_within_one_percent_and_reported(mixed) -> None:
    manifest = json.loads((mixed / "a" / "trainer" / "manifest.json").read_text())
    for group, info in manifest["mixture"].items():
        assert abs(info["share"] - info["requested_share"]) < 0.01, (group, info)
    assert manifest["mixture"]["math"]["tokens"] > manifest["mixture"]["math"]["natural_tokens"]  # upsampled
    assert manifest["mixture"]["web"]["tokens"] < manifest["mixture"]["web"]["natural_tokens"]  # downsampled
    summary = json.loads((mixed / "a" / "stats" / "summary.json").read_text())
    assert summary["trainer"]["mixture"] == manifest["mixture"]


def test_packed_rows_and_manifest(mixed) -> None:
    out = mixed / "a" / "trainer"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seq_len"] == 512 and manifest["eos_id"] == EOS and manifest["vocab_size"] == 151665
    for split in ("train", "validation"):
        info = manifest["splits"][split]
        assert [s["file"] for s in info["shards"]] == sorted(p.name for p in (out / split).glob("*.parquet"))
        packed = rows(out / split)
        assert len(packed) == info["rows"] and all(len(r) == 513 for r in packed)
        assert sum(s["tokens"] for s in info["shards"]) == info["tokens"] == 513 * len(packed)
        lens = rows(out / split, "doc_lens")
        assert all(sum(d) == 513 for d in lens)
        assert pq.ParquetFile(out / split / info["shards"][0]["file"]).metadata.row_group(0).num_rows <= 8
    assert len(manifest["splits"]["train"]["shards"]) > 1  # tokens_per_shard split them


def test_same_seed_same_shards_whatever_the_upstream_partitioning(mixed) -> None:
    """Run b had other token shards and a 1-CPU Ray (run a: the machine's CPUs)."""
    a = json.loads((mixed / "a" / "trainer" / "manifest.json").read_text())
    b = json.loads((mixed / "b" / "trainer" / "manifest.json").read_text())
    assert len(list((mixed / "b" / "tokens").glob("*.parquet"))) != len(list((mixed / "a" / "tokens").glob("*.parquet")))
    assert a["splits"] == b["splits"] and len(a["splits"]["train"]["shards"]) > 1  # names, counts, sha256


def test_shards_need_a_tokenize_stage(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"""name: bad
output_dir: {tmp_path / 'out'}
sources: [{{name: web, paths: ["{REPO}/samples/web/*.jsonl"]}}]
stages: {{langid: {{}}}}
shards: {{seq_len: 128}}
""")
    result = run_pipeline(str(path))
    assert result.returncode == 2 and "add a tokenize stage" in result.stdout + result.stderr


def test_verify_checks_trainer_shards(mixed, tmp_path) -> None:
    import shutil

    import pyarrow as pa

    from curate.verify import main, verify_tokens

    trainer = tmp_path / "trainer"
    shutil.copytree(mixed / "a" / "trainer", trainer)
    assert verify_tokens(trainer)[0] == [] and main([str(trainer)]) == 0
    shard = sorted((trainer / "train").glob("*.parquet"))[0]
    table = pq.read_table(shard)
    lens = table.column("doc_lens").to_pylist()
    lens[0] = lens[0][:-1] if len(lens[0]) > 1 else [lens[0][0] - 1]
    pq.write_table(table.set_column(1, "doc_lens", pa.array(lens, pa.list_(pa.int32()))), shard)
    problems, _ = verify_tokens(trainer)
    assert any("sha256" in p for p in problems) and any("doc_lens do not add up" in p for p in problems)
    assert main([str(trainer)]) == 1


def reference_extra(lengths: list[int], remaining: float) -> list[bool]:
    """The mixture rule written as the plain loop: one more copy while it brings the group closer."""
    taken = []
    for n in lengths:
        ok = remaining > 0 and n <= 2 * remaining
        taken.append(ok)
        remaining -= n if ok else 0
        if remaining <= 0:
            taken += [False] * (len(lengths) - len(taken))
            break
    return taken


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_extra_copies_follow_the_mixture_rule(seed) -> None:
    from curate.trainer.shards import greedy_extra

    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, [50, 5000, 200, 3, 10_000, 100][seed], size=[10, 20_000, 2000, 500, 5_000, 1][seed])
    for remaining in (0.0, 0.4, 1.0, 7.5, lengths.sum() * 0.3, lengths.sum() * 0.97, lengths.sum() + 5.0):
        got = greedy_extra(lengths, remaining)
        assert got.tolist() == reference_extra(lengths.tolist(), remaining), remaining
        if remaining <= lengths.sum() * 0.97 and len(lengths) > 100:  # enough documents to get there
            assert abs(remaining - lengths[got].sum()) <= lengths.max() / 2  # within half a document


def write_tokens(folder, docs: list[dict], files: int, seed: int) -> None:
    import pyarrow as pa

    folder.mkdir(parents=True)
    order = np.random.default_rng(seed).permutation(len(docs))
    schema = pa.schema([("id", pa.string()), ("domain", pa.string()), ("lang", pa.string()),
                        ("input_ids", pa.list_(pa.uint32()))])
    for j, part in enumerate(np.array_split(order, files)):
        pq.write_table(pa.Table.from_pylist([docs[i] for i in part], schema), folder / f"part-{j:03d}.parquet")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """2,000 documents of 1-200 tokens laid out as 1 file and as 9 files in another row order."""
    tmp = tmp_path_factory.mktemp("synthetic")
    rng = np.random.default_rng(0)
    docs = [{"id": f"doc{i}", "domain": ("web", "math", "code")[i % 3], "lang": "en",
             "input_ids": rng.integers(0, 150_000, rng.integers(0, 200)).tolist() + [EOS]} for i in range(2000)]
    write_tokens(tmp / "one" / "tokens", docs, 1, 0)
    write_tokens(tmp / "nine" / "tokens", docs, 9, 1)
    return tmp, docs


CONFIGS = {
    "packed": dict(seq_len=64, last="pad", mixture={"web": 0.5, "math": 0.3, "code": 0.2}, target_tokens=150_000,
                   validation=0.1, tokens_per_shard=30_000, row_group_rows=50, seed=3),
    "keep": dict(seq_len=100, last="keep", tokens_per_shard=50_000),
    "rows": dict(validation=0.2, tokens_per_shard=40_000, row_group_rows=64, seed=9),
}


@pytest.fixture(scope="module")
def built(synthetic):
    """CONFIGS built from both layouts in one local Ray (1 vs 2 CPUs: the ``mixed`` runs), in
    one shuffle wave and in several."""

    from curate.config import ShardsConfig
    from curate.trainer.shards import build_shards

    tmp, docs = synthetic
    shared_ray()
    token_manifest = {"tokenizer": {"name": "qwen2.5"}, "vocab_size": 151665, "eos_id": EOS}
    # "nine" also shuffles in waves of ~20k tokens (several waves), "one" in one wave
    manifests = {layout: {name: build_shards(tmp / layout / "tokens", tmp / layout / name, ShardsConfig(**options),
                                             token_manifest, wave_tokens=wave)
                          for name, options in CONFIGS.items()}
                 for layout, wave in (("one", None), ("nine", 20_000))}
    return tmp / "one", docs, manifests


def test_waves_are_runs_of_non_empty_buckets() -> None:
    from curate.trainer.shards import waves_of

    waves = waves_of(np.array([5, 0, 7, 3, 0, 0, 9, 1]), 10)
    assert [w.tolist() for w in waves] == [[0], [2, 3], [6, 7]]
    assert [w.tolist() for w in waves_of(np.array([5, 0, 7]), 10**9)] == [[0, 2]]


def test_same_shard_bytes_for_any_input_layout_and_wave_size(built) -> None:
    from curate.verify import verify_tokens

    out, _, manifests = built
    for name in CONFIGS:
        assert verify_tokens(out / name)[0] == []
        assert manifests["one"][name]["splits"] == manifests["nine"][name]["splits"]  # names, counts, sha256
        assert len(manifests["one"][name]["splits"]["train"]["shards"]) >= 3  # several buckets


def test_rows_in_global_order_round_trip_and_split_by_document(built) -> None:
    from curate.trainer.shards import id_hashes, seeded_keys

    out, docs, _ = built
    originals = {d["id"]: d["input_ids"] for d in docs}
    picks = [(i, t) for f in sorted((out / "rows" / "train").glob("*.parquet"))
             for i, t in zip(*pq.read_table(f, columns=["id", "input_ids"]).to_pydict().values())]
    ids = [i.split("#")[0] for i, _ in picks]
    # the shards in name order hold the picks in global key order, each document once
    keys = seeded_keys(id_hashes(ids), 9, "order", np.array([int(i.split("#")[1]) for i, _ in picks]))
    assert (keys[1:] >= keys[:-1]).all() and len(set(ids)) == len(ids)
    assert all(t == originals[i] for i, (_, t) in zip(ids, picks))
    val = {i.split("#")[0] for i in rows(out / "rows" / "validation", "id")}
    assert not val & set(ids) and val | set(ids) == set(originals)
    assert 0.15 < len(val) / len(originals) < 0.25


def test_packing_reproduces_every_document(built) -> None:
    out, docs, manifests = built
    stream = np.concatenate([np.array(r, dtype=np.int64) for r in rows(out / "keep" / "train")])
    ends = np.flatnonzero(stream == EOS) + 1
    assert Counter(tuple(d.tolist()) for d in np.split(stream, ends) if len(d)) == Counter(
        tuple(d["input_ids"]) for d in docs)
    # each shard packs its own documents: full rows, then its own short last row
    for shard in manifests["one"]["keep"]["splits"]["train"]["shards"]:
        lengths = [len(r) for r in pq.read_table(out / "keep" / "train" / shard["file"]).column("input_ids").to_pylist()]
        assert set(lengths[:-1]) == {101} and 0 < lengths[-1] <= 101
        assert pq.read_table(out / "keep" / "train" / shard["file"]).column("input_ids")[-1].as_py()[-1] == EOS


def test_packed_mixture_with_repeats(built) -> None:
    out, docs, manifests = built
    manifest = manifests["one"]["packed"]
    for info in manifest["mixture"].values():
        assert abs(info["share"] - info["requested_share"]) < 0.01
    assert manifest["mixture"]["web"]["tokens"] > manifest["mixture"]["web"]["natural_tokens"]  # upsampled
    assert all(len(r) == 65 for split in ("train", "validation") for r in rows(out / "packed" / split))


def test_shards_load_with_datasets_and_polars(mixed, tmp_path) -> None:
    import polars as pl

    datasets = pytest.importorskip("datasets")
    out = mixed / "a"
    manifest = json.loads((out / "trainer" / "manifest.json").read_text())
    for split in ("train", "validation"):
        files = [str(out / "trainer" / split / s["file"]) for s in manifest["splits"][split]["shards"]]
        loaded = datasets.load_dataset("parquet", data_files={split: files}, split=split, cache_dir=str(tmp_path))
        assert loaded.num_rows == manifest["splits"][split]["rows"] and set(loaded.column_names) == {"input_ids", "doc_lens"}
        assert loaded[0]["input_ids"] == pq.read_table(files[0]).column("input_ids")[0].as_py()
        scanned = pl.scan_parquet(files).select(pl.col("input_ids").list.len().sum(), pl.len()).collect()
        assert scanned.row(0) == (manifest["splits"][split]["tokens"], manifest["splits"][split]["rows"])
    tokens = json.loads((out / "tokens" / "manifest.json").read_text())
    files = [str(out / "tokens" / s["file"]) for s in tokens["shards"]]
    loaded = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(tmp_path))
    assert loaded.num_rows == tokens["total_documents"]
    assert sum(map(len, loaded["input_ids"])) == tokens["total_tokens"]
    assert pl.scan_parquet(files).select(pl.col("input_ids").list.len().sum()).collect().item() == tokens["total_tokens"]
