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
become rows of that event's name, without fields."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pyarrow as pa

from xpfotrace.core.traceinfo import TraceInfo

from ..binfile import BinaryFormatError, binary_tables
from .header import PIPE_HEADER_SIZE, REC_COMPRESSED, REC_COMPRESSED2, _check_magic
from .records import _decompressed, _file_mode, _in_stream_headers, _pipe_mode, _types_sizes, _walk
from .samples import _samples


def read_perfdata(path: str, *, trust_cpus: bool = False,
                  ) -> tuple[Iterator[pa.Table], TraceInfo]:
    """Samples of a perf.data file, in the order ``perf script`` prints them."""
    info = TraceInfo(source_format="perf.data", source_file=str(path))

    def convert(data: bytes, info: TraceInfo) -> pa.Table:
        return _convert(data, info, trust_cpus)

    return binary_tables(path, info, convert), info


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
