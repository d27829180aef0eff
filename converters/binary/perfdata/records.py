"""perf.data's records: the record walk (file and pipe mode), compressed records,
in-stream headers, and where each record came from in the file."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import zstandard

from ..binfile import MAX_RATIO, MIN_LIMIT, BinaryFormatError, cbin, native
from .header import (
    BOOL,
    FEAT_NRCPUS,
    FEAT_TRACING_DATA,
    HEADER_SIZE,
    I64,
    MAX_RECORD_TYPE,
    PIPE_HEADER_RECORDS,
    PIPE_HEADER_SIZE,
    REC_AUXTRACE,
    REC_COMPRESSED,
    REC_COMPRESSED2,
    REC_HEADER_ATTR,
    REC_HEADER_FEATURE,
    REC_HEADER_TRACING_DATA,
    U8,
    USER_TYPE_START,
    _Attr,
    _header_attr,
    _parse_attr,
    _u64s,
)


def _candidates(d: U8, step: int) -> tuple[I64, I64]:
    """Positions (multiples of ``step``: 8 or 1) whose 8 bytes could be a record
    header, and where each such record would end."""
    if step == 8:
        n = len(d) // 8
        # header words, little-endian: u32 type at byte 0, u16 size at byte 6 (strided
        # views: no copy, and narrow temporaries)
        rtype = d[: n * 8].view("<u4")[0::2]
        sizes = d[: n * 8].view("<u2")[3::4]
        ok = (rtype - np.uint32(1)) < np.uint32(MAX_RECORD_TYPE)  # 1 <= type <= MAX
        ok &= (sizes & np.uint16(7)) == 0
        ok &= sizes != 0
        cand = np.flatnonzero(ok)
        return cand * 8, cand * 8 + sizes[cand].astype(np.int64)
    n = len(d) - 7  # positions with a whole header
    if n <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ok = (d[:n] - np.uint8(1)) < np.uint8(MAX_RECORD_TYPE)  # type's low byte 1..127
    for k in (1, 2, 3):
        ok &= d[k:n + k] == 0  # and its other bytes 0
    cand = np.flatnonzero(ok)
    size = d[cand + 6].astype(np.int64) | (d[cand + 7].astype(np.int64) << 8)
    # kernel records are multiples of 8 bytes; perf's own (type 64 on) need not be
    keep = (size >= 8) & ((d[cand] >= USER_TYPE_START) | ((size & 7) == 0))
    cand = cand[keep]
    return cand, cand + size[keep]


def _chain(d: U8, step: int) -> tuple[I64, int]:
    """Offsets of the records reached from offset 0 (candidates of granularity ``step``),
    and the offset where the chain stops: the end of ``d`` (rounded down to ``step``)
    if it reaches it, else where it found no record header, or past the end."""
    if native():  # record by record, in one compiled pass
        return cbin.chain(d, step, MAX_RECORD_TYPE, USER_TYPE_START)
    cand, target = _candidates(d, step)
    if not len(cand) or cand[0] != 0:
        return np.zeros(0, np.int64), 0
    c = len(cand)
    idx_t = np.int32 if c < (1 << 31) - 1 else np.int64
    if step == 8:
        n = len(d) // 8
        index_of = np.full(n + 1, c, dtype=idx_t)  # candidate index of a word; c: none
        index_of[cand // 8] = np.arange(c, dtype=idx_t)
        nxt = index_of[np.minimum(target // 8, n)]
    else:
        at = np.minimum(np.searchsorted(cand, target), c - 1)
        nxt = np.where(cand[at] == target, at, c).astype(idx_t)
    jump = np.append(nxt, c).astype(idx_t)  # c: the chain's end
    reached = np.zeros(c + 1, dtype=bool)  # reached from record 0 in fewer than 2^k steps
    reached[0] = True
    count = 1
    while True:
        reached[jump[np.flatnonzero(reached)]] = True
        now = int(reached.sum())
        if now == count:
            break
        count = now
        jump = jump[jump]
    rec = np.flatnonzero(reached[:c])
    return cand[rec].astype(np.int64), int(target[rec[-1]])


def _header(d: U8, at: int) -> tuple[int, int]:
    """(type, size) of the record header at ``at`` (zeros where there is none)."""
    if at + 8 > len(d):
        return 0, 0
    return (int.from_bytes(d[at:at + 4].tobytes(), "little"),
            int.from_bytes(d[at + 6:at + 8].tobytes(), "little"))


#: records followed by data their size does not count, and the width of the field (at
#: byte 8) that gives its size: HEADER_TRACING_DATA (u32), AUXTRACE (u64)
_TRAILING = {REC_HEADER_TRACING_DATA: 4, REC_AUXTRACE: 8}


def _walk(d: U8) -> tuple[I64, list[tuple[int, int]]]:
    """Offsets of all records of the stream ``d``, and the (offset, size) of the tracing
    data following each HEADER_TRACING_DATA record in it.

    8-byte candidates first; from a record of perf's own whose size is not a multiple of
    8 on, byte granularity. A HEADER_TRACING_DATA or AUXTRACE record is followed by its
    data, which its size does not count: the walk resumes after the data.
    """
    parts: list[I64] = []
    blobs: list[tuple[int, int]] = []
    start, step = 0, 8
    while start < len(d):
        seg = d[start:]
        pos, end = _chain(seg, step)
        if end == len(seg) - len(seg) % step:
            parts.append(pos + start)
            break
        if len(pos):
            last = int(pos[-1])
            ltype, lsize = _header(seg, last)
            width = _TRAILING.get(ltype, 0)
            if width and lsize >= 8 + width and end == last + lsize:
                tsize = int.from_bytes(seg[last + 8:last + 8 + width].tobytes(), "little")
                if end + tsize <= len(seg):
                    parts.append(pos + start)
                    if ltype == REC_HEADER_TRACING_DATA:
                        blobs.append((start + end, tsize))
                    start += end + tsize
                    continue
        if step == 8 and end < len(seg):
            ntype, nsize = _header(seg, end)
            if USER_TYPE_START <= ntype <= MAX_RECORD_TYPE and nsize >= 8 and nsize % 8:
                step = 1  # a record of perf's own, not a multiple of 8 bytes: redo finer
                continue
        if end > len(seg):  # the last record runs past the end of the stream
            last = int(pos[-1])
            raise BinaryFormatError(f"corrupt record header (size {_header(seg, last)[1]})",
                                    start + last)
        raise BinaryFormatError(f"corrupt record header (size {_header(seg, end)[1]})",
                                start + end)
    out = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return out, blobs


def _record_positions(d: U8) -> I64:
    """Offsets of the records in the data section ``d`` (see :func:`_walk`)."""
    return _walk(d)[0]


@dataclass
class _Origin:
    """Where the bytes of a (possibly decompressed) record stream come from in the file:
    piece ``i`` starts at stream offset ``starts[i]`` and file offset ``files[i]``; a
    decompressed piece maps every offset in it to its COMPRESSED record's."""

    starts: I64
    files: I64
    compressed: BOOL

    @classmethod
    def at(cls, base: int) -> _Origin:
        return cls(np.zeros(1, np.int64), np.array([base], np.int64), np.zeros(1, bool))

    def __call__(self, off: I64) -> I64:
        i = np.searchsorted(self.starts, off, side="right") - 1
        out: I64 = self.files[i] + np.where(self.compressed[i], 0, off - self.starts[i])
        return out

    def one(self, off: int) -> int:
        return int(self(np.array([off], np.int64))[0])


