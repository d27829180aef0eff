"""perf.data's file and attribute headers: magics, record and sample-type constants,
event attributes and their names, the tracing data's event formats."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..binfile import BinaryFormatError
from ..magic import PERF_MAGIC as MAGIC
from ..magic import PERF_MAGIC_V1 as MAGIC_V1
from ..magic import TRACEDAT_MAGIC as TRACING_MAGIC
from ..tracedat.header import (
    _Cursor,
    _Header,
    read_v6_formats,
)

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


def _check_magic(data: bytes) -> None:
    if data.startswith(MAGIC):
        return
    if data.startswith((MAGIC_V1, MAGIC_V1[::-1])):
        raise BinaryFormatError("perf.data v1 is not supported (magic PERFFILE: an old "
                                "perf's format); record it again with a current perf", 0)
    if data.startswith(MAGIC[::-1]):
        raise BinaryFormatError("big-endian perf.data is not supported", 0)
    raise BinaryFormatError("not a perf.data file (bad magic)", 0)
