# cython: language_level=3, boundscheck=True, wraparound=False, cdivision=True
# cython: initializedcheck=True, embedsignature=True, autotestdict=False
"""The compiled kernel behind :mod:`converters.textfast` (a C extension built from this
Cython source by ``pip install``; optional: without it the Polars path reads every line).

Each rule here mirrors one expression of the Polars path (``textbase``,
``tracefs_text``, ``perf_script``); the comments name the expressions. The kernel
accepts a line only when its reading is certain to equal the Polars one; any doubt
rejects the line to that path. Only printable ASCII is accepted, so whitespace is
the space byte and ``\\w``/``\\d`` are ASCII.

Memory safety: the chunk is read through a raw pointer, and every read ``b[p]`` is
preceded (in the same expression or the enclosing loop condition) by a comparison that
puts ``p`` within the current line ``[ls, le)``; each line's bounds are checked against
the chunk's length before it is read (``_check_line``); each ``memchr`` is given a range
``[p, e)`` with ``p < e`` and ``e`` no further than the line's end. Output arrays are
sized by the caller: their shapes are checked once, before the loops, against the number
of lines (an accepted line's row ``k`` is at most its line number), so the loops write
through raw pointers. The loops run without the GIL.
"""

from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memchr, memcpy, strlen

# ---------------------------------------------------------------- constants

SP = 32
MAX_ORDER = 20

# event codes (0: any other event, whose fields are all null)
EV_ALLOC, EV_FREE, EV_FREE_BATCHED, EV_ZONE_LOCKED, EV_DRAIN, EV_SWITCH, EV_TLB = range(1, 8)

# rows of the output matrices given to scan
I64_TS, I64_PFN, I64_TLB_PAGES = 0, 1, 2
(I32_LN, I32_CPU, I32_PID, I32_ORDER, I32_MIG, I32_REFILL, I32_PREV_PID, I32_NEXT_PID,
 I32_TLB_REASON) = range(9)
OK_PFN, OK_ORDER, OK_MIG, OK_REFILL, OK_TLB_PAGES = range(5)

# string spans: rows 0-4 starts (-1: null), 5-9 ends
S_COMM, S_EVENT, S_GFP, S_PREV_COMM, S_NEXT_COMM = range(5)

# the same, for C
cdef enum:
    C_SP = 32
    C_MAX_ORDER = 20
    C_EV_ALLOC = 1
    C_EV_FREE = 2
    C_EV_FREE_BATCHED = 3
    C_EV_ZONE_LOCKED = 4
    C_EV_DRAIN = 5
    C_EV_SWITCH = 6
    C_EV_TLB = 7
    C_I64_ROWS = 3
    C_I32_ROWS = 9
    C_OK_ROWS = 5
    C_SPAN_ROWS = 10

# event names, in the order of their codes (EV_ALLOC .. EV_TLB)
cdef const char* _EVENT_NAMES[7]
_EVENT_NAMES[0] = b"mm_page_alloc"
_EVENT_NAMES[1] = b"mm_page_free"
_EVENT_NAMES[2] = b"mm_page_free_batched"
_EVENT_NAMES[3] = b"mm_page_alloc_zone_locked"
_EVENT_NAMES[4] = b"mm_page_pcpu_drain"
_EVENT_NAMES[5] = b"sched_switch"
_EVENT_NAMES[6] = b"tlb_flush"
cdef Py_ssize_t _EVENT_LENS[7]
for _i in range(7):
    _EVENT_LENS[_i] = <Py_ssize_t>strlen(_EVENT_NAMES[_i])

# keys (string literals: their lengths are given with each use)
cdef const char* K_PFN = b"pfn="                    # 4
cdef const char* K_ORDER = b"order="                # 6
cdef const char* K_GFP = b"gfp_flags="              # 10
cdef const char* K_MIG = b"migratetype="            # 12
cdef const char* K_REFILL = b"percpu_refill="       # 14
cdef const char* K_NULLPAGE = b"page=(null)"        # 11
cdef const char* K_PREV_COMM = b"prev_comm="        # 10
cdef const char* K_PREV_PID = b" prev_pid="         # 10
cdef const char* K_NEXT_COMM = b"next_comm="        # 10
cdef const char* K_NEXT_PID = b" next_pid="         # 10
cdef const char* K_REASON = b"reason"               # 6
cdef const char* K_PAGES = b"pages"                 # 5
#: perf's event modifier letters (converters/perf_script.py MODIFIERS)
cdef const char* _MODIFIERS = b"ukhIGHpPSDWebR"    # 14

# ---------------------------------------------------------------- helpers
#
# Every helper takes the chunk ``b`` and an end ``end`` (the current line's end, checked
# against the chunk's length) and reads b[p] only for p < end; ``p >= 0`` holds because
# every position starts at or after the line's start (itself >= 0) or is compared with it.

