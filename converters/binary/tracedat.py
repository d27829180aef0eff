"""trace-cmd ``trace.dat`` (file versions 6 and 7), read directly.

Layout (trace-cmd's trace-cmd.dat.v6/v7 documents): magic, version, endianness,
long size, page size; v7 then has a compression header and *sections*
(u16 id, u16 flags, u32 string id, u64 size; flag 1 = compressed) located
through chains of OPTIONS sections; v6 has the same pieces in a fixed order.
Ring-buffer pages are decoded by :mod:`converters.ringbuffer`, payloads by
:mod:`converters.rawevents`.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import zstandard

from xpfotrace.core.errors import InputError
from xpfotrace.core.traceinfo import TraceInfo

from ..sanity import checked, offset_location
from ..text.base import PAGE_ALLOCATION_EVENTS, no_page_events
from .binfile import BinaryFormatError, binary_tables, native
from .eventformat import EventFormat, Field, parse_format
from .rawevents import (
    damaged_payloads,
    decode,
    dense_codes,
    distinct,
    read_int,
    read_str,
    take_strings,
)
from .ringbuffer import MIN_PAYLOAD, decode_pages

MAGIC = b"\x17\x08Dtracing"
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
OPT_DONE, OPT_BUFFER, OPT_CPUCOUNT = 0, 3, 8
OPT_HEADER_INFO, OPT_FTRACE_EVENTS, OPT_EVENT_FORMATS, OPT_CMDLINES = 16, 17, 18, 21
OPT_TRACECLOCK = 4


#: What the metadata and the ``buffer`` choice call the top-level buffer (trace-cmd's
#: instance ""); ``""`` names it too.
TOP = "top"


@dataclass
class _Buffer:
    """One trace instance's ring-buffer data: per CPU (cpu, offset, size)."""

    name: str  # "" for the top level
    clock: str = ""
    cpu_data: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name or TOP


@dataclass
class _Header:
    version: int
    big_endian: bool
    long_size: int
    page_size: int
    compression: str = "none"
    commit_size: int = 8
    format_texts: dict[int, tuple[str, bytes]] = field(default_factory=dict)
    comms: dict[int, str] = field(default_factory=dict)
    cpus: int | None = None
    clock: str = ""
    #: every buffer (trace instance) in file order; the top level's first when present
    buffers: list[_Buffer] = field(default_factory=list)

    @property
    def cpu_data(self) -> list[tuple[int, int, int]]:
        """(cpu, offset, size) of the top-level buffer's data (else the first buffer's)."""
        top = [b for b in self.buffers if not b.name] or self.buffers
        return top[0].cpu_data if top else []


class _Cursor:
    def __init__(self, data: bytes | memoryview, pos: int = 0, big: bool = False) -> None:
        self.data = data
        self.pos = pos
        self.e = ">" if big else "<"

    def need(self, n: int) -> None:
        if self.pos + n > len(self.data):
            raise BinaryFormatError(f"unexpected end of data (needed {n} bytes)", self.pos)

    def u(self, size: int) -> int:
        self.need(size)
        fmt = {2: "H", 4: "I", 8: "Q"}[size]
        (v,) = struct.unpack_from(self.e + fmt, self.data, self.pos)
        self.pos += size
        return int(v)

    def cstr(self) -> str:
        data = bytes(self.data[self.pos:self.pos + 4096]) if isinstance(
            self.data, memoryview) else self.data[self.pos:self.pos + 4096]
        end = data.find(b"\0")
        if end < 0:
            raise BinaryFormatError("unterminated string", self.pos)
        s = data[:end].decode("utf-8", errors="replace")
        self.pos += end + 1
        return s

    def take(self, n: int) -> bytes:
        self.need(n)
        out = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return out


def _decompress(method: str, data: bytes, size: int, where: int,
                zstd: zstandard.ZstdDecompressor | None = None) -> bytes:
    try:
        if method == "zstd":
            return (zstd or zstandard.ZstdDecompressor()).decompress(data, max_output_size=size)
        if method == "zlib":
            return zlib.decompress(data)
    except (zstandard.ZstdError, zlib.error) as exc:
        raise BinaryFormatError(f"corrupt {method} data ({exc})", where) from None
    raise BinaryFormatError(f"unsupported compression {method!r}", where)


