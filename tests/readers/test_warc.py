"""WARC/ARC reader: real files written with warcio, read through the real entry point (read_file)."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curate.config import SourceConfig
from curate.readers import read_file
from curate.schema import BASE_SCHEMA
from curate.sources import FileTask

DATE = "2024-03-05T12:34:56Z"

RU = "Москва — столица России, крупнейший по численности населения город страны."
JA = "日本語の文章を正しく読み取れるかどうかを確認するための段落です。"
FR = "Les élèves étudièrent la poésie française à l'école près de la forêt enneigée."
EL = "Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο στην αυλή του σπιτιού."
ARTICLE = "The river authority confirmed on Tuesday that the new flood barrier withstood the spring tide."
COOKIE = "We use cookies to improve your experience. Accept all cookies to continue browsing."
GZ_SENTENCE = "This article body was sent gzip-compressed by the server and must be decoded first."
PLAIN = "Plain text files are documents as they are, with ümlauts and no markup at all."


def _page(sentence: str, *, lang: str, head: str = "", filler: str = "") -> str:
    filler = filler or sentence
    paragraphs = "".join(f"<p>{sentence} {filler} {i}</p>\n" for i in range(4))
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head>{head}<title>{sentence[:30]}</title></head><body>'
        f"<article><h1>{sentence[:40]}</h1>\n{paragraphs}</article></body></html>"
    )


BOILERPLATE_PAGE = f"""<!DOCTYPE html><html lang="en"><head><title>Flood barrier holds</title></head><body>
<div id="cookie-banner" class="cookie-consent"><p>{COOKIE}</p><button>Accept</button></div>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/weather">Weather</a></li><li><a href="/contact">Contact us</a></li></ul></nav>
<main><article><h1>Flood barrier holds during record tide</h1>
<p>{ARTICLE}</p>
<p>Engineers had spent three years reinforcing the concrete walls and replacing the old steel gates,
which had been in service since the nineteen-seventies and were increasingly unreliable.</p>
<p>Residents of the low-lying districts, who were evacuated twice during the previous decade, said they
were relieved that the investment had finally paid off when it mattered most.</p>
<p>The authority will publish a full report on the barrier's performance later this year, including
measurements of the water level recorded at each of the twelve monitoring stations along the estuary.</p>
</article></main>
<footer><p>Copyright 2024 Example News Ltd. All rights reserved.</p><a href="/privacy">Privacy policy</a>
<a href="/terms">Terms of use</a></footer></body></html>"""


def _http(status: str, content_type: str | None, extra: list[tuple[str, str]] | None = None) -> StatusAndHeaders:
    headers = [("Content-Type", content_type)] if content_type else []
    return StatusAndHeaders(status, headers + (extra or []), protocol="HTTP/1.1")


def _uuid(record) -> str:
    return record.rec_headers.get_header("WARC-Record-ID").strip("<>").removeprefix("urn:uuid:")


def _write_warc(path: Path, gz: bool) -> dict[str, str]:
    """A WARC with one record of each kind; returns name -> record uuid."""
    ids: dict[str, str] = {}
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=gz)

        def response(name: str, url: str, body: bytes, http: StatusAndHeaders) -> None:
            record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
            record.rec_headers.replace_header("WARC-Date", DATE)
            writer.write_record(record)
            ids[name] = _uuid(record)

        info = writer.create_warcinfo_record(path.name, {"software": "curate-tests", "format": "WARC/1.0"})
        writer.write_record(info)
        request = writer.create_warc_record(
            "https://el.example/", "request", payload=io.BytesIO(b""),
            http_headers=StatusAndHeaders("GET / HTTP/1.1", [("Host", "el.example")], is_http_request=True),
        )
        writer.write_record(request)
        response("utf8", "https://el.example/", _page(EL, lang="el").encode("utf-8"),
                 _http("200 OK", "text/html; charset=UTF-8"))
        response("ru", "https://ru.example/moskva", _page(RU, lang="ru").encode("windows-1251"),
                 _http("200 OK", "text/html; charset=windows-1251"))
        response("ja", "https://ja.example/", _page(JA, lang="ja", head='<meta charset="Shift_JIS">').encode("shift_jis"),
                 _http("200 OK", "text/html"))
        fr_filler = "Où étiez-vous pendant l'été ? Déjà à Noël, la fenêtre du château était ouverte à côté de l'église."
        response("fr", "https://fr.example/ecole", _page(FR, lang="fr", filler=fr_filler).encode("iso-8859-1"),
                 _http("200 OK", "text/html"))
        response("boilerplate", "https://news.example/flood", BOILERPLATE_PAGE.encode(),
                 _http("200 OK", "text/html; charset=utf-8"))
        response("gzip", "https://gz.example/", gzip.compress(_page(GZ_SENTENCE, lang="en").encode()),
                 _http("200 OK", "text/html; charset=utf-8", [("Content-Encoding", "gzip")]))
        response("png", "https://img.example/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
                 _http("200 OK", "image/png"))
        response("404", "https://el.example/missing", b"<html><body><p>Not found</p></body></html>",
                 _http("404 Not Found", "text/html"))
        response("plain", "https://txt.example/readme.txt", PLAIN.encode(), _http("200 OK", "text/plain; charset=utf-8"))
        revisit = writer.create_revisit_record(
            "https://el.example/", digest="sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            refers_to_uri="https://el.example/", refers_to_date=DATE, http_headers=_http("200 OK", "text/html"),
        )
        revisit.rec_headers.replace_header("WARC-Date", DATE)
        writer.write_record(revisit)
        ids["revisit"] = _uuid(revisit)
        metadata = writer.create_warc_record(
            "https://el.example/", "metadata", payload=io.BytesIO(b"fetchTimeMs: 12\r\n"),
            warc_content_type="application/warc-fields",
        )
        writer.write_record(metadata)
    return ids


def _read(path: Path, batch_rows: int = 100, **options) -> list[dict]:
    source = SourceConfig(name="cc", format="warc", paths=[str(path)], **options)
    task = FileTask(source="cc", format="warc", path=str(path), relpath=path.name)
    tables = list(read_file(task, source, batch_rows=batch_rows))
    for table in tables:
        assert table.schema == BASE_SCHEMA
    return pa.concat_tables(tables).to_pylist() if tables else []


@pytest.fixture(scope="module", params=[True, False], ids=["warc.gz", "warc"])
def warc_file(request, tmp_path_factory) -> tuple[Path, dict[str, str], list[dict]]:
    gz = request.param
    path = tmp_path_factory.mktemp("warc") / ("crawl.warc.gz" if gz else "crawl.warc")
    ids = _write_warc(path, gz)
    return path, ids, _read(path)


def test_one_row_per_response_with_ids_and_columns(warc_file) -> None:
    path, ids, rows = warc_file
    by_id = {r["id"]: r for r in rows}
    # warcinfo, request and metadata records give no row; everything else gives exactly one
    assert sorted(by_id) == sorted(f"cc/{uuid}" for uuid in ids.values())
    assert len(rows) == len(ids)
    for row in rows:
        assert row["source"] == "cc" and row["path"] == path.name
        assert row["fetch_date"] == DATE
        meta = json.loads(row["metadata"])
        assert set(meta) == {"http_status", "warc_offset"}
        assert isinstance(meta["warc_offset"], int)
    offsets = [json.loads(r["metadata"])["warc_offset"] for r in rows]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    assert path.read_bytes()[offsets[0] : offsets[0] + 2] in (b"\x1f\x8b", b"WA")  # a record starts there
    row = by_id[f"cc/{ids['ru']}"]
    assert row["url"] == "https://ru.example/moskva"
    assert row["content_type"] == "text/html"
    assert json.loads(row["metadata"])["http_status"] == 200


def test_charsets_are_decoded(warc_file) -> None:
    _, ids, rows = warc_file
    by_id = {r["id"]: r for r in rows}
    expected = {  # name -> (sentence, acceptable charsets)
        "utf8": (EL, {"utf-8"}),
        "ru": (RU, {"windows-1251"}),  # declared in the HTTP header only
        "ja": (JA, {"cp932", "shift_jis"}),  # declared in <meta charset> only
        "fr": (FR, {"windows-1252", "cp1252", "iso8859_1", "latin_1", "iso-8859-1", "cp1250", "iso8859_15"}),  # detected
    }
    for name, (sentence, charsets) in expected.items():
        row = by_id[f"cc/{ids[name]}"]
        assert row["reject_reason"] is None, (name, row["reject_reason"], row["reject_detail"])
        assert sentence in row["text"], (name, row["text"][:200])
        assert row["charset"] in charsets, (name, row["charset"])
        assert "<p>" not in row["text"]


def test_main_text_without_boilerplate_gzip_body_and_plain_text(warc_file) -> None:
    _, ids, rows = warc_file
    by_id = {r["id"]: r for r in rows}
    article = by_id[f"cc/{ids['boilerplate']}"]["text"]
    assert ARTICLE in article
    assert "cookies" not in article and "All rights reserved" not in article and "Contact us" not in article
    gz = by_id[f"cc/{ids['gzip']}"]
    assert gz["reject_reason"] is None and GZ_SENTENCE in gz["text"]
    plain = by_id[f"cc/{ids['plain']}"]
    assert plain["text"] == PLAIN and plain["content_type"] == "text/plain" and plain["charset"] == "utf-8"


def test_rejected_records_say_why(warc_file) -> None:
    _, ids, rows = warc_file
    by_id = {r["id"]: r for r in rows}
    revisit = by_id[f"cc/{ids['revisit']}"]
    assert (revisit["reject_stage"], revisit["reject_reason"]) == ("read", "revisit")
    assert "https://el.example/" in revisit["reject_detail"]
    png = by_id[f"cc/{ids['png']}"]
    assert png["reject_reason"] == "not_html" and "image/png" in png["reject_detail"]
    assert png["content_type"] == "image/png" and png["url"] == "https://img.example/logo.png"
    missing = by_id[f"cc/{ids['404']}"]
    assert missing["reject_reason"] == "http_status" and "404" in missing["reject_detail"]
    assert json.loads(missing["metadata"])["http_status"] == 404
    kept = [r for r in rows if r["reject_reason"] is None]
    assert len(kept) == 7


def test_reading_twice_gives_the_same_rows(warc_file) -> None:
    path, _, rows = warc_file
    again = _read(path, batch_rows=3)
    assert [r["id"] for r in again] == [r["id"] for r in rows]
    assert [r["text"] for r in again] == [r["text"] for r in rows]


def test_max_records_and_max_record_bytes(warc_file) -> None:
    path, ids, rows = warc_file
    first = _read(path, max_records=3)
    assert [r["id"] for r in first] == [r["id"] for r in rows[:3]]
    assert not any(r["reject_reason"] in ("truncated_file", "corrupt_file", "unreadable_file") for r in first)
    small = {r["id"]: r for r in _read(path, max_record_bytes=len(BOILERPLATE_PAGE) - 1)}
    assert small[f"cc/{ids['boilerplate']}"]["reject_reason"] == "record_too_large"
    assert small[f"cc/{ids['plain']}"]["reject_reason"] is None


def test_resiliparse_extractor(warc_file) -> None:
    path, ids, _ = warc_file
    rows = {r["id"]: r for r in _read(path, html_extractor="resiliparse")}
    for name, sentence in (("boilerplate", ARTICLE), ("ru", RU), ("ja", JA)):
        row = rows[f"cc/{ids[name]}"]
        assert row["reject_reason"] is None and sentence in row["text"]


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
def test_truncated_file_keeps_complete_records_and_one_error_row(tmp_path: Path, gz: bool) -> None:
    full_path = tmp_path / ("full.warc.gz" if gz else "full.warc")
    _write_warc(full_path, gz)
    full = {r["id"]: r for r in _read(full_path)}
    data = full_path.read_bytes()
    cut_path = tmp_path / ("cut.warc.gz" if gz else "cut.warc")
    cut_path.write_bytes(data[: int(len(data) * 0.7)])
    rows = _read(cut_path)  # no exception
    errors = [r for r in rows if r["id"] == f"cc:{cut_path.name}#error"]
    assert len(errors) == 1
    assert errors[0]["reject_reason"] in ("truncated_file", "corrupt_file"), errors[0]["reject_detail"]
    assert "truncated" in errors[0]["reject_detail"]
    records = [r for r in rows if r not in errors]
    clipped = [r for r in records if r["reject_reason"] == "truncated_record"]
    assert len(clipped) <= 1
    complete = [r for r in records if r not in clipped]
    assert len(complete) >= 3
    for row in complete:  # identical to the same record read from the intact file
        assert {k: v for k, v in row.items() if k not in ("path", "input_file")} == {
            k: v for k, v in full[row["id"]].items() if k not in ("path", "input_file")}
    assert len(complete) + len(clipped) < len(full)


@pytest.mark.parametrize("keep", [8, 1])
def test_clipped_last_record_and_lost_gzip_trailer(tmp_path: Path, keep: int) -> None:
    """Cut inside the last record's payload (keep=8 bytes of trailer space) or only its gzip trailer."""
    path = tmp_path / "tail.warc.gz"
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for i in range(2):
            body = _page(f"{ARTICLE} Number {i}.", lang="en").encode()
            writer.write_record(writer.create_warc_record(
                f"https://x.example/{i}", "response", payload=io.BytesIO(body), http_headers=_http("200 OK", "text/html")
            ))
    data = path.read_bytes()
    path.write_bytes(data[:-keep] if keep == 1 else data[: len(data) - 60])
    rows = _read(path)
    errors = [r for r in rows if r["id"].endswith("#error")]
    assert len(errors) == 1 and errors[0]["reject_reason"] == "truncated_file"
    assert rows[0]["reject_reason"] is None
    if keep == 1:  # all of the payload is there; only the file is damaged
        assert rows[1]["reject_reason"] is None and len(rows) == 3
    else:
        assert len(rows) in (2, 3)  # the clipped record is either reported or lost with its member


