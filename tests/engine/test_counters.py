"""The typed counters: ``Counters`` (a TypedDict) names exactly COUNTERS and
WINDOW_COUNTERS, and every strategy's counters of a real replay have the keys it
declares (all of COUNTERS; the window counters for deferred strategies and ``none``),
with the value types it declares."""

from __future__ import annotations

from pathlib import Path
from typing import get_type_hints

import xpfotrace
from xpfotrace.engine.replay import COUNTERS, WINDOW_COUNTERS, Counters

SAMPLE = Path(__file__).parent.parent.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"


def test_counters_type_names_every_counter() -> None:
    hints = get_type_hints(Counters)
    assert set(hints) == set(COUNTERS) | set(WINDOW_COUNTERS)
    assert Counters.__required_keys__ == frozenset(COUNTERS)
    assert Counters.__optional_keys__ == frozenset(WINDOW_COUNTERS)


def test_replay_counters_match_their_type() -> None:
    res = xpfotrace.replay(xpfotrace.read_trace(str(SAMPLE)))
    assert set(res.strategies) == {s.name for s in xpfotrace.STRATEGIES}
    for name, c in res.strategies.items():
        windows = name == "none" or name.startswith("deferred")
        want = list(COUNTERS) + (list(WINDOW_COUNTERS) if windows else [])
        assert list(c) == want, name  # the JSON's keys, in this order
        for key in COUNTERS:
            assert isinstance(c[key], int), (name, key)
        for key in WINDOW_COUNTERS if windows else ():
            value = c[key]
            assert value is None or isinstance(value, int), (name, key)