def _section(data: bytes, off: int, hdr: _Header) -> bytes:
    """The (decompressed) body of the v7 section at ``off``."""
    c = _Cursor(data, off, hdr.big_endian)
    c.u(2)  # id
    flags = c.u(2)
    c.u(4)  # description string id
    size = c.u(8)
    if off + 16 + size > len(data):
        raise BinaryFormatError(f"section size {size} runs past the end of the file", off)
    if flags & 1:
        csize, usize = c.u(4), c.u(4)
        return _decompress(hdr.compression, c.take(csize), usize, c.pos)
    return c.take(size)


def _header_page(text: bytes, hdr: _Header) -> None:
    m = re.search(rb"field:\s*local_t\s+commit;\s*offset:\d+;\s*size:(\d+);", text)
    if m:
        hdr.commit_size = int(m.group(1))


_ID = re.compile(rb"^ID:\s*(\d+)", re.M)


def _event_formats(c: _Cursor, hdr: _Header, with_systems: bool) -> None:
    """Index the format texts by event ID; they are parsed only for IDs that occur."""
    systems = c.u(4) if with_systems else 1
    for _ in range(systems):
        system = c.cstr() if with_systems else "ftrace"
        for _ in range(c.u(4)):
            text = c.take(c.u(8))
            m = _ID.search(text)
            if m:
                hdr.format_texts[int(m.group(1))] = (system, text)


def parse_used(hdr: _Header, ids: np.ndarray) -> dict[int, EventFormat]:
    """EventFormats of the IDs present (and of one format, for the common fields)."""
    out: dict[int, EventFormat] = {}
    for eid in [int(i) for i in distinct(ids)] + list(hdr.format_texts)[:1]:
        if eid in out or eid not in hdr.format_texts:
            continue
        system, text = hdr.format_texts[eid]
        try:
            out[eid] = parse_format(text.decode("utf-8", errors="replace"), system)
        except ValueError:
            continue
    return out


def _cmdlines(text: bytes, hdr: _Header) -> None:
    for line in text.decode("utf-8", errors="replace").splitlines():
        pid, _, comm = line.strip().partition(" ")
        if pid.lstrip("-").isdigit():
            hdr.comms[int(pid)] = comm


def _read_v7(data: bytes, c: _Cursor, hdr: _Header) -> None:
    hdr.compression = c.cstr()
    c.cstr()  # compression version
    opt_off = c.u(8)
    seen = set()
    while opt_off and opt_off not in seen:
        seen.add(opt_off)
        body = _section(data, opt_off, hdr)
        oc = _Cursor(body, 0, hdr.big_endian)
        opt_off = 0
        while oc.pos < len(body):
            oid, osize = oc.u(2), oc.u(4)
            payload = _Cursor(oc.take(osize), 0, hdr.big_endian)
            if oid == OPT_DONE:
                opt_off = payload.u(8) if osize >= 8 else 0
                break
            if oid == OPT_BUFFER:
                payload.u(8)  # flyrecord section offset
                buffer = _Buffer(name=payload.cstr())
                buffer.clock = payload.cstr()
                if not buffer.name:
                    hdr.clock = buffer.clock or hdr.clock
                # trace-cmd 3.x writes the sub-buffer size (u32) here too; the v7 document
                # does not: the entries are 20 bytes each, so only one layout fits
                rest = osize - payload.pos
                if (rest - 4) % 20 != 0 and (rest - 8) % 20 == 0:
                    payload.u(4)
                for _ in range(payload.u(4)):
                    cpu, off, size = payload.u(4), payload.u(8), payload.u(8)
                    buffer.cpu_data.append((cpu, off, size))
                hdr.buffers.append(buffer)
            elif oid == OPT_CPUCOUNT:
                hdr.cpus = payload.u(4)
            elif oid == OPT_HEADER_INFO:
                sec = _section(data, payload.u(8), hdr)
                _header_page(sec, hdr)
            elif oid in (OPT_FTRACE_EVENTS, OPT_EVENT_FORMATS):
                sec = _section(data, payload.u(8), hdr)
                _event_formats(_Cursor(sec, 0, hdr.big_endian), hdr, oid == OPT_EVENT_FORMATS)
            elif oid == OPT_CMDLINES:
                cl = _Cursor(_section(data, payload.u(8), hdr), 0, hdr.big_endian)
                _cmdlines(cl.take(cl.u(8)), hdr)


