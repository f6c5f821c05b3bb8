"""The metrics marts on a hand-made store whose every expected number is worked out below, and
customer_rfm against an independent pandas computation on the sample store.

The hand-made store runs from 1 January to 31 March 2025. Its last order is on 31 March, so
that day is the reference date (recency and the last-30-day KPIs are as of it). Money is gross =
completed + refunded orders, net = gross − refunded; a refunded order still counts as a purchase.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey, AssetSelection

from analytics_ml import insights
from pipelines.defs.resources import MLAssetSettings
from pipelines.sample_store.usd_amounts import transactions_in_usd
from pipelines.settings import Settings, SourceSettings, WarehouseSettings
from tests.support.csv_store import transaction, write_table
from tests.support.pipeline_runs import DBT_MODELS, INGEST, isolated_settings, query, run_pipeline

FIRST_DAY, LAST_DAY = dt.date(2025, 1, 1), dt.date(2025, 3, 31)

# ANNA, BEN and CARL came through social ads (ANNA's export spells it "Social"), the others organically.
CUSTOMERS = [
    {"customer_id": name, "signup_at": f"{day} 08:00:00", "acquisition_channel": channel, "country": "US"}
    for name, day, channel in [
        ("ANNA", "2025-01-05", "Social"),
        ("BEN", "2025-01-02", "social"),
        ("CARL", "2025-03-20", "social"),
        ("DORA", "2025-01-15", "organic"),
        ("EMIL", "2025-01-25", "organic"),
        ("FRED", "2025-03-01", "organic"),
    ]
]

# Paid orders per customer (FRED never buys):
#   ANNA 5: 5 Jan, 1 Feb, 25 Feb, 15 Mar (refunded), 31 Mar, 60 each: gross 300, net 240.
#   BEN  4: 2, 8, 14, 20 Jan, 100 each: net 400, all of product batch_10 (every other order is a
#        single_vector).
#   CARL 1: 25 Mar, 20 (his failed attempt on 20 Mar is no purchase).
#   DORA 2: 15 Jan, 14 Feb, 30 each: net 60.
#   EMIL 3: 25 Jan, 18 Feb, 11 Mar, 50 each: net 150.
TRANSACTIONS = [
    transaction("A1", "ANNA", "2025-01-05 10:00:00", amount="60.00"),
    transaction("A2", "ANNA", "2025-02-01 10:00:00", amount="60.00"),
    transaction("A3", "ANNA", "2025-02-25 10:00:00", amount="60.00"),
    transaction("A4", "ANNA", "2025-03-15 10:00:00", status="refunded", amount="60.00"),
    transaction("A5", "ANNA", "2025-03-31 10:00:00", amount="60.00"),
    *(
        {**transaction(f"B{day}", "BEN", f"2025-01-{day:02d} 11:00:00", amount="100.00"), "product": "batch_10"}
        for day in (2, 8, 14, 20)
    ),
    transaction("C1", "CARL", "2025-03-20 12:00:00", status="failed", amount="20.00"),
    transaction("C2", "CARL", "2025-03-25 12:00:00", amount="20.00"),
    transaction("D1", "DORA", "2025-01-15 13:00:00", amount="30.00"),
    transaction("D2", "DORA", "2025-02-14 13:00:00", amount="30.00"),
    transaction("E1", "EMIL", "2025-01-25 14:00:00", amount="50.00"),
    transaction("E2", "EMIL", "2025-02-18 14:00:00", amount="50.00"),
    transaction("E3", "EMIL", "2025-03-11 14:00:00", amount="50.00"),
]

# Funnel sessions (minutes after the visit in brackets):
#   S1 1 Mar: visit 10:00, signup (4), upload (10), checkout (20): stops at checkout.
#   S2 2 Mar: visit 09:00, signup (2), upload (30): stops at upload.
#   S3 3 Mar: visit only.
#   S4 31 Mar, returning ANNA: visit 08:00, upload (5), checkout (7), payment initiated (8) and
#      completed (9), without signing up again.
#   S5 25 Mar: visit 14:00, signup (6), upload (16), checkout (30), payment initiated (31): abandoned.
#   S6 25 Mar, CARL: visit 15:00, signup (10), upload (20), checkout (25), payment initiated (27)
#      and completed (30).
SESSIONS = {
    "S1": ("2025-03-01 10:00", None, [("visit", 0), ("signup", 4), ("upload", 10), ("checkout", 20)]),
    "S2": ("2025-03-02 09:00", None, [("visit", 0), ("signup", 2), ("upload", 30)]),
    "S3": ("2025-03-03 12:00", None, [("visit", 0)]),
    "S4": (
        "2025-03-31 08:00",
        "ANNA",
        [("visit", 0), ("upload", 5), ("checkout", 7), ("payment_initiated", 8), ("payment_completed", 9)],
    ),
    "S5": (
        "2025-03-25 14:00",
        None,
        [("visit", 0), ("signup", 6), ("upload", 16), ("checkout", 30), ("payment_initiated", 31)],
    ),
    "S6": (
        "2025-03-25 15:00",
        "CARL",
        [
            ("visit", 0),
            ("signup", 10),
            ("upload", 20),
            ("checkout", 25),
            ("payment_initiated", 27),
            ("payment_completed", 30),
        ],
    ),
}
FUNNEL_EVENTS = [
    {
        "event_id": f"{session}-{stage}",
        "session_id": session,
        "customer_id": customer or "",
        "stage": stage,
        "occurred_at": (dt.datetime.fromisoformat(start) + dt.timedelta(minutes=minutes)).isoformat(sep=" "),
    }
    for session, (start, customer, steps) in SESSIONS.items()
    for stage, minutes in steps
]

# Costs and marketing, each month on the 10th:
#   Jan: infrastructure 200, payment fees 20, salaries 300 (operating 520); marketing 120.
#   Feb: infrastructure 50, payment fees 10, salaries 50 (110); marketing 40.
#   Mar: infrastructure 30, payment fees 5, support 15 (50); marketing 20.
MONTHLY_COSTS = {
    "2025-01-10": ({"infrastructure": 200, "payment_fees": 20, "salaries": 300}, 120),
    "2025-02-10": ({"infrastructure": 50, "payment_fees": 10, "salaries": 50}, 40),
    "2025-03-10": ({"infrastructure": 30, "payment_fees": 5, "support": 15}, 20),
}
COSTS = [
    {"cost_date": day, "category": category, "amount": f"{amount:.2f}", "currency": "USD"}
    for day, (categories, _) in MONTHLY_COSTS.items()
    for category, amount in categories.items()
]
MARKETING = [
    {"spend_date": day, "channel": "social", "amount": f"{spend:.2f}", "currency": "USD"}
    for day, (_, spend) in MONTHLY_COSTS.items()
]


@pytest.fixture(scope="module")
def hand_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Ingestion and the dbt models over the hand-made store, built once for this module."""
    store = tmp_path_factory.mktemp("hand_store")
    for table, rows in [
        ("customers", CUSTOMERS),
        ("transactions", TRANSACTIONS),
        ("funnel_events", FUNNEL_EVENTS),
        ("costs", COSTS),
        ("marketing_spend", MARKETING),
    ]:
        write_table(store, table, rows)
    settings = isolated_settings(tmp_path_factory.mktemp("hand_warehouse"), store)
    run_pipeline(settings, FIRST_DAY, LAST_DAY, selection=INGEST | DBT_MODELS)
    return settings


