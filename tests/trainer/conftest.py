"""Fixtures shared by the trainer-format tests."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
import types
from collections.abc import Iterator

import pytest


def streaming_installed() -> bool:
    try:
        importlib.metadata.distribution("mosaicml-streaming")
    except importlib.metadata.PackageNotFoundError:
        return False
    return importlib.util.find_spec("streaming") is not None  # finds the package without running it



@pytest.fixture(scope="module")
def streaming() -> Iterator[types.ModuleType]:
    """mosaicml-streaming's ``streaming`` package, without running its ``__init__``.

    ``streaming/__init__.py`` imports ``streaming.vision``, which imports torchvision, and no
    torchvision loads next to this machine's CPU-only torch, so ``import streaming`` fails even
    though the reader (``streaming.base``) needs none of it. So a bare package module whose
    ``__path__`` is the installed package folder stands in for ``streaming`` in ``sys.modules``,
    and ``streaming.base`` is imported through it; the stand-in and its submodules are dropped after.
    """
    before = {name for name in sys.modules if name == "streaming" or name.startswith("streaming.")}
    if "streaming" not in sys.modules:
        spec = importlib.util.find_spec("streaming")
        package = types.ModuleType("streaming")
        package.__path__ = list(spec.submodule_search_locations)
        package.__file__ = spec.origin
        sys.modules["streaming"] = package
    import streaming.base
    import streaming.base.format.mds.writer  # noqa: F401  (MDSWriter, for the byte comparison)

    yield sys.modules["streaming"]
    for name in [n for n in sys.modules if (n == "streaming" or n.startswith("streaming.")) and n not in before]:
        del sys.modules[name]
