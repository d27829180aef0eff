"""Added CPU time of a strategy on a profile, and overhead (docs/model.md section 7).

Added CPU time is three parts, all integer ns:

* ``local``: the requesting CPU's flush calls: a fixed cost per call, one
  invalidation per page of a range flush, a full flush per full request;
* ``pte``: the direct-map entries XPFO writes (page walk, store, per-page lock and
  reference count);
* ``remote``: ``sync`` pays the sender's IPI costs, each target's interrupt and the
  targets' flushes (on broadcast-invalidation hardware only the invalidations);
  ``deferred`` pays the flushes at mm switches and bounded flushes, the shared
  pending mask's cache line moved by each request and each such flush, and the
  interrupt that forces each bounded flush.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .hardware import Profile

PARTS: tuple[str, ...] = ("local", "pte", "remote")


@dataclass(frozen=True)
class Cost:
    """The three parts of a strategy's added CPU time, in ns."""

    local: int
    pte: int
    remote: int

    @property
    def total(self) -> int:
        return self.local + self.pte + self.remote

    def to_dict(self) -> dict[str, int]:
        return {"local": self.local, "pte": self.pte, "remote": self.remote}


def cost(strategy: str, c: Mapping[str, Any], prof: Profile) -> Cost:
    """The cost parts of the counters ``c`` of ``strategy`` (a name, parameters allowed:
    only its remote mode matters here) on ``prof``."""
    if strategy == "none":
        return Cost(0, 0, 0)
    local = (c["requests"] * prof.flush_call_ns + c["local_invlpg_pages"] * prof.invlpg_ns
             + c["full_requests"] * prof.full_flush_ns)
    pte = c["pte_writes"] * prof.pte_write_ns
    flushes = c["remote_full_flushes"] * prof.full_flush_ns
    if strategy.startswith("sync"):
        remote = c["remote_invlpg_pages"] * prof.invlpg_ns + flushes
        if not prof.broadcast_invalidate:
            remote += (c["requests"] * prof.ipi_base_ns
                       + c["ipis"] * (prof.ipi_per_target_ns + prof.ipi_recv_ns))
    else:
        remote = (flushes + (c["requests"] + c["remote_full_flushes"]) * prof.cacheline_ns
                  + c.get("bounded_flushes", 0) * prof.ipi_recv_ns)
    return Cost(int(local), int(pte), int(remote))


def added_cpu_ns(strategy: str, c: dict[str, Any], prof: Profile) -> int:
    """local + pte + remote, in ns, for the counters ``c`` of ``strategy``."""
    return cost(strategy, c, prof).total


def overhead(added: int, baseline_ns: int | None, cpus: int, cpus_trace: int) -> float | None:
    """added / (baseline * N / N_trace), or None when the baseline is unknown or zero."""
    if not baseline_ns:
        return None
    return float(Fraction(added * cpus_trace, baseline_ns * cpus))
