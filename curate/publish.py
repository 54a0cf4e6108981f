"""Copy a finished run's outputs to object storage (``publish:`` in the YAML).

    python -m curate.publish PIPELINE.yaml [key=value ...]   # upload again, without rerunning

A run is built in ``output_dir`` (local, or shared POSIX storage on a cluster), where staging
and folder renames make it complete or absent. Object stores cannot rename folders, so the
finished folders are uploaded afterwards through fsspec (s3://, gs://, az://, any protocol whose
fsspec backend is installed) with the same rule kept by a marker: ``_SUCCESS`` is removed from
the target first and written last, after every uploaded file's size has been checked against
the local one. Readers treat a prefix without ``_SUCCESS`` as incomplete.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from curate.config import ConfigError, PublishConfig
from curate.outputs.commit import SUCCESS_MARKER
from curate.outputs.registry import output_folders


@dataclass(frozen=True)
class Published:
    url: str
    files: int
    bytes: int
    seconds: float

    def describe(self) -> str:
        return f"published {self.files:,} files ({self.bytes / 2**20:,.1f} MiB) to {self.url} in {self.seconds:.1f}s"


def target(cfg: PublishConfig):
    """(fsspec filesystem, root path inside it) for ``publish.to``."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(cfg.to, **cfg.storage_options)
    except ImportError as exc:  # the protocol's backend (s3fs, gcsfs, adlfs) is not installed
        raise ConfigError(f"publish.to: {cfg.to!r} needs a filesystem package: {exc} "
                          "(pip install 'curate[cloud]' for s3:// and gs://)") from None
    except ValueError as exc:  # an unknown protocol
        raise ConfigError(f"publish.to: {cfg.to!r}: {exc}") from None
    return fs, root.rstrip("/")


def check_writable(cfg: PublishConfig) -> None:
    """Write and delete a probe object under the target, so a wrong bucket, endpoint or missing
    permission fails before the run instead of after it."""
    fs, root = target(cfg)
    probe = f"{root}/_curate_probe_{uuid.uuid4().hex}"
    try:
        fs.pipe(probe, b"")
        fs.rm(probe)
    except Exception as exc:
        raise ConfigError(f"publish.to: cannot write to {cfg.to!r}: {type(exc).__name__}: {exc}") from None


def publish(output_dir: Path, cfg: PublishConfig) -> Published:
    """Upload the committed output folders of ``output_dir`` to ``cfg.to``, replacing what a
    previous run left there, and write ``_SUCCESS`` last. Raises (leaving no ``_SUCCESS``) if an
    upload fails or a file arrives with another size."""
    start = time.time()
    fs, root = target(cfg)
    marker = f"{root}/{SUCCESS_MARKER}"
    if fs.exists(marker):
        fs.rm(marker)
    local_files: list[Path] = []
    for folder in output_folders():
        remote = f"{root}/{folder}"
        if fs.exists(remote):
            fs.rm(remote, recursive=True)
        if (output_dir / folder).is_dir():
            local_files += sorted(p for p in (output_dir / folder).rglob("*") if p.is_file())
    remote_paths = [f"{root}/{p.relative_to(output_dir).as_posix()}" for p in local_files]
    local_sizes = [p.stat().st_size for p in local_files]
    if local_files:
        fs.put([str(p) for p in local_files], remote_paths)  # fsspec backends upload a list concurrently
    fs.invalidate_cache()
    arrived = {path.rstrip("/"): info["size"] for path, info in fs.find(root, detail=True).items()}
    for remote, size in zip(remote_paths, local_sizes):
        if arrived.get(remote) != size:
            raise RuntimeError(f"publish: {remote} has {arrived.get(remote)} bytes after upload, {size} locally")
    fs.pipe(marker, (time.strftime("%Y-%m-%dT%H:%M:%S%z") + "\n").encode())
    return Published(cfg.to, len(local_files), sum(local_sizes), time.time() - start)


def main(argv: list[str] | None = None) -> int:
    """Upload a committed run again (after a failed publish), with the run's own arguments."""
    from curate.config import load_config
    from curate.ownership import output_lock

    parser = argparse.ArgumentParser(prog="python -m curate.publish", description=main.__doc__)
    parser.add_argument("config", help="the pipeline YAML the run used")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="the run's dotted overrides")
    args = parser.parse_args(argv)
    try:
        loaded = load_config(args.config, args.overrides)
        cfg = loaded.pipeline.publish
        if cfg is None:
            raise ConfigError(f"{args.config}: no publish: block (publish.to) to upload to")
        output_dir = Path(loaded.pipeline.output_dir)
        if not (output_dir / SUCCESS_MARKER).exists():
            raise ConfigError(f"{output_dir} has no {SUCCESS_MARKER}: the run did not finish, so there is nothing to publish")
        check_writable(cfg)
        with output_lock(output_dir):  # no run may swap the folders while they are uploaded
            published = publish(output_dir, cfg)
    except ConfigError as exc:
        print(f"config error\n{exc}", file=sys.stderr)
        return 2
    print(published.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
