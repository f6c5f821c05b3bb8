"""The dashboard in a real headless Chromium (Debian's ``chromium``) against the real API.

Every tab is opened at a desktop and a phone width; every chart on it must have been drawn by
Plotly with data, no label of a chart may stick out of its box, the page must not scroll
sideways and must log no console error. A screenshot of each tab at each width is saved in the
test's folder. The date-range cards are checked against sums of the API's daily rows worked out
here, and their colours against whether the change is good news.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from pipelines.readers.app import API_PREFIX
from pipelines.warehouse.snapshot import refresh_alerts
from tests.support.api_server import TOKEN, get, running_api
from tests.support.planted_alerts import plant_alert

CHROMIUM = Path("/usr/bin/chromium")
FASTEST_REFRESH_SECONDS = 5
"""The smallest ANALYTICS_API_REFRESH_SECONDS allowed: how often the page polls health-check."""
TABS = ["overview", "forecast", "customers", "funnel", "roi", "products", "channels", "predictive", "alerts"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
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
CLIPPED_LABELS = """
(tab) => [...document.querySelectorAll(`#tab-${tab} .chart`)].flatMap((chart) => {
    const box = chart.getBoundingClientRect();
    // Tick labels, axis titles, the chart's title, legend entries and the texts beside bars.
    const labels = chart.querySelectorAll(
        ".xtick text, .ytick text, .y2tick text, .g-xtitle text, .g-ytitle text, .g-y2title text, " +
        ".gtitle, .legendtext, .bartext");
    return [...labels].map((label) => ({ text: label.textContent, rect: label.getBoundingClientRect() }))
        .filter(({ rect }) => rect.width > 0 && rect.height > 0)
        .filter(({ rect }) => rect.left < box.left - 1 || rect.right > box.right + 1 ||
            rect.top < box.top - 1 || rect.bottom > box.bottom + 1)
        .map(({ text }) => `${chart.id}: ${text}`);
})
"""
ZERO_LINES = """
() => {
    const layout = document.getElementById("chart-roi")._fullLayout;
    return [layout.yaxis, layout.yaxis2].map((axis) => axis._offset + axis.l2p(0));
}
"""
CHANGE_CLASS = "(card) => card.querySelector('.change').className"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module's tests; each opens its own page."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Browser, viewport: str = "desktop") -> Page:
    # en-US: the amounts the tests expect are written as en-US writes them ($1,234.50).
    return browser.new_context(viewport=VIEWPORTS[viewport], locale="en-US").new_page()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = new_page(browser)
    yield page
    page.context.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_every_tab_draws_every_chart_with_data_unclipped_and_no_console_error(
    browser, api_url, sample_warehouse, tmp_path, viewport
):
    page = new_page(browser, viewport)
    errors: list[str] = []
    page.on("console", lambda message: _keep_error(errors, message))
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{api_url}/?token={TOKEN}")
    page.wait_for_selector("#kpis .card")
    drawn, clipped, overflow = {}, {}, {}
    for tab in TABS:
        page.click(f"#tabs button[data-tab={tab}]")
        page.wait_for_function(
            "(tab) => [...document.querySelectorAll(`#tab-${tab} .chart`)].every((chart) => chart._fullLayout)",
            arg=tab,
        )
        drawn[tab] = page.evaluate(DRAWN_CHARTS, tab)
        clipped[tab] = page.evaluate(CLIPPED_LABELS, tab)
        overflow[tab] = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if tab == "roi":
            profit_zero, roi_zero = page.evaluate(ZERO_LINES)
        page.screenshot(path=str(tmp_path / f"dashboard-{viewport}-{tab}.png"), full_page=True)
    # The LTV/CAC card says whose figure it is: the cohort and the horizon.
    with duckdb.connect(str(sample_warehouse.serving_file), read_only=True) as con:
        month, horizon = con.execute("select ltv_cohort_month, ltv_horizon_days from marts.kpi_summary").fetchone()
    assert (
        f"{horizon}-day LTV/CAC of the {month:%B %Y} cohort" in page.locator("#kpis .card .label").all_text_contents()
    )
    page.context.close()

    assert errors == []
    charts = [chart for tab in TABS for chart in drawn[tab]]
    assert len(charts) == 16
    assert [chart["id"] for chart in charts if chart["traces"] == 0] == []
    assert {chart["id"]: chart["emptyTraces"] for chart in charts if chart["emptyTraces"]} == {}
    assert {tab: labels for tab, labels in clipped.items() if labels} == {}
    assert {tab: pixels for tab, pixels in overflow.items() if pixels > 0} == {}, "the page scrolls sideways"
    assert abs(profit_zero - roi_zero) < 1, "the zero of profit and of ROI are on one line"
    shots = sorted(path.name for path in tmp_path.glob("dashboard-*.png"))
    assert shots == sorted(f"dashboard-{viewport}-{tab}.png" for tab in TABS)
    assert all((tmp_path / shot).stat().st_size > 0 for shot in shots)


def test_the_range_cards_sum_the_daily_rows_and_colour_a_change_by_whether_it_is_good(page: Page, api_url):
    answer = get(f"{api_url}{API_PREFIX}/comprehensive").json()
    daily = answer["revenue_daily"]
    days = [dt.date.fromisoformat(day) for day in daily["date"]]
    # A week whose refunds fell against the week before (good news: green) and whose net
    # revenue fell too (bad news: red), found with this test's own sums.
    start = next(
        start
        for start in days[7:-6]
        if _week(daily, days, start, "refunds") < _week(daily, days, start - dt.timedelta(7), "refunds")
        and _week(daily, days, start, "net_revenue") < _week(daily, days, start - dt.timedelta(7), "net_revenue")
    )
    end = start + dt.timedelta(6)
    revenue = _week(daily, days, start, "net_revenue")
    revenue_before = _week(daily, days, start - dt.timedelta(7), "net_revenue")
    # Average order value: gross revenue over orders, of the whole week (not an average of days).
    order_value = _week(daily, days, start, "gross_revenue") / _week(daily, days, start, "orders")

    page.goto(f"{api_url}/?token={TOKEN}")
    page.wait_for_selector("#range-kpis .card")
    page.fill("#range-from", start.isoformat())
    page.fill("#range-to", end.isoformat())

    net_revenue = page.locator("#range-kpis [data-metric=net_revenue]")
    assert net_revenue.locator(".value").inner_text() == f"${revenue:,.2f}"
    change = (revenue - revenue_before) / revenue_before
    assert net_revenue.locator(".change").inner_text() == f"▼ {abs(change) * 100:.1f} % vs ${revenue_before:,.2f}"
    assert "bad" in net_revenue.evaluate(CHANGE_CLASS).split()
    refunds = page.locator("#range-kpis [data-metric=refunds]")
    assert "good" in refunds.evaluate(CHANGE_CLASS).split(), "falling refunds are good news"
    assert page.locator("#range-kpis [data-metric=average_order_value] .value").inner_text() == f"${order_value:,.2f}"
    assert page.locator("#range-preset").input_value() == "custom"
    previous = (start - dt.timedelta(7), start - dt.timedelta(1))
    assert f"{_us_day(previous[0])} – {_us_day(previous[1])}" in page.locator("#range-period").inner_text()

    # Unticked, the cards compare with nothing.
    page.uncheck("#compare")
    assert net_revenue.locator(".change").inner_text() == "no comparison"

    # The headline KPI cards: churn and costs that fell are green, that rose red (no prior: grey).
    cards = {card["metric"]: card for card in answer["kpis"]}
    shown = {}
    for metric in ("churn_rate", "operating_costs", "marketing_spend", "cac"):
        value, prior = cards[metric]["value"], cards[metric]["prior"]
        expected = "flat" if not prior or value is None else "good" if value < prior else "bad"
        classes = page.locator(f"#kpis [data-metric={metric}]").evaluate(CHANGE_CLASS).split()
        shown[metric] = (expected, expected in classes)
    assert {metric: ok for metric, (expected, ok) in shown.items()} == dict.fromkeys(shown, True)
    assert {"good", "bad"} <= {expected for expected, ok in shown.values()}, "the sample store has both cases"
    assert page.locator("#kpis [data-metric=churn_rate] .label").inner_text() == "Churned customers"


def test_funnel_products_channels_and_model_figures_are_shown_readably(page: Page, api_url):
    stages = get(f"{api_url}{API_PREFIX}/conversion-funnel").json()["stages"]
    products = get(f"{api_url}{API_PREFIX}/products").json()["all_time"]
    channels = get(f"{api_url}{API_PREFIX}/channels").json()["monthly"]
    page.goto(f"{api_url}/?token={TOKEN}")
    page.wait_for_selector("#kpis .card")

    page.click("#tabs button[data-tab=funnel]")
    page.wait_for_function("document.getElementById('chart-funnel')._fullLayout")
    funnel = page.evaluate("document.getElementById('chart-funnel').data[0]")
    assert funnel["y"][0] == "Visited the store"
    entered = stages["entered"]
    # Each step after the first: its sessions and their share of the step before.
    assert funnel["text"][1] == f"{entered[1]:,} · {entered[1] / entered[0] * 100:.1f} %"

    page.click("#tabs button[data-tab=products]")
    # The best-selling product of all time, with its refund rate as a percentage.
    first = page.locator("#product-table tr").nth(1).locator("td").all_inner_texts()
    assert first[0] == products["product"][0].replace("_", " ").capitalize()
    assert first[2] == f"${products['net_revenue'][0]:,.2f}"
    assert first[4] == f"{products['refund_rate'][0] * 100:.1f} %"
    tables = page.locator("#product-table").inner_text()

    page.click("#tabs button[data-tab=channels]")
    # One row a channel, in the order they first appear in the API's months.
    rows = [row.locator("td").all_inner_texts() for row in page.locator("#channel-table tr").all()]
    shown = [cells[0] for cells in rows if cells]
    assert shown == [name.replace("_", " ").capitalize() for name in dict.fromkeys(channels["channel"])]
    tables += page.locator("#channel-table").inner_text()

    page.click("#tabs button[data-tab=predictive]")
    tables += page.locator("#model").inner_text() + page.locator("#top-clv").inner_text()
    assert "Mean absolute percentage error" in tables
    assert re.findall(r"\.\d{5,}", tables) == [], "no raw floats"
    assert page.locator("#top-clv td.number").first.inner_text().startswith("$")


def test_a_store_without_costs_gets_a_message_not_a_cost_chart(page: Page, own_warehouse):
    # The snapshot of a store that loaded no operating costs or marketing spend: cost_breakdown
    # keeps its rows (every category, amount 0) and its shares are null, a share of nothing.
    with duckdb.connect(str(own_warehouse.serving_file)) as snapshot:
        snapshot.execute("update marts.cost_breakdown set amount = 0, share = null")
    with running_api(own_warehouse) as api_url:
        page.goto(f"{api_url}/?token={TOKEN}")
        page.wait_for_selector("#kpis .card")
        page.click("#tabs button[data-tab=roi]")
        page.wait_for_selector("#chart-costs.no-data")

        assert "no cost data" in page.locator("#chart-costs").inner_text()
        assert page.evaluate("document.getElementById('chart-costs').data") is None, "no chart of zeros"
        assert page.evaluate("document.getElementById('chart-roi').data.length") == 3


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


def _week(daily: dict[str, list], days: list[dt.date], start: dt.date, column: str) -> float:
    """The sum of ``column`` over the seven days from ``start``, row by row."""
    return sum(value for day, value in zip(days, daily[column], strict=True) if start <= day < start + dt.timedelta(7))


def _us_day(day: dt.date) -> str:
    """A day as the page writes it in en-US (``dateStyle: "medium"``): Mar 5, 2025."""
    return f"{day:%b} {day.day}, {day.year}"


def _keep_error(errors: list[str], message: ConsoleMessage) -> None:
    # A refused token is an expected 401, which Chromium logs as a failed resource.
    if message.type == "error" and "401" not in message.text:
        errors.append(message.text)
