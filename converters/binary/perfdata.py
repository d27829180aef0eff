"""``perf.data`` of tracepoint samples, read directly: file and pipe mode, ``-g``, ``-z``.

**File mode.** Header: magic, header size (104), attr size, the attrs / data /
event-types sections ({u64 offset, u64 size}) and a 256-bit feature bitmap; after the
data section, one {offset, size} per set feature bit. Each attr entry is a
``perf_event_attr`` and the {offset, size} of its sample IDs. HEADER_TRACING_DATA
holds the event format texts in trace.dat v6 layout, HEADER_NRCPUS the CPU count,
HEADER_EVENT_DESC the events' names.

**Pipe mode** (``perf record -o -``): a 16-byte header (magic, size 16), then one stream
of records in which perf's synthesized records carry what the file header would:
HEADER_ATTR (64: an attr and its sample IDs), HEADER_TRACING_DATA (66: followed by that
many bytes of tracing data, outside the record's size), HEADER_FEATURE (80: a feature
id and its section), as perf's ``perf_event__process_attr`` /
``perf_event__process_tracing_data`` read them.

**Records** are one sequential stream (u32 type, u16 misc, u16 size). The compiled loops
(``xpfotrace.converters.binary._cbin``, see :func:`binfile.native`) walk it record by record;
without them they are located without a loop per record by *pointer jumping*: every
candidate position points to ``position + size``; squaring that jump table log2(R) times
collects every position reachable from the first record. Kernel records are multiples of
8 bytes, so the candidates are 8-byte words; perf's own records need not be
(HEADER_FEATURE, COMPRESSED), and a stream holding one is walked at byte granularity
from there.

**``perf record -z``**: COMPRESSED (81) and COMPRESSED2 (83, 8-byte aligned, newer perf)
records hold one zstd stream, flushed (not ended) after each record, of ordinary
records; a record may straddle two COMPRESSED records. Their payloads are decompressed
in order into one stream of records, which is then read like a data section.

**Samples.** Each attr's sample_type (with its read_format, branch_sample_type and
register masks) gives its samples' layout, fields in the kernel's order (IDENTIFIER, IP,
TID, TIME, ADDR, ID, STREAM_ID, CPU, PERIOD, READ, CALLCHAIN, RAW, BRANCH_STACK,
REGS_USER, STACK_USER, WEIGHT, DATA_SRC, TRANSACTION, REGS_INTR, PHYS_ADDR, CGROUP,
DATA_PAGE_SIZE, CODE_PAGE_SIZE, AUX); the variable-size ones (READ groups, CALLCHAIN,
RAW, BRANCH_STACK, REGS, STACK_USER, AUX) are stepped over with per-record offsets in
numpy (or sample by sample in one compiled pass, which also reads the fields). A
sample's attr is found from its IDENTIFIER (or ID) and the attrs' ID lists. Tracepoint
samples are decoded from their raw data; samples of other events (``-e cpu-clock``...)
become rows of that event's name, without fields.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import zstandard

from xpfotrace.core.traceinfo import TraceInfo

from ..sanity import checked, offset_location, out_of_line
from .binfile import MAX_RATIO, MIN_LIMIT, BinaryFormatError, binary_tables, cbin, native
from .rawevents import damaged_payloads, decode, dense_codes, read_int, take_strings
from .ringbuffer import MIN_PAYLOAD
from .tracedat import MAGIC as TRACING_MAGIC
from .tracedat import (
    _Cursor,
    _Header,
    common_type_field,
    parse_used,
    read_v6_formats,
)

MAGIC = b"PERFILE2"
MAGIC_V1 = b"PERFFILE"
#: what a perf.data file starts with: v2 and v1 magics, in either byte order (the u64
#: written by a big-endian machine reads backwards); only little-endian v2 is read
MAGICS = (MAGIC, MAGIC[::-1], MAGIC_V1, MAGIC_V1[::-1])
HEADER_SIZE = 104
PIPE_HEADER_SIZE = 16
FEAT_TRACING_DATA, FEAT_NRCPUS, FEAT_EVENT_DESC = 1, 7, 12
REC_LOST, REC_COMM, REC_FORK, REC_SAMPLE = 2, 3, 7, 9
REC_HEADER_ATTR, REC_HEADER_EVENT_TYPE, REC_HEADER_TRACING_DATA = 64, 65, 66
REC_HEADER_BUILD_ID, REC_AUXTRACE, REC_HEADER_FEATURE = 67, 71, 80
REC_COMPRESSED, REC_COMPRESSED2 = 81, 83
#: the synthesized records a pipe-mode stream starts with (its "header")
PIPE_HEADER_RECORDS = (REC_HEADER_ATTR, REC_HEADER_EVENT_TYPE, REC_HEADER_TRACING_DATA,
                       REC_HEADER_BUILD_ID, REC_HEADER_FEATURE)
PERF_TYPE_TRACEPOINT = 2

# sample_type bits (include/uapi/linux/perf_event.h)
S_IP, S_TID, S_TIME, S_ADDR, S_READ = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 4
S_CALLCHAIN, S_ID, S_CPU, S_PERIOD, S_STREAM_ID = 1 << 5, 1 << 6, 1 << 7, 1 << 8, 1 << 9
S_RAW, S_BRANCH_STACK, S_REGS_USER, S_STACK_USER = 1 << 10, 1 << 11, 1 << 12, 1 << 13
S_WEIGHT, S_DATA_SRC, S_IDENTIFIER, S_TRANSACTION = 1 << 14, 1 << 15, 1 << 16, 1 << 17
S_REGS_INTR, S_PHYS_ADDR, S_AUX, S_CGROUP = 1 << 18, 1 << 19, 1 << 20, 1 << 21
S_DATA_PAGE_SIZE, S_CODE_PAGE_SIZE, S_WEIGHT_STRUCT = 1 << 22, 1 << 23, 1 << 24
#: the sample_type bits whose layout this reader knows (a sample with others may hold
#: more after them: it then only has to fit its record)
S_KNOWN = (1 << 25) - 1
#: the fixed u64 fields before READ, in the order a sample holds them
S_FIXED_HEAD = (S_IDENTIFIER, S_IP, S_TID, S_TIME, S_ADDR, S_ID, S_STREAM_ID, S_CPU,
                S_PERIOD)
#: the fields of the sample_id_all trailer of side-band records, in order
S_TRAILER = (S_TID, S_TIME, S_ID, S_STREAM_ID, S_CPU, S_IDENTIFIER)
# read_format bits
R_TOTAL_TIME_ENABLED, R_TOTAL_TIME_RUNNING, R_ID, R_GROUP, R_LOST = 1, 2, 4, 8, 16
# branch_sample_type bits that change a sample's branch stack
BRANCH_HW_INDEX, BRANCH_COUNTERS = 1 << 17, 1 << 19

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
BOOL = npt.NDArray[np.bool_]

#: Record types are small (kernel ones below 32, perf's own from 64 up to about 86).
MAX_RECORD_TYPE = 127
#: perf's own record types start here; only kernel records must be multiples of 8 bytes
USER_TYPE_START = 64
#: a sample's variable counts (callchain entries, branches...) beyond this cannot fit
#: its record (at most 64 KiB): clamped, so offsets never overflow
MAX_COUNT = 1 << 17

#: names of the common non-tracepoint events, for a file without HEADER_EVENT_DESC
_TYPE_NAMES = {
    (0, 0): "cycles", (0, 1): "instructions", (0, 2): "cache-references",
    (0, 3): "cache-misses", (0, 4): "branches", (0, 5): "branch-misses",
    (1, 0): "cpu-clock", (1, 1): "task-clock", (1, 2): "page-faults",
    (1, 3): "context-switches", (1, 4): "cpu-migrations", (1, 5): "minor-faults",
    (1, 6): "major-faults", (1, 9): "dummy",
}


@dataclass
class _Attr:
    """What a sample's layout and event depend on, from one ``perf_event_attr``."""

    type: int
    config: int
    sample_type: int
    read_format: int
    sample_id_all: bool
    branch_sample_type: int
    regs_user: int
    regs_intr: int
    ids: list[int] = field(default_factory=list)
    name: str = ""

    @property
    def tracepoint(self) -> bool:
        return self.type == PERF_TYPE_TRACEPOINT and bool(self.sample_type & S_RAW)

    @property
    def layout(self) -> tuple[int, ...]:
        """Equal for attrs whose samples are laid out alike."""
        return (self.sample_type, self.read_format,
                self.branch_sample_type & (BRANCH_HW_INDEX | BRANCH_COUNTERS),
                self.regs_user.bit_count(), self.regs_intr.bit_count())

    @property
    def display_name(self) -> str:
        return self.name or _TYPE_NAMES.get((self.type, self.config),
                                            f"perf-event-{self.type}-{self.config:#x}")