def test_plain_warc_clipped_record_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "clip.warc"
    ids = _write_warc(path, gz=False)
    data = path.read_bytes()
    start = data.rfind(b"WARC/1.0\r\nWARC-Type: response")  # the last response (plain text)
    head_end = data.index(b"\r\n\r\n", start) + 4
    path.write_bytes(data[: head_end + 60])
    rows = {r["id"]: r for r in _read(path)}
    clipped = rows[f"cc/{ids['plain']}"]
    assert clipped["reject_reason"] == "truncated_record" and "payload has" in clipped["reject_detail"]
    assert rows[f"cc:{path.name}#error"]["reject_reason"] == "truncated_file"
    assert f"cc/{ids['revisit']}" not in rows


def _raw_record(
    uri: str, block: bytes, wtype: str = "response", ctype: str = "application/http; msgtype=response", extra: str = ""
) -> bytes:
    head = (
        f"WARC/1.0\r\nWARC-Type: {wtype}\r\n{extra}"
        f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{len(uri):012d}>\r\n"
        f"WARC-Date: {DATE}\r\nWARC-Target-URI: {uri}\r\n"
        f"Content-Type: {ctype}\r\nContent-Length: {len(block)}\r\n\r\n"
    )
    return head.encode() + block + b"\r\n\r\n"


