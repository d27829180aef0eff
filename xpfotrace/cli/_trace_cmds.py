"""Commands that read, replay and export one trace: convert, replay, export, capture."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from ..core.errors import UsageError
from ._app import app
from ._load import load_focused
from ._options import (
    BufferOpt,
    CpusOpt,
    FormatOpt,
    JsonOpt,
    OnlyOpt,
    StrategiesOpt,
    TraceArg,
    TrimOpt,
    TrustOpt,
    WindowOpt,
)
from ._run import guard, progress_bar, say, warn

# Each command imports what it uses when it runs (inside the error guard): `--help` and
# `--version` load none of it, and a replay does not load the converters' writer, the
# costing or the renderers it does not use.


@app.command()
def convert(
    input: Annotated[str, typer.Argument(help="Raw trace (text; .zst/.gz/.xz read directly).")],
    output: Annotated[str, typer.Option("--output", "-o", help="Parquet file to write.")],
    fmt: FormatOpt = None,
    chunk_mb: Annotated[int, typer.Option(help="Bytes of text parsed at a time (MiB).",
                                          min=1)] = 16,
    trust_cpus: TrustOpt = False,
    buffer: BufferOpt = None,
) -> None:
    """Convert a raw trace into the typed Parquet event schema."""

    def run() -> None:
        from ..converters import open_trace
        from ..converters.compression import read_head
        from ..core.output import check as check_output
        from ..parquet_io import write_events

        check_output(output, [input])
        read_head(input, 1)
        progress, bar = progress_bar(input, "convert", fmt)
        tables, info = open_trace(input, fmt, chunk_bytes=chunk_mb << 20, progress=progress,
                                  trust_cpus=trust_cpus, buffer=buffer)
        try:
            rows = write_events(tables, lambda: info, output, [input])
        finally:
            if bar is not None:
                bar.close()
        warn(input, info)
        say(f"wrote {rows:,} events ({info.source_format}, {info.cpus} CPUs) to {output}")

    guard(run)


@app.command()
def replay(
    trace: TraceArg,
    cpus: CpusOpt = None,
    strategies: StrategiesOpt = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
    trim: TrimOpt = False,
    trust_cpus: TrustOpt = False,
    buffer: BufferOpt = None,
    window: WindowOpt = None,
    only: OnlyOpt = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Also attribute flush requests to 'comm' or 'pid' (top 20).")] = None,
    per_cpu: Annotated[bool, typer.Option(
        "--per-cpu", help="Also each CPU's counters (--json: per_cpu, every strategy).")
    ] = False,
) -> None:
    """Replay the XPFO ownership rules and each flush strategy over a trace."""

    def run() -> None:
        from ..engine.replay import Replayer
        from ..render.tables import render, render_per_cpu
        from ..strategies import parse as parse_strategies

        chosen = parse_strategies(strategies)
        if by not in (None, "comm", "pid"):
            raise UsageError("--by takes 'comm' or 'pid'")
        tr, tasks = load_focused(trace, fmt, trim, trust_cpus, buffer, window, only)
        rep = Replayer(tr, tasks)
        result = rep.run(cpus, chosen)
        attribution = {s.name: rep.requests_by(s, by).to_dicts() for s in chosen} if by else {}
        cpus_rows = {s.name: rep.per_cpu(s, cpus) for s in chosen} if per_cpu else {}
        if as_json:
            out = result.to_dict()
            if by:
                out[f"by_{by}"] = attribution
            if per_cpu:
                out["per_cpu"] = cpus_rows
            typer.echo(json.dumps(out, indent=1))
        else:
            typer.echo(render(result))
            for name, rows in cpus_rows.items():
                if name != "none":
                    typer.echo("\n" + render_per_cpu(name, rows))
            if by:  # the table stays readable: one strategy's attribution, named
                name = ("deferred+batch" if "deferred+batch" in attribution
                        else next((n for n in attribution if n != "none"), "none"))
                typer.echo(f"\nflush requests by {by} ({name}; --json has every strategy's):")
                for row in attribution[name]:
                    typer.echo(f"  {row['requests']:>10,}  {row[by]}")

    guard(run)


@app.command()
def export(
    trace: TraceArg,
    output: Annotated[str, typer.Option(
        "--output", "-o", help="Chrome JSON trace to write (open it in ui.perfetto.dev).")],
    strategy: Annotated[str, typer.Option(
        "--strategy", "-s", help="One strategy, parameters allowed.")] = "deferred+batch",
    cpus: CpusOpt = None,
    fmt: FormatOpt = None,
    trim: TrimOpt = False,
    trust_cpus: TrustOpt = False,
    buffer: BufferOpt = None,
    window: WindowOpt = None,
    only: OnlyOpt = None,
) -> None:
    """Export one strategy's flushes as a Chrome JSON trace for Perfetto: per-CPU tracks
    of flush requests, pending intervals and the flushes that end them, and a counter
    track of requests per ms."""

    def run() -> None:
        from ..core.output import check as check_output
        from ..render.perfetto import export as run_export

        check_output(output, [trace])
        tr, tasks = load_focused(trace, fmt, trim, trust_cpus, buffer, window, only)
        n = run_export(tr, output, strategy, cpus, [trace], only=tasks)
        say(f"wrote {n:,} trace events to {output}")

    guard(run)


@app.command(context_settings={"allow_interspersed_args": False})
def capture(
    output: Annotated[str, typer.Option("--output", "-o", help="Parquet file to write.")],
    command: Annotated[list[str] | None, typer.Argument(
        help="Workload to trace, after '--' (default: the whole system for --seconds).")] = None,
    seconds: Annotated[float | None, typer.Option(
        help="Trace for this long (with a command: at most this long).")] = None,
    buffer_kb: Annotated[int, typer.Option(help="Ring buffer per CPU, KiB.", min=64)] = 65536,
    warmup: Annotated[float, typer.Option(
        help="Let the command run this many seconds before tracing.", min=0)] = 0.0,
    save_text: Annotated[str | None, typer.Option(
        help="Also keep the raw tracefs text here (.zst: compressed).")] = None,
) -> None:
    """Record a real workload through tracefs (as root) straight into Parquet."""

    def run() -> None:
        from tqdm import tqdm

        from ..capture import capture as do_capture
        from ..core.output import check as check_output

        check_output(output)  # before the workload runs, not after
        if save_text is not None:
            check_output(save_text)
        with tqdm(unit="B", unit_scale=True, desc="save text", file=sys.stderr,
                  disable=None if save_text else True, leave=False) as bar:
            res = do_capture(output, command=command, seconds=seconds, buffer_kb=buffer_kb,
                             warmup=warmup, save_text=save_text,
                             warn=lambda t: say(f"xpfotrace: warning: {t}"),
                             save_progress=bar.update)
        base = int(res.info.extra["baseline_sys_ns"]) / 1e9
        say(f"wrote {res.events:,} events ({res.info.cpus} CPUs, kernel CPU time "
            f"{base:.3f} s) to {output}")

    guard(run)
