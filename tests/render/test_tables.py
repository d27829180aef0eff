"""Text tables (render/tables.py): a table that needs no wrapping is drawn without rich,
exactly as rich draws it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from xpfotrace.render import tables

_cell = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
_head = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
                max_size=8).flatmap(lambda w: st.just(w) | st.just(w + " " + w[::-1]))


@st.composite
def _rows(draw: st.DrawFn) -> list[list[str]]:
    cols = draw(st.integers(1, 6))
    head = [draw(_head) for _ in range(cols)]
    body = draw(st.lists(st.lists(_cell, min_size=cols, max_size=cols), max_size=6))
    return [head, *body]


def _rich(rows: list[list[str]], width: int | None = None) -> str:
    least = [max([len(r[i]) for r in rows[1:]] + [len(w) for w in rows[0][i].split()] + [1])
             for i in range(len(rows[0]))]
    return tables._rich(rows, width, least)


@settings(max_examples=300, deadline=None)
@given(_rows())
def test_plain_is_what_rich_draws(rows: list[list[str]]) -> None:
    assert tables.table(rows) == _rich(rows)
    assert tables.table(rows, width=10_000) == _rich(rows, 10_000)
    if all(c == c.strip() for r in rows for c in r):
        full = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        assert tables._plain(rows, full) == _rich(rows)


def test_a_narrow_terminal_still_wraps_headers() -> None:
    rows = [["strategy", "remote full flushes", "win p99 (ms)"],
            ["deferred+batch", "546", "120.359"]]
    out = tables.table(rows, width=40)
    assert out == _rich(rows, 40)
    assert max(len(line) for line in out.splitlines()) <= 40
    assert len(out.splitlines()) > 3  # a header wrapped over lines


def test_the_replay_table_loads_no_rich() -> None:
    import subprocess
    import sys

    code = ("import sys; from xpfotrace.render.tables import table\n"
            "print(table([['a', 'b c'], ['x', '1,234']]))\n"
            "print('rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["a     b c", "─────────", "x   1,234", "False"]
