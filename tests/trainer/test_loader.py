"""The token-shard IterableDataset with a real torch DataLoader (issue 8 groundwork)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader  # noqa: E402

from curate.trainer.loader import TokenShards  # noqa: E402


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """3 shards x 4 row groups x 6 rows, each row its own id and token list."""
    folder = tmp_path_factory.mktemp("tokens")
    for f in range(3):
        rows = [{"id": f"f{f}g{g}r{r}", "input_ids": list(range(f * 100 + g * 10 + r, f * 100 + g * 10 + r + 3 + r))}
                for g in range(4) for r in range(6)]
        pq.write_table(pa.Table.from_pylist(rows), folder / f"part-{f}.parquet", row_group_size=6)
    return folder


ALL = {f"f{f}g{g}r{r}" for f in range(3) for g in range(4) for r in range(6)}


def ids_of(dataset, workers: int, batch_size: int | None = None) -> list:
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers,
                        collate_fn=(lambda batch: [s["id"] for s in batch]) if batch_size else (lambda s: s["id"]))
    return list(loader)


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
@pytest.mark.parametrize("workers", [0, 2, 3])
def test_ranks_and_workers_partition_the_data(shards, workers) -> None:
    per_rank = [ids_of(TokenShards(shards, extra_columns=["id"], rank=r, world_size=2, seed=1), workers) for r in range(2)]
    union = per_rank[0] + per_rank[1]
    assert len(union) == len(set(union)) == len(ALL) and set(union) == ALL
    assert not set(per_rank[0]) & set(per_rank[1])


def test_samples_are_token_tensors(shards) -> None:
    sample = next(iter(TokenShards(shards, extra_columns=["id"])))
    assert sample["input_ids"].dtype == torch.long and sample["input_ids"].ndim == 1


def test_resume_continues_at_the_exact_next_batch(shards) -> None:
    def make():
        return TokenShards(shards, extra_columns=["id"], seed=7, batch_size=4)

    full = ids_of(make(), workers=2, batch_size=4)
    assert len(full) == 18
    resumed = make()
    resumed.load_state_dict({"epoch": 0, "samples": 5 * 4})  # 5 batches were trained on
    assert ids_of(resumed, workers=2, batch_size=4) == full[5:]
    # without workers, the dataset counts what it yielded itself
    single = make()
    stream = iter(single)
    first = [next(stream)["id"] for _ in range(10)]
    again = make()
    again.load_state_dict(single.state_dict())
    rest = [s["id"] for s in again]
    assert first + rest == [s["id"] for s in make()]


def test_epochs_reshuffle_with_the_seed(shards) -> None:
    dataset = TokenShards(shards, extra_columns=["id"], seed=3)
    epoch0 = [s["id"] for s in dataset]
    dataset.set_epoch(1)
    epoch1 = [s["id"] for s in dataset]
    assert set(epoch0) == set(epoch1) == ALL and epoch0 != epoch1
    assert [s["id"] for s in TokenShards(shards, extra_columns=["id"], seed=3)] == epoch0
    assert [s["id"] for s in TokenShards(shards, extra_columns=["id"], shuffle=False)] == sorted(
        ALL, key=lambda i: (int(i[1]), int(i[3]), int(i[5:])))


def test_reads_the_quickstart_token_shards(quickstart_run) -> None:
    import json

    out, _ = quickstart_run
    manifest = json.loads((out / "tokens" / "manifest.json").read_text())
    seen = [s["id"] for r in range(2) for s in TokenShards(out / "tokens", extra_columns=["id"], rank=r, world_size=2)]
    assert len(seen) == len(set(seen)) == manifest["total_documents"]
    total = sum(len(s["input_ids"]) for s in TokenShards(out / "tokens"))
    assert total == manifest["total_tokens"]
