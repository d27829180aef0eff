"""perf.data's samples: each attribute's sample layout, the fields gathered from
every sample (compiled pass, or numpy per layout)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from xpfotrace.core.traceinfo import TraceInfo

from ...sanity import checked, offset_location, out_of_line
from ..binfile import BinaryFormatError, cbin, native
from ..rawevents import damaged_payloads, decode, read_int
from ..ringbuffer import MIN_PAYLOAD
from ..tracedat.header import (
    _Header,
    common_type_field,
    parse_used,
)
from .comms import _comm_records, _sample_comms, _with_forks
from .header import (
    BOOL,
    BRANCH_COUNTERS,
    BRANCH_HW_INDEX,
    FEAT_EVENT_DESC,
    FEAT_NRCPUS,
    I64,
    MAX_COUNT,
    R_GROUP,
    R_ID,
    R_LOST,
    R_TOTAL_TIME_ENABLED,
    R_TOTAL_TIME_RUNNING,
    REC_COMM,
    REC_FORK,
    REC_LOST,
    REC_SAMPLE,
    S_ADDR,
    S_AUX,
    S_BRANCH_STACK,
    S_CALLCHAIN,
    S_CGROUP,
    S_CODE_PAGE_SIZE,
    S_CPU,
    S_DATA_PAGE_SIZE,
    S_DATA_SRC,
    S_FIXED_HEAD,
    S_ID,
    S_IDENTIFIER,
    S_IP,
    S_KNOWN,
    S_PHYS_ADDR,
    S_RAW,
    S_READ,
    S_REGS_INTR,
    S_REGS_USER,
    S_STACK_USER,
    S_STREAM_ID,
    S_TID,
    S_TIME,
    S_TRANSACTION,
    S_WEIGHT,
    S_WEIGHT_STRUCT,
    U8,
    _Attr,
    _event_names,
    _name_attrs,
    _tracing_data,
)
from .records import _Origin, _Source


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
