"""The Numba kernel behind :mod:`converters.textfast` (each function is compiled on its
first call, or loaded from Numba's cache).

Each rule here mirrors one expression of the Polars path (``textbase``,
``tracefs_text``, ``perf_script``); the comments name the expressions. The kernel
accepts a line only when its reading is certain to equal the Polars one; any doubt
rejects the line to that path. Only printable ASCII is accepted, so whitespace is
the space byte and ``\\w``/``\\d`` are ASCII.
"""

# mypy: ignore-errors

from __future__ import annotations

import numpy as np
from numba import njit

SP = 32
MAX_ORDER = 20

# event codes (0: any other event, whose fields are all null)
EV_ALLOC, EV_FREE, EV_FREE_BATCHED, EV_ZONE_LOCKED, EV_DRAIN, EV_SWITCH, EV_TLB = range(1, 8)

# event names, in the order of their codes (EV_ALLOC .. EV_TLB)
_EVENT_NAMES = tuple(np.frombuffer(name, dtype=np.uint8) for name in (
    b"mm_page_alloc", b"mm_page_free", b"mm_page_free_batched", b"mm_page_alloc_zone_locked",
    b"mm_page_pcpu_drain", b"sched_switch", b"tlb_flush"))

_K_PFN = np.frombuffer(b"pfn=", dtype=np.uint8)
_K_ORDER = np.frombuffer(b"order=", dtype=np.uint8)
_K_GFP = np.frombuffer(b"gfp_flags=", dtype=np.uint8)
_K_MIG = np.frombuffer(b"migratetype=", dtype=np.uint8)
_K_REFILL = np.frombuffer(b"percpu_refill=", dtype=np.uint8)
_K_NULLPAGE = np.frombuffer(b"page=(null)", dtype=np.uint8)
_K_PREV_COMM = np.frombuffer(b"prev_comm=", dtype=np.uint8)
_K_PREV_PID = np.frombuffer(b" prev_pid=", dtype=np.uint8)
_K_NEXT_COMM = np.frombuffer(b"next_comm=", dtype=np.uint8)
_K_NEXT_PID = np.frombuffer(b" next_pid=", dtype=np.uint8)
_K_REASON = np.frombuffer(b"reason", dtype=np.uint8)
_K_PAGES = np.frombuffer(b"pages", dtype=np.uint8)


@njit(cache=True)
def _digit(c):
    return 48 <= c <= 57


@njit(cache=True)
def _word(c):  # \w in ASCII
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122) or c == 95


@njit(cache=True)
def _hex(c):
    return (48 <= c <= 57) or (65 <= c <= 70) or (97 <= c <= 102)


@njit(cache=True)
def _at(buf, pos, end, key):
    """buf[pos:] starts with key (within end)."""
    n = key.size
    if pos + n > end:
        return False
    for i in range(n):
        if buf[pos + i] != key[i]:
            return False
    return True


@njit(cache=True)
def _find(buf, pos, end, key):
    """First position >= pos where key occurs before end, or -1."""
    n = key.size
    first = key[0]
    last = end - n
    while pos <= last:
        if buf[pos] == first and _at(buf, pos, end, key):
            return pos
        pos += 1
    return -1


@njit(cache=True)
def _digits_end(buf, pos, end):
    while pos < end and _digit(buf[pos]):
        pos += 1
    return pos


@njit(cache=True)
def _int_at(buf, s, e):
    """Decimal value of buf[s:e] (an optional '-' then digits, already checked)."""
    neg = buf[s] == 45
    if neg:
        s += 1
    v = 0
    for i in range(s, e):
        v = v * 10 + (buf[i] - 48)
    return -v if neg else v


@njit(cache=True)
def _signed(buf, pos, end):
    """End of ``-?\\d+`` at pos, or -1."""
    p = pos
    if p < end and buf[p] == 45:
        p += 1
    q = _digits_end(buf, p, end)
    return q if q > p else -1


@njit(cache=True)
def _fits(s, e, max_digits, buf):
    """At most max_digits digits (a sign aside): no overflow in the target type."""
    if buf[s] == 45:
        s += 1
    return e - s <= max_digits


