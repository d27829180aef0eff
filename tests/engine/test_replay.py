"""replay: how the variant passes are spread over threads."""

from __future__ import annotations

import threading

from xpfotrace.engine.threads import each as _each


def test_each_gives_every_item_once_and_the_first_to_the_caller() -> None:
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def fn(x: int) -> int:
        with lock:
            seen.append((x, threading.get_ident()))
        return x * x

    for threads in (1, 2, 3):
        seen.clear()
        out = _each(fn, [3, 1, 2, 5], threads)
        assert out == {3: 9, 1: 1, 2: 4, 5: 25} and list(out) == [3, 1, 2, 5]
        assert sorted(x for x, _ in seen) == [1, 2, 3, 5]
        assert dict(seen)[3] == threading.get_ident()  # the calling thread's arena
    assert _each(fn, [], 2) == {}
