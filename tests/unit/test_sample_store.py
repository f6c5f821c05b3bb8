"""The embedded sample store: layout, rules of every table and the behaviour later marts rely on.

Expectations are computed here from the data read back (or written out by hand, like the schema
and the list prices), never taken from the generator's own constants.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.sample_store.generator import (
    SampleStoreSpec,
    customers_for_transactions,
    generate_sample_store,
    main,
)
from pipelines.sample_store.usd_amounts import transactions_in_usd

TABLE_COLUMNS = {
    "customers": {
        "customer_id": pa.string(),
        "signup_at": pa.timestamp("us"),
        "acquisition_channel": pa.string(),
        "country": pa.string(),
    },
    "transactions": {
        "transaction_id": pa.string(),
        "customer_id": pa.string(),
        "created_at": pa.timestamp("us"),
        "completed_at": pa.timestamp("us"),
        "status": pa.string(),
        "amount": pa.float64(),
        "currency": pa.string(),
        "product": pa.string(),
        "payment_method": pa.string(),
        "promo_code": pa.string(),
        "updated_at": pa.timestamp("us"),
    },
    "funnel_events": {
        "event_id": pa.string(),
        "session_id": pa.string(),
        "customer_id": pa.string(),
        "stage": pa.string(),
        "occurred_at": pa.timestamp("us"),
    },
    "costs": {"cost_date": pa.date32(), "category": pa.string(), "amount": pa.float64(), "currency": pa.string()},
    "marketing_spend": {
        "spend_date": pa.date32(),
        "channel": pa.string(),
        "amount": pa.float64(),
        "currency": pa.string(),
    },
    "exchange_rates": {"rate_date": pa.date32(), "currency": pa.string(), "rate": pa.float64()},
}
# The currency customers of a country pay in, and the USD per unit their prices were set at.
CURRENCY_OF_COUNTRY = {"GB": "GBP", "DE": "EUR", "FR": "EUR", "NL": "EUR", "ES": "EUR", "IT": "EUR"}
LIST_RATES = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}
LIST_PRICES = {
    "single_vector": 9.0,
    "batch_10": 39.0,
    "pro_monthly": 19.0,
    "pro_annual": 149.0,
    "enterprise_pack": 499.0,
}
STAGES = ["visit", "signup", "upload", "checkout", "payment_initiated", "payment_completed"]
RETURNING_STAGES = [stage for stage in STAGES if stage != "signup"]
PAID = ["completed", "refunded"]

SMALL = SampleStoreSpec(seed=11, days=400, customers=1500, end_date=dt.date(2025, 3, 31))
TWO_YEARS = SampleStoreSpec(seed=5, days=730, customers=2500, end_date=dt.date(2025, 6, 30))


def read(folder: Path, table: str) -> pd.DataFrame:
    return pq.read_table(folder / table).to_pandas()


def table_digest(folder: Path, table: str) -> str:
    frame = read(folder, table)
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()


def window(spec: SampleStoreSpec) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First instant of the window and first instant after it."""
    start = pd.Timestamp(spec.end_date - dt.timedelta(days=spec.days - 1))
    return start, pd.Timestamp(spec.end_date) + pd.Timedelta(days=1)


def orders_per_day(transactions: pd.DataFrame, spec: SampleStoreSpec) -> pd.Series:
    """Transactions created per calendar day of the window, zero-filled."""
    start, end = window(spec)
    days = pd.date_range(start, end - pd.Timedelta(days=1), freq="D")
    return transactions["created_at"].dt.normalize().value_counts().reindex(days, fill_value=0)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small_store")
    generate_sample_store(folder, SMALL)
    return folder


@pytest.fixture(scope="module")
def two_year_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("two_year_store")
    generate_sample_store(folder, TWO_YEARS)
    return folder


# --- determinism and layout -----------------------------------------------------------------------


