"""``publish:``: a finished run's outputs uploaded to S3, here a real S3 API (moto's server) on
127.0.0.1, through the same fsspec/s3fs code path a cloud bucket takes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.conftest import REPO, SAMPLES, run_cli

BUCKET = "curate-test"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    os.environ.update(CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def s3fs_for(endpoint: str):
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)


def write_config(tmp_path: Path, endpoint: str, prefix: str, bucket: str = BUCKET) -> Path:
    config = {
        "name": "publish_test",
        "output_dir": str(tmp_path / "out"),
        "sources": [{"name": "math", "paths": [str(SAMPLES / "math" / "*.jsonl")], "domain": "math",
                     "fields": {"text": "body", "id": "problem_id", "url": "source_url"}}],
        "stages": {"filter": {"filters": [{"name": "length", "min_chars": 200}]}, "tokenize": {}},
        "publish": {"to": f"s3://{bucket}/{prefix}", "storage_options": {"endpoint_url": endpoint}},
    }
    path = tmp_path / "publish.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def local_files(out: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under the output folders a run publishes."""
    from curate.outputs.registry import output_folders

    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in output_folders() if (out / folder).is_dir() for p in (out / folder).rglob("*") if p.is_file()}


def remote_files(fs, root: str) -> dict[str, str]:
    return {path[len(root) + 1:]: hashlib.sha256(fs.cat(path)).hexdigest() for path in fs.find(root)}


def test_run_publishes_its_outputs_and_replaces_an_older_upload(tmp_path: Path, s3_endpoint: str) -> None:
    fs = s3fs_for(s3_endpoint)
    root = f"{BUCKET}/runs/math"
    fs.pipe(f"{root}/documents/part-stale.parquet", b"from an older run")  # must not survive
    fs.pipe(f"{root}/_SUCCESS", b"old")
    config = write_config(tmp_path, s3_endpoint, "runs/math")

    result = run_cli(str(config), env=CREDENTIALS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "published" in result.stdout and f"s3://{root}" in result.stdout

    out = tmp_path / "out"
    expected = local_files(out)
    assert any(name.startswith("tokens/part-") for name in expected)
    fs.invalidate_cache()
    remote = remote_files(fs, root)
    assert remote.pop("_SUCCESS") and remote == expected  # every file, byte for byte; the stale part gone
    # analysts read the published run with Polars straight from the bucket
    storage = {"aws_endpoint_url": s3_endpoint, "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
               "aws_region": "us-east-1"}
    published = pl.read_parquet(f"s3://{root}/documents/*.parquet", storage_options=storage).sort("id")
    assert published.equals(pl.read_parquet(out / "documents" / "*.parquet").sort("id"))
    assert published.height > 0

    # a lost upload is restored from the committed local run, without running it again
    fs.rm(root, recursive=True)
    again = subprocess.run([sys.executable, "-m", "curate.publish", str(config)], cwd=REPO, capture_output=True,
                           text=True, env={**os.environ, **CREDENTIALS}, timeout=120)
    assert again.returncode == 0, again.stderr
    fs.invalidate_cache()
    remote = remote_files(fs, root)
    assert remote.pop("_SUCCESS") and remote == expected


def test_unwritable_target_fails_before_any_work(tmp_path: Path, s3_endpoint: str) -> None:
    config = write_config(tmp_path, s3_endpoint, "runs/x", bucket="no-such-bucket")
    result = run_cli(str(config), env=CREDENTIALS, timeout=120)
    assert result.returncode == 2
    assert "publish.to: cannot write to 's3://no-such-bucket/runs/x'" in result.stderr
    assert not (tmp_path / "out").exists()  # nothing ran


def test_publish_command_refuses_an_unfinished_run(tmp_path: Path, s3_endpoint: str) -> None:
    config = write_config(tmp_path, s3_endpoint, "runs/unfinished")
    (tmp_path / "out" / "documents").mkdir(parents=True)  # a run that never wrote _SUCCESS
    result = subprocess.run([sys.executable, "-m", "curate.publish", str(config)], cwd=REPO, capture_output=True,
                            text=True, env={**os.environ, **CREDENTIALS}, timeout=120)
    assert result.returncode == 2 and "has no _SUCCESS" in result.stderr
    assert not s3fs_for(s3_endpoint).exists(f"{BUCKET}/runs/unfinished/_SUCCESS")


def test_failed_upload_keeps_the_local_run_and_says_how_to_retry(tmp_path: Path, s3_endpoint: str) -> None:
    config = write_config(tmp_path, s3_endpoint, "runs/failing")
    # The run is real; only the upload is made to fail, as a dropped connection would.
    script = ("import sys, curate.publish\n"
              "def broken(*args, **kwargs):\n"
              "    raise ConnectionError('connection reset by peer')\n"
              "curate.publish.publish = broken\n"
              "from curate.run import main\n"
              f"sys.exit(main([{str(config)!r}]))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, **CREDENTIALS}, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    stderr = " ".join(result.stderr.split())
    assert "publish failed: ConnectionError: connection reset by peer" in stderr
    assert f"python -m curate.publish {config}" in stderr
    assert (tmp_path / "out" / "_SUCCESS").exists() and local_files(tmp_path / "out")
    assert not s3fs_for(s3_endpoint).exists(f"{BUCKET}/runs/failing/_SUCCESS")
