"""How the command line sets up its own process, and only its own.

**Environment.**
OpenBLAS (NumPy's BLAS) starts a worker thread per CPU when NumPy loads, and those
threads spin for a while waiting for work that a conversion or a replay never gives
them: on two CPUs that took 0.15-0.35 s of CPU from the parsing threads per command.
The engine's few matrix products are small (the 96-CPU projection ran faster on one
BLAS thread). So the CLI asks for one thread, unless the user has set the variable,
before anything loads NumPy; OpenBLAS reads it only when it loads.

What the CLI set is kept out of the environment of the workloads it runs (``capture
-- COMMAND``): a traced program must see the user's environment, not ours.

**Garbage collector.** One command is one short process, and its cyclic garbage is a
few hundred small objects that its imports leave (measured on replay, convert and
compare: no array among them). The collector's passes over the imported libraries'
objects cost more than that: about 0.05 s a command. So it is off; ``batch``, which
reads any number of traces in one process, turns it back on.

**Exit.** A finished command's process ends without the interpreter's teardown (which
collects and frees every object of the imported libraries: 0.08-0.09 s of a 0.7 s
replay): the exit handlers run (thread pools, temporary directories, logging), the
standard streams are flushed, then ``os._exit``. While a thread other than daemons is
still running, the normal exit (which waits for it) is taken instead.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from typing import NoReturn

__all__ = ["CLI_ENV", "enter_cli", "exit_code", "interrupted", "leave", "set_cli_env",
           "workload_env"]

#: Variables the CLI sets for itself when the user has not.
CLI_ENV: dict[str, str] = {"OPENBLAS_NUM_THREADS": "1"}

_added: set[str] = set()


def set_cli_env() -> None:
    """Set CLI_ENV's variables that the environment does not already have."""
    for name, value in CLI_ENV.items():
        if name not in os.environ:
            os.environ[name] = value
            _added.add(name)


def workload_env() -> dict[str, str]:
    """The environment for a program the CLI runs: the process's, without what
    :func:`set_cli_env` added."""
    return {k: v for k, v in os.environ.items() if k not in _added}


def enter_cli() -> None:
    """Set up the process of a command: :func:`set_cli_env`, and the collector off."""
    set_cli_env()
    gc.disable()


def exit_code(code: object) -> int:
    """The status of ``SystemExit(code)``, as Python gives it (a message: printed, 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def leave(code: int) -> NoReturn:
    """End the process of a finished command with status ``code`` (see the module text)."""
    if any(t.is_alive() and not t.daemon for t in threading.enumerate()
           if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    if not _flushed():
        code = code or 120  # (a closed pipe: what Python's own exit returns)
    os._exit(code)


def interrupted() -> NoReturn:
    """Exit 130 with one line, at once (Ctrl-C or SIGTERM: the work has unwound, its
    temporary files removed; worker threads still inside a NumPy or Arrow call are not
    waited for)."""
    sys.stderr.write("xpfotrace: interrupted\n")
    _flushed()
    os._exit(130)


def _flushed() -> bool:
    """Flush stdout and stderr; False when one could not be (a closed pipe)."""
    ok = True
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            ok = False
    return ok
