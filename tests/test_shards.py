"""Trainer shards from a run's tokens/: packing, mixture, seeded shuffle, split, manifest."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, run_cli

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
    first = run_cli(config(tmp, "a", shards))
    assert first.returncode == 0, first.stdout + first.stderr
    # same config, smaller batches: more and different token shards upstream
    second = run_cli(config(tmp, "b", shards), "read.batch_rows=7", "stages.tokenize.resources.batch_size=10")
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
    a = json.loads((mixed / "a" / "trainer" / "manifest.json").read_text())
    b = json.loads((mixed / "b" / "trainer" / "manifest.json").read_text())
    assert len(list((mixed / "b" / "tokens").glob("*.parquet"))) != len(list((mixed / "a" / "tokens").glob("*.parquet")))
    assert [s["sha256"] for s in a["splits"]["train"]["shards"]] == [s["sha256"] for s in b["splits"]["train"]["shards"]]


def test_unpacked_round_trip_and_split_by_document(tmp_path) -> None:
    result = run_cli(config(tmp_path, "plain", "  validation: 0.2\n  seed: 5"))
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "plain"
    originals = {r["id"]: r["input_ids"] for f in (out / "tokens").glob("*.parquet") for r in pq.read_table(f).to_pylist()}
    train = {i.split("#")[0]: t for i, t in zip(rows(out / "trainer" / "train", "id"), rows(out / "trainer" / "train"))}
    val = {i.split("#")[0]: t for i, t in zip(rows(out / "trainer" / "validation", "id"),
                                              rows(out / "trainer" / "validation"))}
    assert not set(train) & set(val) and set(train) | set(val) == set(originals)
    assert all(train[i] == originals[i] for i in train) and all(val[i] == originals[i] for i in val)
    assert 0.05 < len(val) / len(originals) < 0.4


def test_packing_reproduces_every_document(tmp_path) -> None:
    result = run_cli(config(tmp_path, "packed", "  seq_len: 100\n  last: keep"))
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "packed"
    originals = Counter(tuple(r) for f in (out / "tokens").glob("*.parquet")
                        for r in pq.read_table(f).column("input_ids").to_pylist())
    stream = np.concatenate([np.array(r, dtype=np.int64) for r in rows(out / "trainer" / "train")])
    ends = np.flatnonzero(stream == EOS) + 1
    docs = Counter(tuple(d.tolist()) for d in np.split(stream, ends) if len(d))
    assert docs == originals


def test_shards_need_a_tokenize_stage(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"""name: bad
output_dir: {tmp_path / 'out'}
sources: [{{name: web, paths: ["{REPO}/samples/web/*.jsonl"]}}]
stages: {{langid: {{}}}}
shards: {{seq_len: 128}}
""")
    result = run_cli(str(path))
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