@njit(cache=True)
def _event_code(buf, s, e):
    """The code of the event name buf[s:e] (EV_*), 0 for any other event."""
    for i, name in enumerate(_EVENT_NAMES):
        if e - s == name.size and _at(buf, s, e, name):
            return i + 1
    return 0


@njit(cache=True)
def _uint_at(buf, s, e, base):
    """Value of the digits buf[s:e] in ``base`` (10 or 16, already checked)."""
    v = np.uint64(0)
    for q in range(s, e):
        c = buf[q]
        h = c - 48 if c <= 57 else (c - 55 if c <= 70 else c - 87)
        v = v * np.uint64(base) + np.uint64(h)
    return v


@njit(cache=True)
def _number_after(buf, rs, re_, key, word_end):
    """The leftmost ``key[:=](-?\\d+)`` whose number ends before a non-word byte
    (``word_end``: ``\\b``) or a space (else), or at the end: (start, end) of the
    number, or (-1, -1)."""
    pos = rs
    while True:
        p = _find(buf, pos, re_, key)
        if p < 0:
            return -1, -1
        v = p + key.size
        if v < re_ and (buf[v] == 58 or buf[v] == 61):
            q = _signed(buf, v + 1, re_)
            if q >= 0 and (q == re_ or (not _word(buf[q]) if word_end else buf[q] == SP)):
                return v + 1, q
        pos = p + 1


@njit(cache=True)
def _stamp(buf, s, e):
    """``\\d+\\.\\d+:`` exactly on buf[s:e] -> position of '.', else -1."""
    p = _digits_end(buf, s, e)
    if p == s or p >= e or buf[p] != 46:
        return -1
    q = _digits_end(buf, p + 1, e)
    if q == p + 1 or q != e - 1 or buf[q] != 58:
        return -1
    return p


@njit(cache=True)
def _token_end(buf, pos, end):
    while pos < end and buf[pos] != SP:
        pos += 1
    return pos


@njit(cache=True)
def _spaces_end(buf, pos, end):
    while pos < end and buf[pos] == SP:
        pos += 1
    return pos


@njit(cache=True)
def _word_colon(buf, pos, end):
    """``\\w+:`` at pos -> position of ':' or -1."""
    p = pos
    while p < end and _word(buf[p]):
        p += 1
    if p == pos or p >= end or buf[p] != 58:
        return -1
    return p


# rows of the output matrices given to scan
I64_TS, I64_PFN, I64_TLB_PAGES = 0, 1, 2
(I32_LN, I32_CPU, I32_PID, I32_ORDER, I32_MIG, I32_REFILL, I32_PREV_PID, I32_NEXT_PID,
 I32_TLB_REASON) = range(9)
OK_PFN, OK_ORDER, OK_MIG, OK_REFILL, OK_TLB_PAGES = range(5)
#: perf's event modifier letters (converters/perf_script.py MODIFIERS)
_MODIFIERS = np.frombuffer(b"ukhIGHpPSDWebR", dtype=np.uint8).copy()


@njit(cache=True)
def _modifiers_only(buf, s, e):
    """buf[s:e] is made of perf's modifier letters only (e > s)."""
    for p in range(s, e):
        found = False
        for m in _MODIFIERS:
            if buf[p] == m:
                found = True
        if not found:
            return False
    return True


# string spans: rows 0-4 starts (-1: null), 5-9 ends
S_COMM, S_EVENT, S_GFP, S_PREV_COMM, S_NEXT_COMM = range(5)


