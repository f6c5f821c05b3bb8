"""The dbt models (group ``dbt``) as Dagster assets, loaded from the prepared manifest.

``dbt build`` runs each model and then its tests; the tests are Dagster asset checks, and a test
of severity ``error`` is a blocking check: dbt skips the models downstream of the failing one and
the failed check fails the step, so no Python asset downstream runs on a table that failed.
"""

from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from pipelines.project import dbt_project


class StorefrontDbtTranslator(DagsterDbtTranslator):
    """Every dbt model in the ``dbt`` asset group (keys stay ``<schema>/<model>``)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return "dbt"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    name="dbt_models",
    dagster_dbt_translator=StorefrontDbtTranslator(),
)
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
    """Build and test every selected dbt model."""
    yield from dbt.cli(["build"], context=context).stream()
