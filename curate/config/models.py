"""The typed models of a pipeline config: sources, download, Ray, reading, shards, checkpoints, publishing.

Every model is strict (an unknown key is an error). Stage options are not here: each stage
validates its own block with its ``Config`` model (:mod:`curate.config.load`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ConfigError(ValueError):
    """A pipeline config that cannot run; the message names the file and the key."""


class StrictModel(BaseModel):
    """Base for every config model: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class FieldMap(StrictModel):
    """Which field of an input record holds each document attribute (None: not present)."""

    text: str = "text"
    id: str | None = "id"
    url: str | None = "url"


#: storage_options keys that would put a secret in the YAML. Credentials come from each
#: filesystem's standard places (AWS env/profile, GCP ADC, HF_TOKEN / huggingface-cli login).
_SECRET_OPTION_WORDS = ("key", "secret", "token", "password", "credential", "passwd", "auth")


class SourceConfig(StrictModel):
    """One input: files, folders, globs or URLs (any fsspec protocol), or a list file of URLs."""

    name: str
    format: Literal["jsonl", "parquet", "text", "warc", "code", "archive"] | None = Field(
        default=None,
        description="Input format; inferred from the file suffix when omitted. 'code': source files "
        "(archives of source trees in a code source are read as 'archive').",
    )
    paths: list[str] = Field(default_factory=list, description="Files, folders, globs or URLs.")
    list_file: str | None = Field(
        default=None, description="A file (or URL) listing one path/URL per line, e.g. Common Crawl's warc.paths.gz."
    )
    url_prefix: str | None = Field(default=None, description="Prepended to relative entries of list_file.")
    domain: str = Field(default="web", description="web, code, math, ... (used in stats and mixtures)")
    fields: FieldMap = FieldMap()
    ids: Literal["rekey", "file", "error"] = Field(
        default="rekey",
        description="How records' own ids (fields.id, WARC-Record-ID) become document ids, which are unique per run. "
        "'rekey': '<source>/<id>' as given; an id repeated inside one file (7 and \"7\" are the same id) becomes "
        "'<source>/<file>:<id>' (then '#2', '#3', ...), and an id repeated across files fails the run naming both "
        "files (set 'file' for such sources). 'file': always '<source>/<file>:<id>', unique across files by "
        "construction (repeats inside a file re-keyed as above). 'error': any repeated id fails the run. Records "
        "without an id get '<source>:<file>:<position>', a namespace (':' after the source name) no record id can enter.",
    )
    columns: list[str] | None = Field(default=None, description="Parquet: extra columns to read (None: all).")
    normalize_unicode: Literal["NFC", "NFKC"] | None = "NFC"
    html_extractor: Literal["trafilatura", "resiliparse"] = "trafilatura"
    max_file_bytes: int = Field(default=1_000_000, gt=0, description="Code files larger than this are rejected.")
    max_archive_bytes: int = Field(default=2 * 1024**3, gt=0, description="Stop reading an archive after this much uncompressed data.")
    max_record_bytes: int = Field(default=16 * 1024**2, gt=0, description="Larger records are rejected (record_too_large).")
    max_records: int | None = Field(default=None, gt=0, description="Stop after this many records per file.")
    max_files: int | None = Field(default=None, gt=0, description="Use only the first N files (sampling runs).")
    max_bytes: int | None = Field(default=None, gt=0, description="Download at most this many bytes per remote file.")
    checksums: dict[str, str] = Field(
        default_factory=dict, description="File name or URL -> 'sha256:<hex>' or 'md5:<hex>'; a mismatch fails the file."
    )
    on_error: Literal["fail", "skip"] = Field(
        default="fail", description="A file that cannot be fetched after retries: fail the run, or record it and go on."
    )
    storage_options: dict[str, Any] = Field(
        default_factory=dict, description="fsspec options (endpoint_url, anon, requester_pays, ...). Never credentials."
    )

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        if not value or any(ch in value for ch in "/\\: "):
            raise ValueError("source names must be non-empty and contain no '/', '\\', ':' or spaces")
        return value

    @field_validator("storage_options")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if any(word in key.lower() for word in _SECRET_OPTION_WORDS):
                raise ValueError(
                    f"{key!r}: credentials never go in the YAML; use the filesystem's standard places "
                    "(AWS_* env vars or ~/.aws, gcloud application-default credentials, HF_TOKEN or "
                    "`huggingface-cli login`)"
                )
        return value

    @field_validator("checksums")
    @classmethod
    def _checksum_syntax(cls, value: dict[str, str]) -> dict[str, str]:
        for name, digest in value.items():
            algo, _, hexdigest = digest.partition(":")
            if algo not in ("sha256", "md5") or not hexdigest or any(c not in "0123456789abcdef" for c in hexdigest.lower()):
                raise ValueError(f"{name!r}: expected 'sha256:<hex>' or 'md5:<hex>', got {digest!r}")
        return value

    @model_validator(mode="after")
    def _has_inputs(self) -> SourceConfig:
        if not self.paths and not self.list_file:
            raise ValueError("a source needs paths or list_file")
        return self


