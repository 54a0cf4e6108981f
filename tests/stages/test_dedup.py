"""The dedup stage on a real local Ray: planted duplicates, near-misses, keep policy,
verification, spaceless scripts, determinism across partition counts."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from curate.dedup import jaccard, normalize_for_dedup, shingles
from curate.dedup.clusters import DocFacts, decide, union_find
from curate.dedup.search import DuplicateSearch
from curate.ids import id_of_key
from curate.schema import BASE_SCHEMA
from curate.stages.dedup import Dedup, DedupConfig

# --------------------------------------------------------------------------- corpus with planted pairs

_rng = random.Random(7)
_VOCAB = ["".join(_rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(_rng.randint(3, 8))) for _ in range(5000)]


def words(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(_VOCAB) for _ in range(n)]


def edit(base: list[str], changes: int, seed: int) -> list[str]:
    """``base`` with ``changes`` words replaced at evenly spread positions."""
    rng = random.Random(seed)
    out = list(base)
    step = len(base) / changes
    for k in range(changes):
        out[int(k * step + step / 2)] = rng.choice(_VOCAB) + "q"
    return out


def true_jaccard(a: str, b: str) -> float:
    return jaccard(shingles(normalize_for_dedup(a)), shingles(normalize_for_dedup(b)))


def table(rows: list[dict]) -> pa.Table:
    full = [{"source": "t", "domain": "web", **r} for r in rows]
    schema = BASE_SCHEMA
    if any("quality_score" in r for r in rows):
        schema = schema.append(pa.field("quality_score", pa.float64()))
    if any("lang" in r for r in rows):
        schema = schema.append(pa.field("lang", pa.string()))
    return pa.Table.from_pylist(full, schema=schema)


def run_with_summary(ray, docs: list[dict], blocks: int = 3, stage_cls: type[Dedup] = Dedup, **options):
    """The global stage (fit, then the per-batch pass) with a real stats actor, returning rows by
    id and the stage's summary metrics."""
    from curate.config import StageSpec
    from curate.runtime.plan import apply_global_stage
    from curate.runtime.stats import make_stats_actor

    stats = make_stats_actor()
    ds = ray.data.from_arrow(table(docs)).repartition(blocks)
    out = apply_global_stage(ds, StageSpec("dedup", stage_cls, DedupConfig(**options)), stats)
    result = {r["id"]: r for r in out.take_all()}
    metrics = ray.get(stats.snapshot.remote())["dedup"]
    return result, metrics


# --------------------------------------------------------------------------- pure parts (no Ray)


def test_union_find_roots_are_smallest_ids() -> None:
    roots = union_find([("b", "c"), ("a", "c"), ("x", "y")])
    assert roots == {"a": "a", "b": "a", "c": "a", "x": "x", "y": "x"}


def test_keep_policy_order_and_reasons() -> None:
    edges = [("a", "b", False), ("a", "c", True), ("b", "d", False)]
    facts = {"a": DocFacts(100, 0.2), "b": DocFacts(50, 0.9), "c": DocFacts(100, 0.2), "d": DocFacts(400, None)}
    by_quality = decide(edges, facts)
    assert {i: d.kept for i, d in by_quality.items()} == dict.fromkeys("abcd", "b")
    assert by_quality["b"].reason is None and by_quality["d"].reason == "near_duplicate"
    # a and c are exact twins: the better of the two (a: same facts, smaller id) is the group's
    # representative and a near duplicate of b; c is an exact duplicate
    assert by_quality["a"].reason == "near_duplicate" and by_quality["c"].reason == "exact_duplicate"
    assert {d.cluster for d in by_quality.values()} == {"a"} and by_quality["a"].cluster_size == 4
    assert decide(edges, facts, ["length"])["d"].reason is None  # longest
    dated = {k: DocFacts(10, None, date) for k, date in zip("abcd", ["2024-05", "2023-01", None, "2023-01"])}
    assert decide(edges, dated, ["fetch_date"])["b"].reason is None  # earliest, ties to smallest id


