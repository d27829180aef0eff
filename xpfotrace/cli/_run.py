"""How every command runs: one error guard (one line and an exit code per error),
messages by verbosity, and a progress bar for large inputs."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import typer

from ..core.errors import XpfoError
from ..core.procenv import interrupted

if TYPE_CHECKING:
    from tqdm import tqdm

    from ..core.traceinfo import TraceInfo

state = {"debug": False, "verbosity": 0}  # -q: -1, -v: 1

T = TypeVar("T")

PROGRESS_MIN_BYTES = 8 << 20

def guard(fn: Callable[[], T]) -> T:
    """Run a command's ``fn`` (which imports what it needs first: a missing or broken
    dependency is an error here too); on a known error print one line and exit with its
    code."""
    try:
        return fn()
    except XpfoError as exc:
        if state["debug"]:
            traceback.print_exc()
        typer.echo(f"xpfotrace: error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        interrupted()
    except (typer.Exit, typer.Abort):
        raise  # a command's own exit status
    except Exception as exc:  # a bug: still one line, the traceback on request
        if state["debug"]:
            traceback.print_exc()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        typer.echo(f"xpfotrace: internal error: {type(exc).__name__}: {first} "
                   "(rerun with --debug for the traceback and please report it)", err=True)
        raise typer.Exit(3) from None

def progress_bar(path: str, label: str, fmt: str | None = None,
              ) -> tuple[Callable[[int], None] | None, tqdm | None]:
    try:
        size = os.path.getsize(path)
    except OSError:
        return None, None
    if size < PROGRESS_MIN_BYTES:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=size, unit="B", unit_scale=True, desc=label, file=sys.stderr,
               disable=None, leave=False)
    return bar.update, bar

def say(text: str, level: int = 0) -> None:
    """A line on stderr: notes and warnings (level 0) unless -q, details (level 1) with -v.
    Errors are always printed (``guard``)."""
    if state["verbosity"] >= level:
        typer.echo(text, err=True)

def warn(path: str, info: TraceInfo) -> None:
    for text in info.warnings():
        say(f"xpfotrace: warning: {path}: {text}")
    say(f"xpfotrace: {path}: {info.events:,} events ({info.source_format}, {info.cpus} CPUs)",
        1)

def note(text: str) -> None:
    say(f"xpfotrace: note: {text}")
