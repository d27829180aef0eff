# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, embedsignature=False
"""Compiled loops of the binary readers (trace.dat ring-buffer pages, perf.data records).

Each function here does what a numpy function of the readers does, in one pass without
the GIL, and gives the same result; every read is checked against the buffer's length.
Where the numpy version would raise on the input (an offset beyond the data: an
IndexError of fancy indexing, or a wrapped negative index), these return ``None`` and
the caller runs the numpy version, so errors and their messages stay the same.

Only typed memoryviews: no numpy C API is needed to build this.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy

import numpy as np

cdef int64_t TS_MSB = -(1 << 59)


cdef inline uint32_t _le32(const uint8_t* p) noexcept nogil:
    return (<uint32_t>p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16)
            | (<uint32_t>p[3] << 24))


cdef inline uint64_t _le64(const uint8_t* p) noexcept nogil:
    return <uint64_t>_le32(p) | (<uint64_t>_le32(p + 4) << 32)


cdef inline uint64_t _read(const uint8_t* p, int width, bint big) noexcept nogil:
    """``width`` bytes at ``p`` (1, 2, 4 or 8) as an unsigned value."""
    cdef uint64_t v = 0
    cdef int k
    if not big:
        if width == 4:
            return _le32(p)
        if width == 8:
            return _le64(p)
        if width == 2:
            return <uint64_t>p[0] | (<uint64_t>p[1] << 8)
        if width == 1:
            return p[0]
    if big:
        for k in range(width):
            v = (v << 8) | p[k]
    else:
        for k in range(width - 1, -1, -1):
            v = (v << 8) | p[k]
    return v


cdef inline int64_t _wrap_add(int64_t a, int64_t b) noexcept nogil:
    """a + b wrapping as numpy's int64 does (no undefined signed overflow)."""
    return <int64_t>(<uint64_t>a + <uint64_t>b)


def walk_pages(const uint8_t[::1] buf, const int64_t[::1] cur0, const int64_t[::1] end0,
               const int64_t[::1] clock0):
    """The records of every page, as ``ringbuffer.decode_pages``'s lockstep walk finds
    them, in buffer order (page, then position): ``(ts, offset, length, page, wrong)``,
    ``wrong`` (uint8 per page) set where a record was wrong or the records did not end
    at the commit size. ``cur0``/``end0``: each page's first data byte and data end (end
    = start where the page is not walked); ``clock0``: its timestamp.

    None where a read would leave the buffer (unreachable for pages of the buffer: the
    caller then runs the numpy walk, which reports it as it always did)."""
    cdef Py_ssize_t n_pages = cur0.shape[0]
    cdef int64_t nbuf = buf.shape[0]
    cdef Py_ssize_t i
    cdef int64_t cap = 0
    for i in range(n_pages):
        if end0[i] > cur0[i]:
            # a kept record holds 12 bytes at least (header and 8 payload bytes)
            cap += (end0[i] - cur0[i]) // 12 + 1
    ts = np.empty(cap, np.int64)
    off = np.empty(cap, np.int64)
    ln = np.empty(cap, np.int64)
    page = np.empty(cap, np.int64)
    wrong_pages = np.zeros(n_pages, np.uint8)
    cdef int64_t[::1] ts_v = ts
    cdef int64_t[::1] off_v = off
    cdef int64_t[::1] ln_v = ln
    cdef int64_t[::1] page_v = page
    cdef uint8_t[::1] bad_v = wrong_pages
    cdef const uint8_t* b = &buf[0] if nbuf > 0 else NULL
    cdef int64_t k = 0, cur, end, clock, pos, a, plen, poff, total, ext, now, grid
    cdef uint32_t h, arr0
    cdef int64_t type_len, delta
    cdef bint wrong, outside = False
    with nogil:
        for i in range(n_pages):
            cur = cur0[i]
            end = end0[i]
            clock = clock0[i]
            while cur < end:
                pos = cur
                grid = pos % 4
                if grid < 0:
                    grid += 4
                pos -= grid  # read aligned; the page is bad anyway
                a = pos + 4
                if a > nbuf - 4:
                    a = nbuf - 4  # array[0], guarded at the end of the buffer
                if pos < 0 or pos + 4 > nbuf or a < 0:
                    outside = True
                    break
                h = _le32(b + pos)
                arr0 = _le32(b + a)
                type_len = h & 0x1F
                delta = h >> 5
                if type_len == 0:
                    plen = ((<int64_t>arr0 - 4) + 3) & ~(<int64_t>3)
                    poff = pos + 8
                    total = 8 + plen
                elif type_len <= 28:
                    plen = type_len * 4
                    poff = pos + 4
                    total = 4 + plen
                elif type_len == 29:  # padding
                    plen = 0
                    poff = pos + 4
                    total = 4 + <int64_t>arr0
                else:
                    plen = 0
                    poff = pos + 4
                    total = 8
                ext = (<int64_t>arr0 << 27) + delta
                if type_len == 31:  # absolute time stamp
                    now = ext | (clock & TS_MSB)
                elif type_len == 30:  # time extend
                    now = _wrap_add(clock, ext)
                else:
                    now = _wrap_add(clock, delta)
                wrong = (grid != 0 or total <= 0 or now < clock
                         or (type_len <= 28 and (plen < 8 or poff + plen > end)))
                clock = now
                if wrong:
                    bad_v[i] = 1
                elif type_len <= 28:
                    if k >= cap:  # (cannot happen: see cap)
                        outside = True
                        break
                    ts_v[k] = now
                    off_v[k] = poff
                    ln_v[k] = plen
                    page_v[k] = i
                    k += 1
                cur = pos + (total if total > 4 else 4)
                if wrong:
                    break
            if outside:
                break
            if cur != end:  # the last record ran past the commit size
                bad_v[i] = 1
    if outside:
        return None
    return ts[:k], off[:k], ln[:k], page[:k], wrong_pages.view(bool)