def _parse_attr(raw: bytes, ids: list[int]) -> _Attr:
    """A ``perf_event_attr`` of any version (its own size field says which fields it
    has; absent ones are zero)."""
    size = int.from_bytes(raw[4:8], "little") or 64  # PERF_ATTR_SIZE_VER0
    b = bytes(raw[:min(size, len(raw))]).ljust(128, b"\0")
    ptype, _, config, _, stype, rfmt, flags = struct.unpack_from("<IIQQQQQ", b, 0)
    (branch,) = struct.unpack_from("<Q", b, 72)
    (regs_user,) = struct.unpack_from("<Q", b, 80)
    (regs_intr,) = struct.unpack_from("<Q", b, 96)
    return _Attr(type=ptype, config=config, sample_type=stype, read_format=rfmt,
                 sample_id_all=bool(flags >> 18 & 1), branch_sample_type=branch,
                 regs_user=regs_user, regs_intr=regs_intr, ids=ids)


def _u64s(blob: bytes | memoryview, at: int, count: int) -> list[int]:
    return list(struct.unpack_from(f"<{count}Q", blob, at)) if count else []


def _event_names(blob: bytes) -> list[tuple[str, list[int]]]:
    """(name, sample IDs) of each event in HEADER_EVENT_DESC; nothing if it is damaged
    (the names are only shown, never needed to read the samples)."""
    out: list[tuple[str, list[int]]] = []
    try:
        nr, attr_size = struct.unpack_from("<II", blob, 0)
        at = 8
        for _ in range(min(nr, 1 << 16)):
            at += attr_size
            (nids,) = struct.unpack_from("<I", blob, at)
            (slen,) = struct.unpack_from("<I", blob, at + 4)
            name = bytes(blob[at + 8:at + 8 + slen]).split(b"\0")[0]
            at += 8 + slen
            if nids > (len(blob) - at) // 8:
                break
            out.append((name.decode("utf-8", errors="replace"), _u64s(blob, at, nids)))
            at += 8 * nids
    except struct.error:
        pass
    return out


