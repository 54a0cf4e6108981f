"""Questions analysts ask of a run's output, as lazy Polars queries over its Parquet.

Every Parquet query takes the run's output dir and returns a ``LazyFrame``; call ``.collect()``.
Nothing is read until then, and each query names only the columns it needs, so the ``text``
column (most of the bytes) is never read for an aggregate: they stay cheap on outputs with tens
of millions of rows. The dashboard (``python -m dashboards build``) draws exactly these frames.

``documents`` are the kept rows, ``rejected`` the dropped ones (``reject_stage``,
``reject_reason``, ``reject_detail``). ``scored`` is both, with a ``status`` column (``kept`` or
``rejected: <stage>``): a threshold only makes sense next to what it cut.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

#: Columns every scan answers with, null where a run has none (no rejected/ files at all; no
#: langid or tokenize stage), so the queries below work on any run's output.
_BASE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(), "text": pl.String(), "source": pl.String(), "domain": pl.String(), "lang": pl.String(),
    "code_language": pl.String(), "n_tokens": pl.Int32(), "reject_stage": pl.String(), "reject_reason": pl.String(),
    "reject_detail": pl.String(),
}

Quantiles = tuple[float, ...]


def parquet_files(output_dir: str | Path, folder: str) -> list[Path]:
    """The Parquet part files of one output folder, in a stable order."""
    return sorted(Path(output_dir, folder).glob("**/*.parquet"))


def _scan(output_dir: str | Path, folder: str) -> pl.LazyFrame:
    files = parquet_files(output_dir, folder)
    if not files:
        return pl.LazyFrame(schema=_BASE_SCHEMA)
    # Part files written by different batches can differ in columns (a stage that saw no rows of
    # a batch adds none): missing ones read as null rather than failing the whole scan.
    scan = pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore")
    have = scan.collect_schema()
    missing = [pl.lit(None, dtype).alias(name) for name, dtype in _BASE_SCHEMA.items()
               if name not in have and (folder == "rejected" or not name.startswith("reject_"))]
    return scan.with_columns(missing) if missing else scan


def documents(output_dir: str | Path) -> pl.LazyFrame:
    return _scan(output_dir, "documents")


def rejected(output_dir: str | Path) -> pl.LazyFrame:
    return _scan(output_dir, "rejected")


def columns(frame: pl.LazyFrame) -> set[str]:
    """Column names of a scan (reads only Parquet metadata)."""
    return set(frame.collect_schema().names())


def summary(output_dir: str | Path) -> dict[str, Any]:
    """``stats/summary.json``: what the run itself counted (per-stage funnel, config, totals)."""
    return json.loads(Path(output_dir, "stats", "summary.json").read_text(encoding="utf-8"))


def language_expr() -> pl.Expr:
    """A document's language: ``lang`` for text, ``code:<language>`` for code."""
    return pl.coalesce(pl.col("lang"), pl.lit("code:") + pl.col("code_language")).alias("language")


def _tokens() -> pl.Expr:
    # Polars keeps the sum of an Int32 column as Int32: widen first.
    return pl.col("n_tokens").cast(pl.Int64).sum().alias("tokens")


def scored(output_dir: str | Path, *names: str) -> pl.LazyFrame:
    """Kept and rejected rows together (only ``names``), with ``status``: kept or ``rejected: <stage>``."""
    kept = documents(output_dir)
    dropped = rejected(output_dir)
    wanted = [n for n in names if n in columns(kept) | columns(dropped)]
    return pl.concat([
        kept.select(pl.lit("kept").alias("status"), *_select_or_null(kept, wanted)),
        dropped.select((pl.lit("rejected: ") + pl.col("reject_stage")).alias("status"), *_select_or_null(dropped, wanted)),
    ], how="vertical_relaxed")


def _select_or_null(frame: pl.LazyFrame, names: list[str]) -> list[pl.Expr]:
    have = frame.collect_schema()
    return [pl.col(n) if n in have else pl.lit(None).alias(n) for n in names]


# --- the funnel ----------------------------------------------------------------------------------


