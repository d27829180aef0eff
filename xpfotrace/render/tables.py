"""Human-readable rendering of replay results (the CLI's default output)."""

from __future__ import annotations

import io
import os
import sys
from typing import TYPE_CHECKING, Any

from ..engine.replay import ReplayResult, tlb_reasons
from ..strategies import DISPLAY_ORDER

if TYPE_CHECKING:  # a replay's table does not load the costing
    from ..costing.compare import Comparison
    from ..costing.hardware import Profile
    from ..costing.sweep import SweepResult

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("requests", "requests"),
    ("alloc_requests", "alloc req"),
    ("kunmap_requests", "kunmap req"),
    ("refill_requests", "refill req"),
    ("full_requests", "full req"),
    ("local_invlpg_pages", "local pg"),
    ("ipis", "IPIs"),
    ("remote_invlpg_pages", "remote pg"),
    ("remote_full_flushes", "remote full"),
    ("bounded_flushes", "bounded"),
    ("unmaps", "unmaps"),
    ("remaps", "remaps"),
    ("pte_writes", "PTE writes"),
    ("window_p50_ns", "win p50 (ms)"),
    ("window_p99_ns", "win p99 (ms)"),
    ("window_max_ns", "win max (ms)"),
)
#: what the replay table's columns mean (printed under it)
LEGEND = (
    "counts: req = flush requests by origin (a user allocation; the kmap/kunmap of a "
    "zero-filled page; a per-CPU list refill); full req = requests flushed whole (more pages "
    "than the ceiling, or a refill); local pg = single-page invalidations on the requesting "
    "CPU; IPIs and remote pg = what sync sends to and invalidates on the other CPUs; remote "
    "full = full flushes on other CPUs (deferred: at their next switch to a user task, or "
    "bounded); bounded = flushes forced by a bound; PTE writes = direct-map entries changed. "
    "win = exposure window, request to flush on another CPU (ms)."
)


def cell(key: str, value: int | None) -> str:
    """A counter as a table shows it: ns as ms, counts with separators, None as '-'."""
    if value is None:
        return "-"
    if key.endswith("_ns"):
        return f"{value / 1e6:.3f}"
    return f"{value:,}"


def _width() -> int | None:
    """The terminal's width when stdout is one (tables then fit it), else None (no limit:
    a pipe or a file gets every table unwrapped, one row per line)."""
    try:
        if sys.stdout.isatty():
            return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        pass
    return None


def table(rows: list[list[str]], width: int | None = None) -> str:
    """A table: the first row is the header, the first column left-aligned and the
    others (numbers) right-aligned. In a terminal it fits the width (long headers wrap,
    drawn by rich); elsewhere nothing wraps."""
    width = width or _width()
    # a cell never breaks (a number split over lines misleads) and a header only at its
    # spaces: each column is at least its widest cell and its longest header word; a
    # table that cannot fit so is printed whole, for the terminal to wrap its lines
    least = [max([len(r[i]) for r in rows[1:]] + [len(w) for w in rows[0][i].split()]
                 + [1]) for i in range(len(rows[0]))]
    if width is not None and _span(least) > width:
        width = None
    full = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    if ((width is None or _span(full) <= width)
            and all(c.isascii() and c.isprintable() and c == c.strip()
                    for r in rows for c in r)):
        return _plain(rows, full)  # nothing wraps: what rich draws, without loading it
    return _rich(rows, width, least)


def _span(widths: list[int]) -> int:
    """A table's width: its columns, three spaces apart."""
    return sum(widths) + 3 * (len(widths) - 1)


