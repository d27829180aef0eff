"""Many traces at once: ``batch`` (one table of trace x profile x strategy rows, each
failure in its own row) and ``distributed`` (the same as tasks on a Dask cluster)."""
