"""Resources: the build warehouse (which says when it waits for the file), the source the raw tables
come from, the dbt CLI, the settings of the ``ml`` assets and the alerting of the sensors, all built
from :class:`Settings` by :func:`build_resources`."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Protocol

import duckdb
from dagster import ConfigurableResource, InitResourceContext, get_dagster_logger
from dagster_duckdb import DuckDBResource
from sqlalchemy.engine import URL

from analytics_ml.insights import InsightThresholds
from pipelines.alerts.tick import Alerting
from pipelines.defs.dagster_compat import StorefrontDbtCliResource, dbt_executable
from pipelines.defs.partitions import partition_start
from pipelines.defs.project import dbt_project
from pipelines.defs.run_liveness import tag_run_process
from pipelines.settings import Settings, safe_url
from pipelines.source_schema import SourceTable
from pipelines.sources.database import PullOptions, register_sql_rows
from pipelines.sources.files import register_source_rows
from pipelines.sources.mapping import load_mapping
from pipelines.sources.raw_tables import LoadPlan, days_between
from pipelines.sources.validation import RowRules

LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")
"""How DuckDB's error names the process holding a file's lock (``... is held in /usr/bin/python3 (PID 1234)``)."""
LOCK_WAITS = [0.1 * 2**attempt for attempt in range(10)]
"""The waits between attempts to open a held warehouse: dagster-duckdb's own (10 retries from 0.1 s,
doubling: about 100 s in all), so a run still outlasts a sensor tick or a short query elsewhere."""


def lock_holder(error: Exception) -> str:
    """Who holds the file, as DuckDB's error says it, or the error itself when it names nobody."""
    match = LOCK_HOLDER.search(str(error))
    if match is None:
        return f"DuckDB names no holder: {error}"
    return f"held by PID {match['pid']} ({match['program']})"


class WarehouseResource(DuckDBResource):
    """dagster-duckdb's DuckDBResource, saying when it waits for the warehouse file.

    DuckDB lets one process write a file; dagster-duckdb retries a held file silently for about
    100 s, so a step waiting on another process looked like a hung step. This one waits the same,
    with one warning in the run's log per wait naming the file and, when DuckDB says it, the
    process holding it (``lsof`` on the file finds it otherwise).
    """

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # Every step opens the warehouse, so every run is tagged with the process executing it.
        if context.run is not None and context.instance is not None:
            tag_run_process(context.instance, context.run)

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self.connect_waiting()
        try:
            yield con
        finally:
            con.close()

    def connect_waiting(self) -> duckdb.DuckDBPyConnection:
        """A read-write connection, retrying while another process holds the file (see :data:`LOCK_WAITS`)."""
        config = {"custom_user_agent": "dagster", **self.connection_config}
        for wait in LOCK_WAITS:
            try:
                return duckdb.connect(self.database, read_only=False, config=config)
            except duckdb.IOException as error:
                get_dagster_logger().warning(
                    f"waiting {wait:.1f} s for the warehouse {self.database}: {lock_holder(error)}"
                )
                time.sleep(wait)
        return duckdb.connect(self.database, read_only=False, config=config)


class TableSource(Protocol):
    """What the ingest assets need of a source (the ``source`` resource)."""

    def register_rows(
        self, con: duckdb.DuckDBPyConnection, table: SourceTable, *, start: dt.date, end: dt.date
    ) -> LoadPlan:
        """Expose the rows of the run's window ``start <= day < end`` to ``con`` as ``_src``; say which days to
        replace."""
        ...


class FilesSource(ConfigurableResource):
    """Source tables read from a folder of CSV or Parquet files (the sample store is one)."""

    folder: str
    encoding: str = "utf-8"

    def register_rows(
        self, con: duckdb.DuckDBPyConnection, table: SourceTable, *, start: dt.date, end: dt.date
    ) -> LoadPlan:
        """Expose the table's source rows to ``con`` as the temporary view ``_src``; the window's days are replaced."""
        register_source_rows(con, Path(self.folder), table, encoding=self.encoding)
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

    def __repr__(self) -> str:
        return f"SqlSource(url={safe_url(self.url)!r}, mapping_file={self.mapping_file!r}, options={self.options!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> SqlSource:
        """The SQL source of ``settings`` (``ANALYTICS_SOURCE_*``)."""
        source = settings.source
        return cls(
            url=source.database_url,
            mapping_file=source.mapping,
            options=PullOptions(
                lookback_days=source.lookback_days,
                chunk_rows=source.chunk_rows,
                first_day=partition_start(settings),
                store_timezone=settings.schedule.store_timezone,
            ),
        )

    def register_rows(
        self, con: duckdb.DuckDBPyConnection, table: SourceTable, *, start: dt.date, end: dt.date
    ) -> LoadPlan:
        """Land the window's rows and those of the days changed since the watermark as ``_src``; see
        :func:`pipelines.sources.database.register_sql_rows`."""
        mapping = load_mapping(self.mapping_file)
        return register_sql_rows(con, table, url=self.url, mapping=mapping, start=start, end=end, options=self.options)