cdef inline bint _cand8(const uint8_t* d, int64_t nwords, int64_t p,
                        int64_t max_type) noexcept nogil:
    cdef uint32_t rtype
    cdef uint16_t size
    if p // 8 >= nwords:
        return False
    rtype = _le32(d + p)
    size = <uint16_t>(d[p + 6] | (d[p + 7] << 8))
    return rtype >= 1 and rtype <= max_type and (size & 7) == 0 and size != 0


cdef inline bint _cand1(const uint8_t* d, int64_t n, int64_t p, int64_t max_type,
                        int64_t user_start) noexcept nogil:
    cdef int64_t size
    if p < 0 or p >= n:
        return False
    if not (d[p] >= 1 and d[p] <= max_type and d[p + 1] == 0 and d[p + 2] == 0
            and d[p + 3] == 0):
        return False
    size = d[p + 6] | (<int64_t>d[p + 7] << 8)
    return size >= 8 and (d[p] >= user_start or (size & 7) == 0)


def chain(const uint8_t[::1] d, int step, int64_t max_type, int64_t user_start):
    """``perfdata._chain``: the offsets of the records reached from offset 0 (record
    headers at multiples of ``step``, 8 or 1) and where the chain stops (the end of the
    last record reached; 0 without a record at 0)."""
    cdef int64_t nd = d.shape[0]
    cdef const uint8_t* p = &d[0] if nd > 0 else NULL
    cdef int64_t nwords = nd // 8, n1 = nd - 7
    cdef int64_t cap = 1024, k = 0, pos = 0, target = 0
    cdef int64_t* out
    cdef int64_t* grown
    cdef bint ok, failed = False
    if step == 8:
        ok = nwords > 0 and _cand8(p, nwords, 0, max_type)
    else:
        ok = n1 > 0 and _cand1(p, n1, 0, max_type, user_start)
    if not ok:
        return np.zeros(0, np.int64), 0
    out = <int64_t*>malloc(cap * sizeof(int64_t))
    if out == NULL:
        raise MemoryError()
    with nogil:
        while True:
            if k == cap:
                cap *= 2
                grown = <int64_t*>realloc(out, cap * sizeof(int64_t))
                if grown == NULL:
                    failed = True
                    break
                out = grown
            out[k] = pos
            k += 1
            target = pos + (p[pos + 6] | (<int64_t>p[pos + 7] << 8))
            if step == 8:
                ok = _cand8(p, nwords, target, max_type)
            else:
                ok = _cand1(p, n1, target, max_type, user_start)
            if not ok:
                break
            pos = target
    if failed:
        free(out)
        raise MemoryError()
    res = np.empty(k, np.int64)
    cdef int64_t[::1] rv = res
    if k:
        memcpy(&rv[0], out, k * sizeof(int64_t))
    free(out)
    return res, target