def rows_by_key(settings: Settings, sql: str) -> dict[object, tuple]:
    """The rows of ``sql`` keyed by their first column."""
    return {key: tuple(rest) for key, *rest in query(settings, sql)}


def test_customer_rfm_scores_and_segments_named_customers(hand_warehouse):
    rfm = rows_by_key(
        hand_warehouse,
        "select customer_id, recency_days, frequency, monetary, r_score, f_score, m_score, segment "
        "from marts.customer_rfm",
    )
    # Recency = days from the last paid order to 31 Mar: ANNA 0; CARL 25 Mar: 6; EMIL 11 Mar: 20;
    # DORA 14 Feb: 14 + 31 = 45; BEN 20 Jan: 11 + 28 + 31 = 70.
    # Five customers, so each quintile holds one: R ranks recency from the longest ago (BEN 1,
    # DORA 2, EMIL 3, CARL 4, ANNA 5), F frequency from the fewest (CARL 1, DORA 2, EMIL 3, BEN 4,
    # ANNA 5), M net spend from the lowest (CARL 20: 1, DORA 60: 2, EMIL 150: 3, ANNA 240: 4,
    # BEN 400: 5). FM = (F + M) / 2: ANNA 4.5, BEN 4.5, CARL 1, DORA 2, EMIL 3.
    # Segments: ANNA R 5, FM 4.5: Champions; BEN R 1, FM 4.5: Cannot Lose Them; CARL R 4, FM 1:
    # New Customers; DORA R 2, FM 2: Need Attention; EMIL R 3, FM 3: Loyal Customers.
    assert rfm == {
        "ANNA": (0, 5, 240.0, 5, 5, 4, "Champions"),
        "BEN": (70, 4, 400.0, 1, 4, 5, "Cannot Lose Them"),
        "CARL": (6, 1, 20.0, 4, 1, 1, "New Customers"),
        "DORA": (45, 2, 60.0, 2, 2, 2, "Need Attention"),
        "EMIL": (20, 3, 150.0, 3, 3, 3, "Loyal Customers"),
    }, "FRED never paid, so he has no row"


