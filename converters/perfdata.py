"""``perf.data`` (PERFILE2) of tracepoint samples, read directly.

Header: magic, header size, attr size, the attrs / data / event-types sections
({u64 offset, u64 size}) and a 256-bit feature bitmap; after the data section,
one {offset, size} per set feature bit. HEADER_TRACING_DATA holds the event
format texts in trace.dat v6 layout; HEADER_NRCPUS the CPU count.

Records are one sequential stream (u32 type, u16 misc, u16 size). They are
located without a loop per record by *pointer jumping*: every 8-byte position
points to ``position + size``; squaring that jump table log2(R) times collects
every position reachable from the first record.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from xpfotrace.traceinfo import TraceInfo

from .binfile import BinaryFormatError, binary_tables
from .rawevents import damaged_payloads, decode, read_int
from .ringbuffer import MIN_PAYLOAD
from .sanity import checked, offset_location, out_of_line
from .tracedat import MAGIC as TRACING_MAGIC
from .tracedat import (
    _Cursor,
    _Header,
    common_type_field,
    parse_used,
    read_v6_formats,
)

MAGIC = b"PERFILE2"
HEADER_SIZE = 104
FEAT_TRACING_DATA, FEAT_NRCPUS = 1, 7
REC_LOST, REC_COMM, REC_FORK, REC_SAMPLE, REC_COMPRESSED = 2, 3, 7, 9, 81
PERF_TYPE_TRACEPOINT = 2

# sample_type bits, in the order their values appear in a PERF_RECORD_SAMPLE
S_IDENTIFIER, S_IP, S_TID, S_TIME, S_ADDR = 1 << 16, 1 << 0, 1 << 1, 1 << 2, 1 << 3
S_READ, S_CALLCHAIN, S_ID, S_CPU, S_PERIOD = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
S_STREAM_ID, S_RAW = 1 << 9, 1 << 10

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]


#: Record types are small (kernel ones below 32, perf's own from 64 up to about 82).
MAX_RECORD_TYPE = 127


def _record_positions(d: U8) -> I64:
    """Offsets of the records in the data section ``d``, by pointer jumping.

    Records are 8-byte aligned, so every 8-byte word whose header could be a record
    (a small nonzero type, a size that is a nonzero multiple of 8) is a *candidate*
    that points to the candidate ``size`` bytes further on. The records are the
    candidates reached from word 0, found by doubling the jump length (the reached
    set as a mask). Only candidates take part: on real files they are a sixth of the
    words, and a chain that lands on a non-candidate ends there as corrupt.
    """
    n = len(d) // 8
    if n == 0:
        return np.zeros(0, np.int64)
    # header words, little-endian: u32 type at byte 0, u16 size at byte 6 (strided views:
    # no copy, and narrow temporaries)
    rtype = d[: n * 8].view("<u4")[0::2]
    sizes = d[: n * 8].view("<u2")[3::4]
    ok = (rtype - np.uint32(1)) < np.uint32(MAX_RECORD_TYPE)  # 1 <= type <= MAX
    ok &= (sizes & np.uint16(7)) == 0
    ok &= sizes != 0
    cand = np.flatnonzero(ok)

    def size(i: int) -> int:
        return int(sizes[i])

    if not len(cand) or cand[0] != 0:
        raise BinaryFormatError(f"corrupt record header (size {size(0)})", 0)
    c = len(cand)
    idx_t = np.int32 if n < (1 << 31) - 1 else np.int64
    target = cand + (sizes[cand] >> np.uint16(3)).astype(np.int64)  # the next record's word
    index_of = np.full(n + 1, c, dtype=idx_t)  # candidate index of a word; c: none
    index_of[cand] = np.arange(c, dtype=idx_t)
    jump = np.append(index_of[np.minimum(target, n)], c).astype(idx_t)  # c: the chain's end
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
    end = int(target[rec[-1]])  # where the last record points
    if end < n:  # not at the end of the section, and no record header there
        raise BinaryFormatError(f"corrupt record header (size {size(end)})", end * 8)
    if end > n:  # the last record runs past the end of the section
        last = int(cand[rec[-1]])
        raise BinaryFormatError(f"corrupt record header (size {size(last)})", last * 8)
    return cand[rec].astype(np.int64) * 8


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


#: sample_type bits of the fields a sample holds after its raw data (branch stack,
#: registers, weights...): with none of them, a sample ends exactly where its raw data does.
S_AFTER_RAW = ~((1 << 11) - 1) & ~S_IDENTIFIER


def _convert(data: bytes, info: TraceInfo, trust_cpus: bool = False) -> pa.Table:
    if not data.startswith(MAGIC):
        raise BinaryFormatError("not a perf.data file (bad magic)", 0)
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
    if attr_size < 16 or attr_off + attr_len > len(data):
        raise BinaryFormatError("attribute section runs past the end of the file", 24)
    # attributes: sample_type must agree (one layout for every sample)
    sample_types = set()
    sample_id_all = True
    for a in range(attr_off, attr_off + attr_len, attr_size):
        ptype, _, _, _, stype, _, flags = struct.unpack_from("<IIQQQQQ", data, a)
        if ptype == PERF_TYPE_TRACEPOINT:
            sample_types.add(stype)
            sample_id_all = sample_id_all and bool(flags >> 18 & 1)
    if len(sample_types) != 1:
        raise BinaryFormatError("perf.data without tracepoint events, or with mixed sample layouts",
                   attr_off)
    stype = sample_types.pop()
    if not stype & S_RAW or stype & (S_READ | S_CALLCHAIN):
        raise BinaryFormatError("samples need PERF_SAMPLE_RAW and no READ/CALLCHAIN data "
                   "(record tracepoints without -g)", attr_off)
    # features after the data section: one {offset, size} per set bit, in bit order
    feat_at = data_off + data_len
    sections: dict[int, tuple[int, int]] = {}
    for bit in range(256):
        if features >> bit & 1:
            if feat_at + 16 > len(data):
                raise BinaryFormatError(
                    "feature section table runs past the end of the file", feat_at)
            sections[bit] = struct.unpack_from("<QQ", data, feat_at)
            feat_at += 16
    if FEAT_TRACING_DATA not in sections:
        raise BinaryFormatError("no HEADER_TRACING_DATA (event formats) in this perf.data", 72)
    toff, tlen = sections[FEAT_TRACING_DATA]
    if toff + tlen > len(data):
        raise BinaryFormatError("HEADER_TRACING_DATA runs past the end of the file", toff)
    try:
        hdr = _tracing_data(data[toff:toff + tlen])
    except BinaryFormatError as exc:
        raise BinaryFormatError(str(exc), toff + exc.offset) from None
    if FEAT_NRCPUS in sections:
        noff, _ = sections[FEAT_NRCPUS]
        if noff + 8 > len(data):
            raise BinaryFormatError("HEADER_NRCPUS runs past the end of the file", noff)
        avail, online = struct.unpack_from("<II", data, noff)
        info.cpus_header = int(online)
        # CPUs present (a count): no sample has a CPU number beyond (converters/sanity.py)
        info.cpu_bound = int(avail) if avail >= online else None

    d = np.frombuffer(data, np.uint8, count=data_len, offset=data_off)
    try:
        pos = _record_positions(d)
    except BinaryFormatError as exc:  # an offset in the data section: make it the file's
        raise BinaryFormatError(str(exc), data_off + exc.offset) from None
    hdr_words = d[pos[:, None] + np.arange(8)]
    rtype = hdr_words[:, 0:4].copy().view("<u4").ravel()
    rsize = hdr_words[:, 6:8].copy().view("<u2").ravel().astype(np.int64)
    if (rtype == REC_COMPRESSED).any():
        raise BinaryFormatError("compressed records (perf record -z) are not supported", int(
            data_off + pos[np.argmax(rtype == REC_COMPRESSED)]))
    # lost events
    # (side-band records too short for their fields are damaged: passed over)
    lost = pos[(rtype == REC_LOST) & (rsize >= 24)]
    if len(lost):
        # u64 counts summed exactly (numpy's int64 sum would wrap)
        counts = d[(lost + 16)[:, None] + np.arange(8)].copy().view("<u8").ravel()
        info.add_lost(sum(int(x) for x in counts.tolist()))
    # samples: fixed layout given sample_type
    smp = pos[rtype == REC_SAMPLE]
    o = smp + 8
    fields = {}
    for bit, width in ((S_IDENTIFIER, 8), (S_IP, 8), (S_TID, 8), (S_TIME, 8), (S_ADDR, 8),
                       (S_ID, 8), (S_STREAM_ID, 8), (S_CPU, 8), (S_PERIOD, 8)):
        if stype & bit:
            fields[bit] = o.copy()
            o = o + width
    end = smp + rsize[rtype == REC_SAMPLE]
    raw_at = np.minimum(o, len(d) - 4)  # a record too short for its fields: judged below
    raw_size = d[raw_at[:, None] + np.arange(4)].copy().view("<u4").ravel().astype(np.int64)
    payload = o + 4
    # a sample whose fields do not fit its size exactly (or at all, when more fields
    # follow the raw data) is damaged: skipped, counted
    bad = (payload > end) | (raw_size < MIN_PAYLOAD) | (
        payload + raw_size != end if not stype & S_AFTER_RAW else payload + raw_size > end)
    if S_TIME not in fields or S_CPU not in fields or S_TID not in fields:
        raise BinaryFormatError("samples need TID, TIME and CPU", attr_off)

    def u(at: I64, width: int, signed: bool = False) -> I64:
        kind = ("<i" if signed else "<u") + str(width)
        out: I64 = d[at[:, None] + np.arange(width)].copy().view(kind).ravel().astype(np.int64)
        return out

    buf = np.asarray(d)
    common = common_type_field(hdr)
    if common.offset + common.size > MIN_PAYLOAD:
        raise BinaryFormatError("event formats place common_type beyond the common fields", 0)
    ev_id = np.zeros(len(smp), np.int64)
    ev_id[~bad] = read_int(buf, payload[~bad], common, hdr.big_endian)
    formats = parse_used(hdr, ev_id[~bad])
    bad[~bad] = damaged_payloads(raw_size[~bad], ev_id[~bad], list(hdr.format_texts), formats)
    good = np.flatnonzero(~bad)  # and a sample far out of its CPU's time order
    bad[good[out_of_line(u(fields[S_CPU][good], 4), u(fields[S_TIME][good], 8))]] = True
    if bad.any():
        info.corrupt_pages = info.corrupt_events = int(bad.sum())
        info.corrupt_at = offset_location(data_off + int(smp[bad].min()))
        keep = ~bad
        smp, payload, ev_id = smp[keep], payload[keep], ev_id[keep]
        fields = {bit: at[keep] for bit, at in fields.items()}
        if not len(smp):
            raise BinaryFormatError(f"no usable samples ({info.corrupt_events:,} damaged, "
                                    f"first at {info.corrupt_at})", 0)
    ts = u(fields[S_TIME], 8)
    cpu = u(fields[S_CPU], 4)
    tid = u(fields[S_TID] + 4, 4, signed=True)
    order = np.lexsort((smp, cpu, ts))  # perf script's time order; lower CPU first on ties
    ts, cpu, tid, payload = ts[order], cpu[order], tid[order], payload[order]
    smp_sorted, ev_id = smp[order], ev_id[order]
    table, wide = decode(buf, payload, ev_id, ts, cpu, formats, {}, hdr.big_endian)
    # pid and comm as perf script shows them: the sample's tid, its comm from COMM records
    # side-band records carry a sample_id trailer (sample_id_all): order them by its time,
    # as perf does; without it, by file position
    after_time = sum(1 for b in (S_ID, S_STREAM_ID, S_CPU, S_IDENTIFIER) if stype & b)
    back = 8 * (after_time + 1) if sample_id_all and stype & S_TIME else None
    is_comm, is_fork = (rtype == REC_COMM) & (rsize >= 24), (rtype == REC_FORK) & (rsize >= 32)
    comms = _comm_records(d, pos[is_comm], rsize[is_comm], back)
    comms = _with_forks(d, pos[is_fork], rsize[is_fork], comms, back)
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    df = df.with_columns(pl.Series("pid", tid.astype(np.int32)),
                         pl.Series("_pos", ts if back is not None else smp_sorted))
    df = _attach_comm(df, comms).drop("_pos")
    from .textbase import to_arrow

    return checked(to_arrow(df), data_off + smp_sorted, info, trust_cpus=trust_cpus,
                   locate=offset_location, malformed=wide)


def _key(d: U8, pos: I64, size: I64, back: int | None) -> I64:
    """Ordering key of side-band records: trailer time, else file position."""
    if back is None:
        return pos.astype(np.int64)
    at = pos + size - back
    out: I64 = d[at[:, None] + np.arange(8)].copy().view("<u8").ravel().astype(np.int64)
    return out


def _comm_records(d: U8, pos: I64, size: I64, back: int | None) -> pl.DataFrame:
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
                back: int | None) -> pl.DataFrame:
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
