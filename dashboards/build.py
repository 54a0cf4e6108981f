"""Build the dashboard: run the queries, draw the charts, write one self-contained HTML page.

The page carries everything it needs (plotly.js inlined, the data as JSON), so it opens from a
file with no network. Document text and every other value from the run reach the page only as
JSON inside a ``<script type="application/json">`` (with ``<``, ``>`` and ``&`` escaped), and the
page's script puts them into the DOM with ``textContent``: data never runs as HTML or script. A
Content-Security-Policy that allows only the page's own scripts (by hash) backs that up.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from dashboards import charts, queries
from dashboards.sample import browser_sample

_HERE = Path(__file__).parent


@dataclass
class RunData:
    """One run's collected query results: small frames, whatever the size of the run."""

    label: str
    output_dir: Path
    summary: dict[str, Any]
    thresholds: dict[str, Any]
    funnel: pl.DataFrame
    reasons: pl.DataFrame
    languages: pl.DataFrame
    language_tail: pl.DataFrame
    domains: pl.DataFrame
    quality_hist: pl.DataFrame | None = None
    quality_by_lang: pl.DataFrame | None = None
    lang_score: pl.DataFrame | None = None
    clusters: pl.DataFrame | None = None
    synthetic: pl.DataFrame | None = None
    synth_tasks: pl.DataFrame | None = None
    token_lengths: pl.DataFrame | None = None
    decontamination: pl.DataFrame | None = None
    sample: list[dict[str, Any]] = field(default_factory=list)


def load_run(output_dir: str | Path, label: str | None = None, per_group: int = 4,
             max_text_chars: int = 3000) -> RunData:
    """Run every query over one output dir (in one Polars batch, streaming) and take the browser sample."""
    out = Path(output_dir)
    if not (out / "stats" / "summary.json").is_file():
        raise FileNotFoundError(f"{out}: no stats/summary.json (not a curate output dir, or the run did not finish)")
    have = queries.columns(queries.documents(out)) | queries.columns(queries.rejected(out))
    lazy: dict[str, pl.LazyFrame] = {
        "funnel": queries.stage_funnel(out),
        "reasons": queries.rejected_by_reason(out),
        "languages": queries.tokens_per_language(out),
        "language_tail": queries.language_tail(out),
        "domains": queries.domains_and_sources(out),
    }
    if "quality_score" in have:
        lazy["quality_hist"] = queries.score_histogram(out, "quality_score", "domain", width=0.1)
        lazy["quality_by_lang"] = queries.binned_quantiles(out, "quality_score", queries.language_expr(), width=0.01)
    if "lang_score" in have:
        lazy["lang_score"] = (queries.binned_quantiles(out, "lang_score", "lang", width=0.002)
                              .filter(pl.col("lang").is_not_null()))
    if "dup_cluster" in have:
        lazy["clusters"] = queries.dup_cluster_sizes(out)
    if "synthetic" in have:
        lazy["synthetic"] = queries.synthetic_share(out)
    if "synth_task" in have:
        lazy["synth_tasks"] = queries.synthetic_tasks(out)
    if "n_tokens" in have:
        lazy["token_lengths"] = queries.token_length_histogram(out)
    frames = dict(zip(lazy, pl.collect_all(list(lazy.values()), engine="streaming")))
    frames["decontamination"] = queries.decontamination(out)
    return RunData(
        label=label or out.name, output_dir=out, summary=queries.summary(out), thresholds=queries.thresholds(out),
        sample=browser_sample(out, per_group=per_group, max_text_chars=max_text_chars), **frames,
    )


def _overview(run: RunData) -> dict[str, Any]:
    s = run.summary
    return {"label": run.label, "output_dir": str(run.output_dir), "pipeline": s.get("pipeline"),
            "config": s.get("config"), "config_hash": s.get("config_hash"), "documents": s.get("documents"),
            "tokens": s.get("tokens"), "rejected": s.get("rejected"), "wall_seconds": s.get("wall_seconds"),
            "languages": run.languages.height}


def _json_for_script(value: Any) -> str:
    """JSON that can sit inside a <script> element: no '<', '>' or '&' survives as itself."""
    text = json.dumps(value, ensure_ascii=False, default=str, allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def render(runs: list[RunData]) -> str:
    """The page for one run or two, as an HTML string."""
    import jinja2
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    figures = []
    for chart in charts.ALL:
        fig = chart(runs)
        if fig is not None:
            figures.append({"id": chart.__name__, "figure": json.loads(pio.to_json(fig, validate=False))})
    data = {"runs": [_overview(run) for run in runs], "figures": figures,
            "samples": {run.label: run.sample for run in runs}}
    scripts = [get_plotlyjs(), (_HERE / "page.js").read_text(encoding="utf-8")]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_HERE), autoescape=True)
    return env.get_template("page.html.j2").render(
        title=" vs ".join(run.label for run in runs), runs=data["runs"], figures=figures,
        data_json=_json_for_script(data), scripts=scripts, script_hashes=" ".join(_sha256(s) for s in scripts),
        css=(_HERE / "page.css").read_text(encoding="utf-8"),
    )


def build(output_dir: str | Path, out_html: str | Path, compare: str | Path | None = None,
          labels: tuple[str | None, str | None] = (None, None), per_group: int = 4) -> Path:
    """Write the dashboard for ``output_dir`` (and ``compare``, if given) to ``out_html``."""
    runs = [load_run(output_dir, labels[0], per_group=per_group)]
    if compare is not None:
        runs.append(load_run(compare, labels[1], per_group=per_group))
        if runs[0].label == runs[1].label:
            runs[0].label, runs[1].label = f"A: {runs[0].label}", f"B: {runs[1].label}"
    path = Path(out_html)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(runs), encoding="utf-8")
    return path