def _decompressed(d: U8, pos: I64, rtype: I64, rsize: I64,
                  origin: _Origin) -> tuple[U8, _Origin]:
    """The stream with each COMPRESSED / COMPRESSED2 record replaced by what it holds.

    Their payloads form one zstd stream (flushed after each record): decompressed in
    order and joined, so records cut between two COMPRESSED records are whole again.
    Fed in slices, with a bound on the total (a decompression bomb is not a trace).
    """
    limit = max(MIN_LIMIT, MAX_RATIO * len(d))
    comp = np.flatnonzero((rtype == REC_COMPRESSED) | (rtype == REC_COMPRESSED2))
    dctx = zstandard.ZstdDecompressor()
    obj = dctx.decompressobj()
    pieces: list[bytes] = []
    starts: list[int] = []
    srcs: list[int] = []
    comps: list[bool] = []
    total, prev = 0, 0
    view = d.data

    def add(chunk: bytes, src: int, compressed: bool) -> None:
        nonlocal total
        if not chunk:
            return
        pieces.append(chunk)
        starts.append(total)
        srcs.append(src)
        comps.append(compressed)
        total += len(chunk)
        if total > limit:
            raise BinaryFormatError(
                f"compressed records decompress to more than {limit >> 20:,} MiB "
                f"({MAX_RATIO} times the data): a decompression bomb, not a trace", src)

    for i in comp.tolist():
        p, size = int(pos[i]), int(rsize[i])
        if p > prev:  # the uncompressed records in between
            add(view[prev:p].tobytes(), prev, False)
        head = 8
        if rtype[i] == REC_COMPRESSED2:
            data_size = int.from_bytes(view[p + 8:p + 16].tobytes(), "little")
            if size < 16 or data_size > size - 16:
                raise BinaryFormatError(f"COMPRESSED2 record of {data_size} bytes in a "
                                        f"record of {size}", p)
            payload = view[p + 16:p + 16 + data_size]
        else:
            payload = view[p + head:p + size]
        try:
            for k in range(0, len(payload), 8192):
                chunk: bytes | memoryview = payload[k:k + 8192]
                while True:
                    add(obj.decompress(chunk), p, True)
                    if not obj.eof:
                        break
                    chunk = obj.unused_data  # a frame ended: the next one starts
                    obj = dctx.decompressobj()
                    if not chunk:
                        break
        except zstandard.ZstdError as exc:
            raise BinaryFormatError(f"corrupt zstd data in a COMPRESSED record ({exc})",
                                    p) from None
        prev = p + size
    if prev < len(d):
        add(view[prev:].tobytes(), prev, False)
    out = np.frombuffer(b"".join(pieces), np.uint8)
    st = np.array(starts or [0], np.int64)
    src = origin(np.array(srcs or [0], np.int64))
    return out, _Origin(st, src, np.array(comps or [False], bool))