def stage_funnel(output_dir: str | Path) -> pl.LazyFrame:
    """Per stage: documents and bytes in and out, and rejections, as the run counted them.

    ``docs_out`` is the flow: the documents that went on from the stage, its own generations
    included; ``docs_made`` is how many of them the stage made (synthesis), so they can be shown
    apart. Tokens exist only from the tokenize stage on (the kept documents' ``n_tokens``), so
    ``tokens_out`` is filled for that stage and the ones after it.
    """
    info = summary(output_dir)
    rows = [{k: row.get(k, 0) for k in ("stage", "docs_in", "docs_out", "rejected", "bytes_in", "bytes_out",
                                        "docs_made")}
            for row in info["stages"]]
    uses = {key: cfg.get("uses", key) for key, cfg in info.get("stage_config", {}).items()}
    tokenized = False
    for row in rows:
        tokenized = tokenized or uses.get(row["stage"], row["stage"]) == "tokenize"
        row["tokens_out"] = info.get("tokens") if tokenized else None
    return pl.LazyFrame(rows, schema={"stage": pl.String, "docs_in": pl.Int64, "docs_out": pl.Int64,
                                      "rejected": pl.Int64, "bytes_in": pl.Int64, "bytes_out": pl.Int64,
                                      "docs_made": pl.Int64, "tokens_out": pl.Int64}).with_row_index("step")


def rejected_per_stage(output_dir: str | Path) -> pl.LazyFrame:
    """Rejected rows per stage, from ``rejected/`` (equals the summary's ``rejected`` per stage)."""
    return rejected(output_dir).group_by("reject_stage").agg(pl.len().alias("docs")).sort("docs", descending=True)


# --- languages, domains, sources -----------------------------------------------------------------


def tokens_per_language(output_dir: str | Path) -> pl.LazyFrame:
    """Documents and tokens per language (code documents grouped as ``code:<language>``)."""
    return (
        documents(output_dir)
        .group_by(language_expr())
        .agg(pl.len().alias("docs"), _tokens())
        .sort("tokens", "language", descending=[True, False], nulls_last=True)
    )


def language_tail(output_dir: str | Path, top: int = 30) -> pl.LazyFrame:
    """Languages ranked by tokens with their share and cumulative share; ``top`` names the head."""
    ranked = tokens_per_language(output_dir)
    total = pl.col("tokens").sum()
    return ranked.with_columns(
        rank=pl.int_range(1, pl.len() + 1),
        share=pl.col("tokens") / total,
        cumulative_share=pl.col("tokens").cum_sum() / total,
    ).with_columns(in_top=pl.col("rank") <= top)


def domains_and_sources(output_dir: str | Path) -> pl.LazyFrame:
    """Kept documents and tokens, and rejected documents, per domain and source."""
    kept = documents(output_dir).group_by("domain", "source").agg(pl.len().alias("docs"), _tokens())
    dropped = rejected(output_dir).group_by("domain", "source").agg(pl.len().alias("rejected"))
    return (
        kept.join(dropped, on=["domain", "source"], how="full", coalesce=True, nulls_equal=True)
        .with_columns(pl.col("docs", "tokens", "rejected").fill_null(0))
        .sort("tokens", "docs", descending=True)
    )


# --- rejections ----------------------------------------------------------------------------------


def rejected_by_reason(output_dir: str | Path) -> pl.LazyFrame:
    """How many documents each stage dropped, and why; ``filter`` is the filter of a ``<filter>.<tag>`` reason."""
    return (
        rejected(output_dir)
        .group_by("reject_stage", "reject_reason")
        .agg(pl.len().alias("docs"))
        .with_columns(
            filter=pl.when(pl.col("reject_reason").str.contains(".", literal=True))
            .then(pl.col("reject_reason").str.split(".").list.first())
        )
        .sort(["docs", "reject_stage", "reject_reason"], descending=[True, False, False])
    )


# --- scores and thresholds -----------------------------------------------------------------------


