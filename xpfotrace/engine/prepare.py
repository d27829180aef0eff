"""Put a trace in replay order and classify what each event does (docs/model.md 1-3).

Everything downstream works on the NumPy arrays built here once per trace: the
page-acting events (``Actions``), one row per (action, frame) sorted by
(frame, action) (``Frames``), the refill runs (``Runs``) and the mm switches.
An event's ``rank`` is its position in (ts, seq) order.

Rows are classified by one lookup in an (event, gfp) table on the columns'
dictionary codes (``classify``; ``Trace.codes``, or computed here for a trace
without them). NumPy does the rest: per-CPU refill runs
from a radix sort on the CPU number, frame expansion by ``repeat``, and the
(frame, action) order from one sort of a packed 64-bit key. Numeric columns are
read through views of their chunks (``_Columns``): on this project's VMs fresh
memory costs microseconds per page, so copies and full-size temporaries are
avoided where a view or a blocked pass does.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.ma  # (see below)
import numpy.typing as npt
import polars as pl

from ..core.arrays import I32, I64
from ..core.lazy import lazy
from ..trace import CODED_COLUMNS, Codes, codes_of
from .classify import REFILL_MOVABLE, classify, mm_switches
from .columns import ColumnChunk, Columns
from .frames import MAX_SHIFT, Actions, Frames, Runs, UserAllocs, expand, refill_runs, user_allocs
from .percpu import BLOCK

# numpy.ma is imported with the engine, not inside a replay: Polars' NumPy-to-Series
# conversion asks for np.ma, whose first (lazy) import costs about 15 ms.


@dataclass
class Prepared:
    """A trace ready for the state and remote passes."""

    ts: I64  # every event, in replay order (index = rank)
    seq_column: pl.Series  # (seq by rank is made when asked for: ``seq``)
    cpu: I32
    actions: Actions
    frames: Frames  # every action's frames
    switches: I64  # ranks of the mm switches
    runs: Runs
    user_allocs: UserAllocs
    cpus: int  # N_trace
    t0: int
    duration_ns: int
    perm: I64 | None = None  # the rows of the trace in replay order (None: in order)

    def by_rank(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """A per-row array of the trace (in its row order) in replay order."""
        return values if self.perm is None else np.take(values, self.perm)

    @lazy
    def seq(self) -> I64:
        """Every event's seq, in replay order."""
        out: I64 = self.seq_column.to_numpy()
        return out

    @lazy
    def frames_without_refills(self) -> Frames:
        """The frames of allocations and frees only (what a variant without batch sees)."""
        return self.frames.subset(self.frames.kind < REFILL_MOVABLE)


def _in_order(ts: I64, seq: list[ColumnChunk]) -> bool:
    """Whether (ts, seq) strictly increases, checked block by block (``seq`` in its
    chunks: only ts is needed whole later)."""
    seq = [c for c in seq if c.stop > c.start]
    for c in seq:
        for start in range(c.start, c.stop - 1, BLOCK):  # a loop over blocks, not rows
            end = min(start + BLOCK + 1, c.stop)
            t, q = ts[start:end], c.values[start - c.start:end - c.start]
            ahead, behind = t[1:], t[:-1]
            if not ((ahead > behind) | ((ahead == behind) & (q[1:] > q[:-1]))).all():
                return False
    for c, d in itertools.pairwise(seq):  # where one chunk meets the next
        i = c.stop - 1
        if (ts[i], c.values[-1]) >= (ts[i + 1], d.values[0]):
            return False
    return True


def _replay_order(ts: I64, seq: list[ColumnChunk]) -> I64 | None:
    """The permutation that sorts events by (ts, seq), or None if they are in that order
    already (most traces are, and checking is cheap)."""
    if _in_order(ts, seq):
        return None
    seq_whole = np.concatenate([c.values for c in seq]) if seq else np.zeros(0, np.int64)
    order = pl.DataFrame({"ts": ts, "seq": seq_whole}).select(pl.arg_sort_by("ts", "seq"))
    return order.to_series().to_numpy().astype(np.int64)


def prepare(df: pl.DataFrame, cpus: int, codes: dict[str, Codes] | None = None) -> Prepared:
    """Order, classify and expand the events of a trace with ``cpus`` CPUs.

    ``codes`` (``Trace.codes``, row-aligned with ``df``) spares the string comparisons
    where it has the event and gfp columns. The refill runs and the mm switches are
    found on other threads while this one expands and sorts the frames (NumPy and
    Polars release the GIL).
    """
    cols = Columns(df)
    coded = {c: v for c, v in (codes or {}).items() if len(v.codes) == df.height}
    perm = _replay_order(cols.whole("ts"), cols.chunks("seq"))
    ev = df
    if perm is not None:
        ev = df[perm]
        cols = Columns(ev)
        coded = {c: Codes(np.take(v.codes, perm), v.values) for c, v in coded.items()}
    for name in CODED_COLUMNS:  # one rule table: a trace without codes gets them
        if name not in coded:
            coded[name] = codes_of(ev.get_column(name))
    with ThreadPoolExecutor(2) as pool:
        switches = pool.submit(mm_switches, ev, coded["event"])
        kind, zero, refill = classify(cols, coded)
        ts, cpu = cols.whole("ts"), cols.whole("cpu")
        found_runs = pool.submit(refill_runs, refill, cpu, ts)
        is_action = kind >= 0
        has_pfn = cols.valid("pfn")
        if has_pfn is not None:
            is_action &= has_pfn
        act = np.flatnonzero(is_action)
        actions = Actions(rank=act, cpu=np.compress(is_action, cpu),
                          kind=np.compress(is_action, kind), zero=np.compress(is_action, zero),
                          pfn=cols.compress("pfn", is_action, 0, np.uint64),
                          order=cols.compress("order", is_action, 0, np.int8, 0, MAX_SHIFT),
                          run=np.full(len(act), -1, dtype=np.int32))
        users = pool.submit(user_allocs, actions, cpus)
        frames = expand(actions, cpus)
        refill_ranks, run_of_refill, runs = found_runs.result()
        # the refill events that are actions (they have a pfn) get their runs
        at = np.searchsorted(act, refill_ranks)
        hit = at < len(act)
        hit[hit] = act[at[hit]] == refill_ranks[hit]
        actions.run[at[hit]] = run_of_refill[hit]
        t0 = int(ts[0]) if len(ts) else 0
        duration = int(ts[-1]) - t0 if len(ts) else 0
        return Prepared(ts=ts, seq_column=ev.get_column("seq"), cpu=cpu, actions=actions,
                        frames=frames, switches=switches.result(), runs=runs,
                        user_allocs=users.result(), cpus=cpus, t0=t0, duration_ns=duration,
                        perm=perm)
