"""The ``xpfotrace`` command: a thin layer over the library."""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from . import __version__
from .errors import UsageError, XpfoError

if TYPE_CHECKING:  # loaded by _heavy() when a command runs: --help needs none of them
    import polars as pl
    from tqdm import tqdm

    from converters import open_trace, will_compile_parser
    from converters.compression import read_head

    from .capture import capture as do_capture
    from .comparison import compare as run_compare
    from .comparison import parse_seconds
    from .engine.replay import Replayer
    from .export import export as run_export
    from .fleet import batch as run_batch
    from .fleet import exclude_output, scan_inputs
    from .focus import Only, Window
    from .frontier import DEFAULT_STRATEGIES, combinations, parse_bounds, parse_ceilings
    from .frontier import sweep as run_sweep
    from .hardware import Profile, all_profiles, find_profiles, load_profile_file
    from .htmlreport import STEPS
    from .htmlreport import write as write_report
    from .output import atomic_path
    from .output import check as check_output
    from .parquet_io import write_events
    from .report import render, render_comparison, render_per_cpu, render_profiles, render_sweep
    from .strategies import parse as parse_strategies
    from .trace import Trace, read_trace
    from .traceinfo import TraceInfo

#: (module, attribute, the name this module uses) of everything a command may need
_HEAVY: tuple[tuple[str, str, str], ...] = (
    ("polars", "", "pl"), ("tqdm", "tqdm", "tqdm"),
    ("converters", "open_trace", "open_trace"),
    ("converters", "will_compile_parser", "will_compile_parser"),
    ("converters.compression", "read_head", "read_head"),
    (".capture", "capture", "do_capture"), (".comparison", "compare", "run_compare"),
    (".comparison", "parse_seconds", "parse_seconds"), (".engine.replay", "Replayer", "Replayer"),
    (".export", "export", "run_export"), (".fleet", "batch", "run_batch"),
    (".fleet", "exclude_output", "exclude_output"), (".fleet", "scan_inputs", "scan_inputs"),
    (".focus", "Only", "Only"), (".focus", "Window", "Window"),
    (".frontier", "DEFAULT_STRATEGIES", "DEFAULT_STRATEGIES"),
    (".frontier", "combinations", "combinations"), (".frontier", "parse_bounds", "parse_bounds"),
    (".frontier", "parse_ceilings", "parse_ceilings"), (".frontier", "sweep", "run_sweep"),
    (".hardware", "all_profiles", "all_profiles"), (".hardware", "find_profiles", "find_profiles"),
    (".hardware", "load_profile_file", "load_profile_file"),
    (".htmlreport", "STEPS", "STEPS"), (".htmlreport", "write", "write_report"),
    (".output", "atomic_path", "atomic_path"), (".output", "check", "check_output"),
    (".parquet_io", "write_events", "write_events"), (".report", "render", "render"),
    (".report", "render_comparison", "render_comparison"),
    (".report", "render_per_cpu", "render_per_cpu"),
    (".report", "render_profiles", "render_profiles"), (".report", "render_sweep", "render_sweep"),
    (".strategies", "parse", "parse_strategies"), (".trace", "read_trace", "read_trace"),
)


def _heavy() -> None:
    """Import what the commands use (Polars, the engine, the converters) into this
    module's namespace, once: ``xpfotrace --help`` and ``--version`` never pay for it."""
    if "read_trace" in globals():
        return
    space: dict[str, Any] = globals()
    for module, attr, name in _HEAVY:
        mod = importlib.import_module(module, __package__)
        space[name] = getattr(mod, attr) if attr else mod


#: the input formats, for --help (converters.FORMAT_NAMES, without importing them)
FORMAT_NAMES: tuple[str, ...] = ("tracefs", "trace-cmd", "perf-script", "trace.dat",
                                 "perf.data")

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="What would XPFO's page-ownership TLB flushing cost on this workload?")

_state = {"debug": False, "verbosity": 0}  # -q: -1, -v: 1
T = TypeVar("T")

def _profile_names() -> str:
    """The shipped profiles' names, for --help (read from their TOML files: cheap)."""
    try:
        from .hardware import builtin_profiles

        return ", ".join(p.name for p in builtin_profiles())
    except Exception:  # --help must work even with a broken install  # pragma: no cover
        return "see 'xpfotrace profiles'"


PROFILE_NAMES = _profile_names()

PROGRESS_MIN_BYTES = 8 << 20
FormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", help=f"Force the input format ({', '.join(FORMAT_NAMES)}, parquet).")]