def read_v6_formats(c: _Cursor, hdr: _Header) -> None:
    """header_page, header_event and the event formats, in v6 order (also perf.data's)."""
    if c.take(12) != b"header_page\0":
        raise BinaryFormatError("missing header_page", c.pos - 12)
    _header_page(c.take(c.u(8)), hdr)
    if c.take(13) != b"header_event\0":
        raise BinaryFormatError("missing header_event", c.pos - 13)
    c.take(c.u(8))
    _event_formats(c, hdr, with_systems=False)
    _event_formats(c, hdr, with_systems=True)


def _read_v6(data: bytes, c: _Cursor, hdr: _Header) -> None:
    read_v6_formats(c, hdr)
    c.take(c.u(4))  # kallsyms
    c.take(c.u(4))  # printk formats
    _cmdlines(c.take(c.u(8)), hdr)
    hdr.cpus = c.u(4)
    instances: list[tuple[str, int]] = []  # BUFFER options: (name, offset of its flyrecord)
    while True:
        tag = c.take(10)
        if tag == b"options  \0":
            while True:
                oid = c.u(2)
                if oid == OPT_DONE:
                    break
                payload = _Cursor(c.take(c.u(4)), 0, hdr.big_endian)
                if oid == OPT_BUFFER:
                    off = payload.u(8)
                    instances.append((payload.cstr(), off))
            continue
        if tag == b"latency  \0":
            raise BinaryFormatError("latency-tracer files hold no flyrecord data", c.pos - 10)
        if tag != b"flyrecord\0":
            raise BinaryFormatError("expected 'options', 'latency' or 'flyrecord'", c.pos - 10)
        hdr.buffers.append(_Buffer("", cpu_data=[(cpu, c.u(8), c.u(8))
                                                 for cpu in range(hdr.cpus)]))
        break
    # each instance's data: its own "flyrecord" header, the same per-CPU entries
    for name, off in instances:
        ic = _Cursor(data, off, hdr.big_endian)
        if ic.take(10) != b"flyrecord\0":
            raise BinaryFormatError(f"buffer {name!r}: no flyrecord data at its offset", off)
        hdr.buffers.append(_Buffer(name, cpu_data=[(cpu, ic.u(8), ic.u(8))
                                                   for cpu in range(hdr.cpus)]))


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


#: Chunks decompressed at once (on every CPU) when there are this many at least, and
#: they claim at most this many times their compressed size (else, and when that fails,
#: one by one: a damaged chunk gets its own error, at its offset)
PARALLEL_CHUNKS, PARALLEL_RATIO = 8, 64


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


def common_type_field(hdr: _Header) -> Field:
    """The ``common_type`` field (the same in every format of a kernel)."""
    for system, text in hdr.format_texts.values():
        try:
            f = parse_format(text.decode("utf-8", errors="replace"), system).fields
        except ValueError:
            continue
        if "common_type" in f:
            return f["common_type"]
    raise BinaryFormatError("event formats lack common_type", 0)


def read_header(data: bytes) -> _Header:
    if not data.startswith(MAGIC):
        raise BinaryFormatError("not a trace.dat file (bad magic)", 0)
    c = _Cursor(data, len(MAGIC))
    version = c.cstr()
    if version not in ("6", "7"):
        raise BinaryFormatError(f"unsupported trace.dat version {version!r}", len(MAGIC))
    c.need(6)
    big = data[c.pos] == 1
    long_size = data[c.pos + 1]
    c.pos += 2
    c.e = ">" if big else "<"
    hdr = _Header(version=int(version), big_endian=big, long_size=long_size,
                  page_size=c.u(4))
    if hdr.page_size <= 0 or hdr.page_size & (hdr.page_size - 1):
        raise BinaryFormatError(f"bad page size {hdr.page_size}", c.pos - 4)
    (_read_v7 if hdr.version == 7 else _read_v6)(data, c, hdr)
    return hdr


