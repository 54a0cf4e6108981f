"""``python -m curate.run PIPELINE.yaml [key=value ...]``: run a pipeline end to end.

Everything that can be checked before work starts is checked first (config keys and types,
stage names, input files, models), so a bad config fails in a second with the key it names.
Exit codes: 0 success, 2 bad config, 1 a stage failed.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from curate.config import ConfigError, LoadedConfig, load_config
from curate.ids import check_distinct_files, parse_input_metric
from curate.sources import list_all_files

EPILOG = """\
examples:
  python -m curate.run pipelines/code_math.yaml
  python -m curate.run pipelines/code_math.yaml output_dir=out/try1 stages.langid.threshold=0.7
  RAY_ADDRESS=ray://head:10001 python -m curate.run pipelines/code_math.yaml   # on a Ray cluster

Overrides are dotted keys into the YAML; values are read as YAML (0.7, true, [a, b]).
Outputs: OUTPUT_DIR/documents, tokens (+ manifest.json), rejected, stats, and _SUCCESS when complete.
A killed run resumes from OUTPUT_DIR/_checkpoints when run again with the same config (--fresh: start over).
"""


#: Where Ray's own messages go, one file per run (OUTPUT_DIR/_logs/<run>.log).
LOGS = "_logs"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m curate.run",
        description="Run a curate pipeline: read sources, identify languages, filter, tokenize, write Parquet.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", help="pipeline YAML file (e.g. pipelines/code_math.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted config overrides")
    parser.add_argument("--dry-run", action="store_true", help="validate the config and print the plan, run nothing")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Ray's own logs and progress bars")
    parser.add_argument("--fresh", action="store_true",
                        help="ignore and delete the checkpoints of earlier runs into this output dir")
    return parser.parse_args(argv)


def preflight(loaded: LoadedConfig) -> list:
    """All checks that need no Ray: input files exist, stage models can be found, output_dir is
    curate's to write (nothing foreign in it, no overlap with an input)."""
    try:
        tasks = list_all_files(loaded.pipeline.sources, loaded.pipeline.download)
        check_distinct_files(loaded.pipeline.sources, tasks)
        check_output_dir(loaded, tasks)
    except ConfigError as exc:
        raise ConfigError(f"{loaded.path}: {exc}") from None
    if loaded.pipeline.executor == "local":
        from curate.runtime.local import check_local

        try:
            check_local(loaded)
        except ConfigError as exc:
            raise ConfigError(f"{loaded.path}: {exc}") from None
    for spec in loaded.stages:
        try:
            spec.stage_cls(spec.options, key=spec.key).preflight()
        except ConfigError as exc:
            raise ConfigError(f"{loaded.path}: {exc}") from None
    if loaded.pipeline.publish is not None:
        from curate.publish import check_writable

        try:
            check_writable(loaded.pipeline.publish)
        except ConfigError as exc:
            raise ConfigError(f"{loaded.path}: {exc}") from None
    return tasks


def check_output_dir(loaded: LoadedConfig, tasks: list) -> None:
    """output_dir holds only what curate made there and shares nothing with the inputs."""
    from curate import ownership

    output_dir = Path(loaded.pipeline.output_dir)
    ownership.check_overlap(output_dir, loaded.pipeline.sources, [task.path for task in tasks])
    ownership.check_output_dir(output_dir, configured_entries(loaded))