def interrupted() -> NoReturn:
    """Exit 130 with one line. The work has unwound (temporary files removed); worker
    threads still inside a NumPy or Arrow call are not waited for."""
    typer.echo("xpfotrace: interrupted", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _guard(fn: Callable[[], T]) -> T:
    """Run fn; on a known error print one line and exit with its code."""
    try:
        _heavy()
        return fn()
    except XpfoError as exc:
        if _state["debug"]:
            traceback.print_exc()
        typer.echo(f"xpfotrace: error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        interrupted()
    except (typer.Exit, typer.Abort):
        raise  # a command's own exit status
    except Exception as exc:  # a bug: still one line, the traceback on request
        if _state["debug"]:
            traceback.print_exc()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        typer.echo(f"xpfotrace: internal error: {type(exc).__name__}: {first} "
                   "(rerun with --debug for the traceback and please report it)", err=True)
        raise typer.Exit(3) from None


def _progress(path: str, label: str, fmt: str | None = None,
              ) -> tuple[Callable[[int], None] | None, tqdm | None]:
    if will_compile_parser(path, fmt):
        say("xpfotrace: compiling the text parser (once per install, about 10 s)")
    try:
        size = os.path.getsize(path)
    except OSError:
        return None, None
    if size < PROGRESS_MIN_BYTES:
        return None, None
    bar = tqdm(total=size, unit="B", unit_scale=True, desc=label, file=sys.stderr,
               disable=None, leave=False)
    return bar.update, bar


def say(text: str, level: int = 0) -> None:
    """A line on stderr: notes and warnings (level 0) unless -q, details (level 1) with -v.
    Errors are always printed (``_guard``)."""
    if _state["verbosity"] >= level:
        typer.echo(text, err=True)


def _warn(path: str, info: TraceInfo) -> None:
    for text in info.warnings():
        say(f"xpfotrace: warning: {path}: {text}")
    say(f"xpfotrace: {path}: {info.events:,} events ({info.source_format}, {info.cpus} CPUs)",
        1)


def _focus(window: str | None, only: str | None) -> tuple[Window | None, Only | None]:
    """--window and --only, checked before any work."""
    return (Window.parse(window) if window else None, Only.parse(only) if only else None)


def _load_focused(path: str, fmt: str | None, trim: bool, trust_cpus: bool,
                  buffer: str | None, window: str | None, only: str | None
                  ) -> tuple[Trace, Only | None]:
    """The trace as the common options ask (--window applied), and the --only tasks."""
    focus, tasks = _focus(window, only)
    return _load(path, fmt, trim, focus, trust_cpus, buffer), tasks


def _load(path: str, fmt: str | None, trim: bool, window: Window | None = None,
          trust_cpus: bool = False, buffer: str | None = None) -> Trace:
    progress, bar = _progress(path, "read", fmt)
    try:
        tr = read_trace(path, fmt, progress=progress, trust_cpus=trust_cpus, buffer=buffer)
    finally:
        if bar is not None:
            bar.close()
    _warn(path, tr.info)
    tr = tr.trimmed() if trim else tr
    return window.apply(tr) if window is not None else tr


StrategiesOpt = Annotated[str | None, typer.Option(
    "--strategies", "-s", help="Comma-separated strategies (default: all nine): none, sync, "
    "sync+batch, sync+lazy, sync+batch+lazy, deferred, deferred+batch, deferred+lazy, "
    "deferred+batch+lazy; parameters after @: bound=T (deferred only, e.g. @bound=2ms) and "
    "ceiling=C (e.g. @ceiling=64).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
ProfileFileOpt = Annotated[list[str] | None, typer.Option(
    "--profile-file", help="TOML file with more profiles; repeat.")]


def _profiles(names: list[str] | None, files: list[str] | None) -> list[Profile]:
    """Profiles named on the command line, from the shipped ones and ``--profile-file``s."""
    extra = [p for f in files or [] for p in load_profile_file(f)]
    return find_profiles(names, extra, _note) if names else []


def _note(text: str) -> None:
    say(f"xpfotrace: note: {text}")


WindowOpt = Annotated[str | None, typer.Option(
    "--window", help="Replay only START:END seconds from the trace's first event (either end "
    "may be left out; abs:START:END for absolute timestamps).")]
OnlyOpt = Annotated[str | None, typer.Option(
    "--only", help="Only these tasks' allocations make requests and count (every event "
    "still drives page state): pid=N, comm=NAME, workload (capture's process tree); "
    "comma-separated.")]
BufferOpt = Annotated[str | None, typer.Option(
    "--buffer", help="The trace buffer of a trace.dat with several: an instance's name, or "
    "'top' (default: the one with page-allocation events).")]
TrustOpt = Annotated[bool, typer.Option(
    "--trust-cpus", help="Keep events on CPU numbers that look corrupted (beyond the "
    "header's count, or a rare CPU far above the others; 65536 and up are always set "
    "aside).")]
BaselineOpt = Annotated[str | None, typer.Option(
    "--baseline-sys", help="Kernel CPU seconds of the traced workload "
    "(default: recorded by 'capture').")]
TrimOpt = Annotated[bool, typer.Option(
    "--trim-to-common-window",
    help="Start the replay at the latest first timestamp of any CPU (after an overflow).")]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"xpfotrace {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Also say what was read and written, and how long it took.")
    ] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No warnings or notes on stderr (errors still).")] = False,
    version: Annotated[bool, typer.Option(
        "--version", help="Print the version and exit.", is_eager=True,
        callback=_print_version)] = False,
) -> None:
    _state["debug"] = debug
    if verbose and quiet:
        raise typer.BadParameter("-v and -q contradict each other")
    _state["verbosity"] = 1 if verbose else -1 if quiet else 0


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
        check_output(output, [input])
        read_head(input, 1)
        progress, bar = _progress(input, "convert", fmt)
        tables, info = open_trace(input, fmt, chunk_bytes=chunk_mb << 20, progress=progress,
                                  trust_cpus=trust_cpus, buffer=buffer)
        try:
            rows = write_events(tables, lambda: info, output, [input])
        finally:
            if bar is not None:
                bar.close()
        _warn(input, info)
        say(f"wrote {rows:,} events ({info.source_format}, {info.cpus} CPUs) to {output}")

    _guard(run)


@app.command()
def replay(
    trace: Annotated[str, typer.Argument(help="Parquet from 'convert', or any raw trace.")],
    cpus: Annotated[int | None, typer.Option(
        "--cpus", help="Replay on N CPUs (more than traced: projection).", min=1)] = None,
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
        chosen = parse_strategies(strategies)
        if by not in (None, "comm", "pid"):
            raise UsageError("--by takes 'comm' or 'pid'")
        tr, tasks = _load_focused(trace, fmt, trim, trust_cpus, buffer, window, only)
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

    _guard(run)


@app.command()
def profiles(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
    profile_file: Annotated[list[str] | None, typer.Option(
        "--profile-file", help="Also show the profiles of this TOML file.")] = None,
) -> None:
    """List the hardware profiles (shipped, and from --profile-file)."""

    def run() -> None:
        items = all_profiles([p for f in profile_file or [] for p in load_profile_file(f)],
                             _note)
        if as_json:
            typer.echo(json.dumps([p.to_dict() for p in items], indent=1))
        else:
            typer.echo(render_profiles(items))

    _guard(run)


@app.command()
def compare(
    trace: Annotated[str, typer.Argument(help="Parquet from 'convert', or any raw trace.")],
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
        chosen = parse_strategies(strategies)
        profs = _profiles(profile, profile_file)
        base = parse_seconds(baseline_sys) if baseline_sys is not None else None
        tr, tasks = _load_focused(trace, fmt, trim, trust_cpus, buffer, window, only)
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

    _guard(run)


@app.command()
def sweep(
    trace: Annotated[str, typer.Argument(help="Parquet from 'convert', or any raw trace.")],
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
        (prof,) = _profiles([profile], profile_file)
        chosen = [s for s in parse_strategies(strategies or DEFAULT_STRATEGIES)
                  if s.remote != "none"]
        bounds, ceilings = parse_bounds(bound), parse_ceilings(ceiling)
        base = parse_seconds(baseline_sys) if baseline_sys is not None else None
        total = len(combinations(chosen, bounds, ceilings))
        if output is not None:
            check_output(output, [trace])
        tr, tasks = _load_focused(trace, fmt, trim, trust_cpus, buffer, window, only)
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

    _guard(run)


@app.command()
def export(
    trace: Annotated[str, typer.Argument(help="Parquet from 'convert', or any raw trace.")],
    output: Annotated[str, typer.Option(
        "--output", "-o", help="Chrome JSON trace to write (open it in ui.perfetto.dev).")],
    strategy: Annotated[str, typer.Option(
        "--strategy", "-s", help="One strategy, parameters allowed.")] = "deferred+batch",
    cpus: Annotated[int | None, typer.Option(
        "--cpus", help="Replay on N CPUs (more than traced: projection).", min=1)] = None,
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
        check_output(output, [trace])
        tr, tasks = _load_focused(trace, fmt, trim, trust_cpus, buffer, window, only)
        n = run_export(tr, output, strategy, cpus, [trace], only=tasks)
        say(f"wrote {n:,} trace events to {output}")

    _guard(run)


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

    _guard(run)


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
        profs = _profiles(profile, profile_file)
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
            focus, tasks = _focus(window, only)
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

    _guard(run)


@app.command()
def report(
    trace: Annotated[str, typer.Argument(help="Parquet from 'convert', or any raw trace.")],
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
        profs = _profiles(profile, profile_file)
        chosen = parse_strategies(strategies)
        if sweep and not profs:
            raise UsageError("--sweep needs a --profile to cost the settings on")
        bounds, ceilings = parse_bounds(bound), parse_ceilings(ceiling)
        base = parse_seconds(baseline_sys) if baseline_sys is not None else None
        check_output(output, [trace])
        tr, tasks = _load_focused(trace, fmt, trim, trust_cpus, buffer, window, only)
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

    _guard(run)