def read_tracedat(path: str, *, trust_cpus: bool = False, buffer: str | None = None,
                  ) -> tuple[Iterator[pa.Table], TraceInfo]:
    """Events of a trace.dat file, in the order trace-cmd report prints them.

    A file of several buffers (``trace-cmd record/extract -B NAME``, ``extract -a``) gives
    the events of one: ``buffer`` (an instance's name; ``"top"`` or ``""`` the top level),
    else the only one with events, else the only one with page-allocation events.
    """
    info = TraceInfo(source_format="trace.dat", source_file=str(path))

    def convert(data: bytes, info: TraceInfo) -> pa.Table:
        return _convert(data, info, trust_cpus, buffer)

    return binary_tables(path, info, convert), info


@dataclass
class _Records:
    """One buffer's event records, in the order trace-cmd report prints them (time,
    then lower CPU), with what its pages said about lost and corrupt data."""

    buffer: _Buffer
    buf: U8  # its CPUs' ring-buffer pages, one after the other
    ts: I64
    off: I64  # payload offsets in buf
    length: I64
    cpu: I64
    at: I64  # file offsets (of the compressed chunk, when compressed)
    ev_id: I64
    lost: int = 0
    lost_unknown: int = 0
    corrupt_pages: int = 0
    corrupt_events: int = 0
    bad_at: list[int] = field(default_factory=list)

    def keep(self, mask: npt.NDArray[np.bool_] | I64) -> None:
        self.ts, self.off, self.length = self.ts[mask], self.off[mask], self.length[mask]
        self.cpu, self.at, self.ev_id = self.cpu[mask], self.at[mask], self.ev_id[mask]


def _read_buffer(data: bytes, hdr: _Header, buffer: _Buffer, compressed: bool,
                 common: Field) -> _Records:
    """A buffer's records in buffer order (by CPU, then position): not yet checked
    against their formats, not yet in time order."""
    bufs, bases, ts_l, off_l, len_l, cpu_l, at_l = [], 0, [], [], [], [], []
    out = _Records(buffer, np.zeros(0, np.uint8), *(np.zeros(0, np.int64),) * 6)
    for cpu_id, data_off, size in sorted(buffer.cpu_data):  # by CPU: the merge needs it
        raw, starts, sources = _cpu_pages(data, hdr, data_off, size)
        arr = np.frombuffer(raw, dtype=np.uint8)
        arr = arr[:len(arr) - len(arr) % hdr.page_size]
        rec = decode_pages(arr, hdr.page_size, hdr.commit_size)
        out.lost += int(rec.lost)
        out.lost_unknown += rec.lost_unknown
        if len(rec.bad_pages):
            out.corrupt_pages += len(rec.bad_pages)
            out.corrupt_events += int(rec.bad_events.sum())
            out.bad_at.append(int(_file_offsets(rec.bad_pages[:1], starts, sources,
                                                compressed)[0]))
        bufs.append(arr)
        ts_l.append(rec.ts)
        off_l.append(rec.offset + bases)
        len_l.append(rec.length)
        at_l.append(_file_offsets(rec.offset, starts, sources, compressed))
        cpu_l.append(np.full(len(rec.ts), cpu_id, np.int64))
        bases += len(arr)
    if bufs:
        out.buf = np.concatenate(bufs)
        out.ts, out.off, out.length = (np.concatenate(ts_l), np.concatenate(off_l),
                                       np.concatenate(len_l))
        out.cpu, out.at = np.concatenate(cpu_l), np.concatenate(at_l)
        out.ev_id = read_int(out.buf, out.off, common, hdr.big_endian)
    return out


def _drop_damaged(rec: _Records, hdr: _Header, formats: dict[int, EventFormat],
                  compressed: bool) -> None:
    """Drop the pages of records that are not what they say (then in time order)."""
    damaged = damaged_payloads(rec.length, rec.ev_id, list(hdr.format_texts), formats)
    if damaged.any():  # a record that is not what it says: its page is corrupt
        page = rec.off // hdr.page_size  # (each CPU's pages start on a page boundary of buf)
        pages = np.unique(page[damaged])
        gone = np.isin(page, pages)
        rec.corrupt_pages += len(pages)
        rec.corrupt_events += int(gone.sum())
        page_at = rec.at[gone] if compressed else rec.at[gone] - rec.off[gone] % hdr.page_size
        rec.bad_at.append(int(page_at.min()))
        rec.keep(~gone)
    # time order, lower CPU (then buffer position) first on ties: the blocks are
    # concatenated by CPU, so a stable sort on ts alone keeps that tie order, and with
    # blocks already in time order it is a merge of sorted runs
    rec.keep(np.argsort(rec.ts, kind="stable"))


