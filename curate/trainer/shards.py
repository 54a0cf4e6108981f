"""Trainer shards from a run's ``tokens/``: mixture, seeded global shuffle, train/validation split,
optional packing, zstd Parquet shards and a manifest, built by Ray tasks.

* **Mixture**: ``mixture`` weights per domain (or ``domain/lang``; ``*`` for the rest) and an
  optional ``target_tokens``. With ``r`` = a group's target tokens over its natural tokens, every
  document is repeated ``floor(r)`` times, then documents in a seeded order get one more copy
  while that brings the group closer to its target, so each group lands within half a document
  of its share. The achieved mixture is written next to the requested one.
* **Split** by document (a seeded hash of the id): a document and all its repeats are either
  train or validation.
* **Order**: each (document, repeat) gets a seeded 64-bit order key from its id and repeat
  number; the shards hold the picks in key order (ties, only from equal 64-bit id hashes, by
  id). Nothing depends on the number of workers or on how ``tokens/`` was partitioned.
* **Shards**: a split's key range is cut into ``ceil(split tokens / tokens_per_shard)`` equal
  ranges (buckets); bucket ``b`` becomes shard ``b`` (empty buckets are skipped), so reading the
  shards in name order gives the global order.
* **Packing** (``seq_len``): each shard packs its own documents into ``seq_len + 1``-token rows
  with ``doc_lens`` (:mod:`curate.trainer.packing`), so no document continues across shards and
  every shard ends with its own last partial row, dropped, padded or kept short per ``last``
  (with shards of ~``tokens_per_shard`` tokens that is at most ``seq_len`` tokens per shard).
  Without ``seq_len``, one row per document.

How it runs (the driver never holds token rows): one Ray task per ``tokens/`` file returns
compact facts per document (64-bit id hash, length, group: 14 bytes; ~20 with the repeat count
and split the driver adds, plus transient planning arrays); the driver plans the repeat
counts and the bucket sizes from them; then the hash shuffle of :mod:`curate.dedup.shuffle`, as a
range partition: a map task per file routes every picked (document, repeat) to its bucket by
order key, and a reduce task per non-empty bucket sorts it by key, packs it and writes its shard.
A map task holds one input file, a reduce task one bucket (~``tokens_per_shard`` tokens). The
buckets go through the shuffle in waves that fit the object store (each wave reads ``tokens/``
again), so the picks in flight never exceed it; the wave size changes no byte of the output.
Ray's object refs grow as files x buckets per wave: very large runs want larger shards.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.config import ShardsConfig
from curate.outputs.parquet import file_sha256
from curate.trainer.formats import TrainerFormat, format_named
from curate.trainer.formats.base import ShardContent
from curate.trainer.formats.parquet import ParquetFormat
from curate.trainer.packing import pack_flat
from curate.trainer.provenance import write_provenance

SPLITS = ("train", "validation")


# ------------------------------------------------------------------------- seeded keys


def id_hashes(ids: list[str]) -> np.ndarray:
    """A 64-bit hash of every id, the same in any process and library version."""
    return np.fromiter((int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8).digest(), "little") for i in ids),
                       dtype=np.uint64, count=len(ids))


def _salt(seed: int, name: str, repeat: int = 0) -> np.uint64:
    digest = hashlib.blake2b(f"{seed}\x00{name}\x00{repeat}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def seeded_keys(hashes: np.ndarray, seed: int, name: str, repeat: int | np.ndarray = 0) -> np.ndarray:
    """Uniform 64-bit keys of (id, ``name``, ``repeat``) for a seed: splitmix64 of the id hash
    xor a salt. ``repeat`` may be one number or one per hash."""
    if isinstance(repeat, np.ndarray):
        salts = np.array([_salt(seed, name, k) for k in range(int(repeat.max(initial=0)) + 1)], dtype=np.uint64)
        x = hashes ^ salts[repeat]
    else:
        x = hashes ^ _salt(seed, name, repeat)
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def in_validation(hashes: np.ndarray, cfg: ShardsConfig) -> np.ndarray:
    threshold = np.uint64(min(int(cfg.validation * 2**64), 2**64 - 1))
    return seeded_keys(hashes, cfg.seed, "split") < threshold


def bucket_of(keys: np.ndarray, buckets: int) -> np.ndarray:
    """Bucket of every order key: ``buckets`` contiguous, equal ranges of the 64-bit key space."""
    return ((keys >> np.uint64(32)) * np.uint64(buckets) >> np.uint64(32)).astype(np.int64)


def slot_of(keys: np.ndarray, validation: np.ndarray, buckets: dict[str, int]) -> np.ndarray:
    """(split, bucket) of every pick as one number: train buckets first, then validation's."""
    slot = np.zeros(len(keys), dtype=np.int64)
    for s, name in enumerate(SPLITS):
        mask = validation == bool(s)
        if buckets[name] and mask.any():
            slot[mask] = s * buckets["train"] + bucket_of(keys[mask], buckets[name])
    return slot


