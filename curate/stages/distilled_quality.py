"""Distilled quality (a global stage): Qwen judges a sample, fastText learns it, scores everything.

Steps 1-3 are the stage's :meth:`~DistilledQuality.fit` (on the whole dataset), step 4 its
per-batch :meth:`~DistilledQuality.process`.

1. **Sample**: up to ``sample_per_group`` documents per group (``group_by``: domain, language,
   source), chosen by a seeded hash of the id, so the same documents on every run. Each block
   proposes its own best candidates; the driver keeps the top ones per group.
2. **Judge** the sample with the Qwen judge (:mod:`curate.quality.judge`) on an actor pool,
   the model loaded once per actor (``resources.gpus`` per actor when there are GPUs).
3. **Train** a fastText scorer on the judge's digits (:mod:`curate.quality.distill`), holding out
   ``heldout`` of the sample to report agreement (F1 at ``agreement_threshold``, Spearman) in the
   run stats. The scorer is saved as ``artifacts/<stage>/scorer.bin`` in the output.
4. **Score** every document: ``quality_score`` is the scorer's expected digit (0-5) for all,
   ``quality_judge_score`` the judge's own score on the sampled ones. Below ``thresholds`` goes to
   ``rejected/`` as ``low_quality`` with the score and the threshold.

``scorer: path/to/scorer.bin`` reuses a saved scorer: no sample, no judge, no model load.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from curate.config import ConfigError
from curate.models.backend import JudgeOptions
from curate.models.loading import ModelSpec, check_available
from curate.quality.thresholds import reject_low_scores
from curate.sampling import sample_per_group, seeded_key
from curate.schema import alive_mask, set_column
from curate.stage import FitContext, Mode, Resources, Stage, StageConfig

GroupKey = Literal["domain", "lang", "source"]


class JudgeConfig(JudgeOptions):
    """The judge that labels the sample: a model and the quality stage's judge options."""

    model: ModelSpec = Field(description="The judge: a hub id, a local directory or curate/qwen2-standin.")
    perplexity: bool = Field(default=False, description="Not used for distillation (only the score is learnt).")


class DistilledQualityConfig(StageConfig):
    judge: JudgeConfig | None = Field(default=None, description="The judge (needed unless scorer is given).")
    scorer: str | None = Field(default=None, description="A saved scorer.bin to reuse: skips sampling and the judge.")
    sample_per_group: int = Field(default=200, gt=0, description="Documents the judge reads per group.")
    group_by: list[GroupKey] = Field(default_factory=lambda: ["domain", "lang"])
    heldout: float = Field(default=0.2, ge=0, lt=1, description="Share of the judged sample kept out of training.")
    agreement_threshold: float = Field(default=2.5, description="Score that counts as 'good' for the held-out F1.")
    seed: int = 0
    epoch: int = Field(default=20, gt=0, description="fastText training epochs.")
    word_ngrams: int = Field(default=2, ge=2)
    thresholds: dict[str, float] = Field(default_factory=dict, description="Minimum quality_score per domain ('*': others).")
    resources: Resources = Resources(batch_size=32)

    @model_validator(mode="before")
    @classmethod
    def _judge_options_in_their_block(cls, data: Any) -> Any:
        moved = sorted({"model", *JudgeOptions.model_fields} & set(data)) if isinstance(data, dict) else []
        if moved:
            raise ValueError(f"{', '.join(moved)}: the judge's options go in a judge: block, "
                             "e.g. judge: {model: {id: ...}, max_doc_tokens: 256}")
        return data

    @model_validator(mode="after")
    def _model_or_scorer(self) -> DistilledQualityConfig:
        if self.judge is None and self.scorer is None:
            raise ValueError("set judge (to judge a sample and train a scorer) or scorer (to reuse a saved one)")
        return self


_SCORERS: dict[str, object] = {}


def _scorer_from_bytes(blob: bytes):
    """The scorer for these model bytes, loaded once per worker process."""
    from curate.quality.distill import DistilledScorer

    digest = hashlib.sha256(blob).hexdigest()
    if digest not in _SCORERS:
        path = Path(tempfile.gettempdir()) / f"curate-scorer-{digest[:16]}-{os.getpid()}.bin"
        path.write_bytes(blob)
        _SCORERS[digest] = DistilledScorer.load(path)
        path.unlink(missing_ok=True)
    return _SCORERS[digest]


