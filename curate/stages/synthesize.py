"""Synthetic data with a Qwen model (a global stage): rephrasings, QA, solutions, explanations,
translations of the run's best documents, filtered like any data, with provenance.

1. **Select**: for each task, live documents of its domains (and languages), best
   ``quality_score`` first (a seeded hash of the id breaks ties and orders unscored ones), at
   most ``max_documents`` per task and ``per_language`` per language. Each block proposes its
   best; the driver keeps the top ones.
2. **Generate** on ``resources.concurrency`` Ray actors holding the model, in chunks, until the
   stage's ``max_documents`` / ``max_new_tokens`` budget is spent. Every generation is
   checkpointed (``checkpoint_dir``) under a key of model, revision, template, sampling and
   source text: a rerun with the same config generates nothing again.
3. **Filter** what was generated: empty or unfinished, every filter of ``filters`` (same specs
   as the filter stage: length, repetition, decontamination, ...), a distilled quality score
   below ``min_quality`` (``quality_scorer``: a distilled_quality scorer.bin), the wrong language (fastText
   LID against the source's or the target language), a near copy of its source (shingle
   Jaccard). Failures go to ``rejected/`` with the reason.
4. **Provenance** on every synthetic document: ``synthetic``, ``synth_source_id``, ``synth_task``,
   ``synth_template_hash``, ``synth_model``, ``synth_model_revision``, ``synth_sampling`` (JSON,
   seed included), ``synth_generated_at``. Synthetic documents get domain ``synthetic`` and flow
   into the stages after this one (dedup, tokenize) like the rest.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, model_validator

from curate.config import ConfigError
from curate.models.loading import ModelSpec, check_available
from curate.sampling import seeded_key
from curate.schema import BASE_SCHEMA, add_missing_columns, alive_mask, reject_rows
from curate.stage import FitContext, Mode, Resources, Stage, StageConfig
from curate.stages.filter import FilterSpec, setup_filters
from curate.synth.generator import SamplingConfig
from curate.synth.tasks import TaskConfig
from filters.langcodes import code_listed

SYNTHETIC_DOMAIN = "synthetic"
PROVENANCE: dict[str, pa.DataType] = {
    "synthetic": pa.bool_(), "synth_source_id": pa.string(), "synth_task": pa.string(),
    "synth_template_hash": pa.string(), "synth_model": pa.string(), "synth_model_revision": pa.string(),
    "synth_sampling": pa.string(), "synth_generated_at": pa.string(),
}


class SynthesizeConfig(StageConfig):
    model: ModelSpec
    sampling: SamplingConfig = SamplingConfig()
    tasks: list[TaskConfig] = Field(min_length=1)
    max_documents: int = Field(default=1000, gt=0, description="Generations in all (the document budget).")
    max_new_tokens: int | None = Field(default=None, gt=0, description="Generated tokens in all (the token budget).")
    max_doc_tokens: int = Field(default=1024, gt=0, description="Tokens of each source document in the prompt.")
    min_lang_score: float = Field(default=0.5, ge=0, le=1, description="LID confidence the output language needs.")
    max_copy_similarity: float = Field(default=0.8, gt=0, le=1, description="Shingle Jaccard with the source above which an output is a copy.")
    reject_unfinished: bool = Field(default=False, description="Reject outputs cut by max_new_tokens.")
    filters: list[FilterSpec] = Field(default_factory=list, description="Filter-stage filters applied to outputs.")
    quality_scorer: str | None = Field(
        default=None, description="A distilled scorer.bin (see distilled_quality) to score outputs with.")
    min_quality: float | None = Field(default=None, description="Outputs the scorer rates lower are rejected.")
    checkpoint_dir: str | None = Field(default=None, description="Where generations are kept for reruns (default: the curate cache).")
    chunk_size: int = Field(default=32, gt=0, description="Generations per actor call (budget checked between chunks).")
    seed: int = 0
    resources: Resources = Resources()

    @model_validator(mode="after")
    def _scorer_for_threshold(self) -> SynthesizeConfig:
        if self.min_quality is not None and self.quality_scorer is None:
            raise ValueError("min_quality needs quality_scorer (a scorer.bin from a distilled_quality run)")
        return self


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class Synthesize(Stage):
    name: ClassVar[str] = "synthesize"
    Config = SynthesizeConfig
    mode: ClassVar[Mode] = "global"
    fits_in_process: ClassVar[bool] = True
    extra_metrics: ClassVar[dict[str, type]] = {"synthetic_generated": int, "synthetic_reused": int, "docs_made": int}

    def output_columns(self) -> dict[str, pa.DataType]:
        return dict(PROVENANCE)

    def describe(self) -> str:
        cfg = self.config
        tasks = ", ".join(t.name for t in cfg.tasks)
        return f"{cfg.model.id}: {tasks}; budget {cfg.max_documents} documents" + (
            f", {cfg.max_new_tokens} tokens" if cfg.max_new_tokens else "")

    def preflight(self) -> None:
        check_available(self.config.model, f"stages.{self.key}.model.id")
        if self.config.quality_scorer and not Path(self.config.quality_scorer).is_file():
            raise ConfigError(f"stages.{self.key}.quality_scorer: {self.config.quality_scorer} does not exist")
        setup_filters(self.config.filters, f"stages.{self.key}.filters")

    def checkpoint_dir(self) -> Path:
        if self.config.checkpoint_dir:
            return Path(self.config.checkpoint_dir)
        from curate.tokenizer import cache_dir

        return cache_dir() / "synth"

    def sampling_json(self) -> str:
        return json.dumps(self.config.sampling.model_dump(), sort_keys=True)

    def generation_key(self, task: TaskConfig, target: str | None, source_text: str) -> str:
        m = self.config.model
        return _hash(m.id, m.revision or "", task.template_hash(), target or "", self.sampling_json(),
                     str(self.config.max_doc_tokens), hashlib.sha256(source_text.encode()).hexdigest())

    # ----------------------------------------------------------------- 1. select

    def proposals(self, batch: pa.Table) -> pa.Table:
        """This block's best candidate sources per task (and language): (task, lang, rank, id)."""
        batch = batch.filter(alive_mask(batch))
        out: dict[str, list] = {"task": [], "lang": [], "rank": [], "id": []}
        ids = batch.column("id").to_pylist()
        domains = batch.column("domain").to_pylist()
        langs = batch.column("lang").to_pylist() if "lang" in batch.column_names else [None] * len(ids)
        scores = (batch.column("quality_score").to_pylist() if "quality_score" in batch.column_names
                  else [None] * len(ids))
        for t, task in enumerate(self.config.tasks):
            rows = [i for i in range(len(ids)) if domains[i] in task.domains
                    and (task.languages is None or code_listed(langs[i], task.languages))
                    and (task.min_quality is None or (scores[i] is not None and scores[i] >= task.min_quality))]
            for i in rows:
                out["task"].append(t)
                out["lang"].append(langs[i])
                out["rank"].append(self._rank(ids[i], scores[i]))
                out["id"].append(ids[i])
        return pa.table({"task": pa.array(out["task"], pa.int32()), "lang": pa.array(out["lang"], pa.string()),
                         "rank": pa.array(out["rank"], pa.string()), "id": pa.array(out["id"], pa.string())})

    def _rank(self, doc_id: str, score: float | None) -> str:
        """Sorts ascending: higher quality first, then a seeded hash (stable across runs)."""
        quality = 0.0 if score is None or score != score else float(score)
        return f"{1e6 - quality * 1e3:014.3f}:{seeded_key(self.config.seed, doc_id)}"

    def select(self, proposals: pa.Table) -> dict[int, list[str]]:
        chosen: dict[int, list[str]] = {}
        order = pc.sort_indices(proposals, [("task", "ascending"), ("rank", "ascending")])
        taken: dict[tuple[int, Any], int] = {}
        for row in proposals.take(order).to_pylist():
            task = self.config.tasks[row["task"]]
            picked = chosen.setdefault(row["task"], [])
            if len(picked) >= task.max_documents:
                continue
            if task.per_language is not None and taken.get((row["task"], row["lang"]), 0) >= task.per_language:
                continue
            taken[(row["task"], row["lang"])] = taken.get((row["task"], row["lang"]), 0) + 1
            picked.append(row["id"])
        return chosen

    # ----------------------------------------------------------------- the global step

    def fit(self, ds, ctx: FitContext) -> None:
        """Pick the sources, generate (or reuse checkpointed generations) and check them; the
        generations are :meth:`documents_made`, the per-batch pass only adds provenance columns."""
        from curate.runtime.local import LocalDataset

        cfg = self.config
        if isinstance(ds, LocalDataset):  # the in-process executor
            tables = [t for t in ds.map_tables(self.proposals) if t.num_rows]
        else:
            import ray

            tables = [t for t in ray.get(ds.map_batches(self.proposals, batch_format="pyarrow",
                                                        batch_size=None).to_arrow_refs()) if t.num_rows]
        chosen = self.select(pa.concat_tables(tables)) if tables else {}
        wanted = {doc_id for ids in chosen.values() for doc_id in ids}
        if not wanted:
            sources = {}
        elif isinstance(ds, LocalDataset):
            ids = pa.array(sorted(wanted), pa.string())
            sources = {r["id"]: r for t in ds.tables() for r in t.filter(pc.is_in(t.column("id"), ids)).to_pylist()}
        else:
            sources = {r["id"]: r for r in ds.filter(lambda r, w=wanted: r["id"] in w).take_all()}
        jobs = []
        for t, ids in sorted(chosen.items()):
            task = cfg.tasks[t]
            for doc_id in ids:
                src = sources[doc_id]
                for target in (task.target_languages or [None]):
                    jobs.append({"task": t, "target": target, "source_id": doc_id, "source_text": src["text"],
                                 "source_lang": src.get("lang"), "template": task.render(target),
                                 "system_prompt": task.system_prompt,
                                 "key": self.generation_key(task, target, src["text"])})
        jobs = jobs[: cfg.max_documents]
        done, generated, reused = self._generate(jobs, in_process=isinstance(ds, LocalDataset))
        table = self._synthetic_table(jobs, done)
        rejected = int(pc.sum(pc.is_valid(table.column("reject_stage"))).as_py() or 0)
        # the generations join the flow here: counted in and out (and rejected when they fail their
        # checks), and apart as docs_made, so the funnel can show them as their own series
        ctx.report(synthetic_generated=generated, synthetic_reused=reused, docs_in=table.num_rows,
                   docs_out=table.num_rows - rejected, rejected=rejected, docs_made=table.num_rows - rejected)
        self._made = table

    def documents_made(self) -> pa.Table | None:
        return getattr(self, "_made", None)

    def _generate(self, jobs: list[dict], in_process: bool = False) -> tuple[dict[str, dict], int, int]:
        """Generations for every job, from the checkpoint when there, else from the actors (or one
        model in this process, ``in_process``; budget checked between chunks); returns (by key,
        newly generated, reused)."""
        cfg = self.config
        folder = self.checkpoint_dir()
        folder.mkdir(parents=True, exist_ok=True)
        done: dict[str, dict] = {}
        for path in sorted(folder.glob("*.parquet")):
            for row in pq.read_table(path).to_pylist():
                done[row["key"]] = row
        todo = [j for j in jobs if j["key"] not in done]
        reused = len(jobs) - len(todo)
        tokens = sum(done[j["key"]]["new_tokens"] for j in jobs if j["key"] in done)
        generated = 0
        if todo and (cfg.max_new_tokens is None or tokens < cfg.max_new_tokens):
            from curate.models.host import ModelHost

            host_args = (cfg.model.model_dump(),)
            host_kwargs = {"sampling": cfg.sampling.model_dump(), "max_doc_tokens": cfg.max_doc_tokens}
            if in_process:
                host = ModelHost(*host_args, **host_kwargs)
                actors: list = []

                def run_wave(sent: list[list[dict]]) -> list:
                    return [host.generate(chunk) for chunk in sent]

                def stop() -> None:
                    pass
            else:
                import ray

                count = cfg.resources.concurrency or 1
                options = cfg.resources.actor_options_on(ray.cluster_resources().get("CPU", 1), count)
                actor_class = ray.remote(**options)(ModelHost)
                actors = [actor_class.remote(*host_args, **host_kwargs) for _ in range(count)]

                def run_wave(sent: list[list[dict]]) -> list:
                    return ray.get([actors[k].generate.remote(chunk) for k, chunk in enumerate(sent)])

                def stop() -> None:
                    for actor in actors:
                        ray.kill(actor)
            chunks = [todo[i : i + cfg.chunk_size] for i in range(0, len(todo), cfg.chunk_size)]
            while chunks and (cfg.max_new_tokens is None or tokens < cfg.max_new_tokens):
                sent = [chunks.pop(0) for _ in range(min(len(actors) or 1, len(chunks)))]
                for chunk, made in zip(sent, run_wave(sent)):
                    rows = _generation_rows(chunk, made)
                    kept = [r for r in rows if r["error"] is None]  # a lost request is asked again next run
                    if kept:
                        stamp = _hash(*(r["key"] for r in kept))[:16]
                        pq.write_table(pa.Table.from_pylist(kept), folder / f"{stamp}.parquet.tmp")
                        (folder / f"{stamp}.parquet.tmp").replace(folder / f"{stamp}.parquet")  # checkpoint
                    for r in rows:
                        done[r["key"]] = r
                        tokens += r["new_tokens"]
                        generated += r["error"] is None
            stop()
        return done, generated, reused

    def _synthetic_table(self, jobs: list[dict], done: dict[str, dict]) -> pa.Table:
        """Rows for every job that has a generation (budget permitting), checked and rejected."""
        cfg = self.config
        rows = []
        for job in jobs:
            made = done.get(job["key"])
            if made is None:  # the token budget ran out first
                continue
            task = cfg.tasks[job["task"]]
            suffix = f"/{job['target']}" if job["target"] else ""
            rows.append({
                "id": f"synthetic/{task.name}/{job['source_id']}{suffix}", "text": made["text"], "source": self.key,
                "domain": SYNTHETIC_DOMAIN, "synthetic": True, "synth_source_id": job["source_id"],
                "synth_task": task.name, "synth_template_hash": task.template_hash(), "synth_model": cfg.model.id,
                "synth_model_revision": cfg.model.revision, "synth_sampling": self.sampling_json(),
                "synth_generated_at": made["generated_at"], "_finish": made["finish_reason"],
                "_expected_lang": (job["target"] if task.language_rule == "target"
                                   else job["source_lang"] if task.language_rule == "source" else None),
                "_source_text": job["source_text"], "_error": made.get("error"),
            })
        schema = BASE_SCHEMA
        for name, dtype in PROVENANCE.items():
            schema = schema.append(pa.field(name, dtype))
        table = pa.Table.from_pylist([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows], schema=schema)
        if not rows:
            return table.append_column("lang", pa.array([], pa.string())).append_column("lang_score", pa.array([], pa.float32()))
        table = self._language(table)
        langs = table.column("lang").to_pylist()
        lang_scores = table.column("lang_score").to_pylist()
        reasons: list[str | None] = [None] * len(rows)
        details: list[str | None] = [None] * len(rows)
        for i, r in enumerate(rows):
            reasons[i], details[i] = self._verdict(r, langs[i], lang_scores[i] or 0.0)
        mask = np.array([r is not None for r in reasons], dtype=bool)
        return reject_rows(table, mask, self.key, reasons, details)

    def _verdict(self, row: dict, lang: str | None, lang_score: float) -> tuple[str | None, str | None]:
        """Why a generation is rejected (reason, detail), checked cheapest first; (None, None) keeps it."""
        from curate.dedup.minhash import jaccard, normalize_for_dedup, shingles

        cfg = self.config
        text = row["text"]
        if row["_error"]:
            return "inference_error", row["_error"]
        if not text.strip():
            return "empty_generation", "the model produced no text"
        if cfg.reject_unfinished and row["_finish"] == "length":
            return "unfinished_generation", f"stopped at max_new_tokens={cfg.sampling.max_new_tokens}"
        for flt in cfg.filters:
            if flt.applies_to(SYNTHETIC_DOMAIN, lang):
                _, _, verdict = flt.check(text, lang)
                if verdict is not None:
                    return f"{flt.name}.{verdict.reason}", verdict.detail
        if cfg.min_quality is not None:
            score = float(self._scorer().score([text])[0])
            if score < cfg.min_quality:
                return "low_quality", f"distilled score {score:.3f} < {cfg.min_quality:g}"
        expected = row["_expected_lang"]
        if expected and (lang != expected or lang_score < cfg.min_lang_score):
            return "wrong_language", f"expected {expected}, got {lang} ({lang_score:.2f})"
        similarity = jaccard(shingles(normalize_for_dedup(text)), shingles(normalize_for_dedup(row["_source_text"])))
        if similarity > cfg.max_copy_similarity:
            return "copy_of_source", f"Jaccard {similarity:.2f} with {row['synth_source_id']}"
        return None, None

    def _scorer(self):
        if getattr(self, "_quality_scorer", None) is None:
            from curate.quality.distill import DistilledScorer

            self._quality_scorer = DistilledScorer.load(self.config.quality_scorer)
        return self._quality_scorer

    def _language(self, table: pa.Table) -> pa.Table:
        """lang / lang_score of each generation, from the same fastText LID as the langid stage."""
        from curate.stages.langid import LangIDConfig, LanguageID

        lid = LanguageID(LangIDConfig(below_threshold="keep_as_und", threshold=0.0), key="synth_lid")
        lid.setup()
        scored = lid.process(table)
        return table.append_column("lang", scored.column("lang")).append_column(
            "lang_score", scored.column("lang_score").cast(pa.float32()))

    def column_defaults(self) -> dict[str, object]:
        return {"synthetic": False}

    def process(self, batch: pa.Table) -> pa.Table:
        """The run's own documents, marked as not synthetic (provenance columns null)."""
        return add_missing_columns(batch, dict(PROVENANCE), self.column_defaults())


def _generation_rows(jobs: list[dict], made: list) -> list[dict]:
    """What the checkpoint keeps per generation, by the job's key."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return [{"key": j["key"], "text": g.text, "new_tokens": g.new_tokens, "finish_reason": g.finish_reason,
             "generated_at": now, "error": g.error} for j, g in zip(jobs, made)]