def _describe(parts: list[_Records]) -> str:
    return ", ".join(f"{r.buffer.label} ({len(r.ts):,} events)" for r in parts)


def _page_events(rec: _Records, formats: dict[int, EventFormat]) -> int:
    ids = [i for i, f in formats.items() if f.name in PAGE_ALLOCATION_EVENTS]
    return int(np.isin(rec.ev_id, np.array(ids, np.int64)).sum()) if ids else 0


def _choose(parts: list[_Records], buffer: str | None, formats: dict[int, EventFormat],
            info: TraceInfo) -> _Records:
    """The buffer to read: ``buffer`` by name, else the only one with events, else the
    only one with page-allocation events, else the one with the most of them (noted in
    ``info.extra["buffer_choice"]``: a warning)."""
    path = info.source_file
    if buffer is not None:
        named = [r for r in parts if r.buffer.name == buffer]
        if not named and buffer == TOP:
            named = [r for r in parts if not r.buffer.name]
        if not named:
            raise InputError(path, f"no trace buffer {buffer!r} in the file (it holds "
                             f"{_describe(parts) or 'none'})")
        return named[0]
    full = [r for r in parts if len(r.ts)]
    if len(full) <= 1:
        return (full or parts)[0]
    paged = [(n, r) for r in full if (n := _page_events(r, formats))]
    if not paged:
        raise no_page_events(path, sum(len(r.ts) for r in full),
                             f" in any of its trace buffers ({_describe(full)})")
    if len(paged) > 1:
        info.extra["buffer_choice"] = ", ".join(
            f"{r.buffer.label} ({n:,} page-allocation events)" for n, r in paged)
    return max(paged, key=lambda nr: nr[0])[1]  # the first of the largest


def _convert(data: bytes, info: TraceInfo, trust_cpus: bool = False,
             buffer: str | None = None) -> pa.Table:
    hdr = read_header(data)
    if not hdr.format_texts:
        raise BinaryFormatError("no event formats in the file", 0)
    if not any(b.cpu_data for b in hdr.buffers):
        raise BinaryFormatError("no events in the ring-buffer data", 0)
    compressed = not (hdr.compression in ("none", "") or hdr.version < 7)
    locate = _locate(compressed)
    common = common_type_field(hdr)
    if common.offset + common.size > MIN_PAYLOAD:
        raise BinaryFormatError("event formats place common_type beyond the common fields", 0)
    parts = [_read_buffer(data, hdr, b, compressed, common) for b in hdr.buffers]
    ids = [r.ev_id for r in parts]
    formats = parse_used(hdr, np.concatenate(ids) if ids else np.zeros(0, np.int64))
    for rec in parts:
        _drop_damaged(rec, hdr, formats, compressed)
    if len(parts) > 1 or hdr.buffers[0].name:
        info.extra["buffers"] = json.dumps({r.buffer.label: len(r.ts) for r in parts})
    rec = _choose(parts, buffer, formats, info)
    if len(parts) > 1 or rec.buffer.name:
        info.extra["buffer"] = rec.buffer.label
    info.add_lost(rec.lost)
    info.missed_pages_uncounted += rec.lost_unknown
    info.corrupt_pages += rec.corrupt_pages
    info.corrupt_events += rec.corrupt_events
    if rec.bad_at:
        info.corrupt_at = locate(min(rec.bad_at))
    which = f" of buffer {rec.buffer.label!r}" if len(parts) > 1 else ""
    if not len(rec.ts):
        raise BinaryFormatError(f"no events in the ring-buffer data{which}"
                                + (f" ({info.corrupt_pages:,} corrupt page(s), first at "
                                   f"{info.corrupt_at})" if info.corrupt_pages else ""), 0)
    if not _page_events(rec, formats):
        raise no_page_events(info.source_file, len(rec.ts), which)
    table, wide = decode(rec.buf, rec.off, rec.ev_id, rec.ts, rec.cpu, formats, hdr.comms,
                         hdr.big_endian, comm=pa.nulls(len(rec.ts), pa.string()))
    table = table.set_column(table.schema.get_field_index("comm"), "comm",
                             _comms(parts, rec, table.column("pid").to_numpy().astype(np.int64),
                                    formats, hdr))
    info.cpus_header = info.cpu_bound = hdr.cpus  # one buffer per CPU, numbered below it
    table = checked(table, rec.at, info, trust_cpus=trust_cpus, locate=locate, malformed=wide)
    clock = rec.buffer.clock or hdr.clock
    if clock:
        info.extra["trace_clock"] = clock
    return table


