"""A single self-contained HTML page about one trace (plots embedded as PNG).

matplotlib draws the plots: it renders headless to PNG bytes with no browser
or JavaScript, so the page is one file that opens anywhere, offline.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import polars as pl

from . import strategies as strat
from .compare import compare
from .engine.replay import Replayer
from .hardware import Profile
from .parquet_io import atomic_path
from .trace import Trace


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def build(trace: Trace, profiles: list[Profile], title: str, top: int = 15) -> str:
    """The report's HTML text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rep = Replayer(trace)
    t0 = rep.prepared.t0
    variants = {(False, False): "sync / deferred", (True, False): "+batch",
                (False, True): "+lazy", (True, True): "+batch+lazy"}
    figs: list[tuple[str, str]] = []

    fig, ax = plt.subplots(figsize=(9, 3.6))
    bins = 100
    span = max(rep.prepared.duration_ns, 1)
    for (batch, lazy), label in variants.items():
        req = rep.requests(strat.Strategy("sync", batch, lazy))
        hist = (req.with_columns(((pl.col("ts") - t0) * bins // (span + 1)).alias("b"))
                .group_by("b").agg(pl.col("n").sum()).sort("b"))
        ax.plot((hist["b"] * span / bins / 1e9).to_list(), hist["n"].to_list(), label=label)
    ax.set_xlabel("time since trace start (s)")
    ax.set_ylabel(f"flush requests per {span / bins / 1e6:.1f} ms")
    ax.legend()
    figs.append(("Flush requests over time, per page-state variant", _png(fig)))

    fig, ax = plt.subplots(figsize=(9, 3.6))
    for s in [x for x in strat.ALL if x.remote == "deferred"]:
        cdf = rep.window_cdf(s, points=120)
        if cdf.height:
            ax.step((cdf["window_ns"] / 1e6).to_list(), cdf["fraction"].to_list(), where="post",
                    label=s.name)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("exposure window (ms)")
    ax.set_ylabel("fraction of windows ≤ x")
    ax.legend()
    figs.append(("Exposure-window CDF of the deferred strategies", _png(fig)))

    by = rep.requests_by(strat.BY_NAME["deferred+batch"], "comm", top)
    fig, ax = plt.subplots(figsize=(9, 0.35 * max(by.height, 3) + 1))
    ax.barh(by["comm"].to_list()[::-1], by["requests"].to_list()[::-1])
    ax.set_xlabel("flush requests (deferred+batch)")
    figs.append((f"Flush requests by process (top {top})", _png(fig)))

    table = ""
    if profiles:
        cmp = compare(trace, profiles, replayer=rep)
        fig, ax = plt.subplots(figsize=(9, 4))
        names = [s for s in strat.DISPLAY_ORDER if s != "none"]
        width = 0.8 / len(profiles)
        for k, (pname, entry) in enumerate(cmp.profiles.items()):
            vals = [entry["strategies"][s]["added_cpu_ns"] / 1e9 for s in names]
            ax.bar([i + k * width for i in range(len(names))], vals, width, label=pname)
        ax.set_yscale("log")
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=30,
                      ha="right")
        ax.set_ylabel("added CPU seconds")
        ax.legend()
        figs.append(("Added CPU time per strategy and profile", _png(fig)))
        rows = "".join(
            f"<tr><td>{html.escape(p)}</td><td>{s}</td>"
            f"<td>{e['strategies'][s]['added_cpu_ns'] / 1e9:.4f}</td>"
            f"<td>{'-' if e['strategies'][s]['overhead'] is None else format(e['strategies'][s]['overhead'], '.2%')}</td></tr>"  # noqa: E501
            for p, e in cmp.profiles.items() for s in names)
        table = ("<h2>Costs</h2><table><tr><th>profile</th><th>strategy</th>"
                 f"<th>added s</th><th>overhead</th></tr>{rows}</table>")

    f = rep.facts
    body = "".join(f'<h2>{html.escape(t)}</h2><img alt="{html.escape(t)}" src="{src}">'
                   for t, src in figs)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}img{{max-width:100%}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px}}</style>
</head><body><h1>xpfotrace: {html.escape(title)}</h1>
<p>{f['events']:,} events on {f['cpus']} CPUs over {f['duration_ns'] / 1e9:.3f} s;
lost events: {f['lost_events']:,}.</p>{body}{table}</body></html>
"""


def write(trace: Trace, out: str, profiles: list[Profile], title: str) -> None:
    """Write the report atomically."""
    text = build(trace, profiles, title)
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
