"""trace-cmd ``trace.dat`` (file versions 6 and 7), read directly.

Layout (trace-cmd's trace-cmd.dat.v6/v7 documents): magic, version, endianness,
long size, page size; v7 then has a compression header and *sections*
(u16 id, u16 flags, u32 string id, u64 size; flag 1 = compressed) located
through chains of OPTIONS sections; v6 has the same pieces in a fixed order.
Ring-buffer pages are decoded by :mod:`converters.ringbuffer`, payloads by
:mod:`converters.rawevents`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from xpfotrace.core.errors import InputError
from xpfotrace.core.traceinfo import TraceInfo

from ...sanity import checked
from ...text.base import PAGE_ALLOCATION_EVENTS, no_page_events
from ..binfile import BinaryFormatError, binary_tables
from ..eventformat import EventFormat, Field
from ..rawevents import (
    damaged_payloads,
    decode,
    dense_codes,
    distinct,
    read_int,
    read_str,
    take_strings,
)
from ..ringbuffer import MIN_PAYLOAD, decode_pages
from .header import I64, TOP, U8, _Buffer, _Header, common_type_field, parse_used, read_header
from .pages import _cpu_pages, _file_offsets, _locate


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