# ------------------------------------------------------------------------- the plan


def group_of(domain: str, lang: str | None, mixture: dict[str, float]) -> str:
    key = f"{domain}/{lang}"
    if key in mixture:
        return key
    if domain in mixture:
        return domain
    return "*" if "*" in mixture else domain


def greedy_extra(lengths: np.ndarray, remaining: float) -> np.ndarray:
    """Which documents (lengths in their seeded order) get one more copy: take each while the
    group still misses tokens and the document at most doubles what is missing, i.e. while it
    brings the group closer to its target. Vectorised over runs of taken documents."""
    lengths = np.asarray(lengths, dtype=np.int64)
    taken = np.zeros(len(lengths), dtype=bool)
    at, window = 0, 1 << 16
    while remaining > 0 and at < len(lengths):
        chunk = lengths[at : at + window]
        before = np.concatenate([[0], np.cumsum(chunk)[:-1]])
        left = remaining - before
        stop = np.flatnonzero((left <= 0) | (chunk > 2 * left))
        run = int(stop[0]) if len(stop) else len(chunk)
        taken[at : at + run] = True
        remaining -= float(before[run]) if run < len(chunk) else float(before[-1] + chunk[-1])
        at += run
        if run == len(chunk) or remaining <= 0:
            continue
        # lengths[at] is too long for what is missing: jump to the next one that is short enough
        fits = np.flatnonzero(lengths[at + 1 : at + 1 + window] <= 2 * remaining)
        at += 1 + (int(fits[0]) if len(fits) else window)
    return taken


def plan_repeats(hashes: np.ndarray, lengths: np.ndarray, codes: np.ndarray, groups: list[str],
                 cfg: ShardsConfig) -> tuple[np.ndarray, dict]:
    """Copies of every document in the mixture, and the requested/achieved mixture per group."""
    natural_counts = np.bincount(codes, weights=lengths, minlength=len(groups)) if len(codes) else np.zeros(len(groups))
    natural = {g: int(round(n)) for g, n in zip(groups, natural_counts)}
    total = sum(natural.values())
    if cfg.mixture:
        weights = {g: cfg.mixture.get(g, 0.0) for g in natural}
        wsum = sum(weights.values()) or 1.0
        target_total = cfg.target_tokens or total
        targets = {g: target_total * w / wsum for g, w in weights.items()}
    else:
        scale = (cfg.target_tokens or total) / max(total, 1)
        targets = {g: n * scale for g, n in natural.items()}
    repeats = np.zeros(len(codes), dtype=np.uint32)
    extra_keys = seeded_keys(hashes, cfg.seed, "extra")
    for code, g in enumerate(groups):
        if not natural[g]:
            continue
        whole = math.floor(targets[g] / natural[g])
        members = np.flatnonzero(codes == code)
        repeats[members] = whole
        remaining = targets[g] - whole * natural[g]
        if remaining > 0:
            ordered = members[np.argsort(extra_keys[members], kind="stable")]
            repeats[ordered[greedy_extra(lengths[ordered], remaining)]] += 1
    achieved_counts = (np.bincount(codes, weights=lengths.astype(np.float64) * repeats, minlength=len(groups))
                       if len(codes) else natural_counts)
    achieved = {g: int(round(n)) for g, n in zip(groups, achieved_counts)}
    got = sum(achieved.values()) or 1
    mixture = {g: {"requested_tokens": round(targets[g]), "natural_tokens": natural[g], "tokens": achieved[g],
                   "share": achieved[g] / got,
                   "requested_share": targets[g] / (sum(targets.values()) or 1)} for g in sorted(natural)}
    return repeats, mixture


# ------------------------------------------------------------------------- Ray tasks