@njit(nogil=True, cache=True)
def scan(mode, buf, starts, ends, clean, i64, pfn_out, i32, oks, ev, spans):
    """Read the lines [starts, ends) of buf, as tracefs or ``trace-cmd report`` text
    (``mode`` 0) or ``perf script`` text (1). Accepted lines fill row k of the outputs
    (i64, pfn_out, i32, oks, ev, spans; every field of the row is written, the line's
    number in ``i32[I32_LN]``); a rejected line is only skipped. Returns the number of
    accepted lines."""
    n = starts.size
    k = 0
    for i in range(n):
        ls = starts[i]
        le = ends[i]
        ok = True
        br = ls
        while br < le and buf[br] != 91:
            br += 1
        if not clean[i] or br == le:
            continue
        # --- the anchor at the first '[':
        # \[\d+\]\s+(?:[^\s\[\]]{4,5}\s+)?\d+\.\d+:\s+\w+:\s*
        cs = br + 1
        ce = _digits_end(buf, cs, le)
        t1s = _spaces_end(buf, ce + 1, le)
        if ce == cs or ce >= le or buf[ce] != 93 or t1s == ce + 1 or ce - cs > 9:
            continue
        t1e = _token_end(buf, t1s, le)
        t2s = _spaces_end(buf, t1e, le)
        if t2s == t1e or t2s >= le:
            continue
        t2e = _token_end(buf, t2s, le)
        stamp_s = -1
        dot = -1
        ev_s = -1
        if mode == 0:
            # option A: flags then the stamp (the regex prefers it)
            flags = False
            if t1e - t1s == 4 or t1e - t1s == 5:
                flags = True
                for p in range(t1s, t1e):
                    if buf[p] == 91 or buf[p] == 93:
                        flags = False
                if flags:
                    t3s = _spaces_end(buf, t2e, le)
                    d = _stamp(buf, t2s, t2e)
                    if d >= 0 and t3s > t2e and _word_colon(buf, t3s, le) >= 0:
                        stamp_s = t2s
                        dot = d
                        ev_s = t3s
                        # a stamp-like flags token would be read as the stamp
                        for p in range(t1s, t1e):
                            if buf[p] == 58:
                                ok = False
                    else:
                        flags = False
            if not flags:
                d = _stamp(buf, t1s, t1e)
                if d >= 0 and _word_colon(buf, t2s, le) >= 0:
                    stamp_s = t1s
                    dot = d
                    ev_s = t2s
        else:
            # perf script: \[\d+\]\s+\d+\.\d+:\s+(?:\d+\s+)?\w+:\w+:\s*
            d = _stamp(buf, t1s, t1e)
            if d >= 0:
                ws = t2s
                if _digits_end(buf, t2s, le) == t2e:  # a period: \d+\s+ (then it must go on)
                    n2 = _spaces_end(buf, t2e, le)
                    if t2e < n2 < le:
                        ws = n2
                c1 = _word_colon(buf, ws, le)
                c2 = _word_colon(buf, c1 + 1, le) if c1 >= 0 else -1
                # (an "event" of perf's modifier letters only, as in cycles:u:, is no
                # tracepoint: left to the Polars path, which reads it as another event)
                if c2 >= 0 and not _modifiers_only(buf, c1 + 1, c2):
                    stamp_s = t1s
                    dot = d
                    ev_s = c1 + 1  # the event, after its system
        if not ok or stamp_s < 0:
            continue
        ev_e = _word_colon(buf, ev_s, le)
        rs = _spaces_end(buf, ev_e + 1, le)
        # --- stamp: sec * 1e9 + frac[:9] padded with zeros
        sec_e = dot
        frac_s = dot + 1
        frac_e = _digits_end(buf, frac_s, le)
        if sec_e - stamp_s > 9:
            continue
        sec = _int_at(buf, stamp_s, sec_e)
        frac = 0
        for j in range(9):
            frac = frac * 10 + (buf[frac_s + j] - 48 if frac_s + j < frac_e else 0)
        # --- head: text before the anchor, ending in whitespace
        if br == ls or buf[br - 1] != SP:
            continue
        r = br
        while r > ls and buf[r - 1] == SP:
            r -= 1
        if mode == 0:
            # \s+\(\s*[-\d]+\)\s+$ -> " "
            if r > ls and buf[r - 1] == 41:
                j = r - 2
                while j >= ls and (_digit(buf[j]) or buf[j] == 45):
                    j -= 1
                if j < r - 2:
                    while j >= ls and buf[j] == SP:
                        j -= 1
                    if j > ls and buf[j] == 40 and buf[j - 1] == SP:
                        q = j - 1
                        while q >= ls and buf[q] == SP:
                            q -= 1
                        r = q + 1
            t_s = _spaces_end(buf, ls, r)
            # pid: -\d+$ of the stripped text
            d = r
            while d > t_s and _digit(buf[d - 1]):
                d -= 1
            if d == r or d == t_s or buf[d - 1] != 45 or r - d > 9:
                continue
            c_e = d - 1
            while c_e > t_s and buf[c_e - 1] == SP:
                c_e -= 1
            pid_s = d
            pid_e = r
        else:
            # the last word of the head is the pid: \s-?\d+(?:/-?\d+)?$
            e2 = r
            while e2 > ls and _digit(buf[e2 - 1]):
                e2 -= 1
            s2 = e2 - 1 if e2 > ls and buf[e2 - 1] == 45 else e2
            pid_s, pid_e, tok = s2, r, s2
            if e2 < r and s2 > ls and buf[s2 - 1] == 47:  # pid/tid
                pid_e = s2 - 1
                pid_s = pid_e
                while pid_s > ls and _digit(buf[pid_s - 1]):
                    pid_s -= 1
                e2 = pid_s
                if pid_s > ls and buf[pid_s - 1] == 45:
                    pid_s -= 1
                tok = pid_s
            if (e2 == r or e2 == pid_e or tok == ls or buf[tok - 1] != SP
                    or pid_e - e2 > 9):
                continue
            t_s = _spaces_end(buf, ls, tok - 1)
            c_e = tok - 1
            while c_e > t_s and buf[c_e - 1] == SP:
                c_e -= 1
        # --- the event's fields
        code = _event_code(buf, ev_s, ev_e)
        re_ = le
        # the row's optional fields, null unless read below
        pfn = np.uint64(0)
        pfn_ok = order_ok = mig_ok = refill_ok = pages_ok = False
        order = mig = refill = prev_pid = next_pid = reason = 0
        pages = 0
        g_s = g_e = pc_s = pc_e = nc_s = nc_e = -1
        if EV_ALLOC <= code <= EV_DRAIN:
            # one pass over the fields, keeping each key's leftmost valid match:
            # pfn      (?:^|\s)pfn=(?:0[xX][0-9a-fA-F]+|\d+)(?:\s|$)  (hex tried first)
            # order    (?:^|\s)order=-?\d+(?:\s|$)
            # gfp      gfp_flags=\S+
            # mig      migratetype=-?\d+(?:\s|$)   refill  percpu_refill=-?\d+(?:\s|$)
            # and whether page=\(null\) occurs
            vs = ve = os_ = oe = gs = ms = me = fs = fe = -1
            hexa = False
            has_null = False
            for p in range(rs, re_):
                c = buf[p]
                if c == 112:  # p
                    if vs < 0 and (p == rs or buf[p - 1] == SP) and _at(buf, p, re_, _K_PFN):
                        v = p + 4
                        if (v + 2 < re_ and buf[v] == 48
                                and (buf[v + 1] == 120 or buf[v + 1] == 88)):
                            q = v + 2
                            while q < re_ and _hex(buf[q]):
                                q += 1
                            if q > v + 2 and (q == re_ or buf[q] == SP):
                                vs, ve, hexa = v + 2, q, True
                        if vs < 0:
                            q = _digits_end(buf, v, re_)
                            if q > v and (q == re_ or buf[q] == SP):
                                vs, ve = v, q
                    if not has_null and _at(buf, p, re_, _K_NULLPAGE):
                        has_null = True
                    if fs < 0 and _at(buf, p, re_, _K_REFILL):
                        q = _signed(buf, p + 14, re_)
                        if q >= 0 and (q == re_ or buf[q] == SP):
                            fs, fe = p + 14, q
                elif c == 111:  # o
                    if os_ < 0 and (p == rs or buf[p - 1] == SP) and _at(buf, p, re_, _K_ORDER):
                        q = _signed(buf, p + 6, re_)
                        if q >= 0 and (q == re_ or buf[q] == SP):
                            os_, oe = p + 6, q
                elif c == 103:  # g
                    if gs < 0 and _at(buf, p, re_, _K_GFP) and p + 10 < re_ and buf[p + 10] != SP:
                        gs = p + 10
                elif c == 109:  # m
                    if ms < 0 and _at(buf, p, re_, _K_MIG):
                        q = _signed(buf, p + 12, re_)
                        if q >= 0 and (q == re_ or buf[q] == SP):
                            ms, me = p + 12, q
            null_page = code == EV_ALLOC and has_null
            if not ok or (vs < 0 and not null_page):
                continue
            if not null_page:
                if ve - vs > (16 if hexa else 19):  # could overflow 64 bits
                    ok = False
                pfn = _uint_at(buf, vs, ve, 16 if hexa else 10)
                pfn_ok = True
            if os_ >= 0:
                if not _fits(os_, oe, 9, buf):
                    ok = False
                else:
                    o = _int_at(buf, os_, oe)
                    order = o
                    order_ok = True
                    if o < 0 or o > MAX_ORDER:
                        ok = False
            elif code == EV_FREE_BATCHED:
                order_ok = True
            else:
                ok = False
            if gs >= 0:
                g_s = gs
                g_e = _token_end(buf, gs, re_)
            if code == EV_ALLOC and g_s < 0:
                ok = False
            if ms >= 0:
                if _fits(ms, me, 9, buf):
                    mig = _int_at(buf, ms, me)
                    mig_ok = True
                else:
                    ok = False
            if fs >= 0:
                if _fits(fs, fe, 9, buf):
                    refill = _int_at(buf, fs, fe)
                    refill_ok = True
                else:
                    ok = False
            if code == EV_ZONE_LOCKED and not (mig_ok and refill_ok):
                ok = False
        elif code == EV_SWITCH:
            # prev_comm=(.*?) prev_pid=(-?\d+), and next_ the same
            for side in range(2):
                kc = _K_PREV_COMM if side == 0 else _K_NEXT_COMM
                kp = _K_PREV_PID if side == 0 else _K_NEXT_PID
                p = _find(buf, rs, re_, kc)
                if p < 0:
                    ok = False
                    break
                c0 = p + kc.size
                pos = c0
                found = -1
                q = -1
                while True:
                    m = _find(buf, pos, re_, kp)
                    if m < 0:
                        break
                    q = _signed(buf, m + kp.size, re_)
                    if q >= 0:
                        found = m
                        break
                    pos = m + 1
                if found < 0:
                    ok = False
                    break
                v = found + kp.size
                if not _fits(v, q, 9, buf):
                    ok = False
                    break
                if side == 0:
                    pc_s, pc_e = c0, found
                    prev_pid = _int_at(buf, v, q)
                else:
                    nc_s, nc_e = c0, found
                    next_pid = _int_at(buf, v, q)
        elif code == EV_TLB:
            # reason: \((-?\d+)\)\s*$ first, then reason[:=](-?\d+)\b
            e = re_
            while e > rs and buf[e - 1] == SP:
                e -= 1
            got = False
            if e > rs and buf[e - 1] == 41:
                d2 = e - 1
                while d2 > rs and _digit(buf[d2 - 1]):
                    d2 -= 1
                if d2 < e - 1:
                    s2 = d2
                    if s2 > rs and buf[s2 - 1] == 45:
                        s2 -= 1
                    if s2 > rs and buf[s2 - 1] == 40:
                        if _fits(s2, e - 1, 9, buf):
                            reason = _int_at(buf, s2, e - 1)
                            got = True
                        else:
                            ok = False
            if not got and ok:
                v, q = _number_after(buf, rs, re_, _K_REASON, True)
                if v < 0 or not _fits(v, q, 9, buf):
                    ok = False
                else:
                    reason = _int_at(buf, v, q)
            # pages[:=](-?\d+)(?:\s|$)
            v, q = _number_after(buf, rs, re_, _K_PAGES, False)
            if v >= 0:
                if _fits(v, q, 18, buf):
                    pages = _int_at(buf, v, q)
                    pages_ok = True
                else:
                    ok = False
        if not ok:
            continue
        ev[k] = code
        i64[I64_TS, k] = sec * 1_000_000_000 + frac
        pfn_out[k] = pfn
        i64[I64_TLB_PAGES, k] = pages
        i32[I32_LN, k] = i
        i32[I32_CPU, k] = _int_at(buf, cs, ce)
        i32[I32_PID, k] = _int_at(buf, pid_s, pid_e)
        i32[I32_ORDER, k] = order
        i32[I32_MIG, k] = mig
        i32[I32_REFILL, k] = refill
        i32[I32_PREV_PID, k] = prev_pid
        i32[I32_NEXT_PID, k] = next_pid
        i32[I32_TLB_REASON, k] = reason
        oks[OK_PFN, k] = pfn_ok
        oks[OK_ORDER, k] = order_ok
        oks[OK_MIG, k] = mig_ok
        oks[OK_REFILL, k] = refill_ok
        oks[OK_TLB_PAGES, k] = pages_ok
        spans[S_COMM, k] = t_s
        spans[S_COMM + 5, k] = c_e
        spans[S_EVENT, k] = ev_s
        spans[S_EVENT + 5, k] = ev_e
        spans[S_GFP, k] = g_s
        spans[S_GFP + 5, k] = g_e
        spans[S_PREV_COMM, k] = pc_s
        spans[S_PREV_COMM + 5, k] = pc_e
        spans[S_NEXT_COMM, k] = nc_s
        spans[S_NEXT_COMM + 5, k] = nc_e
        k += 1
    return k