#: Events whose handlers in trace-cmd's sched_switch plugin register a task's comm
#: (``tep_register_comm``) as they are printed: (event, [(pid field, comm field)]).
_REGISTERING = {"sched_switch": [("prev_pid", "prev_comm"), ("next_pid", "next_comm")],
                "sched_wakeup": [("pid", "comm")], "sched_wakeup_new": [("pid", "comm")]}


def _comms(parts: list[_Records], chosen: _Records, row_pid: I64,
           formats: dict[int, EventFormat], hdr: _Header) -> pa.Array:
    """The ``comm`` of each event of ``chosen``, as trace-cmd report prints it.

    The saved cmdlines name most pids; pid 0 is ``<idle>``. A pid the cmdlines lack is
    named when trace-cmd prints a sched_switch (prev_comm/next_comm) or sched_wakeup
    naming it, in any buffer (the buffers share one name table and are printed
    merged in time order): events printed after that one carry the name, those before
    ``<...>``. An event's own head is printed before its fields are, so a sched_switch
    whose prev is its own task does not name itself.
    """
    # each event's rank in the merged print order (ties: the earlier buffer)
    ts_all = np.concatenate([r.ts for r in parts])
    order = np.argsort(ts_all, kind="stable")
    rank = np.empty(len(ts_all), np.int64)
    rank[order] = np.arange(len(ts_all))
    base = np.cumsum([0] + [len(r.ts) for r in parts])
    # registrations: key = 2 * rank + (0 prev / 1 next), pid, comm
    keys, pids, names = [], [], []
    for k, r in enumerate(parts):
        for eid in distinct(r.ev_id):
            fmt = formats.get(int(eid))
            if fmt is None or fmt.system != "sched" or fmt.name not in _REGISTERING:
                continue
            rows = np.flatnonzero(r.ev_id == eid)
            for sub, (pid_f, comm_f) in enumerate(_REGISTERING[fmt.name]):
                if pid_f not in fmt.fields or comm_f not in fmt.fields:
                    continue
                keys.append(2 * rank[base[k] + rows] + sub)
                pids.append(read_int(r.buf, r.off[rows], fmt.fields[pid_f], hdr.big_endian))
                names.append(read_str(r.buf, r.off[rows], fmt.fields[comm_f]))
    own = parts.index(chosen)
    uniq, code = dense_codes(row_pid)
    known = np.array([int(p) == 0 or int(p) in hdr.comms for p in uniq], bool)
    label = ["<idle>" if int(p) == 0 else hdr.comms.get(int(p), "<...>") for p in uniq]
    reg_key = np.full(len(uniq), np.iinfo(np.int64).max, np.int64)
    if keys:
        key, rpid = np.concatenate(keys), np.concatenate(pids)
        comm = np.concatenate(names)
        first = np.argsort(key, kind="stable")
        key, rpid, comm = key[first], rpid[first], comm[first]
        # the first registration of each pid (later ones find the name taken)
        p_u, at = np.unique(rpid, return_index=True)
        where = np.searchsorted(p_u, uniq)
        hit = (where < len(p_u)) & (p_u[np.minimum(where, len(p_u) - 1)] == uniq) & ~known
        for i in np.flatnonzero(hit):  # per distinct pid, not per event
            j = at[where[i]]
            label[i] = str(comm[j]).split("\0", 1)[0]
            reg_key[i] = key[j]
    row_key = 2 * rank[base[own]:base[own + 1]]
    unnamed = ~known[code] & (reg_key[code] >= row_key)
    idx = np.where(unnamed, len(uniq), code)
    return take_strings(pa.array([*label, "<...>"], pa.string()), idx)


def _locate(compressed: bool) -> Callable[[int], str]:
    if compressed:
        return lambda where: f"offset {where} (the compressed chunk that holds it)"
    return offset_location
