"""Pipeline configuration: one YAML file, validated into typed models before any work starts.

* :mod:`curate.config.models`: the typed models (``PipelineConfig`` and its blocks);
* :mod:`curate.config.yaml_files`: bounded safe YAML reading and ``key=value`` overrides;
* :mod:`curate.config.load`: ``load_config``, which validates stage options with each stage's own
  model and names the file and the dotted key of every error.
"""

from curate.config.load import LoadedConfig, StageSpec, check_outputs, load_config
from curate.config.models import (
    CheckpointConfig,
    ConfigError,
    DownloadConfig,
    FieldMap,
    PipelineConfig,
    PublishConfig,
    RayConfig,
    ReadConfig,
    ShardsConfig,
    SourceConfig,
    StrictModel,
    refuse_dangerous_path,
)
from curate.config.yaml_files import apply_override, parse_override, read_yaml

__all__ = [
    "CheckpointConfig", "ConfigError", "DownloadConfig", "FieldMap", "LoadedConfig", "PipelineConfig", "PublishConfig",
    "RayConfig", "ReadConfig", "ShardsConfig", "SourceConfig", "StageSpec", "StrictModel", "apply_override",
    "check_outputs", "load_config", "parse_override", "read_yaml", "refuse_dangerous_path",
]
