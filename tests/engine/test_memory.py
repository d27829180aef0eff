"""The huge-page hint is off inside the engine and restored after, nested or not."""

from __future__ import annotations

import pytest

from xpfotrace.engine import memory


@pytest.mark.skipif(memory._SET is None, reason="this NumPy has no huge-page switch")
def test_hint_off_inside_and_restored_after() -> None:
    assert memory._SET is not None
    before = memory._SET(True)
    try:
        with memory.short_lived_arrays():
            assert memory._SET(False) is False  # it was off
            with memory.short_lived_arrays():
                pass
            assert memory._SET(False) is False  # the inner exit did not restore it
        assert memory._SET(True) is True  # the outer exit did
    finally:
        memory._SET(before)


def test_replay_restores_the_hint() -> None:
    import xpfotrace

    if memory._SET is None:
        pytest.skip("this NumPy has no huge-page switch")
    before = memory._SET(True)
    try:
        tr = xpfotrace.read_trace("sample_traces/hackbench-1s.ftrace.txt.zst")
        xpfotrace.replay(tr, strategies="deferred")
        assert memory._SET(True) is True
    finally:
        memory._SET(before)