def document_facts(path: str, mixture: dict[str, float]) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """(id hashes, lengths, group names, group code per document) of one ``tokens/`` file."""
    present = pq.read_schema(path).names
    table = pq.read_table(path, columns=[c for c in ("id", "domain", "lang", "input_ids") if c in present])
    lengths = pc.list_value_length(table.column("input_ids")).to_numpy(zero_copy_only=False).astype(np.uint32)
    domains = table.column("domain").to_pylist()
    langs = table.column("lang").to_pylist() if "lang" in table.column_names else [None] * table.num_rows
    names: dict[str, int] = {}
    codes = np.fromiter((names.setdefault(group_of(d, lang, mixture), len(names)) for d, lang in zip(domains, langs)),
                        dtype=np.uint16, count=table.num_rows)
    return id_hashes(table.column("id").to_pylist()), lengths, list(names), codes


def route(block: tuple[str, np.ndarray], cfg: ShardsConfig, buckets: dict[str, int], partition: np.ndarray) -> pa.Table:
    """Map side: every picked (document, repeat) of one file whose bucket is in this wave
    (``partition[slot] >= 0``), with its order key and partition."""
    path, repeats = block
    repeats = np.asarray(repeats, dtype=np.int64)
    present = pq.read_schema(path).names
    table = pq.read_table(path, columns=[c for c in ("id", "domain", "lang", "input_ids") if c in present])
    if table.num_rows != len(repeats):
        raise RuntimeError(f"{path}: {table.num_rows} rows, the plan has {len(repeats)}: tokens/ changed")
    rows = np.repeat(np.arange(table.num_rows), repeats)
    repeat = (np.arange(len(rows)) - np.repeat(np.cumsum(repeats) - repeats, repeats)).astype(np.int64)
    hashes = id_hashes(table.column("id").to_pylist())[rows]
    keys = seeded_keys(hashes, cfg.seed, "order", repeat)
    part = partition[slot_of(keys, in_validation(hashes, cfg), buckets)]
    wave = part >= 0
    rows, repeat, keys, part = rows[wave], repeat[wave], keys[wave], part[wave]
    picked = table.take(pa.array(rows, pa.int64()))
    domains = picked.column("domain").to_pylist()
    langs = picked.column("lang").to_pylist() if "lang" in picked.column_names else [None] * picked.num_rows
    return pa.table({
        "_partition": pa.array(part, pa.int64()),
        "_key": pa.array(keys, pa.uint64()),
        "_repeat": pa.array(repeat, pa.int32()),
        "_group": pa.array([group_of(d, lang, cfg.mixture) for d, lang in zip(domains, langs)], pa.string()),
        "id": picked.column("id").cast(pa.string()),
        "input_ids": picked.column("input_ids").cast(pa.list_(pa.uint32())),
    })


def shard_content(table: pa.Table, *, split: str, number: int, cfg: ShardsConfig, vocab_size: int,
                  eos_id: int) -> ShardContent:
    """One bucket sorted by order key, packed if asked: what every format of this shard writes."""
    table = table.sort_by([("_key", "ascending"), ("id", "ascending"), ("_repeat", "ascending")])
    input_ids = table.column("input_ids").combine_chunks()
    lengths = pc.list_value_length(input_ids).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(input_ids).to_numpy(zero_copy_only=False).astype(np.uint32, copy=False)
    doc_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = table.column("id").to_pylist()
    repeats = table.column("_repeat").to_numpy().astype(np.int32)
    if cfg.seq_len:
        packed = pack_flat(flat, lengths, cfg.seq_len, last=cfg.last, pad_id=eos_id)
        rows = (packed.tokens, packed.offsets, packed.doc_lens, packed.doc_lens_offsets, None)
    else:
        rows = (flat, doc_offsets, lengths.astype(np.int32), np.arange(len(lengths) + 1, dtype=np.int64),
                [f"{i}#{r}" for i, r in zip(ids, repeats.tolist())])
    return ShardContent(split=split, number=number, row_tokens=rows[0], row_offsets=rows[1], doc_lens=rows[2],
                        doc_lens_offsets=rows[3], row_ids=rows[4], doc_tokens=flat, doc_offsets=doc_offsets,
                        doc_ids=ids, doc_repeats=repeats, doc_groups=table.column("_group").to_pylist(),
                        vocab_size=vocab_size, eos_id=eos_id, seq_len=cfg.seq_len)