def configured_entries(loaded: LoadedConfig) -> list[str]:
    """Top-level entries of output_dir that the config names as curate's working folders: the
    checkpoint folder, and the download cache and Ray spill folder when they are set inside it."""
    from curate import ownership
    from curate.checkpoint import checkpoint_root
    from curate.download import downloads_dir
    from curate.outputs.commit import STAGING, SUCCESS_MARKER
    from curate.outputs.registry import output_folders

    run_entries = {*output_folders(), SUCCESS_MARKER, STAGING}  # each run replaces or clears these
    pipeline = loaded.pipeline
    output_dir = Path(pipeline.output_dir)
    named = {"checkpoint.dir": checkpoint_root(pipeline),
             "download.cache_dir": downloads_dir(pipeline.download), "ray.spill_dir": pipeline.ray.spill_dir}
    entries = []
    for key, path in named.items():
        if path is not None and Path(path).resolve() == output_dir.resolve():
            raise ConfigError(f"{key}: {path} is output_dir itself; use a folder inside it or elsewhere")
        entry = ownership.first_component_inside(path, output_dir)
        if entry in run_entries:
            raise ConfigError(f"{key}: {path} is inside {output_dir}/{entry}, which each run replaces; "
                              "use another folder")
        if entry:
            entries.append(entry)
    return entries


