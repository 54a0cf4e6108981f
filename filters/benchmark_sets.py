"""Benchmark test sets decontamination knows by name, and reading their items.

A config names a benchmark and its file (``gsm8k: {path: ...}``); the name says which fields
hold text, so nobody has to remember that HumanEval's solution is ``canonical_solution``. Any
other JSONL works with explicit ``fields:``. Every field a config lists (or a known benchmark
requires) must occur in the file: a misspelt field would silently index less of the benchmark.

Each item keeps its fields apart: decontamination indexes each field on its own (a short
question still forms n-grams of its own) and their join. A MATH problem's ``[asy]`` diagram is a
field of its own (drawing code, easily mangled in a copy; the problem's text stands without it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


@dataclass(frozen=True)
class KnownBenchmark:
    """Where a public benchmark keeps its text. Each entry of ``fields`` lists alternative names
    (the first that occurs is used: MBPP's original ``text`` or the sanitized ``prompt``)."""

    fields: tuple[tuple[str, ...], ...]
    optional: tuple[str, ...] = ()
    id_fields: tuple[str, ...] = ()
    lang: str = "en"


#: Fields of the common public test sets, in the layouts their official releases and the
#: Hugging Face copies use.
KNOWN_BENCHMARKS: dict[str, KnownBenchmark] = {
    "gsm8k": KnownBenchmark((("question",), ("answer",))),
    "math": KnownBenchmark((("problem",), ("solution",)), id_fields=("unique_id",)),
    "humaneval": KnownBenchmark((("prompt",), ("canonical_solution",)), optional=("test",), id_fields=("task_id",)),
    "humaneval_plus": KnownBenchmark((("prompt",), ("canonical_solution",)), optional=("test",),
                                     id_fields=("task_id",)),
    "mbpp": KnownBenchmark((("text", "prompt"), ("code",)), optional=("test_list",), id_fields=("task_id",)),
    "mmlu": KnownBenchmark((("question",), ("choices",)), id_fields=("id",)),
    "arc": KnownBenchmark((("question",),), optional=("choices",), id_fields=("id",)),
    "hellaswag": KnownBenchmark((("ctx",), ("endings",)), id_fields=("ind",)),
    "mgsm": KnownBenchmark((("question",),), optional=("answer",), lang=""),
}  # fmt: skip


class BenchmarkSource(BaseModel):
    """One benchmark test set: a JSONL file (local path or fsspec URL, plain or compressed).

    ``kind`` (default: the benchmark's name in the config) picks the fields of a known benchmark
    (:data:`KNOWN_BENCHMARKS`); ``fields`` overrides them and is required for any other file.
    """

    model_config = ConfigDict(extra="forbid")

    path: str
    kind: str | None = None
    fields: list[str] | None = Field(default=None, min_length=1)
    """Fields holding text; list and dict values are flattened (MBPP's ``test_list``)."""
    id_field: str | None = None
    """Field naming each item in reports (default: the known benchmark's id, else the line number)."""
    lang: str | None = None
    """Language of the items (``en``, ``fra_Latn``), for number words and word frequencies;
    default: the known benchmark's (English), else a per-record ``lang`` field, else English."""

    @model_validator(mode="after")
    def _known_kind(self) -> BenchmarkSource:
        if self.kind is not None and self.kind not in KNOWN_BENCHMARKS:
            raise ValueError(f"unknown benchmark kind {self.kind!r}: known are {', '.join(KNOWN_BENCHMARKS)}; "
                             "or give `fields:` for any JSONL")
        return self


def resolve(name: str, source: BenchmarkSource) -> tuple[list[tuple[str, ...]], tuple[str, ...], tuple[str, ...], str]:
    """(required field alternatives, optional fields, id fields, language) of a configured benchmark.

    Raises ValueError when the benchmark is neither known nor given ``fields``."""
    kind = source.kind or name.lower()
    known = KNOWN_BENCHMARKS.get(kind)
    if source.fields is not None:
        required = [(f,) for f in source.fields]
        optional: tuple[str, ...] = ()
    elif known is not None:
        required, optional = list(known.fields), known.optional
    else:
        raise ValueError(f"benchmark {name!r} is not one decontamination knows ({', '.join(KNOWN_BENCHMARKS)}): "
                         "give its text fields with `fields: [...]`, or `kind:` if it has a layout we know")
    ids = (source.id_field,) if source.id_field else (known.id_fields if known else ())
    lang = source.lang if source.lang is not None else (known.lang if known else "")
    return required, optional, ids, lang


@dataclass(frozen=True)
class BenchmarkItem:
    """One test item: its fields' text (in config order), its id and language."""

    benchmark: str
    item_id: str
    texts: tuple[str, ...]
    lang: str
    diagrams: frozenset[int] = frozenset()  # indexes of texts that are diagram code, not text


def _flatten(value: Any) -> Iterator[str]:
    if value is None:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _flatten(item)
    else:
        yield str(value)


_ASY = re.compile(r"\[asy\].*?(?:\[/asy\]|\Z)", re.DOTALL)


def _apart_from_diagrams(text: str) -> list[tuple[str, bool]]:
    """A field with ``[asy]`` diagrams (MATH) as two: its text, and the diagrams' drawing code (True).
    A document quoting the problem with the diagram lost or mangled still holds all of its text,
    and a diagram alone (train and test problems share many) is no copy of the problem."""
    diagrams = _ASY.findall(text)
    if not diagrams:
        return [(text, False)]
    return [(_ASY.sub(" ", text), False), ("\n".join(diagrams), True)]


def read_items(name: str, source: BenchmarkSource) -> Iterator[BenchmarkItem]:
    """The items of one benchmark file; a required field no record has is a ValueError naming it."""
    import fsspec

    required, optional, id_fields, default_lang = resolve(name, source)
    seen: set[str] = set()
    try:
        with fsspec.open(source.path, "rt", encoding="utf-8", compression="infer") as handle:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"benchmark {name!r}: {source.path}:{lineno}: not JSON ({exc})") from exc
                if not isinstance(record, dict):
                    raise ValueError(f"benchmark {name!r}: {source.path}:{lineno}: expected a JSON object")
                seen.update(record)
                fields = [next((f for f in group if f in record), group[0]) for group in required]
                fields += [f for f in optional if f in record]
                parts = [part for f in fields for part in _apart_from_diagrams("\n".join(_flatten(record.get(f))))]
                texts = tuple(text for text, _ in parts)
                diagrams = frozenset(i for i, (_, is_diagram) in enumerate(parts) if is_diagram)
                item_id = next((str(record[f]) for f in id_fields if f in record), str(lineno))
                lang = default_lang or str(record.get("lang") or "en")
                if any(texts):
                    yield BenchmarkItem(name, item_id, texts, lang, diagrams)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"benchmark {name!r}: file not found: {source.path}") from exc
    missing = [" or ".join(repr(f) for f in group) for group in required if not seen & set(group)]
    if missing:
        raise ValueError(f"benchmark {name!r}: {'field' if len(missing) == 1 else 'fields'} {', '.join(missing)} "
                         f"{'occurs' if len(missing) == 1 else 'occur'} in no record of {source.path} "
                         f"(its records have {sorted(seen)[:12]})")
