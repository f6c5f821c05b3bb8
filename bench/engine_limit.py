"""The engine's limit: a full build's work done by DuckDB and the fits alone, with no orchestration.

One process and one DuckDB file, with the pipeline's memory limit: the source files copied into
the raw tables (one ``create table as`` each, with the load's bookkeeping columns), every dbt
model's SQL as the pipeline's own full build compiled it, in dependency order (views as views,
the rest as tables), every data test's compiled SQL, and the ``ml`` assets' fits on the result.
The pipeline's time over this one's is what orchestration costs: process starts and imports, dbt's
start and its per-node work, Dagster's events. Issue 21 states its targets as such a multiple, so
that each change is judged against the limit rather than against the previous run.

Left out, as cheap or not the engine's: dbt's hooks, the load log's and rejects' bookkeeping beyond
their tables, the snapshot's copy and the insights.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Callable, Mapping
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import duckdb

from analytics_ml import purchase_model_choice as choice
from pipelines.assets.ml import (
    fit_customer_models,
    read_calibration_histories,
    read_customer_histories,
    read_reference_date,
    read_revenue_series,
    score_customers,
    train_forecast,
)
from pipelines.defs.resources import MLAssetSettings, SourceRowRules
from pipelines.settings import Settings
from pipelines.source_schema import SOURCE_TABLES, SourceTable
from pipelines.sources.currency import converted_rows_sql
from pipelines.sources.raw_tables import LOAD_LOG_DDL, REJECTED_ROWS_DDL
from pipelines.sources.validation import RowRules
from pipelines.warehouse.sql import quote

STAGES = ("raw", "dbt_models", "dbt_tests", "ml")
"""The engine's stages, in order: each is timed on its own."""

Manifest = Mapping[str, Any]


def engine_seconds(store: Path, manifest_path: Path, work_dir: Path, memory_limit: str) -> dict[str, float]:
    """Seconds of each of :data:`STAGES` on the Parquet store ``store``, the dbt nodes of the
    manifest of the pipeline's own full build (``manifest_path``), in a new DuckDB file in ``work_dir``."""
    manifest = json.loads(manifest_path.read_text())
    # dbt compiled its SQL with the warehouse's catalog name, the file's stem: the same name here.
    folder = work_dir / "engine_limit"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    database = folder / "warehouse.duckdb"
    seconds: dict[str, float] = {}
    with duckdb.connect(str(database), config={"memory_limit": memory_limit}) as con:
        seconds["raw"] = timed(lambda: copy_raw_tables(con, store))
        seconds["dbt_models"] = timed(lambda: build_models(con, manifest))
        seconds["dbt_tests"] = timed(lambda: run_data_tests(con, manifest))
        seconds["ml"] = timed(lambda: fit_ml(con))
    shutil.rmtree(folder)
    return seconds


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return round(time.perf_counter() - start, 3)


def raw_select(table: SourceTable, files: str, rules: RowRules) -> str:
    """The raw table's rows from ``files``: the schema's columns in their types (amounts converted) and the
    bookkeeping."""
    columns = ", ".join(f"cast({quote(c.name)} as {c.sql_type}) as {quote(c.name)}" for c in table.columns)
    rows = (
        f"select {columns}, cast({quote(table.partition_column)} as date) as _partition_date, "
        f"'engine' as _run_id, current_timestamp as _loaded_at from read_parquet('{files}')"
    )
    if table.foreign_currency != "convert":
        return rows
    checked = f"(select *, cast(null as varchar) as _reason from ({rows}))"
    return f"select * exclude (_reason, _conversion_problem) from ({converted_rows_sql(checked, rules)})"


def copy_raw_tables(con: duckdb.DuckDBPyConnection, store: Path) -> None:
    """Every source table of ``store`` as its raw table (the orders converted to the reporting currency, as
    the ingest does), each day in the load log."""
    con.execute("create schema raw")
    con.execute(REJECTED_ROWS_DDL)
    con.execute(LOAD_LOG_DDL)
    rules = SourceRowRules.from_settings(Settings()).at(dt.datetime.now(dt.UTC).replace(tzinfo=None))
    # In SOURCE_TABLES' order: the exchange rates before the orders converted with them.
    for table in SOURCE_TABLES.values():
        rows = raw_select(table, f"{store / table.name}/*.parquet", rules)
        con.execute(f"create table raw.{quote(table.name)} as {rows}")
        con.execute(
            f"insert into raw.load_log select 1, '{table.name}', _partition_date, 'engine', current_timestamp "
            f"from (select distinct _partition_date from raw.{quote(table.name)})"
        )


def nodes_in_order(manifest: Manifest, resource_type: str) -> list[dict[str, Any]]:
    """The manifest's nodes of ``resource_type`` that were compiled, each after the nodes it depends on."""
    nodes = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == resource_type and node.get("compiled_code")
    }
    graph = {uid: [dep for dep in node["depends_on"]["nodes"] if dep in nodes] for uid, node in nodes.items()}
    return [nodes[uid] for uid in TopologicalSorter(graph).static_order()]


def build_models(con: duckdb.DuckDBPyConnection, manifest: Manifest) -> None:
    """Each model's compiled SQL as a view or a table, as it is materialized."""
    for schema in sorted({node["schema"] for node in nodes_in_order(manifest, "model")}):
        con.execute(f"create schema if not exists {quote(schema)}")
    for node in nodes_in_order(manifest, "model"):
        kind = "view" if node["config"]["materialized"] == "view" else "table"
        name = f"{quote(node['schema'])}.{quote(node['alias'] or node['name'])}"
        con.execute(f"create {kind} {name} as {node['compiled_code']}")


def run_data_tests(con: duckdb.DuckDBPyConnection, manifest: Manifest) -> None:
    """Each data test's compiled SQL, counted as dbt counts its failures."""
    for node in nodes_in_order(manifest, "test"):
        con.execute(f"select count(*) from ({node['compiled_code']}) as dbt_internal_test").fetchone()


def fit_ml(con: duckdb.DuckDBPyConnection) -> None:
    """The ``ml`` assets' work on the built marts: the forecast's selection and fit, the customer
    models' choice, fits and scores (as the customer_scores asset does them)."""
    settings = MLAssetSettings.from_settings(Settings())
    train_forecast(read_revenue_series(con), settings)
    reference_date = read_reference_date(con)
    histories = read_customer_histories(con, reference_date)
    holdout_days = choice.holdout_days(int(histories["t_days"].max()))
    calibration = read_calibration_histories(con, reference_date, holdout_days)
    models = fit_customer_models(histories, calibration, holdout_days)
    score_customers(histories, models, settings.clv_horizon_days)