class DistilledQuality(Stage):
    name: ClassVar[str] = "distilled_quality"
    Config = DistilledQualityConfig
    mode: ClassVar[Mode] = "global"
    extra_metrics: ClassVar[dict[str, type]] = {"judged_docs": int, "judge_errors": int, "heldout_docs": int, "heldout_f1": float,
                                                 "heldout_spearman": float}

    def output_columns(self) -> dict[str, pa.DataType]:
        return {"quality_score": pa.float64(), "quality_judge_score": pa.float64()}

    def describe(self) -> str:
        cfg = self.config
        if cfg.scorer:
            return f"saved scorer {cfg.scorer}"
        return (f"judge {cfg.sample_per_group}/group by {'+'.join(cfg.group_by)} with {cfg.judge.model.id}, "
                "fastText scorer for all")

    def preflight(self) -> None:
        cfg = self.config
        if cfg.scorer:
            if not Path(cfg.scorer).is_file():
                raise ConfigError(f"stages.{self.key}.scorer: {cfg.scorer} does not exist")
            return
        check_available(self.config.judge.model, f"stages.{self.key}.judge.model.id")


    # ----------------------------------------------------------------- 1. sample

    def candidates(self, batch: pa.Table) -> pa.Table:
        """This block's best ``sample_per_group`` (group, hash, id) rows per group."""

        cfg = self.config
        batch = batch.filter(alive_mask(batch))
        ids = batch.column("id").to_pylist()
        groups = self._groups(batch)
        chosen = np.flatnonzero(sample_per_group(ids, groups, cfg.sample_per_group, cfg.seed))
        return pa.table({"group": [groups[i] for i in chosen], "hash": [seeded_key(cfg.seed, ids[i]) for i in chosen],
                         "id": [ids[i] for i in chosen]})

    def _groups(self, batch: pa.Table) -> list[str]:
        columns = [batch.column(c).to_pylist() if c in batch.column_names else [None] * batch.num_rows
                   for c in self.config.group_by]
        return ["/".join(str(v) for v in values) for values in zip(*columns)] if columns else [""] * batch.num_rows

    # ----------------------------------------------------------------- the global step

    def fit(self, ds, ctx: FitContext) -> tuple[bytes, dict[str, float]]:
        """Judge the sample and train the scorer (or load the saved one); returns (the scorer's
        bytes, the judge's score per judged id)."""
        import ray

        from curate.quality.distill import DistilledScorer, agreement

        cfg = self.config
        summary: dict[str, float] = {}
        judged_scores: dict[str, float] = {}
        if cfg.scorer:
            blob = Path(cfg.scorer).read_bytes()
        else:
            proposals = pa.concat_tables(ray.get(ds.map_batches(self.candidates, batch_format="pyarrow",
                                                                batch_size=None).to_arrow_refs()) or
                                         [pa.table({"group": [], "hash": pa.array([], pa.binary()), "id": []})])
            best: dict[str, list[tuple[bytes, str]]] = {}
            for group, key, doc_id in zip(*(proposals.column(c).to_pylist() for c in ("group", "hash", "id"))):
                best.setdefault(group, []).append((key, doc_id))
            chosen = {doc_id for rows in best.values() for _, doc_id in sorted(rows)[: cfg.sample_per_group]}
            judged = self._judge(ds, chosen)
            lost = {i for i, score in enumerate(judged["score"]) if score != score}  # NaN: a served judge's failed request
            if lost:
                judged = {name: [v for i, v in enumerate(values) if i not in lost] for name, values in judged.items()}
                summary["judge_errors"] = len(lost)
            judged_scores = dict(zip(judged["id"], judged["score"]))
            order = sorted(range(len(judged["id"])), key=lambda i: seeded_key(cfg.seed + 1, judged["id"][i]))
            cut = int(round(len(order) * (1 - cfg.heldout)))
            train, held = order[:cut] or order, order[cut:]
            scorer = DistilledScorer.train([judged["text"][i] for i in train], [judged["score"][i] for i in train],
                                           epoch=cfg.epoch, word_ngrams=cfg.word_ngrams, seed=cfg.seed)
            target = (ctx.artifacts_dir or Path(tempfile.mkdtemp())) / "scorer.bin"
            blob = Path(scorer.save(target)).read_bytes()
            summary["judged_docs"] = len(judged["id"])
            if held:
                result = agreement([judged["score"][i] for i in held],
                                   scorer.score([judged["text"][i] for i in held]), cfg.agreement_threshold)
                summary.update(heldout_docs=result.n, heldout_f1=result.f1, heldout_spearman=result.spearman)
        ctx.report(**summary)
        return blob, judged_scores

    def _judge(self, ds, chosen: set[str]) -> dict[str, list]:
        import ray

        cfg = self.config
        from curate.models.host import ModelHost

        options = {"model": cfg.judge.model.model_dump(),
                   "judge": cfg.judge.model_dump(exclude={"model"}) | {"perplexity": False}}
        sample = ds.map_batches(_select, fn_kwargs={"wanted": ray.put(chosen)}, batch_format="pyarrow", batch_size=None)
        actors = cfg.resources.concurrency or 1
        # the judges run beside the tasks that select their sample: on a small cluster they must leave a CPU
        judged = sample.map_batches(ModelHost, fn_constructor_kwargs=options, batch_format="pyarrow",
                                    batch_size=cfg.resources.batch_size,
                                    compute=ray.data.ActorPoolStrategy(size=actors),
                                    **cfg.resources.actor_options_on(ray.cluster_resources().get("CPU", 1), actors))
        tables = ray.get(judged.to_arrow_refs())
        table = pa.concat_tables(tables) if tables else pa.table({"id": [], "text": [], "score": []})
        return table.to_pydict()

    def process(self, batch: pa.Table) -> pa.Table:
        """Every document's distilled score, the judge's score where it judged, the thresholds."""
        blob, judged = self.state
        scores = _scorer_from_bytes(blob).score(batch.column("text").to_pylist())
        ids = batch.column("id").to_pylist()
        batch = set_column(batch, "quality_score", pa.array(scores, pa.float64()))
        batch = set_column(batch, "quality_judge_score", pa.array([judged.get(i) for i in ids], pa.float64()))
        return reject_low_scores(batch, scores, self.config.thresholds, self.key, "distilled")


def _select(batch: pa.Table, wanted) -> pa.Table:
    """The live rows whose id is in ``wanted`` (an object ref of a set, fetched once per batch)."""
    import ray

    wanted = ray.get(wanted) if isinstance(wanted, ray.ObjectRef) else wanted
    ids = batch.column("id").to_pylist()
    alive = alive_mask(batch).to_pylist()
    return batch.filter(pa.array([a and i in wanted for i, a in zip(ids, alive)], pa.bool_()))