def test_customer_rfm_lifetime_and_churn_risk(hand_warehouse):
    rfm = rows_by_key(
        hand_warehouse,
        "select customer_id, average_order_value, average_days_between_orders, churn_risk from marts.customer_rfm",
    )
    # AOV = gross / orders: ANNA 300 / 5 = 60. Days between orders = (last − first) / (purchase
    # days − 1), every order here on a day of its own:
    # ANNA (31 Mar − 5 Jan = 85) / 4 = 21.25, recency 0: low. BEN 18 / 3 = 6, recency 70 > 3 × 6:
    # high. DORA 30 / 1, recency 45 ≤ 1.5 × 30: low. EMIL 45 / 2 = 22.5, 20 ≤ 33.75: low. CARL
    # bought once, so is no repeat customer: judged against the default 30 days, 6 ≤ 45: low.
    assert rfm == {
        "ANNA": (60.0, 21.25, "low"),
        "BEN": (100.0, 6.0, "high"),
        "CARL": (20.0, None, "low"),
        "DORA": (30.0, 30.0, "low"),
        "EMIL": (50.0, 22.5, "low"),
    }


def test_customer_segments_and_metrics(hand_warehouse):
    segments = rows_by_key(
        hand_warehouse, "select segment, customers, customer_share, revenue, revenue_share from marts.customer_segments"
    )
    # One customer in each of five segments, 1 / 5 of the customers each; revenue = net spend,
    # 240 + 400 + 20 + 60 + 150 = 870 in all. The six other segments are there with zeros.
    assert len(segments) == 11
    assert segments["Champions"] == pytest.approx((1, 0.2, 240.0, 240 / 870))
    assert segments["Cannot Lose Them"] == pytest.approx((1, 0.2, 400.0, 400 / 870))
    assert segments["Lost"] == (0, 0.0, 0.0, 0.0)
    # Repeat buyers: ANNA, BEN, DORA, EMIL = 4 / 5. Nobody's last order is over 90 days old.
    assert query(hand_warehouse, "select customers, repeat_purchase_rate, churn_rate from marts.customer_metrics") == [
        (5, 0.8, 0.0)
    ]


def test_funnel_stages_rates_and_median_times(hand_warehouse):
    stages = query(
        hand_warehouse,
        "select stage, entered, converted, conversion_rate, median_minutes_to_next_stage "
        "from marts.funnel_stages order by stage_order",
    )
    # Entered (a stage or any later one): visit all 6; signup S1, S2, S5, S6 and S4, which skipped
    # it: 5; upload the same 5; checkout S1, S4, S5, S6: 4; payment initiated S4, S5, S6: 3;
    # completed S4, S6: 2. Conversion = next stage's entered / entered.
    # Median minutes to the next stage, over sessions with events at both stages:
    #   visit → signup: S1 4, S2 2, S5 6, S6 10 → (4 + 6) / 2 = 5 (S4 has no signup event);
    #   signup → upload: S1 6, S2 28, S5 10, S6 10 → (10 + 10) / 2 = 10;
    #   upload → checkout: S1 10, S4 2, S5 14, S6 5 → (5 + 10) / 2 = 7.5;
    #   checkout → initiated: S4 1, S5 1, S6 2 → 1; initiated → completed: S4 1, S6 3 → 2.
    assert stages == [
        ("visit", 6, 5, pytest.approx(5 / 6), 5.0),
        ("signup", 5, 5, 1.0, 10.0),
        ("upload", 5, 4, 0.8, 7.5),
        ("checkout", 4, 3, 0.75, 1.0),
        ("payment_initiated", 3, 2, pytest.approx(2 / 3), 2.0),
        ("payment_completed", 2, None, None, None),
    ]
    # Payment initiated at 08:08 (S4, completed), 14:31 (S5, abandoned), 15:27 (S6, completed).
    hourly = query(
        hand_warehouse, "select hour_of_day, initiated, completed from marts.funnel_hourly where initiated > 0"
    )
    assert sorted(hourly) == [(8, 1, 1), (14, 1, 0), (15, 1, 1)]


