"""Decode ftrace ring-buffer pages (trace.dat flyrecord data) with numpy.

A page is a u64 timestamp, a ``commit`` word (long-sized: low 27 bits the data
size, bit 31 "events were missed", bit 30 "the missed count is stored after the
data") and the data: records with a u32 header (``type_len`` 5 bits,
``time_delta`` 27 bits). Records are variable-length, so one page must be
walked in order; all pages are walked *in lockstep*, one record per page per
step, so the number of numpy steps is the largest record count of a page, not
the number of events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .binfile import cbin, native

PADDING, TIME_EXTEND, TIME_STAMP = 29, 30, 31
TS_SHIFT = 27
TS_MSB = -(1 << 59)  # 0xF8 << 56 as a signed 64-bit mask (the top five bits)
COMMIT_MASK = (1 << 27) - 1
MISSING_EVENTS = 1 << 31
MISSING_STORED = 1 << 30

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]


@dataclass
class Records:
    """Data records of one CPU's pages, in buffer order."""

    ts: I64  # absolute timestamps (trace clock ns)
    offset: I64  # payload offset in the buffer
    length: I64  # payload length
    lost: int  # missed events reported by the pages' headers (stored counts)
    lost_unknown: int  # pages that say events were missed without a count
    #: offsets in the buffer of the corrupt pages, whose records are not in the above,
    #: and the events each held (estimated from its size: see ``_lost_estimate``)
    bad_pages: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    bad_events: I64 = field(default_factory=lambda: np.zeros(0, np.int64))


#: Smallest payload of an event: common_type, common_flags, common_preempt_count, common_pid.
MIN_PAYLOAD = 8
#: A stored count of missed events at or beyond this is a damaged page header.
MAX_STORED_LOST = 1 << 40


