"""The readers' snapshot: complete, replaced atomically, untouched by a failed run."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.api import SnapshotReader
from pipelines.serving import current_exports, exports_root, publish_snapshot, read_snapshot_info
from pipelines.settings import Settings
from tests.pipeline_runs import SAMPLE_FIRST_DAY, SAMPLE_SPEC, run_pipeline


def published(settings: Settings) -> list[str]:
    with duckdb.connect(str(settings.serving), read_only=True) as con:
        return [name for (name,) in con.execute("select table_name from snapshot_tables order by 1").fetchall()]


@pytest.fixture
def own_warehouse(sample_warehouse: Settings, tmp_path: Path) -> Settings:
    """A copy of the sample warehouse and its snapshot, for a test that changes them."""
    shutil.copy(sample_warehouse.warehouse, tmp_path / "warehouse.duckdb")
    shutil.copy(sample_warehouse.serving, tmp_path / "serving.duckdb")
    return sample_warehouse.model_copy(
        update={
            "data_dir": tmp_path,
            "warehouse_path": tmp_path / "warehouse.duckdb",
            "serving_path": tmp_path / "serving.duckdb",
        }
    )


def test_the_snapshot_holds_every_finished_table_as_built(sample_warehouse):
    tables = published(sample_warehouse)

    with duckdb.connect(str(sample_warehouse.warehouse), read_only=True) as build:
        schemas = ("marts", "ml", "alerts")
        built = {
            f"{schema}.{name}"
            for schema, name in build.execute(
                "select table_schema, table_name from information_schema.tables where table_schema in ?", [schemas]
            ).fetchall()
        }
        build.execute(f"attach '{sample_warehouse.serving}' as snapshot (read_only)")
        differences = {
            name: build.execute(
                f"select count(*) from ((select * from {name} except all select * from snapshot.{name}) "
                f"union all (select * from snapshot.{name} except all select * from {name}))"
            ).fetchone()[0]
            for name in tables
        }
    assert set(tables) == built - {"marts.funnel_session_stages"}
    assert differences == dict.fromkeys(tables, 0)


def test_a_reader_keeps_its_snapshot_while_a_new_one_replaces_it(own_warehouse):
    serving = own_warehouse.serving
    reader = SnapshotReader(serving)
    old_connection = duckdb.connect(str(serving), read_only=True)
    (old_revenue,) = old_connection.execute("select net_revenue from marts.kpi_summary").fetchone()
    old_run = read_snapshot_info(reader.cursor()).run_id
    reader.compute("run", lambda cursor, info: info.run_id)
    stored_before = reader.cached("run")

    with duckdb.connect(str(own_warehouse.warehouse)) as build:
        build.execute("update marts.kpi_summary set net_revenue = -1")
        publish_snapshot(build, serving, "a-later-run")

    assert old_connection.execute("select net_revenue from marts.kpi_summary").fetchone() == (old_revenue,)
    assert read_snapshot_info(old_connection).run_id == old_run, "the open snapshot is whole and unchanged"
    assert (stored_before, reader.cached("run")) == (f'"{old_run}"'.encode(), None), "answers last one snapshot"
    new = reader.cursor()
    assert read_snapshot_info(new).run_id == "a-later-run"
    assert new.execute("select net_revenue from marts.kpi_summary").fetchone() == (-1,)
    old_connection.close()


def test_exports_are_switched_with_the_snapshot_and_old_ones_removed(own_warehouse):
    with duckdb.connect(str(own_warehouse.warehouse)) as build:
        info = publish_snapshot(build, own_warehouse.serving, "run-a")
        publish_snapshot(build, own_warehouse.serving, "run-b")

    exports = current_exports(own_warehouse.serving)
    assert sorted(path.stem for path in exports.glob("*.parquet")) == sorted(info.row_counts)
    with duckdb.connect() as con:
        counts = {
            path.stem: con.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0]
            for path in exports.glob("*.parquet")
        }
    assert counts == info.row_counts
    folders = [path.name for path in exports_root(own_warehouse.serving).iterdir()]
    assert len(folders) == 2, "the current link and the one folder it points to"


def test_a_failed_run_leaves_the_previous_snapshot(own_warehouse, tmp_path):
    before = read_snapshot_info(duckdb.connect(str(own_warehouse.serving), read_only=True))
    broken = own_warehouse.model_copy(update={"source_dir": tmp_path / "missing"})

    result = run_pipeline(broken, SAMPLE_FIRST_DAY, SAMPLE_SPEC.end_date, raise_on_error=False)

    assert not result.success
    with duckdb.connect(str(own_warehouse.serving), read_only=True) as con:
        after = read_snapshot_info(con)
    assert after == before
