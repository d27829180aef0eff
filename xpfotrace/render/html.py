"""A single self-contained HTML page about one trace (plots embedded as PNG).

matplotlib draws the plots: it renders headless to PNG bytes with no browser
or JavaScript, so the page is one file that opens anywhere, offline.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from .. import strategies as strat
from ..core.output import atomic_path
from ..costing.compare import compare
from ..costing.hardware import Profile
from ..costing.sweep import SweepResult
from ..engine.replay import Replayer
from ..focus import Only
from ..trace import Trace
from .tables import cell, pct


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def plot_text(text: str | None) -> str:
    """A trace-derived string drawn literally by matplotlib: ``$`` would start math
    text, and control characters are shown as escapes, not interpreted."""
    if text is None:
        return "(none)"
    shown = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                    for ch in text)
    return shown.replace("$", r"\$")  # matplotlib then shows every $ as it is


def _cost_plot(plt: Any, profiles: dict[str, dict[str, Any]], names: list[str]) -> str:
    """Stacked bars of the three cost parts per strategy, one panel per profile, the
    projected baseline as a line where it is known."""
    fig, axes = plt.subplots(1, len(profiles), figsize=(max(9, 4.5 * len(profiles)), 4.2),
                             squeeze=False)
    colors = {"local": "#4c72b0", "pte": "#dd8452", "remote": "#55a868"}
    for ax, (pname, entry) in zip(axes[0], profiles.items(), strict=True):
        bottom = [0.0] * len(names)
        for part, color in colors.items():
            vals = [entry["strategies"][s]["cost_ns"][part] / 1e9 for s in names]
            ax.bar(range(len(names)), vals, 0.7, bottom=bottom, label=part, color=color)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        base = entry["baseline_sys_ns"]
        if base is not None:
            ax.axhline(base / 1e9, color="black", linestyle="--", linewidth=1,
                       label="baseline kernel time")
        # one bar far above the others (sync on a large machine) would flatten them: the
        # axis stops above the rest, and a cut bar is labelled with its total
        ranked = sorted(bottom)
        if len(ranked) > 1 and ranked[-1] > 4 * ranked[-2] > 0:
            top = max(2.5 * ranked[-2], 1.15 * base / 1e9 if base is not None else 0.0)
            if ranked[-1] > top:
                ax.set_ylim(0, top)
                for i, total in enumerate(bottom):
                    if total > top:
                        ax.annotate(f"{total:,.1f} s (cut)", (i, top), ha="center",
                                    va="top", xytext=(0, -4), textcoords="offset points",
                                    fontsize="small", color="white", rotation=90)
        ax.set_xticks(range(len(names)), [plot_text(n) for n in names], rotation=35,
                      ha="right")
        ax.set_title(plot_text(f"{pname} ({entry['cpus']} CPUs)"))
        ax.set_ylabel("added CPU seconds")
        ax.legend(fontsize="small")
    return _png(fig)


def _frontier_plot(plt: Any, res: SweepResult) -> str:
    """One point per combination, the frontier as a line, the series' strategies named."""
    df = res.frame
    use_overhead = df["overhead"].null_count() == 0
    y = (df["overhead"] * 100) if use_overhead else (df["added_cpu_ns"] / 1e9)
    x = df["window_p99_ns"].fill_null(0) / 1e6
    fig, ax = plt.subplots(figsize=(9, 5))
    on = df["frontier"].to_list()
    xs, ys = x.to_list(), y.to_list()
    ax.scatter([a for a, f in zip(xs, on, strict=True) if not f],
               [b for b, f in zip(ys, on, strict=True) if not f], color="#999999", s=18,
               label="other settings")
    front = sorted((a, b) for a, b, f in zip(xs, ys, on, strict=True) if f)
    ax.plot([a for a, _ in front], [b for _, b in front], "o-", color="#c44e52",
            label="Pareto frontier")
    labelled = [(n, a, b) for n, a, b in zip(df["strategy"].to_list(), xs, ys, strict=True)
                if n in strat.SEED]
    for i, (name, a, b) in enumerate(labelled):  # staggered: the series' points are close
        ax.annotate(name, (a, b), textcoords="offset points", xytext=(-10, 10 + 14 * i),
                    ha="right", arrowprops={"arrowstyle": "-", "color": "#555555"})
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("p99 exposure window (ms; sync: 0)")
    ax.set_ylabel("overhead (%)" if use_overhead else "added CPU seconds")
    ax.set_title(plot_text(f"{res.profile} ({res.cpus} CPUs), {df.height} settings"))
    ax.legend()
    return _png(fig)


