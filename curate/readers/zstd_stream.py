"""A zstd reader that says when a file was cut short.

zstandard's ``stream_reader`` (what fsspec opens ``.zst`` with) ends silently when the input
stops inside a frame: a truncated file reads as a shorter, valid one, and its lost records are
never counted. Python's gzip, bz2 and lzma readers raise ``EOFError`` there; this reader does
the same, using the decompressor's own frame state (``eof``), and reads every frame of a
multi-frame file (``zstd`` CLI, pzstd, concatenated files).

Input is fed in small pieces (:data:`FEED_BYTES`) so that one step never inflates much at once
(a zstd block of 4 bytes can stand for 128 KiB: a 1 KiB piece of a bomb is at most 32 MiB), as
the stream reader it replaces bounded its output.
"""

from __future__ import annotations

import io
from typing import IO

import zstandard

#: Compressed bytes given to the decompressor per step (see the module docstring).
FEED_BYTES = 1024


class ZstdFrameReader(io.RawIOBase):
    """Raw reader of every frame in ``source``; ``EOFError`` if the input ends inside one."""

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__()
        self._source = source
        self._context = zstandard.ZstdDecompressor()
        self._frame: zstandard.ZstdDecompressionObj | None = None  # None: between frames
        self._input = b""
        self._input_pos = 0  # how much of _input the decompressor has taken
        self._output = memoryview(b"")
        self._compressed_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while not self._output:
            if self._input_pos >= len(self._input):
                self._input, self._input_pos = self._source.read(1 << 16), 0
                self._compressed_read += len(self._input)
                if not self._input:
                    self._check_complete()
                    return 0
            self._output = memoryview(self._step())
        n = min(len(buffer), len(self._output))
        buffer[:n] = self._output[:n]
        self._output = self._output[n:]
        return n

    def _step(self) -> bytes:
        """Decompress one piece of input; start a new frame where the last one ended."""
        if self._frame is None:
            self._frame = self._context.decompressobj()
        piece = self._input[self._input_pos : self._input_pos + FEED_BYTES]
        self._input_pos += len(piece)
        out = self._frame.decompress(piece)
        if self._frame.eof:  # what it did not take belongs to the next frame
            self._input_pos -= len(self._frame.unused_data)
            self._frame = None
        return out

    def _check_complete(self) -> None:
        if self._frame is not None:
            raise EOFError(
                f"truncated zstd file: it ends at byte {self._compressed_read} inside a frame "
                "(compressed file ended before the end-of-frame marker was reached)"
            )

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()


def open_zstd(source: IO[bytes]) -> IO[bytes]:
    """A buffered (``readline``-able) reader over the frames of ``source``."""
    return io.BufferedReader(ZstdFrameReader(source))
