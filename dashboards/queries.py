"""Questions analysts ask of a run's output, as lazy Polars queries over its Parquet.

Every function takes the run's output dir and returns a ``LazyFrame``; call ``.collect()``.
Nothing is read until then, so they stay cheap on large outputs.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl


def documents(output_dir: str | Path) -> pl.LazyFrame:
    return pl.scan_parquet(f"{output_dir}/documents/**/*.parquet")


def rejected(output_dir: str | Path) -> pl.LazyFrame:
    return pl.scan_parquet(f"{output_dir}/rejected/**/*.parquet")


def tokens_per_language(output_dir: str | Path) -> pl.LazyFrame:
    """Documents and tokens per language (code documents grouped as ``code:<language>``)."""
    language = pl.coalesce(pl.col("lang"), pl.lit("code:") + pl.col("code_language")).alias("language")
    return (
        documents(output_dir)
        .group_by(language)
        .agg(pl.len().alias("docs"), pl.col("n_tokens").cast(pl.Int64).sum().alias("tokens"))
        .sort("tokens", descending=True)
    )


def rejected_by_reason(output_dir: str | Path) -> pl.LazyFrame:
    """How many documents each stage dropped, and why."""
    return (
        rejected(output_dir)
        .group_by("reject_stage", "reject_reason")
        .agg(pl.len().alias("docs"))
        .sort("docs", descending=True)
    )


def lang_score_quantiles(output_dir: str | Path, quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)) -> pl.LazyFrame:
    """Language-ID confidence per language: where would a stricter threshold cut?"""
    return (
        documents(output_dir)
        .filter(pl.col("lang").is_not_null())
        .group_by("lang")
        .agg(pl.len().alias("docs"), *[pl.col("lang_score").quantile(q).alias(f"q{int(q * 100)}") for q in quantiles])
        .sort("lang")
    )
