"""Resources: the build warehouse, the source the raw tables come from, the dbt CLI, the settings
of the ``ml`` assets and the alerting of the sensors."""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Protocol

import duckdb
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource
from dagster_dbt.compat import DBT_PYTHON_VERSION
from dagster_duckdb import DuckDBResource
from packaging import version
from sqlalchemy.engine import URL

from analytics_ml.alert_rules import (
    AlertThresholds,
    ChurnRiskThresholds,
    ConversionDropThresholds,
    RevenueDropThresholds,
    UnusualPatternThresholds,
)
from analytics_ml.insights import InsightThresholds
from pipelines.alert_delivery import DeliverySettings, RetryPolicy
from pipelines.project import dbt_project
from pipelines.raw_tables import LoadPlan, days_between
from pipelines.settings import Settings
from pipelines.sources.files import register_source_rows
from pipelines.sources.mapping import load_mapping
from pipelines.sources.schema import SourceTable
from pipelines.sources.sql import PullOptions, register_sql_rows, safe_url


class TableSource(Protocol):
    """What the ingest assets need of a source (the ``source`` resource)."""

    currency: str

    def register_rows(
        self, con: duckdb.DuckDBPyConnection, table: SourceTable, *, start: dt.date, end: dt.date
    ) -> LoadPlan:
        """Expose the rows of the run's window ``start <= day < end`` to ``con`` as ``_src``; say which days to
        replace."""
        ...


class FilesSource(ConfigurableResource):
    """Source tables read from a folder of CSV or Parquet files (the sample store is one)."""

    folder: str
    currency: str = "USD"

    def register_rows(
        self, con: duckdb.DuckDBPyConnection, table: SourceTable, *, start: dt.date, end: dt.date
    ) -> LoadPlan:
        """Expose the table's source rows to ``con`` as the temporary view ``_src``; the window's days are replaced."""
        register_source_rows(con, Path(self.folder), table)
        return LoadPlan(days=days_between(start, end))


@dataclass(frozen=True)
class SqlSource:
    """Source tables pulled from the shop's database by a SQLAlchemy URL (``ANALYTICS_SOURCE=sql``).

    A plain object rather than a ``ConfigurableResource``: Dagster shows a configurable
    resource's values in its UI, and the URL holds the database password. ``repr`` shows the URL
    without it.
    """

    url: URL
    mapping_file: Path | None
    options: PullOptions
    currency: str = "USD"

    def __repr__(self) -> str:
        return f"SqlSource(url={safe_url(self.url)!r}, mapping_file={self.mapping_file!r}, options={self.options!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> SqlSource:
        """The SQL source of ``settings`` (``ANALYTICS_SOURCE_*``)."""
        return cls(
            url=settings.source_database_url,
            mapping_file=settings.source_mapping,
            options=PullOptions(
                lookback_days=settings.source_lookback_days,
                chunk_rows=settings.source_chunk_rows,
                first_day=settings.partition_start,
            ),
            currency=settings.currency,
        )

    def register_rows(
        self, con: duckdb.DuckDBPyConnection, table: SourceTable, *, start: dt.date, end: dt.date
    ) -> LoadPlan:
        """Land the window's rows and those of the days changed since the watermark as ``_src``; see
        :func:`pipelines.sources.sql.register_sql_rows`."""
        mapping = load_mapping(self.mapping_file)
        return register_sql_rows(con, table, url=self.url, mapping=mapping, start=start, end=end, options=self.options)


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


class DbtVars(ConfigurableResource):
    """The dbt vars that the settings set (``Settings.dbt_var_overrides``), for every dbt build.

    Vars left out keep the default of ``dbt_project.yml``, so the dbt project alone stays runnable.
    """

    overrides_json: str = "{}"

    def cli_vars(self, warehouse_path: str) -> str:
        """The ``--vars`` argument: the overrides and the warehouse file dbt builds in."""
        return json.dumps({**json.loads(self.overrides_json), "warehouse_path": warehouse_path})


