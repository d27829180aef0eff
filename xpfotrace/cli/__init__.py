"""The ``xpfotrace`` command: a thin layer over the library (each command parses its
options, calls one library function and prints or writes what it returns)."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from ..core.procenv import interrupted
from . import _cost_cmds, _trace_cmds  # noqa: F401  (they register the commands)
from ._app import app
from ._run import state

__all__ = ["app", "interrupted"]


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
    state["debug"] = debug
    if verbose and quiet:
        raise typer.BadParameter("-v and -q contradict each other")
    state["verbosity"] = 1 if verbose else -1 if quiet else 0
