"""Every shipped pipeline YAML is valid (the remote ones are validated, not run: no internet here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from curate.config import ConfigError, SourceConfig, load_config
from curate.sources import check_protocol
from tests.conftest import REPO

PIPELINES = sorted((REPO / "pipelines").glob("*.yaml"))


@pytest.mark.parametrize("path", PIPELINES, ids=[p.name for p in PIPELINES])
def test_pipeline_validates(path: Path) -> None:
    loaded = load_config(path)
    assert loaded.stages, "a shipped pipeline runs at least one stage"


def test_remote_example_names_each_kind_of_source() -> None:
    sources = {s.name: s for s in load_config(REPO / "pipelines" / "web_remote.yaml").pipeline.sources}
    assert sources["cc"].list_file.endswith("warc.paths.gz") and sources["cc"].format == "warc"
    assert sources["fineweb2_zh"].paths[0].startswith("hf://datasets/")
    assert sources["requests_src"].format == "archive"


def test_production_example_names_a_real_qwen_judge() -> None:
    from curate.models.__main__ import models_named

    named = dict(models_named(str(REPO / "pipelines" / "web_remote.yaml")))
    assert named["quality"].id == "Qwen/Qwen2.5-0.5B-Instruct" and not named["quality"].trust_remote_code
    quickstart = dict(models_named(str(REPO / "pipelines" / "code_math.yaml")))
    assert quickstart["quality"].id == "curate/qwen2-standin"


def test_credentials_are_refused_in_yaml() -> None:
    with pytest.raises(ValueError, match="credentials never go in the YAML"):
        SourceConfig(name="s", paths=["s3://b/x.jsonl"], storage_options={"secret": "abc"})
    with pytest.raises(ValueError, match="credentials never go in the YAML"):
        SourceConfig(name="s", paths=["s3://b/x.jsonl"], storage_options={"aws_access_key_id": "AKIA"})
    SourceConfig(name="s", paths=["s3://b/x.jsonl"], storage_options={"endpoint_url": "http://minio:9000", "anon": True})


def test_missing_filesystem_is_a_plan_time_error() -> None:
    check_protocol("hf://datasets/x/y.parquet", "sources.0.paths")  # huggingface_hub ships with transformers
    try:
        import s3fs  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match=r"sources.0.paths: 's3://b/x.jsonl' needs s3fs"):
            check_protocol("s3://b/x.jsonl", "sources.0.paths")
