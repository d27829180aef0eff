"""Render SYNTHETIC event dicts as the text formats the converters read (tests only)."""

from __future__ import annotations

from typing import Any

SYSTEM = {"mm_page_alloc": "kmem", "mm_page_free": "kmem", "mm_page_alloc_zone_locked": "kmem",
          "mm_page_pcpu_drain": "kmem", "sched_switch": "sched", "tlb_flush": "tlb",
          "sched_process_fork": "sched"}


def _fields(e: dict[str, Any], style: str) -> str:
    name = e["event"]
    page = "page=0x{:x}".format(e.get("pfn") or 0) if style != "tracefs" else \
        ("page=(null)" if not e.get("pfn") else "page=00000000deadbeef")
    if name == "mm_page_alloc":
        return (f"{page} pfn=0x{e['pfn']:x} order={e['order']} migratetype={e['migratetype']} "
                f"gfp_flags={e['gfp_flags']}")
    if name in ("mm_page_free", "mm_page_pcpu_drain"):
        extra = f" migratetype={e['migratetype']}" if name == "mm_page_pcpu_drain" else ""
        return f"{page} pfn=0x{e['pfn']:x} order={e['order']}{extra}"
    if name == "mm_page_alloc_zone_locked":
        return (f"{page} pfn=0x{e['pfn']:x} order={e['order']} migratetype={e['migratetype']} "
                f"percpu_refill={e['percpu_refill']}")
    if name == "sched_switch":
        if style == "trace-cmd":
            return (f"{e['prev_comm']}:{e['prev_pid']} [120] S ==> "
                    f"{e['next_comm']}:{e['next_pid']} [120]")
        return (f"prev_comm={e['prev_comm']} prev_pid={e['prev_pid']} prev_prio=120 "
                f"prev_state=S ==> next_comm={e['next_comm']} next_pid={e['next_pid']} "
                "next_prio=120")
    if name == "tlb_flush":
        if style == "trace-cmd":
            return f"pages={e['tlb_pages']} reason=some reason ({e['tlb_reason']})"
        return f"pages:{e['tlb_pages']} reason:some reason ({e['tlb_reason']})"
    return "comm=x pid=1 child_comm=x child_pid=2"


def _ts(ns: int, digits: int) -> str:
    sec, frac = divmod(ns, 1_000_000_000)
    return f"{sec}.{frac // 10 ** (9 - digits):0{digits}d}"


def render(events: list[dict[str, Any]], style: str, cpus: int, garbage: dict[int, str],
           digits: int = 9) -> str:
    """``garbage[i]`` is put before event i. Timestamps must be multiples of 10^(9-digits)."""
    out = {"tracefs": [f"# tracer: nop\n#\n# entries-in-buffer/entries-written: "
                       f"{len(events)}/{len(events)}   #P:{cpus}\n#\n"],
           "trace-cmd": [f"cpus={cpus}\n"], "perf": []}[style]
    for i, e in enumerate(events):
        if i in garbage:
            out.append(garbage[i] + "\n")
        comm, pid, ts = e.get("comm") or "task one", e.get("pid") or 42, _ts(e["ts"], digits)
        body = _fields(e, style)
        if style == "perf":
            sysname = SYSTEM.get(e["event"], "misc")
            out.append(f"{comm:>16} {pid:>6} [{e['cpu']:03d}] {ts}: "
                       f"{sysname}:{e['event']}: {body}\n")
        elif style == "tracefs":
            out.append(f"{comm:>16}-{pid:<7} [{e['cpu']:03d}] d..2. {ts}: {e['event']}: {body}\n")
        else:
            out.append(f"{comm:>16}-{pid:<5} [{e['cpu']:03d}] {ts}: {e['event']+':':<20} {body}\n")
    return "".join(out)