def test_same_spec_gives_identical_tables_and_another_seed_differs(tmp_path: Path) -> None:
    spec = SampleStoreSpec(seed=3, days=90, customers=300, end_date=dt.date(2024, 12, 31))
    first = generate_sample_store(tmp_path / "a", spec)
    second = generate_sample_store(tmp_path / "b", spec)
    other = generate_sample_store(
        tmp_path / "c", SampleStoreSpec(seed=4, days=90, customers=300, end_date=spec.end_date)
    )

    assert first == second
    for table in TABLE_COLUMNS:
        assert table_digest(tmp_path / "a", table) == table_digest(tmp_path / "b", table), table
    assert table_digest(tmp_path / "a", "transactions") != table_digest(tmp_path / "c", "transactions")
    assert table_digest(tmp_path / "a", "customers") != table_digest(tmp_path / "c", "customers")
    assert other["rows"]["customers"] == 300


def test_every_table_has_the_documented_columns_and_types(store: Path) -> None:
    for table, columns in TABLE_COLUMNS.items():
        parts = sorted((store / table).glob("part-*.parquet"))
        assert parts, table
        for part in parts:
            schema = pq.read_schema(part)
            assert dict(zip(schema.names, schema.types, strict=True)) == columns, part


def test_manifest_describes_the_files(store: Path) -> None:
    manifest = json.loads((store / "_sample_store.json").read_text())

    assert manifest == {
        "seed": 11,
        "days": 400,
        "customers": 1500,
        "start_date": "2024-02-26",
        "end_date": "2025-03-31",
        "sessions_per_order": 2.5,
        "shape": "growing",
        "rows": {table: pq.read_table(store / table).num_rows for table in TABLE_COLUMNS},
        "generator_version": 2,
    }


def test_ids_are_unique_amounts_are_cents_and_costs_are_in_usd(store: Path) -> None:
    for table, id_column in (
        ("customers", "customer_id"),
        ("transactions", "transaction_id"),
        ("funnel_events", "event_id"),
    ):
        ids = read(store, table)[id_column]
        assert ids.notna().all() and ids.is_unique, table
    assert read(store, "customers")["customer_id"].iloc[0] == "C0000001"
    for table in ("transactions", "costs", "marketing_spend"):
        frame = read(store, table)
        assert table == "transactions" or (frame["currency"] == "USD").all(), table
        cents = frame["amount"] * 100
        assert np.allclose(cents, cents.round(), atol=1e-6), table
    assert (read(store, "transactions")["amount"] > 0).all()


def test_customers_pay_in_their_countrys_currency_with_a_rate_every_weekday(store: Path) -> None:
    transactions = read(store, "transactions")
    country = transactions["customer_id"].map(read(store, "customers").set_index("customer_id")["country"])
    assert (transactions["currency"] == country.map(CURRENCY_OF_COUNTRY).fillna("USD")).all()
    assert set(transactions["currency"]) == {"USD", "EUR", "GBP"}

    rates = read(store, "exchange_rates")
    days = pd.to_datetime(rates["rate_date"])
    start, end = window(SMALL)
    weekdays = pd.date_range(start, end - pd.Timedelta(days=1), freq="B")
    # Weekdays only, but the first day (a Monday here or not) always, so every order has a rate.
    assert set(days) == set(weekdays) | {start}
    assert not rates.duplicated(["rate_date", "currency"]).any()
    assert sorted(rates["currency"].unique()) == ["EUR", "GBP"]
    # Around the rates the prices were set at: within 10 % over the whole window.
    list_rate = rates["currency"].map(LIST_RATES)
    assert (rates["rate"] / list_rate).between(0.9, 1.1).all()


# --- transactions ---------------------------------------------------------------------------------


def test_statuses_are_allowed_and_completed_at_is_set_exactly_for_completed_or_refunded(store: Path) -> None:
    transactions = read(store, "transactions")
    shares = transactions["status"].value_counts(normalize=True)

    assert set(shares.index) <= {"pending", "completed", "failed", "refunded", "cancelled"}
    assert 0.80 < shares["completed"] < 0.90
    assert 0.02 < shares["refunded"] < 0.06
    assert 0.04 < shares["failed"] < 0.09
    assert 0.02 < shares["cancelled"] < 0.06
    paid = transactions["status"].isin(PAID)
    assert (transactions["completed_at"].notna() == paid).all()
    delay = transactions.loc[paid, "completed_at"] - transactions.loc[paid, "created_at"]
    assert (delay >= pd.Timedelta(seconds=1)).all() and (delay < pd.Timedelta(hours=1)).all()


