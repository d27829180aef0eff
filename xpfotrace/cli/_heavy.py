"""What the commands import only when one runs (Polars, the engine, the converters):
``xpfotrace --help`` and ``--version`` never pay for them."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from ._run import guard

T = TypeVar("T")

#: (module, attribute, the name a command module uses) of everything a command may need
_HEAVY: tuple[tuple[str, str, str], ...] = (
    ("polars", "", "pl"),
    ("tqdm", "tqdm", "tqdm"),
    ("xpfotrace.converters", "open_trace", "open_trace"),
    ("xpfotrace.converters.compression", "read_head", "read_head"),
    ("xpfotrace.capture", "capture", "do_capture"),
    ("xpfotrace.costing.compare", "compare", "run_compare"),
    ("xpfotrace.costing.compare", "parse_seconds", "parse_seconds"),
    ("xpfotrace.engine.replay", "Replayer", "Replayer"),
    ("xpfotrace.render.perfetto", "export", "run_export"),
    ("xpfotrace.fleet.batch", "batch", "run_batch"),
    ("xpfotrace.fleet.batch", "exclude_output", "exclude_output"),
    ("xpfotrace.fleet.batch", "scan_inputs", "scan_inputs"),
    ("xpfotrace.focus", "Only", "Only"),
    ("xpfotrace.focus", "Window", "Window"),
    ("xpfotrace.costing.sweep", "DEFAULT_STRATEGIES", "DEFAULT_STRATEGIES"),
    ("xpfotrace.costing.sweep", "combinations", "combinations"),
    ("xpfotrace.costing.sweep", "parse_bounds", "parse_bounds"),
    ("xpfotrace.costing.sweep", "parse_ceilings", "parse_ceilings"),
    ("xpfotrace.costing.sweep", "sweep", "run_sweep"),
    ("xpfotrace.costing.hardware", "all_profiles", "all_profiles"),
    ("xpfotrace.costing.hardware", "find_profiles", "find_profiles"),
    ("xpfotrace.costing.hardware", "load_profile_file", "load_profile_file"),
    ("xpfotrace.render.html", "STEPS", "STEPS"),
    ("xpfotrace.render.html", "write", "write_report"),
    ("xpfotrace.core.output", "atomic_path", "atomic_path"),
    ("xpfotrace.core.output", "check", "check_output"),
    ("xpfotrace.parquet_io", "write_events", "write_events"),
    ("xpfotrace.render.tables", "render", "render"),
    ("xpfotrace.render.tables", "render_comparison", "render_comparison"),
    ("xpfotrace.render.tables", "render_per_cpu", "render_per_cpu"),
    ("xpfotrace.render.tables", "render_profiles", "render_profiles"),
    ("xpfotrace.render.tables", "render_sweep", "render_sweep"),
    ("xpfotrace.strategies", "parse", "parse_strategies"),
    ("xpfotrace.trace", "read_trace", "read_trace"),
)


def inject(space: dict[str, Any]) -> None:
    """Import everything in ``_HEAVY`` into the namespace ``space`` (a command module's
    globals), once per module."""
    if "read_trace" in space:
        return
    for module, attr, name in _HEAVY:
        mod = importlib.import_module(module)
        space[name] = getattr(mod, attr) if attr else mod


class CommandGuard:
    """The error guard (``_run.guard``) of a command module: it first imports what the
    commands use into that module's globals ``space``."""

    def __init__(self, space: dict[str, Any]) -> None:
        self.space = space

    def __call__(self, fn: Callable[[], T]) -> T:
        return guard(fn, lambda: inject(self.space))
