"""``make spark-parity``: the dbt project built on Apache Spark, from the same raw data, gives the
DuckDB build's marts, and the comparison fails on a planted difference (docs/scale-out.md).

Not part of ``make test`` (``--ignore=tests/spark`` in pytest's options): it needs the ``[spark]``
extra and Java, which ``make spark-parity`` installs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.settings import Settings
from tests.support.pipeline_runs import (
    DBT_MODELS,
    INGEST,
    SAMPLE_FIRST_DAY,
    SAMPLE_SPEC,
    isolated_settings,
    query,
    run_pipeline,
)
from tests.support.spark_build import build_on_spark, export_raw_tables, load_raw_tables, local_spark, spark_differences

STORE_TIMEZONE = "America/New_York"
"""Not UTC, so that both engines' conversion to the store's calendar (macro store_time) is compared;
the sample's March has the change to daylight saving time."""


@pytest.fixture(scope="module")
def duckdb_build(sample_store: Path, tmp_path_factory: pytest.TempPathFactory, dbt_manifest_prepared: None) -> Settings:
    """The sample store (120 days, 400 customers) of a store in ``STORE_TIMEZONE`` ingested and built by
    dbt on DuckDB, as a nightly run does."""
    settings = isolated_settings(
        tmp_path_factory.mktemp("duckdb_build"), sample_store, schedule={"store_timezone": STORE_TIMEZONE}
    )
    run_pipeline(settings, SAMPLE_FIRST_DAY, SAMPLE_SPEC.end_date, selection=INGEST | DBT_MODELS)
    return settings


@pytest.fixture(scope="module")
def spark_build(duckdb_build: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """A local Spark holding the DuckDB build's raw tables (as Parquet) and the dbt build of them."""
    folder = tmp_path_factory.mktemp("spark_build")
    with local_spark(folder / "warehouse") as spark:
        load_raw_tables(spark, export_raw_tables(duckdb_build, folder / "raw"))
        build_on_spark(duckdb_build, folder / "dbt_target")
        yield spark


def test_the_spark_build_gives_the_duckdb_marts(spark_build: SparkSession, duckdb_build: Settings) -> None:
    assert spark_differences(spark_build, duckdb_build) == []


def replace_table(spark: SparkSession, table: str, planted: DataFrame) -> None:
    """``table`` replaced by the rows of the DataFrame ``planted`` (read from it: written aside first)."""
    planted.write.saveAsTable(f"{table}_planted")
    spark.sql(f"drop table {table}")
    spark.sql(f"alter table {table}_planted rename to {table}")


# Runs after the test above (pytest keeps a file's order): it changes the Spark build.
def test_a_planted_difference_fails_the_comparison(spark_build: SparkSession, duckdb_build: Settings) -> None:
    # One value: the first day's net revenue set to -1 (every day's is >= 0 in the DuckDB build).
    daily = spark_build.table("marts.revenue_daily")
    first_day = daily.agg(F.min("revenue_date")).first()[0]
    net_revenue_type = daily.schema["net_revenue"].dataType
    planted_value = F.lit(-1).cast(net_revenue_type)
    on_first_day = F.col("revenue_date") == first_day
    planted_daily = daily.withColumn("net_revenue", F.when(on_first_day, planted_value).otherwise(F.col("net_revenue")))
    replace_table(spark_build, "marts.revenue_daily", planted_daily)
    # One row: top_customers without its last-ranked customer.
    top = spark_build.table("marts.top_customers")
    last_rank = top.agg(F.max("ltv_rank")).first()[0]
    replace_table(spark_build, "marts.top_customers", top.where(F.col("ltv_rank") < last_rank))

    first_net_revenue = "select net_revenue from marts.revenue_daily order by revenue_date limit 1"
    (expected_net_revenue,) = query(duckdb_build, first_net_revenue)[0]
    (customers,) = query(duckdb_build, "select count(*) from marts.top_customers")[0]
    (first_difference, second_difference) = spark_differences(spark_build, duckdb_build)
    # revenue_date is the first column, so the first day's row is row 0.
    assert first_difference.startswith("marts.revenue_daily row 0 column net_revenue: ")
    assert first_difference.endswith(f", expected {expected_net_revenue!r}")
    assert second_difference == f"marts.top_customers: {customers - 1} rows, expected {customers}"
