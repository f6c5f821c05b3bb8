"""The one configuration object of the pipeline, read from the environment and validated at the edge.

Every setting is an ``ANALYTICS_*`` environment variable with a default that works out of the
box. :class:`Settings` is composed of sections, one pydantic model per part of the pipeline
(warehouse, schedule, source, sample store, marts, ml, insights, alerts, delivery, serving, api);
each section reads its own variables. Nothing in the project reads ``os.environ`` for its own
settings and nothing reads them at import: the edges (the Dagster definitions loader, ``make
run``, ``make serve``) call :func:`load_settings` once and get either a valid :class:`Settings` or
a :class:`SettingsError` that names every bad variable, its value and the allowed range.

This module is a leaf of the project's layers: it imports only the maths' ranges
(:mod:`analytics_ml`) and the source vocabulary (:mod:`pipelines.source_schema`).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import quote_plus, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import URL, make_url
from sqlalchemy.exc import ArgumentError

from analytics_ml.backtest import DEFAULT_MAX_ORIGINS, MAX_ORIGINS
from analytics_ml.insights import SEVERITIES
from analytics_ml.trend_model import MAX_CONFIDENCE, MAX_DAYS_AHEAD, MIN_CONFIDENCE
from pipelines.source_schema import FUNNEL_STAGES

ENV_PREFIX = "ANALYTICS_"
FunnelStage = Literal[FUNNEL_STAGES]
Severity = Literal[SEVERITIES]
DELIVERY_BUDGET_SECONDS = 45.0
"""Longest the failing deliveries of one sensor tick may take on all channels together: Dagster stops
a sensor tick after 60 s by default, and the tick also needs time to read and record in the warehouse."""
HIDDEN = "***"
"""What a password is shown as."""
SECRET_QUERY_KEYS = frozenset({"passwd", "pwd"})
"""Query parameters that hold a password although their name does not say ``password``
(pymysql's ``passwd``, ODBC's ``pwd``); any name containing ``password`` is one too."""


def shown(default: str) -> dict[str, str]:
    """A field's ``json_schema_extra``: how the README shows a default that is derived, not a value."""
    return {"shown_default": default}


class SettingsError(ValueError):
    """A setting has a value outside what the pipeline accepts."""


def section_config(prefix: str = "") -> SettingsConfigDict:
    """The configuration of a section whose variables are ``ANALYTICS_<prefix><FIELD>``.

    Inputs are left out of pydantic's own error text because some of them hold a password;
    :func:`describe_validation_error` names the others' values.
    """
    return SettingsConfigDict(
        env_prefix=ENV_PREFIX + prefix,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        populate_by_name=True,
    )


class WarehouseSettings(BaseSettings):
    """Where the pipeline builds and how much memory it may use."""

    model_config = section_config()

    data_dir: Path = Field(
        Path("data"), description="Folder for the warehouse, the sample store and Dagster's run history."
    )
    warehouse_path: Path | None = Field(
        None,
        description="The DuckDB file the pipeline builds.",
        json_schema_extra=shown("`<data dir>/warehouse.duckdb`"),
    )
    duckdb_memory_limit: str = Field(
        "1GB",
        pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="Memory DuckDB may use in each build process (ingest and ML, dbt); beyond it, it spills to "
        "a temp folder next to the warehouse.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    batched_event_log: bool = Field(
        True,
        description="The Dagster instance under the data dir stores a range run's materializations in one "
        "transaction per file (`pipelines.defs.dagster_compat`); `false`: Dagster's own SQLite event log.",
    )


class ScheduleSettings(BaseSettings):
    """When the nightly run happens and which days its partitions cover."""

    model_config = section_config()

    partition_start: dt.date | None = Field(
        None,
        description="First day of the daily partitions.",
        json_schema_extra=shown(
            "the sample store's first day (in a store west of UTC, the day before); `2024-01-01` for the other sources"
        ),
    )
    store_timezone: str = Field(
        "UTC",
        description="The store's time zone, an IANA name (`America/New_York`): every day of the warehouse (the "
        "partitions, the marts' days, months and hours, the forecast, the alerts) is a day of its calendar, and "
        "the nightly run starts at 02:00 in it. Raw times stay UTC.",
    )

    @field_validator("store_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown IANA timezone {value!r}") from error
        return value


