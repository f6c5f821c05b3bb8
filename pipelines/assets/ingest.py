"""Ingestion assets (group ``ingest``): one daily-partitioned ``raw.<table>`` per source table.

A run over a range of days (a backfill) is one run that reads the source once
(``BackfillPolicy.single_run``), not one run a day.
"""

from dagster import AssetExecutionContext, AssetsDefinition, BackfillPolicy, MaterializeResult, MetadataValue, asset
from dagster_duckdb import DuckDBResource

from pipelines.partitions import daily_partitions
from pipelines.raw_tables import load_window
from pipelines.resources import FilesSource
from pipelines.sources.schema import SOURCE_TABLES, SourceTable


def build_ingest_asset(table: SourceTable) -> AssetsDefinition:
    """The asset that loads ``table`` for the run's window of days into ``raw.<table>``."""

    @asset(
        key=["raw", table.name],
        group_name="ingest",
        partitions_def=daily_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        kinds={"duckdb"},
        description=f"Source table `{table.name}` validated and loaded by day into `raw.{table.name}`; "
        "rows that break the source schema go to `raw.rejected_rows`.",
    )
    def _ingest(context: AssetExecutionContext, warehouse: DuckDBResource, source: FilesSource) -> MaterializeResult:
        window = context.partition_time_window
        with warehouse.get_connection() as con:
            source.register_rows(con, table)
            counts = load_window(
                con, table, window.start.date(), window.end.date(), run_id=context.run.run_id, currency=source.currency
            )
        if counts.rejected:
            context.log.warning(f"{counts.rejected} row(s) of {table.name} rejected: see raw.rejected_rows")
        return MaterializeResult(
            metadata={
                "rows_loaded": counts.loaded,
                "rows_rejected": counts.rejected,
                "dagster/row_count": counts.table_rows,
                "window": MetadataValue.text(f"{window.start.date()} .. {window.end.date()} (end exclusive)"),
            }
        )

    return _ingest


ingest_assets = [build_ingest_asset(table) for table in SOURCE_TABLES.values()]