def test_sketch_rows_skip_rejected_and_empty_documents() -> None:
    text = "The river flooded the lower town after three days of heavy rain in the valley."
    rows = [{"id": "a", "text": text}, {"id": "b", "text": text.upper() + "!!"}, {"id": "empty", "text": "?!"},
            {"id": "dead", "text": text, "reject_stage": "langid", "reject_reason": "low_score"}]
    stage = Dedup(DedupConfig(threshold=0.8))
    bands, rows_per_band = stage.band_parameters()
    sketch = DuplicateSearch(stage.config).sketch(table(rows)).to_pylist()
    assert [id_of_key(r["id"]) for r in sketch] == ["a", "b", "empty"]  # rejected rows take no part
    assert len(sketch[0]["keys"]) == 1 + bands and sketch[0]["keys"] == sketch[1]["keys"]
    assert sketch[2]["keys"] == []  # nothing left after normalisation: duplicates nothing
    assert f"{bands} bands x {rows_per_band} rows" in stage.describe()


def test_config_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="both bands and rows"):
        DedupConfig(bands=4)
    with pytest.raises(ValueError, match="exceeds num_perm"):
        DedupConfig(bands=20, rows=10, num_perm=128)


# --------------------------------------------------------------------------- on Ray


def planted_corpus() -> tuple[list[dict], dict[str, float]]:
    """Originals, near-duplicates (true Jaccard >= 0.85), near-misses (0.6-0.72), an exact copy in
    another source, and unrelated documents; returns rows and each planted pair's true Jaccard."""
    rows, truth = [], {}
    for g in range(6):
        base = words(220, seed=100 + g)
        original = " ".join(base)
        near = " ".join(edit(base, 3, seed=200 + g))
        miss = " ".join(edit(base, 8, seed=300 + g))
        rows += [{"id": f"g{g}-orig", "text": original, "quality_score": 0.5},
                 {"id": f"g{g}-near", "text": near, "quality_score": 0.9 if g % 2 else 0.1},
                 {"id": f"g{g}-miss", "text": miss, "quality_score": 0.5}]
        truth[f"g{g}-near"] = true_jaccard(original, near)
        truth[f"g{g}-miss"] = true_jaccard(original, miss)
    rows.append({"id": "web2/copy-of-g0", "source": "other", "text": rows[0]["text"].upper() + " !!",
                 "quality_score": 0.4})
    rows += [{"id": f"solo-{i}", "text": " ".join(words(150, seed=900 + i))} for i in range(20)]
    return rows, truth


def test_planted_duplicates_found_and_right_one_kept(ray_local) -> None:
    rows, truth = planted_corpus()
    assert all(truth[f"g{g}-near"] >= 0.85 for g in range(6))
    assert all(0.6 <= truth[f"g{g}-miss"] <= 0.72 for g in range(6))
    out, metrics = run_with_summary(ray_local, rows, threshold=0.8)
    for g in range(6):
        winner, loser = (f"g{g}-near", f"g{g}-orig") if g % 2 else (f"g{g}-orig", f"g{g}-near")
        assert out[winner]["reject_reason"] is None, g  # the higher quality score is kept
        assert out[loser]["reject_stage"] == "dedup" and out[loser]["reject_detail"] == f"duplicate of {winner}"
        assert out[f"g{g}-miss"]["reject_reason"] is None  # below threshold: kept
        assert out[f"g{g}-miss"]["dup_cluster"] is None
    # exact copy from another source (case and punctuation differ): exact duplicate of g0's keeper
    copy = out["web2/copy-of-g0"]
    assert copy["reject_reason"] == "exact_duplicate" and copy["reject_detail"] == "duplicate of g0-orig"
    assert out["g0-orig"]["dup_cluster"] == "g0-near" and out["g0-orig"]["dup_cluster_size"] == 3
    assert all(out[f"solo-{i}"]["reject_reason"] is None for i in range(20))
    assert metrics["clusters"] == 6 and metrics["candidate_edges"] >= 7
    # Where the quality score kept another copy than the longest (code points; ties: smallest id).
    text = {r["id"]: r["text"] for r in rows}
    clusters = [[f"g{g}-orig", f"g{g}-near"] + (["web2/copy-of-g0"] if g == 0 else []) for g in range(6)]
    winners = [f"g{g}-near" if g % 2 else f"g{g}-orig" for g in range(6)]
    longest = [min(ids, key=lambda i: (-len(text[i]), i)) for ids in clusters]
    assert metrics["kept_not_longest"] == sum(w != lo for w, lo in zip(winners, longest))