def gather(const uint8_t[::1] buf, const int64_t[:] at, int width, bint signed, bint big):
    """The ``width``-byte integers (1, 2, 4 or 8 bytes; signed or not; big- or
    little-endian) at offsets ``at`` of ``buf``, as int64 (u64 values keep their bits).
    None when an offset is not within the buffer or the width is another (the numpy
    gather then raises as it always did)."""
    cdef Py_ssize_t n = at.shape[0], i
    cdef int64_t nbuf = buf.shape[0], o
    cdef bint outside = False
    cdef uint64_t v
    cdef int shift = 64 - 8 * width
    if width not in (1, 2, 4, 8):
        return None
    out = np.empty(n, np.int64)
    if n == 0:
        return out
    cdef int64_t[::1] ov = out
    cdef const uint8_t* b = &buf[0] if nbuf > 0 else NULL
    with nogil:
        for i in range(n):
            o = at[i]
            if o < 0 or o > nbuf - width:
                outside = True
                break
        if not outside:
            if width == 4 and not big and not signed:
                for i in range(n):
                    ov[i] = _le32(b + at[i])
            elif width == 8 and not big:
                for i in range(n):
                    ov[i] = <int64_t>_le64(b + at[i])
            else:
                for i in range(n):
                    v = _read(b + at[i], width, big)
                    if signed and width < 8:
                        ov[i] = (<int64_t>(v << shift)) >> shift
                    else:
                        ov[i] = <int64_t>v
    if outside:
        return None
    return out


def record_headers(const uint8_t[::1] d, const int64_t[:] pos):
    """(u32 type, u16 size) of the perf record headers at ``pos``, as int64; None when
    a header is not within ``d``."""
    cdef Py_ssize_t n = pos.shape[0], i
    cdef int64_t nd = d.shape[0], o
    cdef bint outside = False
    rtype = np.empty(n, np.int64)
    rsize = np.empty(n, np.int64)
    if n == 0:
        return rtype, rsize
    cdef int64_t[::1] tv = rtype
    cdef int64_t[::1] sv = rsize
    cdef const uint8_t* b = &d[0] if nd > 0 else NULL
    with nogil:
        for i in range(n):
            o = pos[i]
            if o < 0 or o > nd - 8:
                outside = True
                break
            tv[i] = _le32(b + o)
            sv[i] = b[o + 6] | (<int64_t>b[o + 7] << 8)
    if outside:
        return None
    return rtype, rsize


def asof_backward(const int64_t[:] by_left, const int64_t[:] key_left,
                  const int64_t[::1] groups, const int64_t[::1] starts,
                  const int64_t[::1] key_right):
    """For each left row, the index (in ``key_right``) of the last right row of its group
    whose key is at or below the row's: a backward as-of join ``by`` a group. The right
    rows are sorted by group, then key (ties: the later wins); ``groups`` holds the
    distinct groups in ascending order, group ``g``'s rows running from ``starts[g]``
    to ``starts[g + 1]``. -1 where there is none."""
    cdef Py_ssize_t n = by_left.shape[0], i
    cdef Py_ssize_t ng = groups.shape[0]
    cdef int64_t lo, hi, mid, g, b, k
    if key_left.shape[0] != n or starts.shape[0] != ng + 1 or starts[0] < 0:
        raise ValueError("asof_backward: arrays of mismatched lengths")
    for i in range(ng):
        if starts[i] > starts[i + 1] or starts[i + 1] > key_right.shape[0]:
            raise ValueError("asof_backward: group starts out of order or beyond the rows")
    out = np.empty(n, np.int64)
    if n == 0:
        return out
    cdef int64_t[::1] ov = out
    with nogil:
        for i in range(n):
            b = by_left[i]
            # the group: binary search among the distinct groups
            lo, hi = 0, ng
            while lo < hi:
                mid = (lo + hi) >> 1
                if groups[mid] < b:
                    lo = mid + 1
                else:
                    hi = mid
            if lo == ng or groups[lo] != b:
                ov[i] = -1
                continue
            g = lo
            k = key_left[i]
            # the last row of the group with key <= k: upper bound, minus one
            lo, hi = starts[g], starts[g + 1]
            while lo < hi:
                mid = (lo + hi) >> 1
                if key_right[mid] <= k:
                    lo = mid + 1
                else:
                    hi = mid
            ov[i] = lo - 1 if lo > starts[g] else -1
    return out