def _u32(buf: U8, idx: I64) -> I64:
    if len(buf) % 4 == 0 and not (idx % 4).any():  # records are 4-byte aligned
        words: I64 = buf.view("<u4")[idx // 4].astype(np.int64)
        return words
    b = buf[idx[:, None] + np.arange(4)]
    out: I64 = b.view("<u4").ravel().astype(np.int64)
    return out


def _u64(buf: U8, idx: I64) -> npt.NDArray[np.uint64]:
    b = buf[idx[:, None] + np.arange(8)]
    out: npt.NDArray[np.uint64] = b.view("<u8").ravel()
    return out


def decode_pages(buf: U8, page_size: int, commit_size: int = 8) -> Records:
    """All data records of the pages in ``buf`` (a whole number of pages).

    A page is *corrupt*, and none of its records is returned, when its commit size
    exceeds the page, its records do not parse exactly to the commit size (a record
    off the 4-byte grid, of no length, shorter than an event's common fields or
    running past the commit), a timestamp goes backwards inside it, its stored count
    of missed events is absurd, or its records run backwards against the pages
    around it (the page out of line with both neighbours is blamed). Such a page is
    listed in ``bad_pages`` with an estimate of the events it held.
    """
    n_pages = len(buf) // page_size
    empty = np.zeros(0, np.int64)
    if n_pages == 0:
        return Records(empty, empty, empty, 0, 0)
    starts = np.arange(n_pages, dtype=np.int64) * page_size
    page_ts = _u64(buf, starts).astype(np.int64)
    commit = (_u64(buf, starts + 8).astype(np.int64) if commit_size == 8
              else _u32(buf, starts + 8))
    header = 8 + commit_size
    size = commit & COMMIT_MASK
    bad = size > page_size - header  # corrupt pages
    page_bytes = np.minimum(size, page_size - header)  # for the estimate of what was lost
    size[bad] = 0
    missed = (commit & MISSING_EVENTS) != 0

    cur = starts + header  # next record of each page
    end = cur + size
    walked = _walk_native(buf, cur, end, page_ts) if native() else None
    if walked is None:
        walked = _walk_lockstep(buf, cur, end, page_ts)
    ts, off, ln, page, wrong = walked
    bad |= wrong
    broken = bad.copy()  # pages whose records could not be walked
    stored = missed & ((commit & MISSING_STORED) != 0) & ~bad
    if stored.any():
        where = starts[stored] + header + size[stored]
        ok = where + 8 <= len(buf)
        counts = np.zeros(int(stored.sum()), np.int64)
        counts[ok] = _u64(buf, where[ok]).astype(np.int64)
        absurd = (counts < 0) | (counts >= MAX_STORED_LOST)
        bad[np.flatnonzero(stored)[absurd]] = True
        stored[np.flatnonzero(stored)[absurd]] = False
        lost = int(counts[~absurd].sum())
    else:
        lost = 0
    lost_unknown = int((missed & ~stored & ~bad & ((commit & MISSING_STORED) == 0)).sum())
    if len(ts):
        bad |= _backwards(ts, page, bad, n_pages)
    read = np.bincount(page, minlength=n_pages)
    if bad.any():
        keep = ~bad[page]
        ts, off, ln = ts[keep], off[keep], ln[keep]
    return Records(ts, off, ln, lost, lost_unknown,
                   starts[bad], _lost_estimate(read, page_bytes, bad, broken)[bad])


Walked = tuple[I64, I64, I64, I64, npt.NDArray[np.bool_]]


def _walk_native(buf: U8, cur: I64, end: I64, clock: I64) -> Walked | None:
    """:func:`_walk_lockstep` in one compiled pass (None: run that instead)."""
    if not len(buf):
        return None
    return cbin.walk_pages(buf, np.ascontiguousarray(cur), np.ascontiguousarray(end),
                           np.ascontiguousarray(clock))


def _walk_lockstep(buf: U8, cur: I64, end: I64, clock: I64) -> Walked:
    """The data records of the pages whose data runs from ``cur`` to ``end`` (clocks
    starting at ``clock``), in buffer order (by page, then position): their time stamps,
    payload offsets and lengths and pages, and the pages where a record was wrong or the
    records did not end at the data's end.

    All pages are walked *in lockstep*, one record per page per step."""
    n_pages = len(cur)
    cur, clock = cur.copy(), clock.copy()
    bad = np.zeros(n_pages, bool)
    active = np.flatnonzero(cur < end)
    out_ts, out_off, out_len, out_page = [], [], [], []
    while active.size:
        pos = cur[active]
        off_grid = (pos % 4) != 0
        pos = np.where(off_grid, pos - pos % 4, pos)  # read aligned; the page is bad anyway
        h = _u32(buf, pos)
        type_len = h & 0x1F
        delta = h >> 5
        arr0 = _u32(buf, np.minimum(pos + 4, len(buf) - 4))  # array[0], guarded at the end
        is_data = type_len <= 28
        # payload length and position, and the record's total length
        small = (type_len >= 1) & (type_len <= 28)
        big = type_len == 0
        plen = np.where(small, type_len * 4, np.where(big, ((arr0 - 4) + 3) & ~3, 0))
        poff = np.where(big, pos + 8, pos + 4)
        total = np.where(small, 4 + plen,
                         np.where(big, 8 + plen,
                                  np.where(type_len == PADDING, 4 + arr0, 8)))
        ext = (arr0 << TS_SHIFT) + delta
        ts_now = clock[active]
        new_clock = np.where(type_len == TIME_STAMP, ext | (ts_now & TS_MSB),
                             np.where(type_len == TIME_EXTEND, ts_now + ext, ts_now + delta))
        clock[active] = new_clock
        wrong = (off_grid | (total <= 0) | (new_clock < ts_now)
                 | (is_data & ((plen < MIN_PAYLOAD) | (poff + plen > end[active]))))
        bad[active[wrong]] = True
        good = is_data & ~wrong
        if good.any():
            out_ts.append(new_clock[good])
            out_off.append(poff[good])
            out_len.append(plen[good])
            out_page.append(active[good])
        cur[active] = pos + np.maximum(total, 4)
        active = active[(cur[active] < end[active]) & ~wrong]
    bad |= cur != end  # the last record ran past the commit size
    if not out_ts:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty, bad
    ts = np.concatenate(out_ts)
    off = np.concatenate(out_off)
    ln = np.concatenate(out_len)
    page = np.concatenate(out_page)
    order = np.lexsort((off, page))  # buffer order: by page, then position in the page
    return ts[order], off[order], ln[order], page[order], bad


def _lost_estimate(read: I64, page_bytes: I64, bad: npt.NDArray[np.bool_],
                   broken: npt.NDArray[np.bool_]) -> I64:
    """The events each page held: those read from it, unless its walk broke off (its
    records cannot be told from garbage past the damage): then its data size over the
    mean bytes per event of the good pages, and at least the records read from it."""
    good = ~bad & (read > 0)
    if not good.any():
        return read
    per_event = page_bytes[good].sum() / read[good].sum()
    guess = np.maximum(read, np.rint(page_bytes / per_event).astype(np.int64))
    out: I64 = np.where(broken, guess, read)
    return out


def _backwards(ts: I64, page: I64, bad: npt.NDArray[np.bool_],
               n_pages: int) -> npt.NDArray[np.bool_]:
    """Pages whose records run backwards against the pages around them (among the
    pages not already bad, in buffer order): where page i starts before page i-1
    ends, page i-1 is blamed if it also ends after page i+1 starts (it is ahead of
    both neighbours), else page i."""
    out = np.zeros(n_pages, bool)
    keep = ~bad[page]
    ts, page = ts[keep], page[keep]
    if not len(ts):
        return out
    cut = np.flatnonzero(np.diff(page)) + 1
    firsts = np.concatenate(([0], cut))
    lasts = np.concatenate((cut - 1, [len(ts) - 1]))
    f, l_, pg = ts[firsts], ts[lasts], page[firsts]  # per page with records
    if len(pg) < 2:
        return out
    back = np.flatnonzero(f[1:] < l_[:-1]) + 1  # page index i (among pg) runs back
    nxt = np.minimum(back + 1, len(pg) - 1)
    prev_ahead = (back + 1 < len(pg)) & (l_[back - 1] > f[nxt])
    out[pg[np.where(prev_ahead, back - 1, back)]] = True
    return out
