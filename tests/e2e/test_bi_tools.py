"""What docs/bi-tools.md promises outside tools: the snapshot opens in DuckDB 1.x (the command-line
tool installed from PyPI's `duckdb-cli`, the newest 1.x release, as BI drivers bundle them), every
published table reads there as published, also after the alerts' republication; and the
same-process trap of Python's duckdb has the one-line way around it the page gives."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines.settings import Settings
from pipelines.warehouse.snapshot import READER_STORAGE_VERSION, read_snapshot_info, refresh_alerts
from tests.support.planted_alerts import plant_alert

DUCKDB_1X_CLI = Path(sys.executable).parent / "duckdb"
"""The `duckdb` of the `duckdb-cli` dev dependency (1.x), next to this interpreter."""


def cli_version() -> str:
    done = subprocess.run([str(DUCKDB_1X_CLI), "--version"], capture_output=True, text=True, check=True)
    return done.stdout.split()[0]


def read_with_duckdb_1x(snapshot: Path, sql: str) -> list[dict[str, object]]:
    """Rows of ``sql`` run by the DuckDB 1.x command-line tool on ``snapshot`` opened read-only, as
    the page's ``duckdb -readonly`` command does."""
    done = subprocess.run(
        [str(DUCKDB_1X_CLI), "-readonly", "-json", str(snapshot), "-c", sql],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "[]")


def every_table_counted(snapshot: Path) -> dict[str, int]:
    """Each table of ``main.snapshot_tables`` with its row count, both as DuckDB 1.x reads them."""
    names = [row["table_name"] for row in read_with_duckdb_1x(snapshot, "select table_name from snapshot_tables")]
    counts = " union all ".join(f"select '{name}' as name, count(*) as n from {name}" for name in names)
    return {row["name"]: row["n"] for row in read_with_duckdb_1x(snapshot, counts)}


def test_duckdb_1x_reads_every_published_table(sample_warehouse: Settings):
    assert cli_version().startswith("v1."), "the check needs a DuckDB 1.x"
    with duckdb.connect(str(sample_warehouse.serving_file), read_only=True) as con:
        published = read_snapshot_info(con).row_counts
        (net_revenue,) = con.execute("select net_revenue from marts.kpi_summary").fetchone()

    assert every_table_counted(sample_warehouse.serving_file) == published
    assert len(published) > 20
    # The CLI's JSON gives a DECIMAL as its exact text: the same cents.
    (kpis,) = read_with_duckdb_1x(sample_warehouse.serving_file, "select net_revenue from marts.kpi_summary")
    assert Decimal(kpis["net_revenue"]) == net_revenue > 0


def test_the_alerts_republication_stays_readable_by_duckdb_1x(own_warehouse: Settings):
    with duckdb.connect(str(own_warehouse.warehouse_file)) as build:
        plant_alert(build, "revenue_drop:2025-03-29", dt.datetime(2025, 3, 30, 6, tzinfo=dt.UTC))
        info = refresh_alerts(build, own_warehouse.serving_file)

    assert every_table_counted(own_warehouse.serving_file) == info.row_counts
    rows = read_with_duckdb_1x(own_warehouse.serving_file, "select alert_key from alerts.alert_feed")
    assert rows == [{"alert_key": "revenue_drop:2025-03-29"}]


def test_the_snapshot_is_written_in_the_1x_storage_format(sample_warehouse: Settings):
    with duckdb.connect() as con:
        con.execute(f"attach '{sample_warehouse.serving_file}' as snapshot (read_only)")
        (version,) = con.execute(
            "select tags['storage_version'] from duckdb_databases() where database_name = 'snapshot'"
        ).fetchone()
    assert version.startswith(READER_STORAGE_VERSION), version


def publish(path: Path, value: int) -> None:
    """A snapshot-like file holding ``value``, renamed over ``path`` as a publication does."""
    staged = path.with_name(f".{path.name}.new")
    with duckdb.connect(str(staged)) as con:
        con.execute(f"create table t as select {value} as v")
    os.replace(staged, path)


def test_a_process_holding_the_old_snapshot_sees_the_new_one_through_attach(tmp_path):
    path = tmp_path / "serving.duckdb"
    publish(path, 1)
    holder = duckdb.connect(str(path), read_only=True)
    publish(path, 2)

    # The trap: DuckDB keeps one database per path in a process, so connecting again while a
    # connection to the old file is open gives the old snapshot.
    again = duckdb.connect(str(path), read_only=True)
    trapped = again.execute("select v from t").fetchone()
    # The way around it that docs/bi-tools.md gives: attach the path to a new in-memory connection.
    fresh = duckdb.connect()
    fresh.execute(f"attach '{path}' as serving (read_only)")
    seen = fresh.execute("select v from serving.t").fetchone()
    for con in (holder, again, fresh):
        con.close()

    assert trapped == (1,)
    assert seen == (2,)
