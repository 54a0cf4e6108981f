"""Plotly figures drawn from the query results of one run or two (``--compare``).

Each function takes the runs' collected frames and returns a figure, or ``None`` when no run
has the columns it needs (a run without a quality stage has no score chart). With two runs every
chart draws one trace per run, named by the run's label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go
import polars as pl
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from dashboards.queries import quality_threshold

if TYPE_CHECKING:
    from dashboards.build import RunData

TEMPLATE = "plotly_white"
TOP_LANGUAGES = 30
DASHES = ("solid", "dot")  # line style per run when comparing


class Palette:
    """One colour per trace name across subplots (plotly would cycle colours per trace)."""

    def __init__(self) -> None:
        self.colours: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        if name not in self.colours:
            self.colours[name] = qualitative.Plotly[len(self.colours) % len(qualitative.Plotly)]
        return self.colours[name]


def _layout(fig: go.Figure, title: str, height: int = 420, **kwargs) -> go.Figure:
    """Title, size and margins every chart shares. The legend stands right of the plot (Plotly
    widens the margin for it), where rotated tick labels and axis titles cannot run into it; tick
    labels keep a few pixels off their axis, so the 0s of the two axes do not meet at the corner."""
    fig.update_layout(template=TEMPLATE, title=title, height=height, margin={"t": 60, "l": 60, "r": 20, "b": 60},
                      **kwargs)
    fig.update_xaxes(ticklabelstandoff=4)
    fig.update_yaxes(ticklabelstandoff=4)
    return fig


def _name(run: RunData, what: str, runs: list[RunData]) -> str:
    return f"{run.label} · {what}" if len(runs) > 1 else what


def funnel(runs: list[RunData]) -> go.Figure:
    """Documents, megabytes and tokens after each stage (rejections in the hover); the documents a
    stage made (synthesis) are a series of their own beside the flow, which includes them."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("documents out", "MB out", "tokens out (from tokenize on)"))
    for run in runs:
        f = run.funnel
        hover = [f"in {a:,} · out {b:,} · rejected {r:,}" for a, b, r in zip(f["docs_in"], f["docs_out"], f["rejected"])]
        fig.add_bar(x=f["stage"].to_list(), y=f["docs_out"].to_list(), name=_name(run, "documents", runs),
                    hovertext=hover, row=1, col=1)
        made = f["docs_made"].fill_null(0)
        if made.sum():
            fig.add_bar(x=f["stage"].to_list(), y=made.to_list(), name=_name(run, "generated here", runs),
                        hovertext=[f"{m:,} of the {o:,} documents out were made by this stage"
                                   for m, o in zip(made, f["docs_out"])], row=1, col=1)
        fig.add_bar(x=f["stage"].to_list(), y=(f["bytes_out"] / 1e6).to_list(), name=_name(run, "MB", runs),
                    hovertext=[f"in {a / 1e6:,.2f} MB" for a in f["bytes_in"]], row=1, col=2)
        fig.add_bar(x=f["stage"].to_list(), y=f["tokens_out"].to_list(), name=_name(run, "tokens", runs), row=1, col=3)
    return _layout(fig, "Funnel: what each stage let through", barmode="group")


def rejections(runs: list[RunData]) -> go.Figure | None:
    """Rejected documents by stage and reason (``filter.tag`` reasons name the filter)."""
    if not any(run.reasons.height for run in runs):
        return None
    fig = go.Figure()
    if len(runs) == 1:
        for (stage,), part in runs[0].reasons.group_by("reject_stage", maintain_order=True):
            fig.add_bar(y=(part["reject_stage"] + " · " + part["reject_reason"]).to_list(), x=part["docs"].to_list(),
                        orientation="h", name=stage)
    else:
        for run in runs:
            r = run.reasons
            fig.add_bar(y=(r["reject_stage"] + " · " + r["reject_reason"]).to_list(), x=r["docs"].to_list(),
                        orientation="h", name=run.label)
    n = len({reason for run in runs for reason in run.reasons["reject_reason"].to_list()})
    return _layout(fig, "Rejected documents by stage and reason", height=max(320, 60 + 22 * n),
                   barmode="group" if len(runs) > 1 else "stack", yaxis={"autorange": "reversed"},
                   xaxis_title="documents")


