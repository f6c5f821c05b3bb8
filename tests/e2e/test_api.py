"""The JSON API against the snapshot the pipeline published for the sample store.

Each answer is compared with the table it reads, queried here from the serving file with SQL of
the test's own.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import sync_playwright

from pipelines.readers.app import API_PREFIX
from pipelines.readers.redaction import redact_tokens
from pipelines.settings import Settings, SettingsError
from tests.support.api_server import TOKEN, api_app, get, running_api, serving

CHROMIUM = Path("/usr/bin/chromium")

PROTECTED = [
    "comprehensive",
    "revenue-forecast?days=30",
    "customer-behavior",
    "conversion-funnel",
    "roi-dashboard",
    "products",
    "channels",
    "predictive",
    "business-insights",
    "alerts",
    "model-performance",
    "export?table=marts.kpi_summary&format=csv",
]


def api(api_url: str, path: str, **kwargs) -> object:
    answer = get(f"{api_url}/api/analytics/{path}", **kwargs)
    assert answer.status == 200, answer.body
    return answer.json()


def snapshot_rows(settings: Settings, sql: str) -> list[tuple]:
    """The rows of ``sql`` on the snapshot, its money (DECIMAL) as the JSON numbers the API gives."""
    with duckdb.connect(str(settings.serving_file), read_only=True) as con:
        rows = con.execute(sql).fetchall()
    return [tuple(float(value) if isinstance(value, Decimal) else value for value in row) for row in rows]


def snapshot_frame(settings: Settings, table: str) -> pd.DataFrame:
    with duckdb.connect(str(settings.serving_file), read_only=True) as con:
        return con.execute(f"select * from {table}").df()


def test_health_check_needs_no_token_and_counts_every_published_table(api_url, sample_warehouse):
    health = api(api_url, "health-check", token=None)

    tables = [name for (name,) in snapshot_rows(sample_warehouse, "select table_name from snapshot_tables")]
    counts = {name: snapshot_rows(sample_warehouse, f"select count(*) from {name}")[0][0] for name in tables}
    assert health["tables"] == counts
    assert {"marts.kpi_summary", "ml.revenue_forecast", "alerts.alerts"} <= set(counts)
    assert {name.split(".")[0] for name in counts} == {"marts", "ml", "alerts"}, "build-only layers are not published"
    assert health["last_run_status"] == "success"
    assert health["snapshot_age_seconds"] >= 0
    ((run_id, built_at, published_at),) = snapshot_rows(
        sample_warehouse, "select run_id, built_at, published_at from snapshot"
    )
    assert health["run_id"] == run_id
    assert (health["snapshot_built_at"], health["snapshot_published_at"]) == (
        built_at.isoformat(),
        published_at.isoformat(),
    )


@pytest.mark.parametrize("path", PROTECTED)
def test_every_other_endpoint_needs_the_token(api_url, path):
    missing = get(f"{api_url}/api/analytics/{path}", token=None)
    wrong = get(f"{api_url}/api/analytics/{path}", token="not-the-token")

    assert (missing.status, wrong.status) == (401, 401)
    assert "bearer token" in missing.json()["detail"]


def test_the_forecast_answer_is_the_forecast_table(api_url, sample_warehouse):
    answer = api(api_url, "revenue-forecast?days=7")

    forecast = snapshot_rows(
        sample_warehouse, "select date, forecast, lower, upper from ml.revenue_forecast order by 1"
    )
    history = snapshot_rows(sample_warehouse, "select date, actual from ml.revenue_fitted_history order by 1")
    assert answer["forecast"]["date"] == [row[0].isoformat() for row in forecast[:7]]
    assert answer["forecast"]["forecast"] == pytest.approx([row[1] for row in forecast[:7]])
    assert answer["forecast"]["lower"] == pytest.approx([row[2] for row in forecast[:7]])
    assert answer["history"]["actual"] == pytest.approx([row[1] for row in history])
    assert answer["model"]["confidence_level"] == 0.95
    # The total of the 7 days answered, with the band of that total (not the sum of daily bounds).
    ((lower, upper),) = snapshot_rows(
        sample_warehouse,
        "select cumulative_lower, cumulative_upper from ml.revenue_forecast order by date limit 1 offset 6",
    )
    total = answer["total"]
    assert total["days"] == 7 and total["confidence_level"] == 0.95
    assert total["forecast"] == pytest.approx(sum(row[1] for row in forecast[:7]))
    assert (total["lower"], total["upper"]) == pytest.approx((lower, upper))
    assert total["upper"] - total["lower"] < sum(row[3] - row[2] for row in forecast[:7])


def test_kpi_cards_carry_the_value_the_prior_period_and_the_change(api_url, sample_warehouse):
    cards = {card["metric"]: card for card in api(api_url, "comprehensive")["kpis"]}

    ((value, prior),) = snapshot_rows(sample_warehouse, "select net_revenue, net_revenue_prior from marts.kpi_summary")
    assert cards["net_revenue"]["value"] == pytest.approx(value)
    assert cards["net_revenue"]["prior"] == pytest.approx(prior)
    assert cards["net_revenue"]["change"] == pytest.approx((value - prior) / prior)
    assert "net_revenue_prior" not in cards


def test_the_ltv_to_cac_card_names_its_cohort_and_horizon(api_url, sample_warehouse):
    cards = {card["metric"]: card for card in api(api_url, "comprehensive")["kpis"]}

    ((month, horizon),) = snapshot_rows(
        sample_warehouse, "select ltv_cohort_month, ltv_horizon_days from marts.kpi_summary"
    )
    assert cards["ltv_to_cac"]["label"] == f"{horizon}-day LTV/CAC of the {month:%B %Y} cohort"
    assert cards["net_revenue"]["label"] == "Net revenue"
    assert (cards["churn_rate"]["unit"], cards["churn_rate"]["lower_is_better"]) == ("percent", True)


def test_the_headline_answer_names_its_currency_and_the_days_its_cards_cover(api_url, sample_warehouse):
    answer = api(api_url, "comprehensive")

    ((reference_date, window_days),) = snapshot_rows(
        sample_warehouse, "select reference_date, window_days from marts.kpi_summary"
    )
    assert answer["currency"] == sample_warehouse.source.currency == "USD"
    # The last window_days days, the reference date the last of them.
    first_day = reference_date - dt.timedelta(days=window_days - 1)
    assert answer["kpi_period"] == {
        "start_date": first_day.isoformat(),
        "end_date": reference_date.isoformat(),
        "window_days": window_days,
    }


@pytest.mark.parametrize(
    "case",
    [
        (
            "customer-behavior",
            "segments",
            "customers",
            "select customers from marts.customer_segments order by segment_order",
        ),
        ("conversion-funnel", "stages", "entered", "select entered from marts.funnel_stages order by stage_order"),
        (
            "conversion-funnel",
            "hourly",
            "conversion_rate",
            "select conversion_rate from marts.funnel_hourly order by hour_of_day",
        ),
        ("roi-dashboard", "monthly", "net_profit", "select net_profit from marts.roi_monthly order by roi_month"),
        (
            "products",
            "monthly",
            "refund_rate",
            "select refund_rate from marts.product_performance where grain = 'month' order by order_month, product",
        ),
        ("products", "top", "product", "select product from marts.top_products order by revenue_rank"),
        (
            "channels",
            "monthly",
            "cac",
            "select cac::double from marts.channel_performance order by acquisition_month, channel",
        ),
        ("business-insights", "insights", "title", "select title from ml.business_insights order by rank"),
        ("model-performance", "models", "version", "select version from ml.model_performance order by trained_at desc"),
        (
            "predictive",
            "seasonal_patterns",
            "effect",
            "select effect from ml.seasonal_patterns order by pattern, period_order",
        ),
    ],
)
def test_answers_are_the_columns_of_their_tables(api_url, sample_warehouse, case):
    path, key, column, sql = case
    answer = api(api_url, path)

    expected = [
        None if isinstance(value, float) and math.isnan(value) else value
        for (value,) in snapshot_rows(sample_warehouse, sql)
    ]
    assert answer[key][column] == pytest.approx(expected)
    assert (
        answer["snapshot_built_at"]
        == snapshot_rows(sample_warehouse, "select built_at from snapshot")[0][0].isoformat()
    )


def test_the_breakdown_marts_are_published_and_served(api_url, sample_warehouse):
    # After the pipeline's run over the sample store, each new mart is in the snapshot with rows.
    tables = api(api_url, "health-check", token=None)["tables"]
    breakdowns = ["product_performance", "top_products", "channel_performance", "country_performance"]
    breakdowns.append("payment_methods")
    assert all(tables.get(f"marts.{name}", 0) > 0 for name in breakdowns), tables

    products = api(api_url, "products")
    expected_all_time = snapshot_rows(
        sample_warehouse,
        "select product, net_revenue::double from marts.product_performance where grain = 'all_time' "
        "order by net_revenue desc, product",
    )
    assert list(zip(products["all_time"]["product"], products["all_time"]["net_revenue"], strict=True)) == (
        expected_all_time
    )
    assert "grain" not in products["monthly"]
    channels = api(api_url, "channels")["monthly"]
    # The sample store's paid channels have spend every month; organic never has any.
    organic = [cac for channel, cac in zip(channels["channel"], channels["cac"], strict=True) if channel == "organic"]
    assert organic and set(organic) == {None}
    assert len(channels["roas"]) == tables["marts.channel_performance"]


def test_alerts_are_the_feed_with_open_and_resolved_counted(api_url, sample_warehouse):
    answer = api(api_url, "alerts")

    counts = dict(snapshot_rows(sample_warehouse, "select status, count(*) from alerts.alerts group by 1"))
    keys = snapshot_rows(
        sample_warehouse, "select alert_key from alerts.alert_feed order by status = 'open' desc, fired_at desc"
    )
    assert (answer["open"], answer["resolved"]) == (counts.get("open", 0), counts.get("resolved", 0))
    assert answer["feed"]["alert_key"] == [key for (key,) in keys]
    assert {"status", "severity", "fired_at", "resolved_at", "message"} <= answer["feed"].keys()


def test_predictive_sums_the_customer_scores(api_url, sample_warehouse):
    scores = api(api_url, "predictive")["customer_scores"]

    ((customers, clv),) = snapshot_rows(sample_warehouse, "select count(*), sum(predicted_clv) from ml.customer_scores")
    assert scores["customers"] == customers
    assert scores["predicted_clv"] == pytest.approx(clv)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("revenue-forecast?days=0", "greater than or equal to 1"),
        ("revenue-forecast?days=91", "less than or equal to 90"),
        ("revenue-forecast?days=soon", "valid integer"),
        ("export?table=marts.nope&format=csv", "unknown table 'marts.nope'"),
        ("export?table=marts.kpi_summary;%20drop%20table%20marts.kpi_summary&format=csv", "unknown table"),
        ("export?table=marts.kpi_summary&format=xlsx", "'csv', 'parquet' or 'json'"),
    ],
)
def test_bad_parameters_get_422_with_a_message(api_url, path, message):
    answer = get(f"{api_url}/api/analytics/{path}")

    assert answer.status == 422
    assert message in json.dumps(answer.json()["detail"])


@pytest.mark.parametrize("table", ["marts.kpi_summary", "marts.revenue_daily", "ml.customer_scores"])
def test_exports_read_back_equal_to_the_table(api_url, sample_warehouse, table):
    expected = snapshot_frame(sample_warehouse, table)

    csv = get(f"{api_url}/api/analytics/export?table={table}&format=csv")
    parquet = get(f"{api_url}/api/analytics/export?table={table}&format=parquet")
    as_json = api(api_url, f"export?table={table}&format=json")

    assert csv.content_type.startswith("text/csv")
    from_csv = pd.read_csv(io.BytesIO(csv.body))
    assert list(from_csv.columns) == list(expected.columns)
    for column in expected.columns:
        if pd.api.types.is_numeric_dtype(expected[column]):
            assert from_csv[column].to_numpy(dtype=float) == pytest.approx(
                expected[column].to_numpy(dtype=float), nan_ok=True
            ), column
        else:
            assert from_csv[column].astype(str).tolist() == expected[column].astype(str).tolist(), column
    with duckdb.connect(str(sample_warehouse.serving_file), read_only=True) as con:
        expected_arrow = con.sql(f"select * from {table}").to_arrow_table()
    assert pq.read_table(io.BytesIO(parquet.body)).equals(expected_arrow)
    assert as_json["columns"].keys() == set(expected.columns)
    assert len(as_json["columns"][expected.columns[0]]) == len(expected)


def test_answers_are_stored_once_per_endpoint_and_parameters_whatever_the_query_says(sample_warehouse):
    app = api_app(sample_warehouse)
    # Extra parameters the API does not take, and the same parameters in another order or spelling.
    paths = [
        *(f"comprehensive?junk={n}" for n in range(20)),
        *(f"revenue-forecast?days=7&junk={n}" for n in range(20)),
        "revenue-forecast?junk=x&days=07",
        "revenue-forecast?days=8",
        "export?format=json&table=marts.kpi_summary&junk=1",
        "export?table=marts.kpi_summary&format=json",
        "export?table=marts.nope&format=json",
    ]

    with serving(app) as url:
        statuses = [get(f"{url}{API_PREFIX}/{path}").status for path in paths]

    assert statuses == [200] * (len(paths) - 1) + [422]
    assert app.state.reader.answer_keys() == {
        (f"{API_PREFIX}/comprehensive",),
        (f"{API_PREFIX}/revenue-forecast", 7),
        (f"{API_PREFIX}/revenue-forecast", 8),
        (f"{API_PREFIX}/export", "marts.kpi_summary"),
    }


@pytest.mark.parametrize(
    ("path", "redacted"),
    [
        ("/?token=abc", "/?token=[redacted]"),
        ("/x?days=7&access_token=abc&table=t", "/x?days=7&access_token=[redacted]&table=t"),
        ("/x?%74oken=abc&TOKEN=def", "/x?%74oken=[redacted]&TOKEN=[redacted]"),
        ("/x?tokens=abc&days=7", "/x?tokens=abc&days=7"),
        ("/x?token", "/x?token"),
        ("/x", "/x"),
    ],
)
def test_token_values_are_redacted_from_request_lines(path, redacted):
    assert redact_tokens(path) == redacted


def test_no_token_reaches_the_server_log(sample_warehouse):
    log = io.StringIO()
    requests = {
        f"/?token={TOKEN}": 200,
        f"{API_PREFIX}/comprehensive?token={TOKEN}": 200,
        f"{API_PREFIX}/revenue-forecast?days=7&access_token={TOKEN}": 200,
        # A token in the query is no credential: without the header the API answers 401.
        f"{API_PREFIX}/alerts?token={TOKEN}": 401,
    }

    with running_api(sample_warehouse, log=log) as url:
        statuses = {
            path: get(f"{url}{path}", token=TOKEN if status == 200 else None).status
            for path, status in requests.items()
        }

    assert statuses == requests
    written = log.getvalue()
    assert TOKEN not in written
    # The request lines are there, only the tokens' values are not.
    assert '"GET /?token=[redacted] HTTP/1.1" 200' in written
    assert f'"GET {API_PREFIX}/revenue-forecast?days=7&access_token=[redacted] HTTP/1.1" 200' in written
    assert f'"GET {API_PREFIX}/alerts?token=[redacted] HTTP/1.1" 401' in written


def test_the_dashboard_takes_the_token_out_of_the_address_bar(sample_warehouse):
    """The page opened from a ``/?token=…`` link in headless Chromium: the address loses the token
    at once, the page keeps working with the stored token, and the server log has it nowhere."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    log = io.StringIO()
    with running_api(sample_warehouse, log=log) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(f"{url}/?token={TOKEN}&tab=overview")
            address_after_load = page.url
            page.wait_for_selector("#kpis .card")
            stored = page.evaluate("localStorage.getItem('analyticsToken')")
            page.reload()
            page.wait_for_selector("#kpis .card")
            address_after_reload = page.url
        finally:
            browser.close()

    assert address_after_load == f"{url}/?tab=overview", "other parameters of the link stay"
    assert address_after_reload == address_after_load
    assert stored == TOKEN, "the reloaded page drew its charts with the stored token"
    assert TOKEN not in log.getvalue()
    assert f"{API_PREFIX}/comprehensive" in log.getvalue(), "the page's own requests were logged"


def test_the_api_refuses_to_start_without_a_token(sample_warehouse):
    from pipelines.readers.app import create_app  # noqa: PLC0415 (the point of the test is this call)

    with pytest.raises(SettingsError, match="ANALYTICS_API_TOKEN is not set"):
        create_app(sample_warehouse.updated(api={"token": None}))


def test_openapi_docs_list_every_endpoint(api_url):
    schema = get(f"{api_url}/openapi.json", token=None).json()

    paths = {path.removeprefix("/api/analytics/") for path in schema["paths"]}
    assert paths == {path.split("?")[0] for path in PROTECTED} | {"health-check"}
    assert get(f"{api_url}/docs", token=None).status == 200
