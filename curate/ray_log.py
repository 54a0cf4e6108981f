"""Ray's own messages into the run's log file, and onto the terminal when Ray ends the driver.

In quiet mode the driver's file descriptor 2 (where Ray's C++ core writes, past Python's
logging) goes to ``OUTPUT_DIR/_logs/<run>.log``. Ray's core can also *end* the driver process
itself: when the GCS dies it waits ``gcs_rpc_server_reconnect_timeout_s`` (60 s), logs why and
calls ``_exit(1)``, so no Python handler of ours runs and the reason would be only in the log.

So fd 2 goes into a pipe read by a small watcher process (``python -m curate.ray_log``), which
copies every line into the log file. If the driver disappears without saying goodbye, the
watcher prints Ray's last error lines and the log's path on the real terminal. It runs in a
session of its own, so a Ctrl-C meant for the run does not take the log down with it.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path

#: Written by the driver just before it hands fd 2 back: a clean goodbye, nothing to report.
GOODBYE = b"\x00curate: driver done\x00\n"
#: Ray's glog lines are "[time E pid tid] ..." (E: error, F: fatal); Python's are tracebacks.
_ERROR_LINE = re.compile(rb"^\[[^\]]* [EF] \d+ \d+\]|Error|FATAL|Check failed|terminate")
#: How many of Ray's last error lines the terminal gets.
SHOWN_LINES = 5


@contextlib.contextmanager
def stderr_to_log(path: Path) -> Iterator[None]:
    """Send fd 2 to ``path`` through the watcher for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    terminal = os.dup(2)
    read_end, write_end = os.pipe()
    watcher = subprocess.Popen(
        [sys.executable, "-m", "curate.ray_log", str(path), str(os.getpid())],
        stdin=read_end, stdout=terminal, stderr=terminal, start_new_session=True, close_fds=True,
    )
    os.close(read_end)
    os.dup2(write_end, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        with contextlib.suppress(OSError):
            os.write(write_end, GOODBYE)
        os.dup2(terminal, 2)
        os.close(terminal)
        os.close(write_end)
        # Processes Ray started may still hold the pipe; the watcher then outlives us quietly.
        with contextlib.suppress(subprocess.TimeoutExpired):
            watcher.wait(timeout=5)


def _report(log_path: str, errors: deque[bytes]) -> None:
    out = sys.stderr.buffer
    out.write(b"\nrun failed: the driver process ended without finishing (Ray ended it, or it was killed); nothing was committed.\n")
    if errors:
        out.write(b"Ray's last error messages:\n")
        for line in errors:
            out.write(b"  " + line.rstrip()[:1000] + b"\n")
    out.write(f"Ray's own messages for this run: {log_path}\n".encode())
    out.write(b"Finished work is kept in checkpoints (if enabled): run the same command again to resume.\n")
    out.flush()


def watch(log_path: str, driver_pid: int) -> int:
    """Copy stdin to the log until the driver says goodbye, or report that it died without."""
    source = sys.stdin.buffer.fileno()
    errors: deque[bytes] = deque(maxlen=SHOWN_LINES)
    pending = b""
    said_goodbye = False
    driver_gone = False
    with open(log_path, "ab") as log:
        while True:
            ready, _, _ = select.select([source], [], [], 0.5)
            chunk = os.read(source, 1 << 16) if ready else None
            if chunk == b"":  # every writer closed the pipe
                driver_gone = True
            elif chunk:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line + b"\n" == GOODBYE:
                        said_goodbye = True
                        continue
                    log.write(line + b"\n")
                    if _ERROR_LINE.search(line):
                        errors.append(line)
                log.flush()
                continue  # drain everything there is before looking at the driver
            if os.getppid() != driver_pid:
                driver_gone = True
            if driver_gone:
                if pending:
                    log.write(pending + b"\n")
                break
    if not said_goodbye:
        _report(log_path, errors)
    return 0


if __name__ == "__main__":
    sys.exit(watch(sys.argv[1], int(sys.argv[2])))
