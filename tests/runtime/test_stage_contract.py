"""The one stage contract: a global stage is fit on the whole dataset, then runs its ordinary
per-batch process through the StageRunner, on a real local Ray with the real stats actor."""

from __future__ import annotations

import pyarrow as pa
import pytest

from curate.checkpoint import wants_boundary
from curate.config import StageSpec
from curate.registry import resolve_stage
from curate.runtime.failures import StageFailed
from curate.runtime.plan import apply_global_stage, plan_stage
from curate.runtime.stats import make_stats_actor
from curate.schema import BASE_SCHEMA
from curate.stage import FitContext, Stage
from tests.example_stages import LongTail, LongTailConfig


def _documents(lengths: list[int], rejected: set[int] = frozenset()) -> pa.Table:
    rows = [{"id": f"d{i}", "text": "x" * n, "source": "s", "domain": "web",
             "reject_stage": "earlier" if i in rejected else None,
             "reject_reason": "r" if i in rejected else None} for i, n in enumerate(lengths)]
    return pa.Table.from_pylist(rows, schema=BASE_SCHEMA)


def test_readme_example_global_stage_fits_then_marks_batches(ray_local) -> None:
    # 20 live documents of 1..20 chars, and a 500-char one rejected earlier: fit must not see it
    table = _documents([*range(1, 21), 500], rejected={20})
    stats = make_stats_actor()
    spec = StageSpec("long_tail", resolve_stage("tests.example_stages:LongTail"), LongTailConfig(quantile=0.9))
    out = apply_global_stage(ray_local.data.from_arrow(table).repartition(3), spec, stats)
    rows = {r["id"]: r for r in out.take_all()}
    assert len(rows) == 21  # nothing dropped
    too_long = sorted(i for i, r in rows.items() if r["reject_stage"] == "long_tail")
    assert too_long == ["d18", "d19"]  # 19 and 20 chars > the 90% quantile of 1..20 (18.1)
    assert rows["d19"]["reject_detail"] == "over 18 characters"
    assert rows["d20"]["reject_stage"] == "earlier"  # an earlier rejection stays
    metrics = ray_local.get(stats.snapshot.remote())["long_tail"]
    assert metrics["docs_in"] == 20 and metrics["docs_out"] == 18 and metrics["rejected"] == 2
    assert metrics["length_limit"] == pytest.approx(18.1)  # what fit reported through its context


def test_global_mode_plans_and_checkpoints_as_global() -> None:
    spec = StageSpec("long_tail", LongTail, LongTailConfig())
    assert plan_stage(spec, cores=4).mode == "global"
    assert wants_boundary(spec)


def test_a_failing_fit_is_named_by_its_stage(ray_local) -> None:
    class BrokenFit(LongTail):
        def fit(self, ds, ctx: FitContext) -> float:
            raise ValueError("no lengths today")

    spec = StageSpec("broken", BrokenFit, LongTailConfig())
    with pytest.raises(StageFailed, match="broken.*no lengths today"):
        apply_global_stage(ray_local.data.from_arrow(_documents([1, 2, 3])), spec)


def test_a_per_batch_stage_has_no_fit() -> None:
    with pytest.raises(NotImplementedError, match="tasks stage"):
        Stage(LongTailConfig(), key="plain").fit(None, FitContext(key="plain"))
