"""A deliberately simple, loop-per-event implementation of MODEL.md, for tests only.

It follows the text literally (page bits in dicts, pending flags per CPU, every
(request, CPU) window in a list) and shares no code with the engine except the
gfp bit table and the kernel-thread prefix list, which are data.
"""

from __future__ import annotations

from typing import Any

from xpfotrace.core import gfp
from xpfotrace.engine.classify import KTHREAD_PREFIXES

FULL = "FULL"
CEILING = 33


def _is_mm_switch(e: dict[str, Any]) -> bool:
    if e["next_pid"] == 0:
        return False
    return not any(e["next_comm"].startswith(p) for p in KTHREAD_PREFIXES)


def state_replay(events: list[dict[str, Any]], batch: bool, lazy: bool,
                 only: Any = None) -> tuple[list, dict]:
    """Requests (ts, seq, cpu, pages, origin) and per-CPU counters of one variant.

    ``only(event)`` (--only): every event changes the page state, but only the events it
    selects count and make requests (a refill run is its last event's)."""
    order = sorted(events, key=lambda e: (e["ts"], e["seq"]))
    user: dict[int, bool] = {}
    unm: dict[int, bool] = {}
    per_cpu: dict[int, dict[str, int]] = {}
    reqs: list[tuple[int, int, int, Any, str]] = []
    run: dict[int, dict[str, Any]] = {}  # cpu -> open run {last, marked}

    counting = [True]  # whether the event being replayed is counted

    def cnt(cpu: int, key: str, n: int = 1) -> None:
        if not counting[0]:
            return
        d = per_cpu.setdefault(cpu, {})
        d[key] = d.get(key, 0) + n

    def end_run(cpu: int) -> None:
        r = run.pop(cpu, None)
        if r is None:
            return
        if only is not None and not only(r["last"]):
            return
        per_cpu.setdefault(cpu, {})
        per_cpu[cpu]["refill_runs"] = per_cpu[cpu].get("refill_runs", 0) + 1
        if r["marked"]:
            last = r["last"]
            reqs.append((last["ts"], last["seq"], cpu, FULL, "refill"))

    def remap_kernel(f: int, cpu: int) -> None:
        user[f] = False
        if unm.get(f, False):
            unm[f] = False
            cnt(cpu, "remaps")

    for e in order:
        cpu = e["cpu"]
        is_refill = (e["event"] == "mm_page_alloc_zone_locked" and e["percpu_refill"] == 1)
        if batch and not is_refill:
            end_run(cpu)
        counting[0] = only is None or only(e)
        name = e["event"]
        if name == "mm_page_alloc":
            if e["pfn"] is None or e["pfn"] == 0:
                continue
            bits = gfp.decode(e["gfp_flags"])
            frames = [e["pfn"] + i for i in range(2 ** e["order"])]
            if gfp.is_user(bits):
                cnt(cpu, "user_allocs")
                zero = gfp.is_zero(bits)
                marked = False
                for f in frames:
                    if not lazy:
                        if not user.get(f, False):
                            user[f] = True
                            cnt(cpu, "user_sets")  # a pte write (MODEL.md section 5)
                            marked = True
                    else:
                        was_user = user.get(f, False)
                        user[f] = True
                        if (not was_user or not zero) and not unm.get(f, False):
                            unm[f] = True
                            cnt(cpu, "unmaps")
                            marked = True
                if marked and counting[0]:
                    reqs.append((e["ts"], e["seq"], cpu, len(frames), "alloc"))
                if zero:
                    for f in frames:
                        if unm.get(f, False):
                            unm[f] = False
                            cnt(cpu, "remaps")
                        unm[f] = True
                        cnt(cpu, "unmaps")
                        if counting[0]:
                            reqs.append((e["ts"], e["seq"], cpu, 1, "kunmap"))
            else:
                cnt(cpu, "kernel_allocs")
                for f in frames:
                    remap_kernel(f, cpu)
        elif name == "mm_page_free":
            for f in (e["pfn"] + i for i in range(2 ** e["order"])):
                if user.get(f, False) and not lazy:
                    user[f] = False
                    if unm.get(f, False):
                        unm[f] = False
                        cnt(cpu, "remaps")
        elif is_refill and batch:
            r = run.setdefault(cpu, {"marked": False})
            r["last"] = e
            for f in (e["pfn"] + i for i in range(2 ** e["order"])):
                if e["migratetype"] == 1:
                    user[f] = True
                    if not unm.get(f, False):
                        unm[f] = True
                        cnt(cpu, "unmaps")
                        r["marked"] = True
                else:
                    remap_kernel(f, cpu)
    for cpu in list(run):
        end_run(cpu)
    return reqs, per_cpu