@njit(nogil=True, cache=True)
def count_lines(buf):
    """Lines of a chunk without a final newline: newlines + 1."""
    n = 1
    for c in buf:
        n += c == 10
    return n


@njit(cache=True)
def _line_end(buf, starts, ends, clean, i, p, bad):
    """Close line i at the newline (or end) at p; a trailing carriage return is no part
    of the line (as ``_split`` strips it) nor counts against it."""
    e = p
    if e > starts[i] and buf[e - 1] == 13:
        e -= 1
        bad -= 1
    ends[i] = e
    clean[i] = bad == 0


@njit(nogil=True, cache=True)
def lines(buf, starts, ends, clean):
    """Fill line starts and ends (newlines excluded) of a chunk without a final newline,
    and whether each line is printable ASCII only (the lines the kernel may accept).

    Eight bytes at a time: a word with no byte below 0x20 (so no newline) and none above
    0x7e is skipped whole; the others are read byte by byte."""
    starts[0] = 0
    i = 0
    bad = 0
    n = buf.size
    nw = n // 8
    words = buf[:nw * 8].view(np.uint64)
    low = np.uint64(0x2020202020202020)
    one = np.uint64(0x0101010101010101)
    top = np.uint64(0x8080808080808080)
    for w in range(nw + 1):
        if w < nw:
            x = words[w]
            # a byte < 0x20, or a byte > 0x7e (exact tests, Bit Twiddling Hacks)
            if ((x - low) & ~x & top) == 0 and (((x + one) | x) & top) == 0:
                continue
            lo, hi = w * 8, w * 8 + 8
        else:
            lo, hi = nw * 8, n
        for p in range(lo, hi):
            c = buf[p]
            if c == 10:
                _line_end(buf, starts, ends, clean, i, p, bad)
                i += 1
                starts[i] = p + 1
                bad = 0
            else:
                bad += np.uint8(c - np.uint8(32)) > np.uint8(94)
    _line_end(buf, starts, ends, clean, i, n, bad)


@njit(nogil=True, cache=True)
def gather(buf, starts, ends, rows, offsets, out):
    """Arrow string buffers of the spans [starts[i], ends[i]) of buf, i < rows (a start
    of -1 is a null, of length 0): offsets (rows + 1) and the bytes (``out``, as large
    as the spans' total, or None to only compute offsets). Returns the total."""
    o = 0
    offsets[0] = 0
    for i in range(rows):
        b = starts[i]
        if b >= 0:
            e = ends[i]
            if out is not None:
                for j in range(b, e):
                    out[o] = buf[j]
                    o += 1
            else:
                o += e - b
        offsets[i + 1] = o
    return o