def _name_attrs(attrs: list[_Attr], desc: list[tuple[str, list[int]]]) -> None:
    """Give each attr its event's name: by sample ID, else by position."""
    by_id = {i: name for name, ids in desc for i in ids}
    for k, a in enumerate(attrs):
        named = [by_id[i] for i in a.ids if i in by_id]
        if named:
            a.name = named[0]
        elif len(desc) == len(attrs):
            a.name = desc[k][0]


# --- the record stream -------------------------------------------------------------------


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


# --- the header: file or pipe mode -----------------------------------------------------


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


def _header_attr(data: bytes | memoryview, pos: int, size: int) -> _Attr:
    """A HEADER_ATTR record: the attr (of its own size), then its sample IDs."""
    asize = int.from_bytes(bytes(data[pos + 12:pos + 16]), "little") or 64
    if size < 8 + min(asize, 64):
        raise BinaryFormatError(f"HEADER_ATTR record of {size} bytes for an attr of "
                                f"{asize}", pos)
    asize = min(asize, size - 8)
    nids = (size - 8 - asize) // 8
    return _parse_attr(bytes(data[pos + 8:pos + 8 + asize]),
                       _u64s(data, pos + 8 + asize, nids))


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


def _tracing_data(blob: bytes) -> _Header:
    """Event formats from HEADER_TRACING_DATA (trace.dat v6 layout, version '0.6')."""
    if not blob.startswith(TRACING_MAGIC):
        raise BinaryFormatError("HEADER_TRACING_DATA without its tracing magic", 0)
    c = _Cursor(blob, len(TRACING_MAGIC))
    c.cstr()  # version, e.g. "0.6"
    c.need(6)
    big = blob[c.pos] == 1
    c.pos += 2
    c.e = ">" if big else "<"
    hdr = _Header(version=6, big_endian=big, long_size=blob[c.pos - 1], page_size=c.u(4))
    read_v6_formats(c, hdr)
    return hdr


def read_perfdata(path: str, *, trust_cpus: bool = False,
                  ) -> tuple[Iterator[pa.Table], TraceInfo]:
    """Samples of a perf.data file, in the order ``perf script`` prints them."""
    info = TraceInfo(source_format="perf.data", source_file=str(path))

    def convert(data: bytes, info: TraceInfo) -> pa.Table:
        return _convert(data, info, trust_cpus)

    return binary_tables(path, info, convert), info


def _check_magic(data: bytes) -> None:
    if data.startswith(MAGIC):
        return
    if data.startswith((MAGIC_V1, MAGIC_V1[::-1])):
        raise BinaryFormatError("perf.data v1 is not supported (magic PERFFILE: an old "
                                "perf's format); record it again with a current perf", 0)
    if data.startswith(MAGIC[::-1]):
        raise BinaryFormatError("big-endian perf.data is not supported", 0)
    raise BinaryFormatError("not a perf.data file (bad magic)", 0)


# --- samples -----------------------------------------------------------------------------


def _gather(d: U8, at: I64, width: int) -> I64:
    """Little-endian unsigned ``width``-byte values at ``at`` (u64 keep their bits)."""
    got = cbin.gather(d, at, width, False, False) if native() and at.dtype == np.int64 else None
    if got is not None:
        return got
    kind = "<u" + str(width)
    out: I64 = d[at[:, None] + np.arange(width)].copy().view(kind).ravel().astype(np.int64)
    return out


