"""The dedup index on disk: one Parquet file per group of sketch blocks (format 2), format 1's
single file still read, and an index file read less this run's own documents."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.config import ConfigError
from curate.dedup.index import (
    FORMAT,
    META,
    check_index,
    index_parts,
    read_indexes,
    read_part,
    write_meta,
    write_part,
)


def sketches(ids: list[str]) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.string()), "length": pa.array([len(i) for i in ids], pa.int64()),
                     "keys": pa.array([[i.encode()] for i in ids], pa.list_(pa.binary()))})


def test_parts_are_listed_in_order_and_read_less_this_runs_documents(tmp_path: Path) -> None:
    index = tmp_path / "index"
    assert write_part(index, 1, sketches(["c", "d"]), pa.array([False, True])) == 2
    assert write_part(index, 0, sketches(["a", "b"]), pa.array([False, False])) == 2
    write_meta(index, 4, {"ngram": 5})
    assert json.loads((index / META).read_text())["format"] == FORMAT
    files = index_parts([str(index)])
    assert [f.name for f in files] == ["part-00000.parquet", "part-00001.parquet"]
    schema = sketches([]).schema
    assert read_part(files[1], schema).column("id").to_pylist() == ["c", "d"]  # "removed" dropped, schema kept
    assert read_part(files[1], schema).schema == schema
    assert read_part(files[1], schema, pa.array(["d", "x"])).column("id").to_pylist() == ["c"]
    assert read_indexes([str(index)], schema, pa.array(["a"])).column("id").to_pylist() == ["b", "c", "d"]
    check_index(str(index), {"ngram": 5}, "dedup")


def test_a_format_1_index_is_still_read(tmp_path: Path) -> None:
    index = tmp_path / "old"
    index.mkdir()
    pq.write_table(sketches(["a", "b"]).append_column("removed", pa.array([False, True])), index / "sketches.parquet")
    (index / META).write_text(json.dumps({"format": "curate.dedup-index/1", "documents": 2, "options": {"ngram": 5}}))
    check_index(str(index), {"ngram": 5}, "dedup")
    assert [f.name for f in index_parts([str(index)])] == ["sketches.parquet"]
    assert read_indexes([str(index)], sketches([]).schema).column("id").to_pylist() == ["a", "b"]
    (index / META).write_text(json.dumps({"format": "curate.dedup-index/9", "documents": 2, "options": {}}))
    with pytest.raises(ConfigError, match="dedup-index/9"):
        check_index(str(index), {}, "dedup")
