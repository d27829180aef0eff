"""Loading what the commands' common options name: the trace (--format, --window,
--trim-to-common-window, --trust-cpus, --buffer), the --only tasks, the profiles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._run import note, progress_bar, warn

if TYPE_CHECKING:
    from ..costing.hardware import Profile
    from ..focus import Only, Window
    from ..trace import Trace


def focus_options(window: str | None, only: str | None) -> tuple[Window | None, Only | None]:
    """--window and --only, checked before any work."""
    from ..focus import Only, Window

    return (Window.parse(window) if window else None, Only.parse(only) if only else None)


def load_focused(path: str, fmt: str | None, trim: bool, trust_cpus: bool,
                  buffer: str | None, window: str | None, only: str | None
                  ) -> tuple[Trace, Only | None]:
    """The trace as the common options ask (--window applied), and the --only tasks."""
    focus, tasks = focus_options(window, only)
    return load(path, fmt, trim, focus, trust_cpus, buffer), tasks


def load(path: str, fmt: str | None, trim: bool, window: Window | None = None,
          trust_cpus: bool = False, buffer: str | None = None) -> Trace:
    from ..trace import read_trace

    progress, bar = progress_bar(path, "read", fmt)
    try:
        tr = read_trace(path, fmt, progress=progress, trust_cpus=trust_cpus, buffer=buffer)
    finally:
        if bar is not None:
            bar.close()
    warn(path, tr.info)
    tr = tr.trimmed() if trim else tr
    return window.apply(tr) if window is not None else tr


def profiles_named(names: list[str] | None, files: list[str] | None) -> list[Profile]:
    """Profiles named on the command line, from the shipped ones and ``--profile-file``s."""
    from ..costing.hardware import find_profiles, load_profile_file

    extra = [p for f in files or [] for p in load_profile_file(f)]
    return find_profiles(names, extra, note) if names else []
