"""The options the commands share (typer ``Annotated`` types), and what --help lists."""

from __future__ import annotations

from typing import Annotated

import typer

#: the input formats, for --help (converters.FORMAT_NAMES, without importing them)
FORMAT_NAMES: tuple[str, ...] = ("tracefs", "trace-cmd", "perf-script", "trace.dat",
                                 "perf.data")

def _profile_names() -> str:
    """The shipped profiles' names, for --help (read from their TOML files: cheap)."""
    try:
        from ..costing.hardware import builtin_profiles

        return ", ".join(p.name for p in builtin_profiles())
    except Exception:  # --help must work even with a broken install  # pragma: no cover
        return "see 'xpfotrace profiles'"

PROFILE_NAMES = _profile_names()

TraceArg = Annotated[str, typer.Argument(help="Parquet from 'convert', or any raw trace.")]

CpusOpt = Annotated[int | None, typer.Option(
    "--cpus", help="Replay on N CPUs (more than traced: projection).", min=1)]

FormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", help=f"Force the input format ({', '.join(FORMAT_NAMES)}, parquet).")]

StrategiesOpt = Annotated[str | None, typer.Option(
    "--strategies", "-s", help="Comma-separated strategies (default: all nine): none, sync, "
    "sync+batch, sync+lazy, sync+batch+lazy, deferred, deferred+batch, deferred+lazy, "
    "deferred+batch+lazy; parameters after @: bound=T (deferred only, e.g. @bound=2ms) and "
    "ceiling=C (e.g. @ceiling=64).")]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]

ProfileFileOpt = Annotated[list[str] | None, typer.Option(
    "--profile-file", help="TOML file with more profiles; repeat.")]

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
