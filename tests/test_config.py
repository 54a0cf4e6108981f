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
    text = "短" * 30
    assert length.filter(text, lang="cmn_Hani") and not length.filter(text, lang="eng_Latn")
    with pytest.raises(ConfigError, match=r"stages.filter.filters.1.length: .*overrides.cmn_Hani: unknown option"):
        load_config(QUICKSTART, ["stages.filter.filters.1.overrides={cmn_Hani: {min_charz: 5}}"])