def test_updated_at_is_the_last_change_of_the_row(store: Path) -> None:
    transactions = read(store, "transactions")
    completed = transactions[transactions["status"] == "completed"]
    refunded = transactions[transactions["status"] == "refunded"]
    unpaid = transactions[~transactions["status"].isin(PAID)]

    assert (completed["updated_at"] == completed["completed_at"]).all()
    assert (refunded["updated_at"] > refunded["completed_at"] + pd.Timedelta(minutes=30)).all()
    assert (unpaid["updated_at"] == unpaid["created_at"]).all()
    assert (transactions["updated_at"] < window(SMALL)[1]).all()


def test_pending_transactions_only_in_the_last_two_days(store: Path) -> None:
    transactions = read(store, "transactions")
    pending = transactions[transactions["status"] == "pending"]

    assert len(pending) > 0
    assert (pending["created_at"] >= window(SMALL)[1] - pd.Timedelta(days=2)).all()


def test_transactions_lie_in_the_window_and_after_the_customers_signup(store: Path) -> None:
    transactions = read(store, "transactions")
    customers = read(store, "customers").set_index("customer_id")
    start, end = window(SMALL)

    assert transactions["created_at"].between(start, end, inclusive="left").all()
    assert customers["signup_at"].between(start, end, inclusive="left").all()
    signup = customers.loc[transactions["customer_id"], "signup_at"].to_numpy()
    assert (transactions["created_at"].to_numpy() > signup).all()


def test_promo_days_have_more_orders_and_promo_codes_get_a_discount(store: Path) -> None:
    transactions = read(store, "transactions")
    per_day = orders_per_day(transactions, SMALL)
    promo_days = set(transactions.loc[transactions["promo_code"].notna(), "created_at"].dt.normalize())
    on_promo = per_day.index.isin(list(promo_days))

    assert 5 <= on_promo.sum() <= 60
    assert per_day[on_promo].mean() > 1.4 * per_day[~on_promo].mean()
    # The USD list price, in the buyer's currency at the rate its prices were set at, to the cent.
    list_price = (transactions["product"].map(LIST_PRICES) / transactions["currency"].map(LIST_RATES)).round(2)
    with_code = transactions["promo_code"].notna()
    ratio = transactions.loc[with_code, "amount"] / list_price[with_code]
    assert ratio.between(0.68, 0.82).all()
    assert (transactions.loc[~with_code, "amount"] == list_price[~with_code]).all()


def test_weekly_seasonality_is_clearly_visible(store: Path) -> None:
    per_day = orders_per_day(read(store, "transactions"), SMALL)
    by_weekday = per_day.groupby(per_day.index.day_of_week).mean()

    midweek, weekend = by_weekday[[1, 2, 3]].mean(), by_weekday[[5, 6]].mean()
    assert midweek > 1.2 * weekend


def test_there_are_one_time_buyers_repeat_buyers_and_heavy_buyers(store: Path) -> None:
    per_customer = read(store, "transactions")["customer_id"].value_counts()
    buyers = len(per_customer)

    assert buyers < SMALL.customers  # some customers never buy
    assert (per_customer == 1).sum() > 0.08 * buyers
    assert (per_customer.between(2, 5)).sum() > 0.2 * buyers
    assert (per_customer >= 20).sum() > 0.03 * buyers


def test_daily_revenue_is_modelled_by_trend_weekday_and_yearly_terms(two_year_store: Path) -> None:
    transactions = transactions_in_usd(two_year_store)
    completed = transactions[transactions["status"] == "completed"]
    start, end = window(TWO_YEARS)
    days = pd.date_range(start, end - pd.Timedelta(days=1), freq="D")
    revenue = completed.groupby(completed["created_at"].dt.normalize())["amount"].sum().reindex(days, fill_value=0.0)

    years = np.arange(len(days)) / 365.25
    angle = 2 * np.pi * days.day_of_year.to_numpy() / 365.25
    weekdays = [(days.day_of_week == k).astype(float) for k in range(1, 7)]
    design = np.column_stack([np.ones(len(days)), years, years**2, *weekdays, np.sin(angle), np.cos(angle)])
    coefficients, *_ = np.linalg.lstsq(design, revenue.to_numpy(), rcond=None)
    residual = revenue.to_numpy() - design @ coefficients

    assert 1 - residual.var() / revenue.var() > 0.6
    yearly = coefficients[-2] * np.sin(angle) + coefficients[-1] * np.cos(angle)
    assert days[np.argmax(yearly)].month in (11, 12, 1)
    assert days[np.argmin(yearly)].month in (5, 6, 7, 8)