def score_quantiles(output_dir: str | Path, column: str = "quality_score",
                    by: str | pl.Expr | list[str | pl.Expr] = "domain",
                    quantiles: Quantiles = (0.1, 0.25, 0.5, 0.75, 0.9)) -> pl.LazyFrame:
    """Quantiles of a score over kept documents per group (linear interpolation, like numpy's default).

    ``by`` takes column names or expressions (``language_expr()`` groups code by its language).
    """
    keys = [pl.col(b) if isinstance(b, str) else b for b in ([by] if isinstance(by, str | pl.Expr) else by)]
    names = [k.meta.output_name() for k in keys]
    return (
        documents(output_dir)
        .filter(pl.col(column).is_not_null())
        .group_by(keys)
        .agg(
            pl.len().alias("docs"),
            pl.col(column).min().alias("min"),
            *[pl.col(column).quantile(q, interpolation="linear").alias(f"q{round(q * 100)}") for q in quantiles],
            pl.col(column).max().alias("max"),
        )
        .sort(["docs", *names], descending=[True, *[False] * len(names)], nulls_last=True)
    )


def binned_quantiles(output_dir: str | Path, column: str = "quality_score",
                     by: str | pl.Expr | list[str | pl.Expr] = "domain", width: float = 0.01,
                     quantiles: Quantiles = (0.1, 0.25, 0.5, 0.75, 0.9)) -> pl.LazyFrame:
    """:func:`score_quantiles` in bounded memory: read off a histogram with bins of ``width``.

    Exact quantiles hold every value of the column (10M documents: about 1 GB with the group
    keys); this holds one count per group and bin, and is within ``width`` of the exact answer
    (each quantile is the middle of the bin that holds it, clipped to the group's min and max).
    The dashboard draws these.
    """
    keys = [pl.col(b) if isinstance(b, str) else b for b in ([by] if isinstance(by, str | pl.Expr) else by)]
    names = [k.meta.output_name() for k in keys]
    value = pl.col(column)
    counts = (  # one scan: a shared scan would be cached, i.e. held in memory whole
        documents(output_dir).filter(value.is_not_null())
        .group_by(*keys, (value / width).floor().alias("bin"))
        .agg(pl.len().alias("n"), value.min().alias("lo"), value.max().alias("hi"))
        .sort(*names, "bin", nulls_last=True)
        .with_columns(cum=pl.col("n").cum_sum().over(names), total=pl.col("n").sum().over(names))
    )
    labels = [f"q{round(q * 100)}" for q in quantiles]
    return (
        counts.group_by(names).agg(
            pl.col("n").sum().alias("docs"), pl.col("lo").min().alias("min"),
            *[((pl.col("bin").filter(pl.col("cum") >= q * pl.col("total")).first() + 0.5) * width).alias(label)
              for q, label in zip(quantiles, labels)],
            pl.col("hi").max().alias("max"))
        .with_columns(pl.col(label).clip(pl.col("min"), pl.col("max")) for label in labels)
        .sort(["docs", *names], descending=[True, *[False] * len(names)], nulls_last=True)
    )


def lang_score_quantiles(output_dir: str | Path, quantiles: Quantiles = (0.1, 0.5, 0.9)) -> pl.LazyFrame:
    """Language-ID confidence per language: where would a stricter threshold cut?"""
    return (
        documents(output_dir)
        .filter(pl.col("lang").is_not_null())
        .group_by("lang")
        .agg(pl.len().alias("docs"), *[pl.col("lang_score").quantile(q).alias(f"q{int(q * 100)}") for q in quantiles])
        .sort("lang")
    )


def score_histogram(output_dir: str | Path, column: str = "quality_score", by: str = "domain",
                    width: float = 0.1) -> pl.LazyFrame:
    """Counts of a score in bins of ``width`` per group and status (kept, or the stage that rejected)."""
    return (
        scored(output_dir, column, by)
        .filter(pl.col(column).is_not_null())
        .with_columns(bin=((pl.col(column) / width).floor() * width).round(9))
        .group_by(by, "status", "bin")
        .agg(pl.len().alias("docs"))
        .sort(by, "status", "bin", nulls_last=True)
    )


def thresholds(output_dir: str | Path) -> dict[str, Any]:
    """The thresholds the run used, from ``stage_config`` in the summary.

    ``quality``: minimum ``quality_score`` per domain (``*`` for any other), from quality and
    distilled_quality stages. ``lang_score``: minimum per language as the langid stage applies it
    (:meth:`LangIDConfig.score_minimums`), with ``fallback`` for the rest.
    """
    from curate.stages.langid import LangIDConfig

    quality: dict[str, float] = {}
    lang: dict[str, float] = {}
    fallback = None
    for cfg in summary(output_dir).get("stage_config", {}).values():
        if cfg.get("uses") in ("quality", "distilled_quality"):
            quality.update(cfg.get("thresholds") or {})
        elif cfg.get("uses") == "langid":
            known = {k: v for k, v in cfg.items() if k in LangIDConfig.model_fields}
            minimums, fallback = LangIDConfig.model_validate(known).score_minimums()
            lang.update(minimums)
    return {"quality": quality, "lang_score": lang, "lang_score_fallback": fallback}