def remote_deferred(reqs: list, switches: list, n: int, n_trace: int, t0: int,
                    dur: int, bound: int | None = None) -> dict[str, Any]:
    k = -(-n // n_trace)
    d = dur + 1
    timeline = []
    for v in range(n):
        c, r = v % n_trace, v // n_trace
        shift = (r * d) // k
        for ts, seq, cpu, _pages, _o in reqs:
            if cpu == c:
                timeline.append((t0 + (ts - t0 + shift) % d, r, seq, 0, v))
        for ts, seq, cpu in switches:
            if cpu == c:
                timeline.append((t0 + (ts - t0 + shift) % d, r, seq, 1, v))
    timeline.sort(key=lambda x: (x[0], x[1], x[2]))
    open_reqs: dict[int, list[int]] = {v: [] for v in range(n)}
    flushes = 0
    bounded = 0
    windows: list[int] = []

    def bounded_flush(o: int) -> None:
        # MODEL.md section 8: one full flush at a + T clearing every request pending on o
        nonlocal bounded
        at = open_reqs[o][0] + bound
        bounded += 1
        windows.extend(at - t for t in open_reqs[o])
        open_reqs[o] = []

    for mts, _r, _seq, is_switch, v in timeline:
        if bound is not None:
            # every item with ts <= a + T comes before o's bounded flush at a + T
            for o in range(n):
                while open_reqs[o] and open_reqs[o][0] + bound < mts:
                    bounded_flush(o)
        if is_switch:
            if open_reqs[v]:
                flushes += 1
                windows.extend(mts - t for t in open_reqs[v])
                open_reqs[v] = []
        else:
            for other in range(n):
                if other != v:
                    open_reqs[other].append(mts)
    if bound is not None:
        t_end = t0 + dur  # the trace's last ts, t0 + D - 1
        for o in range(n):
            while open_reqs[o] and open_reqs[o][0] + bound <= t_end:
                bounded_flush(o)
    censored = sum(len(x) for x in open_reqs.values())
    windows.sort()

    def q(p: int) -> int | None:
        if not windows:
            return None
        return windows[(p * len(windows) + 99) // 100 - 1]

    return {"remote_full_flushes": flushes + bounded, "bounded_flushes": bounded,
            "windows": len(windows),
            "censored_windows": censored, "window_p50_ns": q(50), "window_p99_ns": q(99),
            "window_max_ns": q(100)}


UNITS = {"ns": 1, "us": 1000, "ms": 1000_000, "s": 1000_000_000}


def parse_strategy(strategy: str) -> tuple[str, dict[str, int]]:
    """`deferred+batch@bound=2ms@ceiling=64` -> ("deferred+batch", {"bound": 2000000,
    "ceiling": 64}) (MODEL.md section 8); no validation."""
    base, *params = strategy.split("@")
    out: dict[str, int] = {}
    for p in params:
        key, value = p.split("=")
        if key == "bound":
            for unit in ("ns", "us", "ms", "s"):
                if value.endswith(unit):
                    out[key] = int(value[: -len(unit)]) * UNITS[unit]
                    break
        else:
            out[key] = int(value)
    return base, out


def reference_replay(events: list[dict[str, Any]], n_trace: int, n: int,
                     strategy: str, only: Any = None) -> dict[str, Any]:
    """All counters of one strategy (MODEL.md section 5) on n CPUs."""
    keys = ["requests", "alloc_requests", "kunmap_requests", "refill_requests",
            "full_requests", "local_invlpg_pages", "ipis", "remote_invlpg_pages",
            "remote_full_flushes", "user_allocs", "kernel_allocs", "unmaps", "remaps",
            "pte_writes", "refill_runs"]
    out: dict[str, Any] = {k: 0 for k in keys}
    base, params = parse_strategy(strategy)
    if base == "none":
        return out
    ceiling = params.get("ceiling", CEILING)
    bound = params.get("bound")
    remote, *opts = base.split("+")
    reqs, per_cpu = state_replay(events, "batch" in opts, "lazy" in opts, only)
    mult = {c: sum(1 for v in range(n) if v % n_trace == c) for c in range(n_trace)}
    for cpu, d in per_cpu.items():
        m = mult.get(cpu, 0)
        for key, val in d.items():
            if key != "user_sets":
                out[key] += val * m
        # MODEL.md section 5: unmaps + remaps + frames whose user bit a non-lazy user
        # allocation set
        out["pte_writes"] += (d.get("unmaps", 0) + d.get("remaps", 0)
                              + d.get("user_sets", 0)) * m
    for _ts, _seq, cpu, pages, origin in reqs:
        m = mult.get(cpu, 0)
        out["requests"] += m
        out[origin + "_requests"] += m
        full = pages == FULL or pages > ceiling
        if full:
            out["full_requests"] += m
        else:
            out["local_invlpg_pages"] += pages * m
    if remote == "sync":
        out["ipis"] = out["requests"] * (n - 1)
        out["remote_invlpg_pages"] = out["local_invlpg_pages"] * (n - 1)
        out["remote_full_flushes"] = out["full_requests"] * (n - 1)
        return out
    switches = [(e["ts"], e["seq"], e["cpu"]) for e in events
                if e["event"] == "sched_switch" and _is_mm_switch(e)]
    t0 = min(e["ts"] for e in events)
    dur = max(e["ts"] for e in events) - t0
    out.update(remote_deferred(reqs, switches, n, n_trace, t0, dur, bound))
    return out


def assert_matches(got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert got["trace"] == expected["trace"]
    assert got["observed"] == expected["observed"]
    assert got["cpus"] == expected["cpus"]
    for name, counters in expected["strategies"].items():
        mine = got["strategies"][name]
        assert {k: mine.get(k) for k in counters} == counters, name
    none = got["strategies"]["none"]
    assert all(v in (0, None) for v in none.values())