def test_roi_of_march_cac_and_break_even_month(hand_warehouse):
    roi = rows_by_key(
        hand_warehouse,
        "select roi_month, net_revenue, operating_costs, marketing_spend, net_profit, roi, new_customers, cac, "
        "cumulative_net_profit, break_even_month, ltv_horizon_days, ltv_to_cac from marts.roi_monthly",
    )
    march = dt.date(2025, 3, 1)
    # Net revenue: Jan 60 + 400 + 50 + 30 = 540; Feb 120 + 50 + 30 = 200; Mar 60 + 60 + 50 + 20
    # − ANNA's refund 60 = 130. Net profit = net − operating − marketing: Jan 540 − 520 − 120 =
    # −100; Feb 200 − 110 − 40 = 50 (cumulative −50); Mar 130 − 50 − 20 = 60 (cumulative 10, the
    # first above 0: break-even in March). March ROI 60 / (50 + 20) = 6 / 7; one new customer
    # (CARL): CAC 20 / 1 = 20.
    assert roi[march][:9] == pytest.approx((130.0, 50.0, 20.0, 60.0, 6 / 7, 1, 20.0, 10.0, march))
    # January: four new customers (ANNA, BEN, DORA, EMIL): CAC 120 / 4 = 30; cumulative −100, and
    # break-even is March on every row. LTV/CAC is the cohort's at 90 days (cohort_ltv): no cohort
    # is 90 days old by 31 Mar (January's customers of the 31st would be on 30 Apr), so none yet.
    assert roi[dt.date(2025, 1, 1)][5:] == (4, 30.0, -100.0, march, 90, None)
    assert {row[-1] for row in roi.values()} == {None}


def test_cohort_retention_of_january(hand_warehouse):
    january = query(
        hand_warehouse,
        "select months_since_first_order, cohort_size, active_customers, retention_rate, "
        "cumulative_revenue_per_customer from marts.cohort_retention "
        "where cohort_month = date '2025-01-01' order by months_since_first_order",
    )
    # January cohort: ANNA, BEN, DORA, EMIL (CARL's first order is in March). February: ANNA,
    # DORA, EMIL bought (3 / 4); March: ANNA (a refunded order still counts) and EMIL (2 / 4).
    # Net revenue: Jan 60 + 400 + 30 + 50 = 540, Feb 120 + 30 + 50 = 200, Mar 0 + 60 + 50 = 110;
    # per customer cumulatively 540 / 4 = 135, 740 / 4 = 185, 850 / 4 = 212.5.
    assert january == [(0, 4, 4, 1.0, 135.0), (1, 4, 3, 0.75, 185.0), (2, 4, 2, 0.5, 212.5)]


def test_kpi_summary_last_30_days(hand_warehouse):
    kpis = query(
        hand_warehouse,
        "select reference_date, net_revenue, payment_success_rate, profit_per_customer, cost_per_acquisition, "
        "conversion_rate, average_conversion_minutes from marts.kpi_summary",
    )
    # Last 30 days: 2 .. 31 Mar. Paid orders ANNA 60 (refunded) and 60, EMIL 50, CARL 20: net 130
    # from 3 paying customers; CARL's failed attempt: success 4 / 5. Costs 50 and marketing 20
    # (10 Mar): net profit 60, 60 / 3 = 20 a customer; one new customer (CARL): (20 + 50) / 1 = 70
    # a new customer. Sessions started: S2 .. S6 (S1 is 1 Mar); S4 and S6 completed payment: 2 / 5,
    # after 9 and 30 minutes: 19.5 on average.
    assert kpis == [(LAST_DAY, 130.0, 0.8, 20.0, 70.0, 0.4, 19.5)]