cdef inline bint _digit(uint8_t c) noexcept nogil:
    return 48 <= c <= 57


# \w in ASCII, as a table (the event-name scans ask it of every byte)
cdef uint8_t _WORD[256]
for _i in range(256):
    _WORD[_i] = (48 <= _i <= 57) or (65 <= _i <= 90) or (97 <= _i <= 122) or _i == 95


cdef inline bint _word(uint8_t c) noexcept nogil:  # \w in ASCII
    return _WORD[c]


cdef inline bint _hex(uint8_t c) noexcept nogil:
    return (48 <= c <= 57) or (65 <= c <= 70) or (97 <= c <= 102)


cdef inline bint _at(const uint8_t* b, Py_ssize_t pos, Py_ssize_t end, const char* key,
                     Py_ssize_t n) noexcept nogil:
    """b[pos:] starts with key (of n bytes) within end."""
    cdef Py_ssize_t i
    if pos < 0 or pos + n > end:
        return False
    for i in range(n):  # keys are short: a loop beats a call to memcmp
        if b[pos + i] != <uint8_t>key[i]:
            return False
    return True


cdef inline Py_ssize_t _find(const uint8_t* b, Py_ssize_t pos, Py_ssize_t end,
                             const char* key, Py_ssize_t n) noexcept nogil:
    """First position >= pos where key (n bytes) occurs before end, or -1."""
    cdef uint8_t first = <uint8_t>key[0]
    cdef Py_ssize_t last = end - n
    cdef const uint8_t* hit
    while pos <= last:  # pos <= end - n < end: b[pos] in range
        # the next first byte in [pos, last]
        hit = <const uint8_t*>memchr(b + pos, first, last + 1 - pos)
        if hit == NULL:
            return -1
        pos = hit - b
        if _at(b, pos, end, key, n):
            return pos
        pos += 1
    return -1


cdef inline Py_ssize_t _digits_end(const uint8_t* b, Py_ssize_t pos,
                                   Py_ssize_t end) noexcept nogil:
    while pos < end and _digit(b[pos]):
        pos += 1
    return pos


cdef inline int64_t _int_at(const uint8_t* b, Py_ssize_t s, Py_ssize_t e) noexcept nogil:
    """Decimal value of b[s:e] (an optional '-' then at most 18 digits, already checked;
    s < e)."""
    cdef bint neg = b[s] == 45
    cdef int64_t v = 0
    cdef Py_ssize_t i
    if neg:
        s += 1
    for i in range(s, e):
        v = v * 10 + (b[i] - 48)
    return -v if neg else v


cdef inline Py_ssize_t _signed(const uint8_t* b, Py_ssize_t pos, Py_ssize_t end) noexcept nogil:
    """End of ``-?\\d+`` at pos, or -1."""
    cdef Py_ssize_t p = pos
    cdef Py_ssize_t q
    if p < end and b[p] == 45:
        p += 1
    q = _digits_end(b, p, end)
    return q if q > p else -1


cdef inline Py_ssize_t _signed_field(const uint8_t* b, Py_ssize_t pos,
                                     Py_ssize_t end) noexcept nogil:
    """End of ``-?\\d+(?:\\s|$)`` at pos (the number, not the space), or -1."""
    cdef Py_ssize_t q = _signed(b, pos, end)
    if q >= 0 and (q == end or b[q] == C_SP):
        return q
    return -1


cdef inline bint _fits(Py_ssize_t s, Py_ssize_t e, Py_ssize_t max_digits,
                       const uint8_t* b) noexcept nogil:
    """At most max_digits digits (a sign aside): no overflow in the target type (s < e)."""
    if b[s] == 45:
        s += 1
    return e - s <= max_digits


cdef inline int _event_code(const uint8_t* b, Py_ssize_t s, Py_ssize_t e) noexcept nogil:
    """The code of the event name b[s:e] (EV_*), 0 for any other event."""
    cdef int i
    for i in range(7):
        if e - s == _EVENT_LENS[i] and _at(b, s, e, _EVENT_NAMES[i], _EVENT_LENS[i]):
            return i + 1
    return 0


cdef inline uint64_t _uint_at(const uint8_t* b, Py_ssize_t s, Py_ssize_t e,
                              uint64_t base) noexcept nogil:
    """Value of the digits b[s:e] in ``base`` (10 or 16, already checked; wraps modulo
    2**64 as the Numba kernel did: an overlong number is rejected by its caller)."""
    cdef uint64_t v = 0
    cdef uint64_t h
    cdef uint8_t c
    cdef Py_ssize_t q
    for q in range(s, e):
        c = b[q]
        h = c - 48 if c <= 57 else (c - 55 if c <= 70 else c - 87)
        v = v * base + h
    return v


