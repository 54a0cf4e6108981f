"""Check a ``tokens/`` folder against its manifest before a trainer reads it.

    python -m curate.verify out/code_math/tokens [--sample 3]
    python -m curate.verify out/run/trainer

For a ``trainer/`` folder every format the manifest lists is checked: its files (present, sha256,
nothing unlisted) and what the format can say about itself (Megatron's index against its .bin,
memmap offsets, counts, vocabulary, every document ending in EOS), and the provenance tables.

Checks: every shard the manifest lists exists with its sha256 and no other shard is there;
rows and tokens per shard and in total match; every id is below ``vocab_size``; each row ends
with ``eos_id`` and holds no other EOS (one document per row); ``n_tokens`` equals the row length
where present. Decodes a few rows with the named tokenizer so a person can look. Exits 1 and
lists every mismatch when anything is off, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.outputs.parquet import file_sha256


def verify_trainer(folder: Path, manifest: dict) -> list[str]:
    """Problems in a ``trainer/`` folder (curate.trainer-shards/1 or /2) against its manifest:
    the Parquet shards row by row, then every other format's files and the provenance tables."""
    problems = verify_parquet_shards(folder, manifest)
    for name, info in manifest.get("formats", {}).items():
        if name != "parquet":
            problems += verify_format(folder, manifest, name, info)
    for split, entries in manifest.get("provenance", {}).items():
        problems += listed_files(folder / "provenance", f"provenance/{split}", entries,
                                 {str(p.relative_to(folder)) for p in (folder / "provenance" / split).glob("*")},
                                 relative_to=folder)
    return problems


def listed_files(root: Path, label: str, entries: list[dict], present: set[str], relative_to: Path | None = None) -> list[str]:
    """Every listed file exists with its sha256, and nothing else is on disk."""
    base = relative_to or root
    listed = {e["file"] for e in entries}
    problems = [f"{label}: {name} is on disk but not in the manifest" for name in sorted(present - listed)]
    for entry in entries:
        path = base / entry["file"]
        if not path.is_file():
            problems.append(f"{label}: {entry['file']} is listed in the manifest but missing")
        elif file_sha256(path) != entry["sha256"]:
            problems.append(f"{label}: {entry['file']}: sha256 differs from the manifest")
    return problems


def verify_format(folder: Path, manifest: dict, name: str, info: dict) -> list[str]:
    """One non-Parquet format: its files (presence, sha256, nothing extra), then the format's own checks."""
    from curate.trainer.formats import format_named

    fmt = format_named(name)
    root = folder / info["folder"]
    problems = []
    for split, files in info["splits"].items():
        present = {str(p.relative_to(root)) for p in (root / split).rglob("*") if p.is_file()}
        found = listed_files(root, f"{name}/{split}", files, present)
        problems += found
        if not found:
            meta = {"vocab_size": int(manifest["vocab_size"]), "eos_id": int(manifest["eos_id"]),
                    "seq_len": manifest.get("seq_len"), "split": manifest["splits"][split]}
            problems += fmt.check(root, split, files, meta)
    return problems


def verify_parquet_shards(folder: Path, manifest: dict) -> list[str]:
    """The Parquet shards: files, rows, tokens, vocabulary, doc_lens and row lengths."""
    problems: list[str] = []
    if "parquet" not in manifest.get("formats", {"parquet": None}):
        return problems
    vocab, seq_len, last = int(manifest["vocab_size"]), manifest.get("seq_len"), manifest["config"].get("last")
    for split, info in manifest["splits"].items():
        listed = {s["file"] for s in info["shards"]}
        present = {p.name for p in (folder / split).glob("*.parquet")}
        problems += [f"{split}/{name}: on disk but not in the manifest" for name in sorted(present - listed)]
        for shard in info["shards"]:
            path = folder / split / shard["file"]
            name = f"{split}/{shard['file']}"
            if not path.is_file():
                problems.append(f"{name}: listed in the manifest but missing")
                continue
            if file_sha256(path) != shard["sha256"]:
                problems.append(f"{name}: sha256 differs from the manifest")
            table = pq.read_table(path)
            lengths = pc.list_value_length(table.column("input_ids")).to_numpy(zero_copy_only=False)
            flat = pc.list_flatten(table.column("input_ids")).to_numpy(zero_copy_only=False).astype(np.int64)
            if table.num_rows != shard["rows"] or len(flat) != shard["tokens"]:
                problems.append(f"{name}: {table.num_rows} rows / {len(flat)} tokens, manifest says "
                                f"{shard['rows']} / {shard['tokens']}")
            if len(flat) and flat.max() >= vocab:
                problems.append(f"{name}: token id {int(flat.max())} is not below vocab_size {vocab}")
            pieces = pc.list_value_length(table.column("doc_lens")).to_numpy(zero_copy_only=False)
            sums = np.add.reduceat(pc.list_flatten(table.column("doc_lens")).to_numpy(zero_copy_only=False),
                                   np.concatenate([[0], np.cumsum(pieces)[:-1]])) if len(pieces) else pieces
            if (sums != lengths).any():
                problems.append(f"{name}: doc_lens do not add up to the row length in {int((sums != lengths).sum())} rows")
            if seq_len and last != "keep" and (lengths != seq_len + 1).any():
                problems.append(f"{name}: rows of other than seq_len + 1 = {seq_len + 1} tokens")
    return problems