def test_odd_records_cost_one_row_not_the_file(tmp_path: Path) -> None:
    """Lying Content-Encoding, garbage gzip body, oversized HTTP header, bogus charset, empty page, ..."""
    ok = _page(ARTICLE, lang="en").encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(ok[i : i + 100]), ok[i : i + 100]) for i in range(0, len(ok), 100)) + b"0\r\n\r\n"
    xhtml = (f'<?xml version="1.0" encoding="windows-1251"?>\n<html xmlns="http://www.w3.org/1999/xhtml" lang="ru">'
             f"<head><title>t</title></head><body><article><p>{RU}</p><p>{RU} 2</p></article></body></html>").encode("cp1251")
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
    records = [
        _raw_record("https://a.example/", http + b"Content-Encoding: gzip\r\n\r\n" + ok),  # not gzip at all
        _raw_record("https://bb.example/", http + b"Content-Encoding: gzip\r\n\r\n\x1f\x8bjunk"),
        _raw_record("https://ccc.example/", b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 400_000 + b"\r\n\r\n" + ok),
        _raw_record("https://dddd.example/", b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=\"bogus\"\r\n\r\n" + ok),
        _raw_record("https://eeeee.example/", http + b"\r\n<html><body></body></html>"),
        _raw_record("https://ffffff.example/", b"HTTP/1.1 200 OK\nContent-Type: text/html\n\n" + ok),  # LF-only headers
        _raw_record("https://ggggggg.example/", http + b"Transfer-Encoding: chunked\r\n\r\n" + chunked),
        _raw_record("https://hhhhhhhh.example/", b"HTTP/1.1 200 OK\r\nContent-Type: application/xhtml+xml\r\n\r\n" + xhtml),
        _raw_record("https://iiiiiiiii.example/", ok, wtype="resource", ctype="text/html"),
        _raw_record("https://jjjjjjjjjj.example/", b"HTTP/1.1 200 OK\r\n\r\n" + ok),  # no Content-Type: sniffed
        _raw_record("https://kkkkkkkkkkk.example/", b"HTTP/1.1 200 OK\r\n\r\n%PDF-1.4 binary"),
        _raw_record("https://llllllllllll.example/", http + b"\r\n" + ok[:300], extra="WARC-Truncated: length\r\n"),
    ]
    path = tmp_path / "odd.warc.gz"
    path.write_bytes(b"".join(gzip.compress(r) for r in records))
    rows = _read(path)
    assert [r["reject_reason"] for r in rows] == [
        None, "invalid_content_encoding", "malformed_http", None, "no_main_text", None, None, None, None, None, "not_html",
        "truncated_record",
    ]
    assert "WARC-Truncated: length" in rows[11]["reject_detail"]
    for i in (0, 3, 5, 6, 8, 9):
        assert ARTICLE in rows[i]["text"], i
    assert RU in rows[7]["text"] and rows[7]["charset"] == "windows-1251"
    assert rows[8]["content_type"] == "text/html" and json.loads(rows[8]["metadata"])["http_status"] is None
    assert rows[1]["id"] == "cc/00000000-0000-0000-0000-000000000019"
    # the same records uncompressed, cut inside the headers of the last one
    plain = tmp_path / "odd.warc"
    data = b"".join(records)
    for cut, rows_left in ((40, len(records) + 1), (3, len(records))):
        plain.write_bytes(data[: len(data) - len(records[-1]) + cut])
        rows = _read(plain)
        assert len(rows) == rows_left and rows[-1]["reject_reason"] == "truncated_file"
        if cut == 40:  # fastwarc hands back the record with what it has of its headers
            assert rows[-2]["reject_reason"] == "truncated_record" and "cut off" in rows[-2]["reject_detail"]
        else:  # too little of it even for that: the error row names the spot
            assert "incomplete record" in rows[-1]["reject_detail"]


