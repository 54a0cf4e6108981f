"""Steps 1-4 of distributed dedup on a Ray Dataset (see :mod:`curate.stages.dedup` for the
stage): sketch every live document, bucket by exact key and LSH band, verify the candidate
pairs, and cluster them. Every step is a Ray Data map or a shuffle (:mod:`curate.dedup.shuffle`);
the driver only ever holds the verified edge list."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.dedup.clusters import DocFacts, decide, kept_not_longest
from curate.dedup.lookup import DecisionTable
from curate.ids import id_of_key, row_keys
from curate.runtime.memory import task_memory_bytes, working_bytes
from curate.schema import alive_mask

if TYPE_CHECKING:
    from curate.dedup.sketch import Sketches
    from curate.stages.dedup import DedupConfig

#: Memory a reduce allocates per byte of its input pieces, measured on generated corpora
#: (benchmarks/dedup_scale.py) and rounded up: bucketing sorts and copies its (key, id) rows and
#: builds the bucketed ids in Python; the joins filter the documents first (1.3-1.5x measured);
#: the graph steps (star rounds, clusters, decisions) are polars and per-cluster Python.
REDUCE_BYTES_PER_INPUT_BYTE = {"bucket_edges": 5.0, "attach": 2.0, "graph": 4.0}
#: A shuffle partition's sketch bytes are sized so the documents' reduce fits its working memory:
#: its pieces (restored from the object store) once, plus what the join allocates.
PARTITION_BYTES_PER_SKETCH_BYTE = 1 + REDUCE_BYTES_PER_INPUT_BYTE["attach"]
#: A split task holds its blocks, the prepared (exploded) rows and their reordered copy.
SPLIT_BYTES_PER_INPUT_BYTE = 4.0

#: Buckets up to this size emit every pair (so one dissimilar member cannot hide a true pair
#: behind a failed star edge); larger buckets emit a star from their smallest id.
ALL_PAIRS_BUCKET = 8

_EDGE_SCHEMA = pa.schema([("a", pa.string()), ("b", pa.string()), ("exact", pa.bool_())])
#: Per-document facts the keep policy compares, carried through verification with each end.
_FACTS = ("length", "quality_score", "fetch_date")
_VERIFIED_SCHEMA = pa.schema([("a", pa.string()), ("b", pa.string()), ("exact", pa.bool_()),
                              ("similarity", pa.float64()),
                              *[(f"{name}_{side}", t) for side in "ab"
                                for name, t in (("length", pa.int64()), ("quality_score", pa.float64()),
                                                ("fetch_date", pa.string()))]])


class DuplicateSearch:
    """The dedup algorithm for one config; :meth:`decisions` runs it on a dataset."""

    def __init__(self, config: DedupConfig) -> None:
        self.config = config
        self._bands: tuple[int, int] | None = None

    def band_parameters(self) -> tuple[int, int]:
        """(bands, rows): the config's, or chosen from the threshold once (the search travels to the
        sketch tasks with its answer, so they need not import the parameter search)."""
        from curate.dedup.lsh import optimal_bands

        cfg = self.config
        if cfg.bands and cfg.rows:
            return cfg.bands, cfg.rows
        if self._bands is None:
            fp_weight = cfg.false_positive_weight or (0.5 if cfg.verify == "none" else 0.1)
            self._bands = optimal_bands(cfg.threshold, cfg.num_perm, fp_weight, 1.0 - fp_weight)
        return self._bands

    def sketcher(self):
        from curate.dedup.sketch import Sketcher

        cfg = self.config
        return Sketcher(num_perm=cfg.num_perm, seed=cfg.seed, ngram=cfg.ngram, unit=cfg.shingle_unit,
                        hash_function=cfg.hash_function, lowercase=cfg.lowercase,
                        strip_punctuation=cfg.strip_punctuation, normalize_digits=cfg.normalize_digits,
                        unicode_form=cfg.unicode_form)

    # ----------------------------------------------------------------- 1. sketch

    def sketch(self, batch: pa.Table) -> pa.Table:
        """One row per live document: id, facts for the keep policy, its bucket keys, and the
        verification payload (sorted shingle hashes or the signature, as bytes)."""
        cfg = self.config
        batch = batch.filter(alive_mask(batch))
        texts = batch.column("text").to_pylist()
        langs = batch.column("lang").to_pylist() if "lang" in batch.column_names else None
        sketches = self.sketcher().sketch(texts, langs, with_shingle_sets=cfg.near and cfg.verify == "jaccard")
        keys = self.bucket_keys(sketches)
        if cfg.near and cfg.verify == "jaccard":
            payload = [s.astype("<u8").tobytes() for s in sketches.shingle_sets]
        elif cfg.near and cfg.verify == "signature":
            payload = [row.tobytes() for row in sketches.signatures]
        else:
            payload = [b""] * len(texts)
        score = (batch.column("quality_score").cast(pa.float64()) if "quality_score" in batch.column_names
                 else pa.nulls(len(texts), pa.float64()))
        return pa.table({
            "id": pa.array(row_keys(batch), pa.string()),  # unique by construction, unlike ids alone
            "length": pc.utf8_length(batch.column("text")).cast(pa.int64()),  # code points, as len(str)
            "quality_score": score,
            "fetch_date": batch.column("fetch_date").cast(pa.string()),
            "keys": keys,
            "payload": pa.array(payload, pa.binary()),
        })

    def bucket_keys(self, sketches: Sketches) -> pa.ListArray:
        """Each document's bucket keys, built over Arrow buffers (no per-document Python): ``b"x"``
        + its 16-byte content hash (exact duplicates) and one 8-byte little-endian hash per LSH
        band; none for a document without shingles (an empty normalised text duplicates nothing)."""
        from curate.dedup.lsh import band_hashes

        cfg = self.config
        has = sketches.n_shingles > 0
        count = int(has.sum())
        docs = slice(None) if count == len(has) else np.flatnonzero(has)  # a slice: no copy
        bands = self.band_parameters()[0] if cfg.near else 0
        widths = np.array(([17] if cfg.exact else []) + [8] * bands, np.int64)
        # Every document's keys side by side in one row of bytes, written in place (no stacking).
        values = np.empty((count, int(widths.sum())), np.uint8)
        if cfg.exact:
            values[:, 0] = ord("x")
            values[:, 1:17] = np.frombuffer(b"".join(sketches.content_keys), np.uint8).reshape(-1, 16)[docs]
        if cfg.near:
            band_view = values[:, values.shape[1] - 8 * bands:].view("<u8")
            if count == len(has):
                band_hashes(sketches.signatures, *self.band_parameters(), out=band_view)  # straight into place
            else:
                band_view[:] = band_hashes(sketches.signatures, *self.band_parameters())[docs]
        keys_per_doc = len(widths)
        binary_type, offsets = _key_offsets(count, tuple(widths.tolist()))
        flat = pa.Array.from_buffers(binary_type, count * keys_per_doc, [None, offsets, pa.py_buffer(values.reshape(-1))])
        if count == len(has):
            per_doc = _list_offsets(count, keys_per_doc)
        else:
            per_doc = pa.array(np.concatenate([[0], np.cumsum(np.where(has, keys_per_doc, 0))]).astype(np.int32))
        return pa.ListArray.from_arrays(per_doc, flat)

    # ----------------------------------------------------------------- 2. bucket

    @staticmethod
    def explode_keys(sketches: pa.Table) -> pa.Table:
        """(key, id): one row per bucket key of each document.

        ``id`` is dictionary-encoded over the block's ids (indices = the key's document), so no
        id string is copied here or when the shuffle reorders rows: a document has one row per
        key (10 with 9 bands), and only the few ids that land in a bucket of two or more are
        ever decoded (in ``bucket_edges``)."""
        keys = sketches.column("keys")
        parents = _one_array(pc.list_parent_indices(keys))  # int64 positions in the block: valid by construction
        return pa.table({"key": pc.list_flatten(keys),
                         "id": pa.DictionaryArray.from_arrays(parents, _one_array(sketches.column("id")), safe=False)})

    @staticmethod
    def documents(sketches: pa.Table) -> pa.Table:
        return sketches.drop_columns(["keys"])

    @staticmethod
    def bucket_edges(keys: pa.Table) -> pa.Table:
        """Candidate edges of every bucket in one partition of (key, id) rows.

        Sorted by key, buckets are runs; only runs of two or more rows (a small share of a
        partition) reach Python. A hash aggregation with per-group lists measured ~10x the
        memory on a partition of a million keys.
        """
        n = keys.num_rows
        if n < 2:
            return _EDGE_SCHEMA.empty_table()
        order = pc.sort_indices(keys.column("key"))
        column = keys.column("key").take(order)
        same_as_previous = np.zeros(n, dtype=bool)
        same_as_previous[1:] = pc.equal(column.slice(1), column.slice(0, n - 1)).to_numpy(zero_copy_only=False)
        run = np.cumsum(~same_as_previous) - 1
        in_bucket = np.bincount(run)[run] > 1
        if not in_bucket.any():
            return _EDGE_SCHEMA.empty_table()
        chosen = pa.array(in_bucket)
        a: list[str] = []
        b: list[str] = []
        exact: list[bool] = []
        bucket_keys = column.filter(chosen).to_pylist()
        bucket_ids = _values_at(keys.column("id"), order.filter(chosen).to_numpy())  # decodes these ids only
        starts = [i for i in range(len(bucket_keys)) if i == 0 or bucket_keys[i] != bucket_keys[i - 1]]
        for start, end in zip(starts, [*starts[1:], len(bucket_keys)]):
            ids = sorted(set(bucket_ids[start:end]))
            if len(ids) < 2:
                continue
            if len(ids) <= ALL_PAIRS_BUCKET:
                pairs = [(x, y) for i, x in enumerate(ids) for y in ids[i + 1 :]]
            else:
                pairs = [(ids[0], y) for y in ids[1:]]
            a += [x for x, _ in pairs]
            b += [y for _, y in pairs]
            exact += [len(bucket_keys[start]) == 17] * len(pairs)  # b"x" + 16-byte hash; band keys: 8 bytes
        return pa.table({"a": a, "b": b, "exact": exact}, schema=_EDGE_SCHEMA)

    # ----------------------------------------------------------------- 3. verify

    @staticmethod
    def attach_first_end(edges: pa.Table, docs: pa.Table) -> pa.Table:
        """One partition by ``a``: distinct edges (exact wins) with ``a``'s facts and payload."""
        edges = edges.group_by(["a", "b"], use_threads=False).aggregate([("exact", "max")]).rename_columns(["a", "b", "exact"])
        ends = _ends(docs, edges.column("a")).rename_columns([("a" if c == "id" else f"{c}_a") for c in docs.column_names])
        return edges.join(ends, keys="a", join_type="inner")

    def attach_second_end(self, edges: pa.Table, docs: pa.Table) -> pa.Table:
        """One partition by ``b``: ``b``'s facts and each edge's similarity; payloads dropped."""
        ends = _ends(docs, edges.column("b")).rename_columns([("b" if c == "id" else f"{c}_b") for c in docs.column_names])
        joined = edges.join(ends, keys="b", join_type="inner")
        exact = np.asarray(joined.column("exact").to_numpy(zero_copy_only=False), dtype=bool)
        sims = np.ones(joined.num_rows)
        if self.config.verify != "none":
            payload_a, payload_b = joined.column("payload_a"), joined.column("payload_b")
            for i in np.flatnonzero(~exact).tolist():
                sims[i] = self.similarity(payload_a[i].as_py(), payload_b[i].as_py())
        joined = joined.append_column("similarity", pa.array(sims))
        return joined.select(_VERIFIED_SCHEMA.names).cast(_VERIFIED_SCHEMA)

    def similarity(self, payload_a: bytes, payload_b: bytes) -> float:
        """True Jaccard of two sorted shingle-hash sets, or the share of equal signature values."""
        if self.config.verify == "jaccard":
            a, b = np.frombuffer(payload_a, dtype="<u8"), np.frombuffer(payload_b, dtype="<u8")
            inter = len(np.intersect1d(a, b, assume_unique=True))
            union = len(a) + len(b) - inter
            return inter / union if union else 1.0
        dtype = np.uint32 if len(payload_a) == 4 * self.config.num_perm else np.uint64
        return float(np.mean(np.frombuffer(payload_a, dtype) == np.frombuffer(payload_b, dtype)))

    # ----------------------------------------------------------------- 1-4 on a dataset

    def decisions(self, ds, cores: float | None = None, index_dir: Path | None = None,
                  ) -> tuple[DecisionTable, dict[str, int]]:
        """(decision per clustered row key: cluster id, cluster size, reject reason or None, kept
        id; counts for the run summary, with the shuffle partitions used). The sketches of the
        indexes ``index.read`` names join this run's (:mod:`curate.dedup.index`); with
        ``index_dir`` this run's sketches are kept there as its own index."""
        from curate.runtime.local import LocalDataset

        cfg = self.config
        self.band_parameters()  # chosen here, once
        if isinstance(ds, LocalDataset):  # the in-process executor: one machine, no shuffle
            tables = [t for t in ds.map_tables(self.sketch, cfg.resources.batch_size) if t.num_rows]
            return self._in_one_pass(pa.concat_tables(tables) if tables else None, index_dir)
        import ray

        from curate.dedup.shuffle import ShuffleInput, shuffle_reduce

        options = cfg.resources.ray_options()  # every task this stage starts
        sketches = ds.map_batches(self.sketch, batch_format="pyarrow", batch_size=cfg.resources.batch_size,
                                  **options).materialize()
        blocks = sketches.to_arrow_refs()
        size = sketches.size_bytes()
        if not cfg.shuffle_partitions and size + self._index_bytes(size, sketches) <= cfg.single_pass_mb * 2**20:
            return self._in_one_pass(pa.concat_tables(ray.get(blocks)) if blocks else None, index_dir)
        # Partitions sized from the memory a task may use, so what one shuffle task holds does not
        # grow with the corpus; a reduce that still comes out larger splits itself (shuffle.py).
        cores = cores if cores is not None else ray.cluster_resources().get("CPU", 2)
        working = working_bytes(task_memory_bytes(cfg.resources.cpus, cfg.resources.memory_gb))
        per_partition = cfg.partition_mb * 2**20 if cfg.partition_mb else working / PARTITION_BYTES_PER_SKETCH_BYTE
        partitions = cfg.shuffle_partitions or max(2, int(cores), math.ceil(size / per_partition))
        per_split = max(1, int(working / SPLIT_BYTES_PER_INPUT_BYTE / max(1, size / max(1, len(blocks)))))
        sized = {"task_options": options, "working_bytes": working}
        earlier, index_documents = self._earlier_blocks(blocks, options) if blocks and cfg.index.read else ([], 0)
        if earlier:  # the index's sketches are shuffled with ours: they count toward the partitions
            partitions = cfg.shuffle_partitions or max(partitions, math.ceil((size + _object_bytes(earlier)) / per_partition))
        facts = {"shuffle_partitions": partitions, "task_working_mb": working // 2**20}
        inputs = [*blocks, *earlier]
        if blocks:
            edges = shuffle_reduce(self.bucket_edges, partitions, ShuffleInput(inputs, "key", self.explode_keys, blocks_per_task=per_split),
                                   bytes_per_input_byte=REDUCE_BYTES_PER_INPUT_BYTE["bucket_edges"], **sized)
            documents = ShuffleInput(inputs, "id", self.documents, blocks_per_task=per_split)
            first = shuffle_reduce(self.attach_first_end, partitions, ShuffleInput(edges, "a"), documents,
                                   bytes_per_input_byte=REDUCE_BYTES_PER_INPUT_BYTE["attach"], **sized)
            second = shuffle_reduce(self.attach_second_end, partitions, ShuffleInput(first, "b"), documents,
                                    bytes_per_input_byte=REDUCE_BYTES_PER_INPUT_BYTE["attach"], **sized)
            if not earlier and _object_bytes(second) > cfg.driver_edges_mb * 2**20:
                decisions, summary = self._decide_on_ray(second, partitions, sized)
            else:
                verified = pa.concat_tables(ray.get(second))  # the edge list: the only thing on the driver
                before = _earlier_ids_among(verified, earlier, options) if earlier else None
                decisions, summary = self._decide(verified, before, index_documents)
        else:
            decisions, summary = self._decide(None)
        if index_dir is not None:
            self._keep_index_on_ray(index_dir, blocks, decisions, per_split, options)
        return decisions, {**facts, **summary}

    def _index_bytes(self, size: int, sketches) -> int:
        """The sketch bytes of the indexes to read, estimated from their document counts at this
        run's bytes per document: a small new batch against a large index is not small."""
        from curate.dedup.index import indexed_documents

        if not self.config.index.read:
            return 0
        return int(indexed_documents(self.config.index.read) * size / max(1, sketches.count()))

    def _earlier_blocks(self, blocks: list[Any], options: dict[str, Any]) -> tuple[list[Any], int]:
        """The sketches of the indexes ``index.read`` names, one object per index file, read by
        Ray tasks (never on the driver) less this run's own documents; and how many there are."""
        import ray

        from curate.dedup.index import index_parts, read_part

        ids = ray.get([ray.remote(_ids).options(**options).remote(block) for block in blocks])
        current_keys = ray.put(pa.concat_arrays(ids))  # row keys only: tens of bytes a document
        schema = ray.get(blocks[0]).schema

        def read(file: Path, keys: pa.Array) -> tuple[pa.Table, int]:
            table = read_part(file, schema, keys)
            return table, table.num_rows

        reader = ray.remote(read).options(**options, num_returns=2)
        parts = [reader.remote(file, current_keys) for file in index_parts(self.config.index.read)]
        return [table for table, _ in parts], sum(ray.get([rows for _, rows in parts]))

    def _keep_index_on_ray(self, index_dir: Path, blocks: list[Any], decisions: DecisionTable, per_task: int,
                           options: dict[str, Any]) -> None:
        """This run's sketches as its index, one file per ``per_task`` blocks, written by the
        tasks that hold them (the driver only counts)."""
        import ray

        from curate.dedup.index import fingerprint, write_meta

        shared = ray.put(decisions)
        writer = ray.remote(_keep_part).options(**options)
        groups = [blocks[i: i + per_task] for i in range(0, len(blocks), per_task)]
        written = ray.get([writer.remote(index_dir, number, shared, *group) for number, group in enumerate(groups)])
        write_meta(index_dir, sum(written), fingerprint(self.config, *self.band_parameters()))

    def _decide_on_ray(self, verified: list[Any], partitions: int, sized: dict[str, Any],
                       ) -> tuple[DecisionTable, dict[str, int]]:
        """:meth:`_decide` for an edge list past ``driver_edges_mb``, in Ray tasks
        (:mod:`curate.dedup.components`): the same decisions, without the edges on the driver."""
        import ray

        from curate.dedup.components import accepted_edges, decide_clusters, star_forest, with_cluster
        from curate.dedup.shuffle import ShuffleInput, shuffle_reduce

        cfg = self.config
        accept = ray.remote(accepted_edges).options(**sized["task_options"], num_returns=3)
        accepted = [accept.remote(part, cfg.threshold, cfg.verify) for part in verified]
        edges = [table for table, _, _ in accepted]
        counts = list(zip(ray.get([pairs for _, pairs, _ in accepted]), ray.get([down for _, _, down in accepted])))
        summary = {"index_documents": 0, "duplicates_of_earlier": 0,
                   "candidate_edges": sum(pairs for pairs, _ in counts),
                   "false_positive_edges": sum(down for _, down in counts), "clusters": 0, "kept_not_longest": 0}
        graph = {**sized, "bytes_per_input_byte": REDUCE_BYTES_PER_INPUT_BYTE["graph"]}
        stars, rounds = star_forest(edges, partitions, **graph)
        clustered = shuffle_reduce(with_cluster, partitions, ShuffleInput(edges, "a"), ShuffleInput(stars, "u"), **graph)
        decided = shuffle_reduce(decide_clusters, partitions, ShuffleInput(clustered, "cluster"), **graph,
                                 num_returns=3, keep_by=list(cfg.keep_by))
        # Only the decision rows reach the driver, as Arrow columns (no Python object per row).
        decisions = DecisionTable.from_rows(pa.concat_tables(ray.get([table for table, _, _ in decided])))
        summary.update(clusters=sum(ray.get([n for _, _, n in decided])),
                       kept_not_longest=sum(ray.get([n for _, n, _ in decided])), cluster_rounds=rounds)
        return decisions, summary

    def _in_one_pass(self, current: pa.Table | None, index_dir: Path | None) -> tuple[DecisionTable, dict[str, int]]:
        from curate.dedup.index import fingerprint, read_indexes, write_meta

        earlier = None
        if current is not None and self.config.index.read:
            earlier = read_indexes(self.config.index.read, current.schema, current.column("id").combine_chunks())
        both = pa.concat_tables([current, earlier]) if earlier is not None else current
        before = set(earlier.column("id").to_pylist()) if earlier is not None else None
        decisions, summary = self._decide(self.single_pass(both) if both is not None else None, before,
                                          earlier.num_rows if earlier is not None else 0)
        if index_dir is not None:
            written = _keep_part(index_dir, 0, decisions, current) if current is not None else 0
            write_meta(index_dir, written, fingerprint(self.config, *self.band_parameters()))
        return decisions, {"shuffle_partitions": 0, **summary}

    def single_pass(self, sketches: pa.Table) -> pa.Table:
        """Steps 2-3 over all the sketches at once: the shuffle's reduce functions with the whole
        corpus as their one partition, so the verified edges are the shuffle's."""
        docs = self.documents(sketches)
        first = self.attach_first_end(self.bucket_edges(self.explode_keys(sketches)), docs)
        return self.attach_second_end(first, docs)

    def _decide(self, candidates: pa.Table | None, before: set[str] | None = None, index_documents: int = 0,
                ) -> tuple[DecisionTable, dict[str, int]]:
        """Union the verified edges on the driver; the keep policy picks one per cluster. With
        ``before`` (the earlier runs' documents among the edges' ends, when an index was read;
        ``index_documents`` of them in all) only this run's documents get decisions, and the
        counts are of clusters that hold one of them."""
        cfg = self.config
        counts = {"index_documents": index_documents, "duplicates_of_earlier": 0,
                  "cluster_rounds": 0}  # 0: clustered on the driver
        if candidates is None or candidates.num_rows == 0:
            return DecisionTable.from_mapping({}), {"candidate_edges": 0, "false_positive_edges": 0, "clusters": 0,
                                                    "kept_not_longest": 0, **counts}
        rows = candidates.to_pydict()
        edges: dict[tuple[str, str], bool] = {}
        checked: set[tuple[str, str]] = set()
        rejected: set[tuple[str, str]] = set()
        facts: dict[str, DocFacts] = {}
        for i, (a, b, exact, sim) in enumerate(zip(rows["a"], rows["b"], rows["exact"], rows["similarity"])):
            for side, doc_id in (("a", a), ("b", b)):
                facts[doc_id] = DocFacts(rows[f"length_{side}"][i], rows[f"quality_score_{side}"][i],
                                         rows[f"fetch_date_{side}"][i])
            pair = (a, b)
            if exact:
                edges[pair] = True
                continue
            checked.add(pair)
            if sim >= cfg.threshold or cfg.verify == "none":
                edges.setdefault(pair, False)
            else:
                rejected.add(pair)
        earlier, before = before is not None, before or set()
        decisions = decide([(a, b, exact) for (a, b), exact in edges.items()], facts, cfg.keep_by,
                           preferred=before if cfg.index.prefer == "earlier" else frozenset())
        if earlier:  # the earlier documents are published: only ours are decided
            counts["duplicates_of_earlier"] = sum(d.reason is not None and d.kept in before
                                                  for k, d in decisions.items() if k not in before)
            ours = {d.cluster for k, d in decisions.items() if k not in before}
            decisions = {k: d for k, d in decisions.items() if d.cluster in ours}
            checked = {pair for pair in checked if pair[0] not in before or pair[1] not in before}
            rejected = {pair for pair in rejected if pair[0] not in before or pair[1] not in before}
            edges = {pair: e for pair, e in edges.items() if pair[0] not in before or pair[1] not in before}
        table = {key: (id_of_key(d.cluster), d.cluster_size, d.reason, id_of_key(d.kept))
                 for key, d in decisions.items()}
        summary = {**counts,
            "candidate_edges": len(checked | set(edges)),
            "false_positive_edges": len(rejected - set(edges)),
            "clusters": len({d.cluster for d in decisions.values()}),
            # how often keep_by kept another copy than the longest (issue 23: is keep-best worth it?)
            "kept_not_longest": kept_not_longest(decisions, facts),
        }
        return DecisionTable.from_mapping(table), summary


@lru_cache(maxsize=16)
def _key_offsets(count: int, widths: tuple[int, ...]) -> tuple[pa.DataType, pa.Buffer]:
    """The value offsets of ``count`` documents' keys laid side by side (``widths`` bytes each):
    the same for every full batch, so built once (an Arrow buffer is immutable)."""
    row_width = sum(widths)
    offset_type = np.int32 if count * row_width < 2**31 else np.int64
    offsets = np.empty(count * len(widths) + 1, offset_type)
    starts = np.cumsum(widths) - np.asarray(widths)
    offsets[:-1].reshape(count, len(widths))[:] = np.add.outer(np.arange(count, dtype=offset_type) * row_width,
                                                               starts.astype(offset_type))
    offsets[-1] = count * row_width
    return (pa.binary() if offset_type == np.int32 else pa.large_binary()), pa.py_buffer(offsets)


@lru_cache(maxsize=16)
def _list_offsets(count: int, keys_per_doc: int) -> pa.Array:
    return pa.array(np.arange(0, (count + 1) * keys_per_doc, keys_per_doc, dtype=np.int32))


def _ends(docs: pa.Table, ids: pa.ChunkedArray) -> pa.Table:
    """The documents that are an end of some edge: a partition's documents are all of its
    sketches, payloads included, and few of them have a candidate pair. Filtering first keeps
    the join's hash table (built over this side) to those few instead of a copy of them all."""
    return docs.filter(pc.is_in(docs.column("id"), value_set=pc.unique(ids)))


def _values_at(column: pa.ChunkedArray, rows: np.ndarray) -> list:
    """``column.take(rows).to_pylist()``, decoded chunk by chunk: a partition's id column is one
    dictionary chunk per shuffled block, each with its own dictionary, and a take across them
    would first unify every dictionary whole."""
    if column.num_chunks <= 1 or not pa.types.is_dictionary(column.type):
        return column.take(pa.array(rows)).to_pylist()
    rows = rows.astype(np.int64)
    ends = np.cumsum([len(chunk) for chunk in column.chunks], dtype=np.int64)
    which = np.searchsorted(ends, rows, side="right")
    by_chunk = np.argsort(which, kind="stable")  # rows grouped by chunk, then put back in order
    bounds = np.searchsorted(which[by_chunk], np.arange(column.num_chunks + 1))
    decoded = [column.chunk(c).take(pa.array(rows[by_chunk[lo:hi]] - (ends[c] - len(column.chunk(c))))).dictionary_decode()
               for c, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])) if hi > lo]
    back = np.empty(len(rows), np.int64)
    back[by_chunk] = np.arange(len(rows))
    return pa.concat_arrays(decoded).take(pa.array(back)).to_pylist() if decoded else []