def test_cohort_ltv_cac_and_payback_of_january(hand_warehouse):
    ltv = rows_by_key(
        hand_warehouse,
        "select horizon_days, cohort_size, ltv_revenue, ltv_contribution, cac, ltv_to_cac, payback_months "
        "from marts.cohort_ltv where cohort_month = date '2025-01-01'",
    )
    # January cohort: BEN (first order 2 Jan), ANNA (5 Jan), DORA (15 Jan), EMIL (25 Jan).
    # Within 30 days of each first order (day 0 .. 29): BEN's four 100s (2 .. 20 Jan); ANNA 60 on
    # 5 Jan and 60 on 1 Feb (day 27); DORA 30 on 15 Jan (her 14 Feb order is day 30); EMIL 50 on
    # 25 Jan and 50 on 18 Feb (day 24). Revenue 400 + 120 + 30 + 100 = 650, 650 / 4 = 162.5.
    # Contribution = net × the month's gross margin: January net 540, costs of revenue 200
    # infrastructure + 20 payment fees, margin 320 / 540; February net 200, costs of revenue 60,
    # margin 0.7. January's orders above are 540 of it (× 320 / 540 = 320), February's 110 (× 0.7
    # = 77): (320 + 77) / 4 = 99.25 a customer. CAC: 120 of January marketing / 4 = 30, so
    # LTV/CAC 99.25 / 30. Payback: the January contribution alone, 320 / 4 = 80, covers the 30.
    # At 90 days the cohort is not old enough: its last day, 31 Jan, + 89 is 30 Apr, after 31 Mar.
    assert ltv == {30: pytest.approx((4, 162.5, 99.25, 30.0, 99.25 / 30, 0), rel=1e-12)}


def test_product_performance_monthly_revenue_and_refund_rate(hand_warehouse):
    months = rows_by_key(
        hand_warehouse,
        "select order_month, orders, refunded_orders, net_revenue, refund_rate, revenue_share, net_revenue_growth "
        "from marts.product_performance where product = 'single_vector' and grain = 'month'",
    )
    # single_vector, January: ANNA 60, DORA 30, EMIL 50 = 140 of the month's 540 (BEN's 400 is
    # batch_10). February: ANNA 60 + 60, DORA 30, EMIL 50 = 200, the month's only sales.
    # March: ANNA 60 refunded and 60, CARL 20, EMIL 50: 4 orders, 1 refunded (refund rate 1 / 4),
    # net 190 − 60 = 130, all of March's revenue; 130 / 200 − 1 = −0.35 month on month.
    assert months == {
        dt.date(2025, 1, 1): pytest.approx((3, 0, 140.0, 0.0, 140 / 540, None)),
        dt.date(2025, 2, 1): pytest.approx((4, 0, 200.0, 0.0, 1.0, 200 / 140 - 1)),
        dt.date(2025, 3, 1): pytest.approx((4, 1, 130.0, 0.25, 1.0, -0.35)),
    }
    # batch_10 sold only in January: February is a fall of 100 %, March has no rate (nothing to fall from).
    assert query(
        hand_warehouse,
        "select order_month, net_revenue, net_revenue_growth from marts.product_performance "
        "where product = 'batch_10' order by grain desc, order_month",
    ) == [
        (dt.date(2025, 1, 1), 400, None),
        (dt.date(2025, 2, 1), 0, -1.0),
        (dt.date(2025, 3, 1), 0, None),
        (None, 400, None),
    ]


