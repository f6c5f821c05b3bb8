"""The Dagster code location: gathers the assets, resources, jobs and schedules."""

from dagster import Definitions

from pipelines.assets.dbt import dbt_models
from pipelines.assets.ingest import ingest_assets
from pipelines.assets.ml import ml_assets
from pipelines.jobs import nightly_refresh
from pipelines.resources import build_resources
from pipelines.schedules import nightly_refresh_schedule
from pipelines.settings import load_settings

defs = Definitions(
    assets=[*ingest_assets, dbt_models, *ml_assets],
    jobs=[nightly_refresh],
    schedules=[nightly_refresh_schedule],
    resources=build_resources(load_settings()),
)