@dataclass
class _Fields:
    """Where a group of samples' fields sit (offsets in the stream, -1: absent)."""

    tid: I64
    time: I64
    cpu: I64
    raw: I64  # the raw data's u32 size
    fits: BOOL  # the fields fit the record exactly (within it, for unknown bits)


def _layout(d: U8, at: I64, end: I64, a: _Attr) -> _Fields:
    """The fields of the samples at ``at`` (ending at ``end``) by ``a``'s sample_type,
    stepping over the variable-size ones (counts read per record, in numpy)."""
    st = a.sample_type
    n = len(at)
    over = np.zeros(n, bool)  # a count read from beyond the record

    def count(o: I64) -> I64:
        """The u64 at ``o`` (0 where it is beyond the record), clamped to MAX_COUNT."""
        inside = o + 8 <= end
        over[~inside] = True
        raw = _gather(d, np.where(inside, o, at), 8).view(np.uint64)
        out: I64 = np.where(inside, np.minimum(raw, np.uint64(MAX_COUNT)), 0).astype(np.int64)
        return out

    none = np.full(n, -1, np.int64)
    fields: dict[int, I64] = {}
    o = at + 8
    for bit in S_FIXED_HEAD:
        if st & bit:
            fields[bit] = o
            o = o + 8
    if st & S_READ:
        rf = a.read_format
        times = 8 * (bool(rf & R_TOTAL_TIME_ENABLED) + bool(rf & R_TOTAL_TIME_RUNNING))
        per = 8 * (1 + bool(rf & R_ID) + bool(rf & R_LOST))
        # group: nr, times, then nr (value, id, lost); else value, times, id, lost
        o = o + 8 + times + count(o) * per if rf & R_GROUP else o + times + per
    if st & S_CALLCHAIN:  # nr, then nr addresses
        o = o + 8 + 8 * count(o)
    raw = none
    if st & S_RAW:  # u32 size, then the data (padded: the sample stays 8-byte aligned)
        raw = o
        inside = o + 4 <= end
        over[~inside] = True
        size = _gather(d, np.where(inside, o, at), 4)
        o = o + 4 + np.where(inside, size, 0)
    if st & S_BRANCH_STACK:  # nr, [hw_idx], nr entries (from, to, flags), [nr counters]
        hw = 8 if a.branch_sample_type & BRANCH_HW_INDEX else 0
        entry = 24 + (8 if a.branch_sample_type & BRANCH_COUNTERS else 0)
        o = o + 8 + hw + count(o) * entry
    if st & S_REGS_USER:  # abi, then the registers of the mask unless abi is NONE
        o = o + 8 + np.where(count(o) != 0, 8 * a.regs_user.bit_count(), 0)
    if st & S_STACK_USER:  # size, then size bytes and a dyn_size when size is not 0
        size = count(o)
        o = o + 8 + size + np.where(size != 0, 8, 0)
    for bits in (S_WEIGHT | S_WEIGHT_STRUCT, S_DATA_SRC, S_TRANSACTION):
        if st & bits:
            o = o + 8
    if st & S_REGS_INTR:
        o = o + 8 + np.where(count(o) != 0, 8 * a.regs_intr.bit_count(), 0)
    for bit in (S_PHYS_ADDR, S_CGROUP, S_DATA_PAGE_SIZE, S_CODE_PAGE_SIZE):
        if st & bit:
            o = o + 8
    if st & S_AUX:  # size, then the data
        o = o + 8 + count(o)
    fits = ~over & ((o == end) if not st & ~S_KNOWN else (o <= end))
    return _Fields(tid=fields.get(S_TID, none), time=fields.get(S_TIME, none),
                   cpu=fields.get(S_CPU, none), raw=raw, fits=fits)


def _id_position(a: _Attr) -> int | None:
    """Where a sample's ID is (bytes after its header), as perf's evsel__calc_id_pos."""
    if a.sample_type & S_IDENTIFIER:
        return 0
    if not a.sample_type & S_ID:
        return None
    return 8 * sum(1 for b in (S_IP, S_TID, S_TIME, S_ADDR) if a.sample_type & b)


