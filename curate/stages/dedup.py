"""Exact and MinHash near-duplicate removal across the whole run (a global stage).

Unlike the streaming stages, dedup must see every document before it can decide, so the engine
calls :meth:`Dedup.run_global` with the dataset so far:

1. one map pass computes, per live document, a normalised content hash (exact duplicates) and a
   MinHash signature cut into LSH band hashes (:mod:`curate.dedup`);
2. Ray Data groups the (band, hash) keys -- a shuffle, so no node holds the corpus -- and each
   bucket with several documents emits star edges (smallest id -> the others);
3. the driver unions the edge list (its size is reported; the corpus itself never comes to the
   driver), and picks one document to keep per cluster: highest ``quality_score`` when that
   column exists, else the longest, else the smallest id;
4. a second map pass writes ``dup_cluster`` / ``dup_cluster_size`` and rejects the others with
   ``exact_duplicate`` or ``near_duplicate`` and the id of the document they lost to.

Scale path (issue 5): the edge list is the only thing collected on the driver; past a few
hundred million edges, replace the driver union-find with distributed connected components
(e.g. alternating small-star/large-star rounds as Ray Data groupbys).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from curate.schema import alive_mask, reject_rows, set_column, text_bytes
from curate.stage import Resources, Stage, StageConfig


class DedupConfig(StageConfig):
    exact: bool = Field(default=True, description="Remove exact duplicates (normalised content hash).")
    near: bool = Field(default=True, description="Remove near-duplicates with MinHash LSH.")
    threshold: float = Field(default=0.8, gt=0, lt=1, description="Jaccard similarity that counts as a near-duplicate.")
    num_perm: int = Field(default=128, gt=0)
    seed: int = 1
    ngram: int = Field(default=5, gt=0, description="Shingle size (words, or characters for spaceless scripts).")
    shingle_unit: Literal["auto", "word", "char"] = "auto"
    bands: int | None = Field(default=None, gt=0, description="LSH bands; None: chosen from threshold (printed).")
    rows: int | None = Field(default=None, gt=0)
    resources: Resources = Resources(batch_size=512)


def _union_find(edges: list[tuple[str, str]]) -> dict[str, str]:
    """id -> root for every id in ``edges`` (roots are the smallest id of each component)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            parent[rb] = ra
    return {x: find(x) for x in parent}


