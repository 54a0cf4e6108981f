"""``python -m curate.trainer trace``: from a packed row, a memmap document or a Megatron sequence of a
real run back to the documents, with their source, filter signals and scores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, run_pipeline
from tests.trainer.test_shards import config


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trace")
    shards = """  seq_len: 256
  last: drop
  validation: 0.1
  tokens_per_shard: 20000
  format: [parquet, megatron, memmap]"""
    path = Path(config(tmp, "run", shards))
    path.write_text(path.read_text().replace("stages:\n  tokenize: {}", """stages:
  filter:
    keep_signals: true
    filters:
      - {name: length, min_chars: 50}
      - {name: gopher_quality, domains: [web]}
      - {name: code_quality, domains: [code]}
  tokenize: {}"""))
    result = run_pipeline(str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp / "run"
    tokens = {r["id"]: r["input_ids"] for f in sorted((out / "tokens").glob("*.parquet"))
              for r in pq.read_table(f, columns=["id", "input_ids"]).to_pylist()}
    return out, tokens


def trace_lines(*args: str) -> list[dict]:
    import contextlib
    import io

    from curate.trainer.trace import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(list(args)) == 0
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_packed_row_is_traced_to_its_documents(run) -> None:
    out, tokens = run
    shard = sorted((out / "trainer" / "train").glob("*.parquet"))[1]
    rows = pq.read_table(shard).column("input_ids").to_pylist()
    for r in (0, len(rows) // 2, len(rows) - 1):
        pieces = trace_lines(str(out), "--split", "train", "--shard", "1", "--row", str(r))
        rebuilt = [t for p in pieces for t in tokens[p["id"]][p["doc_start"] : p["doc_start"] + p["length"]]]
        assert rebuilt == rows[r] and len(rows[r]) == 257
        for p in pieces:
            doc = p["document"]
            assert doc["id"] == p["id"] and doc["source"] in ("web", "math", "code") and doc["domain"] == p["group"]
            assert "text" not in doc
        assert any(k.startswith(("gopher_quality_", "code_quality_", "length_")) for p in pieces for k in p["document"])


def test_memmap_and_megatron_documents_are_traced(run) -> None:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    out, tokens = run
    meta = json.loads((out / "trainer" / "memmap" / "train" / "part-00000.json").read_text())
    pieces = trace_lines(str(out), "--split", "train", "--shard", "0", "--document", "3")
    assert {p["id"] for p in pieces} == {meta["documents"][3]["id"]}
    dataset = IndexedDataset(str(out / "trainer" / "megatron" / "train" / "math"))
    for sequence in (0, len(dataset) - 1):
        pieces = trace_lines(str(out), "--split", "train", "--group", "math", "--sequence", str(sequence))
        doc_id = {p["id"] for p in pieces}.pop()
        assert np.asarray(dataset[sequence]).tolist() == tokens[doc_id]
        assert pieces[0]["document"]["domain"] == "math"


def test_the_command_line(run) -> None:
    out, _ = run
    ok = subprocess.run([sys.executable, "-m", "curate.trainer", "trace", str(out), "--shard", "0", "--row", "0"],
                        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and json.loads(ok.stdout.splitlines()[0])["row"] == 0
    missing = subprocess.run([sys.executable, "-m", "curate.trainer", "trace", str(out), "--shard", "0",
                              "--row", "999999"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "has no row 999999" in missing.stderr
