"""perf.data's task names: COMM and FORK records, and each sample's comm at its time."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from ..binfile import cbin, native
from ..rawevents import dense_codes, take_strings
from .header import I64, U8


def _key(d: U8, pos: I64, size: I64, back: int | I64 | None) -> I64:
    """Ordering key of side-band records: trailer time, else file position."""
    if back is None:
        return pos.astype(np.int64)
    at = pos + size - back
    out: I64 = d[at[:, None] + np.arange(8)].copy().view("<u8").ravel().astype(np.int64)
    return out


def _comm_records(d: U8, pos: I64, size: I64, back: int | I64 | None) -> pl.DataFrame:
    """(tid, time or file position, comm) of every PERF_RECORD_COMM."""
    if not len(pos):
        return pl.DataFrame(schema={"pid": pl.Int32, "_pos": pl.Int64, "_file": pl.Int64,
                                    "comm": pl.String})
    tid = d[(pos + 12)[:, None] + np.arange(4)].copy().view("<i4").ravel()
    width = int((size - 16).max())
    idx = np.minimum((pos + 16)[:, None] + np.arange(width), len(d) - 1)
    raw = d[idx].copy()
    # the name ends at its first NUL (a sample_id trailer may follow the padding)
    col = np.arange(width)[None, :]
    nul = np.where((raw == 0).any(axis=1), (raw == 0).argmax(axis=1), width)
    raw[(col >= nul[:, None]) | (col >= (size - 16)[:, None])] = 0
    names = np.char.decode(raw.view(f"S{width}").ravel(), "utf-8", errors="replace")
    return pl.DataFrame({"pid": tid.astype(np.int32), "_pos": _key(d, pos, size, back),
                         "_file": pos.astype(np.int64),
                         "comm": names}).sort("_pos", "_file")


def _with_forks(d: U8, pos: I64, size: I64, comms: pl.DataFrame,
                back: int | I64 | None) -> pl.DataFrame:
    """Add a comm event per PERF_RECORD_FORK: the child takes its parent's comm then."""
    if not len(pos):
        return comms
    words = d[(pos + 8)[:, None] + np.arange(16)].copy().view("<i4")
    forks = pl.DataFrame({"pid": words[:, 2].astype(np.int32),  # child tid
                          "ptid": words[:, 3].astype(np.int32),
                          "_pos": _key(d, pos, size, back),
                          "_file": pos.astype(np.int64)}).sort("_pos", "_file")
    known = comms
    for _ in range(64):  # fork chains: a child forking before it execs
        resolved = forks.join_asof(known.rename({"pid": "ptid"}).drop("_file"), on="_pos",
                                   by="ptid", strategy="backward", check_sortedness=False)
        new = resolved.filter(pl.col("comm").is_not_null()).select("pid", "_pos", "_file",
                                                                    "comm")
        # ties in time keep file order: the asof join takes the last of equal keys
        merged = pl.concat([comms, new]).sort("_pos", "_file")
        if merged.height == known.height:
            break
        known = merged
    return known


def _sample_comms(pid: I64, key: I64, comms: pl.DataFrame) -> pa.Array:
    """The comm of each sample (thread ``pid``, ordering key ``key``), as
    :func:`_attach_comm` gives it: compiled, a binary search per sample among its
    thread's COMM records (few) instead of sorting the samples for a join."""
    if not native() or pid.dtype != np.int64 or key.dtype != np.int64:
        df = pl.DataFrame({"pid": pid.astype(np.int32), "_pos": key})
        out: pa.Array = _attach_comm(df, comms)["comm"].to_arrow().cast(pa.string())
        return out
    cpid = comms["pid"].to_numpy().astype(np.int64)
    by = np.argsort(cpid, kind="stable")  # by thread; each one's records stay in order
    groups, starts = np.unique(cpid[by], return_index=True)
    ckey = comms["_pos"].to_numpy().astype(np.int64)[by]
    found = cbin.asof_backward(pid, key, groups, np.append(starts, len(by)).astype(np.int64),
                               np.ascontiguousarray(ckey))
    m = len(by)
    index = np.where(found >= 0, by[np.maximum(found, 0)], -1)
    index[pid == -1] = m
    index[pid == 0] = m + 1
    missing = index < 0
    unnamed, code = dense_codes(pid[missing])
    index[missing] = m + 2 + code
    labels = pa.concat_arrays([
        # (a list of the few thread names: an Arrow cast would load pyarrow.compute)
        pa.array(comms["comm"].to_list(), pa.string()),
        pa.array([":-1", "swapper", *(f":{int(p)}" for p in unnamed)], pa.string())])
    return take_strings(labels, index)


def _attach_comm(df: pl.DataFrame, comms: pl.DataFrame) -> pl.DataFrame:
    """Each sample's comm: its thread's latest COMM record before it in the file."""
    base = df.drop("comm") if "comm" in df.columns else df
    keyed = base.with_row_index("_row").sort("_pos")
    joined = keyed.join_asof(comms.drop("_file"), on="_pos", by="pid", strategy="backward",
                             check_sortedness=False)  # both sides are sorted by _pos
    joined = joined.with_columns(
        pl.when(pl.col("pid") == -1).then(pl.lit(":-1"))
        .when(pl.col("pid") == 0).then(pl.lit("swapper"))
        .otherwise(pl.col("comm").fill_null(pl.lit(":") + pl.col("pid").cast(pl.String)))
        .alias("comm"))
    return joined.sort("_row").drop("_row")