@dataclass(frozen=True)
class Alerting:
    """The alert rules' thresholds and the delivery channels (``ANALYTICS_ALERT_*``), for the sensors.

    A plain object rather than a ``ConfigurableResource``, like :class:`SqlSource`: Dagster shows a
    configurable resource's values in its UI, and the webhook URL and the Slack token are secrets.
    """

    thresholds: AlertThresholds
    delivery: DeliverySettings

    @classmethod
    def from_settings(cls, settings: Settings) -> Alerting:
        """The alerting of ``settings``' ``alert_*`` fields."""
        thresholds = AlertThresholds(
            lookback_days=settings.alert_lookback_days,
            max_pending_share=settings.alert_max_pending_share,
            revenue_drop=RevenueDropThresholds(
                drop=settings.alert_revenue_drop,
                baseline_weeks=settings.alert_revenue_baseline_weeks,
                severity=settings.alert_revenue_drop_severity,
            ),
            conversion_drop=ConversionDropThresholds(
                std_devs=settings.alert_conversion_std_devs,
                drop=settings.alert_conversion_drop,
                baseline_days=settings.alert_conversion_baseline_days,
                min_trials=settings.alert_conversion_min_entered,
                severity=settings.alert_conversion_drop_severity,
            ),
            unusual_pattern=UnusualPatternThresholds(
                robust_z=settings.alert_unusual_z,
                window_days=settings.alert_unusual_window_days,
                baseline_weeks=settings.alert_revenue_baseline_weeks,
                severity=settings.alert_unusual_pattern_severity,
            ),
            churn_risk=ChurnRiskThresholds(
                segments=settings.alert_churn_segments,
                segment_revenue_share=settings.alert_churn_segment_revenue_share,
                churn_probability=settings.alert_churn_probability,
                customer_share=settings.alert_churn_customer_share,
                severity=settings.alert_churn_risk_severity,
            ),
            run_failure_severity=settings.alert_run_failure_severity,
        )
        delivery = DeliverySettings(
            webhook_url=settings.alert_webhook_url,
            slack_token=settings.alert_slack_token,
            slack_channel=settings.alert_slack_channel,
            policy=RetryPolicy(
                timeout_seconds=settings.alert_delivery_timeout_seconds,
                retries=settings.alert_delivery_retries,
                backoff_seconds=settings.alert_delivery_backoff_seconds,
            ),
        )
        return cls(thresholds=thresholds, delivery=delivery)


class ServingSnapshot(ConfigurableResource):
    """Where the ``serving`` asset publishes the readers' snapshot (``ANALYTICS_SERVING_PATH``)."""

    path: str


def dbt_executable() -> str:
    """The ``dbt`` next to this interpreter, so that runs never depend on the caller's PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


class StorefrontDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI, which knows the version of the ``dbt`` installed with this interpreter.

    dagster-dbt starts ``dbt --version`` before every invocation to learn it (1.8 s of a nightly
    run); the ``dbt`` next to this interpreter is the dbt-core package imported here.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == Path(sys.executable).parent / "dbt" and DBT_PYTHON_VERSION is not None:
            return DBT_PYTHON_VERSION
        return DbtCliResource._cli_version.func(self)


def build_source(settings: Settings) -> FilesSource | SqlSource:
    """The source of ``settings.source``: the SQL database, or the folder of files (the sample store's too)."""
    if settings.source == "sql":
        return SqlSource.from_settings(settings)
    return FilesSource(folder=str(settings.source_folder), currency=settings.currency)


def build_resources(settings: Settings) -> dict[str, object]:
    """The resources of one configuration (the dbt asset hands ``warehouse``'s path to dbt)."""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": DuckDBResource(
            database=str(settings.warehouse), connection_config={"memory_limit": settings.duckdb_memory_limit}
        ),
        "source": build_source(settings),
        "dbt": StorefrontDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
        "dbt_vars": DbtVars(overrides_json=json.dumps(settings.dbt_var_overrides())),
        "ml_settings": MLSettings.from_settings(settings),
        "alerting": Alerting.from_settings(settings),
        "serving": ServingSnapshot(path=str(settings.serving)),
    }
