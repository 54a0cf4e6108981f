"""What the user reads: the plan before a run, and the summary tables after it."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table

from curate.config import LoadedConfig
from curate.sources import FileTask


def print_plan(console: Console, loaded: LoadedConfig, tasks: list[FileTask], planned: list, cluster: dict,
               resumed: str | None = None) -> None:
    p = loaded.pipeline
    console.print(f"[bold]curate[/bold] · pipeline [bold]{p.name}[/bold] · config {loaded.path} "
                  f"(hash {loaded.config_hash})")
    local = p.executor == "local"
    if local:
        console.print(f"Executor: local (no Ray) · {cluster['cpus']:g} worker process(es) forked from this one")
    else:
        console.print(f"Ray: {cluster['address']} · {cluster['cpus']:g} CPUs ({cluster['actor_cpus']:g} held by actor "
                      f"pools) · {cluster['gpus']:g} GPUs")
    if cluster.get("actor_cpu_scale", 1.0) < 1.0:
        console.print(f"Actor pools scaled to fit {cluster['cpus']:g} CPUs: each actor asks "
                      f"{cluster['actor_cpu_scale']:.2f}× its stage's cpus, so one CPU stays free for the tasks")
    if cluster.get("dashboard_url"):
        console.print(f"Ray dashboard: {cluster['dashboard_url']}")
    if resumed:
        console.print(f"[bold]resuming[/bold]: read … {resumed} are done (checkpoint in "
                      f"{p.checkpoint.dir or str(p.output_dir) + '/_checkpoints'}); running the rest")
    per_source = Counter(t.source for t in tasks)
    table = Table(title="Plan", title_justify="left", show_edge=False)
    table.add_column("step")
    table.add_column("what")
    table.add_column("runs as")
    for source in p.sources:
        table.add_row("read", f"{source.name}: {per_source[source.name]} files ({source.domain})",
                      "workers" if local else "tasks")
    for stage in planned:
        res = stage.spec.options.resources
        if local:  # every stage in each worker; a global stage's fit in this process first
            how = "fit here, then workers" if stage.mode == "global" else "workers"
        else:
            how = f"{stage.mode}" + (f" ×≤{stage.ray_args['pool'][1]}" if stage.mode == "actors" else "")
            how += f", {stage.ray_args.get('num_cpus', res.cpus):g} cpu" + (f", {res.gpus:g} gpu" if res.gpus else "")
        table.add_row(stage.spec.key, stage.spec.stage_cls(stage.spec.options, key=stage.spec.key).describe(), how)
    table.add_row("write", f"{p.output_dir}/{{documents,tokens,rejected,stats}}", "workers" if local else "tasks")
    if p.publish is not None:
        table.add_row("publish", f"{p.publish.to}/ (uploaded after the run commits, _SUCCESS last)", "driver")
    console.print(table)


def _mb(value: float) -> str:
    return f"{value / 1e6:,.2f}"


def stage_table(stage_rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Stages", title_justify="left")
    for name in ("stage", "docs in", "docs out", "rejected", "MB in", "MB out", "busy s", "CPU s", "wall s"):
        table.add_column(name, justify="left" if name == "stage" else "right")
    for row in stage_rows:
        table.add_row(
            row["stage"], f"{row['docs_in']:,}", f"{row['docs_out']:,}", f"{row['rejected']:,}",
            _mb(row["bytes_in"]), _mb(row["bytes_out"]), f"{row['busy_seconds']:.1f}",
            f"{row.get('cpu_seconds', 0.0):.1f}", f"{row['wall_seconds']:.1f}",
        )
    return table


def totals_table(title: str, key: str, groups: list[dict[str, Any]], limit: int = 40) -> Table:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"docs": 0, "tokens": 0})
    for g in groups:
        totals[g[key] or "—"]["docs"] += g["docs"]
        totals[g[key] or "—"]["tokens"] += g["tokens"]
    ordered = sorted(totals.items(), key=lambda kv: -kv[1]["tokens"])
    table = Table(title=title, title_justify="left")
    table.add_column(key)
    table.add_column("docs", justify="right")
    table.add_column("tokens", justify="right")
    for name, t in ordered[:limit]:
        table.add_row(name, f"{t['docs']:,}", f"{t['tokens']:,}")
    if len(ordered) > limit:
        rest = ordered[limit:]
        table.add_row(f"({len(rest)} more)", f"{sum(t['docs'] for _, t in rest):,}", f"{sum(t['tokens'] for _, t in rest):,}")
    table.add_row("[bold]total[/bold]", f"{sum(t['docs'] for _, t in ordered):,}", f"{sum(t['tokens'] for _, t in ordered):,}")
    return table


def rejected_table(reasons: list[dict[str, Any]]) -> Table:
    table = Table(title="Rejected", title_justify="left")
    table.add_column("stage")
    table.add_column("reason")
    table.add_column("docs", justify="right")
    for r in sorted(reasons, key=lambda r: -r["docs"]):
        table.add_row(r["stage"], r["reason"], f"{r['docs']:,}")
    return table


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    console.print(stage_table(summary["stages"]))
    read = summary["stages"][0]
    console.print(f"read {read['files']:,} files · fetched {read['downloaded_bytes'] / 1e6:,.2f} MB in "
                  f"{read['fetch_attempts']:,} requests · {read['cached_files']:,} files from the download cache")
    for row in summary["stages"]:
        if "candidate_edges" in row:
            console.print(f"{row['stage']}: {row['candidate_edges']:,} candidate pairs, "
                          f"{row.get('false_positive_edges', 0):,} removed by verification, "
                          f"{row['clusters']:,} duplicate clusters (the edge list is all the driver holds)")
        if "judged_docs" in row:
            agreement = (f"; held-out agreement with the judge on {row['heldout_docs']:,}: F1 {row['heldout_f1']:.3f}, "
                         f"Spearman {row['heldout_spearman']:.3f}" if "heldout_f1" in row else "")
            console.print(f"{row['stage']}: judged {row['judged_docs']:,} documents, trained a fastText scorer "
                          f"(artifacts/{row['stage']}/scorer.bin){agreement}")
        if "synthetic_generated" in row:
            console.print(f"{row['stage']}: {row['docs_in']:,} synthetic documents ({row['synthetic_generated']:,} "
                          f"generated now, {row['synthetic_reused']:,} from the checkpoint), {row['docs_out']:,} kept")
    for stage, report in summary.get("reports", {}).items():
        for name, part in (report.get("decontamination") or {}).get("benchmarks", {}).items():
            top = ", ".join(f"{t['item']} ×{t['documents']}" for t in part["top_items"][:3])
            console.print(f"{stage}: {part['documents']:,} documents matched benchmark {name}"
                          + (f" (most: {top})" if top else ""))
    if summary["rejected_by_reason"]:
        console.print(rejected_table(summary["rejected_by_reason"]))
    console.print(totals_table("Tokens per language", "language", summary["kept_by_language_domain"]))
    console.print(totals_table("Tokens per domain", "domain", summary["kept_by_language_domain"]))
    console.print(
        f"[bold green]done[/bold green] in {summary['wall_seconds']:.1f}s · "
        f"{summary['documents']:,} documents · {summary['tokens']:,} tokens · "
        f"{summary['rejected']:,} rejected → {summary['output_dir']}"
    )
