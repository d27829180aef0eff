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

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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


class RingBufferError(ValueError):
    """The page data is not a valid ring buffer; ``offset`` points into it."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


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
    """All data records of the pages in ``buf`` (a whole number of pages)."""
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
    if (size > page_size - header).any():
        bad = int(np.flatnonzero(size > page_size - header)[0])
        raise RingBufferError("ring-buffer page commit size exceeds the page",
                              int(starts[bad]) + 8)
    missed = (commit & MISSING_EVENTS) != 0
    stored = missed & ((commit & MISSING_STORED) != 0)
    lost = 0
    if stored.any():
        where = starts[stored] + header + size[stored]
        ok = where + 8 <= len(buf)
        lost = int(_u64(buf, where[ok]).astype(np.int64).sum())
    lost_unknown = int((missed & ~stored).sum())

    cur = starts + header  # next record of each page
    end = cur + size
    clock = page_ts.copy()
    active = np.flatnonzero(cur < end)
    out_ts, out_off, out_len, out_page = [], [], [], []
    while active.size:
        pos = cur[active]
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
        good = is_data & (poff + plen <= end[active])
        if good.any():
            out_ts.append(new_clock[good])
            out_off.append(poff[good])
            out_len.append(plen[good])
            out_page.append(active[good])
        if (total <= 0).any():
            bad = int(pos[total <= 0][0])
            raise RingBufferError("corrupt ring-buffer record (zero length)", bad)
        cur[active] = pos + total
        active = active[cur[active] < end[active]]
    if not out_ts:
        return Records(empty, empty, empty, lost, lost_unknown)
    ts = np.concatenate(out_ts)
    off = np.concatenate(out_off)
    ln = np.concatenate(out_len)
    page = np.concatenate(out_page)
    order = np.lexsort((off, page))  # buffer order: by page, then position in the page
    return Records(ts[order], off[order], ln[order], lost, lost_unknown)
