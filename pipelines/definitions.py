"""The Dagster code location: gathers the assets, resources, jobs, schedules and sensors."""

from dagster import Definitions

from pipelines.assets.dbt import dbt_models
from pipelines.assets.ingest import ingest_assets
from pipelines.assets.ml import ml_assets
from pipelines.assets.serving import serving_snapshot
from pipelines.jobs import nightly_refresh
from pipelines.resources import build_resources
from pipelines.schedules import nightly_refresh_schedule
from pipelines.sensors import alert_sensors, alerts_table
from pipelines.settings import load_settings

defs = Definitions(
    assets=[*ingest_assets, dbt_models, *ml_assets, serving_snapshot, alerts_table],
    jobs=[nightly_refresh],
    schedules=[nightly_refresh_schedule],
    sensors=alert_sensors,
    resources=build_resources(load_settings()),
)
