"""Commands that cost traces on hardware: profiles, compare, sweep, batch, report."""

from __future__ import annotations

import gc
import json
import os
import sys
from typing import Annotated

import typer

from ..core.errors import UsageError
from ._app import app
from ._load import focus_options, load_focused, profiles_named
from ._options import (
    PROFILE_NAMES,
    BaselineOpt,
    BufferOpt,
    FormatOpt,
    JsonOpt,
    OnlyOpt,
    ProfileFileOpt,
    StrategiesOpt,
    TraceArg,
    TrimOpt,
    TrustOpt,
    WindowOpt,
)
from ._run import guard, note, say

# Each command imports what it uses when it runs (see _trace_cmds).


@app.command()
def profiles(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
    profile_file: Annotated[list[str] | None, typer.Option(
        "--profile-file", help="Also show the profiles of this TOML file.")] = None,
) -> None:
    """List the hardware profiles (shipped, and from --profile-file)."""

    def run() -> None:
        from ..costing.hardware import all_profiles, load_profile_file
        from ..render.tables import render_profiles

        items = all_profiles([p for f in profile_file or [] for p in load_profile_file(f)],
                             note)
        if as_json:
            typer.echo(json.dumps([p.to_dict() for p in items], indent=1))
        else:
            typer.echo(render_profiles(items))

    guard(run)


@app.command()
def compare(
    trace: TraceArg,
    profile: Annotated[list[str], typer.Option(
        "--profile", "-p", help="Profile name or unique part of it ('8160'); repeat. Shipped: "
        + PROFILE_NAMES + ".")],
    profile_file: ProfileFileOpt = None,
    baseline_sys: BaselineOpt = None,
    strategies: StrategiesOpt = None,
    sensitivity: Annotated[bool, typer.Option(
        "--sensitivity", help="Vary each cost parameter x0.5 and x2 (one at a time): the "
        "range of overhead and the parameter that moves it most.")] = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
    trim: TrimOpt = False,
    trust_cpus: TrustOpt = False,
    buffer: BufferOpt = None,
    window: WindowOpt = None,
    only: OnlyOpt = None,
) -> None:
    """Cost each strategy on each hardware profile (trace projected to its CPU count)."""

    def run() -> None:
        from tqdm import tqdm

        from ..costing.compare import compare as run_compare
        from ..costing.compare import parse_seconds
        from ..engine.replay import Replayer
        from ..render.tables import render_comparison
        from ..strategies import parse as parse_strategies

        chosen = parse_strategies(strategies)
        profs = profiles_named(profile, profile_file)
        base = parse_seconds(baseline_sys) if baseline_sys is not None else None
        tr, tasks = load_focused(trace, fmt, trim, trust_cpus, buffer, window, only)
        rep = Replayer(tr, tasks)
        # large projections take seconds each: a bar on a terminal (none when piped)
        with tqdm(total=len(profs), unit="profile", desc="compare", file=sys.stderr,
                  disable=None, leave=False) as bar:
            result = run_compare(tr, profs, strategies=chosen, baseline_sys_ns=base,
                                 replayer=rep, progress=bar.update,
                                 with_sensitivity=sensitivity)
        if as_json:
            typer.echo(json.dumps(result.to_dict(), indent=1))
        else:
            typer.echo(render_comparison(result, rep.facts))

    guard(run)


