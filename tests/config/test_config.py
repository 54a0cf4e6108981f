"""Bad configs fail before any work, exit non-zero, and name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from curate.config import ConfigError, apply_override, load_config, parse_override
from curate.run import main
from tests.conftest import QUICKSTART, REPO, run_cli


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(QUICKSTART.read_text())
    for source in raw["sources"]:
        source["paths"] = [str(REPO / p) for p in source["paths"]]
    raw["output_dir"] = str(tmp_path / "out")
    mutate(raw)
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_quickstart_config_is_valid() -> None:
    loaded = load_config(QUICKSTART)
    assert [s.key for s in loaded.stages] == ["langid", "filter", "quality", "synthesize", "dedup", "tokenize"]
    assert loaded.stages[0].options.threshold is None  # the measured per-language defaults


def test_overrides_are_typed_and_dotted() -> None:
    loaded = load_config(QUICKSTART, ["output_dir=out/try1", "stages.langid.threshold=0.7",
                                      "stages.filter.filters.1.min_chars=50", "sources.0.paths=[a.jsonl, b.jsonl]"])
    assert str(loaded.pipeline.output_dir) == "out/try1"
    assert loaded.stages[0].options.threshold == 0.7
    assert loaded.stages[1].options.filters[1].min_chars == 50
    assert loaded.pipeline.sources[0].paths == ["a.jsonl", "b.jsonl"]
    assert loaded.config_hash != load_config(QUICKSTART).config_hash


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("stages.langid.treshold=0.3", "stages.langid.treshold: unknown key"),
        ("stages.langid.threshold=high", "stages.langid.threshold: Input should be a valid number"),
        ("stages.langid.threshold=1.5", "stages.langid.threshold: Input should be less than or equal to 1"),
        ("stages.dedupe.num_perm=128", "stages.dedupe: unknown stage 'dedupe'"),
        ("stages.filter.filters.1.min_charz=5", "stages.filter.filters.1.length.min_charz: unknown key"),
        ("sources.0.fields.txt=body", "sources.0.fields.txt: unknown key"),
        ("outptu_dir=x", "outptu_dir: unknown key"),
        ("read.batch_rows=0", "read.batch_rows: Input should be greater than 0"),
        ("stages.langid.keep_languages=[xx_bad]", "stages.langid.keep_languages"),
    ],
)
def test_bad_values_name_the_file_and_key(override: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(QUICKSTART, [override])
    assert expected in str(err.value)
    assert str(QUICKSTART) in str(err.value)


def test_missing_required_key(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw.pop("output_dir"))
    with pytest.raises(ConfigError, match="output_dir: required key is missing"):
        load_config(path)


def test_override_syntax_errors() -> None:
    with pytest.raises(ConfigError, match="expected dotted.key=value"):
        parse_override("stages.langid.threshold")
    with pytest.raises(ConfigError, match="not an index"):
        apply_override({"sources": [{}]}, ["sources", "3", "name"], "x")


def test_yaml_is_safe_loaded(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("output_dir: !!python/object/apply:os.system ['echo pwned']\nsources: []\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_cli_exit_codes_and_messages(tmp_path: Path, capsys) -> None:
    # In-process for speed: main() returns the exit code and must not touch Ray for config errors.
    assert main([str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: config file not found" in capsys.readouterr().err
    assert main([str(QUICKSTART), "stages.langid.treshold=0.3"]) == 2
    assert "stages.langid.treshold: unknown key" in capsys.readouterr().err
    path = _write(tmp_path, lambda raw: raw["sources"][0].update(paths=[str(tmp_path / "nothing" / "*.jsonl")]))
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert "sources.0.paths" in err and "matches no file" in err and str(path) in err
    path = _write(tmp_path, lambda raw: raw["stages"]["filter"]["filters"][0]["benchmarks"]["gsm8k_mini"].update(
        path=str(tmp_path / "gone.jsonl")))
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert "stages.filter.filters.0 (decontamination)" in err and "gone.jsonl" in err
    # a misspelt field fails before any work, naming the filter, the benchmark and the field
    path = _write(tmp_path, lambda raw: raw["stages"]["filter"]["filters"][0]["benchmarks"]["gsm8k_mini"].update(
        fields=["question", "solution"]))
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert "stages.filter.filters.0 (decontamination)" in err and "field 'solution' occurs in no record" in err
    path = _write(tmp_path, lambda raw: raw["stages"]["langid"].update(model=str(tmp_path / "no-model.bin")))
    assert main([str(path)]) == 2
    assert "stages.langid.model" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_subprocess_bad_config_exits_nonzero_fast() -> None:
    result = run_cli(str(QUICKSTART), "stages.tokenize.tokenizr=qwen", timeout=60)
    assert result.returncode == 2
    assert "stages.tokenize.tokenizr: unknown key" in result.stderr


def test_help_explains_usage() -> None:
    result = run_cli("--help", timeout=60)
    assert result.returncode == 0
    assert "key=value" in result.stdout and "RAY_ADDRESS" in result.stdout


def test_filter_thresholds_and_language_overrides_from_yaml() -> None:
    loaded = load_config(QUICKSTART, ["stages.filter.filters.1.min_chars=50",
                                      "stages.filter.filters.1.overrides={cmn_Hani: {min_chars: 20}}"])
    length = loaded.stages[1].options.filters[1]
    assert length.min_chars == 50
    assert length.for_language("cmn_Hani").min_chars == 20
    assert length.for_language("eng_Latn") is length
    text = "短" * 10   # 34 English-equivalent characters (a Han character counts 3.4)
    assert length.filter(text, lang="cmn_Hani") and not length.filter(text, lang="eng_Latn")
    with pytest.raises(ConfigError, match=r"stages.filter.filters.1.length: .*overrides.cmn_Hani: unknown option"):
        load_config(QUICKSTART, ["stages.filter.filters.1.overrides={cmn_Hani: {min_charz: 5}}"])


def test_object_store_output_dir_is_refused_with_the_key() -> None:
    with pytest.raises(ConfigError, match=r"output_dir: .*must be a local or mounted .*publish: \{to: s3://bucket/run\}"):
        load_config(QUICKSTART, ["output_dir=s3://bucket/run"])


def test_publish_target_must_be_a_url() -> None:
    with pytest.raises(ConfigError, match=r"publish.to: .*expected a URL"):
        load_config(QUICKSTART, ["publish={to: /mnt/shared/run}"])
    with pytest.raises(ConfigError, match=r"publish.storage_opts: unknown key"):
        load_config(QUICKSTART, ["publish={to: s3://bucket/run, storage_opts: {}}"])
    assert load_config(QUICKSTART, ["publish={to: s3://bucket/run/}"]).pipeline.publish.to == "s3://bucket/run"


def test_custom_resources_reach_the_ray_arguments() -> None:
    from curate.runtime.plan import plan_stage

    loaded = load_config(QUICKSTART, ["stages.langid.resources.custom={highmem: 1}", "stages.dedup.resources.max_retries=0"])
    planned = {spec.key: plan_stage(spec, cores=4) for spec in loaded.stages}
    assert planned["langid"].ray_args["resources"] == {"highmem": 1.0}
    assert planned["langid"].ray_args["max_restarts"] == planned["langid"].ray_args["max_task_retries"] == 3
    assert "resources" not in planned["tokenize"].ray_args


def test_actor_pools_shrink_to_fit_a_small_cluster() -> None:
    from curate.runtime.plan import plan_stage
    from curate.runtime.session import actor_cpus
    from curate.stage import Resources, actor_cpu_scale

    loaded = load_config(QUICKSTART)
    held = actor_cpus(loaded)
    assert held >= 2  # the quickstart's actor pools ask a CPU each
    assert actor_cpu_scale(held, held + 1) == 1.0  # room for them and one task: unchanged
    assert actor_cpu_scale(held, 2) == pytest.approx(1 / held)  # 2 CPUs: the pools share one
    assert actor_cpu_scale(held, 1) == 0.0  # 1 CPU: they share it with the tasks
    scale = actor_cpu_scale(held, 2)
    planned = {spec.key: plan_stage(spec, cores=2, actor_cpu_scale=scale) for spec in loaded.stages}
    actors = [p for p in planned.values() if p.mode == "actors"]
    assert sum(p.ray_args["num_cpus"] for p in actors) == pytest.approx(1.0, abs=1e-3)
    tasks = [p for p in planned.values() if p.mode == "tasks"]
    assert all(p.ray_args["num_cpus"] == p.spec.options.resources.cpus for p in tasks)
    # a global stage's own actors (model hosts) leave a CPU for the tasks that feed them too
    judge = Resources(cpus=1, concurrency=2)
    assert judge.actor_options_on(8, actors=2)["num_cpus"] == 1
    assert judge.actor_options_on(2, actors=2)["num_cpus"] == 0.5
    assert judge.actor_options_on(1)["num_cpus"] == 0


def test_unreachable_ray_address_fails_fast() -> None:
    import socket

    from curate.runtime.session import check_reachable

    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RuntimeError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        check_reachable(f"127.0.0.1:{port}", timeout=2)
    check_reachable("auto")  # left to Ray


def test_outputs_default_to_what_the_run_makes_and_bad_ones_name_the_key(tmp_path: Path) -> None:
    from curate.outputs import output_sinks

    assert [s.name for s in output_sinks(load_config(QUICKSTART))] == ["documents", "rejected", "tokens"]
    assert [s.name for s in output_sinks(load_config(QUICKSTART, ["outputs=[tokens, documents]"]))] == [
        "documents", "tokens"]  # always in the registry's order
    with pytest.raises(ConfigError, match=r"outputs\.1: unknown output 'parquet' \(known: documents, rejected"):
        load_config(QUICKSTART, ["outputs=[documents, parquet]"])
    with pytest.raises(ConfigError, match=r"outputs\.0: tokens need a tokenize stage"):
        load_config(_write(tmp_path, lambda raw: raw["stages"].pop("tokenize")), ["outputs=[tokens]"])
    with pytest.raises(ConfigError, match=r"outputs\.1: trainer shards need a shards: block"):
        load_config(QUICKSTART, ["outputs=[tokens, trainer]"])
