"""Running the real pipeline (real Dagster materializations, real dbt) into a test's own DuckDB file."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import duckdb
from dagster import (
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    ExecuteInProcessResult,
    RunStatusSensorContext,
    build_run_status_sensor_context,
    materialize,
)

from pipelines.assets.dbt import dbt_models
from pipelines.definitions import pipeline_assets
from pipelines.defs.dagster_compat import range_run_tags
from pipelines.defs.resources import build_resources
from pipelines.sample_store.generator import SampleStoreSpec
from pipelines.settings import Settings, SourceSettings, WarehouseSettings

SAMPLE_SPEC = SampleStoreSpec(seed=7, days=120, customers=400, end_date=dt.date(2025, 3, 31))
SAMPLE_FIRST_DAY = SAMPLE_SPEC.end_date - dt.timedelta(days=SAMPLE_SPEC.days - 1)
INGEST = AssetSelection.groups("ingest")
DBT_MODELS = AssetSelection.assets(dbt_models)
"""Every dbt model, whichever layer's group it is in."""


def isolated_settings(data_dir: Path, source_dir: Path, **sections: dict[str, object]) -> Settings:
    """Settings of a warehouse in ``data_dir`` reading the files in ``source_dir``, with some fields
    of some sections replaced (``ml={"days_ahead": 7}``).

    Every path is given explicitly, so a developer's own ``ANALYTICS_*`` variables never point a
    test at their warehouse.
    """
    settings = Settings(
        warehouse=WarehouseSettings(data_dir=data_dir, warehouse_path=data_dir / "warehouse.duckdb"),
        source=SourceSettings(kind="files", dir=source_dir),
    )
    return settings.updated(**sections) if sections else settings


def cli_environment(data_dir: Path, **variables: str) -> dict[str, str]:
    """The environment of a command-line run (``make run``) into ``data_dir`` with ``variables``
    (``ANALYTICS_SOURCE="files"``), none of the developer's own ``ANALYTICS_*`` or ``DAGSTER_*``
    variables included."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith(("ANALYTICS_", "DAGSTER_"))}
    return {**inherited, "ANALYTICS_DATA_DIR": str(data_dir), **variables}


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
        pipeline_assets(settings),
        resources=build_resources(settings),
        instance=instance,
        selection=selection,
        run_config={"ops": {"dbt_models": {"config": {"full_refresh": True}}}} if full_refresh else None,
        tags=range_run_tags(first_day.isoformat(), last_day.isoformat()),
        raise_on_error=raise_on_error,
    )


def query(settings: Settings, sql: str, params: Sequence[object] = ()) -> list[tuple]:
    """Rows of ``sql`` against the test's warehouse, opened read-only."""
    with duckdb.connect(str(settings.warehouse_file), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def run_sensor_context(
    sensor_name: str, settings: Settings, instance: DagsterInstance, run_id: str, event_type: DagsterEventType
) -> RunStatusSensorContext:
    """The context a run status sensor gets for the run's ``event_type`` event."""
    (record,) = instance.get_records_for_run(run_id, of_type=event_type).records
    return build_run_status_sensor_context(
        sensor_name=sensor_name,
        dagster_event=record.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        resources=build_resources(settings),
    )