# --- funnel ---------------------------------------------------------------------------------------


def test_funnel_sessions_are_ordered_prefixes_with_increasing_timestamps(store: Path) -> None:
    events = read(store, "funnel_events").sort_values(["session_id", "occurred_at"])
    start, end = window(SMALL)
    sessions = events.groupby("session_id").agg(
        stages=("stage", list), times=("occurred_at", list), customers=("customer_id", list)
    )

    assert events["occurred_at"].between(start, end, inclusive="left").all()
    for stages, times, customers in sessions.itertuples(index=False):
        path = STAGES if "signup" in stages else RETURNING_STAGES
        assert stages == path[: len(stages)]
        assert all(earlier < later for earlier, later in zip(times, times[1:], strict=False))
        if "signup" in stages:  # the visit before signing up is anonymous, the rest is the new customer
            assert pd.isna(customers[0]) and len({*customers[1:]}) == 1 and pd.notna(customers[1])
        else:  # a returning customer's session, or an anonymous visitor who leaves
            assert len({str(customer) for customer in customers}) == 1


def test_signup_events_match_customer_signups(store: Path) -> None:
    events = read(store, "funnel_events")
    signups = events[events["stage"] == "signup"].set_index("customer_id")["occurred_at"]
    customers = read(store, "customers").set_index("customer_id")["signup_at"]

    assert signups.sort_index().equals(customers.sort_index().rename("occurred_at"))


def test_funnel_volume_and_pass_through_are_roughly_as_documented(store: Path) -> None:
    events = read(store, "funnel_events")
    transactions = read(store, "transactions")
    reached = events.pivot_table(index="session_id", columns="stage", values="event_id", aggfunc="count").notna()
    new_visitor = reached.index.isin(events.loc[events["customer_id"].isna(), "session_id"])
    returning = reached[~new_visitor]

    assert 2.2 < len(reached) / len(transactions) < 2.8
    assert 0.35 < reached.loc[new_visitor, "signup"].mean() < 0.45
    steps = list(zip(RETURNING_STAGES, RETURNING_STAGES[1:], strict=False))
    rates = {later: returning[later].sum() / returning[earlier].sum() for earlier, later in steps}
    assert 0.55 < rates["upload"] < 0.65
    assert 0.50 < rates["checkout"] < 0.60
    assert 0.80 < rates["payment_initiated"] < 0.90
    assert 0.83 < rates["payment_completed"] < 0.93


def test_payment_completion_is_worse_at_night(store: Path) -> None:
    events = read(store, "funnel_events")
    visits = events[events["stage"] == "visit"].set_index("session_id")["occurred_at"]
    initiated = events.loc[events["stage"] == "payment_initiated", "session_id"]
    completed = set(events.loc[events["stage"] == "payment_completed", "session_id"])
    night = visits.loc[initiated].dt.hour.to_numpy() < 6
    success = initiated.isin(completed).to_numpy()

    assert success[night].mean() < success[~night].mean() - 0.03


# --- costs and marketing --------------------------------------------------------------------------


def test_one_cost_row_per_day_and_category_with_fees_from_that_days_orders(two_year_store: Path) -> None:
    costs = read(two_year_store, "costs")
    transactions = transactions_in_usd(two_year_store)
    paid = transactions[transactions["status"].isin(PAID)]
    day_totals = paid.groupby(paid["created_at"].dt.date)["amount"].agg(["sum", "count"])

    assert set(costs["category"]) == {"infrastructure", "payment_fees", "support", "salaries", "other"}
    assert len(costs) == 5 * TWO_YEARS.days
    assert not costs.duplicated(["cost_date", "category"]).any()
    fees = costs[costs["category"] == "payment_fees"].set_index("cost_date")["amount"]
    expected = (0.029 * day_totals["sum"] + 0.30 * day_totals["count"]).reindex(fees.index, fill_value=0.0)
    assert np.allclose(fees, expected, atol=0.011)