def test_longest_kept_without_quality_scores(ray_local) -> None:
    base = words(200, seed=1)
    longer = base + ["extra", "words", "at", "the", "end"]
    rows = [{"id": "a", "text": " ".join(base)}, {"id": "b", "text": " ".join(longer)}]
    out, metrics = run_with_summary(ray_local, rows, threshold=0.8)
    assert out["b"]["reject_reason"] is None and out["a"]["reject_detail"] == "duplicate of b"
    assert metrics["kept_not_longest"] == 0


def test_verification_removes_lsh_false_positives(ray_local) -> None:
    """A very loose LSH (32 bands of 1 row) makes pairs at Jaccard ~0.5 candidates; true-Jaccard
    verification drops them, and without verification they would be removed as duplicates."""
    rows = []
    for g in range(5):
        base = words(200, seed=500 + g)
        rows += [{"id": f"m{g}-a", "text": " ".join(base)}, {"id": f"m{g}-b", "text": " ".join(edit(base, 30, seed=g))}]
    loose = {"threshold": 0.8, "bands": 32, "rows": 1, "num_perm": 32}
    out, metrics = run_with_summary(ray_local, rows, verify="jaccard", **loose)
    assert all(r["reject_reason"] is None for r in out.values())
    assert metrics["false_positive_edges"] >= 5 and metrics["clusters"] == 0
    out_none, metrics_none = run_with_summary(ray_local, rows, verify="none", **loose)
    assert sum(r["reject_reason"] == "near_duplicate" for r in out_none.values()) >= 4
    assert metrics_none["false_positive_edges"] == 0
    out_sig, _ = run_with_summary(ray_local, rows, verify="signature", **{**loose, "num_perm": 128})
    assert all(r["reject_reason"] is None for r in out_sig.values())


SPACELESS = {
    "cmn_Hani": "今天早上市政府宣布将在河边新建一座公共图书馆和社区工作坊，预计明年春天开放，市民可以在那里借书、学习缝纫和木工，也可以参加周末的读书会和儿童故事时间。",
    "jpn_Jpan": "市議会は火曜日の夜、長い間空き家だった繊維工場を公共図書館と地域の工房に改装する計画を承認しました。建物のれんがの外壁と鉄の屋根はそのまま残されます。",
    "tha_Thai": "สภาเมืองลงมติเมื่อคืนวันอังคารให้เปลี่ยนโรงงานทอผ้าเก่าที่ว่างมานานให้เป็นห้องสมุดสาธารณะและโรงฝึกงานของชุมชนโดยยังคงรักษาผนังอิฐและโครงหลังคาเหล็กไว้",
}


def test_spaceless_scripts_deduplicated_with_character_shingles(ray_local) -> None:
    rows = []
    langs = list(SPACELESS)
    for n, (lang, text) in enumerate(SPACELESS.items()):
        tweaked = text[:20] + text[21:] + "。"  # one character dropped, one added
        assert len(text.split()) == 1  # word shingles would see one "word": no signal
        assert true_jaccard(text, tweaked) < 1.0
        rows += [{"id": f"{lang}-1", "text": text, "lang": lang}, {"id": f"{lang}-2", "text": tweaked, "lang": lang}]
        unrelated = SPACELESS[langs[(n + 1) % len(langs)]][::-1]  # another text, reversed
        rows.append({"id": f"{lang}-other", "text": unrelated, "lang": lang})
    out, _ = run_with_summary(ray_local, rows, threshold=0.7)
    for lang in SPACELESS:
        assert [out[f"{lang}-{k}"]["reject_reason"] for k in ("1", "2")].count("near_duplicate") == 1, lang
        assert out[f"{lang}-other"]["reject_reason"] is None