class Dedup(Stage):
    name: ClassVar[str] = "dedup"
    Config = DedupConfig
    global_stage: ClassVar[bool] = True

    def output_columns(self) -> dict[str, pa.DataType]:
        return {"dup_cluster": pa.string(), "dup_cluster_size": pa.int32()}

    def describe(self) -> str:
        bands, rows = self.band_parameters()
        parts = ["exact"] if self.config.exact else []
        if self.config.near:
            parts.append(f"MinHash {self.config.num_perm} perms, {bands} bands x {rows} rows "
                         f"(Jaccard >= {self.config.threshold})")
        return " + ".join(parts)

    def band_parameters(self) -> tuple[int, int]:
        from curate.dedup.lsh import optimal_bands

        cfg = self.config
        if cfg.bands and cfg.rows:
            return cfg.bands, cfg.rows
        return optimal_bands(cfg.threshold, cfg.num_perm)

    # ----------------------------------------------------------------- pass 1: keys per document

    def keys(self, batch: pa.Table) -> pa.Table:
        """(id, key, kind, length, score) rows: one exact key and one key per LSH band per document."""
        from curate.dedup.lsh import band_hashes
        from curate.dedup.minhash import MinHasher, normalize_for_dedup, shingles

        batch = batch.filter(alive_mask(batch))
        ids = batch.column("id").to_pylist()
        texts = batch.column("text").to_pylist()
        langs = batch.column("lang").to_pylist() if "lang" in batch.column_names else [None] * len(ids)
        scores = (batch.column("quality_score").to_pylist() if "quality_score" in batch.column_names
                  else [None] * len(ids))
        out: dict[str, list[Any]] = {"id": [], "key": [], "length": [], "score": []}

        def add(doc_id: str, key: str, length: int, score) -> None:
            out["id"].append(doc_id)
            out["key"].append(key)
            out["length"].append(length)
            out["score"].append(score)

        normalized = [normalize_for_dedup(t) for t in texts]
        if self.config.exact:
            for doc_id, norm, text, score in zip(ids, normalized, texts, scores):
                add(doc_id, "x:" + hashlib.sha1(norm.encode()).hexdigest(), len(text), score)
        if self.config.near and ids:
            bands, rows = self.band_parameters()
            hasher = MinHasher(num_perm=self.config.num_perm, seed=self.config.seed)
            grams = [shingles(n, lang, ngram=self.config.ngram, unit=self.config.shingle_unit)
                     for n, lang in zip(normalized, langs)]
            hashes = band_hashes(hasher.signatures(grams), bands, rows)
            for doc_id, row, text, score, g in zip(ids, hashes, texts, scores, grams):
                if not g:
                    continue
                for band, value in enumerate(row.tolist()):
                    add(doc_id, f"b{band}:{value}", len(text), score)
        return pa.table({"id": pa.array(out["id"], pa.string()), "key": pa.array(out["key"], pa.string()),
                         "length": pa.array(out["length"], pa.int64()),
                         "score": pa.array(out["score"], pa.float64())})

    # ----------------------------------------------------------------- the global step

    def run_global(self, ds, stats=None):
        """Dedup the dataset so far; returns the dataset with duplicates marked rejected."""
        import ray

        ds = ds.materialize()
        keys = ds.map_batches(self.keys, batch_format="pyarrow", batch_size=self.config.resources.batch_size)

        def bucket_edges(group: pa.Table) -> pa.Table:
            ids = sorted(set(group.column("id").to_pylist()))
            exact = group.column("key")[0].as_py().startswith("x:")
            if len(ids) < 2:
                return pa.table({"a": pa.array([], pa.string()), "b": pa.array([], pa.string()),
                                 "exact": pa.array([], pa.bool_())})
            return pa.table({"a": [ids[0]] * (len(ids) - 1), "b": ids[1:], "exact": [exact] * (len(ids) - 1)})

        edges = keys.groupby("key").map_groups(bucket_edges, batch_format="pyarrow").take_all()
        exact_pairs = {(e["a"], e["b"]) for e in edges if e["exact"]}
        roots = _union_find([(e["a"], e["b"]) for e in edges])
        members: dict[str, list[str]] = {}
        for doc_id, root in roots.items():
            members.setdefault(root, []).append(doc_id)
        facts: dict[str, tuple[int, float | None]] = {}
        if members:
            wanted = set(roots)
            for row in keys.filter(lambda r: r["id"] in wanted).select_columns(["id", "length", "score"]).take_all():
                facts[row["id"]] = (row["length"], row["score"])
        exact_ids = {b for _, b in exact_pairs}
        decisions: dict[str, tuple[str, int, str | None, str | None]] = {}  # id -> cluster, size, reason, kept
        for root, ids in members.items():
            def rank(doc_id: str) -> tuple:
                length, score = facts.get(doc_id, (0, None))
                return (-(score if score is not None else -np.inf), -length, doc_id)

            kept = min(ids, key=rank)
            for doc_id in ids:
                if doc_id == kept:
                    decisions[doc_id] = (root, len(ids), None, None)
                else:
                    reason = "exact_duplicate" if doc_id in exact_ids or (kept, doc_id) in exact_pairs else "near_duplicate"
                    decisions[doc_id] = (root, len(ids), reason, kept)
        if stats is not None:  # the edge list is the only corpus-sized thing on the driver: report it
            now = time.time()
            stats.record.remote(self.key, {"start": now, "end": now, "candidate_edges": len(edges),
                                           "clusters": len(members)})
        decisions_ref = ray.put(decisions)
        key = self.key

        def mark(batch: pa.Table) -> pa.Table:
            from curate.engine import _report

            start = time.time()
            table = ray.get(decisions_ref) if isinstance(decisions_ref, ray.ObjectRef) else decisions_ref
            ids = batch.column("id").to_pylist()
            alive = np.asarray(alive_mask(batch).to_numpy(zero_copy_only=False), dtype=bool)
            found = [table.get(i) if a else None for i, a in zip(ids, alive)]
            reject = np.array([f is not None and f[2] is not None for f in found], dtype=bool)
            batch = reject_rows(batch, reject, key, [f[2] if f else None for f in found],
                                [f"duplicate of {f[3]}" if f and f[3] else None for f in found])
            batch = set_column(batch, "dup_cluster", pa.array([f[0] if f else None for f in found], pa.string()))
            batch = set_column(batch, "dup_cluster_size", pa.array([f[1] if f else None for f in found], pa.int32()))
            n_alive = int(alive.sum())
            _report(stats, key, start, docs_in=n_alive, docs_out=n_alive - int(reject.sum()), rejected=int(reject.sum()),
                    bytes_in=text_bytes(batch.filter(pa.array(alive))),
                    bytes_out=text_bytes(batch.filter(alive_mask(batch))), seconds=time.time() - start)
            return batch

        return ds.map_batches(mark, batch_format="pyarrow", batch_size=None)

    def process(self, batch: pa.Table) -> pa.Table:  # pragma: no cover - global stage
        raise RuntimeError("dedup is a global stage: the engine calls run_global()")
