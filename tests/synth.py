"""Builders of SYNTHETIC traces for unit tests (not captured from a kernel)."""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa
from hypothesis import strategies as st

from xpfotrace.core.schema import EVENT_SCHEMA
from xpfotrace.core.traceinfo import TraceInfo
from xpfotrace.trace import Trace

USER = "GFP_HIGHUSER_MOVABLE|__GFP_COMP"
USER_ZERO = "GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP"
KERNEL = "GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP"


def ev(event: str, ts: int, cpu: int = 0, **fields: Any) -> dict[str, Any]:
    return {"event": event, "ts": ts, "cpu": cpu, **fields}


def alloc(ts: int, pfn: int, gfp: str = USER, order: int = 0, cpu: int = 0) -> dict[str, Any]:
    return ev("mm_page_alloc", ts, cpu, pfn=pfn, order=order, gfp_flags=gfp, migratetype=1)


def free(ts: int, pfn: int, order: int = 0, cpu: int = 0) -> dict[str, Any]:
    return ev("mm_page_free", ts, cpu, pfn=pfn, order=order)


def refill(ts: int, pfn: int, mt: int = 1, cpu: int = 0, percpu: int = 1,
           order: int = 0) -> dict[str, Any]:
    return ev("mm_page_alloc_zone_locked", ts, cpu, pfn=pfn, order=order, migratetype=mt,
              percpu_refill=percpu)


def switch(ts: int, cpu: int, next_comm: str = "bash", next_pid: int = 100) -> dict[str, Any]:
    return ev("sched_switch", ts, cpu, prev_comm="x", prev_pid=1, next_comm=next_comm,
              next_pid=next_pid)


def with_seq(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Number events in list order (seq = position in the 'file')."""
    return [{**e, "seq": i} for i, e in enumerate(events)]


def make_trace(events: list[dict[str, Any]], cpus: int | None = None) -> Trace:
    events = with_seq(events) if events and "seq" not in events[0] else events
    cols: dict[str, list[Any]] = {f.name: [] for f in EVENT_SCHEMA}
    for e in events:
        for name in cols:
            cols[name].append(e.get(name))
    for i in range(len(events)):
        cols["pid"][i] = cols["pid"][i] if cols["pid"][i] is not None else 1
        cols["comm"][i] = cols["comm"][i] or "synthetic"
    table = pa.table(cols, schema=EVENT_SCHEMA)
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    max_cpu = max((e["cpu"] for e in events), default=0)
    return Trace(df=df, info=TraceInfo(source_format="synthetic", cpus_header=cpus,
                                       max_cpu=max_cpu, events=len(events)))


GFPS = [USER, USER_ZERO, KERNEL, "GFP_NOWAIT", "GFP_TRANSHUGE", "0x100cca", "0x100dca",
        "GFP_HIGHUSER|__GFP_ZERO", "none"]
COMMS = ["bash", "cc1", "swapper/0", "kworker/0:1", "rcu_sched", "ksoftirqd/1", "make"]


@st.composite
def traces(draw: Any) -> tuple[list[dict[str, Any]], int, int]:
    n_trace = draw(st.integers(1, 3))
    n = draw(st.integers(n_trace, 3 * n_trace + 1))
    n_events = draw(st.integers(1, 45))
    events = []
    for _ in range(n_events):
        kind = draw(st.sampled_from(["alloc", "alloc", "free", "refill", "refill", "switch",
                                     "tlb", "drain", "other"]))
        e: dict[str, Any] = {"ts": draw(st.integers(0, 40)), "cpu": draw(st.integers(0, n_trace - 1))}
        pfn = draw(st.integers(0, 10))
        order = draw(st.sampled_from([0, 0, 0, 1, 2]))
        if kind == "alloc":
            e.update(event="mm_page_alloc", pfn=pfn, order=order, gfp_flags=draw(st.sampled_from(GFPS)),
                     migratetype=1)
        elif kind == "free":
            e.update(event="mm_page_free", pfn=pfn, order=order)
        elif kind == "refill":
            e.update(event="mm_page_alloc_zone_locked", pfn=pfn, order=order,
                     migratetype=draw(st.sampled_from([0, 1, 1, 2])),
                     percpu_refill=draw(st.sampled_from([0, 1, 1, 1])))
        elif kind == "switch":
            e.update(event="sched_switch", prev_comm="p", prev_pid=5,
                     next_comm=draw(st.sampled_from(COMMS)),
                     next_pid=draw(st.sampled_from([0, 7, 8])))
        elif kind == "tlb":
            e.update(event="tlb_flush", tlb_pages=-1, tlb_reason=draw(st.integers(0, 5)))
        elif kind == "drain":
            e.update(event="mm_page_pcpu_drain", pfn=pfn, order=order, migratetype=1)
        else:
            e.update(event="sched_process_fork")
        events.append(e)
    return with_seq(events), n_trace, n