def test_channel_cac_ltv_payback_and_roas_of_social(hand_warehouse):
    channels = rows_by_key(
        hand_warehouse,
        "select acquisition_month, new_customers, marketing_spend, cac, first_order_revenue, roas, "
        "ltv_revenue_90d, payback_months from marts.channel_performance where channel = 'social'",
    )
    # social (ANNA's "Social" included): January ANNA and BEN, spend 120: CAC 60. Their first
    # purchase days: ANNA 60 (5 Jan), BEN 100 (2 Jan): 160, ROAS 160 / 120. Payback in January
    # already: (60 + 400) × January's gross margin 320 / 540 (see the cohort LTV test) / 2 = 136.30
    # ≥ 60. No 90-day LTV: January is not 90 days old by 31 Mar (31 Jan + 89 = 30 Apr).
    # February: spend 40, nobody new: no CAC, and the spend brought nothing (ROAS 0).
    # March: CARL (his failed attempt of 20 Mar is no order), spend 20: CAC 20; his 20: ROAS 1.
    assert channels == {
        dt.date(2025, 1, 1): pytest.approx((2, 120.0, 60.0, 160.0, 160 / 120, None, 0)),
        dt.date(2025, 2, 1): (0, 40, None, 0, 0.0, None, None),
        dt.date(2025, 3, 1): (1, 20, 20, 20, 1.0, None, None),
    }
    # DORA and EMIL came for free: no spend, so no CAC or ROAS (not 0).
    assert query(
        hand_warehouse,
        "select acquisition_month, new_customers, cac, roas from marts.channel_performance where channel = 'organic'",
    ) == [(dt.date(2025, 1, 1), 2, None, None)]


def test_the_biggest_product_mover_is_a_kpi_and_an_insight(hand_warehouse):
    columns = ["reference_date", "mover_month", "product_mover", "product_mover_growth"]
    columns += ["channel_cac_mover", "channel_cac_mover_change"]
    (row,) = query(hand_warehouse, f"select {', '.join(columns)} from marts.kpi_summary")
    kpis = dict(zip(columns, row, strict=True))
    # As of 31 Mar, March is complete. Of the products that sold in February, single_vector moved
    # 200 → 130 (batch_10 sold nothing either month). No channel had a CAC in both February and March.
    assert kpis == {
        "reference_date": LAST_DAY,
        "mover_month": dt.date(2025, 3, 1),
        "product_mover": "single_vector",
        "product_mover_growth": pytest.approx(-0.35),
        "channel_cac_mover": None,
        "channel_cac_mover_change": None,
    }
    thresholds = MLAssetSettings.from_settings(hand_warehouse).insight_thresholds()
    insight = insights.product_mover_insight(kpis, thresholds)
    assert (insight.severity, insight.title) == ("warning", "Product single_vector fell 35.0% month on month")
    assert insights.channel_cac_mover_insight(kpis, thresholds) is None


def test_payment_attempts_and_success_rate_by_hour(hand_warehouse):
    # Every order is paid by card. CARL's failed attempt at 12:00 and his paid order at 12:00 are
    # the 12 o'clock hour's two attempts; in all 16 orders were settled, 15 of them paid.
    hours = query(
        hand_warehouse,
        "select hour_of_day, attempts, successful, success_rate from marts.payment_methods "
        "where payment_method = 'card' and (hour_of_day = 12 or hour_of_day is null) order by hour_of_day",
    )
    assert hours == [(12, 2, 1, 0.5), (None, 16, 15, 15 / 16)]


def test_headline_ltv_to_cac_is_a_cohort_against_its_own_cac(sample_store, sample_warehouse):
    cohort, expected = latest_cohort_ltv_to_cac(sample_store, horizon_days=90)

    ((month, horizon, ratio),) = query(
        sample_warehouse, "select ltv_cohort_month, ltv_horizon_days, ltv_to_cac from marts.kpi_summary"
    )
    assert (month, horizon) == (cohort, 90)
    assert ratio == pytest.approx(expected, rel=1e-9)
    # roi_monthly's LTV/CAC of that month is the same cohort figure, not a definition of its own.
    monthly = query(
        sample_warehouse, "select ltv_horizon_days, ltv_to_cac from marts.roi_monthly where roi_month = ?", [cohort]
    )
    assert monthly == [(90, ratio)]
    # The insight quotes that figure, labelled with its cohort and horizon, and its verdict follows it.
    ((value, severity, title),) = query(
        sample_warehouse, "select value, severity, title from ml.business_insights where metric = 'ltv_to_cac'"
    )
    healthy = MLAssetSettings.from_settings(sample_warehouse).insight_thresholds().ltv_cac_healthy
    assert value == pytest.approx(ratio, rel=1e-12)
    assert severity == ("critical" if ratio < 1 else "warning" if ratio < healthy else "info")
    assert title.startswith(f"90-day LTV/CAC of the {cohort:%B %Y} cohort")


