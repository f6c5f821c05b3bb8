"""Ingestion assets (group ``ingest``): one daily-partitioned ``raw.<table>`` per source table.

A run over a range of days (a backfill) is one run that reads the source once
(``BackfillPolicy.single_run``), not one run a day. A run replaces the days of its partition
window; with the SQL source also the earlier days that rows changed since the watermark belong
to, which the metadata lists (``days_beyond_window``).
"""

import datetime as dt
from contextlib import closing

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    DailyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    multi_asset,
)
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import SourceRowRules, TableSource
from pipelines.source_schema import SOURCE_TABLES, SourceTable
from pipelines.sources.raw_tables import days_between, describe_days, load_days


def build_ingest_asset(table: SourceTable, partitions: DailyPartitionsDefinition) -> AssetsDefinition:
    """The asset that loads ``table`` for the run's window of days into ``raw.<table>``."""

    # A multi-asset of one: `backfill_policy` is beta on `@asset` (a warning on every load), not here.
    @multi_asset(
        name=f"raw__{table.name}",
        specs=[
            AssetSpec(
                key=["raw", table.name],
                group_name="ingest",
                kinds={"duckdb"},
                description=f"Source table `{table.name}` validated and loaded by day into `raw.{table.name}`; "
                "rows that break the source schema go to `raw.rejected_rows`.",
                # Orders in another currency are converted with the rates loaded before them.
                deps=[AssetKey(["raw", "exchange_rates"])] if table.foreign_currency == "convert" else [],
            )
        ],
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
    )
    def _ingest(
        context: AssetExecutionContext,
        warehouse: DuckDBResource,
        source: ResourceParam[TableSource],
        row_rules: SourceRowRules,
    ) -> MaterializeResult:
        start, end = context.partition_time_window.start.date(), context.partition_time_window.end.date()
        rules = row_rules.at(dt.datetime.now(dt.UTC).replace(tzinfo=None))
        # closing(): dagster-duckdb closes the connection only when the block succeeds, and a failed
        # load must not keep the warehouse file open for the rest of the process.
        with warehouse.get_connection() as con, closing(con):
            plan = source.register_rows(con, table, start=start, end=end)
            counts = load_days(con, table, plan, run_id=context.run.run_id, rules=rules)
        beyond_window = describe_days(plan.days - days_between(start, end))
        if beyond_window:
            context.log.info(f"{table.name}: also replaced days with rows changed since the watermark: {beyond_window}")
        context.log.info(
            f"raw.{table.name}: {counts.loaded:,} rows loaded for {describe_days(plan.days)}, "
            f"{counts.rejected:,} rejected; {counts.table_rows:,} rows in the table"
        )
        if counts.rejected:
            context.log.warning(f"{counts.rejected} row(s) of {table.name} rejected: see raw.rejected_rows")
        watermark = {"watermark": MetadataValue.text(str(plan.watermark.value))} if plan.watermark else {}
        return MaterializeResult(
            metadata={
                "rows_loaded": counts.loaded,
                "rows_rejected": counts.rejected,
                "dagster/row_count": counts.table_rows,
                "window": MetadataValue.text(f"{start} .. {end} (end exclusive)"),
                "days_beyond_window": MetadataValue.text(beyond_window or "none"),
                **watermark,
            }
        )

    return _ingest


def build_ingest_assets(partitions: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    """One ingest asset per source table, partitioned by ``partitions``."""
    return [build_ingest_asset(table, partitions) for table in SOURCE_TABLES.values()]