def languages(runs: list[RunData]) -> go.Figure:
    """The top languages by tokens, the rest summed as one bar."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"tokens, top {TOP_LANGUAGES}", "documents, same languages"))
    order = runs[0].languages.head(TOP_LANGUAGES)["language"].fill_null("—").to_list()
    for run in runs:
        lang = run.languages.with_columns(pl.col("language").fill_null("—"))
        top = lang.filter(pl.col("language").is_in(order))
        rest = lang.filter(~pl.col("language").is_in(order))
        x = [*order, f"{rest.height} more"] if rest.height else order
        by_name = {r["language"]: r for r in top.iter_rows(named=True)}
        tokens = [by_name.get(name, {}).get("tokens", 0) for name in order] + ([rest["tokens"].sum()] if rest.height else [])
        docs = [by_name.get(name, {}).get("docs", 0) for name in order] + ([rest["docs"].sum()] if rest.height else [])
        fig.add_bar(x=x, y=tokens, name=_name(run, "tokens", runs), row=1, col=1)
        fig.add_bar(x=x, y=docs, name=_name(run, "documents", runs), row=1, col=2)
    return _layout(fig, "Languages (code as code:<language>)", height=460, barmode="group")


def language_tail(runs: list[RunData]) -> go.Figure:
    """Every language by rank: tokens (log scale) and the cumulative share of tokens."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for run, dash in zip(runs, DASHES):
        t = run.language_tail
        names = t["language"].fill_null("—").to_list()
        fig.add_scatter(x=t["rank"].to_list(), y=t["tokens"].to_list(), mode="lines+markers", text=names,
                        line={"dash": dash},
                        hovertemplate="%{text}: %{y:,} tokens<extra></extra>", name=_name(run, "tokens", runs))
        fig.add_scatter(x=t["rank"].to_list(), y=t["cumulative_share"].to_list(), mode="lines", text=names,
                        line={"dash": "dash" if dash == "solid" else "dashdot"},
                        name=_name(run, "cumulative share", runs), secondary_y=True,
                        hovertemplate="%{text}: %{y:.1%} of tokens up to here<extra></extra>")
    fig.update_yaxes(type="log", dtick=1, title_text="tokens", secondary_y=False)  # decades only: labels 2..9 crowd
    fig.update_yaxes(range=[0, 1.02], tickmode="linear", dtick=0.2, tickformat=".0%", showgrid=False,
                     title_text="cumulative share", secondary_y=True)
    fig.update_xaxes(title_text="language rank")
    return _layout(fig, "The long tail of languages")


def domains(runs: list[RunData]) -> go.Figure:
    """Kept tokens per domain and source; kept and rejected documents in the hover."""
    fig = go.Figure()
    for run in runs:
        d = run.domains
        x = (d["domain"].fill_null("—") + " / " + d["source"].fill_null("—")).to_list()
        hover = [f"{k:,} kept · {r:,} rejected" for k, r in zip(d["docs"], d["rejected"])]
        fig.add_bar(x=x, y=d["tokens"].to_list(), hovertext=hover, name=_name(run, "tokens", runs))
    return _layout(fig, "Domains and sources (tokens kept)", barmode="group", yaxis_title="tokens")