def _sample_attrs(d: U8, smp: I64, end: I64, attrs: list[_Attr]) -> I64:
    """Each sample's attr (an index in ``attrs``; -1: an ID no attr has)."""
    if len(attrs) == 1:
        return np.zeros(len(smp), np.int64)
    where = {_id_position(a) for a in attrs}
    known = {i: k for k, a in reversed(list(enumerate(attrs))) for i in a.ids}
    if len(where) == 1 and None not in where and known:
        at = smp + 8 + int(where.pop() or 0)
        inside = at + 8 <= end
        ids = _gather(d, np.where(inside, at, smp), 8).view(np.uint64)
        keys = np.array(sorted(known), np.uint64)
        vals = np.array([known[int(k)] for k in keys], np.int64)
        i = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
        out: I64 = np.where(inside & (keys[i] == ids), vals[i], -1)
        return out
    if len({a.layout for a in attrs}) == 1:  # no telling them apart, and no need to
        tps = [k for k, a in enumerate(attrs) if a.tracepoint]
        return np.full(len(smp), tps[0] if tps else 0, np.int64)
    raise BinaryFormatError("perf.data with mixed sample layouts and no sample IDs to tell "
                            "them apart", 0)


def _time_back(sample_type: int) -> int | None:
    """How far before a side-band record's end its sample_id_all trailer holds the time
    (the trailer: TID, TIME, ID, STREAM_ID, CPU, IDENTIFIER, those of the sample_type)."""
    if not sample_type & S_TIME:
        return None
    return 8 * (1 + sum(1 for b in (S_ID, S_STREAM_ID, S_CPU, S_IDENTIFIER) if sample_type & b))


def _trailer_backs(d: U8, pos: I64, size: I64, attrs: list[_Attr]) -> int | I64 | None:
    """:func:`_time_back` of side-band records: one for all when the attrs share their
    trailer; else each record's, from the IDENTIFIER that ends every trailer (0, as perf
    synthesizes, or unknown: the first attr's, as perf takes). None without trailer
    times: records are then kept in file order."""
    if not attrs or not all(a.sample_id_all for a in attrs):
        return None
    backs = [_time_back(a.sample_type) for a in attrs]
    if len(set(backs)) == 1:
        return backs[0]
    if None in backs or not all(a.sample_type & S_IDENTIFIER for a in attrs):
        return None
    known = {i: k for k, a in reversed(list(enumerate(attrs))) for i in a.ids}
    keys = np.array(sorted(known) or [0], np.uint64)
    vals = np.array([known.get(int(k), 0) for k in keys], np.int64)
    at = np.maximum(pos + size - 8, pos)
    ids = d[at[:, None] + np.arange(8)].copy().view("<u8").ravel()
    i = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
    owner = np.where(keys[i] == ids, vals[i], 0)
    out: I64 = np.array([b or 0 for b in backs], np.int64)[owner]
    return out


#: event IDs of the rows of non-tracepoint samples: OTHER_EVENT - (attr index)
OTHER_EVENT = -(1 << 40)


def _convert(data: bytes, info: TraceInfo, trust_cpus: bool = False) -> pa.Table:
    _check_magic(data)
    if len(data) < PIPE_HEADER_SIZE:
        raise BinaryFormatError("truncated perf.data header", len(data))
    (hsize,) = struct.unpack_from("<Q", data, 8)
    src = _pipe_mode(data) if hsize == PIPE_HEADER_SIZE else _file_mode(data)
    d, origin = src.d, src.origin
    try:
        pos, blobs = _walk(d)
    except BinaryFormatError as exc:  # an offset in the stream: make it the file's
        raise BinaryFormatError(str(exc), origin.one(exc.offset)) from None
    rtype, rsize = _types_sizes(d, pos)
    if hsize == PIPE_HEADER_SIZE:
        _in_stream_headers(src, pos, rtype, rsize, blobs)
    if ((rtype == REC_COMPRESSED) | (rtype == REC_COMPRESSED2)).any():
        d, origin = _decompressed(d, pos, rtype, rsize, origin)
        try:
            pos, _ = _walk(d)
        except BinaryFormatError as exc:
            raise BinaryFormatError(str(exc) + " (in decompressed records)",
                                    origin.one(exc.offset)) from None
        rtype, rsize = _types_sizes(d, pos)
    return _samples(src, d, origin, pos, rtype, rsize, info, trust_cpus)


def _types_sizes(d: U8, pos: I64) -> tuple[I64, I64]:
    got = cbin.record_headers(d, pos) if native() and pos.dtype == np.int64 else None
    if got is not None:
        return got
    hdr_words = d[pos[:, None] + np.arange(8)]
    rtype = hdr_words[:, 0:4].copy().view("<u4").ravel().astype(np.int64)
    rsize = hdr_words[:, 6:8].copy().view("<u2").ravel().astype(np.int64)
    return rtype, rsize


