"""The dbt project built on a local Apache Spark from the raw tables of a DuckDB warehouse, and every
table it builds compared with the DuckDB build's (``make spark-parity``, docs/scale-out.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dbt.cli.main import dbtRunner
from pyspark.sql import SparkSession

from pipelines.defs.project import dbt_project
from pipelines.settings import Settings
from tests.support.mart_comparison import COMPARED_SCHEMAS, is_fraction, mart_tables, row_differences
from tests.support.pipeline_runs import query

LOCAL_SPARK_CONFIG = {
    # Table metadata in memory: no Hive metastore (a Derby database in the working folder) to clean up.
    "spark.sql.catalogImplementation": "in-memory",
    # A few thousand rows a table: Spark's default of 200 shuffle partitions would cost more than the work.
    "spark.sql.shuffle.partitions": "2",
    "spark.ui.enabled": "false",
    # Each dbt node is a short query on small data: compiling Java code for it (whole-stage codegen),
    # re-planning it as it runs (adaptive execution) and the JIT's optimising tier cost more than they
    # save (docs/scale-out.md gives the figures). Stopping the JIT at its first
    # tier also shrinks its code cache to 48 MB, which the build's generated classes can fill: the JVM then
    # dies mid-build ("Out of space in CodeCache for method handle intrinsic"), so the cache keeps the size
    # it has with the full JIT.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m -XX:+UseSerialGC",
    # As the spark target of profiles.yml: dates and timestamps read back as DuckDB wrote them.
    "spark.sql.session.timeZone": "UTC",
}
FAILED_STATUSES = {"error", "fail", "runtime error", "skipped"}
"""dbt's statuses of a node that did not build or pass (a skipped one: one upstream failed)."""


def export_raw_tables(settings: Settings, folder: Path) -> list[Path]:
    """Each ``raw.*`` table of the warehouse as a folder of Parquet in ``folder``, the way a lakehouse
    would hold the store's data: what the Spark build reads."""
    raw_tables = "select table_name from information_schema.tables where table_schema = 'raw'"
    tables = [name for (name,) in query(settings, raw_tables)]
    for table in tables:
        (folder / table).mkdir(parents=True)
        query(settings, f"copy raw.{table} to '{folder / table / 'data.parquet'}' (format parquet)")
    return [folder / table for table in tables]


@contextmanager
def local_spark(warehouse_dir: Path) -> Iterator[SparkSession]:
    """A Spark session on this machine whose tables live in ``warehouse_dir``; the dbt build on the
    ``spark`` target (method ``session``) runs in it, in this process."""
    builder = SparkSession.builder.master("local[2]").appName("spark-parity")
    for name, value in {**LOCAL_SPARK_CONFIG, "spark.sql.warehouse.dir": str(warehouse_dir)}.items():
        builder = builder.config(name, value)
    spark = builder.getOrCreate()
    try:
        yield spark
    finally:
        spark.stop()


def load_raw_tables(spark: SparkSession, folders: list[Path]) -> None:
    """Spark tables ``raw.<folder name>`` over the Parquet folders: the sources of the dbt project."""
    spark.sql("create database if not exists raw")
    for folder in folders:
        spark.sql(f"create table raw.{folder.name} using parquet location '{folder}'")


def build_on_spark(settings: Settings, target_dir: Path) -> None:
    """``dbt build`` of every model and test on the ``spark`` target, with the dbt vars the DuckDB build
    had; raises naming the nodes that failed."""
    result = dbtRunner().invoke(
        [
            "build",
            "--target", "spark",
            "--project-dir", str(dbt_project.project_dir),
            "--profiles-dir", str(dbt_project.profiles_dir),
            # Not the project's target/: dagster-dbt reads the DuckDB manifest there.
            "--target-path", str(target_dir),
            "--log-path", str(target_dir),
            "--exclude-resource-type", "unit_test",
            "--vars", json.dumps(settings.dbt_var_overrides()),
        ]
    )  # fmt: skip
    if result.exception is not None:
        raise RuntimeError(f"dbt build on Spark could not run: {result.exception}")
    failed = [outcome.node.name for outcome in result.result if outcome.status in FAILED_STATUSES]
    if failed:
        raise RuntimeError(f"dbt build on Spark failed at {', '.join(failed)}")


def sort_key(row: tuple) -> tuple:
    """``row``'s place in an order that both engines' rows share: nulls first, numbers by their value
    to 9 significant digits, so that two sums of the same doubles added in another order sort alike."""
    return tuple(
        (0, 0) if value is None else (1, float(f"{float(value):.9g}") if is_fraction(value) else value) for value in row
    )


def spark_differences(spark: SparkSession, settings: Settings) -> list[str]:
    """Every difference between the tables of the compared schemas that the Spark build and the DuckDB
    build of ``settings`` hold: the tables, each table's columns, row counts and values (numbers
    within the comparison's relative tolerance), rows in the same order on both sides."""
    tables = mart_tables(settings)
    spark_tables = sorted(
        f"{schema}.{table.name}" for schema in COMPARED_SCHEMAS for table in spark.catalog.listTables(schema)
    )
    if spark_tables != tables:
        return [f"Spark built {spark_tables}, DuckDB {tables}"]
    differences = []
    for table in tables:
        schema, name = table.split(".")
        frame = spark.table(table)
        columns = [
            column
            for (column,) in query(
                settings,
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "order by ordinal_position",
                [schema, name],
            )
        ]
        if frame.columns != columns:
            differences.append(f"{table}: columns {frame.columns}, expected {columns}")
            continue
        actual = sorted((tuple(row) for row in frame.collect()), key=sort_key)
        expected = sorted(query(settings, f"select * from {table}"), key=sort_key)
        differences += row_differences(table, actual, expected, columns=columns)
    return differences
