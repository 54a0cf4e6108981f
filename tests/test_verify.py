"""`python -m curate.verify` on the quickstart's tokens/, intact and corrupted."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.verify import main, verify_tokens


@pytest.fixture
def tokens(quickstart_run, tmp_path):
    out, _ = quickstart_run
    copy = tmp_path / "tokens"
    shutil.copytree(out / "tokens", copy)
    return copy


def first_shard(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    return folder / manifest["shards"][0]["file"]


def rewrite(path, change) -> None:
    table = pq.read_table(path)
    rows = table.column("input_ids").to_pylist()
    change(rows)
    pq.write_table(table.set_column(table.schema.get_field_index("input_ids"), "input_ids",
                                    pa.array(rows, table.schema.field("input_ids").type)), path)


def test_intact_tokens_pass_and_decode(tokens, capsys) -> None:
    assert verify_tokens(tokens)[0] == []
    assert main([str(tokens), "--sample", "1"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "<|endoftext|>" in out


def test_out_of_vocabulary_id_is_caught(tokens, capsys) -> None:
    def bad_id(rows):
        rows[0][0] = 200_000
    rewrite(first_shard(tokens), bad_id)
    problems, _ = verify_tokens(tokens)
    assert any("sha256" in p for p in problems) and any("not below vocab_size" in p for p in problems)
    assert main([str(tokens)]) == 1 and "problem" in capsys.readouterr().out


def test_missing_eos_and_counts_are_caught(tokens) -> None:
    def drop_eos(rows):
        rows[1].pop()
    rewrite(first_shard(tokens), drop_eos)
    problems, _ = verify_tokens(tokens)
    assert any("do not end with EOS" in p for p in problems)
    assert any("tokens, manifest says" in p for p in problems)


def test_missing_and_unlisted_shards_are_caught(tokens) -> None:
    shard = first_shard(tokens)
    shard.rename(tokens / "part-extra.parquet")
    problems, _ = verify_tokens(tokens)
    assert any("listed in the manifest but missing" in p for p in problems)
    assert any("part-extra.parquet: on disk but not in the manifest" in p for p in problems)
    (tokens / "part-extra.parquet").write_bytes(b"not parquet")
    (tokens / "manifest.json").unlink()
    assert verify_tokens(tokens)[0] == [f"{tokens / 'manifest.json'}: missing"]
