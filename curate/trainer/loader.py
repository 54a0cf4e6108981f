"""A PyTorch IterableDataset over token shards: split across ranks and DataLoader workers without
overlap, reshuffled per epoch with a seed, resumable at the exact next sample.

The unit of work is a Parquet row group. Each epoch the row groups of all shards are put in a
seeded order; row group ``k`` belongs to consumer ``k % (world_size * num_workers)`` (consumer
= rank * num_workers + worker id), and its rows are read in a seeded order of their own. So the
consumers' streams partition the data, and every consumer can compute its stream alone.

Resuming: a DataLoader takes ``batch_size`` samples from worker 0, then worker 1, ... in turn.
Given how many samples a rank has consumed (``state_dict()`` of the dataset after iterating in
the main process, or the count a training loop keeps: ``batches * batch_size``),
:meth:`TokenShards.load_state_dict` makes every worker skip exactly what it had yielded, so the
next batch is the one an uninterrupted run would have produced (while every worker still has
data; the last round of an epoch, where workers run out unevenly, restarts at its beginning).
Resume at batch boundaries (``samples`` a multiple of ``batch_size``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

try:
    from torch.utils.data import IterableDataset, get_worker_info
except ImportError:  # pragma: no cover - torch is the models extra
    IterableDataset = object  # type: ignore[assignment,misc]

    def get_worker_info():  # type: ignore[no-redef]
        return None


def shard_files(path: str | Path | Sequence[str | Path]) -> list[str]:
    """The Parquet shards of a ``tokens/`` folder (sorted), or the files given."""
    if isinstance(path, (str, Path)):
        folder = Path(path)
        files = sorted(str(p) for p in folder.glob("*.parquet")) if folder.is_dir() else [str(folder)]
    else:
        files = [str(p) for p in path]
    if not files:
        raise FileNotFoundError(f"no Parquet shards in {path}")
    return files


class TokenShards(IterableDataset):
    """Samples ``{column: LongTensor, **extra_columns}`` from token shards.

    ``rank`` / ``world_size`` default to torch.distributed's when it is initialised, else 0 / 1.
    ``batch_size`` must be the DataLoader's when resuming with several workers.
    """

    def __init__(self, path, *, column: str = "input_ids", extra_columns: Sequence[str] = (), seed: int = 0,
                 shuffle: bool = True, epoch: int = 0, rank: int | None = None, world_size: int | None = None,
                 batch_size: int = 1) -> None:
        self.files = shard_files(path)
        self.column = column
        self.extra_columns = list(extra_columns)
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = epoch
        self.rank, self.world_size = self._distributed(rank, world_size)
        self.batch_size = batch_size
        self.units = [(f, g) for f in self.files for g in range(pq.ParquetFile(f).num_row_groups)]
        self.start_sample = 0  # samples this rank had consumed in this epoch when it resumed
        self.samples_seen = 0  # counted when iterating in the main process (no workers)

    @staticmethod
    def _distributed(rank: int | None, world_size: int | None) -> tuple[int, int]:
        if rank is not None and world_size is not None:
            if not 0 <= rank < world_size:
                raise ValueError(f"rank {rank} is not in [0, {world_size})")
            return rank, world_size
        try:
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():
                return dist.get_rank(), dist.get_world_size()
        except ImportError:  # pragma: no cover
            pass
        return 0, 1

    # ----------------------------------------------------------------- epochs and state

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.start_sample, self.samples_seen = epoch, 0, 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "samples": self.start_sample + self.samples_seen}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.start_sample, self.samples_seen = int(state["epoch"]), int(state["samples"]), 0

    # ----------------------------------------------------------------- the streams

    def unit_order(self) -> list[int]:
        order = np.arange(len(self.units))
        if self.shuffle:
            np.random.default_rng([self.seed, self.epoch]).shuffle(order)
        return order.tolist()

    def consumer_units(self, consumer: int, consumers: int) -> list[int]:
        return [u for k, u in enumerate(self.unit_order()) if k % consumers == consumer]

    def _skip_for_worker(self, worker: int, workers: int) -> int:
        """Samples worker ``worker`` had yielded when its rank had consumed ``start_sample``."""
        per_round = self.batch_size * workers
        rounds, rest = divmod(self.start_sample, per_round)
        return rounds * self.batch_size + min(max(rest - worker * self.batch_size, 0), self.batch_size)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import torch

        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        # A resumed DataLoader asks worker 0 first; it plays the worker whose turn was next.
        worker = (worker + (self.start_sample // self.batch_size) % workers) % workers
        consumer, consumers = self.rank * workers + worker, self.world_size * workers
        skip = self._skip_for_worker(worker, workers)
        columns = [self.column, *self.extra_columns]
        for unit in self.consumer_units(consumer, consumers):
            path, group = self.units[unit]
            table = pq.ParquetFile(path).read_row_group(group, columns=columns)
            rows = np.arange(table.num_rows)
            if self.shuffle:
                np.random.default_rng([self.seed, self.epoch, unit]).shuffle(rows)
            if skip >= len(rows):
                skip -= len(rows)
                continue
            # Tokens as one flat numpy buffer and offsets (Python lists would cost ~10x more).
            tokens = table.column(self.column).combine_chunks()
            flat = pc.list_flatten(tokens).to_numpy(zero_copy_only=False)
            offsets = tokens.offsets.to_numpy()
            offsets = offsets - offsets[0]  # a sliced array's offsets start where the slice does
            extra = {c: table.column(c).to_pylist() for c in self.extra_columns}
            for r in rows[skip:].tolist():
                sample = {self.column: torch.from_numpy(flat[offsets[r] : offsets[r + 1]].astype(np.int64))}
                sample.update({c: extra[c][r] for c in self.extra_columns})
                if info is None:
                    self.samples_seen += 1
                yield sample
            skip = 0