@app.command()
def sweep(
    trace: TraceArg,
    profile: Annotated[str, typer.Option(
        "--profile", "-p",
        help="Profile name or unique part of it ('8160'). Shipped: " + PROFILE_NAMES + ".")],
    bound: Annotated[str | None, typer.Option(
        "--bound", help="Comma-separated bounds for the deferred strategies, e.g. "
        "'none,100us,1ms,10ms' (none: no bound; default: none).")] = None,
    ceiling: Annotated[str | None, typer.Option(
        "--ceiling", help="Comma-separated flush ceilings, e.g. '16,33,64' (default 33).")
    ] = None,
    strategies: Annotated[str | None, typer.Option(
        "--strategies", "-s", help="Strategies to vary (default: sync,deferred,"
        "deferred+batch; 'all': the eight XPFO strategies); bounds apply to the deferred "
        "ones.")] = None,
    profile_file: ProfileFileOpt = None,
    baseline_sys: BaselineOpt = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Also write the rows to this Parquet file.")] = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
    trim: TrimOpt = False,
    trust_cpus: TrustOpt = False,
    buffer: BufferOpt = None,
    window: WindowOpt = None,
    only: OnlyOpt = None,
) -> None:
    """Replay every strategy x bound x ceiling on one profile; mark the Pareto frontier
    (less overhead for no longer p99 exposure window)."""

    def run() -> None:
        from tqdm import tqdm

        from ..core.output import atomic_path
        from ..core.output import check as check_output
        from ..costing.compare import parse_seconds
        from ..costing.sweep import DEFAULT_STRATEGIES, combinations, parse_bounds, parse_ceilings
        from ..costing.sweep import sweep as run_sweep
        from ..engine.replay import Replayer
        from ..render.tables import render_sweep
        from ..strategies import parse as parse_strategies

        (prof,) = profiles_named([profile], profile_file)
        chosen = [s for s in parse_strategies(strategies or DEFAULT_STRATEGIES)
                  if s.remote != "none"]
        bounds, ceilings = parse_bounds(bound), parse_ceilings(ceiling)
        base = parse_seconds(baseline_sys) if baseline_sys is not None else None
        total = len(combinations(chosen, bounds, ceilings))
        if output is not None:
            check_output(output, [trace])
        tr, tasks = load_focused(trace, fmt, trim, trust_cpus, buffer, window, only)
        with tqdm(total=total, unit="combination", desc="sweep", file=sys.stderr,
                  disable=None, leave=False) as bar:
            res = run_sweep(tr, prof, strategies=chosen, bounds=bounds, ceilings=ceilings,
                            baseline_sys_ns=base, progress=bar.update,
                            replayer=Replayer(tr, tasks))
        if output is not None:
            with atomic_path(output, [trace]) as tmp:
                res.frame.write_parquet(tmp, compression="zstd")
        if as_json:
            typer.echo(json.dumps(res.to_dict(), indent=1))
        else:
            typer.echo(render_sweep(res))

    guard(run)


@app.command()
def batch(
    inputs: Annotated[list[str], typer.Argument(help="Trace files, directories or globs.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Summary Parquet to write.")],
    profile: Annotated[list[str] | None, typer.Option(
        "--profile", "-p", help="Cost on these profiles (repeat; shipped: " + PROFILE_NAMES
        + "); default: as traced.")] = None,
    profile_file: ProfileFileOpt = None,
    strategies: StrategiesOpt = None,
    dask: Annotated[str | None, typer.Option(
        "--dask", help="Run traces as tasks on this Dask scheduler ('local': this machine).")
    ] = None,
    window: WindowOpt = None,
    only: OnlyOpt = None,
    trust_cpus: TrustOpt = False,
) -> None:
    """Analyze many traces into one Parquet table: a row per (trace, profile, strategy)."""

    def run() -> None:
        import polars as pl
        from tqdm import tqdm

        from ..core.output import atomic_path
        from ..core.output import check as check_output
        from ..fleet.batch import batch as run_batch
        from ..fleet.batch import exclude_output, scan_inputs
        from ..strategies import parse as parse_strategies

        gc.enable()  # (off for one-trace commands, core/procenv.py): a batch reads many

        profs = profiles_named(profile, profile_file)
        found, skipped = scan_inputs(inputs)
        if skipped:
            say(f"xpfotrace: note: skipped {len(skipped)} file(s) that are not traces: "
                + ", ".join(skipped))
        paths, own = exclude_output(found, output)
        for p in own:
            say(f"xpfotrace: note: {p} is the output of this batch: not read as a trace")
        if not paths:
            raise UsageError("no trace files among the inputs")
        check_output(output, paths)
        with tqdm(total=len(paths), unit="trace", desc="batch", file=sys.stderr,
                  disable=None) as bar:
            focus, tasks = focus_options(window, only)
            df = run_batch(paths, profs, parse_strategies(strategies), dask=dask,
                           window=focus, only=tasks, trust_cpus=trust_cpus,
                           progress=bar.update)
        with atomic_path(output, paths) as tmp:
            df.write_parquet(tmp, compression="zstd")
        errors = df.filter(pl.col("error").is_not_null())
        for row in errors.iter_rows(named=True):
            typer.echo(f"xpfotrace: error: {row['error']}", err=True)
        say(f"wrote {df.height:,} rows for {len(paths)} trace(s) to {output}"
            + (f"; {errors.height} failed" if errors.height else ""))
        if errors.height:
            raise typer.Exit(1)

    guard(run)