def _arc_record(url: str, date: str, mime: str, block: bytes) -> bytes:
    return f"{url} 192.0.2.1 {date} {mime} {len(block)}\n".encode() + block + b"\n"


@pytest.mark.parametrize("gz", [True, False], ids=["arc.gz", "arc"])
def test_arc_files(tmp_path: Path, gz: bool) -> None:
    filedesc = _arc_record(
        "filedesc://old.arc", "20010101000000", "text/plain",
        b"1 0 Test Archive\nURL IP-address Archive-date Content-type Archive-length\n",
    )
    page = _page(RU, lang="ru").encode("windows-1251")
    html = _arc_record(
        "http://ru.example/", "20010203040506", "text/html",
        b"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=windows-1251\r\n\r\n" + page,
    )
    png = _arc_record("http://ru.example/a.png", "20010203040507", "image/png",
                      b"HTTP/1.0 200 OK\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n")
    parts = [filedesc, html, png]
    path = tmp_path / ("old.arc.gz" if gz else "old.arc")
    path.write_bytes(b"".join(gzip.compress(p) for p in parts) if gz else b"".join(parts))
    rows = _read(path)
    assert len(rows) == 2
    assert rows[0]["reject_reason"] is None and RU in rows[0]["text"]
    assert rows[0]["charset"] == "windows-1251" and rows[0]["fetch_date"] == "2001-02-03T04:05:06Z"
    assert rows[0]["url"] == "http://ru.example/" and rows[0]["id"].startswith(f"cc:{path.name}@")
    assert rows[1]["reject_reason"] == "not_html"
    assert [r["id"] for r in _read(path)] == [r["id"] for r in rows]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - len(png) // 2])  # cut in the last record
    cut = _read(path)
    assert cut[0] == rows[0] and cut[-1]["reject_reason"] == "truncated_file"
