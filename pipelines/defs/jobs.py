"""Jobs. ``nightly_refresh`` loads a window of days (yesterday, or a backfill range as one run) and
rebuilds everything downstream.

Steps run in one process, one after another (dbt's too, on a thread of that process): DuckDB lets
one process write a database file at a time.
"""

from dagster import AssetSelection, define_asset_job, in_process_executor

nightly_refresh = define_asset_job(
    name="nightly_refresh",
    selection=AssetSelection.all(),
    executor_def=in_process_executor,
    description="Ingest the partition's day(s) from the source, then rebuild every model, forecast and alert.",
)
