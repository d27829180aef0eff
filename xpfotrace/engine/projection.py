"""Hardware projection (MODEL.md section 6): traced CPUs replicated onto N virtual CPUs.

Virtual CPU ``v`` is traced CPU ``v mod N_trace`` of replica ``r = v div N_trace``;
its requests and mm switches move to ``t0 + ((t - t0 + (r*D) div k) mod D)``.

Each replica's moved timeline is a rotation of the trace's own (ts, seq) order,
so concatenating the replicas' rotated blocks in replica order and sorting them
stably by moved ts gives the replay order (moved ts, r, seq) with one
near-linear sort over k pre-sorted runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from ..errors import UsageError

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]


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
        full, part = divmod(self.n, self.n_trace)
        counts = [full + (1 if c < part else 0) for c in range(self.n_trace)]
        return pl.DataFrame({"cpu": range(self.n_trace), "mult": counts},
                            schema={"cpu": pl.Int32, "mult": pl.Int64})


@dataclass
class Timeline:
    """Requests and mm switches of one variant in replay order (arrays of equal length).

    ``w`` is the number of requests a row stands for; 0 marks an mm switch.
    """

    ts: I64
    cpu: I64
    w: I64

    @classmethod
    def build(cls, requests: pl.DataFrame, switches: pl.DataFrame) -> Timeline:
        """From request rows (rank ts cpu n) and switch rows (rank ts cpu), in replay order.

        ``rank`` is the event's position in (ts, seq) order: one integer sort key.
        """
        both = pl.concat([
            requests.select("rank", "ts", pl.col("cpu").cast(pl.Int64),
                            pl.col("n").cast(pl.Int64).alias("w")),
            switches.select("rank", "ts", pl.col("cpu").cast(pl.Int64),
                            pl.lit(0, pl.Int64).alias("w")),
        ]).sort("rank")
        return cls(both["ts"].to_numpy(), both["cpu"].to_numpy(), both["w"].to_numpy())

    def project(self, proj: Projection) -> VirtualTimeline:
        """The rows of all N virtual CPUs, in order (moved ts, r, seq)."""
        keep = self.cpu < proj.n_trace
        ts, cpu, w = self.ts[keep], self.cpu[keep], self.w[keep]
        d = proj.period
        rel0 = ts - proj.t0
        blocks_t, blocks_v, blocks_w = [], [], []
        for r in range(proj.replicas):
            shift = proj.shift(r)
            # rows whose moved time wraps past D come first: a rotation, two slices
            wrap = int(np.searchsorted(rel0, d - shift, side="left"))
            bt = np.concatenate((rel0[wrap:] + (shift - d), rel0[:wrap] + shift))
            bv = np.concatenate((cpu[wrap:], cpu[:wrap])) + r * proj.n_trace
            bw = np.concatenate((w[wrap:], w[:wrap]))
            if r == proj.replicas - 1 and proj.n % proj.n_trace:
                part = bv < proj.n  # a partial last replica keeps only its CPUs
                bt, bv, bw = bt[part], bv[part], bw[part]
            blocks_t.append(bt)
            blocks_v.append(bv)
            blocks_w.append(bw)
        mts = np.concatenate(blocks_t) if blocks_t else np.zeros(0, np.int64)
        order = np.argsort(mts, kind="stable")
        return VirtualTimeline(mts[order] + proj.t0, np.concatenate(blocks_v)[order],
                               np.concatenate(blocks_w)[order])


@dataclass
class VirtualTimeline:
    """Rows of the virtual CPUs in replay order: moved ts, virtual CPU, weight (0: switch)."""

    mts: I64
    v: I64
    w: I64