@app.command()
def report(
    trace: TraceArg,
    output: Annotated[str, typer.Option("--output", "-o", help="HTML file to write.")],
    profile: Annotated[list[str] | None, typer.Option(
        "--profile", "-p",
        help="Also cost on these profiles (repeat; shipped: " + PROFILE_NAMES + ").")] = None,
    profile_file: ProfileFileOpt = None,
    strategies: StrategiesOpt = None,
    sweep: Annotated[bool, typer.Option(
        "--sweep", help="Add the design-space plot: every strategy x --bound x --ceiling on "
        "the first --profile, overhead against p99 exposure window.")] = False,
    bound: Annotated[str, typer.Option(
        "--bound", help="Bounds of the --sweep (none: no bound).")] = "none,100us,1ms,10ms",
    ceiling: Annotated[str, typer.Option(
        "--ceiling", help="Flush ceilings of the --sweep.")] = "16,33,64",
    baseline_sys: BaselineOpt = None,
    fmt: FormatOpt = None,
    trim: TrimOpt = False,
    trust_cpus: TrustOpt = False,
    buffer: BufferOpt = None,
    window: WindowOpt = None,
    only: OnlyOpt = None,
) -> None:
    """Write a self-contained HTML report with plots."""

    def run() -> None:
        from tqdm import tqdm

        from ..core.output import check as check_output
        from ..costing.compare import parse_seconds
        from ..costing.sweep import DEFAULT_STRATEGIES, parse_bounds, parse_ceilings
        from ..costing.sweep import sweep as run_sweep
        from ..engine.replay import Replayer
        from ..render.html import STEPS
        from ..render.html import write as write_report
        from ..strategies import parse as parse_strategies

        profs = profiles_named(profile, profile_file)
        chosen = parse_strategies(strategies)
        if sweep and not profs:
            raise UsageError("--sweep needs a --profile to cost the settings on")
        bounds, ceilings = parse_bounds(bound), parse_ceilings(ceiling)
        base = parse_seconds(baseline_sys) if baseline_sys is not None else None
        check_output(output, [trace])
        tr, tasks = load_focused(trace, fmt, trim, trust_cpus, buffer, window, only)
        res = None
        if sweep:
            res = run_sweep(tr, profs[0], strategies=DEFAULT_STRATEGIES, bounds=bounds,
                            ceilings=ceilings, baseline_sys_ns=base,
                            replayer=Replayer(tr, tasks))
        with tqdm(total=STEPS, unit="step", desc="report", file=sys.stderr, disable=None,
                  leave=False) as bar:
            write_report(tr, output, profs, os.path.basename(trace), strategies=chosen,
                         sweep=res, baseline_sys_ns=base,
                         command=" ".join(["xpfotrace", *sys.argv[1:]]), progress=bar.update,
                         only=tasks)
        say(f"wrote {output}")

    guard(run)
