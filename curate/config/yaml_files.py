"""YAML in: files read with a bounded ``safe_load`` (no tags, no alias bombs) and ``key=value`` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from curate.config.models import ConfigError

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


def safe_load(text: str) -> Any:
    """Like ``yaml.safe_load``; an alias bomb or a too-deep document is a ``yaml.YAMLError``."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(raw).__name__}")
    return raw




def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` -> (["a", "b", "c"], value); the value is read as YAML (numbers, bools, lists)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r}: expected dotted.key=value")
    parts = key.strip().split(".")
    if any(not p for p in parts):
        raise ConfigError(f"override {text!r}: empty component in key {key!r}")
    try:
        parsed = safe_load(value) if value.strip() else ""
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