def test_marketing_spend_per_paid_channel_gives_a_realistic_cac(two_year_store: Path) -> None:
    spend = read(two_year_store, "marketing_spend")
    customers = read(two_year_store, "customers")
    acquired = customers["acquisition_channel"].value_counts()
    cac = spend.groupby("channel")["amount"].sum() / acquired.reindex(spend["channel"].unique())

    assert set(spend["channel"]) == {"paid_search", "social", "email", "affiliate", "referral"}
    assert set(acquired.index) >= {"organic", *spend["channel"]}
    assert len(spend) == 5 * TWO_YEARS.days
    assert cac.between(15, 90).all(), cac


def test_the_store_starts_loss_making_and_later_turns_profitable(two_year_store: Path) -> None:
    transactions = transactions_in_usd(two_year_store)
    paid = transactions[transactions["status"].isin(PAID)]
    revenue = paid.groupby(paid["created_at"].dt.to_period("M"))["amount"].sum()
    costs = read(two_year_store, "costs")
    spend = read(two_year_store, "marketing_spend")
    outgoings = costs.groupby(pd.to_datetime(costs["cost_date"]).dt.to_period("M"))["amount"].sum()
    outgoings += spend.groupby(pd.to_datetime(spend["spend_date"]).dt.to_period("M"))["amount"].sum()
    profit = revenue.reindex(outgoings.index, fill_value=0.0) - outgoings

    assert (profit.iloc[:3] < 0).all()
    assert (profit.iloc[-3:] > 0).all()


# --- chunking, reruns, sizing and CLI -------------------------------------------------------------


def test_chunked_run_writes_one_part_per_block_with_unique_ids(tmp_path: Path) -> None:
    spec = SampleStoreSpec(seed=9, days=200, customers=1000, end_date=dt.date(2025, 1, 31))
    whole = generate_sample_store(tmp_path / "whole", spec)
    chunked = generate_sample_store(tmp_path / "chunked", spec, block_customers=300)

    for table in ("customers", "transactions", "funnel_events"):
        assert len(list((tmp_path / "chunked" / table).glob("part-*.parquet"))) == 4, table
        assert len(list((tmp_path / "whole" / table).glob("part-*.parquet"))) == 1, table
    customer_parts = [
        pq.read_metadata(part).num_rows for part in sorted((tmp_path / "chunked" / "customers").glob("*"))
    ]
    assert customer_parts == [300, 300, 300, 100]
    assert chunked["rows"]["customers"] == whole["rows"]["customers"] == 1000
    assert 0.85 < chunked["rows"]["transactions"] / whole["rows"]["transactions"] < 1.15
    for table, id_column in (("transactions", "transaction_id"), ("funnel_events", "event_id")):
        assert read(tmp_path / "chunked", table)[id_column].is_unique, table
    sessions = read(tmp_path / "chunked", "funnel_events").groupby("session_id")["customer_id"].nunique()
    assert (sessions <= 1).all()  # session ids do not collide across blocks


