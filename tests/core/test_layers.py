"""The import contract of the layers (docs/architecture.md): every import, at module
level, inside a function or under TYPE_CHECKING, goes to the same layer or one below,
and the module graph has no circle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

#: each top-level part of the package and its layer: imports go to the same layer or lower
LAYERS: dict[str, int] = {
    "_version": 0, "core": 0,
    "converters": 1,
    "trace": 2, "parquet_io": 2, "capture": 2,
    "strategies": 3, "focus": 3,
    "engine": 4,
    "costing": 5,
    "render": 6, "fleet": 6,
    "cli": 7, "_entry": 7, "__main__": 7, "xpfotrace": 7,  # (the package's public face)
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "converters":  # installed as xpfotrace.converters
        parts = ["xpfotrace", "converters", *parts[1:]]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    files = [p for p in (ROOT / "xpfotrace").rglob("*.py") if "converters" not in p.parts]
    files += list((ROOT / "converters").rglob("*.py"))
    return {_module(p): p for p in files}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # "from pkg import sub": the submodule where it is one
            subs = {f"{target}.{a.name}" for a in node.names} & known
            out |= subs or {target}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return {t for t in out if t == "xpfotrace" or t.startswith("xpfotrace.")}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "xpfotrace"


def _graph() -> dict[str, set[str]]:
    src = _sources()
    return {m: _imports(m, p, set(src)) for m, p in src.items()}


def test_every_part_has_a_layer() -> None:
    assert {_part(m) for m in _sources()} <= set(LAYERS)


def test_imports_go_down_only() -> None:
    up = sorted(f"{m} -> {t}" for m, targets in _graph().items() for t in targets
                if LAYERS[_part(t)] > LAYERS[_part(m)])
    assert up == []


def test_core_and_converters_import_nothing_above_them() -> None:
    for m, targets in _graph().items():
        if _part(m) == "core":
            assert all(_part(t) in ("core", "_version") for t in targets), m
        if _part(m) == "converters":
            assert all(_part(t) in ("core", "converters") for t in targets), m


def test_no_circle() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if t == m or t not in graph:
                continue
            if state.get(t) == 1:
                raise AssertionError(" -> ".join([*path[path.index(t):], t]))
            if t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_converters_load_no_engine() -> None:
    code = ("import sys, xpfotrace.converters; "
            "print(sorted(m for m in sys.modules if m.startswith(('xpfotrace.engine', "
            "'xpfotrace.costing', 'xpfotrace.render', 'xpfotrace.fleet', 'xpfotrace.cli'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    assert out == "[]"


def test_no_module_over_400_lines() -> None:
    long = {m: n for m, p in _sources().items()
            if (n := len(p.read_text().splitlines())) > 420}
    assert long == {}
