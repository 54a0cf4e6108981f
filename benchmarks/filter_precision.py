"""How often each filter throws away good real data, and how much real junk it catches.

    python benchmarks/filter_precision.py                 # every set, every filter, the quickstart chain
    python benchmarks/filter_precision.py --sets prose    # sets whose name contains "prose"
    python benchmarks/filter_precision.py --code-files 400 --json out.json

Strict filtering is only worth something when it is right, and "right" can only be measured on
data nobody here wrote. Every set below is real third-party text, built on any machine without
the internet:

good (a rejection is a false rejection)
  * ``prose_parallel``: 300 paragraphs of the Python documentation in English and, the same
    paragraphs, in Chinese, Japanese, Korean and Spanish (human translations from the .po files;
    ``benchmarks/data/prose_parallel.jsonl``; each record names its .po file and commit in ``source``).
    The fair test of a script-aware size rule: the rejection rate of a language should match
    English's on the same content.
  * ``prose_docs`` / ``prose_paragraphs``: ``../shared/realdata/prose_docs.jsonl`` (translated
    documentation in 7 languages, 400-3000 character documents) and its paragraphs one by one.
  * ``math_mgsm``: the 250 MGSM word problems in 11 languages (``../shared/realdata``).
  * ``math_gsm8k``/``math_competition``: GSM8K train problems with worked answers and competition
    problems with LaTeX solutions, when ``benchmarks/data/`` has them.
  * ``code_python``: Python files of the installed site-packages (vendored ``_vendor``/``vendored`` trees and
    protobuf ``*_pb2.py`` output left out: not hand-written); ``code_c``: C/C++ headers under
    ``/usr/include``; ``code_js``: the non-minified JavaScript under ``/usr/share/javascript`` and
    of the npm packages under ``/usr/lib/node_modules`` (npm, corepack and their dependencies,
    each package read as a project of its own). A seeded sample of ``--code-files`` files each.
    Node's per-platform copies of the OpenSSL headers (``node/openssl/archs``, generated from one
    template) are left out.

bad (a rejection is a catch)
  * ``junk_minified_js``: ``*.min.js`` files shipped by Debian and npm packages;
  * ``junk_generated_py``: protobuf compiler output (``*_pb2.py``) from site-packages;
  * ``junk_word_lists`` / ``junk_tables`` / ``junk_logs``: lines of ``/usr/share/dict`` word
    lists, system tables (``/etc/services``, ``/usr/share/i18n/SUPPORTED``) and package-manager
    logs cut into documents: what a crawl's lists, menus, tables and logs look like to a prose
    filter; ``junk_troff``: man pages in their troff source; ``junk_certificates``: PEM files
    (base64 blobs).

Each filter of ``pipelines/code_math.yaml`` (and, with its defaults, each web filter it does not
configure: ``c4``) runs alone on the sets of the domains it is configured for (through
:class:`~curate.stages.filter.FilterStage`, the stage's own code path, with the set's true
language), then the quickstart's chain runs as the pipeline runs it: language ID (lid.176, the
stage's defaults) and then the filters in order, the first failure rejecting.
For code the reader's own rules (vendored/generated/minified by path or header) are a column too,
and ``kept`` is the chain's rejection rate on the files the reader keeps: a generated file set
aside by its header comment is not a false rejection of hand-written code (the issue's target
excludes vendored, minified and generated files), but the ``reader`` column shows every one.
Printed: per set and language, the rejection rate of each filter and the chain, and the chain's
reasons; and how many rejected rows carry a text other than the document as it arrived (0: the
audit trail in ``rejected/`` is the input, never what a later filter rewrote).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402

from curate.code_languages import language_of  # noqa: E402
from curate.config import load_config  # noqa: E402
from curate.schema import BASE_SCHEMA  # noqa: E402
from curate.stages.filter import FilterConfig, FilterStage  # noqa: E402
from curate.stages.langid import LangIDConfig, LanguageID  # noqa: E402
from filters import FILTERS  # noqa: E402

REALDATA = ROOT.parent / "shared" / "realdata"
DATA = ROOT / "benchmarks" / "data"
WEB_FILTERS = ("gopher_quality", "c4", "fineweb")
SITE_PACKAGES = sorted({Path(p) for p in sys.path if Path(p).name == "site-packages" and Path(p).is_dir()})


@dataclass
class DocSet:
    """Documents of one kind, all good or all bad."""

    name: str
    good: bool
    domain: str
    rows: list[dict] = field(default_factory=list)  # text, lang, code_language, path

    def add(self, text: str, lang: str | None, path: str | None = None, group: str | None = None) -> None:
        """``group``: the report's row (default: ``lang``)."""
        self.rows.append({"text": text, "lang": lang, "path": path, "group": group or lang,
                          "code_language": language_of(path) if path and self.domain == "code" else None})