def _samples(src: _Source, d: U8, origin: _Origin, pos: I64, rtype: I64, rsize: I64,
             info: TraceInfo, trust_cpus: bool) -> pa.Table:
    attrs = src.attrs
    tps = [a for a in attrs if a.tracepoint]
    if not tps:
        raise BinaryFormatError("perf.data without tracepoint events (samples need "
                                "PERF_SAMPLE_RAW: record with -e kmem:mm_page_alloc ...)", 0)
    if any(not (a.sample_type & S_TID and a.sample_type & S_TIME and a.sample_type & S_CPU)
           for a in tps):
        raise BinaryFormatError("tracepoint samples need TID, TIME and CPU", 0)
    if src.tracing is None:
        raise BinaryFormatError("no HEADER_TRACING_DATA (event formats) in this perf.data", 0)
    toff, tblob = src.tracing
    try:
        hdr = _tracing_data(tblob)
    except BinaryFormatError as exc:
        raise BinaryFormatError(str(exc), toff + exc.offset) from None
    if FEAT_NRCPUS in src.features:
        noff, nblob = src.features[FEAT_NRCPUS]
        if len(nblob) < 8:
            raise BinaryFormatError("HEADER_NRCPUS runs past the end of the file", noff)
        avail, online = struct.unpack_from("<II", nblob, 0)
        info.cpus_header = int(online)
        # CPUs present (a count): no sample has a CPU number beyond (converters/sanity.py)
        info.cpu_bound = int(avail) if avail >= online else None
    if FEAT_EVENT_DESC in src.features:
        _name_attrs(attrs, _event_names(src.features[FEAT_EVENT_DESC][1]))

    # lost events (side-band records too short for their fields are damaged: passed over)
    lost = pos[(rtype == REC_LOST) & (rsize >= 24)]
    if len(lost):
        # u64 counts summed exactly (numpy's int64 sum would wrap)
        counts = d[(lost + 16)[:, None] + np.arange(8)].copy().view("<u8").ravel()
        info.add_lost(sum(int(x) for x in counts.tolist()))

    # samples: each attr's layout
    is_smp = rtype == REC_SAMPLE
    smp, end = pos[is_smp], pos[is_smp] + rsize[is_smp]
    n = len(smp)
    owner = _sample_attrs(d, smp, end, attrs)
    fast = _fields_native(d, smp, end, owner, attrs, hdr) if native() else None
    if fast is not None:  # every sample's layout and values in one compiled pass
        (tid_at, time_at, cpu_at, raw_at), fits, values, have = fast
    else:
        tid_at, time_at, cpu_at, raw_at = (np.full(n, -1, np.int64) for _ in range(4))
        fits = np.zeros(n, bool)
        # the samples of attrs laid out alike, at once
        layouts: dict[tuple[int, ...], list[int]] = {}
        for k, a in enumerate(attrs):
            layouts.setdefault(a.layout, []).append(k)
        group = np.array([g for k in range(len(attrs))
                          for g, ks in enumerate(layouts.values()) if k in ks] + [-1])[owner]
        for g, ks in enumerate(layouts.values()):
            sel = np.flatnonzero(group == g) if len(layouts) > 1 else np.flatnonzero(owner >= 0)
            if len(sel):
                f = _layout(d, smp[sel], end[sel], attrs[ks[0]])
                tid_at[sel], time_at[sel], cpu_at[sel], raw_at[sel] = f.tid, f.time, f.cpu, f.raw
                fits[sel] = f.fits
    tp = np.array([a.tracepoint for a in attrs] + [False], bool)[owner]  # (-1: the last)
    # samples of other events without the fields of a row: not events, passed over
    usable = tp | ((tid_at >= 0) & (time_at >= 0) & (cpu_at >= 0))
    usable &= owner >= 0  # (an unknown ID is a damaged sample: judged below)
    bad = ~fits | (owner < 0)
    keep = usable | (owner < 0)
    if not keep.all():
        smp, end, owner, tp, bad = smp[keep], end[keep], owner[keep], tp[keep], bad[keep]
        tid_at, time_at, cpu_at, raw_at = tid_at[keep], time_at[keep], cpu_at[keep], raw_at[keep]
        if fast is not None:
            values, have = values[:, keep], have[:, keep]

    def value(k: int, rows: I64, at: I64, width: int) -> I64:
        """Field ``k`` (tid, time, cpu, raw size) of samples ``rows``: read in the
        compiled pass, else gathered at ``at``."""
        if fast is not None and have[k, rows].all():
            out: I64 = values[k, rows]
            return out
        return _gather(d, at, width)

    buf = np.asarray(d)
    raw_size = np.zeros(len(smp), np.int64)
    ok_tp = np.flatnonzero(tp & ~bad)
    raw_size[ok_tp] = value(3, ok_tp, raw_at[ok_tp], 4)
    payload = raw_at + 4
    bad |= tp & (raw_size < MIN_PAYLOAD)
    common = common_type_field(hdr)
    if common.offset + common.size > MIN_PAYLOAD:
        raise BinaryFormatError("event formats place common_type beyond the common fields", 0)
    ev_id = OTHER_EVENT - np.maximum(owner, 0)
    dec = np.flatnonzero(tp & ~bad)
    if fast is not None and have[4, dec].all():  # (read as the same common_type field)
        ev_id[dec] = values[4, dec]
    else:
        ev_id[dec] = read_int(buf, payload[dec], common, hdr.big_endian)
    formats = parse_used(hdr, ev_id[dec])
    bad[dec] = damaged_payloads(raw_size[dec], ev_id[dec], list(hdr.format_texts), formats)
    good = np.flatnonzero(~bad)  # and a sample far out of its CPU's time order
    cpu, ts = value(2, good, cpu_at[good], 4), value(1, good, time_at[good], 8)
    behind = out_of_line(cpu, ts)
    bad[good[behind]] = True
    if behind.any():  # (the values of the samples kept)
        cpu, ts = cpu[~behind], ts[~behind]
    if bad.any():
        info.corrupt_pages = info.corrupt_events = int(bad.sum())
        info.corrupt_at = offset_location(origin.one(int(smp[bad].min())))
        keep = ~bad
        smp, payload, ev_id = smp[keep], payload[keep], ev_id[keep]
        tid_at, time_at, cpu_at = tid_at[keep], time_at[keep], cpu_at[keep]
        if not len(smp):
            raise BinaryFormatError(f"no usable samples ({info.corrupt_events:,} damaged, "
                                    f"first at {info.corrupt_at})", 0)
    tid = value(0, np.flatnonzero(~bad), tid_at + 4, 4)
    tid = tid - ((tid >> 31) << 32)  # i32
    order = np.lexsort((smp, cpu, ts))  # perf script's time order; lower CPU first on ties
    ts, cpu, tid, payload = ts[order], cpu[order], tid[order], payload[order]
    smp_sorted, ev_id = smp[order], ev_id[order]
    # pid and comm as perf script shows them: the sample's tid, its comm from COMM records
    # side-band records carry a sample_id trailer (sample_id_all): order them by its time,
    # as perf does; without it, by file position
    is_comm, is_fork = (rtype == REC_COMM) & (rsize >= 24), (rtype == REC_FORK) & (rsize >= 32)
    back = _trailer_backs(d, pos, rsize, attrs)
    if back is not None:  # (records too short for their trailer: passed over)
        is_comm &= rsize >= 16 + back
        is_fork &= rsize >= 32 + back
    comms = _comm_records(d, pos[is_comm], rsize[is_comm], _pick(back, is_comm))
    comms = _with_forks(d, pos[is_fork], rsize[is_fork], comms, _pick(back, is_fork))
    comm = _sample_comms(tid, ts if back is not None else smp_sorted, comms)
    names = {OTHER_EVENT - k: a.display_name for k, a in enumerate(attrs)}
    table, wide = decode(buf, payload, ev_id, ts, cpu, formats, {}, hdr.big_endian,
                         names=names, pid=tid, comm=comm)
    return checked(table, origin(smp_sorted), info, trust_cpus=trust_cpus,
                   locate=offset_location, malformed=wide)


