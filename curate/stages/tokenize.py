"""Tokenize documents with the exact Qwen2.5 tokenizer and append EOS.

Adds ``input_ids`` (list<uint32>, EOS last) and ``n_tokens`` (its length: the tokens a trainer
sees for the document). The list column is built from one flat numpy buffer and offsets,
which is ~100x faster than letting Arrow convert Python lists.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
from pydantic import Field

from curate.schema import set_column
from curate.stage import Resources, Stage, StageConfig
from curate.tokenizer import QWEN25_NAME, load_tokenizer


class TokenizeConfig(StageConfig):
    tokenizer: str = QWEN25_NAME
    append_eos: bool = True
    threads: int = Field(default=1, gt=0, description="tiktoken threads per worker (match resources.cpus).")
    resources: Resources = Resources(batch_size=512)


def ids_to_list_array(ids: list[list[int]], eos_id: int | None) -> tuple[pa.Array, np.ndarray]:
    """Flat uint32 buffer + offsets -> ListArray; returns it with the per-row lengths."""
    extra = 1 if eos_id is not None else 0
    lengths = np.fromiter((len(x) + extra for x in ids), dtype=np.int64, count=len(ids))
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.empty(int(offsets[-1]), dtype=np.uint32)
    for row, start in zip(ids, offsets[:-1]):
        end = start + len(row)
        flat[start:end] = row
        if extra:
            flat[end] = eos_id
    array = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), pa.array(flat, pa.uint32()))
    return array.cast(pa.list_(pa.uint32())), lengths


class Tokenize(Stage):
    name: ClassVar[str] = "tokenize"
    Config = TokenizeConfig
    mode = "actors"

    def output_columns(self) -> dict[str, pa.DataType]:
        return {"n_tokens": pa.int32(), "input_ids": pa.list_(pa.uint32())}

    def tokens_made_with(self) -> str | None:
        return self.config.tokenizer

    def setup(self) -> None:
        self.tokenizer = load_tokenizer(self.config.tokenizer)
        self.tokenizer.encoding  # noqa: B018 - load the ranks now, not on the first batch

    def process(self, batch: pa.Table) -> pa.Table:
        texts = batch.column("text").to_pylist()
        ids = self.tokenizer.encode_batch(texts, num_threads=self.config.threads)
        eos = self.tokenizer.eos_id if self.config.append_eos else None
        array, lengths = ids_to_list_array(ids, eos)
        batch = set_column(batch, "n_tokens", pa.array(lengths.astype(np.int32), pa.int32()))
        return set_column(batch, "input_ids", array)
