"""The dashboard: its Polars queries against independent pyarrow/numpy computations on the
quickstart's real output, the README's analyst queries, the bounded document sample, and the page
itself opened in a real headless Chromium (console clean, charts drawn, hostile text shown as text).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from html import unescape
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dashboards import queries
from tests.conftest import REPO

PAYLOAD = "<script>window.__pwned=1</script>"
HOSTILE_SOURCE = "<img src=x onerror=window.__pwned2=1>"
HOSTILE_REASON = "</script><script>window.__pwned3=1</script>"


@pytest.fixture(scope="module")
def out(quickstart_run) -> Path:
    return quickstart_run[0]


@pytest.fixture(scope="module")
def kept(out: Path) -> list[dict]:
    return pq.read_table(out / "documents").to_pylist()


@pytest.fixture(scope="module")
def dropped(out: Path) -> list[dict]:
    return pq.read_table(out / "rejected").to_pylist()


def _language(row: dict) -> str | None:
    return row["lang"] or (f"code:{row['code_language']}" if row["code_language"] else None)


# --- queries against independent computations ------------------------------------------------------


def test_funnel_and_rejections_match_the_run(out: Path, kept: list[dict], dropped: list[dict]) -> None:
    summary = json.loads((out / "stats" / "summary.json").read_text())
    funnel = queries.stage_funnel(out).collect()
    assert funnel["stage"].to_list() == [s["stage"] for s in summary["stages"]]
    assert funnel["docs_out"].to_list() == [s["docs_out"] for s in summary["stages"]]
    assert funnel["bytes_in"].to_list() == [s["bytes_in"] for s in summary["stages"]]
    tokenize = funnel.filter(pl.col("stage") == "tokenize")
    assert tokenize["tokens_out"].item() == sum(r["n_tokens"] for r in kept) == summary["tokens"]
    assert funnel.filter(pl.col("stage") == "filter")["tokens_out"].item() is None  # not counted before tokenize
    # the generations synthesize kept are its own series: each is a synthetic document kept, or one
    # a later stage rejected
    stages = [s["stage"] for s in summary["stages"]]
    later = set(stages[stages.index("synthesize") + 1:])
    made = funnel.filter(pl.col("stage") == "synthesize")["docs_made"].item()
    assert made == sum(bool(r["synthetic"]) for r in kept) + \
        sum(bool(r["synthetic"]) and r["reject_stage"] in later for r in dropped)
    assert funnel.filter(pl.col("stage") != "synthesize")["docs_made"].sum() == 0

    per_stage = dict(queries.rejected_per_stage(out).collect().iter_rows())
    assert per_stage == {s["stage"]: s["rejected"] for s in summary["stages"] if s["rejected"]}
    reasons = queries.rejected_by_reason(out).collect()
    expected = Counter((r["reject_stage"], r["reject_reason"]) for r in dropped)
    assert {(r["reject_stage"], r["reject_reason"]): r["docs"] for r in reasons.iter_rows(named=True)} == expected
    for row in reasons.iter_rows(named=True):
        is_filter_reason = "." in row["reject_reason"]
        assert row["filter"] == (row["reject_reason"].split(".")[0] if is_filter_reason else None)
    assert "repetition" in set(reasons["filter"].drop_nulls())


def test_languages_domains_and_sources(out: Path, kept: list[dict], dropped: list[dict]) -> None:
    docs, tokens = Counter(), Counter()
    for r in kept:
        docs[_language(r)] += 1
        tokens[_language(r)] += r["n_tokens"]
    per_language = queries.tokens_per_language(out).collect()
    assert {r["language"]: (r["docs"], r["tokens"]) for r in per_language.iter_rows(named=True)} == {
        k: (docs[k], tokens[k]) for k in docs}
    assert per_language["tokens"].to_list() == sorted(per_language["tokens"].to_list(), reverse=True)

    tail = queries.language_tail(out, top=5).collect()
    assert tail["rank"].to_list() == list(range(1, len(docs) + 1))
    assert tail["cumulative_share"][-1] == pytest.approx(1.0)
    assert tail["in_top"].sum() == 5
    assert tail["share"][0] == pytest.approx(max(tokens.values()) / sum(tokens.values()))

    kept_by = defaultdict(lambda: [0, 0])
    for r in kept:
        kept_by[(r["domain"], r["source"])][0] += 1
        kept_by[(r["domain"], r["source"])][1] += r["n_tokens"]
    dropped_by = Counter((r["domain"], r["source"]) for r in dropped)
    table = queries.domains_and_sources(out).collect()
    got = {(r["domain"], r["source"]): (r["docs"], r["tokens"], r["rejected"]) for r in table.iter_rows(named=True)}
    keys = set(kept_by) | set(dropped_by)
    assert got == {k: (kept_by[k][0], kept_by[k][1], dropped_by[k]) for k in keys}
    assert got[("web", "junk")][0] == 0 and got[("web", "junk")][2] > 0  # junk: all rejected, still listed


def test_score_quantiles_and_histograms(out: Path, kept: list[dict], dropped: list[dict]) -> None:
    table = queries.score_quantiles(out, "quality_score", "domain").collect()
    for row in table.iter_rows(named=True):
        scores = np.array([r["quality_score"] for r in kept if r["domain"] == row["domain"]
                           and r["quality_score"] is not None])
        assert row["docs"] == len(scores)
        for q in (10, 25, 50, 75, 90):
            assert row[f"q{q}"] == pytest.approx(np.quantile(scores, q / 100), rel=1e-12)
        assert (row["min"], row["max"]) == (scores.min(), scores.max())
    by_language = queries.score_quantiles(out, "quality_score", queries.language_expr()).collect()
    assert set(by_language["language"]) == {_language(r) for r in kept if r["quality_score"] is not None}

    # the bounded-memory version the dashboard draws: within one bin of the order statistics
    # around the exact quantile (tiny groups interpolate across a wide gap; big ones do not)
    binned = queries.binned_quantiles(out, "quality_score", ["domain", "lang"], width=0.01).collect()
    groups = defaultdict(list)
    for r in kept:
        if r["quality_score"] is not None:
            groups[(r["domain"], r["lang"])].append(r["quality_score"])
    assert binned.height == len(groups)
    for row in binned.iter_rows(named=True):
        scores = np.array(groups[(row["domain"], row["lang"])])
        assert (row["docs"], row["min"], row["max"]) == (len(scores), scores.min(), scores.max())
        for q in (10, 25, 50, 75, 90):
            low, high = np.quantile(scores, q / 100, method="lower"), np.quantile(scores, q / 100, method="higher")
            assert low - 0.01 <= row[f"q{q}"] <= high + 0.01, (row, q)

    hist = queries.score_histogram(out, "quality_score", "domain", width=0.1).collect()
    expected = Counter()
    for status, rows in (("kept", kept), (None, dropped)):
        for r in rows:
            if r["quality_score"] is not None:
                label = status or f"rejected: {r['reject_stage']}"
                expected[(r["domain"], label, round(np.floor(r["quality_score"] / 0.1) * 0.1, 9))] += 1
    assert {(r["domain"], r["status"], r["bin"]): r["docs"] for r in hist.iter_rows(named=True)} == expected
    assert any(s.startswith("rejected: ") for s in hist["status"])  # dedup's rejects were scored first

    lid = queries.score_quantiles(out, "lang_score", "lang").collect()
    english = np.array([r["lang_score"] for r in kept if r["lang"] == "eng_Latn"], dtype=np.float64)
    row = lid.filter(pl.col("lang") == "eng_Latn").row(0, named=True)
    assert row["q50"] == pytest.approx(np.quantile(english, 0.5), rel=1e-6)


def test_dedup_synthetic_and_token_lengths(out: Path, kept: list[dict], dropped: list[dict]) -> None:
    clusters = {}
    for r in kept + dropped:
        if r.get("dup_cluster") is not None:
            clusters[r["dup_cluster"]] = r["dup_cluster_size"]
    sizes = queries.dup_cluster_sizes(out).collect()
    assert dict(zip(sizes["size"], sizes["clusters"])) == dict(Counter(clusters.values()))
    assert sizes["removed"].sum() == sum(1 for r in dropped if r["reject_stage"] == "dedup")

    share = {r["synthetic"]: r for r in queries.synthetic_share(out).collect().iter_rows(named=True)}
    synthetic = [r for r in kept if r["synthetic"]]
    assert share[True]["docs"] == len(synthetic) > 0
    assert share[True]["tokens"] == sum(r["n_tokens"] for r in synthetic)
    assert share[True]["token_share"] == pytest.approx(share[True]["tokens"] / sum(r["n_tokens"] for r in kept))
    tasks = queries.synthetic_tasks(out).collect()
    expected = Counter()
    for r in kept:
        if r["synth_task"]:
            expected[(r["synth_task"], "kept")] += 1
    for r in dropped:
        if r.get("synth_task"):
            expected[(r["synth_task"], f"rejected: {r['reject_stage']} · {r['reject_reason']}")] += 1
    assert {(r["synth_task"], r["outcome"]): r["docs"] for r in tasks.iter_rows(named=True)} == expected

    lengths = queries.token_length_histogram(out, bins_per_octave=4).collect()
    expected = Counter((r["domain"], 2.0 ** (np.floor(np.log2(r["n_tokens"]) * 4) / 4)) for r in kept)
    assert {(r["domain"], r["bin_low"]): r["docs"] for r in lengths.iter_rows(named=True)} == pytest.approx(expected)
    assert (lengths["bin_high"] / lengths["bin_low"]).to_list() == pytest.approx([2 ** 0.25] * lengths.height)


def test_decontamination_per_benchmark(out: Path, dropped: list[dict]) -> None:
    frame = queries.decontamination(out)
    contaminated = [r for r in dropped if r["reject_reason"] == "decontamination.contaminated"]
    assert frame.height == 1 and frame["benchmark"][0] == "gsm8k_mini"
    assert frame["documents"][0] == len(contaminated) > 0
    assert frame["top_items"][0]


def test_thresholds_come_from_the_run_config(out: Path) -> None:
    from curate.lang.weights import CALIBRATED_THRESHOLD

    limits = queries.thresholds(out)
    assert limits["quality"] == {}  # the quickstart sets none (stand-in scores)
    # the quickstart's langid runs the calibrated ensemble: one threshold for every language
    assert limits["lang_score"] == {} and limits["lang_score_fallback"] == CALIBRATED_THRESHOLD
    assert queries.quality_threshold({"web": 2.5, "*": 2.0}, "web") == 2.5
    assert queries.quality_threshold({"web": 2.5, "*": 2.0}, "code") == 2.0
    assert queries.quality_threshold({"web": 2.5}, "code") is None


def _readme_block(heading: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_analyst_queries_run_and_agree(out: Path, kept: list[dict], dropped: list[dict]) -> None:
    code = _readme_block("### Dashboard").replace('"out/code_math/', f'"{out}/')
    namespace: dict = {}
    exec(compile(code, "README.md#dashboard", "exec"), namespace)  # our own README's code, not data
    tokens = namespace["tokens"]
    assert tokens.sort("language").equals(queries.tokens_per_language(out).collect().sort("language"))
    reasons = namespace["reasons"]
    assert dict(zip(zip(reasons["reject_stage"], reasons["reject_reason"]), reasons["docs"])) == Counter(
        (r["reject_stage"], r["reject_reason"]) for r in dropped)
    web_eng = np.array([r["quality_score"] for r in kept if r["domain"] == "web" and r["lang"] == "eng_Latn"])
    row = namespace["quantiles"].filter((pl.col("domain") == "web") & (pl.col("lang") == "eng_Latn")).row(0, named=True)
    assert row["q50"] == pytest.approx(np.quantile(web_eng, 0.5))
    synthetic = dict(zip(namespace["synthetic"]["synth_task"], namespace["synthetic"]["tokens"]))
    assert synthetic["(natural)"] == sum(r["n_tokens"] for r in kept if not r["synth_task"])


# --- the sample browser's bound ----------------------------------------------------------------


def test_sample_covers_every_group_and_stops_early(out: Path, dropped: list[dict], tmp_path: Path, monkeypatch) -> None:
    from dashboards import sample

    rows = sample.browser_sample(out, per_group=2, max_text_chars=50)
    rejected_groups = Counter((r["reject_stage"], r["reject_reason"]) for r in rows if r["status"] == "rejected")
    assert set(rejected_groups) == {(r["reject_stage"], r["reject_reason"]) for r in dropped}
    assert max(rejected_groups.values()) <= 2
    assert all(len(r["text"]) <= 50 and r["text_chars"] >= len(r["text"]) for r in rows)
    assert all("input_ids" not in r for r in rows)

    # 40 part files of one reason: two rows are found in the first file visited, and only that
    # file's row groups are ever read beyond the grouping columns.
    (tmp_path / "rejected").mkdir()
    template = pq.read_table(out / "rejected").slice(0, 1)
    for i in range(40):
        table = pa.concat_tables([template] * 3)
        table = table.set_column(table.schema.get_field_index("id"), "id", pa.array([f"x/{i}/{j}" for j in range(3)]))
        pq.write_table(table, tmp_path / "rejected" / f"part-{i:03d}.parquet")
    fetched = []
    real_fetch = sample._fetch
    monkeypatch.setattr(sample, "_fetch", lambda path, rows, *a: fetched.append(path) or real_fetch(path, rows, *a))
    picked = sample.sample_rows(tmp_path, "rejected", ["reject_stage", "reject_reason"], per_group=2)
    assert len(picked) == 2 and len(fetched) == 1


# --- the page --------------------------------------------------------------------------------------


def test_page_for_a_run_without_langid_quality_tokens_or_rejections(out: Path, tmp_path: Path) -> None:
    """A run of read + filter only: the charts it cannot have are left out, the rest still draw."""
    from dashboards.build import build

    run = tmp_path / "bare"
    shutil.copytree(out, run, ignore=shutil.ignore_patterns("_logs", "rejected", "tokens"))
    for path in (run / "documents").glob("*.parquet"):
        table = pq.read_table(path)
        keep = [c for c in table.column_names if not c.startswith(("lang", "quality_", "synth", "dup_", "n_tokens"))]
        pq.write_table(table.select(keep), path)
    summary = json.loads((run / "stats" / "summary.json").read_text())
    del summary["stage_config"], summary["reports"]
    (run / "stats" / "summary.json").write_text(json.dumps(summary))

    per_language = queries.tokens_per_language(run).collect()
    assert set(per_language["tokens"]) == {0} and per_language["docs"].sum() == pq.read_table(run / "documents").num_rows
    assert None in per_language["language"].to_list() and "code:python" in per_language["language"].to_list()
    assert queries.rejected_by_reason(run).collect().height == 0
    html = build(run, tmp_path / "bare.html").read_text(encoding="utf-8")
    data = json.loads(html.split('id="dashboard-data">', 1)[1].split("</script>", 1)[0])
    assert [f["id"] for f in data["figures"]] == ["funnel", "languages", "language_tail", "domains"]
    assert {d["status"] for d in data["samples"]["bare"]} == {"kept"}



@pytest.fixture(scope="module")
def hostile_run(out: Path, tmp_path_factory) -> Path:
    """The quickstart output plus a kept document and a rejected one carrying HTML and script,
    and quality thresholds in its config, as a run could have written them."""
    run = tmp_path_factory.mktemp("dashboard") / "hostile"
    shutil.copytree(out, run, ignore=shutil.ignore_patterns("_logs", "_staging"))
    for folder, changes in (
        ("documents", {"id": "web/hostile-1", "text": PAYLOAD, "source": HOSTILE_SOURCE, "lang": "tst_Latn"}),
        ("rejected", {"id": "web/hostile-2", "text": "<b>bold?</b> " + PAYLOAD, "reject_reason": HOSTILE_REASON,
                      "reject_detail": PAYLOAD}),
    ):
        table = pq.read_table(next((run / folder).glob("*.parquet")))
        row = table.slice(0, 1).to_pylist()[0] | changes
        pq.write_table(pa.Table.from_pylist([row], schema=table.schema), run / folder / "part-zzhostile.parquet")
    summary_path = run / "stats" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["stage_config"]["quality"]["thresholds"] = {"web": 2.5, "*": 2.0}
    summary_path.write_text(json.dumps(summary))
    return run


@pytest.fixture(scope="module")
def pages(out: Path, hostile_run: Path, tmp_path_factory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("pages")
    single = where / "single.html"
    compare = where / "compare.html"
    for args in ([str(hostile_run), "-o", str(single), "--per-group", "2"],
                 [str(hostile_run), "--compare", str(out), "-o", str(compare), "--label", "hostile"]):
        result = subprocess.run([sys.executable, "-m", "dashboards", "build", *args], cwd=REPO,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert "wrote" in result.stdout
    return {"single": single, "compare": compare}


def test_page_is_self_contained_and_escapes_run_data(pages: dict[str, Path], hostile_run: Path) -> None:
    html = pages["single"].read_text(encoding="utf-8")
    head = html.split("</head>", 1)[0]
    assert "Content-Security-Policy" in head and "script-src 'sha256-" in unescape(head)
    # nothing is fetched: no element of the page names a resource other than a data: URL
    assert [link for link in _resource_links(html) if not link.startswith("data:")] == []
    assert len(re.findall(r"<script>", html)) == 2  # plotly.js and the page's script, both inline
    for hostile in (PAYLOAD, HOSTILE_SOURCE, HOSTILE_REASON, "<b>bold?</b>"):
        assert hostile not in html
    blob = html.split('<script type="application/json" id="dashboard-data">', 1)[1].split("</script>", 1)[0]
    data = json.loads(blob)
    texts = [d["text"] for d in data["samples"]["hostile"]]
    assert PAYLOAD in texts
    ids = [f["id"] for f in data["figures"]]
    assert ids[:3] == ["funnel", "rejections", "languages"] and "quality_by_domain" in ids
    quality = next(f["figure"] for f in data["figures"] if f["id"] == "quality_by_domain")
    lines = {round(s["x0"], 3) for s in quality["layout"]["shapes"]}
    assert lines == {2.0, 2.5}  # web at 2.5, code and math under "*"

    missing = subprocess.run([sys.executable, "-m", "dashboards", "build", str(hostile_run / "documents")],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "summary.json" in missing.stderr


def _resource_links(html: str) -> list[str]:
    from html.parser import HTMLParser

    links: list[str] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag, attrs):
            links.extend(value or "" for name, value in attrs if name in ("src", "href") and not (value or "").startswith("#"))

    Links().feed(html)
    return links


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the dev extra")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("headless Chromium not installed (Debian: apt-get install chromium chromium-driver; .ci/run does)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


@pytest.fixture(scope="module")
def browser():
    driver = _browser()
    yield driver
    driver.quit()


def _open(driver, page: Path) -> int:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(page.as_uri())
    expected = driver.execute_script("return document.querySelectorAll('.plot').length")
    WebDriverWait(driver, 120).until(
        lambda d: d.execute_script("return document.querySelectorAll('.plot .main-svg').length > 0 && "
                                   "[...document.querySelectorAll('.plot')].every(p => p.querySelector('.main-svg'))"))
    return expected


#: Pairs of drawn texts of a chart (titles, tick labels, legend entries) that overlap by more than
#: 2 px: labels written over each other. Each text is its own box turned with it (getBBox mapped by
#: getScreenCTM), so rotated tick labels are compared as drawn, by separating axes.
OVERLAPPING_LABELS = """
const texts = [...arguments[0].querySelectorAll('svg text')].filter(t => {
  const style = getComputedStyle(t);
  return t.textContent.trim() && style.display !== 'none' && style.visibility !== 'hidden' && style.opacity !== '0';
});
const shapes = texts.map(t => {
  const b = t.getBBox(), m = t.getScreenCTM();
  const corners = [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]]
    .map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
  return {text: t.textContent.trim(), corners, area: b.width * b.height};
}).filter(s => s.area > 0);
function apart(p, q) {  // a separating axis with more than 2 px of slack: not overlapping
  for (const poly of [p, q]) for (let i = 0; i < 4; i++) {
    const [x1, y1] = poly[i], [x2, y2] = poly[(i + 1) % 4];
    const len = Math.hypot(x2 - x1, y2 - y1) || 1, nx = (y2 - y1) / len, ny = (x1 - x2) / len;
    const a = p.map(([x, y]) => x * nx + y * ny), c = q.map(([x, y]) => x * nx + y * ny);
    if (Math.min(Math.max(...a), Math.max(...c)) - Math.max(Math.min(...a), Math.min(...c)) <= 2) return true;
  }
  return false;
}
const hits = [];
for (let i = 0; i < shapes.length; i++) for (let j = i + 1; j < shapes.length; j++)
  if (!apart(shapes[i].corners, shapes[j].corners)) hits.push(shapes[i].text + ' | ' + shapes[j].text);
