"""State pass (MODEL.md section 3): page bits, counters and flush requests per variant.

Vectorized without a per-event loop. Each rule leaves a frame in a state that is
a constant or "unchanged", which makes the state *before* each event a
forward-fill plus shift within the frame's events (sorted by frame, rank):

* without ``lazy`` every reachable state has ``unmapped => user``; after a user
  allocation ``user = 1`` and ``unmapped`` is 1 (zero-filled) or unchanged; a
  kernel allocation, a free and a non-movable refill leave (0, 0) (a free of a
  frame whose ``user`` is clear finds it at (0, 0) already); a movable refill
  leaves (1, 1).
* with ``lazy`` both bits are always equal: a user allocation or movable refill
  leaves (1, 1), a kernel allocation or other refill (0, 0), a free changes
  nothing. One bit ``S`` is enough.

The property test in ``tests/test_reference.py`` checks this against a plain
loop over the MODEL text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from .prepare import FREE, KERNEL_ALLOC, REFILL_MOVABLE, REFILL_OTHER, USER_ALLOC, Prepared

#: tlb_single_page_flush_ceiling: requests of more pages are full flushes.
FLUSH_CEILING = 33

PER_CPU_COUNTERS: tuple[str, ...] = (
    "requests", "alloc_requests", "kunmap_requests", "refill_requests", "full_requests",
    "local_invlpg_pages", "user_allocs", "kernel_allocs", "unmaps", "remaps", "refill_runs",
)


@dataclass
class StateResult:
    """Outcome of the state pass for one (batch, lazy) variant."""

    requests: pl.DataFrame  # one row per requesting event: rank ts seq cpu n (its requests)
    per_cpu: pl.DataFrame  # cpu + PER_CPU_COUNTERS


def _prev(col: str, default: int) -> pl.Expr:
    """Value of ``col`` on the previous row of the same frame, else ``default``."""
    same = pl.col("frame") == pl.col("frame").shift(1)
    return pl.when(same).then(pl.col(col).shift(1)).otherwise(pl.lit(default)).cast(pl.Int8)


def _carry(value: pl.Expr, default: int) -> pl.Expr:
    """``value`` forward-filled within each frame (null = unchanged), ``default`` at start."""
    first = pl.col("frame") != pl.col("frame").shift(1).fill_null(pl.col("frame") + 1)
    seeded = pl.when(first & value.is_null()).then(pl.lit(default)).otherwise(value)
    return seeded.forward_fill().cast(pl.Int8)


def _frame_counters(frames: pl.DataFrame, lazy: bool, n_actions: int,
                    n_cpus: int) -> tuple[npt.NDArray[np.bool_], pl.DataFrame]:
    """Whether each action (row of ``actions``) marks a frame; unmaps and remaps per CPU."""
    kind, zero = pl.col("kind"), pl.col("zero")
    user_alloc = kind == USER_ALLOC
    sets_user = kind.is_in([USER_ALLOC, REFILL_MOVABLE])
    clears = kind.is_in([KERNEL_ALLOC, REFILL_OTHER])
    if lazy:
        f = frames.with_columns(
            _carry(pl.when(sets_user).then(1).when(clears).then(0).otherwise(None), 0)
            .alias("s_after")
        ).with_columns(_prev("s_after", 0).alias("s_prev"))
        s_prev = pl.col("s_prev") == 1
        mark = sets_user & ~s_prev
        unmap = mark.cast(pl.Int32) + (user_alloc & zero).cast(pl.Int32)
        remap = (user_alloc & zero).cast(pl.Int32) + (clears & s_prev).cast(pl.Int32)
    else:
        unm_set = (pl.when(user_alloc & ~zero).then(None)
                   .when(sets_user | (user_alloc & zero)).then(1).otherwise(0))
        f = frames.with_columns(
            sets_user.cast(pl.Int8).alias("u_after"),
            _carry(unm_set, 0).alias("m_after"),
        ).with_columns(_prev("u_after", 0).alias("u_prev"), _prev("m_after", 0).alias("m_prev"))
        u_prev, m_prev = pl.col("u_prev") == 1, pl.col("m_prev") == 1
        refill_new = (kind == REFILL_MOVABLE) & ~m_prev
        mark = (user_alloc & ~u_prev) | refill_new
        unmap = (user_alloc & zero).cast(pl.Int32) + refill_new.cast(pl.Int32)
        remap = ((user_alloc & zero & m_prev)
                 | (kind.is_in([KERNEL_ALLOC, FREE, REFILL_OTHER]) & m_prev)).cast(pl.Int32)
    per_frame = f.select("aidx", "cpu", mark.alias("mark"), unmap.alias("unmaps"),
                         remap.alias("remaps"))
    # an action marks when any of its frames does: a scatter into a small bool array
    # (cache-resident), not a group_by over 2 M frames
    marked = np.zeros(n_actions, dtype=bool)
    hit = per_frame["mark"].to_numpy()
    marked[per_frame["aidx"].to_numpy()[hit]] = True
    # unmaps and remaps are only counted per CPU: summed straight from the frames
    cpu = per_frame["cpu"].to_numpy()
    per_cpu = {c: np.bincount(cpu, weights=per_frame[c].to_numpy(), minlength=n_cpus)
               .astype(np.int64) for c in ("unmaps", "remaps")}
    cpus = np.arange(len(per_cpu["unmaps"]), dtype=np.int32)  # n_cpus, or more if events say so
    return marked, pl.DataFrame({"cpu": cpus, **per_cpu})


def state_pass(p: Prepared, *, batch: bool, lazy: bool) -> StateResult:
    """Apply the page-state rules of one variant; return its requests and counters."""
    frames = p.frames if batch else p.frames.filter(pl.col("kind") < REFILL_MOVABLE)
    marks, bits = _frame_counters(frames, lazy, p.actions.height, p.cpus)
    per_event = p.actions.with_columns(pl.Series("mark", marks))
    if not batch:  # refills do nothing without batch
        per_event = per_event.filter(pl.col("kind") < REFILL_MOVABLE)
    kind = pl.col("kind")
    pages = pl.lit(2, pl.Int64).pow(pl.col("order"))
    allocs = per_event.filter(kind == USER_ALLOC).with_columns(
        pl.col("mark").cast(pl.Int64).alias("alloc_requests"),
        pl.when(pl.col("zero")).then(pages).otherwise(0).alias("kunmap_requests"),
        pages.alias("pages"),
    ).with_columns(
        (pl.col("mark") & (pl.col("pages") > FLUSH_CEILING)).cast(pl.Int64).alias("full_requests"),
        pl.lit(0, pl.Int64).alias("refill_requests"),
    ).with_columns(
        (pl.col("alloc_requests") - pl.col("full_requests")).mul(pl.col("pages"))
        .add(pl.col("kunmap_requests")).alias("local_invlpg_pages"),
    )
    cols = ["rank", "ts", "seq", "cpu", "alloc_requests", "kunmap_requests", "refill_requests",
            "full_requests", "local_invlpg_pages"]
    req_parts = [allocs.select(cols)]
    run_counts = pl.DataFrame(schema={"cpu": pl.Int32, "refill_runs": pl.UInt32})
    if batch:
        marked = (per_event.filter(kind.is_in([REFILL_MOVABLE, REFILL_OTHER]))
                  .group_by("cpu", "run").agg(pl.col("mark").any()))
        runs = p.runs.join(marked, on=["cpu", "run"], how="left")
        run_counts = runs.group_by("cpu").agg(pl.len().alias("refill_runs"))
        req_parts.append(runs.filter(pl.col("mark").fill_null(False)).select(
            "rank", "ts", "seq", "cpu",
            pl.lit(0, pl.Int64).alias("alloc_requests"),
            pl.lit(0, pl.Int64).alias("kunmap_requests"),
            pl.lit(1, pl.Int64).alias("refill_requests"),
            pl.lit(1, pl.Int64).alias("full_requests"),
            pl.lit(0, pl.Int64).alias("local_invlpg_pages"),
        ))
    req = pl.concat(req_parts).with_columns(
        (pl.col("alloc_requests") + pl.col("kunmap_requests") + pl.col("refill_requests"))
        .alias("requests"))
    req = req.filter(pl.col("requests") > 0)

    ev_counts = per_event.group_by("cpu").agg(
        (kind == USER_ALLOC).sum().alias("user_allocs"),
        (kind == KERNEL_ALLOC).sum().alias("kernel_allocs"),
    ).join(bits, on="cpu", how="full", coalesce=True)
    req_counts = req.group_by("cpu").agg(
        pl.col(c).sum() for c in ("requests", "alloc_requests", "kunmap_requests",
                                  "refill_requests", "full_requests", "local_invlpg_pages"))
    cpus = pl.DataFrame({"cpu": range(p.cpus)}, schema={"cpu": pl.Int32})
    per_cpu = (cpus.join(ev_counts, on="cpu", how="left")
               .join(req_counts, on="cpu", how="left")
               .join(run_counts, on="cpu", how="left")
               .select("cpu", *[pl.col(c).fill_null(0).cast(pl.Int64) for c in PER_CPU_COUNTERS]))
    return StateResult(requests=req.select("rank", "ts", "seq", "cpu",
                                           pl.col("requests").alias("n")),
                       per_cpu=per_cpu)