class SourceRowRules(ConfigurableResource):
    """The rules every source row must pass beyond its columns' types (``ANALYTICS_CURRENCY``,
    ``ANALYTICS_EXCHANGE_RATE_MAX_AGE_DAYS``, ``ANALYTICS_SOURCE_MAX_AMOUNT``, ``..._TIMESTAMP_OFFSETS``,
    ``..._FUTURE_TOLERANCE_HOURS``, ``ANALYTICS_PARTITION_START`` and ``ANALYTICS_STORE_TIMEZONE``), the same
    whichever source the rows come from."""

    # No defaults: the settings hold them (a copy here could drift from them).
    currency: str
    exchange_rate_max_age_days: int
    max_amount: float
    timestamp_offsets: str
    future_tolerance_hours: int
    partition_start: str
    store_timezone: str

    @classmethod
    def from_settings(cls, settings: Settings) -> SourceRowRules:
        source = settings.source
        return cls(
            currency=source.currency,
            exchange_rate_max_age_days=source.exchange_rate_max_age_days,
            max_amount=source.max_amount,
            timestamp_offsets=source.timestamp_offsets,
            future_tolerance_hours=source.future_tolerance_hours,
            partition_start=partition_start(settings).isoformat(),
            store_timezone=settings.schedule.store_timezone,
        )

    def at(self, now: dt.datetime) -> RowRules:
        """The rules of a run whose clock says ``now`` (naive UTC)."""
        return RowRules(
            currency=self.currency,
            max_amount=self.max_amount,
            first_day=dt.date.fromisoformat(self.partition_start),
            latest_time=now + dt.timedelta(hours=self.future_tolerance_hours),
            store_timezone=self.store_timezone,
            exchange_rate_max_age_days=self.exchange_rate_max_age_days,
            reject_offsets=self.timestamp_offsets == "reject",
        )


class MLAssetSettings(ConfigurableResource):
    """The forecast, customer-model and insight settings of the ``ml`` assets.

    Built from the ``ml`` and ``insights`` sections of :class:`Settings` (validated there, ranges in
    the README), so that the assets get them as a resource, shown in the UI, and never read the
    environment. The fields are the ml section's names and the insight section's with ``insight_``.
    """

    days_ahead: int
    confidence_level: float
    model_type: str
    backtest_origins: int
    clv_horizon_days: int
    customer_model_refit_days: int
    customer_model_refit_base_change: float
    insight_revenue_decline: float
    insight_at_risk_segments: list[str]
    insight_at_risk_revenue_share: float
    insight_funnel_drop_off: float
    insight_ltv_cac_healthy: float
    insight_margin_drop: float
    insight_margin_baseline_months: int
    insight_mover_change: float
    alert_lookback_days: int
    """The latest days the revenue-drop alert judges against the fitted history's band."""

    @classmethod
    def from_settings(cls, settings: Settings) -> MLAssetSettings:
        """The resource holding the ml and insight settings' values (and the alerts' look-back)."""
        insights = {f"insight_{name}": value for name, value in settings.insights}
        return cls(**dict(settings.ml), **insights, alert_lookback_days=settings.alerts.lookback_days)

    def insight_thresholds(self) -> InsightThresholds:
        """The ``insight_*`` fields as analytics_ml's thresholds."""
        values = {item.name: getattr(self, f"insight_{item.name}") for item in fields(InsightThresholds)}
        return InsightThresholds(**{**values, "at_risk_segments": tuple(self.insight_at_risk_segments)})


class DbtVars(ConfigurableResource):
    """The dbt vars that the settings set (:meth:`Settings.dbt_var_overrides`), for every dbt build.

    Vars left out keep the default of ``dbt_project.yml``, so the dbt project alone stays runnable.
    """

    overrides_json: str = "{}"

    def cli_vars(self, warehouse_path: str) -> str:
        """The ``--vars`` argument: the overrides and the warehouse file dbt builds in."""
        return json.dumps({**json.loads(self.overrides_json), "warehouse_path": warehouse_path})


class ServingSnapshot(ConfigurableResource):
    """Where the ``serving`` asset publishes the readers' snapshot (``ANALYTICS_SERVING_PATH``), and the
    reporting currency its amounts are in (``ANALYTICS_CURRENCY``), which it records for the readers."""

    path: str
    currency: str


def build_source(settings: Settings) -> FilesSource | SqlSource:
    """The source of ``ANALYTICS_SOURCE``: the SQL database, or the folder of files (the sample store's too)."""
    if settings.source.kind == "sql":
        return SqlSource.from_settings(settings)
    return FilesSource(folder=str(settings.source_folder), encoding=settings.source.encoding)


def build_resources(settings: Settings) -> dict[str, object]:
    """The resources of one configuration (the dbt asset hands ``warehouse``'s path to dbt)."""
    settings.warehouse_file.parent.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": WarehouseResource(
            database=str(settings.warehouse_file),
            connection_config={"memory_limit": settings.warehouse.duckdb_memory_limit},
        ),
        "source": build_source(settings),
        "row_rules": SourceRowRules.from_settings(settings),
        "dbt": StorefrontDbtCliResource(
            project_dir=dbt_project,
            dbt_executable=dbt_executable(),
            # Writing every query of a build to dbt.log takes dbt's threads a lock per line.
            file_log_level="debug" if settings.warehouse.log_level == "DEBUG" else "info",
        ),
        "dbt_vars": DbtVars(overrides_json=json.dumps(settings.dbt_var_overrides())),
        "ml_settings": MLAssetSettings.from_settings(settings),
        "alerting": Alerting.from_settings(settings),
        "serving": ServingSnapshot(path=str(settings.serving_file), currency=settings.source.currency),
    }