def _time_plot(plt: Any, rep: Replayer, bins: int = 100) -> str:
    """Requests per time bin of each page-state variant over the whole trace: empty bins
    are drawn as 0, not bridged."""
    t0, span = rep.prepared.t0, max(rep.prepared.duration_ns, 1)
    variants = {(False, False): "sync / deferred", (True, False): "+batch",
                (False, True): "+lazy", (True, True): "+batch+lazy"}
    fig, ax = plt.subplots(figsize=(9, 3.6))
    edges = [i * span / bins / 1e9 for i in range(bins + 1)]
    for (batch, lazy), label in variants.items():
        req = rep.requests(strat.Strategy("sync", batch, lazy))
        hist = (req.with_columns(((pl.col("ts") - t0) * bins // (span + 1)).alias("b"))
                .group_by("b").agg(pl.col("n").sum()))
        counts = [0] * bins
        for b, n in zip(hist["b"].to_list(), hist["n"].to_list(), strict=True):
            counts[int(b)] = int(n)
        ax.stairs(counts, edges, label=label)
    ax.set_xlim(0, span / 1e9)
    ax.set_xlabel("time since trace start (s)")
    ax.set_ylabel(f"flush requests per {span / bins / 1e6:.1f} ms")
    ax.legend(ncol=4, fontsize="small", loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return _png(fig)


def _exposure_plot(plt: Any, rep: Replayer, chosen: list[strat.Strategy],
                   counters: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Complementary CDF of the exposure windows on log-log axes, p50 and p99 marked."""
    deferred = [s for s in chosen if s.remote == "deferred"]
    if not deferred:
        return None
    fig, ax = plt.subplots(figsize=(9, 4))
    drawn = False
    for s in deferred:
        cdf = rep.window_cdf(s, points=160)
        if not cdf.height:
            continue
        x = (cdf["window_ns"] / 1e6).to_list()
        y = [max(1.0 - f, 0.0) for f in cdf["fraction"].to_list()]
        pts = [(a, b) for a, b in zip(x, y, strict=True) if a > 0 and b > 0]
        if not pts:
            continue
        (line,) = ax.step([a for a, _ in pts], [b for _, b in pts], where="post",
                          label=plot_text(s.name))
        drawn = True
        c = counters[s.name]
        for key, mark in (("window_p50_ns", "o"), ("window_p99_ns", "s")):
            if c.get(key):
                q = 0.5 if key == "window_p50_ns" else 0.01
                ax.plot([c[key] / 1e6], [q], mark, color=line.get_color())
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axhline(0.5, color="#999999", linewidth=0.8, linestyle=":")
    ax.axhline(0.01, color="#999999", linewidth=0.8, linestyle=":")
    ax.set_xlabel("exposure window (ms)")
    ax.set_ylabel("fraction of windows > x")
    ax.set_title("o: p50, s: p99 (dotted lines: 1/2 and 1/100 of the windows)")
    ax.legend()
    return _png(fig)


def _by_process_plot(plt: Any, rep: Replayer, s: strat.Strategy, top: int) -> str:
    by = rep.requests_by(s, "comm", top)
    fig, ax = plt.subplots(figsize=(9, 0.35 * max(by.height, 3) + 1))
    # positions, not the names, as categories: equal names after escaping stay apart
    labels = [plot_text(c) for c in by["comm"].to_list()[::-1]]
    values = by["requests"].to_list()[::-1]
    bars = ax.barh(range(len(labels)), values)
    ax.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3, fontsize="small")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xscale("log")
    ax.set_xlabel(plot_text(f"flush requests ({s.name}), log scale"))
    return _png(fig)


_COUNTER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("requests", "requests"), ("full_requests", "full"), ("local_invlpg_pages", "local pages"),
    ("ipis", "IPIs"), ("remote_full_flushes", "remote full"), ("bounded_flushes", "bounded"),
    ("pte_writes", "PTE writes"), ("window_p50_ns", "p50 ms"), ("window_p99_ns", "p99 ms"),
    ("window_max_ns", "max ms"))


def _counters_table(counters: Mapping[str, Mapping[str, Any]], cpus: int) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h in _COUNTER_COLUMNS)
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(f"<td>{cell(k, c.get(k))}</td>" for k, _ in _COUNTER_COLUMNS) + "</tr>"
        for name, c in counters.items())
    return (f"<h2>Counters ({cpus} CPUs, as traced)</h2><table><tr><th>strategy</th>{head}"
            f"</tr>{rows}</table><p>full: requests of more pages than the flush ceiling (or "
            "a refill), flushed whole; local pages: single-page invalidations on the "
            "requesting CPU; remote full: full flushes on other CPUs (deferred: at their "
            "next switch to a user task, or forced by a bound).</p>")


def _header(trace: Trace, command: str | None) -> str:
    from .._version import __version__

    info = trace.info
    items = [("xpfotrace", __version__)]
    if command:
        items.append(("command", command))
    items += [("input", info.source_file or "-"), ("format", info.source_format),
              ("kernel", info.extra.get("kernel_release", "not recorded")),
              ("CPU model", info.extra.get("cpu_model", "not recorded")),
              ("traced command", info.extra.get("command", "-"))]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in items)
    warnings = info.warnings()
    warn = ("<p><b>Warnings:</b></p><ul>" + "".join(f"<li>{html.escape(w)}</li>"
                                                    for w in warnings) + "</ul>"
            if warnings else "<p>No warnings about the input.</p>")
    return f'<table class="head">{rows}</table>{warn}'


#: the steps ``build`` reports through ``progress``
STEPS = 6


def build(trace: Trace, profiles: list[Profile], title: str, top: int = 15,
          strategies: strat.StrategiesLike = None,
          sweep: SweepResult | None = None, baseline_sys_ns: int | None = None,
          command: str | None = None,
          progress: Callable[[int], None] | None = None, only: Only | None = None) -> str:
    """The report's HTML text: ``strategies`` (default all nine) in the counters, the
    exposure plot and the cost plot, ``sweep`` (from ``xpfotrace.sweep``) as a frontier
    plot; ``progress(1)`` after each of ``STEPS`` steps."""
    chosen = [s for s in strat.parse(strategies) if s.remote != "none"]
    names = [s.name for s in chosen]
    step = progress or (lambda n: None)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rep = Replayer(trace, only)
    counters = rep.run(None, chosen).strategies
    step(1)
    figs: list[tuple[str, str]] = [("Flush requests over time, per page-state variant",
                                    _time_plot(plt, rep))]
    step(1)
    exposure = _exposure_plot(plt, rep, chosen, counters)
    if exposure is not None:
        figs.append(("Exposure windows of the deferred strategies (complementary CDF)",
                     exposure))
    step(1)
    attributed = next((s for s in chosen if s.name == "deferred+batch"), chosen[0]
                      if chosen else strat.BY_NAME["deferred+batch"])
    figs.append((f"Flush requests by process (top {top}, {attributed.name})",
                 _by_process_plot(plt, rep, attributed, top)))
    step(1)
    table = _counters_table(counters, rep.cpus)
    if profiles:
        cmp = compare(trace, profiles, replayer=rep, strategies=chosen,
                      baseline_sys_ns=baseline_sys_ns)
        figs.append(("Added CPU time per strategy and profile, in its three parts",
                     _cost_plot(plt, cmp.profiles, names)))
        rows = "".join(
            f"<tr><td>{html.escape(p)}</td><td>{html.escape(s)}</td>"
            + "".join(f"<td>{e['strategies'][s]['cost_ns'][k] / 1e9:.4f}</td>"
                      for k in ("local", "pte", "remote"))
            + f"<td>{e['strategies'][s]['added_cpu_ns'] / 1e9:.4f}</td>"
            f"<td>{pct(e['strategies'][s]['overhead'])}</td></tr>"
            for p, e in cmp.profiles.items() for s in names)
        table += ("<h2>Costs</h2><table><tr><th>profile</th><th>strategy</th><th>local s</th>"
                  "<th>pte s</th><th>remote s</th><th>added s</th><th>overhead</th></tr>"
                  f"{rows}</table><p>overhead = added kernel CPU time / the baseline's kernel "
                  "CPU time; 1 + overhead is the system-time ratio a patched kernel would "
                  "show.</p>")
    step(1)
    if sweep is not None:
        figs.append(("Design space: overhead against the p99 exposure window",
                     _frontier_plot(plt, sweep)))
    step(1)

    f = rep.facts
    body = "".join(f'<h2>{html.escape(t)}</h2><img alt="{html.escape(t)}" src="{src}">'
                   for t, src in figs)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}img{{max-width:100%}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px}}
table.head th{{text-align:left;background:#f4f4f4}}
td{{text-align:right}}td:first-child,table.head td{{text-align:left}}</style>
</head><body><h1>xpfotrace: {html.escape(title)}</h1>{_header(trace, command)}
<p>{f['events']:,} events on {f['cpus']} CPUs over {f['duration_ns'] / 1e9:.3f} s;
lost events: {f['lost_events']:,}.</p>{body}{table}</body></html>
"""


def write(trace: Trace, out: str, profiles: list[Profile], title: str,
          strategies: strat.StrategiesLike = None,
          sweep: SweepResult | None = None, baseline_sys_ns: int | None = None,
          command: str | None = None, progress: Callable[[int], None] | None = None,
          only: Only | None = None) -> None:
    """Write the report atomically."""
    text = build(trace, profiles, title, strategies=strategies, sweep=sweep,
                 baseline_sys_ns=baseline_sys_ns, command=command, progress=progress,
                 only=only)
    inputs = [trace.info.source_file] if trace.info.source_file else []
    with atomic_path(out, inputs) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