cdef inline void _number_after(const uint8_t* b, Py_ssize_t rs, Py_ssize_t re_,
                               const char* key, Py_ssize_t n, bint word_end,
                               Py_ssize_t* vs, Py_ssize_t* ve) noexcept nogil:
    """The leftmost ``key[:=](-?\\d+)`` whose number ends before a non-word byte
    (``word_end``: ``\\b``) or a space (else), or at the end: (start, end) of the
    number in (vs, ve), or (-1, -1)."""
    cdef Py_ssize_t pos = rs
    cdef Py_ssize_t p, v, q
    while True:
        p = _find(b, pos, re_, key, n)
        if p < 0:
            vs[0] = -1
            ve[0] = -1
            return
        v = p + n
        if v < re_ and (b[v] == 58 or b[v] == 61):
            q = _signed(b, v + 1, re_)
            if q >= 0 and (q == re_ or ((not _word(b[q])) if word_end else b[q] == C_SP)):
                vs[0] = v + 1
                ve[0] = q
                return
        pos = p + 1


cdef inline Py_ssize_t _stamp(const uint8_t* b, Py_ssize_t s, Py_ssize_t e) noexcept nogil:
    """``\\d+\\.\\d+:`` exactly on b[s:e] -> position of '.', else -1."""
    cdef Py_ssize_t p = _digits_end(b, s, e)
    cdef Py_ssize_t q
    if p == s or p >= e or b[p] != 46:
        return -1
    q = _digits_end(b, p + 1, e)
    if q == p + 1 or q != e - 1 or b[q] != 58:  # q == e - 1 < e before b[q]
        return -1
    return p


cdef inline Py_ssize_t _token_end(const uint8_t* b, Py_ssize_t pos,
                                  Py_ssize_t end) noexcept nogil:
    while pos < end and b[pos] != C_SP:
        pos += 1
    return pos


cdef inline Py_ssize_t _spaces_end(const uint8_t* b, Py_ssize_t pos,
                                   Py_ssize_t end) noexcept nogil:
    while pos < end and b[pos] == C_SP:
        pos += 1
    return pos


cdef inline Py_ssize_t _word_colon(const uint8_t* b, Py_ssize_t pos,
                                   Py_ssize_t end) noexcept nogil:
    """``\\w+:`` at pos -> position of ':' or -1."""
    cdef Py_ssize_t p = pos
    while p < end and _word(b[p]):
        p += 1
    if p == pos or p >= end or b[p] != 58:
        return -1
    return p


cdef inline bint _modifiers_only(const uint8_t* b, Py_ssize_t s, Py_ssize_t e) noexcept nogil:
    """b[s:e] is made of perf's modifier letters only (e > s)."""
    cdef Py_ssize_t p
    cdef int m
    cdef bint found
    for p in range(s, e):
        found = False
        for m in range(14):
            if b[p] == <uint8_t>_MODIFIERS[m]:
                found = True
        if not found:
            return False
    return True


# ---------------------------------------------------------------- argument checks

cdef object _as_bytes(object a):
    """A NumPy bool (or uint8) array as unsigned bytes, of the same shape and memory:
    Cython's typed memoryviews take no '?' (bool) format."""
    if memoryview(a).format == "?":
        import numpy

        return numpy.asarray(a).view(numpy.uint8)
    return a


cdef int _need(bint cond, str what) except -1:
    if not cond:
        raise ValueError(f"_ctext: {what}")
    return 0


cdef const uint8_t* _ptr(const uint8_t[::1] buf) noexcept:
    """The chunk's first byte (NULL for an empty chunk, which is never read)."""
    if buf.shape[0] == 0:
        return NULL
    return &buf[0]


# ---------------------------------------------------------------- the scan

cdef struct _Out:
    # row pointers of the outputs (each row has room for n values)
    int64_t* ts
    uint64_t* pfn
    int64_t* pages
    int32_t* i32[9]
    uint8_t* oks[5]
    int8_t* ev
    int32_t* spans[10]