def verify_tokens(folder: str | Path) -> tuple[list[str], dict]:
    """(problems, facts): an empty problem list means the folder matches its manifest. Reads a
    ``tokens/`` folder (one row per document) or a ``trainer/`` folder (packed or not)."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        return [f"{manifest_path}: missing"], {}
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format", "").startswith("curate.trainer-shards/"):
        return verify_trainer(folder, manifest), manifest
    problems: list[str] = []
    vocab, eos = int(manifest["vocab_size"]), int(manifest["eos_id"])
    listed = {s["file"] for s in manifest["shards"]}
    present = {p.name for p in folder.glob("*.parquet")}
    problems += [f"{name}: on disk but not in the manifest" for name in sorted(present - listed)]
    total_rows = total_tokens = 0
    for shard in manifest["shards"]:
        path = folder / shard["file"]
        if not path.is_file():
            problems.append(f"{shard['file']}: listed in the manifest but missing")
            continue
        if file_sha256(path) != shard["sha256"]:
            problems.append(f"{shard['file']}: sha256 differs from the manifest")
        try:
            table = pq.read_table(path)
        except Exception as exc:  # a corrupt file is a finding, not a crash
            problems.append(f"{shard['file']}: unreadable ({type(exc).__name__}: {exc})")
            continue
        ids = table.column("input_ids")
        lengths = pc.list_value_length(ids).to_numpy(zero_copy_only=False)
        flat = pc.list_flatten(ids).to_numpy(zero_copy_only=False).astype(np.int64)
        if table.num_rows != shard["documents"]:
            problems.append(f"{shard['file']}: {table.num_rows} rows, manifest says {shard['documents']}")
        if len(flat) != shard["tokens"]:
            problems.append(f"{shard['file']}: {len(flat)} tokens, manifest says {shard['tokens']}")
        if len(flat) and (flat.max() >= vocab or flat.min() < 0):
            problems.append(f"{shard['file']}: token id {int(flat.max())} is not below vocab_size {vocab}")
        ends = np.cumsum(lengths) - 1
        if len(ends) and ((lengths == 0).any() or (flat[ends[lengths > 0]] != eos).any()):
            problems.append(f"{shard['file']}: {int(((lengths == 0) | (flat[np.maximum(ends, 0)] != eos)).sum())} "
                            f"rows do not end with EOS {eos}")
        if int((flat == eos).sum()) != table.num_rows:
            problems.append(f"{shard['file']}: {int((flat == eos).sum())} EOS tokens for {table.num_rows} documents")
        if "n_tokens" in table.column_names and not np.array_equal(
                table.column("n_tokens").to_numpy(zero_copy_only=False), lengths):
            problems.append(f"{shard['file']}: n_tokens differs from the row lengths")
        total_rows += table.num_rows
        total_tokens += len(flat)
    if total_rows != manifest["total_documents"]:
        problems.append(f"total: {total_rows} documents, manifest says {manifest['total_documents']}")
    if total_tokens != manifest["total_tokens"]:
        problems.append(f"total: {total_tokens} tokens, manifest says {manifest['total_tokens']}")
    return problems, manifest


def sample_decodes(folder: str | Path, manifest: dict, n: int) -> list[str]:
    from curate.tokenizer import load_tokenizer

    if not manifest.get("shards") or n <= 0:
        return []
    tokenizer = load_tokenizer(manifest["tokenizer"]["name"])
    if tokenizer.fingerprint != manifest["tokenizer"]["fingerprint"]:
        return [f"(tokenizer {tokenizer.name} here has fingerprint {tokenizer.fingerprint[:12]}, "
                f"the manifest {manifest['tokenizer']['fingerprint'][:12]}: not decoding)"]
    table = pq.read_table(Path(folder) / manifest["shards"][0]["file"], columns=["input_ids"]).slice(0, n)
    return [_clip(tokenizer.decode(row)) for row in table.column("input_ids").to_pylist()]


def _clip(text: str, head: int = 240, tail: int = 60) -> str:
    """A long row's start and its end: the end is where the EOS token must show."""
    return text if len(text) <= head + tail else f"{text[:head]} … {text[-tail:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curate.verify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tokens", help="a tokens/ folder with manifest.json")
    parser.add_argument("--sample", type=int, default=2, help="rows to decode and print")
    args = parser.parse_args(argv)
    problems, manifest = verify_tokens(args.tokens)
    if problems:
        print(f"{args.tokens}: {len(problems)} problem(s)")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    if "splits" in manifest:
        splits = ", ".join(f"{k} {v['rows']:,} rows / {v['tokens']:,} tokens" for k, v in manifest["splits"].items())
        print(f"{args.tokens}: OK, {splits}, seq_len {manifest.get('seq_len')}")
        return 0
    print(f"{args.tokens}: OK, {manifest['total_documents']:,} documents, {manifest['total_tokens']:,} tokens "
          f"in {len(manifest['shards'])} shard(s), tokenizer {manifest['tokenizer']['name']}")
    for text in sample_decodes(args.tokens, manifest, args.sample):
        print("  ---\n  " + text.replace("\n", "\n  "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
