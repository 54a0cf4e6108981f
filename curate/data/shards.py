"""Trainer shards from a run's ``tokens/``: mixture, seeded global shuffle, train/validation split,
optional packing, zstd Parquet shards and a manifest.

* **Mixture**: ``mixture`` weights per domain (or ``domain/lang``; ``*`` for the rest) and an
  optional ``target_tokens``. With ``r`` = a group's target tokens over its natural tokens, every
  document is repeated ``floor(r)`` times, then documents in a seeded order get one more copy
  while that brings the group closer to its target, so each group lands within half a document
  of its share. The achieved mixture is written next to the requested one.
* **Split** by document (a seeded hash of the id): a document and all its repeats are either
  train or validation.
* **Shuffle**: the order is a seeded hash of (id, repeat): the same for any number of workers or
  input shards.
* **Packing** (``seq_len``): documents concatenated into ``seq_len + 1``-token rows with
  ``doc_lens`` (:mod:`curate.data.packing`); without it, one row per document.

This first version gathers the ids and lengths on the driver and reads token rows shard by shard
into memory (fine for corpora of millions of documents, not billions); the scalable path is a
hash-bucketed shuffle on Ray with packing per bucket.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.config import ShardsConfig
from curate.data.packing import pack
from curate.sink import file_sha256


def _unit(seed: int, *parts: object) -> float:
    """A seeded uniform number in [0, 1) from the parts."""
    digest = hashlib.blake2b("\x00".join([str(seed), *map(str, parts)]).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def group_of(domain: str, lang: str | None, mixture: dict[str, float]) -> str:
    key = f"{domain}/{lang}"
    if key in mixture:
        return key
    if domain in mixture:
        return domain
    return "*" if "*" in mixture else domain


def plan(ids: list[str], groups: list[str], lengths: np.ndarray, cfg: ShardsConfig) -> tuple[list[tuple[int, int]], dict]:
    """(row index, repeat) pairs in shuffled order, and the requested/achieved mixture."""
    natural: dict[str, int] = {}
    for g, n in zip(groups, lengths.tolist()):
        natural[g] = natural.get(g, 0) + n
    total = sum(natural.values())
    if cfg.mixture:
        weights = {g: cfg.mixture.get(g, 0.0) for g in natural}
        wsum = sum(weights.values()) or 1.0
        target_total = cfg.target_tokens or total
        targets = {g: target_total * w / wsum for g, w in weights.items()}
    else:
        scale = (cfg.target_tokens or total) / max(total, 1)
        targets = {g: n * scale for g, n in natural.items()}
    ratio = {g: targets[g] / natural[g] if natural[g] else 0.0 for g in natural}
    picks: list[tuple[float, int, int]] = []
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    for g, rows in members.items():
        whole = math.floor(ratio[g])
        for i in rows:
            picks.extend((_unit(cfg.seed, "order", ids[i], k), i, k) for k in range(whole))
        # The fraction: one more copy of documents in a seeded order while that brings the
        # group closer to its target (within half a document of it).
        remaining = targets[g] - whole * natural[g]
        for i in sorted(rows, key=lambda i: _unit(cfg.seed, "extra", ids[i])):
            if remaining <= 0:
                break
            if lengths[i] <= 2 * remaining:
                picks.append((_unit(cfg.seed, "order", ids[i], whole), i, whole))
                remaining -= int(lengths[i])
    picks.sort()
    achieved: dict[str, int] = {}
    for _, i, _ in picks:
        achieved[groups[i]] = achieved.get(groups[i], 0) + int(lengths[i])
    got = sum(achieved.values()) or 1
    mixture = {g: {"requested_tokens": round(targets[g]), "natural_tokens": natural[g], "tokens": achieved.get(g, 0),
                   "share": achieved.get(g, 0) / got,
                   "requested_share": targets[g] / (sum(targets.values()) or 1)} for g in sorted(natural)}
    return [(i, k) for _, i, k in picks], mixture


def build_shards(tokens_dir: Path, out_dir: Path, cfg: ShardsConfig, token_manifest: dict) -> dict:
    """Write ``out_dir/{train,validation}/part-*.parquet`` and ``out_dir/manifest.json``; returns the manifest."""
    files = sorted(tokens_dir.glob("*.parquet"))
    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default") if files else \
        pa.table({"id": pa.array([], pa.string()), "domain": pa.array([], pa.string()),
                  "input_ids": pa.array([], pa.large_list(pa.uint32()))})
    ids = table.column("id").to_pylist()
    langs = table.column("lang").to_pylist() if "lang" in table.column_names else [None] * table.num_rows
    groups = [group_of(d, lang, cfg.mixture) for d, lang in zip(table.column("domain").to_pylist(), langs)]
    lengths = pc.list_value_length(table.column("input_ids")).to_numpy(zero_copy_only=False).astype(np.int64)
    order, mixture = plan(ids, groups, lengths, cfg)
    rows = table.column("input_ids")
    splits = {"train": [], "validation": []}
    for i, k in order:
        split = "validation" if _unit(cfg.seed, "split", ids[i]) < cfg.validation else "train"
        splits[split].append((i, k))
    manifest_shards: dict[str, list[dict]] = {}
    for split, picked in splits.items():
        folder = out_dir / split
        folder.mkdir(parents=True, exist_ok=True)
        docs = ((f"{ids[i]}#{k}", np.asarray(rows[i].values, dtype=np.uint32)) for i, k in picked)
        if cfg.seq_len:
            sequences = pack(docs, cfg.seq_len, last=cfg.last, pad_id=int(token_manifest["eos_id"]))
            records = ({"input_ids": s.tokens, "doc_lens": s.doc_lens} for s in sequences)
        else:
            records = ({"input_ids": tokens, "doc_lens": [len(tokens)], "id": doc_id} for doc_id, tokens in docs)
        manifest_shards[split] = _write(records, folder, cfg)
    manifest = {
        "format": "curate.trainer-shards/1",
        "tokenizer": token_manifest["tokenizer"], "vocab_size": token_manifest["vocab_size"],
        "eos_id": token_manifest["eos_id"], "dtype": "uint32", "seq_len": cfg.seq_len,
        "layout": (f"packed: input_ids has seq_len + 1 = {cfg.seq_len + 1} tokens, doc_lens the document pieces"
                   if cfg.seq_len else "one row per document (id = <document id>#<repeat>)"),
        "seed": cfg.seed, "mixture": mixture,
        "splits": {split: {"rows": sum(s["rows"] for s in shards), "tokens": sum(s["tokens"] for s in shards),
                           "shards": shards} for split, shards in manifest_shards.items()},
        "config": cfg.model_dump(), "config_hash": token_manifest.get("config_hash"),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _write(records, folder: Path, cfg: ShardsConfig) -> list[dict]:
    """Stream records into zstd Parquet shards of about ``tokens_per_shard`` tokens."""
    shards: list[dict] = []
    batch: list[dict] = []
    tokens = 0

    def flush() -> None:
        nonlocal batch, tokens
        if not batch:
            return
        path = folder / f"part-{len(shards):05d}.parquet"
        columns = {"input_ids": pa.array([r["input_ids"] for r in batch], pa.list_(pa.uint32())),
                   "doc_lens": pa.array([r["doc_lens"] for r in batch], pa.list_(pa.int32()))}
        if "id" in batch[0]:
            columns["id"] = pa.array([r["id"] for r in batch], pa.string())
        pq.write_table(pa.table(columns), path, compression="zstd", row_group_size=cfg.row_group_rows)
        shards.append({"file": path.name, "rows": len(batch), "tokens": tokens, "sha256": file_sha256(path)})
        batch, tokens = [], 0

    for record in records:
        batch.append(record)
        tokens += len(record["input_ids"])
        if tokens >= cfg.tokens_per_shard:
            flush()
    flush()
    return shards
