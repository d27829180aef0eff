"""Added CPU time of a strategy on a profile, and overhead (MODEL.md section 7)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .hardware import Profile


def added_cpu_ns(strategy: str, c: dict[str, Any], prof: Profile) -> int:
    """local + (sync or deferred) terms, in ns, for the counters ``c`` of ``strategy``."""
    if strategy == "none":
        return 0
    local = c["local_invlpg_pages"] * prof.invlpg_ns + c["full_requests"] * prof.full_flush_ns
    if strategy.startswith("sync"):
        remote = (c["remote_invlpg_pages"] * prof.invlpg_ns
                  + c["remote_full_flushes"] * prof.full_flush_ns)
        if not prof.broadcast_invalidate:
            remote += (c["requests"] * prof.ipi_base_ns
                       + c["ipis"] * (prof.ipi_per_target_ns + prof.ipi_recv_ns))
    else:
        remote = c["remote_full_flushes"] * prof.full_flush_ns
    return int(local + remote)


def overhead(added: int, baseline_ns: int | None, cpus: int, cpus_trace: int) -> float | None:
    """added / (baseline * N / N_trace), or None when the baseline is unknown or zero."""
    if not baseline_ns:
        return None
    return float(Fraction(added * cpus_trace, baseline_ns * cpus))
