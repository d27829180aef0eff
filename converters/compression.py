"""Open plain, zstd, gzip or xz files as one binary stream, chosen by magic bytes."""

from __future__ import annotations

import gzip
import lzma
import os
from typing import IO, BinaryIO, cast

import zstandard

from xpfotrace.errors import InputError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"


def sniff_compression(head: bytes) -> str | None:
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(XZ_MAGIC):
        return "xz"
    return None


class _ZstdFrames:
    """Streamed zstd decompression across frames that notices a truncated last frame.

    (zstandard's stream_reader returns a cut frame's partial data silently.)
    """

    def __init__(self, raw: BinaryIO, path: str) -> None:
        self._raw = raw
        self._path = path
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._in_frame = False
        self._buf = b""
        self._eof = False

    def read(self, size: int) -> bytes:
        while len(self._buf) < size and not self._eof:
            chunk = self._raw.read(1 << 20)
            if not chunk:
                self._eof = True
                if self._in_frame:
                    raise InputError(self._path, "truncated zstd data: the last frame is "
                                     "incomplete", offset=self._raw.tell())
                break
            out = []
            while chunk:
                self._in_frame = True
                out.append(self._obj.decompress(chunk))
                if self._obj.eof:
                    chunk = self._obj.unused_data
                    self._obj = self._dctx.decompressobj()
                    self._in_frame = False
                else:
                    chunk = b""
            self._buf += b"".join(out)
        data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def close(self) -> None:
        self._buf = b""


class CountingReader:
    """A decompressed stream that also tells how far into the *raw* file it is."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._raw: BinaryIO = open(path, "rb")  # noqa: SIM115 (closed in close())
        except FileNotFoundError:
            raise InputError(path, "no such file") from None
        except IsADirectoryError:
            raise InputError(path, "is a directory, not a trace file") from None
        except PermissionError:
            raise InputError(path, "permission denied") from None
        except OSError as exc:
            raise InputError(path, f"cannot open: {exc.strerror or exc}") from None
        self.raw_size = os.fstat(self._raw.fileno()).st_size
        head = self._raw.read(8)
        self._raw.seek(0)
        self.compression = sniff_compression(head)
        self._stream: IO[bytes]
        if self.compression == "zstd":
            self._stream = cast(IO[bytes], _ZstdFrames(self._raw, path))
        elif self.compression == "gzip":
            self._stream = cast(IO[bytes], gzip.GzipFile(fileobj=self._raw, mode="rb"))
        elif self.compression == "xz":
            self._stream = cast(IO[bytes], lzma.LZMAFile(self._raw, mode="rb"))  # noqa: SIM115
        else:
            self._stream = self._raw
        self.decompressed = 0

    @property
    def raw_pos(self) -> int:
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return self.raw_size

    def read(self, size: int) -> bytes:
        try:
            data = self._stream.read(size)
        except (EOFError, OSError, lzma.LZMAError, zstandard.ZstdError) as exc:
            what = self.compression or "file"
            raise InputError(self.path, f"corrupt or truncated {what} data ({exc})",
                             offset=self.raw_pos) from None
        self.decompressed += len(data)
        return data

    @property
    def size_estimate(self) -> int:
        """The decompressed size, roughly: compressed text traces shrink about 8-fold."""
        return self.raw_size * (8 if self.compression else 1)

    def read_into(self, view: memoryview) -> int:
        """Fill ``view`` from the stream as far as it goes; returns the bytes read
        (fewer than ``len(view)`` only at the end). Saves a copy of every chunk."""
        readinto = getattr(self._stream, "readinto", None)
        if readinto is None:  # the zstd frame reader
            data = self.read(len(view))
            view[:len(data)] = data
            return len(data)
        got = 0
        try:
            while got < len(view):
                n = readinto(view[got:])
                if not n:
                    break
                got += n
        except (EOFError, OSError, lzma.LZMAError) as exc:
            what = self.compression or "file"
            raise InputError(self.path, f"corrupt or truncated {what} data ({exc})",
                             offset=self.raw_pos) from None
        self.decompressed += got
        return got

    def close(self) -> None:
        try:
            if self._stream is not self._raw:
                self._stream.close()
        finally:
            self._raw.close()

    def __enter__(self) -> CountingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_head(path: str, size: int = 1 << 16) -> bytes:
    """The first ``size`` decompressed bytes (for format detection)."""
    with CountingReader(path) as r:
        return r.read(size)