@dataclass
class _Source:
    """What the reader needs, whichever way the file was written."""

    attrs: list[_Attr]
    features: dict[int, tuple[int, bytes]]  # feature bit: (file offset, contents)
    tracing: tuple[int, bytes] | None  # (file offset, HEADER_TRACING_DATA)
    d: U8  # the record stream
    origin: _Origin  # its offsets' place in the file


def _file_mode(data: bytes) -> _Source:
    if len(data) < HEADER_SIZE:
        raise BinaryFormatError("truncated perf.data header", len(data))
    (_, hsize, attr_size, attr_off, attr_len, data_off, data_len, _, _) = struct.unpack_from(
        "<8sQQQQQQQQ", data, 0)
    if hsize < HEADER_SIZE:
        raise BinaryFormatError(f"perf.data header size {hsize} is too small", 8)
    features = int.from_bytes(data[72:104], "little")
    if data_off + data_len > len(data):
        raise BinaryFormatError(
            f"data section ({data_len} bytes) runs past the end of the file", 40)
    if attr_size < 16 + 64 or attr_off + attr_len > len(data):
        raise BinaryFormatError("attribute section runs past the end of the file", 24)
    attrs = []
    for a in range(attr_off, attr_off + attr_len - attr_size + 1, attr_size):
        ids_off, ids_len = struct.unpack_from("<QQ", data, a + attr_size - 16)
        if ids_off + ids_len > len(data):
            raise BinaryFormatError("sample IDs run past the end of the file", a)
        attrs.append(_parse_attr(data[a:a + attr_size - 16],
                                 _u64s(data, ids_off, ids_len // 8)))
    # features after the data section: one {offset, size} per set bit, in bit order
    feat_at = data_off + data_len
    sections: dict[int, tuple[int, bytes]] = {}
    for bit in range(256):
        if features >> bit & 1:
            if feat_at + 16 > len(data):
                raise BinaryFormatError(
                    "feature section table runs past the end of the file", feat_at)
            off, size = struct.unpack_from("<QQ", data, feat_at)
            if off + size > len(data):
                what = {FEAT_TRACING_DATA: "HEADER_TRACING_DATA",
                        FEAT_NRCPUS: "HEADER_NRCPUS"}.get(bit)
                if what:
                    raise BinaryFormatError(f"{what} runs past the end of the file", off)
                off, size = 0, 0  # a feature this reader does not need
            sections[bit] = (off, data[off:off + size])
            feat_at += 16
    tracing = sections.pop(FEAT_TRACING_DATA, None)
    d = np.frombuffer(data, np.uint8, count=data_len, offset=data_off)
    return _Source(attrs, sections, tracing, d, _Origin.at(data_off))


def _pipe_mode(data: bytes) -> _Source:
    """A pipe-mode file: its header records (walked one by one: they need not be
    multiples of 8 bytes), then the rest of the stream."""
    attrs: list[_Attr] = []
    features: dict[int, tuple[int, bytes]] = {}
    tracing: tuple[int, bytes] | None = None
    pos = PIPE_HEADER_SIZE
    while pos + 8 <= len(data):
        rtype, _, size = struct.unpack_from("<IHH", data, pos)
        if rtype not in PIPE_HEADER_RECORDS:
            break
        if size < 8 or pos + size > len(data):
            raise BinaryFormatError(f"corrupt record header (size {size})", pos)
        nxt = pos + size
        if rtype == REC_HEADER_ATTR:
            attrs.append(_header_attr(data, pos, size))
        elif rtype == REC_HEADER_FEATURE and size >= 16:
            (bit,) = struct.unpack_from("<Q", data, pos + 8)
            features.setdefault(bit, (pos + 16, data[pos + 16:nxt]))
        elif rtype == REC_HEADER_TRACING_DATA:
            if size < 12:
                raise BinaryFormatError(f"corrupt record header (size {size})", pos)
            (tsize,) = struct.unpack_from("<I", data, pos + 8)
            if nxt + tsize > len(data):
                raise BinaryFormatError("HEADER_TRACING_DATA runs past the end of the file",
                                        pos)
            tracing = tracing or (nxt, data[nxt:nxt + tsize])
            nxt += tsize
        pos = nxt
    d = np.frombuffer(data, np.uint8, offset=min(pos, len(data)))
    return _Source(attrs, features, tracing, d, _Origin.at(pos))


def _in_stream_headers(src: _Source, pos: I64, rtype: I64, rsize: I64,
                       blobs: list[tuple[int, int]]) -> None:
    """HEADER_ATTR / HEADER_FEATURE / HEADER_TRACING_DATA records found in the stream
    (a pipe-mode file's header records after its first kernel record)."""
    mv = src.d.data
    for i in np.flatnonzero((rtype == REC_HEADER_ATTR) | (rtype == REC_HEADER_FEATURE)):
        p, size = int(pos[i]), int(rsize[i])
        if rtype[i] == REC_HEADER_ATTR:
            src.attrs.append(_header_attr(mv, p, size))
        elif size >= 16:
            bit = int.from_bytes(mv[p + 8:p + 16].tobytes(), "little")
            src.features.setdefault(bit, (src.origin.one(p + 16), mv[p + 16:p + size].tobytes()))
    if blobs and src.tracing is None:
        at, size = blobs[0]
        src.tracing = (src.origin.one(at), mv[at:at + size].tobytes())


def _types_sizes(d: U8, pos: I64) -> tuple[I64, I64]:
    got = cbin.record_headers(d, pos) if native() and pos.dtype == np.int64 else None
    if got is not None:
        return got
    hdr_words = d[pos[:, None] + np.arange(8)]
    rtype = hdr_words[:, 0:4].copy().view("<u4").ravel().astype(np.int64)
    rsize = hdr_words[:, 6:8].copy().view("<u2").ravel().astype(np.int64)
    return rtype, rsize
