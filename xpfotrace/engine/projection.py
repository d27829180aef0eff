"""Hardware projection (MODEL.md section 6): traced CPUs replicated onto N virtual CPUs.

Virtual CPU ``v`` is traced CPU ``v mod N_trace`` of replica ``r = v div N_trace``;
its requests and mm switches move to ``t0 + ((t - t0 + (r*D) div k) mod D)``.

Each replica's moved timeline is a rotation of the trace's own (ts, seq) order:
the trace is a circle of length D turned by ``(r*D) div k`` and cut at moved time 0.
The virtual timeline is never built; ``remote`` counts on the trace's own arrays.
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
