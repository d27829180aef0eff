"""Work items on a few threads, the calling thread among them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

V = TypeVar("V")
R = TypeVar("R")


def each(fn: Callable[[V], R], items: list[V], threads: int) -> dict[V, R]:
    """``fn`` of each item, on ``threads`` threads taking the next item as they finish.

    The calling thread is one of them, and takes the first item: its allocator arena
    holds the memory that ``prepare`` freed, which a new thread would fault in afresh.
    In ``Replayer.run`` that first chain, without batch, makes the frames it shares
    with the later one (``Prepared.frames_without_refills``) while the other thread
    starts a batch chain.
    """
    out: dict[V, R] = {}
    queue = iter(range(len(items)))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                i = next(queue, -1)
            if i < 0:
                return
            out[items[i]] = fn(items[i])

    if threads <= 1:
        work()
    else:
        pool = ThreadPoolExecutor(threads - 1)
        finished = False
        try:
            mine = next(queue, -1)  # the first item is the calling thread's
            helpers = [pool.submit(work) for _ in range(threads - 1)]
            if mine >= 0:
                out[items[mine]] = fn(items[mine])
            work()
            for h in helpers:
                h.result()
            finished = True
        finally:
            # on an interrupt, no wait for the helpers' passes (seconds on a large
            # projection): the process is on its way out
            pool.shutdown(wait=finished, cancel_futures=True)
    return {item: out[item] for item in items}