def write_bucket(table: pa.Table, *, out_dir: str, split: str, number: int, planned: int, cfg: ShardsConfig,
                 vocab_size: int, eos_id: int) -> dict[str, Any]:
    """Reduce side: one bucket becomes shard ``number`` of ``split`` in every format asked for,
    plus its provenance table. Returns the shard's counts and what each format wrote."""
    content = shard_content(table, split=split, number=number, cfg=cfg, vocab_size=vocab_size, eos_id=eos_id)
    if int(len(content.doc_tokens)) != planned:  # the map side and the plan must agree on every pick
        raise RuntimeError(f"{split} shard {number}: {len(content.doc_tokens)} tokens arrived, the plan has {planned}")
    root = Path(out_dir)
    written = {name: fmt.write(content, root / fmt.folder) for name, fmt in trainer_formats(cfg).items()}
    provenance = write_provenance(content, root / "provenance")
    return {"split": split, "number": number, "rows": content.rows, "tokens": int(len(content.row_tokens)),
            "documents": content.documents, "document_tokens": int(len(content.doc_tokens)), "formats": written,
            "provenance": {"file": str(provenance.relative_to(root)), "sha256": file_sha256(provenance)}}


def trainer_formats(cfg: ShardsConfig) -> dict[str, TrainerFormat]:
    """The formats ``shards.format`` names, as writers (Parquet with the configured row groups)."""
    return {name: ParquetFormat(cfg.row_group_rows) if name == "parquet" else format_named(name)
            for name in cfg.formats}


# ------------------------------------------------------------------------- the driver


def waves_of(planned: np.ndarray, wave_tokens: int) -> list[np.ndarray]:
    """Consecutive runs of non-empty buckets of about ``wave_tokens`` tokens (one bucket at least)."""
    waves, current, tokens = [], [], 0
    for slot in np.flatnonzero(planned).tolist():
        if current and tokens + planned[slot] > wave_tokens:
            waves.append(np.array(current))
            current, tokens = [], 0
        current.append(slot)
        tokens += int(planned[slot])
    return waves + ([np.array(current)] if current else [])


