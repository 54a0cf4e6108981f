"""Read, override and validate a pipeline config into a :class:`LoadedConfig`, before any work starts.

A config error must name the file and the dotted key that is wrong, so every failure here is
raised as :class:`~curate.config.models.ConfigError` with both. Stage options are validated by
the stage's own pydantic model (looked up in the registry), so an unknown stage option is caught
here too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from curate.config.models import ConfigError, PipelineConfig
from curate.config.yaml_files import apply_override, parse_override, read_yaml


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
    if pipeline.shards is not None:
        check_trainer_formats(path, pipeline.shards.formats)
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


def check_trainer_formats(path: Path, names: list[str]) -> None:
    """Every ``shards.format`` can be written here: the libraries a writer imports are installed."""
    import importlib.util

    from curate.trainer.formats import format_named

    for name in names:
        needs = format_named(name).writes_with
        if needs and importlib.util.find_spec(needs[0]) is None:
            raise ConfigError(f"{path}: shards.format: writing {name!r} needs the {needs[0]} package: {needs[1]}")
