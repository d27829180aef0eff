"""Open plain, zstd, gzip or xz files as one binary stream, chosen by magic bytes.

Regular files are read as files; anything else (a pipe, a FIFO, ``<(...)``, ``/dev/stdin``)
is read as a stream, once: see :class:`_Stream`. A leading UTF-8 byte-order mark of
the (decompressed) data is dropped.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
from typing import IO, BinaryIO, cast

from xpfotrace.core.errors import InputError

from .streams import DECOMPRESS_ERRORS, XzStreams, ZstdFrames, sniff_compression

UTF8_BOM = b"\xef\xbb\xbf"


#: Raw bytes of a stream kept in memory so that it can be opened again from its start
#: (format detection reads the start of an input several times); the reader that goes
#: beyond them reads the rest of the stream, once.
STREAM_KEEP = 16 << 20


class _Stream:
    """A non-seekable input (pipe, FIFO, ``/dev/stdin``...): opened once per process."""

    def __init__(self, key: tuple[str, int, int], fh: io.FileIO) -> None:
        self.key = key
        self.fh = fh
        self.kept = bytearray()  # bytes 0.. of the stream, while ``passed`` is False
        self.total = 0  # bytes read from fh
        self.passed = False  # a reader went beyond STREAM_KEEP: the start is gone
        self.eof = False


_STREAMS: dict[tuple[str, int, int], _Stream] = {}
#: Streams read to their end whose (kept) content stays available to later opens.
KEEP_FINISHED = 4


def _register(key: tuple[str, int, int], stream: _Stream) -> None:
    """Remember ``stream``, forgetting all but the latest few that were read to the end."""
    finished = [k for k, s in _STREAMS.items() if s.eof]
    for k in finished[:max(len(finished) - KEEP_FINISHED + 1, 0)]:
        del _STREAMS[k]
    _STREAMS[key] = stream


class _StreamReader(io.RawIOBase):
    """One open of a :class:`_Stream`, from its start."""

    def __init__(self, stream: _Stream, path: str) -> None:
        super().__init__()
        self._st = stream
        self._path = path
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        """Back to a position still kept (the start, after sniffing)."""
        if whence != 0 or pos > self._pos or self._st.passed:
            raise io.UnsupportedOperation("a stream cannot seek")
        self._pos = pos
        return pos

    def readinto(self, b: memoryview | bytearray) -> int:  # type: ignore[override]
        st, n = self._st, len(b)
        if not n:
            return 0
        if self._pos < len(st.kept):
            k = min(n, len(st.kept) - self._pos)
            b[:k] = st.kept[self._pos:self._pos + k]
            self._pos += k
            return k
        if self._pos < st.total:
            raise InputError(self._path, "a pipe can be read only once, and this one was "
                             "read already", offset=self._pos)
        if st.eof:
            return 0
        got = st.fh.readinto(b) or 0
        if not got:
            st.eof = True
            st.fh.close()
            if st.passed:  # read through: a later open starts afresh
                _STREAMS.pop(st.key, None)
            return 0
        if not st.passed and st.total + got <= STREAM_KEEP:
            st.kept += b[:got]
        else:
            st.passed = True
            st.kept = bytearray()
        st.total += got
        self._pos += got
        return got

    def read(self, size: int = -1) -> bytes:
        """``size`` bytes, fewer only at the end (a pipe delivers what was written)."""
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        buf = bytearray(size)
        view = memoryview(buf)
        got = 0
        while got < size:
            n = self.readinto(view[got:])
            if not n:
                break
            got += n
        del view
        del buf[got:]
        return bytes(buf)


def os_path(path: str) -> str:
    """The file to open for ``path``: ``-`` is the standard input."""
    return "/dev/stdin" if path == "-" else path


def _open_raw(path: str) -> tuple[BinaryIO, int | None]:
    """The raw input and its size; None for a stream (anything but a regular file)."""
    try:
        st = os.stat(os_path(path))
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError
        if stat.S_ISREG(st.st_mode):
            fh: BinaryIO = open(os_path(path), "rb")  # noqa: SIM115 (the caller closes it)
            return fh, os.fstat(fh.fileno()).st_size
        key = (path, st.st_dev, st.st_ino)
        stream = _STREAMS.get(key)
        if stream is None:
            raw = open(os_path(path), "rb", buffering=0)  # noqa: SIM115 (closed at its end)
            stream = _Stream(key, raw)
            _register(key, stream)
        return cast(BinaryIO, _StreamReader(stream, path)), None
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a trace file") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except OSError as exc:
        raise InputError(path, f"cannot open: {exc.strerror or exc}") from None


class CountingReader:
    """A decompressed stream that also tells how far into the *raw* file it is.

    ``is_stream``: the input is a pipe or similar, of unknown size (``raw_size`` 0).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._raw, size = _open_raw(path)
        self.is_stream = size is None
        self.raw_size = size or 0
        self._prefix = b""
        self.decompressed = 0
        try:
            head = self._raw.read(8)
            self._raw.seek(0)
            self.compression = sniff_compression(head)
            self._stream: IO[bytes]
            if self.compression == "zstd":
                self._stream = cast(IO[bytes], ZstdFrames(self._raw, path))
            elif self.compression == "gzip":
                self._stream = cast(IO[bytes], gzip.GzipFile(fileobj=self._raw, mode="rb"))
            elif self.compression == "xz":
                self._stream = cast(IO[bytes], XzStreams(self._raw, path))
            else:
                self._stream = self._raw
            first = self._read(len(UTF8_BOM))
            self._prefix = b"" if first == UTF8_BOM else first
        except BaseException:
            self._raw.close()
            raise

    @property
    def raw_pos(self) -> int:
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return self.raw_size

    def _read(self, size: int) -> bytes:
        try:
            return self._stream.read(size)
        except DECOMPRESS_ERRORS as exc:
            what = self.compression or "file"
            raise InputError(self.path, f"corrupt or truncated {what} data ({exc})",
                             offset=self.raw_pos) from None

    def read(self, size: int) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            if len(data) < size:
                data += self._read(size - len(data))
        else:
            data = self._read(size)
        self.decompressed += len(data)
        return data

    @property
    def size_estimate(self) -> int:
        """The decompressed size, roughly: compressed text traces shrink about 8-fold."""
        return self.raw_size * (8 if self.compression else 1)

    def read_into(self, view: memoryview) -> int:
        """Fill ``view`` from the stream as far as it goes; returns the bytes read
        (fewer than ``len(view)`` only at the end). Saves a copy of every chunk."""
        got = 0
        if self._prefix:
            got = min(len(self._prefix), len(view))
            view[:got] = self._prefix[:got]
            self._prefix = self._prefix[got:]
        readinto = getattr(self._stream, "readinto", None)
        try:
            while got < len(view):
                if readinto is None:  # the zstd and xz readers
                    data = self._stream.read(len(view) - got)
                    view[got:got + len(data)] = data
                    n = len(data)
                else:
                    n = readinto(view[got:])
                if not n:
                    break
                got += n
        except DECOMPRESS_ERRORS as exc:
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


def raw_head(path: str, size: int) -> bytes:
    """The first ``size`` bytes of the file as stored (a stream can still be read after)."""
    raw, _ = _open_raw(path)
    with raw:
        return raw.read(size)


def read_all(path: str) -> bytes:
    """The whole decompressed content (for formats that need random access: Parquet
    from a pipe)."""
    with CountingReader(path) as r:
        return b"".join(iter(lambda: r.read(1 << 24), b""))