def latest_cohort_ltv_to_cac(store: Path, horizon_days: int) -> tuple[dt.date, float]:
    """From the source files, in pandas: the latest cohort month whose every customer has had
    ``horizon_days`` days since their first paid order by the last day with a transaction, and its
    contribution per customer within those days (net amount × the gross margin of the order's
    month: net revenue less payment fees and infrastructure) over its CAC (the month's marketing
    spend / its new customers). Amounts in USD (the orders converted with their day's rate)."""
    transactions = transactions_in_usd(store)
    transactions["day"] = transactions["created_at"].dt.normalize()
    reference = transactions["day"].max()
    paid = transactions[transactions["status"].isin(["completed", "refunded"])].copy()
    paid["net"] = paid["amount"].where(paid["status"] == "completed", 0.0)
    paid["month"] = paid["day"].dt.to_period("M")
    paid["first_day"] = paid.groupby("customer_id")["day"].transform("min")
    paid["cohort"] = paid["first_day"].dt.to_period("M")

    costs = pd.read_parquet(store / "costs")
    costs["month"] = pd.to_datetime(costs["cost_date"]).dt.to_period("M")
    cost_of_revenue = costs[costs["category"].isin(["payment_fees", "infrastructure"])].groupby("month")["amount"].sum()
    net_by_month = paid.groupby("month")["net"].sum()
    margin = (net_by_month - cost_of_revenue.reindex(net_by_month.index, fill_value=0.0)) / net_by_month

    old_enough = [
        month
        for month in paid["cohort"].unique()
        if month.end_time.normalize() + pd.Timedelta(days=horizon_days - 1) <= reference
    ]
    cohort = max(old_enough)
    members = paid[paid["cohort"] == cohort]
    within = members[(members["day"] - members["first_day"]).dt.days < horizon_days]
    ltv = (within["net"] * within["month"].map(margin)).sum() / members["customer_id"].nunique()
    spend = pd.read_parquet(store / "marketing_spend")
    spent = spend.loc[pd.to_datetime(spend["spend_date"]).dt.to_period("M") == cohort, "amount"].sum()
    return cohort.start_time.date(), ltv / (spent / members["customer_id"].nunique())


def test_a_store_without_costs_or_marketing_has_no_margins_and_the_insights_say_so(hand_warehouse, tmp_path):
    # The hand store with its cost and marketing rows taken away, and the marts over them rebuilt.
    settings = hand_warehouse.updated(warehouse={"data_dir": tmp_path, "warehouse_path": tmp_path / "warehouse.duckdb"})
    shutil.copy(hand_warehouse.warehouse_file, settings.warehouse_file)
    with duckdb.connect(str(settings.warehouse_file)) as con:
        con.execute("delete from raw.costs")
        con.execute("delete from raw.marketing_spend")
    margins = [AssetKey(["intermediate", name]) for name in ("int_monthly_margins", "int_customer_orders")]
    marts = [AssetKey(["marts", name]) for name in ("cohort_ltv", "roi_monthly", "cost_breakdown", "kpi_summary")]
    run_pipeline(settings, FIRST_DAY, LAST_DAY, selection=AssetSelection.assets(*margins, *marts))

    # Every month had revenue (540, 200, 130) but no cost row: unknown costs, so no margin (not
    # 100 %), no ROI (nothing spent), and no CAC or LTV/CAC (no spend: not 0) despite new customers.
    assert query(
        settings,
        "select roi_month, has_cost_data, gross_margin, net_margin, roi, new_customers, cac, ltv_to_cac "
        "from marts.roi_monthly order by roi_month",
    ) == [
        (dt.date(2025, month, 1), False, None, None, None, new, None, None) for month, new in [(1, 4), (2, 0), (3, 1)]
    ]
    # Nothing spent in either period: every share is a share of nothing.
    assert query(settings, "select distinct share from marts.cost_breakdown") == [(None,)]
    columns = ["reference_date", "has_cost_data", "gross_margin", "net_margin", "cac", "ltv_to_cac"]
    columns += ["ltv_to_cac_prior", "ltv_horizon_days", "ltv_cohort_month", "cohort_ltv", "cohort_cac"]
    (row,) = query(settings, f"select {', '.join(columns)} from marts.kpi_summary")
    kpis = dict(zip(columns, row, strict=True))
    assert (kpis["has_cost_data"], kpis["gross_margin"], kpis["net_margin"], kpis["cac"]) == (False, None, None, None)

    roi = pd.DataFrame(
        query(settings, "select roi_month, net_margin, has_cost_data from marts.roi_monthly"),
        columns=["roi_month", "net_margin", "has_cost_data"],
    )
    thresholds = MLAssetSettings.from_settings(settings).insight_thresholds()
    margin = insights.margin_trend_insight(roi, kpis["reference_date"], thresholds)
    acquisition = insights.ltv_cac_insight(kpis, thresholds)
    assert (margin.title, margin.value) == ("No cost data: margins unknown", None)
    assert "March 2025" in margin.detail
    # No cohort is 90 days old by 31 Mar (January's last customers are not): no LTV/CAC to judge yet.
    assert (kpis["ltv_cohort_month"], acquisition) == (None, None)


