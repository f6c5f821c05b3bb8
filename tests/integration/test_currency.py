"""Orders in other currencies: converted at ingest with the day's exchange rate, or rejected without one.

A hand-made store over 2025-01-01 .. 2025-01-05 with ANALYTICS_EXCHANGE_RATE_MAX_AGE_DAYS=2, every
expected amount worked out below by hand (rates to USD, amounts rounded to cents half away from zero).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from dagster import AssetKey, AssetSelection

from pipelines.defs.run_errors import first_step_error
from tests.support.csv_store import CUSTOMERS, transaction, write_store, write_table
from tests.support.pipeline_runs import DBT_MODELS, INGEST, isolated_settings, query, run_pipeline

JAN_1, JAN_2 = dt.date(2025, 1, 1), dt.date(2025, 1, 2)
TRANSACTIONS = AssetSelection.assets(AssetKey(["raw", "transactions"]))
CURRENCY_WINDOW = (JAN_1, dt.date(2025, 1, 5))
CURRENCY_MAX_AGE_DAYS = 2

RATES = [
    {"rate_date": "2025-01-01", "currency": "EUR", "rate": "1.04"},  # row 1
    {"rate_date": "2025-01-02", "currency": "EUR", "rate": "1.0850"},  # row 2: replaced by row 3
    {"rate_date": "2025-01-02", "currency": "eur", "rate": "1.09"},  # row 3: the day's EUR rate
    {"rate_date": "2025-01-01", "currency": "GBP", "rate": "1.25"},  # row 4
    {"rate_date": "2025-01-02", "currency": "GBP", "rate": "-1.2"},  # row 5: negative
    {"rate_date": "2025-01-02", "currency": "JPY", "rate": "abc"},  # row 6: no number
    {"rate_date": "2025-01-03", "currency": "CHF", "rate": "0"},  # row 7: zero
]
BAD_RATES = [
    (2, "duplicate rate_date and currency"),
    (5, "rate not above 0"),
    (6, "non-numeric rate"),
    (7, "rate not above 0"),
]

ORDERS = [
    # row 1: the day's own rate. 100.00 EUR x 1.04 = 104.00 USD
    transaction("X1", "C1", "2025-01-01 10:00:00", amount="100.00", currency="EUR"),
    # row 2: the day's rate is row 3's (the later copy). 19.99 x 1.09 = 21.7891 -> 21.79
    transaction("X2", "C2", "2025-01-02 23:59:00", amount="19.99", currency="eur"),
    # row 3: no rate on 01-04 or 01-03; 01-02's is 2 days old, within the limit of 2.
    # 0.50 x 1.09 = 0.545, a half cent: rounded away from zero to 0.55 (half-even would give 0.54)
    transaction("X3", "C1", "2025-01-04 09:00:00", amount="0.50", currency="EUR"),
    # row 4: 01-02's rate is 3 days old: rejected
    transaction("X4", "C2", "2025-01-05 09:00:00", amount="10.00", currency="EUR"),
    # row 5: GBP's 01-02 rate is bad, so 01-01's (1 day old): 40.00 x 1.25 = 50.00
    transaction("X5", "C3", "2025-01-02 12:00:00", amount="40.00", currency="GBP"),
    # row 6: no SEK rate at all: rejected
    transaction("X6", "C3", "2025-01-03 12:00:00", amount="5.00", currency="SEK"),
    # row 7: the reporting currency: kept as it is, rate 1
    transaction("X7", "C1", "2025-01-03 15:00:00", amount="12.34", currency="USD"),
]
# transaction_id: (amount in USD, original amount, original currency, rate)
CONVERTED = {
    "X1": (Decimal("104.00"), Decimal("100.00"), "EUR", Decimal("1.04")),
    "X2": (Decimal("21.79"), Decimal("19.99"), "EUR", Decimal("1.09")),
    "X3": (Decimal("0.55"), Decimal("0.50"), "EUR", Decimal("1.09")),
    "X5": (Decimal("50.00"), Decimal("40.00"), "GBP", Decimal("1.25")),
    "X7": (Decimal("12.34"), Decimal("12.34"), "USD", Decimal("1")),
}
UNCONVERTED = [
    (
        4,
        "no EUR exchange rate on 2025-01-05 or up to 2 days before (ANALYTICS_EXCHANGE_RATE_MAX_AGE_DAYS=2); "
        "the latest before is of 2025-01-02",
    ),
    (6, "no SEK exchange rate on 2025-01-03 or up to 2 days before (ANALYTICS_EXCHANGE_RATE_MAX_AGE_DAYS=2)"),
]


def write_currency_store(folder):
    """The hand-made store: the orders and rates above, the standard customers, costs and funnel."""
    write_store(folder, transactions=ORDERS, customers=CUSTOMERS)
    write_table(folder, "exchange_rates", RATES)
    return folder


@pytest.fixture(scope="module")
def currency_warehouse(tmp_path_factory, dbt_manifest_prepared):
    """The hand-made store loaded and every dbt model built, once for the module."""
    data = tmp_path_factory.mktemp("currency")
    store = write_currency_store(data / "store")
    max_age = {"exchange_rate_max_age_days": CURRENCY_MAX_AGE_DAYS}
    settings = isolated_settings(data / "warehouse", store, source=max_age)
    run_pipeline(settings, *CURRENCY_WINDOW, selection=INGEST | DBT_MODELS)
    return settings


def test_orders_in_another_currency_are_converted_with_the_rate_of_their_day(currency_warehouse):
    rows = query(
        currency_warehouse,
        "select transaction_id, amount, currency, original_amount, original_currency, exchange_rate "
        "from raw.transactions order by 1",
    )
    assert {tid: tuple(values) for tid, amount, currency, *values in rows} == {
        tid: values[1:] for tid, values in CONVERTED.items()
    }
    assert {tid: (amount, currency) for tid, amount, currency, *_ in rows} == {
        tid: (values[0], "USD") for tid, values in CONVERTED.items()
    }


def test_an_order_without_a_rate_within_the_limit_is_rejected_with_why(currency_warehouse):
    rejected = query(
        currency_warehouse,
        "select row_number, reason, raw_values, partition_date from raw.rejected_rows "
        "where source_table = 'transactions' order by row_number",
    )
    assert [(number, reason) for number, reason, *_ in rejected] == UNCONVERTED
    # The row as the shop wrote it, on its day.
    assert json.loads(rejected[0][2])["amount"] == "10.00"
    assert [day for *_, day in rejected] == [dt.date(2025, 1, 5), dt.date(2025, 1, 3)]


def test_bad_rates_are_rejected_and_the_good_ones_loaded(currency_warehouse):
    rejected = query(
        currency_warehouse,
        "select row_number, reason from raw.rejected_rows where source_table = 'exchange_rates' order by 1",
    )
    assert rejected == BAD_RATES
    assert query(currency_warehouse, "select rate_date, currency, rate from raw.exchange_rates order by 1, 2") == [
        (JAN_1, "EUR", Decimal("1.04")),
        (JAN_1, "GBP", Decimal("1.25")),
        (dt.date(2025, 1, 2), "EUR", Decimal("1.09")),
    ]


def test_staging_carries_the_original_money_and_the_marts_count_the_converted(currency_warehouse):
    staged = query(
        currency_warehouse,
        "select transaction_id, cast(amount as decimal(18, 2)), original_amount, original_currency, exchange_rate "
        "from staging.stg_transactions order by 1",
    )
    assert staged == [(tid, *values) for tid, values in CONVERTED.items()]
    # Every order is completed: a day's net revenue is the sum of its converted amounts.
    revenue = query(
        currency_warehouse,
        "select revenue_date, cast(net_revenue as decimal(18, 2)) from marts.revenue_daily "
        "where net_revenue > 0 order by 1",
    )
    assert revenue == [
        (JAN_1, Decimal("104.00")),  # X1
        (dt.date(2025, 1, 2), Decimal("71.79")),  # X2 21.79 + X5 50.00
        (dt.date(2025, 1, 3), Decimal("12.34")),  # X7 (X6 rejected)
        (dt.date(2025, 1, 4), Decimal("0.55")),  # X3
    ]


def test_a_store_of_one_currency_needs_no_rates(tmp_path, make_settings):
    # The standard CSV store has no exchange_rates file: its USD orders load as they are, at rate 1.
    settings = make_settings(write_store(tmp_path / "store"))

    run_pipeline(settings, JAN_1, dt.date(2025, 1, 2), selection=INGEST)

    assert query(settings, "select count(*) from raw.exchange_rates") == [(0,)]
    assert query(settings, "select count(*) from raw.rejected_rows") == [(0,)]
    assert query(
        settings,
        "select transaction_id, amount, currency, original_amount, original_currency, exchange_rate "
        "from raw.transactions order by 1",
    ) == [
        ("T1", Decimal("10.00"), "USD", Decimal("10.00"), "USD", Decimal("1")),
        ("T2", Decimal("25.50"), "USD", Decimal("25.50"), "USD", Decimal("1")),
        ("T3", Decimal("7.25"), "USD", Decimal("7.25"), "USD", Decimal("1")),
    ]


def test_a_changed_reporting_currency_stops_a_load_that_would_mix_currencies(tmp_path, make_settings):
    settings = make_settings(write_store(tmp_path / "store"))
    run_pipeline(settings, JAN_1, JAN_1, selection=TRANSACTIONS)
    in_euros = settings.updated(source={"currency": "EUR"})

    result = run_pipeline(in_euros, JAN_2, JAN_2, selection=TRANSACTIONS, raise_on_error=False)

    assert not result.success
    assert first_step_error(result.get_step_failure_events()) == (
        "step raw__transactions: pipelines.sources.raw_tables.CurrencyChanged: "
        "raw.transactions holds amounts in USD on 2025-01-01 .. 2025-01-01, days this run keeps, "
        "but ANALYTICS_CURRENCY is EUR: set it back to USD, or rebuild every day in EUR "
        "(`make run`, or `python -m pipelines.cli.run` without --day)"
    )
    # The kept day is untouched, and nothing of the new day was loaded.
    assert query(settings, "select transaction_id, currency from raw.transactions order by 1") == [
        ("T1", "USD"),
        ("T2", "USD"),
    ]
    # Every day loaded again in the new currency mixes nothing: the load goes through (the store has
    # no USD rates, so its orders are rejected with the reason, not kept in dollars).
    assert run_pipeline(in_euros, JAN_1, JAN_2, selection=TRANSACTIONS).success
    assert query(settings, "select count(*) from raw.transactions") == [(0,)]
    assert query(settings, "select count(*) from raw.rejected_rows where reason like 'no USD exchange rate%'") == [(3,)]