class DownloadConfig(StrictModel):
    """How remote files are fetched: retries with backoff, resume, a local cache, bounded parallelism."""

    cache_dir: str | None = Field(default=None, description="Default: $CURATE_CACHE_DIR or ~/.cache/curate, + /downloads.")
    retries: int = Field(default=5, ge=0)
    backoff_seconds: float = Field(default=1.0, ge=0, description="First retry waits about this long, then doubles.")
    max_backoff_seconds: float = Field(default=60.0, ge=0)
    timeout_seconds: float = Field(default=60.0, gt=0, description="Connect and read timeout per request.")
    min_bytes_per_second: float = Field(
        default=1024.0, ge=0, description="Slowest transfer accepted: each timeout_seconds window must average at "
        "least this, else the attempt is retried (resuming). Stops a server that trickles; 0: no floor.")
    deadline_seconds: float | None = Field(
        default=None, gt=0, description="Most time one file may take, all attempts and waits together "
        "(None: no limit); when it passes the file fails with a DownloadError.")
    max_parallel: int = Field(default=4, gt=0, description="Files read (and fetched) at the same time.")


class RayConfig(StrictModel):
    """Where to run. Without an address (and no RAY_ADDRESS) a local Ray sized to this machine starts."""

    address: str | None = None
    num_cpus: int | None = Field(default=None, gt=0)
    object_store_memory_gb: float | None = Field(default=None, gt=0)
    spill_dir: str | None = Field(
        default=None, description="Local Ray: where the object store spills when full (default: Ray's temp dir).")


class LocalConfig(StrictModel):
    """``local:`` in the YAML: the in-process executor (``executor: local``)."""

    workers: int | None = Field(default=None, gt=0, description="Worker processes (default: the machine's cores; 1: "
                                "everything in the driver process).")


class ReadConfig(StrictModel):
    """How input files are turned into batches."""

    batch_rows: int = Field(default=2000, gt=0, description="Documents per batch a reader emits.")
    max_retries: int = Field(default=3, ge=0, description="Times Ray reruns a read task whose worker process died.")


class ShardsConfig(StrictModel):
    """``shards:`` in the YAML: how ``tokens/`` becomes ``train/`` and ``validation/`` shards."""

    seq_len: int | None = Field(default=None, gt=0, description="Pack into seq_len + 1 token rows; None: one row per document.")
    last: Literal["drop", "pad", "keep"] = Field(default="drop", description="The last partial packed row.")
    mixture: dict[str, float] = Field(default_factory=dict, description="Weight per domain or domain/lang ('*': the rest).")
    target_tokens: int | None = Field(default=None, gt=0, description="Tokens to produce in all (default: the natural total).")
    validation: float = Field(default=0.0, ge=0, lt=1, description="Share of documents held out for validation.")
    seed: int = 0
    tokens_per_shard: int = Field(default=100_000_000, gt=0)
    row_group_rows: int = Field(default=1024, gt=0, description="Rows per Parquet row group (the loader's unit).")
    format: str | list[str] = Field(
        default="parquet",
        description="Output format(s): parquet, megatron (.bin/.idx), mds (MosaicML Streaming), litdata, memmap (OLMo).",
    )

    @field_validator("format")
    @classmethod
    def _known_formats(cls, value: str | list[str]) -> str | list[str]:
        from curate.trainer.formats import FORMATS  # late: the formats import the outputs package

        names = [value] if isinstance(value, str) else value
        if not names:
            raise ValueError("name at least one format")
        unknown = [n for n in names if n not in FORMATS]
        if unknown:
            raise ValueError(f"unknown format(s) {unknown} (known: {', '.join(FORMATS)})")
        if len(set(names)) < len(names):
            raise ValueError(f"a format is listed twice: {names}")
        return value

    @model_validator(mode="after")
    def _litdata_rows_are_whole(self) -> ShardsConfig:
        if "litdata" in self.formats and self.seq_len and self.last == "keep":
            raise ValueError("format litdata needs rows of exactly seq_len + 1 tokens (LitGPT's TokensLoader "
                             "reads fixed blocks): set last to drop or pad")
        return self

    @property
    def formats(self) -> list[str]:
        """``format`` as a list."""
        return [self.format] if isinstance(self.format, str) else list(self.format)


