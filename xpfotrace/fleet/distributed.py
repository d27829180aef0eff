"""Running batch work as tasks on a Dask distributed cluster (optional extra 'dask')."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..core.errors import UsageError


def run_on_dask(address: str, fn: Callable[..., Any], items: list[str],
                *args: Any) -> Iterator[Any]:
    """Yield ``fn(item, *args)`` for each item as tasks finish, on the cluster at
    ``address`` or, for 'local', on a LocalCluster of this machine (loopback only)."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise UsageError("--dask needs the 'dask' extra: pip install 'xpfotrace[dask]'") from None
    cluster = None
    try:
        if address == "local":
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(address, timeout="10s")
    except OSError as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        futures = [client.submit(fn, item, *args, pure=False) for item in items]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