def _plain(rows: list[list[str]], widths: list[int]) -> str:
    """What :func:`_rich` draws when no cell wraps (printable ASCII without spaces at
    either end: one column a character, nothing trimmed): the columns three spaces
    apart, a rule under the header."""
    def line(r: list[str]) -> str:
        return "   ".join(c.ljust(w) if i == 0 else c.rjust(w)
                          for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()

    rule = "\u2500" * _span(widths)
    return "\n".join([line(rows[0]), rule, *(line(r) for r in rows[1:])])


def _rich(rows: list[list[str]], width: int | None, least: list[int]) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for i, head in enumerate(rows[0]):
        t.add_column(head, justify="left" if i == 0 else "right",
                     no_wrap=width is None or i == 0, overflow="fold", min_width=least[i])
    for r in rows[1:]:
        t.add_row(*r)
    out = io.StringIO()
    Console(file=out, width=width or 100_000, color_system=None, force_terminal=False,
            highlight=False, emoji=False, markup=False).print(t)
    return "\n".join(line.rstrip() for line in out.getvalue().rstrip("\n").splitlines())


def render(result: ReplayResult) -> str:
    """A summary of the trace and one table row per strategy, the series' three (sync,
    deferred, deferred+batch) first."""
    t = result.trace
    head = (f"trace: {t['events']:,} events on {t['cpus']} CPUs over "
            f"{t['duration_ns'] / 1e9:.3f} s; lost events: {t['lost_events']:,}")
    reasons = tlb_reasons(result.observed)
    observed = "observed tlb_flush by reason: " + (
        ", ".join(f"{r['code']} {r['name']}: {r['count']:,}" for r in reasons)
        if reasons else "none (tlb:tlb_flush was not recorded)")
    chk = result.check()["traced"]
    seed = [n for n in ("sync", "deferred", "deferred+batch") if n in result.strategies]
    check = (f"check: the traced kernel itself did {chk['remote_shootdowns']:,} remote "
             f"shootdowns and {chk['remote_ipi_sends']:,} shootdown IPI sends; XPFO adds:"
             + "".join(f"\n  {n}: {result.strategies[n]['remote_full_flushes']:,} remote full "
                       f"flushes, {result.strategies[n]['remote_invlpg_pages']:,} remote page "
                       "invalidations" for n in seed))
    proj = (f"replayed on {result.cpus} CPUs (projected from {t['cpus']})"
            if result.cpus != t["cpus"] else f"replayed on {result.cpus} CPUs")
    order = ordered(list(result.strategies))
    rows = [["strategy", *[h for _, h in _COLUMNS]]]
    for name in order:
        c: dict[str, Any] = dict(result.strategies[name])  # (looked up by column name)
        rows.append([name, *[cell(k, c.get(k)) for k, _ in _COLUMNS]])
    return "\n".join([head, observed, check, proj, "", table(rows), "", LEGEND])


def render_per_cpu(name: str, rows: list[dict[str, int]]) -> str:
    """One strategy's per-CPU counters."""
    keys = [k for k in ("requests", "full_requests", "local_invlpg_pages", "pte_writes",
                        "ipis_received", "remote_full_flushes", "bounded_flushes")
            if rows and k in rows[0]]
    out = [["cpu", *keys]]
    out += [[str(r["cpu"]), *(f"{r[k]:,}" for k in keys)] for r in rows]
    return f"per CPU ({name}):\n" + table(out)


def render_profiles(profiles: list[Profile]) -> str:
    rows = [["profile", "cpus", "invlpg", "flush call", "full flush", "pte write",
             "cache line", "IPI base", "per target", "recv", "broadcast", "description"]]
    for p in profiles:
        rows.append([p.name, str(p.cpus), f"{p.invlpg_ns} ns", f"{p.flush_call_ns} ns",
                     f"{p.full_flush_ns} ns", f"{p.pte_write_ns} ns", f"{p.cacheline_ns} ns",
                     f"{p.ipi_base_ns} ns", f"{p.ipi_per_target_ns} ns", f"{p.ipi_recv_ns} ns",
                     "yes" if p.broadcast_invalidate else "no", p.description])
    return table(rows)


def ordered(names: list[str]) -> list[str]:
    """Strategy names in display order: the series' strategies first, then the rest
    (parameterised ones) as given."""
    out = [n for n in DISPLAY_ORDER if n in names]
    return out + [n for n in names if n not in out]


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def render_comparison(cmp: Comparison, trace_facts: dict[str, Any]) -> str:
    """One table per profile: the three cost parts, added CPU time, overhead, the remote
    work and the p99 exposure window of each strategy."""
    head = [f"trace: {trace_facts['events']:,} events on {trace_facts['cpus']} CPUs over "
            f"{trace_facts['duration_ns'] / 1e9:.3f} s"]
    blocks: list[str] = []
    flagged = False
    for pname, prof in cmp.profiles.items():
        base = prof["baseline_sys_ns"]
        bcast = prof.get("broadcast_invalidate", False)
        title = (f"{pname}: {prof['cpus']} CPUs, baseline kernel time "
                 + (f"{base / 1e9:.3f} s" if base is not None else
                    "unknown (overhead needs --baseline-sys or a trace from 'capture')"))
        rows_in = prof["strategies"]
        sens = any("sensitivity" in r for r in rows_in.values())
        remote_head = "remote inval" if bcast else "IPIs"
        cols = ["strategy", "local s", "pte s", "remote s", "added s", "overhead",
                remote_head, "remote full", "bounded", "win p99 ms"]
        if sens:
            cols += ["overhead x0.5..x2", "most sensitive"]
        rows = [cols]
        for name in ordered(list(rows_in)):
            c = rows_in[name]
            parts = c["cost_ns"]
            added = f"{c['added_cpu_ns'] / 1e9:.4f}"
            if c.get("exceeds_capacity"):
                added += f" (!{c['capacity_factor']:.1f}x)"
                flagged = True
            remote = (c["remote_invlpg_pages"] + c["remote_full_flushes"] if bcast
                      else c["ipis"])
            row = [name, f"{parts['local'] / 1e9:.4f}", f"{parts['pte'] / 1e9:.4f}",
                   f"{parts['remote'] / 1e9:.4f}", added, pct(c["overhead"]),
                   f"{remote:,}", f"{c['remote_full_flushes']:,}",
                   cell("bounded_flushes", c.get("bounded_flushes")),
                   cell("window_p99_ns", c.get("window_p99_ns"))]
            if sens:
                sv = c["sensitivity"]
                lo, hi = sv["overhead"]["min"], sv["overhead"]["max"]
                if lo is None:
                    rng = (f"{sv['added_cpu_ns']['min'] / 1e9:.4f}.."
                           f"{sv['added_cpu_ns']['max'] / 1e9:.4f} s")
                else:
                    rng = f"{pct(lo)}..{pct(hi)}"
                row += [rng, sv["most_sensitive"] or "-"]
            rows.append(row)
        blocks.append(title + "\n" + table(rows))
    legend = [
        "local = flush calls on the requesting CPU (fixed cost + invalidations + full "
        "flushes); pte = direct-map entries written; remote = other CPUs' share (sync: "
        "IPIs, interrupts and their flushes; deferred: flushes at mm switches and bounded "
        "flushes, the pending mask's cache line, the interrupt of each bounded flush).",
        "overhead = added kernel CPU time / the baseline's kernel CPU time (projected to "
        "the profile's CPUs); 1 + overhead is the system-time ratio a patched kernel "
        "would show.",
    ]
    if any(p.get("broadcast_invalidate") for p in cmp.profiles.values()):
        legend.append("remote inval = remote invalidations by broadcast (no IPIs): remote "
                      "single-page invalidations + remote full flushes.")
    if flagged:
        legend.append("(!Fx) = the added CPU time is more than the profile's CPUs supply in "
                      "the traced window: the workload would run at least F times as long, "
                      "and the overhead understates it.")
    return "\n".join(head) + "\n\n" + "\n\n".join(blocks) + "\n\n" + "\n".join(legend)


def render_sweep(res: SweepResult) -> str:
    """One row per combination, frontier rows marked, least overhead first."""
    base = res.baseline_sys_ns
    head = (f"{res.profile}: {res.cpus} CPUs, baseline kernel time "
            + (f"{base / 1e9:.3f} s" if base is not None else
               "unknown (overhead needs --baseline-sys or a trace from 'capture')"))
    rows = [["", "strategy", "added s", "overhead", "bounded", "win p50 ms", "win p99 ms",
             "win max ms"]]
    for r in res.frame.sort("added_cpu_ns", "strategy").iter_rows(named=True):
        rows.append(["*" if r["frontier"] else "", r["strategy"],
                     f"{r['added_cpu_ns'] / 1e9:.4f}", pct(r["overhead"]),
                     cell("bounded_flushes", r["bounded_flushes"]),
                     *(cell(k, r[k]) for k in ("window_p50_ns", "window_p99_ns",
                                                "window_max_ns"))])
    front = res.frontier
    foot = (f"* on the Pareto frontier ({len(front)} of {res.frame.height}): no other setting "
            "has less overhead without a longer p99 exposure window: " + ", ".join(front)
            + ".\nA sync strategy's window is 0: its remote flushes finish before the "
            "request returns.")
    return head + "\n" + table(rows) + "\n\n" + foot