def quality_threshold(limits: dict[str, float], domain: str | None) -> float | None:
    """The minimum quality_score a domain was held to: the stages' own rule
    (:func:`curate.quality.thresholds.domain_threshold`)."""
    from curate.quality.thresholds import domain_threshold

    return domain_threshold(limits, domain)


# --- dedup, synthetic, token lengths --------------------------------------------------------------


def dup_cluster_sizes(output_dir: str | Path) -> pl.LazyFrame:
    """Duplicate clusters by size: how many clusters had ``size`` members (one kept, the rest rejected)."""
    return (
        scored(output_dir, "dup_cluster", "dup_cluster_size")
        .filter(pl.col("dup_cluster").is_not_null())
        .group_by("dup_cluster")
        .agg(pl.col("dup_cluster_size").max().alias("size"))
        .group_by("size")
        .agg(pl.len().alias("clusters"))
        .with_columns(removed=pl.col("clusters") * (pl.col("size") - 1))
        .sort("size")
    )


def synthetic_share(output_dir: str | Path) -> pl.LazyFrame:
    """Kept documents and tokens that are synthetic vs natural, with their share."""
    return (
        documents(output_dir)
        .group_by(pl.col("synthetic").fill_null(False).alias("synthetic"))
        .agg(pl.len().alias("docs"), _tokens())
        .with_columns(doc_share=pl.col("docs") / pl.col("docs").sum(),
                      token_share=pl.col("tokens") / pl.col("tokens").sum())
        .sort("synthetic")
    )


def synthetic_tasks(output_dir: str | Path) -> pl.LazyFrame:
    """Per synthesis task: generations kept, and rejected by stage and reason."""
    return (
        scored(output_dir, "synth_task", "reject_reason", "n_tokens")
        .filter(pl.col("synth_task").is_not_null())
        .with_columns(outcome=pl.when(pl.col("status") == "kept").then(pl.lit("kept"))
                      .otherwise(pl.col("status") + pl.lit(" · ") + pl.col("reject_reason")))
        .group_by("synth_task", "outcome")
        .agg(pl.len().alias("docs"), _tokens())
        .sort("synth_task", "outcome")
    )


def token_length_histogram(output_dir: str | Path, by: str = "domain", bins_per_octave: int = 4) -> pl.LazyFrame:
    """Kept documents per token-length bin (log scale: ``bins_per_octave`` bins per doubling)."""
    step = pl.col("n_tokens").cast(pl.Float64).log(2) * bins_per_octave
    return (
        documents(output_dir)
        .filter(pl.col("n_tokens") > 0)
        .with_columns(bin_low=(2.0 ** (step.floor() / bins_per_octave)),
                      bin_high=(2.0 ** ((step.floor() + 1) / bins_per_octave)))
        .group_by(by, "bin_low", "bin_high")
        .agg(pl.len().alias("docs"), _tokens())
        .sort(by, "bin_low", nulls_last=True)
    )


def decontamination(output_dir: str | Path) -> pl.DataFrame:
    """Per decontamination benchmark: documents that matched it, and its most-matched items (from
    the run summary's ``reports``; empty when the run had no decontamination filter)."""
    rows = []
    for stage, report in summary(output_dir).get("reports", {}).items():
        for name, part in (report.get("decontamination") or {}).get("benchmarks", {}).items():
            top = part.get("top_items", [])
            rows.append({"stage": stage, "benchmark": name, "documents": part.get("documents", 0),
                         "top_items": "<br>".join(f"{t['item']} ×{t['documents']}: {t.get('text') or ''}"[:120] for t in top[:5])})
    return pl.DataFrame(rows, schema={"stage": pl.String, "benchmark": pl.String, "documents": pl.Int64,
                                      "top_items": pl.String})
