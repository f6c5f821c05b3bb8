"""The settings: read from the environment, each bad value named with its variable and what is allowed,
secrets never shown, sections composed into one Settings."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from analytics_ml.backtest import MODEL_TYPES
from pipelines.alerts.tick import Alerting
from pipelines.cli.ui import WORKSPACE, dg_dev_command
from pipelines.defs.resources import MLAssetSettings, SqlSource
from pipelines.settings import (
    MartSettings,
    MLSettings,
    Settings,
    SettingsError,
    describe_validation_error,
    load_settings,
    safe_url,
)

PASSWORD = "Shop-Pw-7f3a91"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """This test's environment, which load_settings reads at every call, without the developer's settings."""
    for name in [name for name in os.environ if name.startswith("ANALYTICS_")]:
        monkeypatch.delenv(name)
    yield monkeypatch


def test_every_bad_variable_is_named_at_once(environment):
    environment.setenv("ANALYTICS_DAYS_AHEAD", "0")
    environment.setenv("ANALYTICS_SOURCE", "ftp")
    environment.setenv("ANALYTICS_ALERT_REVENUE_DROP", "2")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    message = str(raised.value)
    assert "ANALYTICS_SOURCE='ftp' is invalid" in message
    assert "ANALYTICS_DAYS_AHEAD='0' is invalid: Input should be greater than or equal to 1" in message
    assert "ANALYTICS_ALERT_REVENUE_DROP='2' is invalid: Input should be less than 1" in message


def test_each_section_reads_its_own_variables_by_their_unchanged_names(environment):
    environment.setenv("ANALYTICS_SOURCE", "files")
    environment.setenv("ANALYTICS_SOURCE_DIR", "/shop/export")
    environment.setenv("ANALYTICS_CURRENCY", "eur")
    environment.setenv("ANALYTICS_PARTITION_START", "2023-05-01")
    environment.setenv("ANALYTICS_SAMPLE_DAYS", "90")
    environment.setenv("ANALYTICS_INSIGHT_LTV_CAC_HEALTHY", "2.5")
    environment.setenv("ANALYTICS_SERVING_PATH", "/srv/snapshot.duckdb")
    environment.setenv("ANALYTICS_STORE_TIMEZONE", "America/New_York")

    settings = load_settings()

    assert (settings.source.kind, str(settings.source_folder), settings.source.currency) == (
        "files",
        "/shop/export",
        "EUR",
    )
    assert settings.schedule.partition_start == dt.date(2023, 5, 1)
    assert settings.sample.days == 90
    assert settings.insights.ltv_cac_healthy == 2.5
    assert str(settings.serving_file) == "/srv/snapshot.duckdb"
    assert settings.dbt_var_overrides() == {"duckdb_memory_limit": "1GB", "store_timezone": "America/New_York"}, (
        "unset mart settings keep dbt's defaults; the store's days are dbt's too"
    )


def test_an_update_is_validated_like_the_environment():
    settings = Settings()

    assert settings.updated(ml={"days_ahead": 7}).ml.days_ahead == 7
    with pytest.raises(ValidationError):
        settings.updated(ml={"days_ahead": 0})
    with pytest.raises(TypeError, match="no section nowhere"):
        settings.updated(nowhere={"x": 1})


def test_bad_mart_settings_name_the_variable():
    with pytest.raises(ValidationError, match="churn_risk_medium_multiplier"):
        MartSettings(churn_risk_low_multiplier=2, churn_risk_medium_multiplier=1.5)
    with pytest.raises(ValidationError, match="funnel_stages"):
        MartSettings(funnel_stages=["visit", "basket"])


def test_every_password_of_a_url_is_hidden_when_it_is_shown():
    url = sa.make_url(f"postgresql+psycopg://shop:{PASSWORD}@db.example/shop?sslmode=require&sslpassword=k1&PWD=k2")

    # SQLAlchemy renders the query sorted by name.
    assert safe_url(url) == "postgresql+psycopg://shop:***@db.example/shop?PWD=***&sslmode=require&sslpassword=***"


def test_the_settings_and_the_source_show_the_url_without_its_password():
    url = f"postgresql+psycopg://shop:{PASSWORD}@db.example:5432/shop?sslpassword={PASSWORD}2"
    settings = Settings().updated(source={"kind": "sql", "url": url})
    source = SqlSource.from_settings(settings)

    assert PASSWORD not in repr(settings) + repr(source) + str(source) + settings.source_label
    assert settings.source_label == "postgresql+psycopg://shop:***@db.example:5432/shop?sslpassword=***"
    assert "db.example:5432/shop" in repr(source)


def test_a_bad_url_is_reported_without_its_password(environment):
    environment.setenv("ANALYTICS_SOURCE", "sql")
    environment.setenv("ANALYTICS_SOURCE_URL", f"not a url {PASSWORD}")

    with pytest.raises(SettingsError, match="ANALYTICS_SOURCE_URL='\\*+' is invalid: .*not a SQLAlchemy URL") as raised:
        load_settings()
    assert PASSWORD not in str(raised.value)


def test_the_sql_source_needs_a_url(environment):
    environment.setenv("ANALYTICS_SOURCE", "sql")
    environment.delenv("ANALYTICS_SOURCE_URL", raising=False)

    with pytest.raises(
        SettingsError, match="ANALYTICS_SOURCE_URL=None is invalid: .*required when ANALYTICS_SOURCE=sql"
    ):
        load_settings()


def test_a_webhook_url_that_is_not_http_is_named_without_its_value(environment):
    environment.setenv("ANALYTICS_ALERT_WEBHOOK_URL", "ftp://hooks.example.com/secret-token")

    with pytest.raises(
        SettingsError, match=r"ANALYTICS_ALERT_WEBHOOK_URL='\*+' is invalid: .*not an http\(s\) URL"
    ) as e:
        load_settings()
    assert "secret-token" not in str(e.value)


def test_alert_thresholds_and_severities_come_from_the_environment(environment):
    environment.setenv("ANALYTICS_ALERT_REVENUE_DROP", "0.4")
    environment.setenv("ANALYTICS_ALERT_CHURN_SEGMENTS", '["At Risk"]')
    environment.setenv("ANALYTICS_ALERT_CONVERSION_DROP_SEVERITY", "critical")

    thresholds = Alerting.from_settings(load_settings()).thresholds

    assert thresholds.revenue_drop.drop == 0.4
    assert thresholds.churn_risk.segments == ("At Risk",)
    assert thresholds.conversion_drop.severity == "critical"
    environment.setenv("ANALYTICS_ALERT_CONVERSION_DROP_SEVERITY", "urgent")
    with pytest.raises(SettingsError, match=r"ANALYTICS_ALERT_CONVERSION_DROP_SEVERITY='urgent' is invalid"):
        load_settings()


def test_delivery_settings_that_could_outlast_a_sensor_tick_are_refused(environment):
    environment.setenv("ANALYTICS_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    environment.setenv("ANALYTICS_ALERT_DELIVERY_TIMEOUT_SECONDS", "10")
    environment.setenv("ANALYTICS_ALERT_DELIVERY_RETRIES", "3")
    environment.setenv("ANALYTICS_ALERT_DELIVERY_BACKOFF_SECONDS", "1")

    # 4 attempts × 10 s + waits of 1, 2 and 4 s = 47 s, over the 45 s budget.
    with pytest.raises(
        SettingsError,
        match=r"ANALYTICS_ALERT_DELIVERY_BACKOFF_SECONDS='1' is invalid: .*\(webhook\) can take "
        r"1 × \(ANALYTICS_ALERT_DELIVERY_TIMEOUT_SECONDS=10 × \(ANALYTICS_ALERT_DELIVERY_RETRIES=3 \+ 1\) "
        r"\+ 7 s .*\) = 47 s, over the 45 s",
    ):
        load_settings()
    # Waits of 0.5, 1 and 2 s: 43.5 s fits.
    environment.setenv("ANALYTICS_ALERT_DELIVERY_BACKOFF_SECONDS", "0.5")
    assert load_settings().delivery.delivery_backoff_seconds == 0.5
    # Slack too: the tick delivers on one channel after the other, 2 × 43.5 = 87 s.
    environment.setenv("ANALYTICS_ALERT_SLACK_TOKEN", "xoxb-secret")
    with pytest.raises(SettingsError, match=r"\(webhook, slack\) can take 2 × .* = 87 s, over the 45 s") as e:
        load_settings()
    assert "xoxb-secret" not in str(e.value)


def test_only_the_log_channel_needs_no_delivery_budget(environment):
    # Nothing goes over the network, so even 11 attempts of 60 s bound nothing.
    environment.delenv("ANALYTICS_ALERT_WEBHOOK_URL", raising=False)
    environment.delenv("ANALYTICS_ALERT_SLACK_TOKEN", raising=False)
    environment.setenv("ANALYTICS_ALERT_DELIVERY_TIMEOUT_SECONDS", "60")
    environment.setenv("ANALYTICS_ALERT_DELIVERY_RETRIES", "10")

    assert Alerting.from_settings(load_settings()).delivery.channel_names == ("log",)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"days_ahead": 120}, "ANALYTICS_DAYS_AHEAD=120 is invalid: Input should be less than or equal to 90"),
        ({"days_ahead": 0}, "ANALYTICS_DAYS_AHEAD=0 is invalid: Input should be greater than or equal to 1"),
        (
            {"confidence_level": 0.999},
            "ANALYTICS_CONFIDENCE_LEVEL=0.999 is invalid: Input should be less than or equal to 0.99",
        ),
        (
            {"confidence_level": 0.05},
            "ANALYTICS_CONFIDENCE_LEVEL=0.05 is invalid: Input should be greater than or equal to 0.1",
        ),
        ({"model_type": "arima"}, "ANALYTICS_MODEL_TYPE='arima' is invalid: Input should be 'auto', 'linear'"),
    ],
)
def test_a_bad_ml_setting_is_named_with_its_range(overrides, message):
    with pytest.raises(ValidationError) as caught:
        MLSettings(**overrides)

    assert message in describe_validation_error(caught.value)


def test_a_bad_days_ahead_in_the_environment_stops_load_settings(environment):
    environment.setenv("ANALYTICS_DAYS_AHEAD", "120")

    with pytest.raises(SettingsError, match=r"ANALYTICS_DAYS_AHEAD='120' is invalid: .*less than or equal to 90"):
        load_settings()


def test_a_bad_confidence_level_in_the_environment_stops_load_settings(environment):
    environment.setenv("ANALYTICS_CONFIDENCE_LEVEL", "1.5")

    with pytest.raises(
        SettingsError, match=r"ANALYTICS_CONFIDENCE_LEVEL='1.5' is invalid: .*less than or equal to 0.99"
    ):
        load_settings()


def test_the_ml_settings_resource_carries_the_environments_values(environment):
    environment.setenv("ANALYTICS_DAYS_AHEAD", "14")
    environment.setenv("ANALYTICS_INSIGHT_AT_RISK_SEGMENTS", '["At Risk"]')
    environment.setenv("ANALYTICS_INSIGHT_MARGIN_DROP", "0.1")
    environment.setenv("ANALYTICS_INSIGHT_MOVER_CHANGE", "0.5")

    resource = MLAssetSettings.from_settings(load_settings())

    assert resource.days_ahead == 14
    thresholds = resource.insight_thresholds()
    assert thresholds.at_risk_segments == ("At Risk",)
    assert thresholds.margin_drop == 0.1
    assert thresholds.mover_change == 0.5


def test_the_model_type_setting_offers_exactly_analytics_mls_model_types():
    assert get_args(MLSettings.model_fields["model_type"].annotation) == MODEL_TYPES


def test_the_ui_and_the_api_listen_where_the_environment_says(environment):
    environment.setenv("ANALYTICS_UI_HOST", "0.0.0.0")
    environment.setenv("ANALYTICS_UI_PORT", "3300")
    environment.setenv("ANALYTICS_API_PORT", "8800")

    settings = load_settings()

    assert dg_dev_command(settings)[1:] == ["dev", "-w", str(WORKSPACE), "-h", "0.0.0.0", "-p", "3300"]
    assert Path(dg_dev_command(settings)[0]).name == "dg"
    assert (settings.api.host, settings.api.port) == ("127.0.0.1", 8800)
    environment.setenv("ANALYTICS_API_PORT", "70000")
    with pytest.raises(SettingsError, match="ANALYTICS_API_PORT='70000' is invalid"):
        load_settings()