def read_fields(const uint8_t[::1] buf, const int64_t[::1] off, const int64_t[::1] codes,
                const int64_t[::1] starts, const int64_t[:, ::1] spec, int ncols, bint big):
    """The integer fields of every record in one pass (each record's fields are read
    while its bytes are in cache): record ``i`` of event code ``c = codes[i]`` has
    fields ``spec[starts[c]:starts[c + 1]]``, rows of (column, offset in the payload,
    size 1/2/4/8, signed), read from ``buf`` at ``off[i] + offset``. Returns
    ``(values, valid)``, both ``(ncols, n)`` (int64; uint8 set where a field was read;
    u64 values keep their bits), or None when a field lies outside ``buf`` or the
    table is not what it should be (the numpy gathers then raise as they always did)."""
    cdef Py_ssize_t n = off.shape[0], i
    cdef Py_ssize_t ncodes = starts.shape[0] - 1
    cdef int64_t nbuf = buf.shape[0], at, j, c, col, w, shift
    cdef uint64_t v
    cdef bint outside = False
    cdef Py_ssize_t m = spec.shape[0]
    if codes.shape[0] != n or ncodes < 0 or (m and spec.shape[1] != 4):
        return None
    for j in range(m):
        if (spec[j, 0] < 0 or spec[j, 0] >= ncols or spec[j, 2] not in (1, 2, 4, 8)
                or spec[j, 1] < 0):
            return None
    for j in range(ncodes):
        if starts[j] < 0 or starts[j] > starts[j + 1] or starts[j + 1] > m:
            return None
    values = np.zeros((ncols, n), np.int64)
    valid = np.zeros((ncols, n), np.uint8)
    if n == 0 or m == 0:
        return values, valid
    cdef int64_t[:, ::1] vv = values
    cdef uint8_t[:, ::1] ok = valid
    cdef const uint8_t* b = &buf[0] if nbuf > 0 else NULL
    with nogil:
        for i in range(n):
            c = codes[i]
            if c < 0 or c >= ncodes:
                continue
            for j in range(starts[c], starts[c + 1]):
                col = spec[j, 0]
                w = spec[j, 2]
                at = off[i] + spec[j, 1]
                if at < 0 or at > nbuf - w:
                    outside = True
                    break
                v = _read(b + at, <int>w, big)
                if spec[j, 3] and w < 8:
                    shift = 64 - 8 * w
                    vv[col, i] = (<int64_t>(v << shift)) >> shift
                else:
                    vv[col, i] = <int64_t>v
                ok[col, i] = 1
            if outside:
                break
    if outside:
        return None
    return values, valid


