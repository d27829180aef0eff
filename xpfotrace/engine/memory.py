"""NumPy's transparent-huge-page hint, turned off while the engine runs.

NumPy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on
every array of 4 MiB or more. The engine's large arrays live for a few
milliseconds each; where the kernel's THP ``defrag`` setting is ``madvise`` (the
default of many distributions), each 2 MiB fault of such an array may stall in
direct compaction (the README's performance section has the measurement).
``NUMPY_MADVISE_HUGEPAGE=0`` is
NumPy's documented switch for a whole process; ``short_lived_arrays`` does the
same for the duration of a call and restores the previous setting.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _find_setter() -> Callable[[bool], bool] | None:
    # numpy >= 2 keeps it in numpy._core; 1.x in numpy.core (deprecated alias in 2.x)
    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            setter = getattr(importlib.import_module(name), "_set_madvise_hugepage", None)
        except ImportError:
            continue
        if callable(setter):
            return setter  # type: ignore[no-any-return]
    return None


_SET = _find_setter()
_lock = threading.Lock()
_depth = 0
_previous = True


@contextmanager
def short_lived_arrays() -> Iterator[None]:
    """No huge-page hint for arrays made inside (nested and threaded uses are counted;
    the setting in force before the outermost entry comes back at its exit)."""
    global _depth, _previous
    if _SET is None:
        yield
        return
    with _lock:
        if _depth == 0:
            _previous = _SET(False)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _SET(_previous)