def quality_by_domain(runs: list[RunData]) -> go.Figure | None:
    """Quality score histograms per domain, kept and rejected, with each domain's threshold."""
    runs_with = [run for run in runs if run.quality_hist is not None and run.quality_hist.height]
    if not runs_with:
        return None
    names = sorted({d for run in runs_with for d in run.quality_hist["domain"].fill_null("—").to_list()})
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, shared_xaxes=True)
    shown: set[str] = set()
    colour = Palette()
    for i, domain in enumerate(names):
        row, col = i // cols + 1, i % cols + 1
        for run in runs_with:
            h = run.quality_hist.filter(pl.col("domain").fill_null("—") == domain)
            statuses = ["kept"] if len(runs) > 1 else sorted(set(h["status"].to_list()), key=lambda s: s != "kept")
            for status in statuses:
                part = h.filter(pl.col("status") == status)
                name = _name(run, status, runs)
                fig.add_bar(x=part["bin"].to_list(), y=part["docs"].to_list(), name=name, legendgroup=name,
                            showlegend=name not in shown, marker_color=colour(name), row=row, col=col)
                shown.add(name)
            limit = quality_threshold(run.thresholds["quality"], None if domain == "—" else domain)
            if limit is not None:
                fig.add_vline(x=limit, line_dash="dash", line_color="#e63946", row=row, col=col,
                              annotation_text=_name(run, f"min {limit:g}", runs), annotation_position="top right")
    fig.update_xaxes(range=[0, 5])
    title = "Quality score per domain (dashed: the run's threshold)"
    if not any(run.thresholds["quality"] for run in runs_with):
        recorded = all("stage_config" in run.summary for run in runs_with)
        title = "Quality score per domain (" + ("no thresholds set" if recorded else
                                                "thresholds not recorded in stats/summary.json") + ")"
    return _layout(fig, title, height=300 * rows + 100, barmode="stack" if len(runs) == 1 else "overlay",
                   bargap=0.05)


def _boxes(fig: go.Figure, frame: pl.DataFrame, key: str, name: str, order: list[str]) -> None:
    rows = {r[key]: r for r in frame.iter_rows(named=True)}
    present = [k for k in order if k in rows]
    pick = [rows[k] for k in present]
    fig.add_trace(go.Box(
        x=present, q1=[r["q25"] for r in pick], median=[r["q50"] for r in pick], q3=[r["q75"] for r in pick],
        lowerfence=[r["q10"] for r in pick], upperfence=[r["q90"] for r in pick], name=name, offsetgroup=name,
        hovertext=[f"{r['docs']:,} documents" for r in pick], boxpoints=False,
    ))


def quality_by_language(runs: list[RunData]) -> go.Figure | None:
    """Quality score per language (boxes: quartiles, whiskers at the 10th and 90th percentiles)."""
    runs_with = [run for run in runs if run.quality_by_lang is not None and run.quality_by_lang.height]
    if not runs_with:
        return None
    order = runs_with[0].quality_by_lang.head(TOP_LANGUAGES)["language"].to_list()
    fig = go.Figure()
    for run in runs_with:
        _boxes(fig, run.quality_by_lang, "language", _name(run, "quality_score", runs), order)
    return _layout(fig, f"Quality score per language (top {TOP_LANGUAGES} by documents; whiskers: 10th-90th percentile, to 0.01)",
                   boxmode="group", yaxis_title="quality_score")


def lang_scores(runs: list[RunData]) -> go.Figure | None:
    """Language-ID confidence of kept documents per language, with the minimum the run applied."""
    runs_with = [run for run in runs if run.lang_score is not None and run.lang_score.height]
    if not runs_with:
        return None
    order = runs_with[0].lang_score.head(TOP_LANGUAGES)["lang"].to_list()
    fig = go.Figure()
    for run in runs_with:
        name = _name(run, "lang_score", runs)
        _boxes(fig, run.lang_score, "lang", name, order)
        limits = run.thresholds["lang_score"]
        fallback = run.thresholds["lang_score_fallback"]
        present = [k for k in order if k in set(run.lang_score["lang"].to_list())]
        y = [limits.get(lang, fallback) for lang in present]
        fig.add_scatter(x=present, y=y, mode="markers", marker={"symbol": "line-ew", "size": 26, "line": {"width": 3, "color": "#e63946"}},
                        name=_name(run, "threshold", runs), offsetgroup=name)
    return _layout(fig, f"Language-ID confidence per language (top {TOP_LANGUAGES}; red: the run's minimum)",
                   boxmode="group", yaxis={"range": [0, 1.05], "title": "lang_score"})