cdef Py_ssize_t _scan(int mode, const uint8_t* b, Py_ssize_t size, const int32_t* starts,
                      const int32_t* ends, const uint8_t* clean, Py_ssize_t n,
                      _Out* out) noexcept nogil:
    """The loop of :func:`scan`; -1 - i when line i's bounds lie outside the chunk."""
    cdef Py_ssize_t k = 0
    cdef Py_ssize_t i, ls, le, br, cs, ce, t1s, t1e, t2s, t2e, t3s, stamp_s, dot, ev_s, ev_e
    cdef Py_ssize_t rs, re_, sec_e, frac_s, frac_e, r, j, q, d, t_s, c_e, pid_s, pid_e
    cdef Py_ssize_t e2, s2, tok, ws, n2, c1, c2, p, v, pos, found, c0, m, e, d2
    cdef Py_ssize_t vs, ve, os_, oe, gs, ms, me, fs, fe
    cdef Py_ssize_t g_s, g_e, pc_s, pc_e, nc_s, nc_e
    cdef Py_ssize_t kc_n = 10, kp_n = 10
    cdef const char* kc
    cdef const char* kp
    cdef bint ok, flags, hexa, has_null, null_page, got
    cdef bint pfn_ok, order_ok, mig_ok, refill_ok, pages_ok
    cdef int code, side
    cdef int64_t sec, frac, order, mig, refill, prev_pid, next_pid, reason, pages, o
    cdef uint64_t pfn
    cdef uint8_t c
    cdef const uint8_t* hit
    for i in range(n):
        ls = starts[i]
        le = ends[i]
        # the line must lie in the chunk: every read below is within [ls, le)
        if ls < 0 or le < ls or le > size:
            return -1 - i
        ok = True
        if not clean[i] or le == ls:
            continue
        # the first '[' of the line (le > ls >= 0 and le <= size: the range is in the chunk)
        hit = <const uint8_t*>memchr(b + ls, 91, le - ls)
        if hit == NULL:
            continue
        br = hit - b
        # --- the anchor at the first '[':
        # \[\d+\]\s+(?:[^\s\[\]]{4,5}\s+)?\d+\.\d+:\s+\w+:\s*
        cs = br + 1
        ce = _digits_end(b, cs, le)
        t1s = _spaces_end(b, ce + 1, le)
        if ce == cs or ce >= le or b[ce] != 93 or t1s == ce + 1 or ce - cs > 9:
            continue
        t1e = _token_end(b, t1s, le)
        t2s = _spaces_end(b, t1e, le)
        if t2s == t1e or t2s >= le:
            continue
        t2e = _token_end(b, t2s, le)
        stamp_s = -1
        dot = -1
        ev_s = -1
        if mode == 0:
            # option A: flags then the stamp (the regex prefers it)
            flags = False
            if t1e - t1s == 4 or t1e - t1s == 5:
                flags = True
                for p in range(t1s, t1e):
                    if b[p] == 91 or b[p] == 93:
                        flags = False
                if flags:
                    t3s = _spaces_end(b, t2e, le)
                    d = _stamp(b, t2s, t2e)
                    if d >= 0 and t3s > t2e and _word_colon(b, t3s, le) >= 0:
                        stamp_s = t2s
                        dot = d
                        ev_s = t3s
                        # a stamp-like flags token would be read as the stamp
                        for p in range(t1s, t1e):
                            if b[p] == 58:
                                ok = False
                    else:
                        flags = False
            if not flags:
                d = _stamp(b, t1s, t1e)
                if d >= 0 and _word_colon(b, t2s, le) >= 0:
                    stamp_s = t1s
                    dot = d
                    ev_s = t2s
        else:
            # perf script: \[\d+\]\s+\d+\.\d+:\s+(?:\d+\s+)?\w+:\w+:\s*
            d = _stamp(b, t1s, t1e)
            if d >= 0:
                ws = t2s
                if _digits_end(b, t2s, le) == t2e:  # a period: \d+\s+ (then it must go on)
                    n2 = _spaces_end(b, t2e, le)
                    if t2e < n2 < le:
                        ws = n2
                c1 = _word_colon(b, ws, le)
                c2 = _word_colon(b, c1 + 1, le) if c1 >= 0 else -1
                # (an "event" of perf's modifier letters only, as in cycles:u:, is no
                # tracepoint: left to the Polars path, which reads it as another event)
                if c2 >= 0 and not _modifiers_only(b, c1 + 1, c2):
                    stamp_s = t1s
                    dot = d
                    ev_s = c1 + 1  # the event, after its system
        if not ok or stamp_s < 0:
            continue
        ev_e = _word_colon(b, ev_s, le)
        rs = _spaces_end(b, ev_e + 1, le)
        # --- stamp: sec * 1e9 + frac[:9] padded with zeros
        sec_e = dot
        frac_s = dot + 1
        frac_e = _digits_end(b, frac_s, le)
        if sec_e - stamp_s > 9:
            continue
        sec = _int_at(b, stamp_s, sec_e)
        frac = 0
        for j in range(9):
            frac = frac * 10 + (b[frac_s + j] - 48 if frac_s + j < frac_e else 0)
        # --- head: text before the anchor, ending in whitespace
        if br == ls or b[br - 1] != C_SP:
            continue
        r = br
        while r > ls and b[r - 1] == C_SP:
            r -= 1
        if mode == 0:
            # \s+\(\s*[-\d]+\)\s+$ -> " "
            if r > ls and b[r - 1] == 41:
                j = r - 2
                while j >= ls and (_digit(b[j]) or b[j] == 45):
                    j -= 1
                if j < r - 2:
                    while j >= ls and b[j] == C_SP:
                        j -= 1
                    if j > ls and b[j] == 40 and b[j - 1] == C_SP:
                        q = j - 1
                        while q >= ls and b[q] == C_SP:
                            q -= 1
                        r = q + 1
            t_s = _spaces_end(b, ls, r)
            # pid: -\d+$ of the stripped text
            d = r
            while d > t_s and _digit(b[d - 1]):
                d -= 1
            if d == r or d == t_s or b[d - 1] != 45 or r - d > 9:
                continue
            c_e = d - 1
            while c_e > t_s and b[c_e - 1] == C_SP:
                c_e -= 1
            pid_s = d
            pid_e = r
        else:
            # the last word of the head is the pid: \s-?\d+(?:/-?\d+)?$
            e2 = r
            while e2 > ls and _digit(b[e2 - 1]):
                e2 -= 1
            s2 = e2 - 1 if e2 > ls and b[e2 - 1] == 45 else e2
            pid_s = s2
            pid_e = r
            tok = s2
            if e2 < r and s2 > ls and b[s2 - 1] == 47:  # pid/tid
                pid_e = s2 - 1
                pid_s = pid_e
                while pid_s > ls and _digit(b[pid_s - 1]):
                    pid_s -= 1
                e2 = pid_s
                if pid_s > ls and b[pid_s - 1] == 45:
                    pid_s -= 1
                tok = pid_s
            if (e2 == r or e2 == pid_e or tok == ls or b[tok - 1] != C_SP
                    or pid_e - e2 > 9):
                continue
            t_s = _spaces_end(b, ls, tok - 1)
            c_e = tok - 1
            while c_e > t_s and b[c_e - 1] == C_SP:
                c_e -= 1
        # --- the event's fields
        code = _event_code(b, ev_s, ev_e)
        re_ = le
        # the row's optional fields, null unless read below
        pfn = 0
        pfn_ok = order_ok = mig_ok = refill_ok = pages_ok = False
        order = mig = refill = prev_pid = next_pid = reason = 0
        pages = 0
        g_s = g_e = pc_s = pc_e = nc_s = nc_e = -1
        if C_EV_ALLOC <= code <= C_EV_DRAIN:
            # one pass over the fields, keeping each key's leftmost valid match:
            # pfn      (?:^|\s)pfn=(?:0[xX][0-9a-fA-F]+|\d+)(?:\s|$)  (hex tried first)
            # order    (?:^|\s)order=-?\d+(?:\s|$)
            # gfp      gfp_flags=\S+
            # mig      migratetype=-?\d+(?:\s|$)   refill  percpu_refill=-?\d+(?:\s|$)
            # and whether page=\(null\) occurs
            vs = ve = os_ = oe = gs = ms = me = fs = fe = -1
            hexa = False
            has_null = False
            # every key ends in '=': visit the '=' bytes in order and test each key that
            # could end there (p: where it starts). A key's matches come in the order of
            # their starts, as in a scan of every position; the keys do not interact.
            q = rs
            while q < re_:
                hit = <const uint8_t*>memchr(b + q, 61, re_ - q)  # q < re_ <= size
                if hit == NULL:
                    break
                e = hit - b  # the '=' (rs <= e < re_)
                q = e + 1
                c = b[e - 1] if e > rs else 0
                if c == 110:  # ...n= : pfn=
                    p = e - 3
                    if (vs < 0 and p >= rs and (p == rs or b[p - 1] == C_SP)
                            and _at(b, p, re_, K_PFN, 4)):
                        v = p + 4
                        if (v + 2 < re_ and b[v] == 48
                                and (b[v + 1] == 120 or b[v + 1] == 88)):
                            d = v + 2
                            while d < re_ and _hex(b[d]):
                                d += 1
                            if d > v + 2 and (d == re_ or b[d] == C_SP):
                                vs = v + 2
                                ve = d
                                hexa = True
                        if vs < 0:
                            d = _digits_end(b, v, re_)
                            if d > v and (d == re_ or b[d] == C_SP):
                                vs = v
                                ve = d
                elif c == 101:  # ...e= : page=(null), migratetype=
                    p = e - 4
                    if not has_null and p >= rs and _at(b, p, re_, K_NULLPAGE, 11):
                        has_null = True
                    p = e - 11
                    if ms < 0 and p >= rs and _at(b, p, re_, K_MIG, 12):
                        me = _signed_field(b, p + 12, re_)
                        ms = p + 12 if me >= 0 else -1
                elif c == 108:  # ...l= : percpu_refill=
                    p = e - 13
                    if fs < 0 and p >= rs and _at(b, p, re_, K_REFILL, 14):
                        fe = _signed_field(b, p + 14, re_)
                        fs = p + 14 if fe >= 0 else -1
                elif c == 114:  # ...r= : order=
                    p = e - 5
                    if (os_ < 0 and p >= rs and (p == rs or b[p - 1] == C_SP)
                            and _at(b, p, re_, K_ORDER, 6)):
                        oe = _signed_field(b, p + 6, re_)
                        os_ = p + 6 if oe >= 0 else -1
                elif c == 115:  # ...s= : gfp_flags=
                    p = e - 9
                    if (gs < 0 and p >= rs and _at(b, p, re_, K_GFP, 10) and p + 10 < re_
                            and b[p + 10] != C_SP):
                        gs = p + 10
            null_page = code == C_EV_ALLOC and has_null
            if not ok or (vs < 0 and not null_page):
                continue
            if not null_page:
                if ve - vs > (16 if hexa else 19):  # could overflow 64 bits
                    ok = False
                pfn = _uint_at(b, vs, ve, 16 if hexa else 10)
                pfn_ok = True
            if os_ >= 0:
                if not _fits(os_, oe, 9, b):
                    ok = False
                else:
                    o = _int_at(b, os_, oe)
                    order = o
                    order_ok = True
                    if o < 0 or o > C_MAX_ORDER:
                        ok = False
            elif code == C_EV_FREE_BATCHED:
                order_ok = True
            else:
                ok = False
            if gs >= 0:
                g_s = gs
                g_e = _token_end(b, gs, re_)
            if code == C_EV_ALLOC and g_s < 0:
                ok = False
            if ms >= 0:
                if _fits(ms, me, 9, b):
                    mig = _int_at(b, ms, me)
                    mig_ok = True
                else:
                    ok = False
            if fs >= 0:
                if _fits(fs, fe, 9, b):
                    refill = _int_at(b, fs, fe)
                    refill_ok = True
                else:
                    ok = False
            if code == C_EV_ZONE_LOCKED and not (mig_ok and refill_ok):
                ok = False
        elif code == C_EV_SWITCH:
            # prev_comm=(.*?) prev_pid=(-?\d+), and next_ the same
            for side in range(2):
                kc = K_PREV_COMM if side == 0 else K_NEXT_COMM
                kp = K_PREV_PID if side == 0 else K_NEXT_PID
                p = _find(b, rs, re_, kc, kc_n)
                if p < 0:
                    ok = False
                    break
                c0 = p + kc_n
                pos = c0
                found = -1
                q = -1
                while True:
                    m = _find(b, pos, re_, kp, kp_n)
                    if m < 0:
                        break
                    q = _signed(b, m + kp_n, re_)
                    if q >= 0:
                        found = m
                        break
                    pos = m + 1
                if found < 0:
                    ok = False
                    break
                v = found + kp_n
                if not _fits(v, q, 9, b):
                    ok = False
                    break
                if side == 0:
                    pc_s = c0
                    pc_e = found
                    prev_pid = _int_at(b, v, q)
                else:
                    nc_s = c0
                    nc_e = found
                    next_pid = _int_at(b, v, q)
        elif code == C_EV_TLB:
            # reason: \((-?\d+)\)\s*$ first, then reason[:=](-?\d+)\b
            e = re_
            while e > rs and b[e - 1] == C_SP:
                e -= 1
            got = False
            if e > rs and b[e - 1] == 41:
                d2 = e - 1
                while d2 > rs and _digit(b[d2 - 1]):
                    d2 -= 1
                if d2 < e - 1:
                    s2 = d2
                    if s2 > rs and b[s2 - 1] == 45:
                        s2 -= 1
                    if s2 > rs and b[s2 - 1] == 40:
                        if _fits(s2, e - 1, 9, b):
                            reason = _int_at(b, s2, e - 1)
                            got = True
                        else:
                            ok = False
            if not got and ok:
                _number_after(b, rs, re_, K_REASON, 6, True, &v, &q)
                if v < 0 or not _fits(v, q, 9, b):
                    ok = False
                else:
                    reason = _int_at(b, v, q)
            # pages[:=](-?\d+)(?:\s|$)
            _number_after(b, rs, re_, K_PAGES, 5, False, &v, &q)
            if v >= 0:
                if _fits(v, q, 18, b):
                    pages = _int_at(b, v, q)
                    pages_ok = True
                else:
                    ok = False
        if not ok:
            continue
        # k <= i < n: within every output row (checked by scan)
        out.ev[k] = <int8_t>code
        out.ts[k] = sec * 1_000_000_000 + frac
        out.pfn[k] = pfn
        out.pages[k] = pages
        out.i32[0][k] = <int32_t>i  # I32_LN
        out.i32[1][k] = <int32_t>_int_at(b, cs, ce)  # I32_CPU (at most 9 digits)
        out.i32[2][k] = <int32_t>_int_at(b, pid_s, pid_e)  # I32_PID (at most 9 digits)
        out.i32[3][k] = <int32_t>order
        out.i32[4][k] = <int32_t>mig
        out.i32[5][k] = <int32_t>refill
        out.i32[6][k] = <int32_t>prev_pid
        out.i32[7][k] = <int32_t>next_pid
        out.i32[8][k] = <int32_t>reason
        out.oks[0][k] = pfn_ok
        out.oks[1][k] = order_ok
        out.oks[2][k] = mig_ok
        out.oks[3][k] = refill_ok
        out.oks[4][k] = pages_ok
        out.spans[0][k] = <int32_t>t_s
        out.spans[5][k] = <int32_t>c_e
        out.spans[1][k] = <int32_t>ev_s
        out.spans[6][k] = <int32_t>ev_e
        out.spans[2][k] = <int32_t>g_s
        out.spans[7][k] = <int32_t>g_e
        out.spans[3][k] = <int32_t>pc_s
        out.spans[8][k] = <int32_t>pc_e
        out.spans[4][k] = <int32_t>nc_s
        out.spans[9][k] = <int32_t>nc_e
        k += 1
    return k


