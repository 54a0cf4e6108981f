"""Serve libffi's HTML docs; two pages gzip-encoded: one missing its last 2 bytes, one corrupt mid-stream."""
import gzip, http.server, sys
from pathlib import Path
ROOT = Path("/usr/share/doc/libffi8/html")
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        name = self.path.lstrip("/")
        body = (ROOT / name).read_bytes()
        headers = [("Content-Type", "text/html; charset=utf-8")]
        if name == "Thread-Safety.html":
            body = gzip.compress(body, mtime=0)[:-2]; headers.append(("Content-Encoding", "gzip"))
        elif name == "Memory-Usage.html":
            z = bytearray(gzip.compress(body, mtime=0)); mid = len(z) // 2
            z[mid:mid + 8] = b"\xff" * 8; body = bytes(z); headers.append(("Content-Encoding", "gzip"))
        self.send_response(200)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
