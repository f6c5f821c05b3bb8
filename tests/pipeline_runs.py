"""Running the real pipeline (real Dagster materializations, real dbt) into a test's own DuckDB file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import duckdb
from dagster import AssetSelection, DagsterInstance, ExecuteInProcessResult, materialize
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.assets.dbt import dbt_models
from pipelines.assets.ingest import ingest_assets
from pipelines.assets.ml import ml_assets
from pipelines.assets.serving import serving_snapshot
from pipelines.resources import build_resources
from pipelines.settings import Settings
from pipelines.sources.sample_store import SampleStoreSpec

SAMPLE_SPEC = SampleStoreSpec(seed=7, days=120, customers=400, end_date=dt.date(2025, 3, 31))
SAMPLE_FIRST_DAY = SAMPLE_SPEC.end_date - dt.timedelta(days=SAMPLE_SPEC.days - 1)
ALL_ASSETS = [*ingest_assets, dbt_models, *ml_assets, serving_snapshot]


def isolated_settings(data_dir: Path, source_dir: Path, **overrides: object) -> Settings:
    """Settings of a warehouse in ``data_dir`` reading the files in ``source_dir``.

    Every path is given explicitly, so a developer's own ``ANALYTICS_*`` variables never point a
    test at their warehouse.
    """
    return Settings(
        data_dir=data_dir,
        warehouse_path=data_dir / "warehouse.duckdb",
        source="files",
        source_dir=source_dir,
        **overrides,
    )


def run_pipeline(
    settings: Settings,
    first_day: dt.date,
    last_day: dt.date,
    *,
    selection: AssetSelection | None = None,
    raise_on_error: bool = True,
    instance: DagsterInstance | None = None,
    full_refresh: bool = False,
) -> ExecuteInProcessResult:
    """Materialize the assets over ``first_day .. last_day`` as one run, like a backfill, recorded in
    ``instance`` if given (sensors read the materializations from there); ``full_refresh`` rebuilds the
    incremental dbt models from scratch."""
    return materialize(
        ALL_ASSETS,
        resources=build_resources(settings),
        instance=instance,
        selection=selection,
        run_config={"ops": {"dbt_models": {"config": {"full_refresh": True}}}} if full_refresh else None,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: first_day.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: last_day.isoformat(),
        },
        raise_on_error=raise_on_error,
    )


def query(settings: Settings, sql: str, params: Sequence[object] = ()) -> list[tuple]:
    """Rows of ``sql`` against the test's warehouse, opened read-only."""
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()
