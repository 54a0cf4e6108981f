"""The filter stage: order, first reject wins, flags, text rewrites and signal columns."""

from __future__ import annotations

import pyarrow as pa

from curate.config import StageSpec
from curate.runtime.runner import StageRunner
from curate.schema import BASE_SCHEMA
from curate.stages.filter import FilterConfig, FilterStage
from tests.conftest import SAMPLES

PROSE = ("The committee met on Tuesday to review the budget for the new community library. After a long "
         "discussion, the members agreed to fund longer opening hours and a reading programme for children. "
         "Contact the office at clerk@town-hall.org for the minutes of the meeting and the full budget tables.")
PLANTED = ("Homework help: A library lends 36 books on Monday and twice as many on Tuesday. On Wednesday it lends "
           "15 fewer books than on Tuesday. How many books does the library lend over the three days? " * 2)


def _table(rows: list[dict]) -> pa.Table:
    full = [{"source": "t", "domain": "web", **r} for r in rows]
    return pa.Table.from_pylist(full, schema=BASE_SCHEMA).append_column("lang", pa.array(["eng_Latn"] * len(rows)))


def _stage(**options) -> FilterStage:
    stage = FilterStage(FilterConfig.model_validate(options))
    stage.setup()
    return stage


def test_flag_keeps_the_document_and_pii_rewrites_text() -> None:
    stage = _stage(keep_signals=True, filters=[
        {"name": "decontamination", "action": "flag",
         "benchmarks": {"gsm8k_mini": {"path": str(SAMPLES / "benchmarks" / "gsm8k_mini.jsonl"),
                                       "fields": ["question", "answer"]}}},
        {"name": "pii"},
        {"name": "length", "min_chars": 100},
    ])
    out = stage.process(_table([{"id": "a", "text": PROSE}, {"id": "b", "text": PLANTED}, {"id": "c", "text": "short"}]))
    rows = {r["id"]: r for r in out.to_pylist()}
    assert rows["a"]["reject_reason"] is None and "<EMAIL>" in rows["a"]["text"] and "clerk@" not in rows["a"]["text"]
    assert rows["a"]["pii_emails"] == 1 and rows["a"]["decontamination_flag"] is None
    assert rows["b"]["reject_reason"] is None  # flagged, not dropped
    assert rows["b"]["decontamination_flag"].startswith("contaminated: gsm8k_mini (")
    assert rows["c"]["reject_reason"] == "length.too_short" and rows["c"]["length_chars"] == 5.0


def test_first_failing_filter_names_the_reason_and_rejected_rows_are_untouched() -> None:
    spec = StageSpec("filter", FilterStage, FilterConfig.model_validate(
        {"filters": [{"name": "length", "min_chars": 100}, {"name": "gopher_quality"}]}))
    runner = StageRunner(spec)
    table = _table([{"id": "short", "text": "tiny"}, {"id": "soup", "text": "#### $$$ %%% " * 40},
                    {"id": "earlier", "text": "x", "reject_stage": "langid", "reject_reason": "low_score"}])
    rows = {r["id"]: r for r in runner(table).to_pylist()}
    assert rows["short"]["reject_reason"] == "length.too_short" and rows["short"]["reject_stage"] == "filter"
    assert rows["soup"]["reject_reason"].startswith("gopher_quality.")
    assert rows["earlier"]["reject_stage"] == "langid" and rows["earlier"]["reject_reason"] == "low_score"


def test_rejected_rows_keep_the_text_they_arrived_with_when_signals_are_kept() -> None:
    """keep_signals runs every filter on every row; C4 line removal after the rejecting filter used
    to empty the text of rejected rows (93 rows in one run), and PII redaction rewrote it."""
    banner = "Accept all cookies\nManage preferences\nContact webmaster@example.org"
    prose = PROSE  # passes every filter below
    stage = _stage(keep_signals=True, filters=[
        {"name": "length", "min_chars": 100},
        {"name": "c4"},
        {"name": "pii"},
    ])
    out = stage.process(_table([{"id": "banner", "text": banner}, {"id": "prose", "text": prose}]))
    rows = {r["id"]: r for r in out.to_pylist()}
    assert rows["banner"]["reject_reason"] == "length.too_short"
    assert rows["banner"]["text"] == banner  # not "" (C4 removes every line) nor redacted
    assert rows["banner"]["c4_lines_removed_frac"] == 1.0  # the later filters' signals are still there
    assert rows["prose"]["reject_reason"] is None and rows["prose"]["text"] != ""


REGISTERED_FILTER = """
import json, sys
import filters
from tests.example_filters import PlaceholderText
filters.FILTERS["placeholder"] = PlaceholderText  # the one line a new filter adds to filters/__init__.py

import pyarrow as pa
from curate.config import load_config
from curate.runtime.runner import StageRunner
from curate.schema import BASE_SCHEMA

loaded = load_config(sys.argv[1], ["stages.filter.filters=[{name: placeholder, max_placeholders: 1}, {name: pii}]"])
spec = next(s for s in loaded.stages if s.key == "filter")
rows = [{"id": "filler", "text": "Lorem ipsum dolor sit amet. Lorem ipsum again.", "source": "s", "domain": "web"},
        {"id": "real", "text": "A real page about rivers and rain.", "source": "s", "domain": "web"}]
out = StageRunner(spec)(pa.Table.from_pylist(rows, schema=BASE_SCHEMA))
print(json.dumps({r["id"]: [r["reject_reason"], r["reject_detail"]] for r in out.to_pylist()}))
"""


def test_a_new_filter_is_a_module_and_a_registry_line() -> None:
    """The filter stage's list is built from filters.FILTERS when curate imports it: a filter
    registered there is configured by name like a built-in one (run in a fresh interpreter)."""
    import json
    import subprocess
    import sys

    from tests.conftest import QUICKSTART, REPO

    result = subprocess.run([sys.executable, "-c", REGISTERED_FILTER, str(QUICKSTART)], cwd=REPO,
                            capture_output=True, text=True, check=True)
    verdicts = json.loads(result.stdout.strip().splitlines()[-1])
    assert verdicts == {"filler": ["placeholder.template_filler", "3 filler phrases"], "real": [None, None]}