def test_rerun_into_an_existing_folder_replaces_old_part_files(tmp_path: Path) -> None:
    spec = SampleStoreSpec(seed=2, days=60, customers=400, end_date=dt.date(2024, 8, 31))
    generate_sample_store(tmp_path, spec, block_customers=100)
    manifest = generate_sample_store(tmp_path, spec)

    for table in TABLE_COLUMNS:
        assert [part.name for part in (tmp_path / table).iterdir()] == ["part-00000.parquet"], table
        assert pq.read_table(tmp_path / table).num_rows == manifest["rows"][table]


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"days": 0}, "days"),
        ({"customers": 0}, "customers"),
        ({"seed": -1}, "seed"),
        ({"sessions_per_order": 0.0}, "sessions_per_order"),
        ({"end_date": "2024-01-01"}, "end_date"),
        ({"shape": "shrinking"}, "shape"),
    ],
)
def test_invalid_spec_raises_value_error_naming_the_argument(arguments: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        SampleStoreSpec(**arguments)


@pytest.mark.parametrize(("shape", "last_to_first"), [("decaying", (0.0, 0.5)), ("flat", (0.6, 1.5))])
def test_store_shapes_set_how_revenue_runs_over_the_window(tmp_path: Path, shape: str, last_to_first: tuple) -> None:
    # 300 days, 600 customers. Decaying: everyone signs up in the first 30 days, then drops out, so
    # the last 60 days sell well under half of days 30-90. Flat: the same first cohort, then signups
    # that about replace the dropouts: the last 60 days sell about what days 30-90 did.
    spec = SampleStoreSpec(seed=3, days=300, customers=600, end_date=dt.date(2025, 3, 31), shape=shape)
    generate_sample_store(tmp_path, spec)
    transactions = transactions_in_usd(tmp_path)
    paid = transactions[transactions["status"].isin(PAID)]
    days = (paid["created_at"].dt.normalize() - window(spec)[0]).dt.days
    customers = read(tmp_path, "customers")

    ratio = paid["amount"][days >= 240].sum() / paid["amount"][(days >= 30) & (days < 90)].sum()

    assert last_to_first[0] <= ratio <= last_to_first[1]
    signup_days = (customers["signup_at"].dt.normalize() - window(spec)[0]).dt.days
    assert (signup_days >= 30).any() == (shape == "flat")


def test_invalid_block_size_and_sizing_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="block_customers"):
        generate_sample_store(tmp_path, SampleStoreSpec(days=5, customers=5), block_customers=0)
    with pytest.raises(ValueError, match="transactions"):
        customers_for_transactions(0, 30)
    with pytest.raises(ValueError, match="days"):
        customers_for_transactions(1000, 0)


def test_customers_for_transactions_gives_about_the_target(tmp_path: Path) -> None:
    customers = customers_for_transactions(20_000, 365)
    manifest = generate_sample_store(
        tmp_path, SampleStoreSpec(seed=21, days=365, customers=customers, end_date=dt.date(2024, 9, 30))
    )

    assert 15_000 <= manifest["rows"]["transactions"] <= 25_000
    assert customers_for_transactions(40_000, 365) > customers


def test_cli_writes_the_tables_and_manifest_and_prints_row_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    code = main(["--out", str(out), "--seed", "8", "--days", "45", "--customers", "120", "--end-date", "2024-02-29"])

    assert code == 0
    manifest = json.loads((out / "_sample_store.json").read_text())
    assert (manifest["seed"], manifest["customers"], manifest["start_date"], manifest["end_date"]) == (
        8,
        120,
        "2024-01-16",
        "2024-02-29",
    )
    for table in TABLE_COLUMNS:
        assert (out / table / "part-00000.parquet").is_file()
    lines = capsys.readouterr().out.splitlines()
    # A line per block of customers and per daily table as they are written, then the summary.
    assert lines[0] == (
        f"  customers 120 of 120 (100%): {manifest['rows']['transactions']:,} transactions, "
        f"{manifest['rows']['funnel_events']:,} funnel events ({lines[0].rsplit('(', 1)[1]}"
    )
    assert lines[1:4] == [
        f"  costs: {manifest['rows']['costs']:,} rows",
        f"  marketing_spend: {manifest['rows']['marketing_spend']:,} rows",
        f"  exchange_rates: {manifest['rows']['exchange_rates']:,} rows",
    ]
    assert len(lines) == 5
    assert f"transactions={manifest['rows']['transactions']:,}" in lines[4]


def test_cli_sizes_by_transactions_and_reports_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--out", str(tmp_path / "sized"), "--days", "60", "--transactions", "3000"]) == 0
    manifest = json.loads((tmp_path / "sized" / "_sample_store.json").read_text())
    assert manifest["customers"] == customers_for_transactions(3000, 60)

    assert main(["--out", str(tmp_path / "bad"), "--days", "0"]) == 2
    assert "days" in capsys.readouterr().err