def dup_clusters(runs: list[RunData]) -> go.Figure | None:
    """How many duplicate clusters of each size dedup found."""
    runs_with = [run for run in runs if run.clusters is not None and run.clusters.height]
    if not runs_with:
        return None
    fig = go.Figure()
    for run in runs_with:
        c = run.clusters
        fig.add_bar(x=c["size"].to_list(), y=c["clusters"].to_list(), name=_name(run, "clusters", runs),
                    hovertext=[f"{n:,} documents removed" for n in c["removed"]])
    return _layout(fig, "Duplicate clusters by size (one member kept)", barmode="group",
                   xaxis={"title": "cluster size (documents)", "type": "category"}, yaxis_title="clusters")


def synthetic(runs: list[RunData]) -> go.Figure | None:
    """Synthetic share of kept documents and tokens, and what each synthesis task yielded."""
    runs_with = [run for run in runs if run.synthetic is not None]
    if not runs_with:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=("synthetic share of what was kept", "generations per task"))
    for run in runs_with:
        s = run.synthetic.filter(pl.col("synthetic"))
        doc_share = s["doc_share"].sum() if s.height else 0.0
        token_share = s["token_share"].sum() if s.height else 0.0
        fig.add_bar(x=["documents", "tokens"], y=[doc_share, token_share], name=_name(run, "synthetic share", runs),
                    row=1, col=1)
        if run.synth_tasks is not None:
            for (outcome,), part in run.synth_tasks.group_by("outcome", maintain_order=True):
                fig.add_bar(x=part["synth_task"].to_list(), y=part["docs"].to_list(), name=_name(run, outcome, runs),
                            offsetgroup=run.label, row=1, col=2)
    fig.update_yaxes(tickformat=".1%", row=1, col=1)
    return _layout(fig, "Synthetic data", barmode="stack" if len(runs) == 1 else "group")


def token_lengths(runs: list[RunData]) -> go.Figure | None:
    """Kept documents by token length (log bins), per domain."""
    runs_with = [run for run in runs if run.token_lengths is not None and run.token_lengths.height]
    if not runs_with:
        return None
    fig = go.Figure()
    colour = Palette()
    for run, dash in zip(runs_with, DASHES):
        for (domain,), part in run.token_lengths.group_by("domain", maintain_order=True):
            centre = (part["bin_low"] * part["bin_high"]).sqrt()
            fig.add_scatter(x=centre.to_list(), y=part["docs"].to_list(), mode="lines+markers",
                            name=_name(run, domain or "—", runs), line={"dash": dash, "color": colour(domain or "—")},
                            hovertext=[f"{lo:,.0f}-{hi:,.0f} tokens" for lo, hi in zip(part["bin_low"], part["bin_high"])])
    return _layout(fig, "Token length of kept documents (EOS included)", xaxis={"type": "log", "title": "tokens"},
                   yaxis_title="documents")


def decontamination(runs: list[RunData]) -> go.Figure | None:
    """Documents that matched each benchmark test set, with the items matched most."""
    runs_with = [run for run in runs if run.decontamination is not None and run.decontamination.height]
    if not runs_with:
        return None
    fig = go.Figure()
    for run in runs_with:
        d = run.decontamination
        fig.add_bar(x=d["benchmark"].to_list(), y=d["documents"].to_list(), name=_name(run, "documents", runs),
                    hovertext=d["top_items"].to_list())
    return _layout(fig, "Decontamination: documents matching each benchmark (hover: items matched most)",
                   barmode="group", xaxis_title="benchmark", yaxis_title="documents")


ALL = (funnel, rejections, languages, language_tail, domains, quality_by_domain, quality_by_language,
       lang_scores, dup_clusters, synthetic, token_lengths, decontamination)