def build_shards(tokens_dir: Path, out_dir: Path, cfg: ShardsConfig, token_manifest: dict, *,
                 wave_tokens: int | None = None) -> dict:
    """Write ``out_dir/{train,validation}/part-*.parquet`` and ``out_dir/manifest.json``; returns the manifest.

    Runs Ray tasks in the current Ray session (a local one is started if none is). The buckets
    are shuffled in waves of about ``wave_tokens`` tokens (default: what fills a quarter of the
    object store), each wave reading ``tokens/`` again, so the picks in flight fit in memory;
    the shards are the same for any wave size.
    """
    import ray

    from curate.dedup.shuffle import ShuffleInput, shuffle_reduce

    files = [str(f) for f in sorted(Path(tokens_dir).glob("*.parquet"))]
    facts_task = ray.remote(document_facts)
    facts = ray.get([facts_task.remote(f, cfg.mixture) for f in files])
    groups = sorted({name for _, _, names, _ in facts for name in names})
    index = {g: i for i, g in enumerate(groups)}
    hashes = np.concatenate([f[0] for f in facts]) if facts else np.zeros(0, np.uint64)
    lengths = np.concatenate([f[1] for f in facts]) if facts else np.zeros(0, np.uint32)
    code_type = np.uint16 if len(groups) < 2**16 else np.uint32
    codes = (np.concatenate([np.array([index[n] for n in names], dtype=code_type)[c] if len(c) else c.astype(code_type)
                             for _, _, names, c in facts]) if facts else np.zeros(0, np.int64))
    rows_per_file = [len(f[0]) for f in facts]
    del facts  # the driver keeps ~20 bytes per document: hash 8, length 4, group 2, repeats 4, split 1
    repeats, mixture = plan_repeats(hashes, lengths, codes, groups, cfg)
    repeats[lengths == 0] = 0  # nothing to write (tokens/ rows hold EOS at least)

    # Buckets per split from its tokens, so they depend on the data only; then the planned
    # tokens per bucket, to skip empty ones and name the shards consecutively.
    validation = in_validation(hashes, cfg)
    picked = lengths.astype(np.int64) * repeats
    split_tokens = [int(picked[validation == s].sum()) for s in (False, True)]
    del picked
    buckets = {name: math.ceil(t / cfg.tokens_per_shard) for name, t in zip(SPLITS, split_tokens)}
    planned = np.zeros(buckets["train"] + buckets["validation"], dtype=np.int64)
    for k in range(int(repeats.max(initial=0))):
        chosen = np.flatnonzero(repeats > k)
        slot = slot_of(seeded_keys(hashes[chosen], cfg.seed, "order", k), validation[chosen], buckets)
        planned += np.bincount(slot, weights=lengths[chosen], minlength=len(planned)).astype(np.int64)
    targets, numbers = {}, dict.fromkeys(SPLITS, 0)  # slot -> the shard it becomes
    for slot in np.flatnonzero(planned).tolist():
        split = SPLITS[int(slot >= buckets["train"])]
        targets[slot] = {"out_dir": str(out_dir), "split": split, "number": numbers[split], "planned": int(planned[slot])}
        numbers[split] += 1
    formats = trainer_formats(cfg)
    if "parquet" in formats:
        for split in SPLITS:
            (out_dir / split).mkdir(parents=True, exist_ok=True)

    shards: list[dict] = []
    offsets = np.concatenate([[0], np.cumsum(rows_per_file)]).astype(np.int64)
    blocks = [(path, repeats[offsets[i] : offsets[i + 1]]) for i, path in enumerate(files)]
    if wave_tokens is None:
        wave_tokens = max(int(ray.cluster_resources().get("object_store_memory", 2**30)) // 16, 1)
    for wave in waves_of(planned, wave_tokens):
        partition = np.full(len(planned), -1, dtype=np.int64)
        partition[wave] = np.arange(len(wave))
        prepare = functools.partial(route, cfg=cfg, buckets=buckets, partition=partition)
        refs = shuffle_reduce(write_bucket, len(wave), ShuffleInput(blocks, "_partition", prepare, hash_key=False),
                              per_partition=[targets[int(slot)] for slot in wave], cfg=cfg,
                              vocab_size=int(token_manifest["vocab_size"]), eos_id=int(token_manifest["eos_id"]))
        shards += ray.get(refs)
    manifest = {
        "format": "curate.trainer-shards/2",
        "tokenizer": token_manifest["tokenizer"], "vocab_size": token_manifest["vocab_size"],
        "eos_id": token_manifest["eos_id"], "dtype": "uint32", "seq_len": cfg.seq_len,
        "layout": (f"packed: input_ids has seq_len + 1 = {cfg.seq_len + 1} tokens, doc_lens the document pieces; "
                   "each shard packs its own documents" if cfg.seq_len
                   else "one row per document (id = <document id>#<repeat>)"),
        "seed": cfg.seed, "mixture": mixture,
        "splits": {split: split_summary([s for s in shards if s["split"] == split]) for split in SPLITS},
        "formats": merge_formats(out_dir, formats, shards, token_manifest, cfg),
        "provenance": {split: [s["provenance"] for s in shards if s["split"] == split] for split in SPLITS},
        "config": cfg.model_dump(), "config_hash": token_manifest.get("config_hash"),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def split_summary(shards: list[dict]) -> dict[str, Any]:
    """A split's rows and tokens, and its Parquet shards as the loader and verify read them."""
    listed = []
    for shard in shards:
        entry = {"rows": shard["rows"], "tokens": shard["tokens"], "documents": shard["documents"],
                 "document_tokens": shard["document_tokens"]}
        for written in shard["formats"].get("parquet", []):
            entry |= {"file": Path(written["file"]).name, "sha256": written["sha256"]}
        listed.append(entry)
    return {"rows": sum(s["rows"] for s in shards), "tokens": sum(s["tokens"] for s in shards),
            "documents": sum(s["documents"] for s in shards),
            "document_tokens": sum(s["document_tokens"] for s in shards), "shards": listed}


def merge_formats(out_dir: Path, formats: dict[str, TrainerFormat], shards: list[dict], token_manifest: dict,
                  cfg: ShardsConfig) -> dict[str, Any]:
    """Every format's per-split merge (on the driver, shards in order); what the manifest lists."""
    listed = {}
    for name, fmt in formats.items():
        splits = {}
        for split in SPLITS:
            parts = [part for s in shards if s["split"] == split for part in s["formats"][name]]
            meta = {"vocab_size": int(token_manifest["vocab_size"]), "eos_id": int(token_manifest["eos_id"]),
                    "seq_len": cfg.seq_len, "last": cfg.last}
            splits[split] = fmt.merge(out_dir / fmt.folder, split, parts, meta) if parts else []
        listed[name] = {"holds": fmt.holds, "folder": fmt.folder, "reader": fmt.reader, "splits": splits}
    return listed
