"""Resources: the build warehouse, the source the raw tables come from, and the dbt CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from pipelines.project import dbt_project
from pipelines.settings import Settings
from pipelines.sources.files import register_source_rows
from pipelines.sources.schema import SourceTable


class FilesSource(ConfigurableResource):
    """Source tables read from a folder of CSV or Parquet files (the sample store is one)."""

    folder: str
    currency: str = "USD"

    def register_rows(self, con: duckdb.DuckDBPyConnection, table: SourceTable) -> None:
        """Expose the table's source rows to ``con`` as the temporary view ``_src``."""
        register_source_rows(con, Path(self.folder), table)


def dbt_executable() -> str:
    """The ``dbt`` next to this interpreter, so that runs never depend on the caller's PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def build_resources(settings: Settings) -> dict[str, object]:
    """The resources of one configuration.

    dbt's profile reads the warehouse path from ``ANALYTICS_WAREHOUSE_PATH``; it is exported here,
    at the edge, so that dbt and Dagster always write the same file.
    """
    os.environ["ANALYTICS_WAREHOUSE_PATH"] = str(settings.warehouse)
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": DuckDBResource(database=str(settings.warehouse)),
        "source": FilesSource(folder=str(settings.source_folder), currency=settings.currency),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
    }
