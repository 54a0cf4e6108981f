"""Pipeline configuration: one YAML file, validated into typed models before any work starts.

A config error must name the file and the dotted key that is wrong, so every failure here is
raised as :class:`ConfigError` with both. Stage options are validated by the stage's own
pydantic model (looked up in the registry), so an unknown stage option is caught here too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


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
    ray: RayConfig = RayConfig()
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


@dataclass(frozen=True)
class StageSpec:
    """A stage as the engine runs it: its key in the YAML, its class and its validated options."""

    key: str
    stage_cls: type
    options: BaseModel


@dataclass(frozen=True)
class LoadedConfig:
    path: Path
    pipeline: PipelineConfig
    stages: list[StageSpec]
    raw: dict[str, Any]

    @property
    def config_hash(self) -> str:
        """Hash of the effective config (after overrides): identifies what produced an output."""
        blob = json.dumps(self.raw, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` -> (["a", "b", "c"], value); the value is read as YAML (numbers, bools, lists)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r}: expected dotted.key=value")
    parts = key.strip().split(".")
    if any(not p for p in parts):
        raise ConfigError(f"override {text!r}: empty component in key {key!r}")
    try:
        parsed = _safe_load(value) if value.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value is not valid YAML: {exc}") from exc
    return parts, parsed


def apply_override(raw: dict[str, Any], parts: list[str], value: Any) -> None:
    """Set ``raw[parts...] = value``, creating mappings as needed; numeric parts index lists."""
    node: Any = raw
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"override {'.'.join(parts)}: {where!r} is not an index of a list of {len(node)}")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
        else:
            raise ConfigError(f"override {'.'.join(parts)}: {where!r} is inside a value that is not a mapping")


def _dotted(loc: tuple[Any, ...], prefix: str = "") -> str:
    text = ".".join(str(p) for p in loc)
    return f"{prefix}.{text}" if prefix and text else (prefix or text)


def _format_validation_error(path: Path, exc: ValidationError, prefix: str = "") -> str:
    lines = []
    for err in exc.errors():
        key = _dotted(tuple(err["loc"]), prefix)
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"]
            if "input" in err and not isinstance(err["input"], dict | list):
                msg += f" (got {err['input']!r})"
        lines.append(f"{path}: {key}: {msg}")
    return "\n".join(lines)


#: Most nodes a config may hold once its aliases are expanded. Real configs hold hundreds; a
#: "billion laughs" (nested anchors, each alias repeating the last) holds billions, which every
#: walk over the values (validation, hashing) would expand in memory.
MAX_YAML_NODES = 1_000_000


class _AliasBomb(yaml.YAMLError):
    """YAML whose aliases expand to more than :data:`MAX_YAML_NODES` nodes, or into themselves."""


def _expanded_size(root: yaml.Node) -> int:
    """How many nodes the document has with every alias written out (a shared node counts each time).

    Iterative (a deep document must not exhaust the stack) and memoised per node, so it costs
    one visit per distinct node however many times aliases repeat it.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # being summed: meeting one again means a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done:
            total = 1 + sum(sizes[id(child)] for child in children)
            if total > MAX_YAML_NODES:
                raise _AliasBomb(f"its aliases expand to more than {MAX_YAML_NODES:,} values (an alias bomb?)")
            sizes[id(node)] = total
            open_nodes.discard(id(node))
            continue
        if id(node) in open_nodes:
            raise _AliasBomb("an alias refers to a value that contains it (a recursive alias)")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.safe_load`` that refuses alias bombs before anything is built from them."""

    def construct_document(self, node: yaml.Node) -> Any:
        _expanded_size(node)
        return super().construct_document(node)


def _safe_load(text: str) -> Any:
    """Like ``yaml.safe_load``; an alias bomb or a too-deep document is a ``yaml.YAMLError``."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = _safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(raw).__name__}")
    return raw


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> LoadedConfig:
    """Read, override and validate a pipeline config, stage options included."""
    from curate.registry import resolve_stage  # late: the registry imports stage modules

    path = Path(path)
    raw = read_yaml(path)
    for text in overrides:
        parts, value = parse_override(text)
        apply_override(raw, parts, value)
    try:
        pipeline = PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(path, exc)) from None

    specs: list[StageSpec] = []
    for key, options in pipeline.stages.items():
        options = dict(options or {})
        uses = options.pop("uses", key)
        try:
            stage_cls = resolve_stage(uses)
        except LookupError as exc:
            raise ConfigError(f"{path}: stages.{key}: {exc}") from None
        try:
            validated = stage_cls.Config.model_validate(options)
        except ValidationError as exc:
            raise ConfigError(_format_validation_error(path, exc, prefix=f"stages.{key}")) from None
        specs.append(StageSpec(key=key, stage_cls=stage_cls, options=validated))
    after = pipeline.checkpoint.after
    if after != "auto":
        unknown = [name for name in after if name != "read" and name not in pipeline.stages]
        if unknown:
            raise ConfigError(f"{path}: checkpoint.after: {unknown} are not stages of this pipeline "
                              f"(stages: {['read', *pipeline.stages]})")
    loaded = LoadedConfig(path=path, pipeline=pipeline, stages=specs, raw=raw)
    check_outputs(loaded)
    return loaded


def check_outputs(loaded: LoadedConfig) -> None:
    """``shards:`` and ``outputs:`` ask only for what the run can write."""
    from curate.outputs import SINKS, tokenizer_of  # late: the outputs package imports stage modules

    path, pipeline = loaded.path, loaded.pipeline
    tokenizes = tokenizer_of(loaded) is not None
    if pipeline.shards is not None and not tokenizes:
        raise ConfigError(f"{path}: shards: trainer shards are built from tokens/; add a tokenize stage")
    for index, name in enumerate(pipeline.outputs or ()):
        if name not in SINKS:
            raise ConfigError(f"{path}: outputs.{index}: unknown output {name!r} (known: {', '.join(SINKS)})")
        if name == "tokens" and not tokenizes:
            raise ConfigError(f"{path}: outputs.{index}: tokens need a tokenize stage")
        if name == "trainer" and pipeline.shards is None:
            raise ConfigError(f"{path}: outputs.{index}: trainer shards need a shards: block")
    if pipeline.outputs is not None and pipeline.shards is not None and "trainer" in pipeline.outputs \
            and "tokens" not in pipeline.outputs:
        raise ConfigError(f"{path}: outputs: trainer shards are built from tokens/; list tokens too")
