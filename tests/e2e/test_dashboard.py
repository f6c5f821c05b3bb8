"""The dashboard in a real headless Chromium (Debian's ``chromium``) against the real API.

Every tab is opened; every chart on it must have been drawn by Plotly with data, and the page
must log no console error. A screenshot of each tab is saved in the test's folder.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from pipelines.warehouse.snapshot import refresh_alerts
from tests.support.api_server import TOKEN, running_api
from tests.support.planted_alerts import plant_alert

CHROMIUM = Path("/usr/bin/chromium")
FASTEST_REFRESH_SECONDS = 5
"""The smallest ANALYTICS_API_REFRESH_SECONDS allowed: how often the page polls health-check."""
TABS = ["overview", "forecast", "customers", "funnel", "roi", "predictive", "alerts"]
DRAWN_CHARTS = """
(tab) => [...document.querySelectorAll(`#tab-${tab} .chart`)].map((chart) => ({
    id: chart.id,
    traces: (chart.data || []).length,
    // Every trace must have points: a forecast band or a fit line drawn empty is a broken chart too.
    emptyTraces: (chart.data || [])
        .filter((trace) => Math.max((trace.x || []).length, (trace.values || []).length, (trace.z || []).length) === 0)
        .map((trace, index) => trace.name || `trace ${index}`),
}))
"""


@pytest.fixture
def page(tmp_path: Path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()


def test_every_tab_draws_every_chart_with_data_and_no_console_error(page: Page, api_url, sample_warehouse, tmp_path):
    errors: list[str] = []
    page.on("console", lambda message: _keep_error(errors, message))
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{api_url}/?token={TOKEN}")
    page.wait_for_selector("#kpis .card")
    drawn = {}
    for tab in TABS:
        page.click(f"#tabs button[data-tab={tab}]")
        page.wait_for_function(
            "(tab) => [...document.querySelectorAll(`#tab-${tab} .chart`)].every((chart) => chart._fullLayout)",
            arg=tab,
        )
        drawn[tab] = page.evaluate(DRAWN_CHARTS, tab)
        page.screenshot(path=str(tmp_path / f"dashboard-{tab}.png"), full_page=True)

    assert errors == []
    charts = [chart for tab in TABS for chart in drawn[tab]]
    assert len(charts) == 12
    assert [chart["id"] for chart in charts if chart["traces"] == 0] == []
    assert {chart["id"]: chart["emptyTraces"] for chart in charts if chart["emptyTraces"]} == {}
    assert page.locator("#insights li").count() >= 1
    assert page.locator("#alerts-open li").all_inner_texts() == ["No open alerts."]
    # The LTV/CAC card says whose figure it is: the cohort and the horizon.
    with duckdb.connect(str(sample_warehouse.serving_file), read_only=True) as con:
        month, horizon = con.execute("select ltv_cohort_month, ltv_horizon_days from marts.kpi_summary").fetchone()
    assert f"{horizon}-day LTV/CAC of the {month:%B %Y} cohort" in page.locator("#kpis .card .label").all_inner_texts()
    assert sorted(path.name for path in tmp_path.glob("dashboard-*.png")) == sorted(f"dashboard-{t}.png" for t in TABS)


def test_a_wrong_token_asks_for_the_token(page: Page, api_url):
    page.goto(f"{api_url}/?token=wrong")

    page.wait_for_selector("#token-form:not([hidden])")
    assert page.locator("#token-error").inner_text() == "That token was not accepted."
    page.fill("#token", TOKEN)
    page.click("#token-form button")
    page.wait_for_selector("#kpis .card")


def test_the_page_reloads_by_itself_when_alerts_are_republished(page: Page, own_warehouse):
    settings = own_warehouse.updated(api={"refresh_seconds": FASTEST_REFRESH_SECONDS})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    with running_api(settings) as api_url:
        page.goto(f"{api_url}/?token={TOKEN}")
        page.wait_for_selector("#kpis .card")
        page.click("#tabs button[data-tab=alerts]")
        header = page.locator("#snapshot").inner_text()

        with duckdb.connect(str(settings.warehouse_file)) as build:
            fired = dt.datetime(2025, 3, 20, 6, tzinfo=dt.UTC)
            plant_alert(build, "revenue_drop:2025-03-19", fired, resolved_at=fired + dt.timedelta(days=1))
            plant_alert(build, "revenue_drop:2025-03-29", fired + dt.timedelta(days=9), message="<b>not bold</b>")
            refresh_alerts(build, settings.serving_file)
        # The page polls every FASTEST_REFRESH_SECONDS; allow two polls and the reload.
        page.wait_for_selector("#alerts-open li.open", timeout=(2 * FASTEST_REFRESH_SECONDS + 5) * 1000)

        assert page.locator("#alerts-open li").count() == 1
        assert "<b>not bold</b>" in page.locator("#alerts-open li").inner_text(), "alert text is shown, not parsed"
        assert page.locator("#alerts-resolved li.resolved").count() == 1
        assert page.locator("#open-alerts").inner_text() == "(1)"
        reloaded_header = page.locator("#snapshot").inner_text()
        assert reloaded_header != header
        assert "alerts updated" in reloaded_header
    assert errors == []


def _keep_error(errors: list[str], message: ConsoleMessage) -> None:
    # A refused token is an expected 401, which Chromium logs as a failed resource.
    if message.type == "error" and "401" not in message.text:
        errors.append(message.text)
