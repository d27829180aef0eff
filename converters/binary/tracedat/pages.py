"""trace.dat's per-CPU ring-buffer pages: where each CPU's data is (compressed
chunks decompressed on every core), and file offsets for messages."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import cast

import numpy as np
import zstandard

from ...sanity import offset_location
from ..binfile import BinaryFormatError, native
from .header import I64, _Cursor, _decompress, _Header

#: Chunks decompressed at once (on every CPU) when there are this many at least, and
#: they claim at most this many times their compressed size (else, and when that fails,
#: one by one: a damaged chunk gets its own error, at its offset)
PARALLEL_CHUNKS, PARALLEL_RATIO = 8, 64


def _cpu_pages(data: bytes, hdr: _Header, off: int, size: int) -> tuple[bytes, I64, I64]:
    """A CPU's ring-buffer pages, and where they come from: the file offset of each
    piece (``sources``) that starts at ``starts`` in the pages (one piece, at ``off``,
    when the data is not compressed; else each compressed chunk)."""
    if off + size > len(data):
        raise BinaryFormatError(f"CPU data ({size} bytes) runs past the end of the file", off)
    if hdr.compression in ("none", "") or hdr.version < 7 or size == 0:
        return data[off:off + size], np.zeros(1, np.int64), np.full(1, off, np.int64)
    if hdr.compression == "zstd" and native():  # (the numpy path: one by one)
        got = _zstd_chunks(data, hdr, off)
        if got is not None:
            return got
    c = _Cursor(data, off, hdr.big_endian)
    parts, starts, sources = [], [], []
    at = 0
    zstd = zstandard.ZstdDecompressor()  # (one context for all chunks)
    for _ in range(c.u(4)):
        csize, usize = c.u(4), c.u(4)
        where = c.pos
        parts.append(_decompress(hdr.compression, c.take(csize), usize, where, zstd))
        starts.append(at)
        sources.append(where)
        at += len(parts[-1])
    return (b"".join(parts), np.array(starts or [0], np.int64),
            np.array(sources or [off], np.int64))


def _zstd_chunks(data: bytes, hdr: _Header, off: int) -> tuple[bytes, I64, I64] | None:
    """What :func:`_cpu_pages` gives for zstd chunks, decompressed on all CPUs at once
    (zstandard's ``multi_decompress_to_buffer``); None when not so (the chunks are read
    one by one then, which raises what a damaged one deserves)."""
    c = _Cursor(data, off, hdr.big_endian)
    frames: list[bytes | bytearray | memoryview] = []
    sizes: list[int] = []
    sources: list[int] = []
    try:
        for _ in range(c.u(4)):
            csize, usize = c.u(4), c.u(4)
            sources.append(c.pos)
            frames.append(c.take(csize))
            sizes.append(usize)
    except BinaryFormatError:
        return None
    packed = sum(len(f) for f in frames)
    if len(frames) < PARALLEL_CHUNKS or sum(sizes) > PARALLEL_RATIO * max(packed, 1 << 16):
        return None
    try:
        out = zstandard.ZstdDecompressor().multi_decompress_to_buffer(
            frames, decompressed_sizes=struct.pack(f"={len(sizes)}Q", *sizes), threads=-1)
        # (segments of the output: buffers, which the stubs do not say)
        pieces = cast(list[memoryview], [out[i] for i in range(len(out))])
    except (zstandard.ZstdError, NotImplementedError, AttributeError, ValueError,
            MemoryError):
        return None
    if len(pieces) != len(sizes) or any(len(p) != n for p, n in zip(pieces, sizes,
                                                                   strict=True)):
        return None
    starts = np.zeros(len(sizes), np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    return b"".join(pieces), starts, np.array(sources, np.int64)


def _file_offsets(pos: I64, starts: I64, sources: I64, compressed: bool) -> I64:
    """File offsets of positions in a CPU's pages: exact without compression, else the
    offset of the compressed chunk that holds each."""
    piece = np.maximum(np.searchsorted(starts, pos, side="right") - 1, 0)
    out: I64 = sources[piece] if compressed else sources[piece] + pos - starts[piece]
    return out


def _locate(compressed: bool) -> Callable[[int], str]:
    if compressed:
        return lambda where: f"offset {where} (the compressed chunk that holds it)"
    return offset_location