class SourceSettings(BaseSettings):
    """Where the raw data comes from (``ANALYTICS_SOURCE`` and ``ANALYTICS_SOURCE_*``)."""

    model_config = section_config("SOURCE_")

    kind: Literal["sample", "files", "sql"] = Field(
        "sample",
        validation_alias="ANALYTICS_SOURCE",
        description="`sample` (generated if missing), `files` or `sql`.",
    )
    dir: Path | None = Field(
        None,
        description="Folder of CSV/Parquet source files ([schema](docs/source-schema.md)).",
        json_schema_extra=shown("`<data dir>/sample_store`"),
    )
    # The URL is secret: only ever shown without its password (safe_url).
    url: SecretStr | None = Field(
        None,
        validate_default=True,
        description="SQLAlchemy URL of the shop's database (`ANALYTICS_SOURCE=sql`), e.g. "
        "`postgresql+psycopg://user:password@host:5432/shop` or `sqlite:////path/shop.db`; the password is "
        "never printed.",
        json_schema_extra=shown("(none; required for `sql`)"),
    )
    mapping: Path | None = Field(
        None,
        description="YAML/JSON file naming the shop's tables and columns "
        "([mapping](docs/source-schema.md#mapping-the-shops-names)).",
        json_schema_extra=shown("(none: the schema's names)"),
    )
    lookback_days: int = Field(
        3,
        ge=0,
        le=365,
        description="Days before the watermark that every SQL pull looks at again, for changes that arrive late.",
    )
    chunk_rows: int = Field(50_000, ge=100, le=5_000_000, description="Rows read from the database at a time.")
    currency: str = Field(
        "USD",
        min_length=3,
        max_length=3,
        validation_alias="ANALYTICS_CURRENCY",
        description="Reporting currency: orders in another are converted with the source's exchange rates "
        "([how](docs/source-schema.md#currencies)); costs and marketing spend "
        "in another are rejected.",
    )
    exchange_rate_max_age_days: int = Field(
        7,
        ge=0,
        le=366,
        validation_alias="ANALYTICS_EXCHANGE_RATE_MAX_AGE_DAYS",
        description="An order in another currency is converted with the latest rate of its currency on its day or "
        "up to this many days before (none at weekends and on holidays); without one it is rejected.",
    )
    encoding: Literal["utf-8", "latin-1", "utf-16"] = Field(
        "utf-8",
        description="Character encoding of CSV source files; a row that is not valid in it is rejected, the rest load.",
    )
    timestamp_offsets: Literal["convert", "reject"] = Field(
        "convert",
        description="Times written with a UTC offset (`2026-08-01 23:30:00-03:00`, `...Z`): `convert` them to UTC, "
        "or `reject` the row (times must then be naive UTC). Times without an offset are read as UTC.",
    )
    future_tolerance_hours: int = Field(
        1,
        ge=0,
        le=168,
        description="A row whose time is more than this many hours after the run's clock is rejected as in the "
        "future (a margin for the shop's clock running ahead).",
    )
    max_amount: float = Field(
        1_000_000.0,
        gt=0,
        le=1e13,
        description="Largest plausible amount of one row; a larger one is rejected as out of range.",
    )

    @field_validator("url")
    @classmethod
    def _url_of_sql_source(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            if info.data.get("kind") == "sql":
                raise ValueError(
                    "required when ANALYTICS_SOURCE=sql: a SQLAlchemy URL such as "
                    "postgresql+psycopg://user:password@host:5432/shop or sqlite:////path/shop.db"
                )
            return None
        try:
            make_url(value.get_secret_value())
        except ArgumentError:
            # Not chained: the parser's error could quote the URL, password included.
            raise ValueError("not a SQLAlchemy URL (dialect+driver://user:password@host:port/database)") from None
        return value

    @field_validator("currency")
    @classmethod
    def _upper_currency(cls, value: str) -> str:
        return value.upper()

    @property
    def database_url(self) -> URL:
        """The SQL source's URL; its ``repr`` and ``str`` hide the password."""
        if self.url is None:
            raise SettingsError("ANALYTICS_SOURCE_URL is not set: the SQL source needs the shop database's URL")
        return make_url(self.url.get_secret_value())


class SampleSettings(BaseSettings):
    """Size of the generated sample store (``ANALYTICS_SOURCE=sample``)."""

    model_config = section_config("SAMPLE_")

    seed: int = Field(42, description="Seed of the sample store's generator.")
    days: int = Field(730, ge=1, le=3650, description="Days of the sample store, ending yesterday.")
    customers: int = Field(4000, ge=1, description="Customers of the sample store.")


class MartSettings(BaseSettings):
    """The marts' settings: dbt vars of the same name (defaults and meaning in ``dbt_project.yml``).

    Unset, a var keeps the dbt project's default; set, it is passed to every dbt build with ``--vars``.
    """

    model_config = section_config()

    reference_date: dt.date | None = Field(
        None,
        description='Day the marts\' "as of" metrics (recency, last-period KPIs) are computed for.',
        json_schema_extra=shown("the last day with a transaction"),
    )
    kpi_window_days: int | None = Field(
        None,
        ge=1,
        le=366,
        description="Days of the KPI period compared with the one before it.",
        json_schema_extra=shown("`30`"),
    )
    churn_inactivity_days: int | None = Field(
        None,
        ge=1,
        le=3650,
        description="A customer without a paid order for this many days counts as churned.",
        json_schema_extra=shown("`90`"),
    )
    churn_risk_low_multiplier: float | None = Field(
        None,
        gt=0,
        description="Rule-based churn risk: recency up to this × the customer's own days between orders is low.",
        json_schema_extra=shown("`1.5`"),
    )
    churn_risk_medium_multiplier: float | None = Field(
        None,
        gt=0,
        description="Recency up to this × the customer's own interval is medium, beyond is high.",
        json_schema_extra=shown("`3`"),
    )
    churn_risk_default_interval_days: int | None = Field(
        None, ge=1, description="The interval one-time buyers are judged against.", json_schema_extra=shown("`30`")
    )
    top_customers_limit: int | None = Field(
        None, ge=1, le=100_000, description="Rows of `marts.top_customers`.", json_schema_extra=shown("`100`")
    )
    top_products_limit: int | None = Field(
        None, ge=1, le=100_000, description="Rows of `marts.top_products`.", json_schema_extra=shown("`20`")
    )
    funnel_stages: tuple[FunnelStage, ...] | None = Field(
        None,
        min_length=2,
        description="Funnel stages in order, a JSON list of the source's stages.",
        json_schema_extra=shown("all six stages"),
    )
    source_freshness_warn_hours: int | None = Field(
        None,
        ge=1,
        le=24 * 365,
        description="`dbt source freshness` warns when the last load (raw.load_log) is older than this.",
        json_schema_extra=shown("`26`"),
    )
    source_freshness_error_hours: int | None = Field(
        None,
        ge=1,
        le=24 * 365,
        description="`dbt source freshness` fails when the last load is older than this.",
        json_schema_extra=shown("`50`"),
    )

    @field_validator("churn_risk_medium_multiplier")
    @classmethod
    def _medium_above_low(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("churn_risk_low_multiplier")
        if value is not None and low is not None and value <= low:
            raise ValueError(f"must be above ANALYTICS_CHURN_RISK_LOW_MULTIPLIER={low}")
        return value


class MLSettings(BaseSettings):
    """The forecast and the customer models of the ``ml`` assets (the ranges are :mod:`analytics_ml`'s)."""

    model_config = section_config()

    days_ahead: int = Field(
        30, ge=1, le=MAX_DAYS_AHEAD, description="Days the revenue forecast covers; also the backtest's horizon."
    )
    confidence_level: float = Field(
        0.95,
        ge=MIN_CONFIDENCE,
        le=MAX_CONFIDENCE,
        description="Level of the forecast's `lower`/`upper` band (80 % and 95 % bands are written too) and of "
        "the trend and seasonality tests.",
    )
    model_type: Literal["auto", "linear", "loglinear", "damped", "piecewise"] = Field(
        "auto",
        description="Trend of the regression candidates; `auto`: all. Seasonal naive and the weekly profile "
        "are always candidates.",
    )
    backtest_origins: int = Field(
        DEFAULT_MAX_ORIGINS,
        ge=1,
        le=MAX_ORIGINS,
        description="Weekly origins of the forecast's backtest: the model is chosen on the last 26, the daily "
        "bands on each step's latest errors, the total's band on all; a short history uses as many as fit.",
    )
    clv_horizon_days: int = Field(
        365, ge=1, le=3650, description="Horizon of `ml.customer_scores.predicted_clv` in days."
    )
    customer_model_refit_days: int = Field(
        7,
        ge=1,
        le=365,
        description="Days between refits of the churn/CLV models (`ml.customer_model_fits`); the nights "
        "in between score every customer with the stored parameters.",
    )
    customer_model_refit_base_change: float = Field(
        0.1,
        gt=0,
        le=10,
        description="Refit the churn/CLV models before then when the number of customers with a paid order "
        "has moved by more than this share since the last fit.",
    )


class InsightSettings(BaseSettings):
    """Thresholds of the business insights (:class:`analytics_ml.insights.InsightThresholds`); shares are
    fractions."""

    model_config = section_config("INSIGHT_")

    revenue_decline: float = Field(
        0.05,
        gt=0,
        le=1,
        description="A significant 30-day fall of the revenue trend, or a forecast below the last period, by "
        "this share is a warning.",
    )
    at_risk_segments: tuple[str, ...] = Field(
        ("At Risk", "Cannot Lose Them", "About To Sleep"),
        min_length=1,
        description="RFM segments counted as at risk (JSON list of `customer_segments.segment` names).",
    )
    at_risk_revenue_share: float = Field(
        0.2, gt=0, le=1, description="Share of revenue held by the at-risk segments that is a warning."
    )
    funnel_drop_off: float = Field(0.5, gt=0, le=1, description="Drop-off of a funnel stage that is a warning.")
    ltv_cac_healthy: float = Field(3.0, gt=0, description="LTV/CAC below this is a warning, below 1 critical.")
    margin_drop: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Fall of the last complete month's net margin vs the months before that is a warning "
        "(0.05 = 5 points); a negative margin is critical.",
    )
    margin_baseline_months: int = Field(
        3, ge=1, le=24, description="Complete months before the last one that its net margin is compared with."
    )
    mover_change: float = Field(
        0.3,
        gt=0,
        description="Change month on month (0.3 = 30 %, up or down) from which the biggest product mover's net revenue "
        "or the biggest channel mover's CAC is an insight; a product's fall or a CAC's rise is a warning.",
    )


class AlertSettings(BaseSettings):
    """The alert sensors and their rules' thresholds (:mod:`analytics_ml.alert_rules`); shares are fractions."""

    model_config = section_config("ALERT_")

    sensors_running: bool = Field(True, description="Alert sensors start running with the daemon.")
    sensor_interval_seconds: int = Field(60, ge=10, le=3600, description="Seconds between alert sensor ticks.")
    lookback_days: int = Field(7, ge=1, le=90, description="Latest days of the marts that each evaluation checks.")
    max_pending_share: float = Field(
        0.05, ge=0, le=1, description="A day is checked once at most this share of its orders is still pending."
    )
    revenue_drop: float = Field(
        0.3, gt=0, lt=1, description="Fall below the same-weekday average that, below the forecast band, alerts."
    )
    revenue_baseline_weeks: int = Field(4, ge=1, le=52, description="Previous same weekdays averaged.")
    revenue_drop_severity: Severity = Field("critical", description="Severity of a revenue drop.")
    conversion_std_devs: float = Field(
        3.0, gt=0, le=10, description="Standard deviations below its trailing mean that a daily rate must fall."
    )
    conversion_drop: float = Field(
        0.2, gt=0, lt=1, description="Relative fall below its trailing mean that a daily rate must reach too."
    )
    conversion_baseline_days: int = Field(28, ge=7, le=365, description="Days of a rate's trailing mean.")
    conversion_min_entered: int = Field(
        30, ge=1, description="Sessions at a stage (or payment attempts) a day needs to have its rate checked."
    )
    conversion_drop_severity: Severity = Field("warning", description="Severity of a conversion drop.")
    unusual_z: float = Field(5.0, gt=0, le=50, description="Robust z-score of an unusual day's revenue or orders.")
    unusual_window_days: int = Field(56, ge=14, le=365, description="Days the robust z-score compares with.")
    unusual_pattern_severity: Severity = Field("info", description="Severity of an unusual day.")
    churn_segments: tuple[str, ...] = Field(
        ("At Risk", "Cannot Lose Them"), min_length=1, description="RFM segments whose revenue share is watched."
    )
    churn_segment_revenue_share: float = Field(
        0.3, gt=0, le=1, description="Revenue share of the watched segments that alerts."
    )
    churn_probability: float = Field(
        0.7, gt=0, lt=1, description="Model churn probability from which a customer counts as likely churned."
    )
    churn_customer_share: float = Field(0.25, gt=0, le=1, description="Share of likely churned customers that alerts.")
    churn_risk_severity: Severity = Field("warning", description="Severity of a churn risk.")
    run_failure_severity: Severity = Field("critical", description="Severity of a failed nightly run.")


class DeliverySettings(BaseSettings):
    """Where alerts go besides the log, and the retry policy of each delivery (``ANALYTICS_ALERT_*``).

    The webhook URL and the Slack token are secret: never shown, not even in an error about them.
    """

    model_config = section_config("ALERT_")

    webhook_url: SecretStr | None = Field(
        None, description="http(s) URL that every alert is POSTed to as JSON; never printed."
    )
    slack_token: SecretStr | None = Field(None, description="Slack bot token to post alerts with; never printed.")
    slack_channel: str = Field("#alerts", min_length=1, description="Slack channel the alerts are posted to.")
    delivery_timeout_seconds: float = Field(5.0, gt=0, le=60, description="Timeout of one delivery request.")
    delivery_retries: int = Field(2, ge=0, le=10, description="Retries of a failed delivery within one tick.")
    delivery_backoff_seconds: float = Field(
        0.5,
        ge=0,
        le=30,
        description="Wait before the first retry, doubled for each further one. With the timeout and the retries, "
        f"a failing delivery on every configured channel must fit a tick's {DELIVERY_BUDGET_SECONDS:g} s budget.",
    )

    @field_validator("webhook_url")
    @classmethod
    def _http_webhook(cls, value: SecretStr | None) -> SecretStr | None:
        # The URL may carry a token, so the message never repeats it.
        parts = urlsplit(value.get_secret_value()) if value is not None else None
        if parts is not None and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("not an http(s) URL with a host")
        return value

    @field_validator("delivery_backoff_seconds")
    @classmethod
    def _deliveries_fit_a_sensor_tick(cls, value: float, info: ValidationInfo) -> float:
        # Checked on the last of the three delivery settings, when the other two (and the channels,
        # declared before them) are validated: a tick that outlasts Dagster's limit records nothing
        # and sends its alerts again on the next one.
        timeout = info.data.get("delivery_timeout_seconds")
        retries = info.data.get("delivery_retries")
        if timeout is None or retries is None:
            return value  # invalid themselves: their own errors name them
        channels = [name for name in ("webhook", "slack") if info.data.get(REMOTE_CHANNEL_FIELDS[name]) is not None]
        waits = retry_waits(retries, value)
        worst = len(channels) * worst_case_seconds(timeout, retries, value)
        if worst > DELIVERY_BUDGET_SECONDS:
            raise ValueError(
                f"a failing delivery on the configured channels ({', '.join(channels)}) can take "
                f"{len(channels)} × (ANALYTICS_ALERT_DELIVERY_TIMEOUT_SECONDS={timeout:g} × "
                f"(ANALYTICS_ALERT_DELIVERY_RETRIES={retries} + 1) + {sum(waits):g} s of "
                f"ANALYTICS_ALERT_DELIVERY_BACKOFF_SECONDS waits) = {worst:g} s, over the "
                f"{DELIVERY_BUDGET_SECONDS:g} s that a sensor tick's deliveries may take (Dagster stops a tick at "
                "60 s); lower the timeout, the retries or the backoff"
            )
        return value

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The configured channels: the log, and the webhook and Slack when set."""
        remote = (name for name, field in REMOTE_CHANNEL_FIELDS.items() if getattr(self, field) is not None)
        return ("log", *remote)

    def retry_waits(self) -> list[float]:
        """The wait before each retry: the backoff, doubled for each further one."""
        return retry_waits(self.delivery_retries, self.delivery_backoff_seconds)

    @property
    def worst_case_seconds(self) -> float:
        """Longest a delivery that fails takes on one channel (:func:`worst_case_seconds`)."""
        return worst_case_seconds(self.delivery_timeout_seconds, self.delivery_retries, self.delivery_backoff_seconds)


REMOTE_CHANNEL_FIELDS = {"webhook": "webhook_url", "slack": "slack_token"}
"""The alert channels that go over the network, by the setting that turns each on; a tick delivers on them in turn."""


def retry_waits(retries: int, backoff_seconds: float) -> list[float]:
    """The wait before each of ``retries`` retries: ``backoff_seconds``, doubled for each further one."""
    return [backoff_seconds * 2**retry for retry in range(retries)]


def worst_case_seconds(timeout_seconds: float, retries: int, backoff_seconds: float) -> float:
    """Longest a delivery that fails takes on one channel: every attempt waits out the timeout, and every
    wait between them is slept. (The timeout bounds each socket operation, so a receiver that trickles
    its answer can stretch an attempt further; the budget leaves room.)"""
    return timeout_seconds * (retries + 1) + sum(retry_waits(retries, backoff_seconds))


class ServingSettings(BaseSettings):
    """Where the readers' snapshot is published."""

    model_config = section_config("SERVING_")

    path: Path | None = Field(
        None,
        description="The published snapshot (DuckDB file).",
        json_schema_extra=shown("`serving.duckdb` beside the warehouse"),
    )


class ApiSettings(BaseSettings):
    """The JSON API and the dashboard (``make serve``)."""

    model_config = section_config("API_")

    token: SecretStr | None = Field(
        None,
        description="Bearer token of the API; never printed.",
        json_schema_extra=shown("(none; required by `make serve`)"),
    )
    refresh_seconds: int = Field(30, ge=5, le=3600, description="How often the dashboard checks for a new snapshot.")
    host: str = Field(
        "127.0.0.1", min_length=1, description="Address `make serve` listens on (`0.0.0.0`: every interface)."
    )
    port: int = Field(8000, ge=1, le=65535, description="Port `make serve` listens on.")


class UiSettings(BaseSettings):
    """The Dagster UI (``make ui``)."""

    model_config = section_config("UI_")

    host: str = Field("127.0.0.1", min_length=1, description="Address the Dagster UI of `make ui` listens on.")
    port: int = Field(3000, ge=1, le=65535, description="Port of the Dagster UI of `make ui`.")


class Settings(BaseModel):
    """Pipeline configuration: one section per part of the pipeline, each read from its variables."""

    model_config = ConfigDict(frozen=True)

    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    source: SourceSettings = Field(default_factory=SourceSettings)
    sample: SampleSettings = Field(default_factory=SampleSettings)
    marts: MartSettings = Field(default_factory=MartSettings)
    ml: MLSettings = Field(default_factory=MLSettings)
    insights: InsightSettings = Field(default_factory=InsightSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    ui: UiSettings = Field(default_factory=UiSettings)

    def updated(self, **changes: dict[str, object]) -> Settings:
        """A copy with some fields of some sections replaced, validated like the environment's values
        (``settings.updated(ml={"days_ahead": 7})``)."""
        sections = {
            name: type(section)(**{**dict(section), **changes[name]}) for name, section in self if name in changes
        }
        unknown = set(changes) - set(sections)
        if unknown:
            raise TypeError(f"Settings has no section {', '.join(sorted(unknown))}")
        return self.model_copy(update=sections)

    def dbt_var_overrides(self) -> dict[str, object]:
        """The dbt vars set in the environment, as JSON-ready values; the others keep the dbt project's
        default. The marts' settings, DuckDB's memory limit and the store's time zone are dbt vars of the same
        name."""
        values = self.marts.model_dump(exclude_none=True, mode="json")
        values = {name: list(value) if isinstance(value, tuple) else value for name, value in values.items()}
        return {
            **values,
            "duckdb_memory_limit": self.warehouse.duckdb_memory_limit,
            "store_timezone": self.schedule.store_timezone,
        }

    @property
    def warehouse_file(self) -> Path:
        """Absolute path of the build DuckDB file (default ``<data dir>/warehouse.duckdb``)."""
        return (self.warehouse.warehouse_path or self.warehouse.data_dir / "warehouse.duckdb").resolve()

    @property
    def serving_file(self) -> Path:
        """Absolute path of the readers' snapshot (default ``serving.duckdb`` beside the build file)."""
        return (self.serving.path or self.warehouse_file.with_name("serving.duckdb")).resolve()

    @property
    def source_folder(self) -> Path:
        """Absolute path of the folder the files source reads (default ``<data dir>/sample_store``)."""
        return (self.source.dir or self.warehouse.data_dir / "sample_store").resolve()

    @property
    def source_label(self) -> str:
        """Where the raw data comes from, fit to print: the folder, or the database URL without its password."""
        if self.source.kind == "sql":
            return safe_url(self.source.database_url)
        return str(self.source_folder)

    @property
    def dagster_home(self) -> Path:
        """Persistent Dagster instance, so that ``make ui`` shows the runs of ``make run``."""
        return (self.warehouse.data_dir / "dagster_home").resolve()


SECTIONS: dict[str, type[BaseSettings]] = {name: field.annotation for name, field in Settings.model_fields.items()}
"""Every section class by its name in :class:`Settings`."""


def env_name(section: type[BaseSettings], field_name: str) -> str:
    """The environment variable of a section's field: its alias, else the section's prefix and its name."""
    field = section.model_fields[field_name]
    if isinstance(field.validation_alias, str):
        return field.validation_alias
    return (section.model_config["env_prefix"] + field_name).upper()


def _is_secret(section: type[BaseSettings], field_name: str) -> bool:
    annotation = section.model_fields[field_name].annotation
    return annotation is SecretStr or SecretStr in get_args(annotation)


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad setting, naming the environment variable, its value and what is allowed."""
    section = next(cls for cls in SECTIONS.values() if cls.__name__ == error.title)
    aliases = {env_name(section, name): name for name in section.model_fields}
    lines = []
    for problem in error.errors():
        first, *rest = [str(part) for part in problem["loc"]] or [""]
        field_name = aliases.get(first.upper(), first)
        known = field_name in section.model_fields
        name = env_name(section, field_name) if known else ENV_PREFIX + first.upper()
        name = "_".join([name, *rest]).upper()
        given = problem.get("input")
        hidden = given is not None and known and _is_secret(section, field_name)
        shown = "'**********'" if hidden else repr(given)
        lines.append(f"{name}={shown} is invalid: {problem['msg']}")
    return "; ".join(lines)


RENAMED_VARIABLES = {
    "ANALYTICS_TIMEZONE": (
        "ANALYTICS_STORE_TIMEZONE",
        "the nightly run starts at 02:00 of the store's day, and its days are the store's",
    ),
}
"""Variables of earlier versions, by their replacement and why: refused rather than ignored, so that a
schedule configured the old way does not silently run at another hour."""


def load_settings() -> Settings:
    """Read and validate every section from the environment; every bad variable is named at once."""
    sections: dict[str, BaseSettings] = {}
    problems = [
        f"{old} is no longer read: set {new} instead ({why})"
        for old, (new, why) in RENAMED_VARIABLES.items()
        if old in os.environ
    ]
    for name, section in SECTIONS.items():
        try:
            sections[name] = section()
        except ValidationError as error:
            problems.append(describe_validation_error(error))
    if problems:
        raise SettingsError("; ".join(problems))
    return Settings(**sections)


# --- showing secrets ----------------------------------------------------------------------------


def _secret_query_key(name: str) -> bool:
    """Whether the URL's query parameter ``name`` holds a password (``password``, ``sslpassword``, ``passwd``)."""
    lowered = name.lower()
    return "password" in lowered or lowered in SECRET_QUERY_KEYS


def safe_url(url: URL) -> str:
    """The URL as it may be printed: without its password, in the user part or in the query."""
    hidden = {key: HIDDEN for key in url.query if _secret_query_key(key)}
    rendered = url.update_query_dict(hidden).render_as_string(hide_password=True)
    # The query is rendered URL-encoded: shown as the user part's password is, `***`.
    return rendered.replace(quote_plus(HIDDEN), HIDDEN)


def url_secrets(url: URL) -> list[str]:
    """Every password the URL holds: the user part's and the query's (a query value may be repeated)."""
    found = [url.password] if url.password else []
    for key, value in url.query.items():
        if _secret_query_key(key):
            found.extend(value if isinstance(value, tuple) else [value])
    return [secret for secret in found if secret]
