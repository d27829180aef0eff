"""What each event does (docs/model.md sections 2-4): ONE rule table for every trace.

``classify`` looks each row up in an (event, gfp_flags) table built once per distinct
value of the two columns' dictionary codes (``Trace.codes``, free from a Parquet
file's dictionary pages, or computed by ``prepare`` for a trace without them). The
kind of each row:

- ``USER_ALLOC``: mm_page_alloc with a pfn other than 0 and user gfp flags
  (``core.gfp.is_user``); zero-filled when ``core.gfp.is_zero``;
- ``KERNEL_ALLOC``: any other mm_page_alloc with a pfn other than 0;
- ``FREE``: mm_page_free;
- ``REFILL_MOVABLE`` / ``REFILL_OTHER``: mm_page_alloc_zone_locked with
  percpu_refill=1, migratetype 1 (movable) or not;
- -1: acts on no page.

And which sched_switch is an mm switch (``mm_switches``, MODEL section 4).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from ..core import gfp
from ..core.arrays import BOOL, I8, I64
from ..trace import Codes
from .columns import Columns

# kind codes of page-acting events
USER_ALLOC, KERNEL_ALLOC, FREE, REFILL_MOVABLE, REFILL_OTHER = 0, 1, 2, 3, 4

#: next_comm prefixes of kernel threads (docs/model.md section 4); exact list.
KTHREAD_PREFIXES: tuple[str, ...] = (
    "swapper", "kworker/", "ksoftirqd/", "migration/", "rcu", "cpuhp/", "idle_inject/",
    "irq/", "kthreadd", "kswapd", "kcompactd", "khugepaged", "ksmd", "watchdog", "jbd2/",
    "oom_reaper", "kauditd", "khungtaskd", "writeback", "kblockd",
)


def is_mm_switch(next_pid: pl.Expr, next_comm: pl.Expr) -> pl.Expr:
    """True where the next task has a user address space."""
    kthread = pl.lit(False)
    for prefix in KTHREAD_PREFIXES:
        kthread = kthread | next_comm.str.starts_with(prefix)
    return (next_pid != 0) & ~kthread.fill_null(False)


def named(c: Codes, name: str) -> BOOL:
    """Rows whose coded value is ``name``."""
    if name not in c.values:
        return np.zeros(len(c.codes), bool)
    out: BOOL = c.codes == c.values.index(name)
    return out


def _one(values: npt.NDArray[Any]) -> BOOL:
    out: BOOL = values == 1
    return out


def _nonzero(values: npt.NDArray[Any]) -> BOOL:
    out: BOOL = values != 0
    return out


def classify(cols: Columns, codes: dict[str, Codes]) -> tuple[I8, BOOL, BOOL]:
    """Per event: kind (-1: acts on no page), zero-filled, and refill (percpu_refill=1).
    The strings are looked at once per distinct value, the rows only as small integers.

    One table lookup on (event, gfp) gives each row's kind as its names say; then
    allocations without a pfn (or pfn 0) act on nothing, and the few
    mm_page_alloc_zone_locked rows are checked for percpu_refill and migratetype."""
    event, flags = codes["event"], codes["gfp_flags"]
    bits = [gfp.decode(v) for v in flags.values]
    zero = np.array([gfp.is_zero(x) for x in bits] + [False])[flags.codes]  # -1: null
    width = len(flags.values) + 1  # column 0: null gfp_flags; row 0: null event
    table = np.full((len(event.values) + 1, width), -1, dtype=np.int8)
    names = {v: i + 1 for i, v in enumerate(event.values)}
    if "mm_page_alloc" in names:
        table[names["mm_page_alloc"]] = [KERNEL_ALLOC] + [
            USER_ALLOC if gfp.is_user(x) else KERNEL_ALLOC for x in bits]
    if "mm_page_free" in names:
        table[names["mm_page_free"]] = FREE
    if "mm_page_alloc_zone_locked" in names:
        table[names["mm_page_alloc_zone_locked"]] = REFILL_OTHER
    cell = event.codes + 1
    cell *= width
    cell += flags.codes
    cell += 1
    kind: I8 = np.take(table.ravel(), cell)
    # kinds 0 and 1 (the allocations; -1 reads as 255 unsigned) need a pfn other than 0
    np.putmask(kind, (kind.view(np.uint8) <= KERNEL_ALLOC) & ~cols.test("pfn", _nonzero), -1)
    locked = np.flatnonzero(kind == REFILL_OTHER)
    is_refill = cols.test_at("percpu_refill", locked, _one)
    movable = cols.test_at("migratetype", locked, _one)
    kind[np.compress(~is_refill, locked)] = -1
    kind[np.compress(is_refill & movable, locked)] = REFILL_MOVABLE
    refill = np.zeros(len(kind), dtype=bool)
    refill[np.compress(is_refill, locked)] = True
    return kind, zero, refill


def mm_switches(ev: pl.DataFrame, event: Codes) -> I64:
    """Ranks of the mm switches: sched_switch to a task with an address space."""
    # the sched_switch rows from the codes, then their next task
    rows = np.flatnonzero(named(event, "sched_switch"))
    mm = ev.select("next_pid", "next_comm")[rows].select(
        is_mm_switch(pl.col("next_pid"), pl.col("next_comm"))).to_series().to_numpy()
    out: I64 = rows[mm].astype(np.int64)
    return out