def take_strings(const int32_t[::1] offsets, const uint8_t[::1] data, const int64_t[:] idx):
    """An Arrow string array's buffers holding, for each ``idx[i]``, the string
    ``data[offsets[idx[i]]:offsets[idx[i] + 1]]`` (null where ``idx[i] < 0``): ``(offsets
    (int32, n + 1), data (uint8), validity (packed bits, or None without nulls), nulls)``.
    None when an index is beyond the strings or the result would pass 2 GiB (pyarrow's
    take then raises, or does, as it always did)."""
    cdef Py_ssize_t n = idx.shape[0], i
    cdef int64_t m = offsets.shape[0] - 1, k, total = 0, nulls = 0, length
    cdef int64_t ndata = data.shape[0]
    cdef bint bad = False
    if m < 0:
        return None
    with nogil:
        for i in range(n):
            k = idx[i]
            if k < 0:
                nulls += 1
                continue
            if k >= m:
                bad = True
                break
            length = <int64_t>offsets[k + 1] - offsets[k]
            if length < 0 or offsets[k] < 0 or offsets[k + 1] > ndata:
                bad = True
                break
            total += length
    if bad or total >= (1 << 31):
        return None
    out_off = np.empty(n + 1, np.int32)
    out_data = np.empty(total, np.uint8)
    validity = np.zeros((n + 7) // 8, np.uint8) if nulls else None
    cdef int32_t[::1] oo = out_off
    cdef uint8_t[::1] od = out_data
    cdef uint8_t[::1] bits
    cdef uint8_t* dst = &od[0] if total > 0 else NULL
    cdef const uint8_t* src = &data[0] if ndata > 0 else NULL
    cdef int64_t at = 0
    if nulls:
        bits = validity
    with nogil:
        oo[0] = 0
        for i in range(n):
            k = idx[i]
            if k >= 0:
                length = offsets[k + 1] - offsets[k]
                if length:
                    memcpy(dst + at, src + offsets[k], length)
                at += length
                if nulls:
                    bits[i >> 3] |= <uint8_t>(1 << (i & 7))
            oo[i + 1] = <int32_t>at
    return out_off, out_data, validity, nulls


# perf_event sample_type bits (include/uapi/linux/perf_event.h; as converters/perfdata.py)
cdef enum:
    S_IP = 1 << 0
    S_TID = 1 << 1
    S_TIME = 1 << 2
    S_ADDR = 1 << 3
    S_READ = 1 << 4
    S_CALLCHAIN = 1 << 5
    S_ID = 1 << 6
    S_CPU = 1 << 7
    S_PERIOD = 1 << 8
    S_STREAM_ID = 1 << 9
    S_RAW = 1 << 10
    S_BRANCH_STACK = 1 << 11
    S_REGS_USER = 1 << 12
    S_STACK_USER = 1 << 13
    S_WEIGHT = 1 << 14
    S_DATA_SRC = 1 << 15
    S_IDENTIFIER = 1 << 16
    S_TRANSACTION = 1 << 17
    S_REGS_INTR = 1 << 18
    S_PHYS_ADDR = 1 << 19
    S_AUX = 1 << 20
    S_CGROUP = 1 << 21
    S_DATA_PAGE_SIZE = 1 << 22
    S_CODE_PAGE_SIZE = 1 << 23
    S_WEIGHT_STRUCT = 1 << 24
    S_KNOWN = (1 << 25) - 1
    R_TOTAL_TIME_ENABLED = 1
    R_TOTAL_TIME_RUNNING = 2
    R_ID = 4
    R_GROUP = 8
    R_LOST = 16
    BRANCH_HW_INDEX = 1 << 17
    BRANCH_COUNTERS = 1 << 19


cdef inline int64_t _count(const uint8_t* b, int64_t o, int64_t e, int64_t max_count,
                           bint* over) noexcept nogil:
    """The u64 at ``o`` clamped to ``max_count``; 0 (and ``over``) beyond the record."""
    cdef uint64_t v
    if o < 0 or o + 8 > e:
        over[0] = True
        return 0
    v = _le64(b + o)
    return <int64_t>(v if v < <uint64_t>max_count else <uint64_t>max_count)


def sample_fields(const uint8_t[::1] d, const int64_t[::1] smp, const int64_t[::1] end,
                  const int64_t[::1] owner, const int64_t[:, ::1] attrs, int64_t max_count,
                  int64_t common_off, int common_size, bint common_signed, bint big):
    """``perfdata._layout`` of every sample at once, each by its attr (``owner``; -1:
    none, nothing read), and the values the reader then gathers, read from the sample
    while it is in cache. ``attrs`` rows: (sample_type, read_format, branch_sample_type,
    registers in regs_user, in regs_intr).

    Returns ``(at, fits, values, have)``: ``at`` (4, n) the offsets of TID, TIME, CPU and
    RAW (-1: absent), ``fits`` (uint8) the layout fits the record, ``values`` (5, n) the
    tid (the second u32 of TID), time (u64), cpu (u32), raw size (u32) and common_type
    (at ``common_off`` in the raw data, ``common_size`` bytes), ``have`` (5, n) where each
    lies within its record and was read. None when a record is not within ``d``."""
    cdef Py_ssize_t n = smp.shape[0], i
    cdef int64_t nd = d.shape[0], na = attrs.shape[0]
    cdef int64_t a, e, o, st, rf, bst, size, c, times, per, hw, entry
    cdef int64_t tid_at, time_at, cpu_at, raw_at
    cdef uint64_t v
    cdef int shift = 64 - 8 * common_size
    cdef bint over, outside = False
    if (end.shape[0] != n or owner.shape[0] != n or attrs.shape[1] != 5
            or common_size not in (1, 2, 4, 8) or common_off < 0 or common_off > (1 << 20)
            or max_count < 0 or max_count > (1 << 32)):
        return None
    for i in range(na):  # register counts: at most 64 each
        if not (0 <= attrs[i, 3] <= 64 and 0 <= attrs[i, 4] <= 64):
            return None
    at = np.full((4, n), -1, np.int64)
    fits = np.zeros(n, np.uint8)
    values = np.zeros((5, n), np.int64)
    have = np.zeros((5, n), np.uint8)
    if n == 0:
        return at, fits, values, have
    cdef int64_t[:, ::1] atv = at
    cdef uint8_t[::1] fv = fits
    cdef int64_t[:, ::1] vv = values
    cdef uint8_t[:, ::1] hv = have
    cdef const uint8_t* b = &d[0] if nd > 0 else NULL
    with nogil:
        for i in range(n):
            a = owner[i]
            if a < 0 or a >= na:
                continue
            e = end[i]
            if smp[i] < 0 or e > nd or smp[i] + 8 > e:
                outside = True
                break
            st = attrs[a, 0]
            rf = attrs[a, 1]
            bst = attrs[a, 2]
            over = False
            tid_at = time_at = cpu_at = raw_at = -1
            o = smp[i] + 8
            if st & S_IDENTIFIER:
                o += 8
            if st & S_IP:
                o += 8
            if st & S_TID:
                tid_at = o
                o += 8
            if st & S_TIME:
                time_at = o
                o += 8
            if st & S_ADDR:
                o += 8
            if st & S_ID:
                o += 8
            if st & S_STREAM_ID:
                o += 8
            if st & S_CPU:
                cpu_at = o
                o += 8
            if st & S_PERIOD:
                o += 8
            if st & S_READ:
                times = 8 * (((rf & R_TOTAL_TIME_ENABLED) != 0)
                             + ((rf & R_TOTAL_TIME_RUNNING) != 0))
                per = 8 * (1 + ((rf & R_ID) != 0) + ((rf & R_LOST) != 0))
                if rf & R_GROUP:
                    o = o + 8 + times + _count(b, o, e, max_count, &over) * per
                else:
                    o = o + times + per
            if st & S_CALLCHAIN:
                o = o + 8 + 8 * _count(b, o, e, max_count, &over)
            if st & S_RAW:
                raw_at = o
                if o + 4 <= e:
                    o = o + 4 + <int64_t>_le32(b + o)
                else:
                    over = True
                    o = o + 4
            if st & S_BRANCH_STACK:
                hw = 8 if bst & BRANCH_HW_INDEX else 0
                entry = 24 + (8 if bst & BRANCH_COUNTERS else 0)
                o = o + 8 + hw + _count(b, o, e, max_count, &over) * entry
            if st & S_REGS_USER:
                c = _count(b, o, e, max_count, &over)
                o = o + 8 + (8 * attrs[a, 3] if c != 0 else 0)
            if st & S_STACK_USER:
                size = _count(b, o, e, max_count, &over)
                o = o + 8 + size + (8 if size != 0 else 0)
            if st & (S_WEIGHT | S_WEIGHT_STRUCT):
                o += 8
            if st & S_DATA_SRC:
                o += 8
            if st & S_TRANSACTION:
                o += 8
            if st & S_REGS_INTR:
                c = _count(b, o, e, max_count, &over)
                o = o + 8 + (8 * attrs[a, 4] if c != 0 else 0)
            if st & S_PHYS_ADDR:
                o += 8
            if st & S_CGROUP:
                o += 8
            if st & S_DATA_PAGE_SIZE:
                o += 8
            if st & S_CODE_PAGE_SIZE:
                o += 8
            if st & S_AUX:
                o = o + 8 + _count(b, o, e, max_count, &over)
            fv[i] = not over and ((o <= e) if st & ~S_KNOWN else (o == e))
            atv[0, i] = tid_at
            atv[1, i] = time_at
            atv[2, i] = cpu_at
            atv[3, i] = raw_at
            # the values, where they lie within the record
            if tid_at >= 0 and tid_at + 8 <= e:
                vv[0, i] = _le32(b + tid_at + 4)
                hv[0, i] = 1
            if time_at >= 0 and time_at + 8 <= e:
                vv[1, i] = <int64_t>_le64(b + time_at)
                hv[1, i] = 1
            if cpu_at >= 0 and cpu_at + 4 <= e:
                vv[2, i] = _le32(b + cpu_at)
                hv[2, i] = 1
            if raw_at >= 0 and raw_at + 4 <= e:
                vv[3, i] = _le32(b + raw_at)
                hv[3, i] = 1
                if raw_at + 4 + common_off + common_size <= e:
                    v = _read(b + raw_at + 4 + common_off, common_size, big)
                    if common_signed and common_size < 8:
                        vv[4, i] = (<int64_t>(v << shift)) >> shift
                    else:
                        vv[4, i] = <int64_t>v
                    hv[4, i] = 1
    if outside:
        return None
    return at, fits, values, have
