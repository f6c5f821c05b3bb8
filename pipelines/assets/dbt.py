"""The dbt models (group ``dbt``) as Dagster assets, loaded from the prepared manifest.

``dbt build`` runs each model and then its tests; the tests are Dagster asset checks, and a test
of severity ``error`` is a blocking check: dbt skips the models downstream of the failing one and
the failed check fails the step, so no Python asset downstream runs on a table that failed.
"""

from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from dagster_duckdb import DuckDBResource

from pipelines.project import dbt_project
from pipelines.resources import DbtVars


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
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: DuckDBResource, dbt_vars: DbtVars):
    """Build and test every selected dbt model in the warehouse file of the ``warehouse`` resource, with the
    dbt vars of the settings."""
    # dbt unit tests check SQL logic, not data: the test suite runs them (tests/test_dbt_unit_tests.py),
    # so the nightly build does not pay for them.
    args = ["build", "--exclude-resource-type", "unit_test", "--vars", dbt_vars.cli_vars(warehouse.database)]
    yield from dbt.cli(args, context=context).stream()
