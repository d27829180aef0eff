"""Human-readable rendering of replay results (the CLI's default output)."""

from __future__ import annotations

from .engine.replay import ReplayResult
from .strategies import DISPLAY_ORDER

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("requests", "requests"),
    ("alloc_requests", "alloc"),
    ("kunmap_requests", "kunmap"),
    ("refill_requests", "refill"),
    ("full_requests", "full"),
    ("local_invlpg_pages", "local pg"),
    ("ipis", "IPIs"),
    ("remote_invlpg_pages", "remote pg"),
    ("remote_full_flushes", "remote full"),
    ("unmaps", "unmaps"),
    ("remaps", "remaps"),
    ("window_p50_ns", "win p50 ms"),
    ("window_p99_ns", "win p99 ms"),
    ("window_max_ns", "win max ms"),
)


def _cell(key: str, value: int | None) -> str:
    if value is None:
        return "-"
    if key.endswith("_ns"):
        return f"{value / 1e6:.3f}"
    return f"{value:,}"


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:],
                                                                        strict=True)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render(result: ReplayResult) -> str:
    """A summary of the trace and one table row per strategy, the seed's three first."""
    t = result.trace
    head = (f"trace: {t['events']:,} events on {t['cpus']} CPUs over "
            f"{t['duration_ns'] / 1e9:.3f} s; lost events: {t['lost_events']:,}")
    obs = result.observed["tlb_flush"]
    observed = "observed tlb_flush by reason: " + (
        ", ".join(f"{k}: {v:,}" for k, v in obs.items()) if obs else "none")
    proj = (f"replayed on {result.cpus} CPUs (projected from {t['cpus']})"
            if result.cpus != t["cpus"] else f"replayed on {result.cpus} CPUs")
    order = [n for n in DISPLAY_ORDER if n in result.strategies]
    order += [n for n in result.strategies if n not in order]
    rows = [["strategy", *[h for _, h in _COLUMNS]]]
    for name in order:
        c = result.strategies[name]
        rows.append([name, *[_cell(k, c.get(k)) for k, _ in _COLUMNS]])
    return "\n".join([head, observed, proj, "", table(rows)])