def _ids(block: pa.Table) -> pa.Array:
    return _one_array(block.column("id"))


def _keep_part(index_dir: Path, number: int, decisions: DecisionTable, *blocks: pa.Table) -> int:
    """``blocks`` of this run's sketches as one index file, each row with whether it was removed."""
    from curate.dedup.index import write_part

    sketches = pa.concat_tables(blocks) if len(blocks) > 1 else blocks[0]
    removed = pa.array(decisions.removed(sketches.column("id").to_pylist()), pa.bool_())
    return write_part(index_dir, number, sketches, removed)


def _earlier_ids_among(edges: pa.Table, earlier: list[Any], options: dict[str, Any]) -> set[str]:
    """Which ends of ``edges`` are earlier runs' documents: asked of each index object where it
    is, so only the ids in an edge reach the driver."""
    import ray

    if edges.num_rows == 0:
        return set()
    ends = ray.put(pc.unique(pa.concat_arrays([_one_array(edges.column("a")), _one_array(edges.column("b"))])))

    def among(table: pa.Table, wanted: pa.Array) -> pa.Array:
        ids = table.column("id")
        return _one_array(ids.filter(pc.is_in(ids, value_set=wanted))) if table.num_rows else pa.array([], pa.string())

    finder = ray.remote(among).options(**options)
    return {key for found in ray.get([finder.remote(table, ends) for table in earlier]) for key in found.to_pylist()}


def _one_array(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _object_bytes(refs: list[Any]) -> int:
    """Bytes of objects in Ray's object store, from their locations, once they are made (no
    object is fetched)."""
    import ray

    ray.wait(list(refs), num_returns=len(refs), fetch_local=False)
    locations = ray.experimental.get_object_locations(list(refs))
    return sum(int(info.get("object_size") or 0) for info in locations.values())