def _fields_native(d: U8, smp: I64, end: I64, owner: I64, attrs: list[_Attr],
                   hdr: _Header) -> tuple[I64, BOOL, I64, npt.NDArray[np.uint8]] | None:
    """:func:`_layout` of every sample by its attr, and its tid, time, cpu, raw size and
    common_type, in one compiled pass (:func:`_cbin.sample_fields`). None
    when that cannot be (the numpy path then runs)."""
    try:
        common = common_type_field(hdr)
    except BinaryFormatError:
        return None
    if not len(attrs) or common.size not in (1, 2, 4, 8) or not 0 <= common.offset < 1 << 20:
        return None
    table = np.array([[a.sample_type, a.read_format, a.branch_sample_type,
                       a.regs_user.bit_count(), a.regs_intr.bit_count()] for a in attrs],
                     np.uint64).view(np.int64)
    got = cbin.sample_fields(d, np.ascontiguousarray(smp), np.ascontiguousarray(end),
                             np.ascontiguousarray(owner), table, MAX_COUNT, common.offset,
                             common.size, common.signed, hdr.big_endian)
    if got is None:
        return None
    at, fits, values, have = got
    return at, fits.view(bool), values, have


def _pick(back: int | I64 | None, rows: BOOL) -> int | I64 | None:
    return back[rows] if isinstance(back, np.ndarray) else back


def _key(d: U8, pos: I64, size: I64, back: int | I64 | None) -> I64:
    """Ordering key of side-band records: trailer time, else file position."""
    if back is None:
        return pos.astype(np.int64)
    at = pos + size - back
    out: I64 = d[at[:, None] + np.arange(8)].copy().view("<u8").ravel().astype(np.int64)
    return out