def scan(int mode, const uint8_t[::1] buf, const int32_t[::1] starts,
         const int32_t[::1] ends, clean, int64_t[:, ::1] i64, uint64_t[::1] pfn_out,
         int32_t[:, ::1] i32, oks, int8_t[::1] ev, int32_t[:, ::1] spans):
    """Read the lines [starts, ends) of buf, as tracefs or ``trace-cmd report`` text
    (``mode`` 0) or ``perf script`` text (1). Accepted lines fill row k of the outputs
    (i64, pfn_out, i32, oks, ev, spans; every field of the row is written, the line's
    number in ``i32[I32_LN]``); a rejected line is only skipped. Returns the number of
    accepted lines.

    Raises ValueError when an output has no room for one row per line, or a line's
    bounds lie outside buf (nothing is read out of bounds either way)."""
    cdef const uint8_t[::1] cl = _as_bytes(clean)
    cdef uint8_t[:, ::1] ok = _as_bytes(oks)
    cdef Py_ssize_t n = starts.shape[0]
    cdef Py_ssize_t rows, size = buf.shape[0]
    cdef _Out out
    cdef int r
    # every output has room for n rows: row k of an accepted line i has k <= i < n
    _need(ends.shape[0] >= n and cl.shape[0] >= n, "starts, ends and clean differ in size")
    _need(i64.shape[0] >= C_I64_ROWS and i64.shape[1] >= n, "i64 is too small")
    _need(pfn_out.shape[0] >= n, "pfn_out is too small")
    _need(i32.shape[0] >= C_I32_ROWS and i32.shape[1] >= n, "i32 is too small")
    _need(ok.shape[0] >= C_OK_ROWS and ok.shape[1] >= n, "oks is too small")
    _need(ev.shape[0] >= n, "ev is too small")
    _need(spans.shape[0] >= C_SPAN_ROWS and spans.shape[1] >= n, "spans is too small")
    if n == 0:
        return 0
    # (n >= 1 and every shape checked: the [r, 0] elements exist)
    out.ts = &i64[0, 0]
    out.pfn = &pfn_out[0]
    out.pages = &i64[2, 0]
    for r in range(C_I32_ROWS):
        out.i32[r] = &i32[r, 0]
    for r in range(C_OK_ROWS):
        out.oks[r] = &ok[r, 0]
    out.ev = &ev[0]
    for r in range(C_SPAN_ROWS):
        out.spans[r] = &spans[r, 0]
    cdef const uint8_t* b = _ptr(buf)
    cdef const int32_t* sp = &starts[0]
    cdef const int32_t* ep = &ends[0]
    cdef const uint8_t* cp = &cl[0]
    with nogil:
        rows = _scan(mode, b, size, sp, ep, cp, n, &out)
    if rows < 0:
        raise ValueError(f"_ctext: line {-1 - rows} lies outside the chunk")
    return rows


