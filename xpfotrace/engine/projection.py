"""Hardware projection (MODEL.md section 6): traced CPUs replicated onto N virtual CPUs.

Virtual CPU ``v`` is traced CPU ``v mod N_trace`` of replica ``r = v div N_trace``;
its requests and mm switches move to ``t0 + ((t - t0 + (r*D) div k) mod D)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from ..errors import UsageError

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Projection:
    """How N virtual CPUs map onto a trace's N_trace CPUs."""

    n: int
    n_trace: int
    t0: int
    duration_ns: int

    def __post_init__(self) -> None:
        if self.n < self.n_trace:
            raise UsageError(f"cannot replay on {self.n} CPUs: the trace has {self.n_trace} "
                             "(projection only goes to more CPUs)")

    @property
    def replicas(self) -> int:
        return -(-self.n // self.n_trace)

    @property
    def period(self) -> int:
        """D = duration_ns + 1."""
        return self.duration_ns + 1

    def shift(self, r: int) -> int:
        return (r * self.period) // self.replicas

    def multiplicity(self) -> pl.DataFrame:
        """cpu -> number of virtual CPUs that behave as it."""
        counts = [0] * self.n_trace
        for v in range(self.n):
            counts[v % self.n_trace] += 1
        return pl.DataFrame({"cpu": range(self.n_trace), "mult": counts},
                            schema={"cpu": pl.Int32, "mult": pl.Int64})


@dataclass
class Timeline:
    """Virtual events in replay order (moved ts, r, seq): arrays of equal length."""

    mts: I64
    r: I64
    seq: I64
    v: I64
    w: I64  # weight: number of requests the row stands for (1 for switches)


def virtualize(df: pl.DataFrame, proj: Projection, weight: str | None = None) -> Timeline:
    """Rows (ts, seq, cpu[, weight]) of the trace as rows of the N virtual CPUs, sorted."""
    ts = df["ts"].to_numpy().astype(np.int64)
    seq = df["seq"].to_numpy().astype(np.int64)
    cpu = df["cpu"].to_numpy().astype(np.int64)
    w = (df[weight].to_numpy().astype(np.int64) if weight is not None
         else np.ones(len(ts), dtype=np.int64))
    keep = cpu < proj.n_trace
    ts, seq, cpu, w = ts[keep], seq[keep], cpu[keep], w[keep]
    parts: list[tuple[I64, I64, I64, I64, I64]] = []
    d = proj.period
    for r in range(proj.replicas):
        sel = cpu + r * proj.n_trace < proj.n
        if not sel.any():
            continue
        moved = proj.t0 + (ts[sel] - proj.t0 + proj.shift(r)) % d
        parts.append((moved, np.full(int(sel.sum()), r, dtype=np.int64), seq[sel],
                      cpu[sel] + r * proj.n_trace, w[sel]))
    if not parts:
        e = np.zeros(0, dtype=np.int64)
        return Timeline(e, e, e, e, e)
    mts, rr, sq, v, ww = (np.concatenate(x) for x in zip(*parts, strict=True))
    order = np.lexsort((sq, rr, mts))
    return Timeline(mts[order], rr[order], sq[order], v[order], ww[order])