# --- sets ---------------------------------------------------------------------------------------


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _jsonl_set(name: str, domain: str, path: Path) -> list[DocSet]:
    """A good set from a JSONL file of ``text`` and ``lang`` (English when absent); none if missing."""
    if not path.exists():
        return []
    s = DocSet(name, True, domain)
    for r in _jsonl(path):
        s.add(r["text"], r.get("lang", "eng_Latn"))
    return [s]


def parallel_set(path: Path) -> list[DocSet]:
    """Translations and their English originals, the English grouped by the language it pairs with."""
    if not path.exists():
        return []
    rows = list(_jsonl(path))
    other = {r["pair"]: r["lang"] for r in rows if r["lang"] != "eng_Latn"}
    s = DocSet("prose_parallel", True, "web")
    for r in rows:
        group = f"eng_Latn ({other.get(r['pair'], '?')} pairs)" if r["lang"] == "eng_Latn" else r["lang"]
        s.add(r["text"], r["lang"], group=group)
    return [s]


def prose_sets() -> list[DocSet]:
    sets = parallel_set(DATA / "prose_parallel.jsonl")
    docs = REALDATA / "prose_docs.jsonl"
    if docs.exists():
        whole, paragraphs = DocSet("prose_docs", True, "web"), DocSet("prose_paragraphs", True, "web")
        for r in _jsonl(docs):
            whole.add(r["text"], r["lang"])
            for paragraph in r["text"].split("\n\n"):
                if paragraph.strip():
                    paragraphs.add(paragraph.strip(), r["lang"])
        sets += [whole, paragraphs]
    return sets


def math_sets() -> list[DocSet]:
    return (_jsonl_set("math_mgsm", "math", REALDATA / "math_mgsm.jsonl")
            + _jsonl_set("math_gsm8k", "math", DATA / "gsm8k_train_dev.jsonl")
            + _jsonl_set("math_competition", "math", DATA / "math_competition_dev.jsonl"))


def _sample(paths: list[Path], n: int) -> list[Path]:
    paths = sorted(paths)
    return paths if len(paths) <= n else sorted(random.Random(0).sample(paths, n))


def _read(path: Path, limit: int = 1_000_000) -> str | None:
    try:
        data = path.read_bytes()[: limit + 1]
    except OSError:
        return None
    if len(data) > limit or b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _relative(path: Path, roots: list[Path]) -> str:
    """The path inside its project: an npm package under ``node_modules/`` is a project of its own."""
    if "node_modules" in path.parts:
        inside = path.as_posix().rsplit("node_modules/", 1)[1].split("/")
        return "/".join(inside[2:] if inside[0].startswith("@") else inside[1:])
    for root in roots:
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return path.name


def code_sets(n: int) -> list[DocSet]:
    python, generated = [], []
    for root in SITE_PACKAGES:
        for p in root.rglob("*.py"):
            if {"_vendor", "_vendored", "vendored"} & set(p.parts):
                continue  # third-party copies: not the package authors' code
            (generated if p.name.endswith("_pb2.py") else python).append(p)
    headers = [p for ext in ("*.h", "*.hpp", "*.tcc") for p in Path("/usr/include").rglob(ext)
               if "archs" not in p.parts]
    js_roots = [Path("/usr/share/javascript"), Path("/usr/lib/node_modules")]
    js = [p for root in js_roots if root.exists() for p in root.rglob("*.js") if not p.name.endswith(".min.js")]
    minified = [p for root in js_roots if root.exists() for p in root.rglob("*.min.js")]
    sets = []
    for name, good, paths, roots in (
        ("code_python", True, python, SITE_PACKAGES), ("code_c", True, headers, [Path("/usr/include")]),
        ("code_js", True, js, js_roots), ("junk_minified_js", False, minified, js_roots),
        ("junk_generated_py", False, generated, SITE_PACKAGES),
    ):
        s = DocSet(name, good, "code")
        for p in _sample(paths, n):
            text = _read(p)
            if text and text.strip():
                s.add(text, None, _relative(p, roots))
        if s.rows:
            sets.append(s)
    return sets


