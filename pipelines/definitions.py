"""The Dagster code location: gathers the assets, resources, jobs, schedules and sensors.

Nothing is read at import: :func:`defs` is Dagster's lazy ``@definitions`` loader, which reads the
settings when Dagster (``dagster dev``, ``dg``, the daemon) loads the code location, and
:func:`build_definitions` builds everything of one configuration (``make run`` and the tests call it).
"""

from dagster import AssetsDefinition, AssetSpec, Definitions, definitions, in_process_executor

from pipelines.assets.dbt import dbt_models
from pipelines.assets.ingest import build_ingest_assets
from pipelines.assets.ml import ml_assets
from pipelines.assets.serving import serving_snapshot
from pipelines.defs.freshness import with_nightly_freshness
from pipelines.defs.jobs import nightly_refresh
from pipelines.defs.loggers import console_logger
from pipelines.defs.partitions import store_partitions
from pipelines.defs.resources import build_resources
from pipelines.defs.schedules import nightly_refresh_schedule
from pipelines.defs.sensors import alerts_table, build_alert_sensors
from pipelines.settings import Settings, load_settings


def ingest_assets(settings: Settings) -> list[AssetsDefinition]:
    """The raw tables' assets, partitioned by the store's days from ``ANALYTICS_PARTITION_START``."""
    return build_ingest_assets(store_partitions(settings))


def pipeline_assets(settings: Settings) -> list[AssetsDefinition]:
    """Every asset a nightly run materializes: ingest, dbt, ml and the published snapshot."""
    return [*ingest_assets(settings), dbt_models, *ml_assets, serving_snapshot]


def build_definitions(settings: Settings) -> Definitions:
    """The code location of ``settings``: the raw tables and the snapshot carry the nightly freshness policy."""
    timezone = settings.schedule.store_timezone
    ingest = with_nightly_freshness(ingest_assets(settings), timezone)
    (snapshot,) = with_nightly_freshness([serving_snapshot], timezone)
    assets: list[AssetsDefinition | AssetSpec] = [*ingest, dbt_models, *ml_assets, snapshot, alerts_table]
    return Definitions(
        assets=assets,
        jobs=[nightly_refresh],
        schedules=[nightly_refresh_schedule],
        sensors=build_alert_sensors(settings.alerts, nightly_refresh),
        resources=build_resources(settings),
        loggers={"console": console_logger},
        # One process per run for every job, the UI's materializations included: DuckDB lets one
        # process write the warehouse, and a run is known by the process executing it (run_liveness).
        executor=in_process_executor,
    )


@definitions
def defs() -> Definitions:
    """The code location of the environment's settings."""
    return build_definitions(load_settings())
