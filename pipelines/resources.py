"""Resources: the build warehouse, the source the raw tables come from, the dbt CLI and the settings
of the ``ml`` assets."""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from analytics_ml.insights import InsightThresholds
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


class MLSettings(ConfigurableResource):
    """The forecast, customer-model and insight settings of the ``ml`` assets.

    Built from :class:`Settings` (validated there, ranges in the README), so that the assets get
    them as a resource and never read the environment. The fields are the settings' names.
    """

    days_ahead: int
    confidence_level: float
    model_type: str
    backtest_origins: int
    clv_horizon_days: int
    insight_revenue_decline: float
    insight_at_risk_segments: list[str]
    insight_at_risk_revenue_share: float
    insight_funnel_drop_off: float
    insight_ltv_cac_healthy: float
    insight_margin_drop: float
    insight_margin_baseline_months: int

    @classmethod
    def from_settings(cls, settings: Settings) -> MLSettings:
        """The resource holding ``settings``' values of the same names."""
        return cls(**{name: getattr(settings, name) for name in cls.model_fields})

    def insight_thresholds(self) -> InsightThresholds:
        """The ``insight_*`` fields as analytics_ml's thresholds."""
        values = {item.name: getattr(self, f"insight_{item.name}") for item in fields(InsightThresholds)}
        return InsightThresholds(**{**values, "at_risk_segments": tuple(self.insight_at_risk_segments)})


def dbt_executable() -> str:
    """The ``dbt`` next to this interpreter, so that runs never depend on the caller's PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def build_resources(settings: Settings) -> dict[str, object]:
    """The resources of one configuration (the dbt asset hands ``warehouse``'s path to dbt)."""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": DuckDBResource(database=str(settings.warehouse)),
        "source": FilesSource(folder=str(settings.source_folder), currency=settings.currency),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
        "ml_settings": MLSettings.from_settings(settings),
    }