def _stage_rows(loaded: LoadedConfig, metrics: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    rows = []
    extra = {spec.key: spec.stage_cls.extra_metrics for spec in loaded.stages}  # each stage names its own
    for key in ["read", *[s.key for s in loaded.stages]]:
        m = metrics.get(key, {})
        kinds = extra.get(key, {})
        rows.append({
            "stage": key,
            "docs_in": int(m.get("docs_in", 0)),
            "docs_out": int(m.get("docs_out", 0)),
            "rejected": int(m.get("rejected", 0)),
            "bytes_in": int(m.get("bytes_in", 0)),
            "bytes_out": int(m.get("bytes_out", 0)),
            "busy_seconds": float(m.get("seconds", 0.0)),
            "cpu_seconds": float(m.get("cpu_seconds", 0.0)),
            "wall_seconds": float(m.get("last_end", 0.0) - m.get("first_start", 0.0)),
            "batches": int(m.get("batches", 0)),
            "docs_per_second": (float(m.get("docs_in", 0)) / m["seconds"]) if m.get("seconds") else None,
            "peak_rss_mb": round(float(m["peak_rss_mb"]), 1) if "peak_rss_mb" in m else None,
            **{k: kinds[k](v) for k, v in m.items() if k in kinds},
            **({"files": int(m.get("files", 0)), "downloaded_bytes": int(m.get("downloaded_bytes", 0)),
                "cached_files": int(m.get("cached_files", 0)), "fetch_attempts": int(m.get("fetch_attempts", 0)),
                "resumed_files": int(m.get("resumed_files", 0))}
               if key == "read" else {}),
        })
    return rows


class InputsUnaccounted(RuntimeError):
    """Rows of some input went missing (or appeared) between reading and writing: nothing is committed."""


def account_inputs(records: list[dict], read_metrics: dict[str, float]) -> tuple[list[dict], dict[str, int]]:
    """Per input file: records read, and how many of them ended as documents or rejected.

    Rows a stage made (synthesize) come from no input; they are counted apart (``generated``).
    """
    read = {key: int(n) for name, n in read_metrics.items() if (key := parse_input_metric(name)) is not None}
    written: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    generated = {"documents": 0, "rejected": 0}
    for r in records:
        if r["record"] != "input":
            continue
        if r["input"] is None:
            generated["documents"] += r["rows"]
            generated["rejected"] += r["rejected"]
        else:
            counts = written[(r["source"], r["input"])]
            counts[0] += r["rows"]
            counts[1] += r["rejected"]
    inputs = [{"source": source, "path": path, "records": read.get((source, path), 0),
               "documents": written[(source, path)][0] if (source, path) in written else 0,
               "rejected": written[(source, path)][1] if (source, path) in written else 0}
              for source, path in sorted(set(read) | set(written))]
    return inputs, generated


def check_inputs(inputs: list[dict]) -> None:
    """documents + rejected = records read, for every input file; else fail naming the files."""
    bad = [i for i in inputs if i["documents"] + i["rejected"] != i["records"]]
    if bad:
        listed = "; ".join(f"{i['path']} (source {i['source']}): read {i['records']}, documents {i['documents']} + "
                           f"rejected {i['rejected']}" for i in bad[:10])
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise InputsUnaccounted(f"{len(bad)} input file(s) not accounted for (documents + rejected != records read): "
                                f"{listed}{more}")


def stage_reports(loaded: LoadedConfig, metrics: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Each stage's :meth:`~curate.stage.Stage.summary` of its summed metrics, by stage key."""
    reports = {}
    for spec in loaded.stages:
        part = spec.stage_cls(spec.options, key=spec.key).summary(metrics.get(spec.key, {}))
        if part:
            reports[spec.key] = part
    return reports


def summarize(loaded: LoadedConfig, records: list[dict], metrics: dict, wall: float):
    kept: dict[tuple, dict[str, int]] = defaultdict(lambda: {"docs": 0, "tokens": 0, "bytes": 0})
    reasons: dict[tuple, int] = defaultdict(int)
    files = [r for r in records if r["record"] == "file"]
    for r in records:
        if r["record"] == "kept":
            language = r["lang"] or None
            g = kept[(language, r["domain"])]
            g["docs"] += r["rows"]
            g["tokens"] += r["tokens"]
            g["bytes"] += r["bytes"]
        elif r["record"] == "rejected":
            reasons[(r["stage"], r["reason"])] += r["rows"]
    inputs, generated = account_inputs(records, metrics.get("read", {}))
    check_inputs(inputs)
    groups = [{"language": k[0] or ("code" if k[1] == "code" else None), "lang": k[0], "domain": k[1], **v}
              for k, v in sorted(kept.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or ""))]
    return {
        "pipeline": loaded.pipeline.name,
        "config": str(loaded.path),
        "config_hash": loaded.config_hash,
        "output_dir": str(loaded.pipeline.output_dir),
        "wall_seconds": wall,
        "documents": sum(g["docs"] for g in groups),
        "tokens": sum(g["tokens"] for g in groups),
        "rejected": sum(reasons.values()),
        "stages": _stage_rows(loaded, metrics),
        # Each stage's options as validated (defaults filled in, overrides applied): the dashboard
        # draws the thresholds the run actually used.
        "stage_config": {spec.key: {"uses": spec.stage_cls.name, **spec.options.model_dump(mode="json")}
                         for spec in loaded.stages},
        "rejected_by_reason": [{"stage": s, "reason": r, "docs": n} for (s, r), n in sorted(reasons.items())],
        # What stages report beyond counts (decontamination: documents per benchmark, items hit most).
        "reports": stage_reports(loaded, metrics),
        "kept_by_language_domain": groups,
        "files": files,
        # Every input accounted for: documents + rejected = records, per file (checked above).
        "inputs": inputs,
        "generated": generated,
        "tokenizer": None,  # the tokens output's finalize fills it in
    }


def execute(loaded: LoadedConfig, tasks: list, console: Console, verbose: bool = False,
            fresh: bool = False) -> dict[str, Any]:
    """Run on Ray and commit the outputs, holding output_dir's lock throughout; returns the summary.
    Raises on failure (nothing committed), ConfigError if another run holds the lock."""
    from curate import ownership

    output_dir = Path(loaded.pipeline.output_dir)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(ownership.output_lock(output_dir))
            check_output_dir(loaded, tasks)  # again under the lock: the folder may have changed since preflight
        except ConfigError as exc:
            raise RunRefused(f"{loaded.path}: {exc}") from None
        ownership.claim(output_dir, [LOGS, *configured_entries(loaded)])
        return _execute_locked(loaded, tasks, console, verbose, fresh)


class RunRefused(ConfigError):
    """The run did not start: another run holds output_dir, or output_dir changed since preflight."""


def _execute_locked(loaded: LoadedConfig, tasks: list, console: Console, verbose: bool, fresh: bool) -> dict[str, Any]:
    from curate.checkpoint import Checkpoints
    from curate.outputs import output_sinks
    from curate.outputs.commit import discard, new_staging_dir, remove_stale_staging
    from curate.runtime.session import stderr_to_file

    start = time.time()
    output_dir = Path(loaded.pipeline.output_dir)
    checkpoints = Checkpoints(loaded, tasks) if loaded.pipeline.checkpoint.enabled else None
    if checkpoints is not None:
        if fresh:
            checkpoints.clear()
        checkpoints.claim()
    remove_stale_staging(output_dir)
    staging = new_staging_dir(output_dir, tuple(s.folder for s in output_sinks(loaded) if s.always_present))
    log_path = output_dir / LOGS / f"{staging.name}.log"
    try:
        with stderr_to_file(None if verbose else log_path):
            summary = _execute(loaded, tasks, console, staging, start, verbose, checkpoints)
    except BaseException as exc:
        discard(staging)
        exc.add_note(f"Ray's own messages for this run: {log_path}")
        if checkpoints is not None and checkpoints.has_progress():
            exc.add_note("Finished work is kept in checkpoints: run the same command again to resume.")
        raise
    if checkpoints is not None:
        checkpoints.prune()
    if loaded.pipeline.publish is not None:
        from curate.publish import publish

        try:
            summary["published"] = publish(output_dir, loaded.pipeline.publish)
        except Exception as exc:
            raise PublishFailed(f"{type(exc).__name__}: {exc}") from exc
    return summary


class PublishFailed(RuntimeError):
    """The run committed its outputs locally, but uploading them to ``publish.to`` failed."""


def _stream_results(ds, console: Console, total_files: int, stats) -> list[dict]:
    """Drive the streaming execution, collecting the writers' reports and showing progress."""
    from curate.progress import RunProgress

    records: list[dict] = []
    with RunProgress(console, total_files, stats) as progress:
        for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
            rows = batch.to_pylist()
            records.extend(rows)
            progress.written(rows)
    return records


def _execute(loaded: LoadedConfig, tasks: list, console: Console, staging: Path, start: float, verbose: bool,
             checkpoints=None):
    from curate.outputs import FinalizeContext, output_sinks, remove_unlisted_parts
    from curate.outputs.commit import commit, write_json
    from curate.runtime.stats import ask

    sinks = output_sinks(loaded)
    if loaded.pipeline.executor == "local":
        records, stats, cluster, resumed = _run_local(loaded, tasks, console, staging, sinks, checkpoints)
    else:
        records, stats, cluster, resumed = _run_on_ray(loaded, tasks, console, staging, sinks, verbose, checkpoints)
    metrics = ask(stats, "snapshot")
    remnants = remove_unlisted_parts(staging, sinks, records)  # of writes whose worker died and were rerun
    summary = summarize(loaded, records, metrics, time.time() - start)
    summary["removed_unlisted_parts"] = len(remnants)
    summary["resumed_after"] = resumed.stage if resumed else None
    summary["executor"] = loaded.pipeline.executor
    summary["ray"] = {k: v for k, v in cluster.items() if k in ("address", "cpus", "gpus", "dashboard_url")}
    summary["servers"] = cluster.get("servers", [])  # managed model servers: URL, restarts, error
    summary["publish_to"] = loaded.pipeline.publish.to if loaded.pipeline.publish is not None else None
    context = FinalizeContext(loaded=loaded, files=summary["files"])
    for output in sinks:  # manifests, trainer shards: what needs every file
        summary.update(output.finalize(staging, context))
    write_json(staging / "stats" / "summary.json", summary)
    commit(staging, Path(loaded.pipeline.output_dir))
    return summary


def _run_on_ray(loaded: LoadedConfig, tasks: list, console: Console, staging: Path, sinks: list, verbose: bool,
                checkpoints):
    """The run as one streaming Ray Dataset (:mod:`curate.runtime.plan`): (records, stats, cluster, resumed)."""
    from curate.models.managed import running_servers
    from curate.report import print_plan
    from curate.runtime.failures import StageFailed, find_stage_failure, worker_death
    from curate.runtime.plan import build_dataset, plan_stage
    from curate.runtime.session import init_ray
    from curate.runtime.stats import make_stats_actor

    cluster = init_ray(loaded, verbose=verbose)
    cluster["servers"] = []
    with running_servers(loaded, on_ray=True, report=cluster["servers"]) as loaded:
        planned = [plan_stage(spec, cluster["cores"], cluster["actor_cpu_scale"]) for spec in loaded.stages]
        resumed = checkpoints.latest_complete() if checkpoints is not None else None
        print_plan(console, loaded, tasks, planned, cluster, resumed=resumed.stage if resumed else None)
        stats = make_stats_actor()
        try:
            ds = build_dataset(loaded, tasks, planned, stats, staging, sinks, checkpoints)
            records = _stream_results(ds, console, len(tasks), stats)
        except Exception as exc:
            if not isinstance(exc, StageFailed) and find_stage_failure(exc) is None:
                death = worker_death(exc, stats)
                if death is not None:
                    raise death from exc
            raise
    return records, stats, cluster, resumed


def _run_local(loaded: LoadedConfig, tasks: list, console: Console, staging: Path, sinks: list, checkpoints):
    """The run in this process and its forked workers (:mod:`curate.runtime.local`)."""
    from curate.models.managed import running_servers
    from curate.progress import RunProgress
    from curate.report import print_plan
    from curate.runtime.local import LocalExecutor, local_workers
    from curate.runtime.plan import plan_stage
    from curate.runtime.stats import StatsTotals

    workers = local_workers(loaded)
    cluster = {"address": "none (executor: local)", "cpus": workers, "cores": workers, "gpus": 0, "actor_cpus": 0,
               "servers": []}
    with running_servers(loaded, on_ray=False, report=cluster["servers"]) as loaded:
        planned = [plan_stage(spec, workers) for spec in loaded.stages]
        resumed = checkpoints.latest_complete() if checkpoints is not None else None
        print_plan(console, loaded, tasks, planned, cluster, resumed=resumed.stage if resumed else None)
        stats = StatsTotals()
        executor = LocalExecutor(loaded, tasks, planned, stats, staging, sinks, checkpoints, workers)
        with RunProgress(console, len(tasks), stats) as progress:
            records = executor.run(on_records=progress.written)
    return records, stats, cluster, resumed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    errors = Console(stderr=True)
    try:
        loaded = load_config(args.config, args.overrides)
        tasks = preflight(loaded)
    except ConfigError as exc:
        errors.print(f"[bold red]config error[/bold red]\n{escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
        return 2
    if args.dry_run:
        console.print(f"config OK: {loaded.path} · {len(tasks)} input files · stages: "
                      f"{', '.join(s.key for s in loaded.stages) or '(none)'}")
        return 0
    from curate.runtime.failures import find_stage_failure

    try:
        summary = execute(loaded, tasks, console, verbose=args.verbose, fresh=args.fresh)
    except RunRefused as exc:  # output_dir busy, or changed since preflight: before any work
        errors.print(f"[bold red]config error[/bold red]\n{escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        errors.print("[bold red]interrupted[/bold red]: nothing was committed")
        return 130
    except PublishFailed as exc:  # only raised with a publish: block
        errors.print(f"[bold red]publish failed[/bold red]: {escape(str(exc))}\nthe run's outputs are complete in "
                     f"{loaded.pipeline.output_dir}; {loaded.pipeline.publish.to} has no {escape('_SUCCESS')}. Upload again with: "
                     f"python -m curate.publish {escape(' '.join([args.config, *args.overrides]))}",
                     highlight=False, markup=True, soft_wrap=True)
        return 1
    except Exception as exc:
        failure = find_stage_failure(exc)
        message = str(failure) if failure else f"{type(exc).__name__}: {exc}"
        notes = "".join(f"\n{note}" for note in getattr(exc, "__notes__", []))
        errors.print(f"[bold red]run failed[/bold red]: {escape(message)}\nnothing was committed to "
                     f"{loaded.pipeline.output_dir}{escape(notes)}", highlight=False, markup=True, soft_wrap=True)
        return 1
    from curate.report import print_summary

    print_summary(console, summary)
    if summary.get("published"):
        console.print(summary["published"].describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