def test_customer_rfm_matches_an_independent_pandas_computation(sample_store: Path, sample_warehouse: Settings):
    transactions = transactions_in_usd(sample_store)
    transactions["order_date"] = transactions["created_at"].dt.date
    # As of the last day with any transaction; a purchase is a completed or refunded order, and
    # only completed ones keep their money.
    reference_date = transactions["order_date"].max()
    paid = transactions[transactions["status"].isin(["completed", "refunded"])]
    expected = paid.groupby("customer_id").agg(
        last_order=("order_date", "max"),
        frequency=("transaction_id", "count"),
        monetary=("amount", lambda amounts: amounts[paid.loc[amounts.index, "status"] == "completed"].sum()),
    )
    expected["recency"] = [(reference_date - day).days for day in expected["last_order"]]

    actual = pd.DataFrame(
        query(sample_warehouse, "select customer_id, recency_days, frequency, monetary from marts.customer_rfm"),
        columns=["customer_id", "recency", "frequency", "monetary"],
    ).set_index("customer_id")

    assert sorted(actual.index) == sorted(expected.index)
    actual = actual.loc[expected.index]
    assert (actual["recency"] == expected["recency"]).all()
    assert (actual["frequency"] == expected["frequency"]).all()
    # Money is exact to the cent: the source's two-decimal amounts summed, not a float near them.
    assert (actual["monetary"] == expected["monetary"].map(lambda total: Decimal(f"{total:.2f}"))).all()


def test_mart_settings_from_the_environment_reach_dbt(hand_warehouse, tmp_path, monkeypatch):
    # A copy of the hand warehouse rebuilt with two dbt vars set as ANALYTICS_* variables.
    monkeypatch.setenv("ANALYTICS_CHURN_INACTIVITY_DAYS", "60")
    monkeypatch.setenv("ANALYTICS_TOP_CUSTOMERS_LIMIT", "2")
    settings = Settings(
        warehouse=WarehouseSettings(data_dir=tmp_path, warehouse_path=tmp_path / "warehouse.duckdb"),
        source=SourceSettings(kind="files", dir=tmp_path),
    )
    shutil.copy(hand_warehouse.warehouse_file, settings.warehouse_file)
    marts = [AssetKey(["marts", name]) for name in ("customer_rfm", "customer_metrics", "top_customers", "kpi_summary")]
    # kpi_summary's churn comes from the windows' customer base, which the churn var changes too.
    windows = AssetKey(["intermediate", "int_kpi_windows"])

    run_pipeline(settings, FIRST_DAY, LAST_DAY, selection=AssetSelection.assets(*marts, windows))

    # BEN's last order was 70 days before 31 Mar: churned after 60 days of silence, 1 of 5.
    assert query(settings, "select churn_rate from marts.customer_metrics") == [(0.2,)]
    # The two highest lifetime values: BEN 400, ANNA 240.
    assert query(settings, "select customer_id from marts.top_customers order by ltv_rank") == [("BEN",), ("ANNA",)]