# ---------------------------------------------------------------- lines

def count_lines(const uint8_t[::1] buf):
    """Lines of a chunk without a final newline: newlines + 1."""
    cdef Py_ssize_t n = 1
    cdef Py_ssize_t p, size = buf.shape[0]
    cdef const uint8_t* b = _ptr(buf)
    with nogil:
        for p in range(size):  # p < size
            n += b[p] == 10
    return n


cdef inline void _line_end(const uint8_t* b, int32_t* starts, int32_t* ends, uint8_t* clean,
                           Py_ssize_t i, Py_ssize_t p, Py_ssize_t bad) noexcept nogil:
    """Close line i at the newline (or end) at p; a trailing carriage return is no part
    of the line (as ``_split`` strips it) nor counts against it."""
    cdef Py_ssize_t e = p
    if e > starts[i] and b[e - 1] == 13:  # starts[i] >= 0, p <= size: b[e - 1] in range
        e -= 1
        bad -= 1
    ends[i] = <int32_t>e
    clean[i] = bad == 0


cdef inline uint64_t _load8(const uint8_t* p) noexcept nogil:
    cdef uint64_t x
    memcpy(&x, p, 8)  # an unaligned load
    return x


cdef Py_ssize_t _lines(const uint8_t* b, Py_ssize_t n, int32_t* starts, int32_t* ends,
                       uint8_t* clean, Py_ssize_t cap) noexcept nogil:
    """The loop of :func:`lines`; -1 when the outputs (cap entries) are too small."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t bad = 0
    cdef Py_ssize_t nw = n // 8
    cdef Py_ssize_t w, lo, hi, p
    cdef uint64_t x
    cdef uint64_t low = 0x2020202020202020ULL
    cdef uint64_t one = 0x0101010101010101ULL
    cdef uint64_t top = 0x8080808080808080ULL
    cdef uint8_t c
    starts[0] = 0  # cap >= 1
    for w in range(nw + 1):
        if w < nw:
            x = _load8(b + w * 8)  # bytes [8w, 8w + 8) with 8w + 8 <= 8 nw <= n
            # a byte < 0x20, or a byte > 0x7e (exact tests, Bit Twiddling Hacks)
            if ((x - low) & ~x & top) == 0 and (((x + one) | x) & top) == 0:
                continue
            lo = w * 8
            hi = w * 8 + 8
        else:
            lo = nw * 8
            hi = n
        for p in range(lo, hi):  # p < hi <= n
            c = b[p]
            if c == 10:
                _line_end(b, starts, ends, clean, i, p, bad)
                i += 1
                if i >= cap:
                    return -1
                starts[i] = <int32_t>(p + 1)
                bad = 0
            else:
                bad += <uint8_t>(c - 32) > 94
    _line_end(b, starts, ends, clean, i, n, bad)
    return i + 1


def lines(const uint8_t[::1] buf, int32_t[::1] starts, int32_t[::1] ends, clean):
    """Fill line starts and ends (newlines excluded) of a chunk without a final newline,
    and whether each line is printable ASCII only (the lines the kernel may accept).

    Eight bytes at a time: a word with no byte below 0x20 (so no newline) and none above
    0x7e is skipped whole; the others are read byte by byte.

    Raises ValueError when the outputs have fewer than ``count_lines(buf)`` entries
    (or the chunk has 2 GiB or more: the offsets are 32-bit)."""
    cdef uint8_t[::1] cl = _as_bytes(clean)
    cdef Py_ssize_t cap = min(starts.shape[0], ends.shape[0], cl.shape[0])
    cdef Py_ssize_t n = buf.shape[0]
    cdef Py_ssize_t got
    _need(cap >= 1, "no room for a line")
    _need(n < 0x7fffffff, "the chunk is too large for 32-bit offsets")
    cdef const uint8_t* b = _ptr(buf)
    cdef int32_t* sp = &starts[0]
    cdef int32_t* ep = &ends[0]
    cdef uint8_t* cp = &cl[0]
    with nogil:
        got = _lines(b, n, sp, ep, cp, cap)
    _need(got >= 0, "more lines than room for them")


# ---------------------------------------------------------------- gather

def gather(const uint8_t[::1] buf, const int32_t[::1] starts, const int32_t[::1] ends,
           Py_ssize_t rows, int32_t[::1] offsets, uint8_t[::1] out):
    """Arrow string buffers of the spans [starts[i], ends[i]) of buf, i < rows (a start
    of -1 is a null, of length 0): offsets (rows + 1) and the bytes (``out``, as large
    as the spans' total, or None to only compute offsets). Returns the total.

    Raises ValueError on a span outside buf or outputs too small."""
    cdef Py_ssize_t size = buf.shape[0]
    cdef bint copy = out is not None
    cdef Py_ssize_t cap = out.shape[0] if copy else 0
    cdef Py_ssize_t o = 0
    cdef Py_ssize_t i, s, e
    cdef int bad = 0
    _need(rows >= 0 and starts.shape[0] >= rows and ends.shape[0] >= rows,
          "fewer spans than rows")
    _need(offsets.shape[0] >= rows + 1, "offsets is too small")
    cdef const uint8_t* b = _ptr(buf)
    cdef const int32_t* sp = &starts[0] if rows > 0 else NULL
    cdef const int32_t* ep = &ends[0] if rows > 0 else NULL
    cdef int32_t* op = &offsets[0]
    cdef uint8_t* dst = &out[0] if copy and cap > 0 else NULL
    with nogil:
        op[0] = 0
        for i in range(rows):
            s = sp[i]
            if s >= 0:
                e = ep[i]
                if e < s or e > size:
                    bad = 1
                    break
                if copy:
                    if o + (e - s) > cap:
                        bad = 2
                        break
                    if e > s:  # then s < e <= size and o + e - s <= cap
                        memcpy(dst + o, b + s, e - s)
                o += e - s
                if o > 0x7fffffff:
                    bad = 3
                    break
            op[i + 1] = <int32_t>o
    _need(bad != 1, "a span lies outside the chunk")
    _need(bad != 2, "out is too small")
    _need(bad != 3, "the spans' total exceeds 32-bit offsets")
    return o
