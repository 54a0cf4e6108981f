"""Issue 16, defect 3 and "every input accounted for": ids are unique per run, dedup never decides
by a key two records can share, and documents + rejected = records read for every input file.

Real files through the real readers, the real dedup stage on a local Ray, the real sink and
summary, and one end-to-end ``python -m curate.run``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.config import FieldMap, SourceConfig
from curate.ids import DuplicateIdError, IdIndex, id_digests, id_of_key, row_keys
from curate.readers import read_file
from curate.sources import list_source_files
from tests.conftest import run_cli

# Long enough that each is its own document to dedup (5-word shingles), distinct from each other.
TEXTS = {name: " ".join(f"{name}{i} word{i * 7 % 13} thing{i % 5}" for i in range(40))
         for name in ("alpha", "beta", "gamma", "delta", "omega")}


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _source(paths: list[str], **kw) -> SourceConfig:
    return SourceConfig(name="src", paths=paths, fields=FieldMap(text="text", id="id", url=None), **kw)


def _read(source: SourceConfig) -> pa.Table:
    return pa.concat_tables([t for task in list_source_files(source, 0) for t in read_file(task, source, 100)])


def _shards(tmp_path: Path) -> Path:
    """Two shards of one source, both numbering their records from 1.

    shard1: 1 alpha, 2 beta, 3 alpha (an exact copy of 1 in its own file)
    shard2: 1 gamma (unique), 2 beta (the same text and id as shard1's 2), 3 delta (unique, but
    its id is the id of shard1's duplicate)
    """
    _write_jsonl(tmp_path / "shards" / "shard1.jsonl",
                 [{"id": 1, "text": TEXTS["alpha"]}, {"id": 2, "text": TEXTS["beta"]}, {"id": 3, "text": TEXTS["alpha"]}])
    _write_jsonl(tmp_path / "shards" / "shard2.jsonl",
                 [{"id": 1, "text": TEXTS["gamma"]}, {"id": 2, "text": TEXTS["beta"]}, {"id": 3, "text": TEXTS["delta"]}])
    return tmp_path / "shards"


# --------------------------------------------------------------------------- reading (no Ray)


def test_int_and_string_id_in_one_file_are_rekeyed_not_merged(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "a.jsonl", [{"id": 7, "text": "seven as a number"},
                                               {"id": "7", "text": "seven as a string"},
                                               {"id": 7, "text": "seven again"}])
    table = _read(_source([str(path)]))
    assert table.column("id").to_pylist() == ["src/7", "src/a.jsonl:7", "src/a.jsonl:7#2"]
    assert _read(_source([str(path)])).column("id").to_pylist() == table.column("id").to_pylist()  # deterministic


def test_ids_error_mode_refuses_a_repeated_id_naming_it(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "a.jsonl", [{"id": 7, "text": "x"}, {"id": "7", "text": "y"}])
    with pytest.raises(DuplicateIdError, match=r"id '7' appears twice in .*a\.jsonl \(again at line 2"):
        _read(_source([str(path)], ids="error"))


def test_ids_file_mode_scopes_every_id_by_its_file(tmp_path: Path) -> None:
    folder = _shards(tmp_path)
    ids = _read(_source([str(folder / "*.jsonl")], ids="file")).column("id").to_pylist()
    assert ids == [f"src/shard{s}.jsonl:{i}" for s in (1, 2) for i in (1, 2, 3)]


def test_an_id_equal_to_a_position_key_cannot_collide(tmp_path: Path) -> None:
    # line 1 has no id, so it is known by its place; line 2 claims exactly that place as its id
    path = _write_jsonl(tmp_path / "a.jsonl", [{"text": TEXTS["alpha"]}, {"id": "a.jsonl:1", "text": TEXTS["beta"]}])
    ids = _read(_source([str(path)])).column("id").to_pylist()
    assert ids == ["src:a.jsonl:1", "src/a.jsonl:1"]  # two namespaces: ':' or '/' after the source name


def test_every_row_names_its_input_file_and_keys_are_unique(tmp_path: Path) -> None:
    folder = _shards(tmp_path)
    table = _read(_source([str(folder / "*.jsonl")]))
    assert table.column("id").to_pylist() == ["src/1", "src/2", "src/3"] * 2  # kept as given: stable ids
    assert set(table.column("input_file").to_pylist()) == {str(folder / "shard1.jsonl"), str(folder / "shard2.jsonl")}
    keys = row_keys(table)
    assert len(set(keys)) == 6 and [id_of_key(k) for k in keys] == table.column("id").to_pylist()
    assert sorted(keys)[0].startswith("src/1\0")  # keys sort by id first: "the smallest id breaks ties"


def test_repeated_archive_member_names_get_distinct_ids(tmp_path: Path) -> None:
    import io
    import tarfile

    path = tmp_path / "repo.tar"
    with tarfile.open(path, "w") as tar:
        for body in (b"x = 1\n", b"x = 2\n"):  # tar appends a newer version under the same name
            info = tarfile.TarInfo("pkg/mod.py")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    source = SourceConfig(name="code", format="archive", paths=[str(path)], domain="code")
    ids = _read(source).column("id").to_pylist()
    assert len(ids) == 2 and len(set(ids)) == 2, ids


def test_id_index_finds_repeats_across_files_and_tolerates_retries() -> None:
    index = IdIndex()
    a = id_digests([f"src/{i}" for i in range(1000)])
    assert index.claim("a.jsonl", a) == {}
    for k in range(20):  # many small files: runs merge, lookups still find every earlier file
        assert index.claim(f"f{k}.jsonl", id_digests([f"src/f{k}-{i}" for i in range(50)])) == {}
    assert index.claim("a.jsonl", a) == {}  # the same file again (a retried task) is not its own repeat
    assert index.claim("b.jsonl", id_digests(["src/5", "src/new", "src/f3-7", "src/f3-8"])) == {"a.jsonl": 1, "f3.jsonl": 2}
    assert len(index.runs) < 8
    assert index.claim("c.jsonl", np.empty(0, np.uint64)) == {}


# --------------------------------------------------------------------------- on a local Ray


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


def test_dedup_decides_by_unique_keys_not_shared_ids(ray_local, tmp_path: Path) -> None:
    """Old behaviour: shard2's unique delta (id 3) was rejected as a duplicate because shard1's
    id 3 was, and the true pair beta/beta sharing id 2 was kept twice."""
    from curate.stages.dedup import Dedup, DedupConfig

    table = _read(_source([str(_shards(tmp_path) / "*.jsonl")]))
    out = Dedup(DedupConfig(near=False), key="dedup").run_global(ray_local.data.from_arrow(table).repartition(2))
    rows = {(r["input_file"].rsplit("/", 1)[1], r["id"]): r for r in out.take_all()}
    rejected = {k: (r["reject_reason"], r["reject_detail"]) for k, r in rows.items() if r["reject_stage"]}
    assert rejected == {("shard1.jsonl", "src/3"): ("exact_duplicate", "duplicate of src/1"),
                        ("shard2.jsonl", "src/2"): ("exact_duplicate", "duplicate of src/2")}
    assert rows[("shard2.jsonl", "src/3")]["text"] == TEXTS["delta"]  # the unique document is kept


def test_ids_repeated_across_files_fail_the_read_naming_both(ray_local, tmp_path: Path) -> None:
    from curate.config import DownloadConfig
    from curate.engine import StageFailed, _read_group, make_stats_actor

    folder = _shards(tmp_path)
    source = _source([str(folder / "*.jsonl")])
    stats = make_stats_actor()
    groups = [json.dumps([t.to_row()]) for t in list_source_files(source, 0)]
    assert sum(t.num_rows for t in _read_group(groups[0], {"src": source}, DownloadConfig(), 100, stats, None)) == 3
    with pytest.raises(StageFailed) as failed:
        list(_read_group(groups[1], {"src": source}, DownloadConfig(), 100, stats, None))
    message = str(failed.value)
    assert "shard2.jsonl" in message and "3 of them also in" in message and "shard1.jsonl" in message
    assert "set ids: file" in message
    # scoped by file, the same shards read cleanly: their ids cannot repeat across files
    scoped = source.model_copy(update={"ids": "file"})
    stats = make_stats_actor()
    for group in groups:
        assert sum(t.num_rows for t in _read_group(group, {"src": scoped}, DownloadConfig(), 100, stats, None)) == 3


def test_a_retried_read_is_neither_its_own_repeat_nor_counted_twice(ray_local, tmp_path: Path) -> None:
    """Ray retries a read task whose worker died: its files are read and reported again."""
    from curate.config import DownloadConfig
    from curate.engine import _read_group, make_stats_actor
    from curate.ids import input_metric

    source = _source([str(_shards(tmp_path) / "shard1.jsonl")])
    group = json.dumps([t.to_row() for t in list_source_files(source, 0)])
    stats = make_stats_actor()
    for _attempt in range(2):
        assert sum(t.num_rows for t in _read_group(group, {"src": source}, DownloadConfig(), 100, stats, None)) == 3
    read = ray_local.get(stats.snapshot.remote())["read"]
    assert read[input_metric("src", str(tmp_path / "shards" / "shard1.jsonl"))] == 3
    assert read["docs_in"] == 6  # the stage's own totals still count the work done


# --------------------------------------------------------------------------- every input accounted for


def test_sink_and_summary_account_for_every_input(tmp_path: Path) -> None:
    from curate.ids import input_metric
    from curate.ownership import output_lock
    from curate.run import InputsUnaccounted, account_inputs, check_inputs
    from curate.schema import reject_rows
    from curate.sink import new_staging_dir, write_batch

    folder = _shards(tmp_path)
    _write_jsonl(folder / "shard3.jsonl", [{"id": 9, "text": TEXTS["omega"]}, {"id": 10, "text": " "}])
    source = _source([str(folder / "*.jsonl")], ids="file")
    table = _read(source)
    table = reject_rows(table, np.arange(table.num_rows) == 0, "filter", "too_short")
    synthetic = pa.Table.from_pylist([{"id": "synthetic/rephrase/src/1", "text": "made by a stage", "source": "synthesize"}],
                                     schema=table.schema)
    with output_lock(tmp_path / "out"):  # a run makes its staging folder under the output_dir's lock
        staging = new_staging_dir(tmp_path / "out")
    records = [*write_batch(table.slice(0, 4), str(staging)).to_pylist(),
               *write_batch(pa.concat_tables([table.slice(4), synthetic]), str(staging)).to_pylist()]
    read = {input_metric("src", str(folder / f"shard{s}.jsonl")): n for s, n in ((1, 3), (2, 3), (3, 2))}
    inputs, generated = account_inputs(records, read)
    by_file = {Path(i["path"]).name: (i["records"], i["documents"], i["rejected"]) for i in inputs}
    # shard1: one row rejected by a stage; shard3: the blank text rejected while reading
    assert by_file == {"shard1.jsonl": (3, 2, 1), "shard2.jsonl": (3, 3, 0), "shard3.jsonl": (2, 1, 1)}
    assert generated == {"documents": 1, "rejected": 0}
    check_inputs(inputs)
    lost = [r for r in records if not (r["record"] == "input" and (r["input"] or "").endswith("shard2.jsonl"))]
    with pytest.raises(InputsUnaccounted, match=r"1 input file\(s\) not accounted for .*shard2\.jsonl \(source src\): "
                                                 r"read 3, documents 0 \+ rejected 0"):
        check_inputs(account_inputs(lost, read)[0])


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow  # two full runs
def test_run_with_repeated_ids_keeps_unique_documents_and_accounts_for_inputs(tmp_path: Path) -> None:
    folder = _shards(tmp_path)
    config = tmp_path / "ids.yaml"
    config.write_text(json.dumps({
        "name": "ids", "output_dir": str(tmp_path / "out"),
        "sources": [{"name": "src", "paths": [str(folder / "*.jsonl")], "ids": "file"}],
        "stages": {"dedup": {"near": False}},
    }), encoding="utf-8")
    result = run_cli(str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    documents = pq.read_table(tmp_path / "out" / "documents").to_pylist()
    rejected = pq.read_table(tmp_path / "out" / "rejected").to_pylist()
    assert sorted(d["id"] for d in documents) == ["src/shard1.jsonl:1", "src/shard1.jsonl:2",
                                                  "src/shard2.jsonl:1", "src/shard2.jsonl:3"]
    assert {(r["id"], r["reject_reason"], r["reject_detail"]) for r in rejected} == {
        ("src/shard1.jsonl:3", "exact_duplicate", "duplicate of src/shard1.jsonl:1"),
        ("src/shard2.jsonl:2", "exact_duplicate", "duplicate of src/shard1.jsonl:2")}
    summary = json.loads((tmp_path / "out" / "stats" / "summary.json").read_text())
    assert [(Path(i["path"]).name, i["records"], i["documents"], i["rejected"]) for i in summary["inputs"]] == [
        ("shard1.jsonl", 3, 2, 1), ("shard2.jsonl", 3, 2, 1)]
    assert summary["generated"] == {"documents": 0, "rejected": 0}
    # the default (ids kept as given) refuses the same shards, naming both files, and commits nothing
    again = run_cli(str(config), f"output_dir={tmp_path / 'out2'}", "sources.0.ids=rekey")
    assert again.returncode == 1
    assert "shard1.jsonl" in again.stderr and "shard2.jsonl" in again.stderr and "ids: file" in again.stderr
    assert not (tmp_path / "out2" / "_SUCCESS").exists()


def test_two_inputs_of_one_source_with_one_relative_path_are_a_config_error(tmp_path: Path) -> None:
    """Their records would get the same place-derived ids (<source>:x.jsonl:1)."""
    from curate.config import ConfigError
    from curate.ids import check_distinct_files
    from curate.sources import list_all_files

    for folder in ("a", "b"):
        _write_jsonl(tmp_path / folder / "x.jsonl", [{"text": "no id here"}])
    sources = [SourceConfig(name="web", paths=[str(tmp_path / "*.jsonl")]),
               SourceConfig(name="src", paths=[str(tmp_path / "a" / "*.jsonl"), str(tmp_path / "b" / "*.jsonl")])]
    _write_jsonl(tmp_path / "top.jsonl", [{"text": "fine"}])
    with pytest.raises(ConfigError, match=r"sources\.1\.paths: .*a/x\.jsonl and .*b/x\.jsonl are both 'x\.jsonl'"):
        check_distinct_files(sources, list_all_files(sources))
    twice = [SourceConfig(name="src", paths=[str(tmp_path / "a" / "*.jsonl"), str(tmp_path / "a" / "x.jsonl")])]
    with pytest.raises(ConfigError, match=r"sources\.0\.paths: .*a/x\.jsonl is listed more than once"):
        check_distinct_files(twice, list_all_files(twice))
    check_distinct_files(sources[:1], list_all_files(sources[:1]))  # one folder: distinct
