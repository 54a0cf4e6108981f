"""A real HTTP file server on 127.0.0.1 that injects faults on demand, for download tests.

``server.faults["/a.jsonl"] = ["500", "reset"]`` makes the next two requests for that path fail
(in order) before it is served normally. Faults:

* ``"500"``: HTTP 500 with no body;
* ``"reset"``: full headers, half the body, then the connection is reset (RST);
* ``"truncate"``: full headers, half the body, then a clean close;
* ``"slow"``: sleeps ``slow_seconds`` before answering (the client's timeout should fire).

``server.ranges`` turns HTTP Range support on and off. Every request is logged with its Range
header, status and the body bytes sent, so tests can prove a resume fetched only what was missing.
"""

from __future__ import annotations

import contextlib
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
    faults: dict[str, list[str]] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)

    def start(self) -> FaultServer:
        server_state = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server_state._serve(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
        body = data[start:end]
        headers = {"Accept-Ranges": "bytes" if self.ranges else "none"}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        if fault in ("reset", "truncate"):
            half = body[: len(body) // 2]
            self.log.append(Request(path, range_header, status, len(half)))  # before the client can see it
            self._send_head(handler, status, len(body), headers)
            handler.wfile.write(half)
            handler.wfile.flush()
            if fault == "reset":  # SO_LINGER 0 makes close() send RST instead of FIN
                handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.close_connection = True
            handler.connection.close()
            return
        self._reply(handler, path, range_header, status, body, headers)

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
