"""The Parquet files that 'convert' writes: schema, metadata, readers, atomicity."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xpfotrace import EVENT_SCHEMA, convert, read_trace
from xpfotrace.parquet_io import atomic_path

SAMPLE = Path(__file__).parent.parent.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pq") / "t.parquet"
    convert(str(SAMPLE), str(out))
    return out


def test_schema_and_metadata(converted: Path) -> None:
    pf = pq.ParquetFile(converted)
    # the event schema, with the names other readers get as dictionaries (Categorical)
    from xpfotrace.parquet_io import DICTIONARY_COLUMNS

    got = pf.schema_arrow.remove_metadata()
    for f in EVENT_SCHEMA:
        t = got.field(f.name).type
        if f.name in DICTIONARY_COLUMNS:
            assert pa.types.is_dictionary(t) and t.value_type == f.type
        else:
            assert t == f.type
    assert got.names == EVENT_SCHEMA.names
    assert pl.read_parquet(converted).schema["event"] == pl.Categorical
    meta = {k.decode(): v.decode() for k, v in pf.metadata.metadata.items()}
    assert meta["xpfotrace.source_format"] == "tracefs"
    assert meta["xpfotrace.cpus"] == "2"
    assert meta["xpfotrace.lost_events"] == "0"
    assert meta["xpfotrace.converter_version"]
    assert int(meta["xpfotrace.events"]) == pf.metadata.num_rows
    assert pf.metadata.row_group(0).column(0).compression == "ZSTD"


def test_opens_in_polars_pyarrow_duckdb(converted: Path) -> None:
    n = pl.scan_parquet(converted).select(pl.len()).collect().item()
    assert pq.read_table(converted).num_rows == n
    got = duckdb.sql(f"select count(*), max(pfn) from '{converted}'").fetchall()[0]
    assert got[0] == n and got[1] > 0
    kv = duckdb.sql(f"select value from parquet_kv_metadata('{converted}') "
                    "where key = 'xpfotrace.cpus'").fetchall()
    assert kv == [(b"2",)]
    assert pl.read_parquet_metadata(converted)["xpfotrace.source_format"] == "tracefs"


def test_roundtrip_equals_raw(converted: Path) -> None:
    raw = read_trace(str(SAMPLE))
    back = read_trace(str(converted))
    assert back.df.equals(raw.df)
    assert back.info.cpus == raw.info.cpus


def test_converting_twice_gives_identical_data(tmp_path: Path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    convert(str(SAMPLE), str(a))
    convert(str(SAMPLE), str(b))
    assert pq.read_table(a).equals(pq.read_table(b))


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    with pytest.raises(RuntimeError), atomic_path(str(out)) as tmp:
        Path(tmp).write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_a_file_without_optional_columns_reads_typed_and_replays(converted: Path,
                                                                 tmp_path: Path) -> None:
    """A Parquet file from another tool may lack columns: they read as typed nulls (an
    untyped null column has no value buffer, which the engine's views need)."""
    from xpfotrace import replay
    from xpfotrace.trace import Trace

    out = tmp_path / "fewer.parquet"
    dropped = ("order", "migratetype", "percpu_refill")
    pl.read_parquet(converted).drop(*dropped).write_parquet(out)
    tr = read_trace(str(out))
    assert tr.df.schema["order"] == pl.Int32 and tr.df.schema["percpu_refill"] == pl.Int32
    assert tr.df.get_column("order").null_count() == tr.df.height
    # the same replay as the full file with those columns null (orders then count as 0,
    # and no event is a per-CPU refill)
    full = read_trace(str(converted))
    nulled = Trace(df=full.df.with_columns(pl.lit(None, pl.Int32).alias(c) for c in dropped),
                   info=full.info)
    got = replay(tr).to_dict()
    assert got == replay(nulled).to_dict()
    assert got["strategies"]["sync+batch"]["refill_runs"] == 0
    assert got["strategies"]["sync"]["user_allocs"] > 0


def test_page_checksums_catch_a_flipped_byte(tmp_path: Path) -> None:
    """A converted file carries a CRC per page; one flipped byte in a page is an input
    error naming the file, not a silently different trace."""
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from xpfotrace import convert
    from xpfotrace.cli import app

    src = Path(__file__).parent.parent.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"
    out = tmp_path / "t.parquet"
    convert(str(src), str(out))
    meta = pq.ParquetFile(out).metadata
    col = meta.row_group(0).column(meta.schema.names.index("pfn"))
    start = col.data_page_offset
    data = bytearray(out.read_bytes())
    data[start + col.total_compressed_size // 2] ^= 0x5A  # inside the pfn column's pages
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(bytes(data))
    res = CliRunner().invoke(app, ["replay", str(bad)])
    assert res.exit_code == 1, res.output
    assert "bad.parquet" in res.stderr and res.stderr.count("\n") == 1


def test_metadata_in_the_schema_as_well_as_the_footer(tmp_path: Path) -> None:
    """pq.read_table(f).schema.metadata shows what pq.read_metadata(f) does."""
    from xpfotrace import convert

    src = Path(__file__).parent.parent.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"
    out = tmp_path / "t.parquet"
    convert(str(src), str(out))
    footer = {k: v for k, v in pq.read_metadata(out).metadata.items()
              if k != b"ARROW:schema"}
    schema_meta = pq.read_table(out).schema.metadata
    assert schema_meta == footer and schema_meta[b"xpfotrace.cpus"] == b"2"
    assert pl.read_parquet(out).height == pq.read_table(out).num_rows