return hits;
"""


def _distinct_colours(png: bytes) -> int:
    from io import BytesIO

    from PIL import Image

    return len(Image.open(BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 20) or [])


@pytest.mark.parametrize("which", ["single", "compare"])
def test_page_in_headless_chromium(browser, pages: dict[str, Path], which: str) -> None:
    from selenium.webdriver.common.by import By

    charts = _open(browser, pages[which])
    assert charts >= 9
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    overlaps: dict[str, list[str]] = {}
    for plot in browser.find_elements(By.CSS_SELECTOR, ".plot"):
        browser.execute_script("arguments[0].scrollIntoView()", plot)
        assert plot.size["height"] > 200
        # a drawn chart has axes, bars, text, anti-aliasing: hundreds of colours; a blank one has a few
        assert _distinct_colours(plot.screenshot_as_png) > 50, plot.find_element(By.XPATH, "..").get_attribute("id")
        assert browser.execute_script("return arguments[0].querySelectorAll('.point, .trace, .boxlayer path').length",
                                      plot) > 0
        overlaps[plot.find_element(By.XPATH, "..").get_attribute("id")] = browser.execute_script(OVERLAPPING_LABELS, plot)
    assert {chart: hits for chart, hits in overlaps.items() if hits} == {}  # no label drawn over another
    assert browser.execute_script("return typeof window.__pwned + typeof window.__pwned2 + typeof window.__pwned3") \
        == "undefined" * 3

    # the hostile document, picked in the browser, shows its markup as text
    rows = browser.find_elements(By.CSS_SELECTOR, "#doc-list tbody tr")
    assert len(rows) > 10
    hostile = [r for r in rows if "web/hostile-" in r.text]
    assert len(hostile) == 2
    for row in hostile:
        browser.execute_script("arguments[0].scrollIntoView()", row)
        row.click()
        shown = browser.find_element(By.CSS_SELECTOR, "#doc-view pre.doc-text").get_attribute("textContent")
        assert PAYLOAD in shown
        assert browser.execute_script("return document.querySelectorAll('#doc-view script, #doc-view b').length") == 0
    assert PAYLOAD in browser.find_element(By.ID, "doc-view").text  # rendered on screen, as characters
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert not [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
