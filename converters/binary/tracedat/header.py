"""trace.dat's headers (v6 and v7): options, sections, the event formats, cmdlines
and the buffers' CPU data."""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import zstandard

from ..binfile import BinaryFormatError
from ..eventformat import EventFormat, Field, parse_format
from ..magic import TRACEDAT_MAGIC as MAGIC
from ..rawevents import (
    distinct,
)

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
