"""The console script: signals first, then the (heavier) CLI.

Ctrl-C (SIGINT) and SIGTERM become one KeyboardInterrupt: the first unwinds the
work (atomic writes remove their temporary files) and exits 130 with one line; later
ones are ignored until then, so a second Ctrl-C cannot cut the clean-up short. This
module imports nothing of the package's until the handlers are in place, so an
interrupt during start-up is also one line, not a traceback. Then the process's own
environment is set and the cyclic garbage collector turned off, before anything loads
NumPy; and a finished command exits without the interpreter's teardown
(``core/procenv.py`` has the reasons).
"""

from __future__ import annotations

import signal
from types import FrameType

_interrupted = [False]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # the first signal unwinds the work; later ones are ignored (the handler stays: a
    # handler swapped for SIG_IGN while a signal is pending makes Python print a warning)
    if not _interrupted[0]:
        _interrupted[0] = True
        raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    from .core.procenv import enter_cli, exit_code, interrupted, leave

    enter_cli()  # before anything loads NumPy
    code = 0
    try:
        from .cli import app

        app()
    except KeyboardInterrupt:  # during start-up (the commands' own go through cli._guard)
        interrupted()
    except SystemExit as done:  # (typer ends every command so)
        code = exit_code(done.code)
    try:
        leave(code)  # without the interpreter's teardown
    except KeyboardInterrupt:
        interrupted()


if __name__ == "__main__":  # pragma: no cover
    main()
