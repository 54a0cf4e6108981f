"""A real HTTP file server on 127.0.0.1 that injects faults on demand, for download tests.

``server.faults["/a.jsonl"] = ["500", "reset"]`` makes the next two requests for that path fail
(in order) before it is served normally. Faults:

* ``"500"``: HTTP 500 with no body;
* ``"reset"``: full headers, half the body, then the connection is reset (RST);
* ``"truncate"``: full headers, half the body, then a clean close;
* ``"slow"``: sleeps ``slow_seconds`` before answering (the client's timeout should fire);
* ``"trickle"``: full headers, then one body byte every ``trickle_seconds`` (each read is quick,
  so only an overall deadline or a throughput floor stops it);
* ``"range_from_zero"``: a Range request is answered ``206`` with the whole file from byte 0
  (an honest ``Content-Range: bytes 0-…``), as some caches and object stores do;
* ``"range_overlap"``: a Range request is answered ``206`` starting ``overlap_bytes`` before the
  asked offset (again with an honest ``Content-Range``);
* ``"gzip"``: the body gzip-compressed on the fly with ``Content-Encoding: gzip``, although the
  client asked for ``identity`` (Range is ignored: ``200``);
* ``"gzip_reset"``: as ``"gzip"``, then reset half way like ``"reset"``;
* ``"gzip_label"``: the file's own bytes, labelled ``Content-Encoding: gzip`` (what many servers
  do for a ``.gz`` file: the label describes the file, not a transfer coding);
* ``"redirect"``: ``302`` back to the same path (queue several for a redirect loop).

``server.ranges`` turns HTTP Range support on and off. Every request is logged with its Range
header, status and the body bytes sent, so tests can prove a resume fetched only what was missing.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Request:
    path: str
    range: str | None
    status: int
    body_bytes: int


@dataclass
class FaultServer:
    root: Path
    ranges: bool = True
    slow_seconds: float = 2.0
    trickle_seconds: float = 0.02
    overlap_bytes: int = 1000
    faults: dict[str, list[str]] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)  # socket errors (client hang-ups) while answering

    def start(self) -> FaultServer:
        server_state = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server_state._serve(self)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                """A client that hangs up mid-answer is what the fault tests provoke: keep it in
                ``errors`` instead of printing a traceback into whatever stderr a test captures
                at that moment (the server thread outlives the request that caused it)."""
                import sys

                error = sys.exc_info()[1]
                if isinstance(error, OSError):  # reset, broken pipe, timed out
                    server_state.errors.append(error)
                else:
                    super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def requests_for(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path == path]

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        range_header = handler.headers.get("Range")
        queue = self.faults.get(path) or []
        fault = queue.pop(0) if queue else None
        target = (self.root / path.lstrip("/")).resolve()
        if fault == "500":
            self._reply(handler, path, range_header, 500, b"")
            return
        if fault == "redirect":
            self._reply(handler, path, range_header, 302, b"", {"Location": handler.path})
            return
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if not target.is_file() or self.root.resolve() not in target.parents:
            self._reply(handler, path, range_header, 404, b"not found")
            return
        data = target.read_bytes()
        status, start, end = 200, 0, len(data)
        if self.ranges and range_header and range_header.startswith("bytes="):
            first, _, last = range_header[6:].partition("-")
            start = int(first) if first else 0
            end = min(len(data), int(last) + 1) if last else len(data)
            if start >= len(data):
                self._reply(handler, path, range_header, 416, b"", {"Content-Range": f"bytes */{len(data)}"})
                return
            status = 206
            if fault == "range_from_zero":
                start, end = 0, len(data)
            elif fault == "range_overlap":
                start = max(0, start - self.overlap_bytes)
        headers = {"Accept-Ranges": "bytes" if self.ranges else "none"}
        if fault in ("gzip", "gzip_reset"):
            data = gzip.compress(data)  # the coding covers the whole file, so Range is ignored
            status, start, end = 200, 0, len(data)
        if fault in ("gzip", "gzip_reset", "gzip_label"):
            headers["Content-Encoding"] = "gzip"
        body = data[start:end]
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        if fault == "trickle":
            self._trickle(handler, path, range_header, status, body, headers)
            return
        if fault in ("reset", "truncate", "gzip_reset"):
            half = body[: len(body) // 2]
            self.log.append(Request(path, range_header, status, len(half)))  # before the client can see it
            self._send_head(handler, status, len(body), headers)
            handler.wfile.write(half)
            handler.wfile.flush()
            if fault != "truncate":  # SO_LINGER 0 makes close() send RST instead of FIN
                handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.close_connection = True
            handler.connection.close()
            return
        self._reply(handler, path, range_header, status, body, headers)

    def _trickle(self, handler, path: str, range_header, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Send ``body`` one byte at a time until it is done or the client hangs up."""
        request = Request(path, range_header, status, 0)
        self.log.append(request)
        self._send_head(handler, status, len(body), headers)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
            for byte in body:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                request.body_bytes += 1
                time.sleep(self.trickle_seconds)
        handler.close_connection = True

    def _send_head(self, handler, status: int, length: int, headers: dict[str, str]) -> None:
        handler.send_response(status)
        handler.send_header("Content-Length", str(length))
        handler.send_header("Content-Type", "application/octet-stream")
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()

    def _reply(self, handler, path: str, range_header, status: int, body: bytes, headers: dict | None = None) -> None:
        self.log.append(Request(path, range_header, status, len(body)))  # before the client can see it
        self._send_head(handler, status, len(body), headers or {})
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up: "slow" did its job
            handler.wfile.write(body)
