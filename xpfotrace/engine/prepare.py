"""Put a trace in replay order and classify what each event does (MODEL.md 1-3).

Everything downstream works on the frames this module builds: events in
``(ts, seq)`` order carry a ``rank``; page-acting events get a ``kind``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .. import gfp

# kind codes of page-acting events
USER_ALLOC, KERNEL_ALLOC, FREE, REFILL_MOVABLE, REFILL_OTHER = 0, 1, 2, 3, 4

#: next_comm prefixes of kernel threads (MODEL.md section 4); exact list.
KTHREAD_PREFIXES: tuple[str, ...] = (
    "swapper", "kworker/", "ksoftirqd/", "migration/", "rcu", "cpuhp/", "idle_inject/",
    "irq/", "kthreadd", "kswapd", "kcompactd", "khugepaged", "ksmd", "watchdog", "jbd2/",
    "oom_reaper", "kauditd", "khungtaskd", "writeback", "kblockd",
)


@dataclass
class Prepared:
    """A trace ready for the state and remote passes."""

    events: pl.DataFrame  # rank, ts, seq, cpu, event, ... in replay order
    actions: pl.DataFrame  # page-acting events: rank ts seq cpu kind zero pfn order run
    frames: pl.DataFrame  # one row per (action, frame): aidx (row of actions) cpu kind zero
    #                       frame; sorted by (frame, aidx)
    switches: pl.DataFrame  # mm switches: rank ts seq cpu
    runs: pl.DataFrame  # refill runs: run cpu ts seq (of the run's last event)
    cpus: int  # N_trace
    t0: int
    duration_ns: int


def is_mm_switch(next_pid: pl.Expr, next_comm: pl.Expr) -> pl.Expr:
    """True where the next task has a user address space."""
    kthread = pl.lit(False)
    for prefix in KTHREAD_PREFIXES:
        kthread = kthread | next_comm.str.starts_with(prefix)
    return (next_pid != 0) & ~kthread.fill_null(False)


def _gfp_class(events: pl.DataFrame) -> pl.DataFrame:
    """Add ``_user`` and ``_zero`` (null where gfp_flags is null): each distinct gfp
    string is classified once, and one mapping pass gives both bits."""
    allocs = events.filter(pl.col("event") == "mm_page_alloc")
    keys, user, zero = gfp.classify(allocs["gfp_flags"].unique().to_list())
    known = [i for i, k in enumerate(keys) if k is not None]
    bits = pl.col("gfp_flags").replace_strict(
        [keys[i] for i in known], [int(user[i]) | int(zero[i]) << 1 for i in known],
        default=None, return_dtype=pl.Int8)
    return events.with_columns(bits.alias("_gfp")).with_columns(
        (pl.col("_gfp") & 1 == 1).alias("_user"), (pl.col("_gfp") & 2 == 2).alias("_zero"),
    ).drop("_gfp")


def _in_replay_order(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` sorted by (ts, seq); most traces already are, and checking is cheap."""
    ts, seq = pl.col("ts"), pl.col("seq")
    step = ts.diff()
    ordered = df.select(((step > 0) | ((step == 0) & (seq.diff() > 0))).all()).item()
    return df if ordered else df.sort("ts", "seq")


def prepare(df: pl.DataFrame, cpus: int) -> Prepared:
    """Order, classify and expand the events of a trace with ``cpus`` CPUs."""
    ev = _in_replay_order(df).with_row_index("rank")
    ev = _gfp_class(ev)
    name = pl.col("event")
    pfn = pl.col("pfn")
    alloc_ok = (name == "mm_page_alloc") & pfn.is_not_null() & (pfn != 0)
    refill = (name == "mm_page_alloc_zone_locked") & (pl.col("percpu_refill") == 1)
    kind = (
        pl.when(alloc_ok & pl.col("_user")).then(pl.lit(USER_ALLOC))
        .when(alloc_ok).then(pl.lit(KERNEL_ALLOC))
        .when(name == "mm_page_free").then(pl.lit(FREE))
        .when(refill & (pl.col("migratetype") == 1)).then(pl.lit(REFILL_MOVABLE))
        .when(refill).then(pl.lit(REFILL_OTHER))
        .otherwise(None).cast(pl.Int8)
    )
    ev = ev.with_columns(kind.alias("kind"), pl.col("_zero").fill_null(False).alias("zero"))
    # refill runs: maximal runs of refill events consecutive among one CPU's events
    is_refill = refill.fill_null(False)
    ev = ev.with_columns(
        (is_refill & ~is_refill.shift(1).over("cpu").fill_null(False)).cast(pl.Int64)
        .cum_sum().over("cpu").alias("run")
    ).with_columns(pl.when(is_refill).then(pl.col("run")).otherwise(None).alias("run"))

    actions = ev.select("rank", "ts", "seq", "cpu", "kind", "zero", "pfn", "order", "run").filter(
        pl.col("kind").is_not_null() & pfn.is_not_null())
    frames = (
        actions.with_row_index("aidx").select(
            "aidx", "cpu", "kind", "zero",
            (pl.col("pfn") + pl.int_ranges(0, pl.lit(2, pl.Int64).pow(pl.col("order")))
             .cast(pl.List(pl.UInt64))).alias("frame"))
        .explode("frame")
        .sort("frame", maintain_order=True)  # stable: (frame, aidx) order
    )
    runs = (
        ev.filter(pl.col("run").is_not_null())
        .group_by("cpu", "run")
        .agg(pl.col("ts").last(), pl.col("seq").last(), pl.col("rank").last())
    )
    switches = (ev.select("rank", "ts", "seq", "cpu", "event", "next_pid", "next_comm")
                .filter(name == "sched_switch")
                .filter(is_mm_switch(pl.col("next_pid"), pl.col("next_comm")))
                .select("rank", "ts", "seq", "cpu"))
    first, last = ev.select(pl.col("ts").min().alias("a"), pl.col("ts").max().alias("b")).row(0)
    t0, duration = int(first), int(last) - int(first)
    return Prepared(events=ev, actions=actions, frames=frames, switches=switches, runs=runs,
                    cpus=cpus, t0=t0, duration_ns=duration)
