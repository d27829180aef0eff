"""Decompression streams: which compression a file's head shows, and streamed zstd and
xz decoders that notice a cut last frame and data after the last stream."""

from __future__ import annotations

import lzma
import struct
import zlib
from collections import deque
from typing import BinaryIO

import zstandard

from xpfotrace.core.errors import InputError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


GZIP_MAGIC = b"\x1f\x8b"


XZ_MAGIC = b"\xfd7zXZ\x00"


#: the errors a decompressor raises on bad data
DECOMPRESS_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error, zstandard.ZstdError)


def _zstd_skippable(head: bytes) -> bool:
    """A zstd skippable frame (magic 0x184D2A50 to 0x184D2A5F), as pzstd writes first."""
    return len(head) >= 4 and struct.unpack_from("<I", head)[0] & ~0xF == 0x184D2A50


def sniff_compression(head: bytes) -> str | None:
    if head.startswith(ZSTD_MAGIC) or _zstd_skippable(head):
        return "zstd"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(XZ_MAGIC):
        return "xz"
    return None


class ZstdFrames:
    """Streamed zstd decompression across frames that notices a truncated last frame.

    (zstandard's stream_reader returns a cut frame's partial data silently.) Skippable
    frames (pzstd writes one before each frame) decompress to nothing.
    """

    def __init__(self, raw: BinaryIO, path: str) -> None:
        self._raw = raw
        self._path = path
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._in_frame = False
        self._left: deque[memoryview] = deque()  # output decompressed but not yet read
        self._eof = False

    def readinto(self, view: memoryview) -> int:
        """Decompress into ``view``, as far as it goes (fewer bytes only at the end).

        Each decompressed piece is copied once, straight into ``view``; what does not
        fit waits for the next read. The compressed input goes in pieces of about an
        eighth of ``len(view)`` (text compresses 10-20x), so a short read (sniffing a
        head) decompresses little, and at most 256 KiB: the output pieces stay a few
        MB, memory the allocator hands out again rather than fresh pages.
        """
        size = len(view)
        got = self._drain(view, 0)
        step = min(1 << 18, max(1 << 14, size // 8))
        while got < size and not self._eof:
            chunk = self._raw.read(step)
            if not chunk:
                self._eof = True
                if self._in_frame:
                    raise InputError(self._path, "truncated zstd data: the last frame is "
                                     "incomplete", offset=self._raw.tell())
                break
            while chunk:
                self._in_frame = True
                piece = self._obj.decompress(chunk)
                if piece:
                    self._left.append(memoryview(piece))
                if self._obj.eof:
                    chunk = self._obj.unused_data
                    self._obj = self._dctx.decompressobj()
                    self._in_frame = False
                else:
                    chunk = b""
            got = self._drain(view, got)
        return got

    def _drain(self, view: memoryview, got: int) -> int:
        """Copy waiting output into ``view[got:]``; returns the new fill."""
        while self._left and got < len(view):
            piece = self._left[0]
            k = min(len(piece), len(view) - got)
            view[got:got + k] = piece[:k]
            got += k
            if k == len(piece):
                self._left.popleft()
            else:
                self._left[0] = piece[k:]
        return got

    def read(self, size: int) -> bytes:
        out = bytearray(size)
        n = self.readinto(memoryview(out))
        return bytes(memoryview(out)[:n])

    def close(self) -> None:
        self._left.clear()


class XzStreams:
    """Streamed xz decompression across concatenated streams (with the stream padding
    the format allows between and after them: zero bytes, a multiple of four).

    Unlike ``lzma.LZMAFile``, which ignores whatever follows the last stream, data
    after it that is not another stream is an error with its offset, as it is after
    gzip and zstd data.
    """

    def __init__(self, raw: BinaryIO, path: str) -> None:
        self._raw = raw
        self._path = path
        self._dec: lzma.LZMADecompressor | None = None
        self._pending = b""  # raw bytes read but not yet given to a decompressor
        self._read = 0  # raw bytes read from the file
        self._padding = 0  # zero bytes since the last stream ended
        self._buf = b""
        self._done = False

    def _more(self) -> bool:
        chunk = self._raw.read(1 << 20)
        self._read += len(chunk)
        self._pending += chunk
        return bool(chunk)

    def _next_stream(self) -> bool:
        """Start the next stream, or tell that the data ended (False)."""
        while True:
            rest = self._pending.lstrip(b"\x00")
            self._padding += len(self._pending) - len(rest)
            self._pending = rest
            if len(rest) < len(XZ_MAGIC) and self._more():
                continue
            at = self._read - len(self._pending)
            if not self._pending:
                if self._padding % 4:
                    raise InputError(self._path, "corrupt xz data: stream padding is not a "
                                     "multiple of four bytes", offset=at)
                return False
            if not self._pending.startswith(XZ_MAGIC) or self._padding % 4:
                raise InputError(self._path, "corrupt xz data: trailing data after the "
                                 "last xz stream", offset=at)
            self._padding = 0
            self._dec = lzma.LZMADecompressor(lzma.FORMAT_XZ)
            return True

    def read(self, size: int) -> bytes:
        out = [self._buf]
        have = len(self._buf)
        while have < size and not self._done:
            if self._dec is None and not self._next_stream():
                self._done = True
                break
            dec = self._dec
            assert dec is not None
            if dec.needs_input and not self._pending and not self._more():
                raise InputError(self._path, "truncated xz data: the last stream is "
                                 "incomplete", offset=self._read)
            data = self._pending if dec.needs_input else b""
            if dec.needs_input:
                self._pending = b""
            # bounded output per call: a small input may decompress to a great deal
            got = dec.decompress(data, max_length=max(size - have, 1 << 16))
            if dec.eof:
                self._pending = dec.unused_data
                self._dec = None
            out.append(got)
            have += len(got)
        joined = b"".join(out)
        data, self._buf = joined[:size], joined[size:]
        return data

    def close(self) -> None:
        self._buf = b""