def refuse_dangerous_path(value: Any, key: str) -> Any:
    """Refuse a folder whose contents curate must never manage: empty (an unset shell variable
    reads as the current directory), the filesystem root, the home folder."""
    if value is None:
        return value
    text = str(value)
    if not text.strip():
        raise ValueError(f"{key} is empty (an unset shell variable?); name a folder for curate's own use")
    resolved = Path(text).expanduser().resolve()
    if resolved == Path(resolved.anchor):
        raise ValueError(f"{text!r} is the filesystem root; name a folder for curate's own use")
    if resolved == Path.home().resolve():
        raise ValueError(f"{text!r} is the home folder; name a folder for curate's own use")
    return value


class CheckpointConfig(StrictModel):
    """Where a run materialises its stage boundaries so that a killed run resumes (curate.checkpoint)."""

    enabled: bool = True
    dir: str | None = Field(default=None, description="Default: OUTPUT_DIR/_checkpoints (shared storage on a cluster).")
    after: Literal["auto"] | list[str] = Field(
        default="auto",
        description="'auto': after reading (per file), global stages and model stages; or a list of stage keys ('read' too).",
    )

    @field_validator("dir", mode="before")
    @classmethod
    def _not_dangerous(cls, value: Any) -> Any:
        return refuse_dangerous_path(value, "checkpoint.dir")


class PublishConfig(StrictModel):
    """``publish:`` in the YAML: after the run commits ``output_dir``, upload its outputs here
    (curate.publish). Credentials come from the backend's usual chain (env, profile, instance
    role), not from the YAML; ``storage_options`` is for the rest (endpoint_url, region, ...)."""

    to: str = Field(description="An fsspec URL: s3://bucket/prefix, gs://bucket/prefix, ...")
    storage_options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("to")
    @classmethod
    def _is_url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(f"expected a URL such as s3://bucket/prefix, got {value!r} "
                             "(a local or mounted path belongs in output_dir)")
        return value.rstrip("/")


class PipelineConfig(StrictModel):
    """A whole run as written in the YAML (stage options stay raw here; see :func:`load_config`)."""

    name: str = "pipeline"
    output_dir: Path
    sources: list[SourceConfig] = Field(min_length=1)
    stages: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    read: ReadConfig = ReadConfig()
    download: DownloadConfig = DownloadConfig()
    executor: Literal["ray", "local"] = Field(
        default="ray", description="ray: a local or joined Ray (any size); local: this machine only, without Ray "
        "(worker processes forked from the driver; no per-process Ray start-up).")
    ray: RayConfig = RayConfig()
    local: LocalConfig = LocalConfig()
    shards: ShardsConfig | None = Field(default=None, description="Trainer shards from tokens/ (needs a tokenize stage).")
    outputs: list[str] | None = Field(
        default=None, min_length=1,
        description="Output folders to write (curate.outputs.SINKS: documents, rejected, tokens, trainer); "
        "unset: documents and rejected, tokens with a tokenize stage, trainer with shards.")
    checkpoint: CheckpointConfig = CheckpointConfig()
    publish: PublishConfig | None = Field(default=None, description="Upload the finished outputs to object storage.")

    @field_validator("output_dir", mode="before")
    @classmethod
    def _local_or_mounted(cls, value: Any) -> Any:
        # Path("s3://b/x") would quietly become a relative folder "s3:/b/x" on every node.
        if isinstance(value, str) and "://" in value:
            raise ValueError(f"{value!r}: output_dir is where the run is built and must be a local or mounted "
                             "shared path (NFS, Lustre, ...) that can rename directories; to put the outputs on "
                             "object storage add `publish: {to: " + value + "}`")
        return refuse_dangerous_path(value, "output_dir")