def _line_chunks(paths: list[Path], per_doc: int, docs: int) -> list[str]:
    lines: list[str] = []
    for p in paths:
        text = _read(p, 50_000_000) if p.is_file() else None
        if text:
            lines += [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    starts = list(range(0, max(len(lines) - per_doc, 1), per_doc)) if lines else []
    chosen = sorted(random.Random(0).sample(starts, min(docs, len(starts))))
    return ["\n".join(lines[start : start + per_doc]) for start in chosen]


def _whole_files(paths: list[Path], docs: int) -> list[str]:
    out = []
    for p in _sample(paths, docs):
        try:
            data = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
            out.append(data.decode("utf-8"))
        except (OSError, UnicodeDecodeError, gzip.BadGzipFile):
            continue
    return [text for text in out if text.strip()]


def junk_sets(per_doc: int = 40, docs: int = 200) -> list[DocSet]:
    """Real non-prose text a web crawl also brings: lists, tables, logs, markup, encoded blobs.

    None of it is written to be easy: word lists and system tables cut into ``per_doc``-line
    documents, package-manager logs, man pages in their troff source, PEM certificates.
    """
    dict_files = sorted(Path("/usr/share/dict").glob("*")) if Path("/usr/share/dict").exists() else []
    logs = [Path("/var/log/dpkg.log"), Path("/var/log/apt/term.log"), Path("/var/log/alternatives.log")]
    tables = [Path("/etc/services"), Path("/usr/share/i18n/SUPPORTED"), Path("/etc/mime.types")]
    man = sorted(Path("/usr/share/man/man1").glob("*.1.gz")) if Path("/usr/share/man/man1").exists() else []
    certs = sorted(Path("/etc/ssl/certs").glob("*.pem")) if Path("/etc/ssl/certs").exists() else []
    sources = {
        "junk_word_lists": _line_chunks(dict_files, per_doc, docs),
        "junk_tables": _line_chunks(tables, per_doc, docs),
        "junk_logs": _line_chunks(logs, per_doc, docs),
        "junk_troff": _whole_files(man, docs),
        "junk_certificates": _whole_files(certs, docs),
    }
    sets = []
    for name, texts in sources.items():
        s = DocSet(name, False, "web")
        for text in texts:
            s.add(text, "eng_Latn")
        if s.rows:
            sets.append(s)
    return sets


# --- running ------------------------------------------------------------------------------------


def _table(rows: list[dict], domain: str, lang_column: bool = True) -> pa.Table:
    table = pa.Table.from_pylist(
        [{"id": str(i), "text": r["text"], "source": "bench", "domain": domain, "path": r["path"],
          "code_language": r["code_language"]} for i, r in enumerate(rows)],
        schema=BASE_SCHEMA,
    )
    return table.append_column("lang", pa.array([r["lang"] for r in rows], pa.string())) if lang_column else table


def reasons_of(table: pa.Table) -> list[str | None]:
    return table.column("reject_reason").to_pylist()


def reader_reasons(s: DocSet) -> list[str | None]:
    """What the code reader itself does with each file (path, header and line-length rules)."""
    from curate.readers import code as reader

    out = []
    for r in s.rows:
        found = reader.path_reason(r["path"])
        if found is None and reader.generated_marker(r["text"], r["code_language"]) is not None:
            found = ("generated", "")
        if found is None and r["code_language"] and reader.minified_reason(r["text"], r["code_language"]):
            found = ("minified", "")
        if found is None and r["code_language"] is None:
            found = ("unknown_language", "")
        out.append(f"reader.{found[0]}" if found else None)
    return out


def run(sets: list[DocSet], pipeline: Path) -> dict:
    config = load_config(pipeline)
    stages = {spec.key: spec for spec in config.stages}
    filter_config: FilterConfig = stages["filter"].options
    langid = LanguageID(stages["langid"].options if "langid" in stages else LangIDConfig())
    langid.setup()
    # the library's web filters the pipeline does not configure run too, with their defaults
    configured = {flt.name for flt in filter_config.filters}
    extra = [FILTERS[name](domains=["web"]) for name in WEB_FILTERS if name not in configured]
    results: dict = {}
    for s in sets:
        columns: dict[str, list[str | None]] = {}
        altered = 0
        if s.domain == "code":
            columns["reader"] = reader_reasons(s)
        for flt in [*filter_config.filters, *extra]:
            if flt.domains is not None and s.domain not in flt.domains:
                continue
            stage = FilterStage(FilterConfig(filters=[flt]))
            stage.setup()
            columns[flt.name] = reasons_of(stage.process(_table(s.rows, s.domain)))
        # the chain: langid, then every filter in order (the first failure rejects)
        batch = langid.process(_table(s.rows, s.domain, lang_column=False))
        alive = [i for i, reason in enumerate(reasons_of(batch)) if reason is None]
        chain: list[str | None] = [f"langid.{r}" if r else None for r in reasons_of(batch)]
        if s.domain == "code":
            chain = [c or r for c, r in zip(chain, columns["reader"])]
            alive = [i for i in alive if chain[i] is None]
        if alive:
            stage = FilterStage(filter_config)
            stage.setup()
            out = stage.process(batch.take(alive))
            texts = out.column("text").to_pylist()
            for i, reason, text in zip(alive, reasons_of(out), texts):
                chain[i] = f"filter.{reason}" if reason else None
                if reason and text != s.rows[i]["text"]:
                    altered += 1  # rejected/ must hold the document as it arrived
        columns["chain"] = chain
        if s.domain == "code":
            columns["kept"] = [c for c, r in zip(chain, columns["reader"]) if r is None]
        results[s.name] = {"good": s.good, "domain": s.domain, "langs": [r["lang"] for r in s.rows],
                           "groups": [r["group"] for r in s.rows], "columns": columns, "altered": altered}
    return results


# --- report -------------------------------------------------------------------------------------


def _rate(reasons: list[str | None]) -> float:
    return sum(r is not None for r in reasons) / len(reasons) if reasons else 0.0


def report(results: dict) -> str:
    out = []
    for name, res in results.items():
        kind = "false rejections (good data)" if res["good"] else "catch rate (bad data)"
        langs = [g or "-" for g in res.get("groups", res["langs"])]
        groups = sorted(set(langs))
        filters = list(res["columns"])
        out.append(f"\n### {name} ({res['domain']}): {kind}, {len(langs)} documents\n")
        out.append("| lang | n | " + " | ".join(filters) + " |")
        out.append("|---|---:|" + "---:|" * len(filters))
        for group in [*groups, "all"] if len(groups) > 1 else groups:
            idx = [i for i, lang in enumerate(langs) if group == "all" or lang == group]
            cells = [f"{100 * _rate([res['columns'][f][i] for i in idx]):.1f}%" for f in filters if f != "kept"]
            if "kept" in filters:
                kept = res["columns"]["kept"] if group == "all" or len(groups) == 1 else []
                cells.append(f"{100 * _rate(kept):.1f}% of {len(kept)}")
            out.append(f"| {group} | {len(idx)} | " + " | ".join(cells) + " |")
        top = Counter(r for r in res["columns"]["chain"] if r).most_common(6)
        if top:
            out.append("\nchain reasons: " + ", ".join(f"{r} {c}" for r, c in top))
    return "\n".join(out)


def _script(lang: str | None) -> str:
    return lang.split("_")[-1] if lang else "code"


def summary(results: dict) -> str:
    """Per filter (columns): false rejections on good data per domain and script, catches on bad data."""
    rows: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for res in results.values():
        for name, reasons in res["columns"].items():
            if name == "kept":
                continue
            langs = res["langs"]
            if name == "chain" and res["domain"] == "code":
                reasons, langs = res["columns"]["kept"], [None] * len(res["columns"]["kept"])
            if not res["good"]:
                rows[f"bad {res['domain']}: caught"][name] += reasons
                continue
            rows[f"good {res['domain']}: all"][name] += reasons
            if res["domain"] != "code":
                for lang, reason in zip(langs, reasons):
                    rows[f"good {res['domain']}: {_script(lang)}"][name].append(reason)
    filters = list(dict.fromkeys(name for per in rows.values() for name in per if name != "chain")) + ["chain"]
    out = ["## Summary: rejection rate per filter: false rejections on good data (per domain and script), "
           "catches on bad data\n", "| data | n | " + " | ".join(filters) + " |", "|---|---:|" + "---:|" * len(filters)]
    for key in sorted(rows, key=lambda k: (k.startswith("bad"), k)):
        n = max(len(v) for v in rows[key].values())
        cells = [f"{100 * _rate(rows[key][f]):.1f}%" if rows[key].get(f) else "" for f in filters]
        out.append(f"| {key} | {n} | " + " | ".join(cells) + " |")
    out.append("\n(code chain: the files the code reader keeps; reader: files it sets aside as generated, vendored "
               "or minified by header or path)")
    rejected = sum(sum(r is not None for r in res["columns"]["chain"]) for res in results.values())
    altered = sum(res.get("altered", 0) for res in results.values())
    out.append(f"\nRejected rows whose text differs from the document as it arrived: {altered} of {rejected}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", type=Path, default=ROOT / "pipelines" / "code_math.yaml")
    parser.add_argument("--sets", default="", help="only sets whose name contains this")
    parser.add_argument("--code-files", type=int, default=600, help="files sampled per code set")
    parser.add_argument("--json", type=Path, help="also write per-document reasons here")
    args = parser.parse_args()
    sets = prose_sets() + math_sets() + code_sets(args.code_files) + junk_sets()
    sets = [s for s in sets if args.sets in s.name]
    results = run(sets, args.pipeline)
    print(summary(results))
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
