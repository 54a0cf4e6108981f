"""Names the YAML uses for stages, resolved lazily so heavy imports happen only when used.

A stage is named by its registered name (``langid``) or, for user stages, by an import path
``package.module:ClassName`` given as ``uses:``. The YAML is trusted like code: naming an import
path runs that module.
"""

from __future__ import annotations

import importlib

from curate.stage import Stage

BUILTIN_STAGES: dict[str, str] = {
    "langid": "curate.stages.langid:LanguageID",
    "filter": "curate.stages.filter:FilterStage",
    "dedup": "curate.stages.dedup:Dedup",
    "quality": "curate.stages.quality:QualityJudge",
    "distilled_quality": "curate.stages.distilled_quality:DistilledQuality",
    "synthesize": "curate.stages.synthesize:Synthesize",
    "tokenize": "curate.stages.tokenize:Tokenize",
}


def _import(path: str) -> object:
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise LookupError(f"module {module_name!r} has no attribute {attr!r}") from None


def resolve_stage(name: str) -> type[Stage]:
    """The stage class for a YAML name; LookupError with the known names otherwise."""
    if name in BUILTIN_STAGES:
        target = BUILTIN_STAGES[name]
    elif ":" in name:
        target = name
    else:
        known = ", ".join(sorted(BUILTIN_STAGES))
        raise LookupError(
            f"unknown stage {name!r} (known stages: {known}; or set uses: 'package.module:ClassName')"
        )
    try:
        cls = _import(target)
    except ImportError as exc:
        raise LookupError(f"cannot import stage {target!r}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise LookupError(f"{target!r} is not a curate Stage subclass")
    return cls