def _comm_records(d: U8, pos: I64, size: I64, back: int | I64 | None) -> pl.DataFrame:
    """(tid, time or file position, comm) of every PERF_RECORD_COMM."""
    if not len(pos):
        return pl.DataFrame(schema={"pid": pl.Int32, "_pos": pl.Int64, "_file": pl.Int64,
                                    "comm": pl.String})
    tid = d[(pos + 12)[:, None] + np.arange(4)].copy().view("<i4").ravel()
    width = int((size - 16).max())
    idx = np.minimum((pos + 16)[:, None] + np.arange(width), len(d) - 1)
    raw = d[idx].copy()
    # the name ends at its first NUL (a sample_id trailer may follow the padding)
    col = np.arange(width)[None, :]
    nul = np.where((raw == 0).any(axis=1), (raw == 0).argmax(axis=1), width)
    raw[(col >= nul[:, None]) | (col >= (size - 16)[:, None])] = 0
    names = np.char.decode(raw.view(f"S{width}").ravel(), "utf-8", errors="replace")
    return pl.DataFrame({"pid": tid.astype(np.int32), "_pos": _key(d, pos, size, back),
                         "_file": pos.astype(np.int64),
                         "comm": names}).sort("_pos", "_file")


def _with_forks(d: U8, pos: I64, size: I64, comms: pl.DataFrame,
                back: int | I64 | None) -> pl.DataFrame:
    """Add a comm event per PERF_RECORD_FORK: the child takes its parent's comm then."""
    if not len(pos):
        return comms
    words = d[(pos + 8)[:, None] + np.arange(16)].copy().view("<i4")
    forks = pl.DataFrame({"pid": words[:, 2].astype(np.int32),  # child tid
                          "ptid": words[:, 3].astype(np.int32),
                          "_pos": _key(d, pos, size, back),
                          "_file": pos.astype(np.int64)}).sort("_pos", "_file")
    known = comms
    for _ in range(64):  # fork chains: a child forking before it execs
        resolved = forks.join_asof(known.rename({"pid": "ptid"}).drop("_file"), on="_pos",
                                   by="ptid", strategy="backward", check_sortedness=False)
        new = resolved.filter(pl.col("comm").is_not_null()).select("pid", "_pos", "_file",
                                                                    "comm")
        # ties in time keep file order: the asof join takes the last of equal keys
        merged = pl.concat([comms, new]).sort("_pos", "_file")
        if merged.height == known.height:
            break
        known = merged
    return known


def _sample_comms(pid: I64, key: I64, comms: pl.DataFrame) -> pa.Array:
    """The comm of each sample (thread ``pid``, ordering key ``key``), as
    :func:`_attach_comm` gives it: compiled, a binary search per sample among its
    thread's COMM records (few) instead of sorting the samples for a join."""
    if not native() or pid.dtype != np.int64 or key.dtype != np.int64:
        df = pl.DataFrame({"pid": pid.astype(np.int32), "_pos": key})
        out: pa.Array = _attach_comm(df, comms)["comm"].to_arrow().cast(pa.string())
        return out
    cpid = comms["pid"].to_numpy().astype(np.int64)
    by = np.argsort(cpid, kind="stable")  # by thread; each one's records stay in order
    groups, starts = np.unique(cpid[by], return_index=True)
    ckey = comms["_pos"].to_numpy().astype(np.int64)[by]
    found = cbin.asof_backward(pid, key, groups, np.append(starts, len(by)).astype(np.int64),
                               np.ascontiguousarray(ckey))
    m = len(by)
    index = np.where(found >= 0, by[np.maximum(found, 0)], -1)
    index[pid == -1] = m
    index[pid == 0] = m + 1
    missing = index < 0
    unnamed, code = dense_codes(pid[missing])
    index[missing] = m + 2 + code
    labels = pa.concat_arrays([
        comms["comm"].to_arrow().cast(pa.string()),
        pa.array([":-1", "swapper", *(f":{int(p)}" for p in unnamed)], pa.string())])
    return take_strings(labels, index)


def _attach_comm(df: pl.DataFrame, comms: pl.DataFrame) -> pl.DataFrame:
    """Each sample's comm: its thread's latest COMM record before it in the file."""
    base = df.drop("comm") if "comm" in df.columns else df
    keyed = base.with_row_index("_row").sort("_pos")
    joined = keyed.join_asof(comms.drop("_file"), on="_pos", by="pid", strategy="backward",
                             check_sortedness=False)  # both sides are sorted by _pos
    joined = joined.with_columns(
        pl.when(pl.col("pid") == -1).then(pl.lit(":-1"))
        .when(pl.col("pid") == 0).then(pl.lit("swapper"))
        .otherwise(pl.col("comm").fill_null(pl.lit(":") + pl.col("pid").cast(pl.String)))
        .alias("comm"))
    return joined.sort("_row").drop("_row")
