"""Serve libffi's HTML docs; two pages gzip-encoded: one missing its last 2 bytes, one corrupt mid-stream.

How ``wget-1.21.3-libffi-docs.warc.gz`` was made: ``python wget_serve.py PORT`` and GNU Wget 1.21.3
with ``--warc-file`` fetching three pages from it.
"""

import gzip
import http.server
import sys
from pathlib import Path

ROOT = Path("/usr/share/doc/libffi8/html")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        body = (ROOT / name).read_bytes()
        headers = [("Content-Type", "text/html; charset=utf-8")]
        if name == "Thread-Safety.html":
            body = gzip.compress(body, mtime=0)[:-2]
            headers.append(("Content-Encoding", "gzip"))
        elif name == "Memory-Usage.html":
            damaged = bytearray(gzip.compress(body, mtime=0))
            middle = len(damaged) // 2
            damaged[middle : middle + 8] = b"\xff" * 8
            body = bytes(damaged)
            headers.append(("Content-Encoding", "gzip"))
        self.send_response(200)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
