"""Exact and MinHash near-duplicate removal across the whole run (a global stage).

Dedup must see every document before it decides: :meth:`Dedup.fit` runs steps 1-4 (the algorithm,
:class:`curate.dedup.search.DuplicateSearch`) on the whole dataset so far and returns the
decisions; :meth:`Dedup.process` (step 5) marks each batch with them. Every step is a Ray Data
map or shuffle; the driver only ever holds the duplicate edge list:

Documents are known by :func:`curate.ids.row_keys` (id + input file), not by id alone: a key
unique by construction, so two records that claim one id are never taken for one document.

1. **Sketch** (map, bounded batches): per live document a normalised content key (exact
   duplicates), a MinHash signature cut into LSH band keys, and, for verification, its sorted
   64-bit shingle hashes (:mod:`curate.dedup.sketch`).
2. **Bucket** (shuffle: group by key): every exact group and LSH bucket with several documents
   emits candidate edges, all pairs in small buckets and a star from the smallest id in large
   ones.
3. **Verify** (two shuffles: join the edges with the sketches on each end): exact edges pass;
   near candidates pass when their true shingle Jaccard (``verify: jaccard``) or the signature
   estimate (``verify: signature``) reaches the threshold. The joins also bring each end's
   length, quality score and fetch date for the keep policy.
   A small corpus (sketches up to ``single_pass_mb``) skips the shuffles: the same bucket and
   join functions run once, on the driver, over all the sketches (a shuffle's tasks and worker
   processes cost seconds that a 20,000-document run does not need to pay).
4. **Cluster** (driver, :mod:`curate.dedup.clusters`): union-find over the verified edges, one
   document kept per cluster by ``keep_by``.
5. **Mark** (per batch, :meth:`Dedup.process`): ``dup_cluster`` / ``dup_cluster_size`` on clustered documents; the others are
   rejected as ``exact_duplicate`` / ``near_duplicate`` with the id of the document they lost to.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from curate.config import StrictModel
from curate.dedup.clusters import DEFAULT_KEEP_BY, KeepCriterion
from curate.dedup.lookup import DecisionTable
from curate.dedup.search import DuplicateSearch
from curate.ids import row_keys
from curate.runtime.memory import release_memory
from curate.schema import reject_rows, set_column
from curate.stage import FitContext, Mode, Resources, Stage, StageConfig


class DedupIndexConfig(StrictModel):
    """``index:``: incremental dedup against earlier runs (:mod:`curate.dedup.index`)."""

    write: bool = Field(default=False, description="Keep this run's dedup index in "
                        "OUTPUT_DIR/artifacts/<stage>/index (committed with the run).")
    read: list[str] = Field(default_factory=list, description="Earlier runs' index folders: this run's "
                            "documents that duplicate theirs are removed; theirs never change.")
    prefer: Literal["earlier", "best"] = Field(
        default="earlier", description="earlier: a cluster with an earlier document keeps it (a new copy is "
        "always removed); best: the decisions of one run over both (keep_by), so a better new copy is kept "
        "beside the earlier one.")


class DedupConfig(StageConfig):
    exact: bool = Field(default=True, description="Remove exact duplicates (normalised content hash).")
    near: bool = Field(default=True, description="Remove near-duplicates with MinHash LSH.")
    threshold: float = Field(default=0.8, gt=0, lt=1, description="Jaccard similarity that counts as a near-duplicate.")
    num_perm: int = Field(default=128, gt=1)
    seed: int = 1
    ngram: int = Field(default=5, gt=0, description="Shingle size (words, or characters for spaceless scripts).")
    shingle_unit: Literal["auto", "word", "char"] = "auto"
    hash_function: Literal["poly64", "sha1"] = Field(
        default="poly64", description="Shingle hash: poly64 (fast span hash) or sha1 (datasketch's default).")
    bands: int | None = Field(default=None, gt=0, description="LSH bands; None: chosen from threshold (printed).")
    false_positive_weight: float | None = Field(
        default=None, gt=0, lt=1,
        description="Weight of LSH false positives when choosing bands/rows (false negatives get 1 - this). "
                    "Default 0.1 with verification (it removes false positives, so favour recall), 0.5 without.")
    rows: int | None = Field(default=None, gt=0)
    verify: Literal["jaccard", "signature", "none"] = Field(
        default="jaccard", description="Check near candidates: true shingle Jaccard, the signature estimate, or not at all.")
    keep_by: list[KeepCriterion] = Field(
        default=list(DEFAULT_KEEP_BY), description="Which document a cluster keeps; the smallest id breaks ties.")
    shuffle_partitions: int | None = Field(
        default=None, gt=0,
        description="Partitions of each shuffle. Default: sized from the memory a task may use (see partition_mb), "
                    "at least the cluster's CPUs.")
    partition_mb: float | None = Field(
        default=None, gt=0,
        description="Sketch megabytes per shuffle partition when shuffle_partitions is unset. Default: from the memory "
                    "one dedup task may use (resources.memory_gb, else the smallest node's Ray memory over the tasks "
                    "it runs at once, capped by the driver's memory cgroup); a reduce that would still exceed it "
                    "splits its partition and works through the parts in turn.")
    single_pass_mb: float = Field(
        default=64, ge=0,
        description="Sketches up to this many megabytes are bucketed and verified in one pass on the driver, "
                    "without shuffle tasks (same decisions); 0 always shuffles. Ignored when shuffle_partitions is set.")
    driver_edges_mb: float = Field(
        default=1024.0, ge=0,
        description="Verified edges (MB) the driver clusters itself with a union-find; past this, Ray tasks find the "
                    "clusters (large-star / small-star rounds) and decide them, and the driver never holds the edges. "
                    "Runs that read an earlier index cluster on the driver.")
    lowercase: bool = True
    strip_punctuation: bool = True
    normalize_digits: bool = True
    unicode_form: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = "NFKC"
    index: DedupIndexConfig = DedupIndexConfig()
    resources: Resources = Resources(batch_size=512)

    @model_validator(mode="after")
    def _bands_and_rows_together(self) -> DedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither (then they are chosen from threshold)")
        if self.bands and self.rows and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        if not (self.exact or self.near):
            raise ValueError("enable exact or near (or remove the dedup stage)")
        return self


class Dedup(Stage):
    name: ClassVar[str] = "dedup"
    Config = DedupConfig
    mode: ClassVar[Mode] = "global"
    fits_in_process: ClassVar[bool] = True
    extra_metrics: ClassVar[dict[str, type]] = {"candidate_edges": int, "false_positive_edges": int, "clusters": int,
                                                 "shuffle_partitions": int, "kept_not_longest": int,
                                                 "index_documents": int, "duplicates_of_earlier": int,
                                                 "cluster_rounds": int, "task_working_mb": int}

    def output_columns(self) -> dict[str, pa.DataType]:
        return {"dup_cluster": pa.string(), "dup_cluster_size": pa.int32()}

    def describe(self) -> str:
        cfg = self.config
        parts = ["exact"] if cfg.exact else []
        if cfg.near:
            bands, rows = self.band_parameters()
            verify = {"jaccard": "true Jaccard", "signature": "signature Jaccard", "none": "no"}[cfg.verify]
            parts.append(f"MinHash {cfg.num_perm} perms, {bands} bands x {rows} rows "
                         f"(Jaccard >= {cfg.threshold}, {verify} verification)")
        return " + ".join(parts)

    # ----------------------------------------------------------------- the global step

    #: The algorithm (a subclass may swap it, e.g. to check what each of its tasks holds).
    search_cls: ClassVar[type[DuplicateSearch]] = DuplicateSearch

    def band_parameters(self) -> tuple[int, int]:
        return self.search_cls(self.config).band_parameters()

    def preflight(self) -> None:
        """Every index to read exists and was made with the options this run sketches with."""
        from curate.dedup.index import check_index, fingerprint

        if self.config.index.read:
            print_ = fingerprint(self.config, *self.band_parameters())
            for path in self.config.index.read:
                check_index(path, print_, self.key)

    def fit(self, ds, ctx: FitContext) -> DecisionTable:
        """Steps 1-4 on the whole dataset (:class:`~curate.dedup.search.DuplicateSearch`); returns
        the decisions per row key."""
        index_dir = ctx.artifacts_dir / "index" if self.config.index.write and ctx.artifacts_dir else None
        decisions, summary = self.search_cls(self.config).decisions(ds, cores=ctx.cores, index_dir=index_dir)
        ctx.report(**summary)
        release_memory()  # the driver's edges and union-find, back to the OS before the pass
        return decisions  # an Arrow table every worker maps, not a dict each unpickles

    def process(self, batch: pa.Table) -> pa.Table:
        """Cluster columns on every clustered document, rejects for the copies not kept."""
        found = self.state.lookup(row_keys(batch))
        reject = np.array([f is not None and f[2] is not None for f in found], dtype=bool)
        batch = reject_rows(batch, reject, self.key, [f[2] if f else None for f in found],
                            [f"duplicate of {f[3]}" if f and f[2] else None for f in found])
        batch = set_column(batch, "dup_cluster", pa.array([f[0] if f else None for f in found], pa.string()))
        return set_column(batch, "dup_cluster_size", pa.array([f[1] if f else None for f in found], pa.int32()))
