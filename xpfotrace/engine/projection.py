"""Hardware projection (docs/model.md section 6): traced CPUs replicated onto N virtual CPUs.

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

from ..core.errors import UsageError
from ..core.traceinfo import MAX_CPUS

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Projection:
    """How N virtual CPUs map onto a trace's N_trace CPUs."""

    n: int
    n_trace: int
    t0: int
    duration_ns: int

    def __post_init__(self) -> None:
        if self.n > MAX_CPUS:
            raise UsageError(f"cannot replay on {self.n:,} CPUs (at most {MAX_CPUS:,})")
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

    def multiplicities(self) -> I64:
        """Number of virtual CPUs that behave as each traced CPU."""
        full, part = divmod(self.n, self.n_trace)
        return full + (np.arange(self.n_trace) < part).astype(np.int64)


@dataclass
class Timeline:
    """Requests and mm switches of one variant, each in replay order.

    ``row`` is an event's rank (its position in (ts, seq) order): it orders requests
    and switches among each other. ``w`` is the number of requests an event makes.
    """

    ts: I64  # requesting events
    cpu: I64
    w: I64
    row: I64
    sw_ts: I64  # mm switches
    sw_cpu: I64
    sw_row: I64

    @classmethod
    def build(cls, rank: I64, n: I64, switches: I64, ts: I64,
              cpu: npt.NDArray[np.int32]) -> Timeline:
        """From the requesting events' ranks (ascending, with ``n`` requests each), the mm
        switches' ranks, and ``ts`` and ``cpu`` of every event by rank."""
        return cls(ts[rank], cpu[rank].astype(np.int64), n, rank,
                   ts[switches], cpu[switches].astype(np.int64), switches)
