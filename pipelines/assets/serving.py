"""The ``serving`` asset: publish the finished tables to the readers' snapshot after a refresh.

It depends on every mart and ``ml`` table, so it runs last in a nightly run and only when all of
them were built: a run that fails earlier never publishes, and readers keep the previous
snapshot. The copying is :mod:`pipelines.warehouse.snapshot`'s.
"""

from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset
from dagster_duckdb import DuckDBResource

from pipelines.assets.dbt import dbt_models
from pipelines.assets.ml import ml_assets
from pipelines.defs.resources import ServingSnapshot
from pipelines.warehouse.snapshot import PUBLISHED_SCHEMAS, current_exports, publish_snapshot

SERVING_GROUP = "serving"


def published_asset_keys() -> list[AssetKey]:
    """Keys of the dbt and ml assets whose tables the snapshot publishes."""
    keys = [*dbt_models.keys, *(key for assets in ml_assets for key in assets.keys)]
    return sorted(
        (key for key in keys if key.path[0] in PUBLISHED_SCHEMAS),
        key=lambda key: key.to_user_string(),
    )


@asset(
    key=AssetKey([SERVING_GROUP, "snapshot"]),
    group_name=SERVING_GROUP,
    deps=published_asset_keys(),
    kinds={"duckdb", "parquet"},
    description="A consistent read-only copy of every marts, ml and alerts table (the serving DuckDB file, replaced "
    "atomically) and Parquet exports of each; the API, the dashboard and BI tools read only this.",
)
def serving_snapshot(
    context: AssetExecutionContext, warehouse: DuckDBResource, serving: ServingSnapshot
) -> MaterializeResult:
    """Publish the snapshot of this run's tables."""
    path = Path(serving.path)
    with warehouse.get_connection() as con:
        info = publish_snapshot(con, path, context.run.run_id, serving.currency)
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(path)),
            "exports": MetadataValue.path(str(current_exports(path))),
            "built_at": info.built_at.isoformat(),
            "tables": len(info.row_counts),
            "row_counts": MetadataValue.json(info.row_counts),
        }
    )