def test_deterministic_across_partition_counts(ray_local) -> None:
    rows, _ = planted_corpus()
    # ties everywhere: equal scores and lengths, so only the id decides
    rows = [{**r, "quality_score": None} for r in rows]
    first, first_metrics = run_with_summary(ray_local, rows, blocks=1, threshold=0.8, shuffle_partitions=1)
    second, _ = run_with_summary(ray_local, rows, blocks=5, threshold=0.8, shuffle_partitions=7)
    # a small corpus skips the shuffles: the same functions, once, over all the sketches
    single, single_metrics = run_with_summary(ray_local, rows, blocks=5, threshold=0.8)
    assert (first_metrics["shuffle_partitions"], single_metrics["shuffle_partitions"]) == (1, 0)
    # partitions sized from the memory a task may use (its memory_gb less an idle worker's 300 MB)
    sized, sized_metrics = run_with_summary(ray_local, rows, blocks=5, threshold=0.8, single_pass_mb=0,
                                            resources={"memory_gb": 0.5, "batch_size": 512})
    assert sized_metrics["task_working_mb"] == 512 - 300 and sized_metrics["shuffle_partitions"] >= 2
    columns = ("reject_reason", "reject_detail", "dup_cluster", "dup_cluster_size")
    decided = [{i: tuple(r[c] for c in columns) for i, r in out.items()} for out in (first, second, single, sized)]
    assert decided[0] == decided[1] == decided[2] == decided[3]
    assert (first_metrics["candidate_edges"], first_metrics["clusters"]) == \
        (single_metrics["candidate_edges"], single_metrics["clusters"])
    assert sum(r["reject_stage"] == "dedup" for r in first.values()) == 7


def _check_task_resources() -> None:
    import ray

    assigned = ray.get_runtime_context().get_assigned_resources()
    if assigned.get("CPU") != 0.5 or assigned.get("dedup_slot") != 0.25:
        raise RuntimeError(f"a dedup task ran with {assigned}, not the stage's resources")


class ResourceCheckingSearch(DuplicateSearch):
    """The dedup algorithm with sketch, shuffle-split and shuffle-reduce steps that fail unless
    their task holds the stage's configured resources."""

    def sketch(self, batch: pa.Table) -> pa.Table:
        _check_task_resources()
        return super().sketch(batch)

    @staticmethod
    def explode_keys(sketches: pa.Table) -> pa.Table:
        _check_task_resources()
        return DuplicateSearch.explode_keys(sketches)

    @staticmethod
    def bucket_edges(keys: pa.Table) -> pa.Table:
        _check_task_resources()
        return DuplicateSearch.bucket_edges(keys)

    def attach_second_end(self, edges: pa.Table, docs: pa.Table) -> pa.Table:
        _check_task_resources()
        return super().attach_second_end(edges, docs)


class ResourceCheckingDedup(Dedup):
    search_cls = ResourceCheckingSearch


def test_stage_resources_apply_to_every_dedup_task(ray_local) -> None:
    rows, _ = planted_corpus()
    out, metrics = run_with_summary(ray_local, rows, stage_cls=ResourceCheckingDedup, threshold=0.8,
                                    single_pass_mb=0,  # shuffle, so the split and reduce tasks are checked too
                                    resources={"cpus": 0.5, "custom": {"dedup_slot": 0.25}, "batch_size": 8})
    assert sum(r["reject_stage"] == "dedup" for r in out.values()) == 7
    assert metrics["clusters"] == 6
