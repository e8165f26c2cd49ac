from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from schema_rows import conform

from pipeline.io.schemas import TABLES, SchemaError, schema_version, table_schema
from pipeline.io.validate import validate


@pytest.mark.parametrize("table", TABLES)
def test_every_table_has_a_versioned_schema(table: str) -> None:
    schema = table_schema(table)
    assert schema_version(table) >= 1
    assert schema.metadata[b"ominous.table"].decode() == table
    time_fields = [f for f in schema if f.name.endswith("_ms")]
    assert all(f.type in (pa.int64(), pa.list_(pa.int64())) for f in time_fields)


def test_nested_word_struct_is_explicit() -> None:
    words = table_schema("sentences").field("words").type
    assert pa.types.is_list(words)
    assert words.value_type.field("interpolated").type == pa.bool_()


def test_conform_rejects_rows_of_the_wrong_type() -> None:
    with pytest.raises(SchemaError, match="failures"):
        conform([{"failure_id": "x", "attempt": "not a number"}], "failures")


def test_validate_finds_wrong_schemas_and_nulls(tmp_path: Path) -> None:
    (tmp_path / "failures").mkdir()
    good = {
        "failure_id": "f",
        "run_id": "r",
        "stage": "probe",
        "source_uri": "u",
        "video_id": None,
        "error_type": "E",
        "message": "m",
        "traceback": None,
        "attempt": 1,
        "failed_at_ms": 1,
    }
    pq.write_table(conform([good], "failures"), tmp_path / "failures" / "a.parquet")
    assert validate(str(tmp_path)) == ({t: int(t == "failures") for t in TABLES}, [])
    # A foreign writer that ignored the nullability: same columns, nulls where none may be.
    loose = pa.schema([f.with_nullable(True) for f in table_schema("failures")])
    pq.write_table(
        pa.Table.from_pylist([{**good, "message": None}], schema=loose),
        tmp_path / "failures" / "b.parquet",
    )
    pq.write_table(pa.table({"x": [1]}), tmp_path / "failures" / "c.parquet")
    _, problems = validate(str(tmp_path))
    assert any("message has 1 nulls" in p for p in problems)
    assert any("c.parquet: schema differs" in p for p in problems)


def test_empty_views_have_the_tables_types(tmp_path: Path) -> None:
    """A table with no shards is an empty view typed in SQL from its schema, column for
    column as DuckDB reads the same schema from Parquet."""
    from pipeline.io.query import connect
    from pipeline.io.schemas import OTHER_TABLES

    con = connect(str(tmp_path / "nothing-yet"))
    for table in (*TABLES, *OTHER_TABLES):
        path = tmp_path / f"{table}.parquet"
        pq.write_table(table_schema(table).empty_table(), path)
        typed = con.sql(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
        assert con.sql(f"DESCRIBE {table}").fetchall() == typed, table
        assert con.sql(f"SELECT count(*) FROM {table}").fetchall() == [(0,)]


def test_a_query_imports_no_pandas(tmp_path: Path) -> None:
    """`ominous query` on an OUT with empty tables loads DuckDB and Arrow, not pandas (it
    cost a third of a second a query; bench/query_start.py times the command)."""
    import subprocess
    import sys

    code = (
        "import sys; from pipeline import cli; "
        f"status = cli.main(['query', {str(tmp_path)!r}, 'SELECT count(*) FROM failures']); "
        "assert status == 0 and 'pandas' not in sys.modules, sorted(sys.modules)[:5]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
