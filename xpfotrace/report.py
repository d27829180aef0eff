"""Human-readable rendering of replay results (the CLI's default output)."""

from __future__ import annotations

from typing import Any

from .compare import Comparison
from .engine.replay import ReplayResult
from .hardware import Profile
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


def render_profiles(profiles: list[Profile]) -> str:
    rows = [["profile", "cpus", "invlpg", "full flush", "IPI base", "per target", "recv",
             "broadcast", "description"]]
    for p in profiles:
        rows.append([p.name, str(p.cpus), f"{p.invlpg_ns} ns", f"{p.full_flush_ns} ns",
                     f"{p.ipi_base_ns} ns", f"{p.ipi_per_target_ns} ns", f"{p.ipi_recv_ns} ns",
                     "yes" if p.broadcast_invalidate else "no", p.description])
    return table(rows)


def render_comparison(cmp: Comparison, trace_facts: dict[str, Any]) -> str:
    """Strategies as rows; for each profile: added CPU s, overhead, IPIs, remote flushes, p99."""
    names = list(cmp.profiles)
    first = cmp.profiles[names[0]]["strategies"]
    order = [n for n in DISPLAY_ORDER if n in first]
    head = [f"trace: {trace_facts['events']:,} events on {trace_facts['cpus']} CPUs over "
            f"{trace_facts['duration_ns'] / 1e9:.3f} s"]
    for n in names:
        prof = cmp.profiles[n]
        base = prof["baseline_sys_ns"]
        head.append(f"{n}: {prof['cpus']} CPUs, baseline kernel time "
                    + (f"{base / 1e9:.3f} s" if base is not None else
                       "unknown (overhead needs --baseline-sys or a trace from 'capture')"))
    sub = ["added s", "overhead", "IPIs", "remote flushes", "win p99 ms"]
    rows = [["strategy"] + [f"{n}: {h}" if i == 0 else h for n in names
                            for i, h in enumerate(sub)]]
    for s in order:
        row = [s]
        for n in names:
            c = cmp.profiles[n]["strategies"][s]
            ov = c["overhead"]
            row += [f"{c['added_cpu_ns'] / 1e9:.4f}",
                    "-" if ov is None else f"{ov:.2%}",
                    f"{c['ipis']:,}",
                    f"{c['remote_full_flushes'] + c['remote_invlpg_pages']:,}",
                    _cell("window_p99_ns", c.get("window_p99_ns"))]
        rows.append(row)
    return "\n".join(head) + "\n\n" + table(rows) + (
        "\n\nremote flushes = remote full flushes + remote single-page invalidations")
