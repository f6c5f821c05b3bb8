"""The one configuration object of the pipeline, read from the environment and validated at the edge.

Every setting is an ``ANALYTICS_*`` environment variable with a default that works out of the
box. Nothing else in the project reads ``os.environ`` for its own settings: code asks
:func:`load_settings` and gets either a valid :class:`Settings` or a :class:`SettingsError`
that names the variable, the value and the allowed range.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import URL, make_url
from sqlalchemy.exc import ArgumentError

from analytics_ml.alert_rules import SEVERITIES
from analytics_ml.forecast import MAX_CONFIDENCE, MAX_DAYS_AHEAD, MIN_CONFIDENCE
from pipelines.alert_delivery import DELIVERY_BUDGET_SECONDS, RetryPolicy
from pipelines.sources.schema import FUNNEL_STAGES
from pipelines.sources.sql import safe_url

ENV_PREFIX = "ANALYTICS_"
FunnelStage = Literal[FUNNEL_STAGES]
Severity = Literal[SEVERITIES]
DBT_VAR_SETTINGS = (
    "reference_date",
    "kpi_window_days",
    "churn_inactivity_days",
    "churn_risk_low_multiplier",
    "churn_risk_medium_multiplier",
    "churn_risk_default_interval_days",
    "top_customers_limit",
    "funnel_stages",
    "duckdb_memory_limit",
)
"""Settings that are dbt vars of the same name."""
REMOTE_CHANNEL_SETTINGS = {"webhook": "alert_webhook_url", "slack": "alert_slack_token"}
"""The alert channels that go over the network, by the setting that turns each on; a tick delivers on them in turn."""


class SettingsError(ValueError):
    """A setting has a value outside what the pipeline accepts."""


class Settings(BaseSettings):
    """Pipeline configuration (environment variables ``ANALYTICS_<NAME>``)."""

    # Inputs are left out of pydantic's own error text because one of them holds a password;
    # describe_validation_error names the others' values.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True, hide_input_in_errors=True)

    data_dir: Path = Field(
        Path("data"), description="Folder for the warehouse, the sample store and Dagster's run history."
    )
    warehouse_path: Path | None = Field(None, description="The build DuckDB file; default <data_dir>/warehouse.duckdb.")
    serving_path: Path | None = Field(
        None, description="The readers' snapshot (DuckDB file); default serving.duckdb beside the build file."
    )
    api_token: SecretStr | None = Field(None, description="Bearer token the API asks of every reader (make serve).")
    api_refresh_seconds: int = Field(
        30, ge=5, le=3600, description="Seconds between the dashboard's checks for a new snapshot."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    duckdb_memory_limit: str = Field(
        "1GB",
        pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="Memory DuckDB may use in each build process (ingest, dbt); beyond it, it spills to disk.",
    )

    source: Literal["sample", "files", "sql"] = Field("sample", description="Where raw data comes from.")
    source_dir: Path | None = Field(None, description="Folder of source files; default <data_dir>/sample_store.")
    # The SQL source (pipelines/sources/sql.py). The URL is secret: only ever shown without its password.
    source_url: SecretStr | None = Field(
        None, validate_default=True, description="SQLAlchemy URL of the shop's database (ANALYTICS_SOURCE=sql)."
    )
    source_mapping: Path | None = Field(
        None, description="YAML/JSON file naming the shop's tables and columns (docs/source-schema.md)."
    )
    source_lookback_days: int = Field(
        3, ge=0, le=365, description="Days before the watermark that every pull reads again, for late changes."
    )
    source_chunk_rows: int = Field(50_000, ge=100, le=5_000_000, description="Rows read from the database at a time.")
    currency: str = Field(
        "USD", min_length=3, max_length=3, description="Reporting currency: rows in any other are rejected."
    )
    partition_start: dt.date = Field(dt.date(2024, 1, 1), description="First day of the daily partitions.")
    timezone: str = Field("UTC", description="Timezone of the nightly schedule (IANA name).")

    sample_seed: int = 42
    sample_days: int = Field(730, ge=1, le=3650)
    sample_customers: int = Field(4000, ge=1)

    # The ml assets (pipelines/assets/ml.py). The forecast ranges are analytics_ml's own.
    days_ahead: int = Field(30, ge=1, le=MAX_DAYS_AHEAD, description="Days the revenue forecast covers.")
    confidence_level: float = Field(
        0.95, ge=MIN_CONFIDENCE, le=MAX_CONFIDENCE, description="Level of the forecast's prediction intervals."
    )
    model_type: Literal["auto", "linear", "loglinear", "damped", "piecewise"] = Field(
        "auto", description="Trend of the forecaster; auto picks the best backtested one."
    )
    backtest_origins: int = Field(5, ge=1, le=20, description="Rolling origins of the forecast backtest.")
    clv_horizon_days: int = Field(365, ge=1, le=3650, description="Horizon of the predicted customer lifetime value.")

    # Thresholds of the business insights (analytics_ml.insights.InsightThresholds); shares are fractions.
    insight_revenue_decline: float = Field(0.05, gt=0, le=1, description="Revenue fall that is a warning.")
    insight_at_risk_segments: tuple[str, ...] = Field(
        ("At Risk", "Cannot Lose Them", "About To Sleep"),
        min_length=1,
        description="RFM segments counted as at risk of churning (JSON list).",
    )
    insight_at_risk_revenue_share: float = Field(0.2, gt=0, le=1, description="At-risk revenue share that warns.")
    insight_funnel_drop_off: float = Field(0.5, gt=0, le=1, description="Funnel stage drop-off that is a warning.")
    insight_ltv_cac_healthy: float = Field(3.0, gt=0, description="LTV/CAC below this is a warning (below 1 critical).")
    insight_margin_drop: float = Field(0.05, gt=0, le=1, description="Fall of the net margin that is a warning.")
    insight_margin_baseline_months: int = Field(3, ge=1, le=24, description="Months the last margin is compared to.")

    # The alert sensors (pipelines/sensors.py) and their rules (analytics_ml.alert_rules); shares are fractions.
    alert_sensors_running: bool = Field(True, description="Alert sensors start running with the daemon.")
    alert_sensor_interval_seconds: int = Field(60, ge=10, le=3600, description="Seconds between alert sensor ticks.")
    alert_lookback_days: int = Field(
        7, ge=1, le=90, description="Latest days of the marts that each evaluation checks."
    )
    alert_max_pending_share: float = Field(
        0.05, ge=0, le=1, description="A day is checked once at most this share of its orders is still pending."
    )
    alert_revenue_drop: float = Field(
        0.3, gt=0, lt=1, description="Fall below the same-weekday average that, below the forecast band, alerts."
    )
    alert_revenue_baseline_weeks: int = Field(4, ge=1, le=52, description="Previous same weekdays averaged.")
    alert_revenue_drop_severity: Severity = Field("critical", description="Severity of a revenue drop.")
    alert_conversion_std_devs: float = Field(
        3.0, gt=0, le=10, description="Standard deviations below its trailing mean that a daily rate must fall."
    )
    alert_conversion_drop: float = Field(
        0.2, gt=0, lt=1, description="Relative fall below its trailing mean that a daily rate must reach too."
    )
    alert_conversion_baseline_days: int = Field(28, ge=7, le=365, description="Days of a rate's trailing mean.")
    alert_conversion_min_entered: int = Field(
        30, ge=1, description="Sessions at a stage (or payment attempts) a day needs to have its rate checked."
    )
    alert_conversion_drop_severity: Severity = Field("warning", description="Severity of a conversion drop.")
    alert_unusual_z: float = Field(
        5.0, gt=0, le=50, description="Robust z-score of an unusual day's revenue or orders."
    )
    alert_unusual_window_days: int = Field(56, ge=14, le=365, description="Days the robust z-score compares with.")
    alert_unusual_pattern_severity: Severity = Field("info", description="Severity of an unusual day.")
    alert_churn_segments: tuple[str, ...] = Field(
        ("At Risk", "Cannot Lose Them"), min_length=1, description="RFM segments whose revenue share is watched."
    )
    alert_churn_segment_revenue_share: float = Field(
        0.3, gt=0, le=1, description="Revenue share of the watched segments that alerts."
    )
    alert_churn_probability: float = Field(
        0.7, gt=0, lt=1, description="Model churn probability from which a customer counts as likely churned."
    )
    alert_churn_customer_share: float = Field(
        0.25, gt=0, le=1, description="Share of likely churned customers that alerts."
    )
    alert_churn_risk_severity: Severity = Field("warning", description="Severity of a churn risk.")
    alert_run_failure_severity: Severity = Field("critical", description="Severity of a failed nightly run.")
    # Delivery: the log always; a webhook and Slack when configured. Both URLs and tokens are secret.
    alert_webhook_url: SecretStr | None = Field(None, description="URL that every alert is POSTed to as JSON.")
    alert_slack_token: SecretStr | None = Field(
        None, description="Slack bot token (dagster-slack) to post alerts with."
    )
    alert_slack_channel: str = Field("#alerts", min_length=1, description="Slack channel the alerts are posted to.")
    alert_delivery_timeout_seconds: float = Field(5.0, gt=0, le=60, description="Timeout of one delivery request.")
    alert_delivery_retries: int = Field(2, ge=0, le=10, description="Retries of a failed delivery within one tick.")
    alert_delivery_backoff_seconds: float = Field(
        0.5,
        ge=0,
        le=30,
        description="Wait before the first retry, doubled for each further one. With the timeout and the retries, "
        f"a failing delivery on every configured channel must fit a tick's {DELIVERY_BUDGET_SECONDS:g} s budget.",
    )

    # The marts' settings (dbt vars, defaults and meaning in dbt_project/dbt_project.yml). Unset: the
    # dbt project's default; set: passed to every dbt build with --vars (see dbt_var_overrides).
    reference_date: dt.date | None = Field(None, description="Day the marts' 'as of' metrics are computed for.")
    kpi_window_days: int | None = Field(None, ge=1, le=366, description="Days of the KPI periods compared.")
    churn_inactivity_days: int | None = Field(None, ge=1, le=3650, description="Days without an order that churn.")
    churn_risk_low_multiplier: float | None = Field(None, gt=0, description="Recency / own interval still low risk.")
    churn_risk_medium_multiplier: float | None = Field(None, gt=0, description="Recency / own interval still medium.")
    churn_risk_default_interval_days: int | None = Field(None, ge=1, description="Interval of one-time buyers.")
    top_customers_limit: int | None = Field(None, ge=1, le=100_000, description="Rows of marts.top_customers.")
    funnel_stages: tuple[FunnelStage, ...] | None = Field(
        None, min_length=2, description="Funnel stages in order (JSON list of source stages)."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown IANA timezone {value!r}") from error
        return value

    @field_validator("source_url")
    @classmethod
    def _url_of_sql_source(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            if info.data.get("source") == "sql":
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

    @field_validator("alert_webhook_url")
    @classmethod
    def _http_webhook(cls, value: SecretStr | None) -> SecretStr | None:
        # The URL may carry a token, so the message never repeats it.
        parts = urlsplit(value.get_secret_value()) if value is not None else None
        if parts is not None and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("not an http(s) URL with a host")
        return value

    @field_validator("alert_delivery_backoff_seconds")
    @classmethod
    def _deliveries_fit_a_sensor_tick(cls, value: float, info: ValidationInfo) -> float:
        # Checked on the last of the three delivery settings, when the other two (and the channels,
        # declared before them) are validated: a tick that outlasts Dagster's limit records nothing
        # and sends its alerts again on the next one.
        timeout = info.data.get("alert_delivery_timeout_seconds")
        retries = info.data.get("alert_delivery_retries")
        if timeout is None or retries is None:
            return value  # invalid themselves: their own errors name them
        channels = [name for name, setting in REMOTE_CHANNEL_SETTINGS.items() if info.data.get(setting) is not None]
        policy = RetryPolicy(timeout_seconds=timeout, retries=retries, backoff_seconds=value)
        worst = len(channels) * policy.worst_case_seconds
        if worst > DELIVERY_BUDGET_SECONDS:
            raise ValueError(
                f"a failing delivery on the configured channels ({', '.join(channels)}) can take "
                f"{len(channels)} × (ANALYTICS_ALERT_DELIVERY_TIMEOUT_SECONDS={timeout:g} × "
                f"(ANALYTICS_ALERT_DELIVERY_RETRIES={retries} + 1) + {sum(policy.retry_waits()):g} s of "
                f"ANALYTICS_ALERT_DELIVERY_BACKOFF_SECONDS waits) = {worst:g} s, over the "
                f"{DELIVERY_BUDGET_SECONDS:g} s that a sensor tick's deliveries may take (Dagster stops a tick at "
                "60 s); lower the timeout, the retries or the backoff"
            )
        return value

    @field_validator("currency")
    @classmethod
    def _upper_currency(cls, value: str) -> str:
        return value.upper()

    @field_validator("churn_risk_medium_multiplier")
    @classmethod
    def _medium_above_low(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("churn_risk_low_multiplier")
        if value is not None and low is not None and value <= low:
            raise ValueError(f"must be above ANALYTICS_CHURN_RISK_LOW_MULTIPLIER={low}")
        return value

    def dbt_var_overrides(self) -> dict[str, object]:
        """The dbt vars set in the environment, as JSON-ready values; the others keep the dbt project's default."""
        values = self.model_dump(include=set(DBT_VAR_SETTINGS), exclude_none=True, mode="json")
        return {name: list(value) if isinstance(value, tuple) else value for name, value in values.items()}

    @property
    def warehouse(self) -> Path:
        """Absolute path of the build DuckDB file."""
        return (self.warehouse_path or self.data_dir / "warehouse.duckdb").resolve()

    @property
    def serving(self) -> Path:
        """Absolute path of the readers' snapshot."""
        return (self.serving_path or self.warehouse.with_name("serving.duckdb")).resolve()

    @property
    def source_folder(self) -> Path:
        """Absolute path of the folder the files source reads."""
        return (self.source_dir or self.data_dir / "sample_store").resolve()

    @property
    def source_database_url(self) -> URL:
        """The SQL source's URL; its ``repr`` and ``str`` hide the password."""
        if self.source_url is None:
            raise SettingsError("ANALYTICS_SOURCE_URL is not set: the SQL source needs the shop database's URL")
        return make_url(self.source_url.get_secret_value())

    @property
    def source_label(self) -> str:
        """Where the raw data comes from, fit to print: the folder, or the database URL without its password."""
        if self.source == "sql":
            return safe_url(self.source_database_url)
        return str(self.source_folder)

    @property
    def dagster_home(self) -> Path:
        """Persistent Dagster instance, so that ``make ui`` shows the runs of ``make run``."""
        return (self.data_dir / "dagster_home").resolve()


SECRET_SETTINGS = frozenset(
    name
    for name, field in Settings.model_fields.items()
    if field.annotation is SecretStr or SecretStr in get_args(field.annotation)
)
"""Settings whose value is never shown, not even in an error about it."""


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad setting, naming the environment variable, its value and what is allowed."""
    lines = []
    for problem in error.errors():
        name = ENV_PREFIX + "_".join(str(part) for part in problem["loc"]).upper()
        given = problem.get("input")
        hidden = given is not None and bool(problem["loc"]) and problem["loc"][0] in SECRET_SETTINGS
        shown = "'**********'" if hidden else repr(given)
        lines.append(f"{name}={shown} is invalid: {problem['msg']}")
    return "; ".join(lines)


@functools.cache
def load_settings() -> Settings:
    """Read and validate the settings once per process."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
