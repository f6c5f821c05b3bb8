"""The embedded sample store: a deterministic fake "VectorCraft" storefront written as Parquet part files.

VectorCraft sells image-to-vector conversions. The generator simulates its customers, their
purchases, the web funnel around them, the running costs and the marketing spend, and writes
the source tables of :mod:`pipelines.source_schema` as ``<out_dir>/<table>/part-NNNNN.parquet``
plus a manifest ``<out_dir>/_sample_store.json``.

How the data is made (so that marts, forecasts and alerts have something real to find):

* A calendar gives every day a purchase intensity: weekday factor x yearly cycle (November-December
  peak, June dip) x promotion lift. Purchases happen in "operational time", the running sum of that
  intensity, which turns a plain Poisson process into one with weekly, yearly and promotion effects.
* Signups follow the store's shape (``--shape``) times the same seasonality: ``growing`` (the default)
  signs up fast through the first year and slower after; ``decaying`` acquires one large cohort in
  its first DECAYING_SIGNUP_DAYS days and nobody after, so revenue falls as that cohort drops out;
  ``flat`` acquires the same first cohort, then a steady trickle that about replaces the customers
  who drop out, so revenue stays level apart from the seasons.
* Each customer buys BG/NBD-style: a gamma-distributed purchase rate, and after every purchase a
  beta-distributed chance of going silent for good. That gives one-time buyers, repeat buyers,
  a few heavy buyers and a churning tail.
* Funnel sessions are produced around signups and purchases, about ``sessions_per_order`` per order.
* Customers in the UK and the euro countries pay in GBP and EUR, at the USD prices divided by a
  list rate; the exchange rates wander around those list rates and are published on weekdays only,
  so weekend orders are converted with Friday's rate.
* Costs and marketing spend are derived from the day totals once all customers are done.

Customers are processed in blocks (:data:`BLOCK_CUSTOMERS`) and each block is written as one part
file per table before the next starts, so memory stays flat however many transactions are asked
for. Every random draw comes from a generator seeded by ``(seed, stream, block)``: the same spec
and block size give byte-identical files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.source_schema import FUNNEL_STAGES, TRANSACTION_STATUSES

GENERATOR_VERSION = 2
MANIFEST_NAME = "_sample_store.json"
BLOCK_CUSTOMERS = 25_000
"""Customers per block: one part file per block per table. At the default purchase model a block
holds about 250k transactions and 1.5M funnel events, small enough to build in memory
(its peak: docs/benchmarks.md)."""
MAX_BLOCK_CUSTOMERS = 1_000_000
"""Above this a block's id strings could outgrow the 2 GiB offsets of an Arrow string array."""

US_PER_SECOND = 1_000_000
US_PER_HOUR = 3_600 * US_PER_SECOND
US_PER_DAY = 24 * US_PER_HOUR
EPOCH = dt.date(1970, 1, 1)

# Independent random streams: adding draws to one stream never shifts the numbers of another.
STREAM_CALENDAR, STREAM_SIGNUPS, STREAM_CUSTOMERS, STREAM_PURCHASES = 0, 1, 2, 3
STREAM_TRANSACTIONS, STREAM_FUNNEL, STREAM_COSTS, STREAM_MARKETING = 4, 5, 6, 7
STREAM_RATES = 8

CHANNELS = ("organic", "paid_search", "social", "email", "affiliate", "referral")
CHANNEL_SHARES = (0.35, 0.22, 0.15, 0.10, 0.08, 0.10)
# Cost of acquiring one customer per paid channel; organic has no spend.
CHANNEL_CAC = {"paid_search": 55.0, "social": 40.0, "email": 22.0, "affiliate": 65.0, "referral": 28.0}
COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "NL", "IN", "BR", "ES", "IT", "SE", "JP", "PL", "MX")
COUNTRY_SHARES = (0.34, 0.10, 0.09, 0.07, 0.06, 0.04, 0.03, 0.06, 0.05, 0.04, 0.04, 0.02, 0.03, 0.02, 0.01)

# Customers of these countries pay in their own currency, everyone else in USD (the reporting currency).
CURRENCIES = ("USD", "EUR", "GBP")
CURRENCY_OF_COUNTRY = {"GB": "GBP", "DE": "EUR", "FR": "EUR", "NL": "EUR", "ES": "EUR", "IT": "EUR"}
# USD per unit: the rate a currency's price list was set at (its prices are the USD prices divided by
# it, to the cent), which its daily rate wanders around (log AR(1): a 2 % spread, rarely 5 %).
LIST_RATES = np.array([1.0, 1.08, 1.27])
RATE_REVERSION = 0.98
RATE_DAILY_SIGMA = 0.004
RATE_DECIMALS = 4

PRODUCTS = ("single_vector", "batch_10", "pro_monthly", "pro_annual", "enterprise_pack")
PRODUCT_PRICES = np.array([9.00, 39.00, 19.00, 149.00, 499.00])
PRODUCT_SHARES = (0.47, 0.25, 0.18, 0.095, 0.005)
PAYMENT_METHODS = ("card", "paypal", "apple_pay", "google_pay", "bank_transfer")
PAYMENT_SHARES = (0.55, 0.20, 0.12, 0.08, 0.05)

# Monday .. Sunday: a tool used at work, so weekends are clearly quieter.
WEEKDAY_FACTORS = np.array([1.08, 1.12, 1.12, 1.08, 1.00, 0.78, 0.82])
YEARLY_AMPLITUDE = 0.18
YEARLY_PEAK_DAY_OF_YEAR = 344  # mid-December peak, mid-June trough
# UTC hour profile of activity: busiest mid-afternoon UTC (Europe and the Americas both awake).
HOUR_WEIGHTS = 1.0 + 0.6 * np.cos(2 * np.pi * (np.arange(24) - 15) / 24)
HOUR_PROBABILITIES = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()
NIGHT_HOURS = 6  # hours 00-05 UTC count as night: payments fail a little more often

SHAPES = ("growing", "decaying", "flat")
DECAYING_SIGNUP_DAYS = 30  # a decaying store acquires all its customers in its first month
# A flat store acquires its base in the first month too, then signs up this share of that month's
# daily rate, which about replaces the customers who drop out (measured on the default store).
FLAT_SIGNUP_RATE = 0.07

# Purchase model (BG/NBD-like), rates per operational day.
BUYER_SHARE = 0.88  # the rest sign up and never buy
RATE_SHAPE = 0.8
RATE_MEAN = 0.12
DROPOUT_ALPHA = 1.1
DROPOUT_BETA = 12.0
IMMEDIATE_FIRST_PURCHASE = 0.55  # share of buyers who buy within the hour of signing up
IMMEDIATE_DELAY_DAYS = 0.02
LATER_DELAY_DAYS = 8.0

# Transaction outcomes: completed, refunded, failed; the rest is cancelled.
COMPLETED_SHARE, COMPLETED_SHARE_NIGHT = 0.86, 0.83
REFUNDED_SHARE = 0.04
FAILED_SHARE, FAILED_SHARE_NIGHT = 0.06, 0.09
PENDING_WINDOW_US = 2 * US_PER_DAY
PENDING_AT_END = 0.6  # chance that a payment started right at the end of the data is still pending
REFUND_MEAN_DAYS = 3.0
PROMO_CODE_USAGE = 0.85

# Funnel: pass-through after visit for returning sessions (upload, checkout, payment_initiated,
# payment_completed); new visitors go through signup first.
PASS_THROUGH = (0.60, 0.55, 0.85, 0.90)
PAYMENT_COMPLETION_NIGHT = 0.82
SIGNUP_SHARE_OF_NEW_VISITORS = 0.40
BOUNCES_PER_SIGNUP = (1 - SIGNUP_SHARE_OF_NEW_VISITORS) / SIGNUP_SHARE_OF_NEW_VISITORS
# Median seconds from the previous event to entering each stage (visit has no previous event).
STAGE_GAP_MEDIAN_S = np.array([0.0, 70.0, 150.0, 100.0, 15.0, 8.0])
STAGE_GAP_SIGMA = 0.8
SIGNUP_PATH = np.array([0, 1, 2, 3, 4, 5], dtype=np.int8)
RETURNING_PATH = np.array([0, 2, 3, 4, 5, 5], dtype=np.int8)  # signup skipped; the last slot is never reached
BOUNCE, SIGNUP_SESSION, RETURNING = 0, 1, 2
SESSION_LEAD_MEAN_DAYS = 1.0  # returning sessions happen around a purchase, mostly the day before

# Costs, relative to the mean daily gross revenue of the whole window, so that the store starts in
# the red and turns profitable at any size.
COST_CATEGORIES = ("infrastructure", "payment_fees", "support", "salaries", "other")
SALARY_SHARE = 0.55
SALARY_RAISE_EVERY_MONTHS = 6
SALARY_RAISE = 1.08
INFRA_BASE_SHARE = 0.06
INFRA_VOLUME_SHARE = 0.05
INFRA_WINDOW_DAYS = 28
PAYMENT_FEE_RATE = 0.029
PAYMENT_FEE_FIXED = 0.30
SUPPORT_PER_ORDER = 1.10
SUPPORT_BASE_SHARE = 0.02
OTHER_SHARE = 0.03

CALIBRATION_CUSTOMERS = 20_000
CALIBRATION_END_DATE = dt.date(2025, 12, 31)

TABLES = ("customers", "transactions", "funnel_events", "costs", "marketing_spend", "exchange_rates")
TIMESTAMP = pa.timestamp("us")
SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("signup_at", TIMESTAMP),
            ("acquisition_channel", pa.string()),
            ("country", pa.string()),
        ]
    ),
    "transactions": pa.schema(
        [
            ("transaction_id", pa.string()),
            ("customer_id", pa.string()),
            ("created_at", TIMESTAMP),
            ("completed_at", TIMESTAMP),
            ("status", pa.string()),
            ("amount", pa.float64()),
            ("currency", pa.string()),
            ("product", pa.string()),
            ("payment_method", pa.string()),
            ("promo_code", pa.string()),
            ("updated_at", TIMESTAMP),
        ]
    ),
    "funnel_events": pa.schema(
        [
            ("event_id", pa.string()),
            ("session_id", pa.string()),
            ("customer_id", pa.string()),
            ("stage", pa.string()),
            ("occurred_at", TIMESTAMP),
        ]
    ),
    "costs": pa.schema(
        [("cost_date", pa.date32()), ("category", pa.string()), ("amount", pa.float64()), ("currency", pa.string())]
    ),
    "marketing_spend": pa.schema(
        [("spend_date", pa.date32()), ("channel", pa.string()), ("amount", pa.float64()), ("currency", pa.string())]
    ),
    "exchange_rates": pa.schema([("rate_date", pa.date32()), ("currency", pa.string()), ("rate", pa.float64())]),
}
DICTIONARY_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("acquisition_channel", "country"),
    "transactions": ("customer_id", "status", "currency", "product", "payment_method", "promo_code"),
    "funnel_events": ("customer_id", "stage"),
    "costs": ("category", "currency"),
    "marketing_spend": ("channel", "currency"),
    "exchange_rates": ("currency",),
}
STATUS = {name: index for index, name in enumerate(TRANSACTION_STATUSES)}


@dataclass(frozen=True)
class SampleStoreSpec:
    """What to generate: the same spec always gives the same store."""

    seed: int = 42
    days: int = 730
    customers: int = 4000
    end_date: dt.date | None = None  # last day of data; None = yesterday (UTC)
    sessions_per_order: float = 2.5  # funnel sessions generated per expected order
    shape: str = "growing"  # how signups run over the window: one of SHAPES

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.days, int) or self.days < 1:
            raise ValueError(f"days must be an integer >= 1, got {self.days!r}")
        if not isinstance(self.customers, int) or self.customers < 1:
            raise ValueError(f"customers must be an integer >= 1, got {self.customers!r}")
        if self.end_date is not None and (
            not isinstance(self.end_date, dt.date) or isinstance(self.end_date, dt.datetime)
        ):
            raise ValueError(f"end_date must be a datetime.date or None, got {self.end_date!r}")
        if (
            not isinstance(self.sessions_per_order, int | float)
            or not np.isfinite(self.sessions_per_order)
            or self.sessions_per_order <= 0
        ):
            raise ValueError(f"sessions_per_order must be a finite number > 0, got {self.sessions_per_order!r}")
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {self.shape!r}")


DEFAULT_SPEC = SampleStoreSpec()


@dataclass(frozen=True)
class Promotion:
    """A sale: orders jump by ``lift`` and buyers who enter ``code`` pay ``discount`` less."""

    code: str
    first_day: dt.date
    last_day: dt.date
    lift: float
    discount: float


@dataclass(frozen=True, eq=False)
class Calendar:
    """Per-day facts of the window that every block shares."""

    start_date: dt.date
    days: int
    promotions: tuple[Promotion, ...]
    promotion_of_day: np.ndarray  # index into promotions, -1 on ordinary days
    purchase_intensity: np.ndarray  # multiplier of every active customer's purchase rate
    signup_weights: np.ndarray  # relative number of signups per day
    usd_per_unit: np.ndarray  # (currency, day): the latest published rate of each of CURRENCIES on the day
    rate_published: np.ndarray  # days whose rates are published: weekdays, and the first day
    operational_start: np.ndarray = field(init=False)  # operational time at each midnight, days + 1 values

    def __post_init__(self) -> None:
        object.__setattr__(self, "operational_start", np.concatenate([[0.0], np.cumsum(self.purchase_intensity)]))

    @property
    def start_us(self) -> int:
        """First microsecond of the window (naive UTC, since the epoch)."""
        return (self.start_date - EPOCH).days * US_PER_DAY

    @property
    def end_us(self) -> int:
        """First microsecond after the window."""
        return self.start_us + self.days * US_PER_DAY

    @property
    def end_date(self) -> dt.date:
        """Last day of the window."""
        return self.start_date + dt.timedelta(days=self.days - 1)


@dataclass(eq=False)
class DayTotals:
    """What the day-level tables need from the blocks, accumulated as blocks are written."""

    gross: np.ndarray  # amount of completed and refunded transactions, by created day
    orders: np.ndarray  # count of completed and refunded transactions, by created day

    @classmethod
    def empty(cls, days: int) -> DayTotals:
        """Zero totals for a window of ``days`` days."""
        return cls(np.zeros(days), np.zeros(days))


def _rng(seed: int, stream: int, block: int = 0) -> np.random.Generator:
    """The generator of one (seed, stream, block): independent of every other combination."""
    return np.random.default_rng([seed, stream, block])


# --- calendar -------------------------------------------------------------------------------------


def _thanksgiving(year: int) -> dt.date:
    """US Thanksgiving: the fourth Thursday of November."""
    first = dt.date(year, 11, 1)
    return first + dt.timedelta(days=(3 - first.weekday()) % 7 + 21)


def _promotions_of_year(rng: np.random.Generator, year: int) -> list[Promotion]:
    """Black Friday week, a spring sale and two short flash sales in random months."""
    yy = year % 100
    black_friday = _thanksgiving(year) + dt.timedelta(days=1)
    spring_start = dt.date(year, 3, 15) + dt.timedelta(days=int(rng.integers(0, 28)))
    promotions = [
        Promotion(
            f"BLACKFRIDAY{yy:02d}",
            black_friday - dt.timedelta(days=3),
            black_friday + dt.timedelta(days=3),
            float(rng.uniform(2.0, 2.5)),
            0.30,
        ),
        Promotion(
            f"SPRING{yy:02d}", spring_start, spring_start + dt.timedelta(days=4), float(rng.uniform(1.5, 2.0)), 0.25
        ),
    ]
    for month in sorted(rng.choice([2, 6, 8, 10], size=2, replace=False)):
        start = dt.date(year, int(month), int(rng.integers(5, 20)))
        length = int(rng.integers(3, 6))
        promotions.append(
            Promotion(
                f"FLASH{yy:02d}{int(month):02d}",
                start,
                start + dt.timedelta(days=length - 1),
                float(rng.uniform(1.5, 2.0)),
                float(rng.choice([0.20, 0.25])),
            )
        )
    return promotions


def _signup_growth(day_index: np.ndarray, shape: str) -> np.ndarray:
    """Signup trend of the store's shape (module docstring)."""
    if shape == "decaying":
        return np.where(day_index < DECAYING_SIGNUP_DAYS, 1.0, 0.0)
    if shape == "flat":
        return np.where(day_index < DECAYING_SIGNUP_DAYS, 1.0, FLAT_SIGNUP_RATE)
    years = day_index / 365.0
    return np.where(years < 1.0, 0.2 + 1.8 * years, 2.0 + 0.5 * (years - 1.0))


def _build_calendar(seed: int, end_date: dt.date, days: int, shape: str = "growing") -> Calendar:
    """Seasonality, promotions and growth of every day of the window."""
    start_date = end_date - dt.timedelta(days=days - 1)
    dates = np.arange(np.datetime64(start_date, "D"), np.datetime64(end_date, "D") + 1)
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1
    yearly = 1.0 + YEARLY_AMPLITUDE * np.cos(2 * np.pi * (day_of_year - YEARLY_PEAK_DAY_OF_YEAR) / 365.25)

    rng = _rng(seed, STREAM_CALENDAR)
    kept: list[Promotion] = []
    promotion_of_day = np.full(days, -1)
    for year in range(start_date.year, end_date.year + 1):
        for promotion in _promotions_of_year(rng, year):
            first = max((promotion.first_day - start_date).days, 0)
            last = min((promotion.last_day - start_date).days, days - 1)
            if first <= last:
                promotion_of_day[first : last + 1] = len(kept)
                kept.append(promotion)

    lifts = np.array([promotion.lift for promotion in kept] + [1.0])[promotion_of_day]
    seasonal = WEEKDAY_FACTORS[weekday] * yearly
    # Promotions bring some new signups too, but mostly pull existing customers' purchases forward.
    signup_weights = _signup_growth(np.arange(days), shape) * seasonal * (1.0 + 0.5 * (lifts - 1.0))
    published, usd_per_unit = _exchange_rates(_rng(seed, STREAM_RATES), weekday)
    return Calendar(
        start_date, days, tuple(kept), promotion_of_day, seasonal * lifts, signup_weights, usd_per_unit, published
    )


def _exchange_rates(rng: np.random.Generator, weekday: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which days publish rates (weekdays, as central banks do, and the first day so that every order
    has one) and each currency's latest published rate on every day: a weekend order is converted
    with Friday's rate, as the pipeline's as-of rule does."""
    days = weekday.size
    log_deviation = np.zeros((len(CURRENCIES) - 1, days))
    shocks = rng.normal(0.0, RATE_DAILY_SIGMA, size=log_deviation.shape)
    for day in range(1, days):
        log_deviation[:, day] = RATE_REVERSION * log_deviation[:, day - 1] + shocks[:, day]
    daily = np.round(LIST_RATES[1:, None] * np.exp(log_deviation), RATE_DECIMALS)
    published = weekday < 5
    published[0] = True
    latest_published = np.maximum.accumulate(np.where(published, np.arange(days), 0))
    return published, np.vstack([np.ones(days), daily[:, latest_published]])


def _to_operational(calendar: Calendar, day_offset: np.ndarray) -> np.ndarray:
    """Operational time (cumulative intensity) at fractional days since the window start."""
    day = np.clip(day_offset.astype(np.int64), 0, calendar.days - 1)
    return calendar.operational_start[day] + calendar.purchase_intensity[day] * (day_offset - day)


def _day_of_operational(calendar: Calendar, operational: np.ndarray) -> np.ndarray:
    """Index of the day during which operational time reaches ``operational``."""
    day = np.searchsorted(calendar.operational_start, operational, side="right") - 1
    return np.clip(day, 0, calendar.days - 1)


def _time_of_day_us(rng: np.random.Generator, size: int) -> np.ndarray:
    """Microseconds after midnight following the hourly activity profile (never exactly midnight)."""
    hours = rng.choice(24, size=size, p=HOUR_PROBABILITIES)
    return hours * US_PER_HOUR + rng.integers(US_PER_SECOND, US_PER_HOUR, size=size)


def _lognormal_us(rng: np.random.Generator, median_seconds: np.ndarray | float, size: int) -> np.ndarray:
    """Positive delays in whole microseconds, at least one second, with the given median."""
    seconds = median_seconds * rng.lognormal(0.0, STAGE_GAP_SIGMA, size=size)
    return np.maximum(seconds * US_PER_SECOND, US_PER_SECOND).astype(np.int64)


# --- customers and purchases ----------------------------------------------------------------------


def _signup_times(rng: np.random.Generator, calendar: Calendar, customers: int) -> np.ndarray:
    """Sorted signup instants (µs) of all customers, so customer ids follow signup order."""
    counts = rng.multinomial(customers, calendar.signup_weights / calendar.signup_weights.sum())
    day = np.repeat(np.arange(calendar.days), counts)
    return np.sort(calendar.start_us + day * US_PER_DAY + _time_of_day_us(rng, customers))


def _purchase_times(
    rng: np.random.Generator, calendar: Calendar, signup_us: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(position of the buyer in ``signup_us``, created_at µs) of every purchase, in buyer order.

    While active a customer buys as a Poisson process of its own rate in operational time; after
    each purchase it drops out for good with its own probability (BG/NBD). Purchases after the
    window are cut off.
    """
    size = signup_us.size
    rate = rng.gamma(RATE_SHAPE, RATE_MEAN / RATE_SHAPE, size=size)
    dropout = rng.beta(DROPOUT_ALPHA, DROPOUT_BETA, size=size)
    buyer = rng.random(size) < BUYER_SHARE
    first_delay = np.where(
        rng.random(size) < IMMEDIATE_FIRST_PURCHASE,
        rng.exponential(IMMEDIATE_DELAY_DAYS, size=size),
        rng.exponential(LATER_DELAY_DAYS, size=size),
    )
    signup_operational = _to_operational(calendar, (signup_us - calendar.start_us) / US_PER_DAY)
    remaining = calendar.operational_start[-1] - signup_operational
    # Purchases until dropout, capped well above what the rest of the window could hold, so a
    # near-zero dropout does not make us draw thousands of purchases that would be cut off anyway.
    expected = rate * remaining
    cap = np.ceil(expected + 5.0 * np.sqrt(expected) + 5.0).astype(np.int64)
    purchases = np.where(buyer, np.minimum(rng.geometric(dropout), cap), 0)

    owner = np.repeat(np.arange(size), purchases)
    first_index = np.cumsum(purchases) - purchases
    gaps = rng.exponential(1.0, size=owner.size) / rate[owner]
    has_purchases = purchases > 0
    starts = first_index[has_purchases]
    gaps[starts] = first_delay[has_purchases]
    # One cumulative sum for the whole block, restarted per customer by subtracting its offset.
    running = np.cumsum(gaps)
    since_signup = running - np.repeat(running[starts] - gaps[starts], purchases[has_purchases])
    operational = signup_operational[owner] + since_signup
    inside = operational < calendar.operational_start[-1]
    owner, operational = owner[inside], operational[inside]

    day = _day_of_operational(calendar, operational)
    created_us = calendar.start_us + day * US_PER_DAY + _time_of_day_us(rng, owner.size)
    # A purchase on the signup day at an hour before the signup moves to just after it.
    early = created_us <= signup_us[owner]
    created_us[early] = signup_us[owner[early]] + _lognormal_us(rng, 600.0, int(early.sum()))
    inside = created_us < calendar.end_us
    return owner[inside], created_us[inside]


# --- Arrow helpers --------------------------------------------------------------------------------


def _format_ids(prefix: str, numbers: np.ndarray, min_width: int, valid: np.ndarray | None = None) -> pa.Array:
    """Zero-padded ids such as ``C0000042`` (one-letter prefix), without a Python string per row.

    Adding 10**width makes Arrow's integer-to-text cast produce exactly width + 1 digits with a
    leading "1", which is then overwritten with the prefix letter in the raw byte buffer.
    """
    largest = int(numbers.max()) if numbers.size else 0
    width = max(min_width, len(str(largest)))
    text = pa.array(numbers.astype(np.int64) + 10**width).cast(pa.string())
    _, offsets, data = text.buffers()
    chars = np.frombuffer(data, dtype=np.uint8, count=numbers.size * (width + 1)).copy()
    chars[:: width + 1] = ord(prefix)
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.string(), numbers.size, [bitmap, offsets, pa.py_buffer(chars)])


def _labels(values: Sequence[str | None], index: np.ndarray) -> pa.Array:
    """``values[index]`` as a plain string column (None entries become nulls)."""
    return pa.array(values, pa.string()).take(pa.array(index))


def _timestamps(us: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Naive UTC ``timestamp[us]`` column from microseconds since the epoch."""
    return pa.array(us.view("datetime64[us]"), TIMESTAMP, mask=None if valid is None else ~valid)


def _constant(value: str, size: int) -> pa.Array:
    """A string column holding ``value`` on every row."""
    return _labels([value], np.zeros(size, dtype=np.int64))


def _write_part(table: pa.Table, out_dir: Path, name: str, part: int) -> None:
    """Write one part file of ``name`` with the documented column types."""
    pq.write_table(
        table.cast(SCHEMAS[name]),
        out_dir / name / f"part-{part:05d}.parquet",
        compression="zstd",
        # Dictionary encoding only pays off for repeated values; unique ids would just slow writing.
        use_dictionary=list(DICTIONARY_COLUMNS[name]),
    )


# --- blocks ---------------------------------------------------------------------------------------


def _currency_of_customers(customers: pa.Table) -> np.ndarray:
    """Index into CURRENCIES of the currency each customer pays in, by their country."""
    index = {country: CURRENCIES.index(currency) for country, currency in CURRENCY_OF_COUNTRY.items()}
    return np.array([index.get(country, 0) for country in customers.column("country").to_pylist()], dtype=np.int64)


def _customers_table(rng: np.random.Generator, first_number: int, signup_us: np.ndarray) -> pa.Table:
    """Customers numbered from ``first_number``, with their acquisition channel and country."""
    size = signup_us.size
    return pa.table(
        {
            "customer_id": _format_ids("C", np.arange(first_number, first_number + size), 7),
            "signup_at": _timestamps(signup_us),
            "acquisition_channel": _labels(CHANNELS, rng.choice(len(CHANNELS), size=size, p=CHANNEL_SHARES)),
            "country": _labels(COUNTRIES, rng.choice(len(COUNTRIES), size=size, p=COUNTRY_SHARES)),
        }
    )


def _statuses(rng: np.random.Generator, night: np.ndarray) -> np.ndarray:
    """Outcome of each payment attempt; failures are a bit more common at night."""
    draw = rng.random(night.size)
    completed = np.where(night, COMPLETED_SHARE_NIGHT, COMPLETED_SHARE)
    failed = np.where(night, FAILED_SHARE_NIGHT, FAILED_SHARE)
    status = np.full(night.size, STATUS["cancelled"])
    status[draw < completed + REFUNDED_SHARE + failed] = STATUS["failed"]
    status[draw < completed + REFUNDED_SHARE] = STATUS["refunded"]
    status[draw < completed] = STATUS["completed"]
    return status


def _transactions_table(
    rng: np.random.Generator,
    calendar: Calendar,
    *,
    customer_numbers: np.ndarray,
    currency: np.ndarray,
    created_us: np.ndarray,
    first_number: int,
    totals: DayTotals,
) -> pa.Table:
    """One row per purchase, in created order, in the buyer's currency; adds the block's money (in USD at
    the day's rate, as the pipeline converts it) to ``totals``."""
    order = np.argsort(created_us, kind="stable")
    customer_numbers, currency, created_us = customer_numbers[order], currency[order], created_us[order]
    size = created_us.size
    day = (created_us - calendar.start_us) // US_PER_DAY
    hour = (created_us % US_PER_DAY) // US_PER_HOUR

    product = rng.choice(len(PRODUCTS), size=size, p=PRODUCT_SHARES)
    # Most buyers on a promotion day enter its code; the index past the last promotion means none.
    promotion_index = calendar.promotion_of_day[day]
    uses_code = (promotion_index >= 0) & (rng.random(size) < PROMO_CODE_USAGE)
    code_index = np.where(uses_code, promotion_index, len(calendar.promotions))
    discounts = np.array([promotion.discount for promotion in calendar.promotions] + [0.0])
    usd_price = np.round(PRODUCT_PRICES[product] * (1.0 - discounts[code_index]), 2)
    amount = np.round(usd_price / LIST_RATES[currency], 2)
    in_usd = np.round(amount * calendar.usd_per_unit[currency, day], 2)

    status = _statuses(rng, hour < NIGHT_HOURS)
    completed_us = created_us + _lognormal_us(rng, 15.0, size)
    refund_us = (
        completed_us + US_PER_HOUR + (rng.exponential(REFUND_MEAN_DAYS, size=size) * US_PER_DAY).astype(np.int64)
    )
    # What the store looks like at the end of the window: refunds not yet made are still completed,
    # and payments started in the last two days may still be pending.
    status[(status == STATUS["refunded"]) & (refund_us >= calendar.end_us)] = STATUS["completed"]
    age = calendar.end_us - created_us
    pending = (age < PENDING_WINDOW_US) & (rng.random(size) < PENDING_AT_END * (1.0 - age / PENDING_WINDOW_US))
    pending |= (completed_us >= calendar.end_us) & (status != STATUS["failed"]) & (status != STATUS["cancelled"])
    status[pending] = STATUS["pending"]

    refunded = status == STATUS["refunded"]
    paid = (status == STATUS["completed"]) | refunded
    updated_us = np.where(refunded, refund_us, np.where(paid, completed_us, created_us))
    totals.gross += np.bincount(day[paid], weights=in_usd[paid], minlength=calendar.days)
    totals.orders += np.bincount(day[paid], minlength=calendar.days)

    codes = [promotion.code for promotion in calendar.promotions] + [None]
    return pa.table(
        {
            "transaction_id": _format_ids("T", np.arange(first_number, first_number + size), 9),
            "customer_id": _format_ids("C", customer_numbers, 7),
            "created_at": _timestamps(created_us),
            "completed_at": _timestamps(completed_us, paid),
            "status": _labels(TRANSACTION_STATUSES, status),
            "amount": amount,
            "currency": _labels(CURRENCIES, currency),
            "product": _labels(PRODUCTS, product),
            "payment_method": _labels(PAYMENT_METHODS, rng.choice(len(PAYMENT_METHODS), size=size, p=PAYMENT_SHARES)),
            "promo_code": _labels(codes, code_index),
            "updated_at": _timestamps(updated_us),
        }
    )


@dataclass(frozen=True, eq=False)
class Sessions:
    """Funnel sessions of a block, in visit order, before they are expanded into events."""

    kind: np.ndarray  # BOUNCE, SIGNUP_SESSION or RETURNING
    customer: np.ndarray  # position in the block, -1 for anonymous visitors
    visit_us: np.ndarray  # time of the session's first event
    signup_lead_us: np.ndarray  # visit -> signup delay of signup sessions, 0 for the others


def _block_sessions(
    rng: np.random.Generator,
    calendar: Calendar,
    *,
    signup_us: np.ndarray,
    owner: np.ndarray,
    created_us: np.ndarray,
    sessions_per_order: float,
) -> Sessions:
    """Signup sessions, anonymous bounces and returning sessions around purchases.

    Signup sessions and bounces (new visitors) come first; the rest of the block's budget of
    ``sessions_per_order`` x orders is spread over the purchases as returning sessions.
    """
    customers = signup_us.size
    # The signup session ends at the customer's signup_at; its visit stays inside the window.
    signup_lead_us = np.minimum(
        _lognormal_us(rng, STAGE_GAP_MEDIAN_S[FUNNEL_STAGES.index("signup")], customers),
        (signup_us - calendar.start_us) // 2,
    )
    bounces = rng.poisson(BOUNCES_PER_SIGNUP, size=customers)
    bounce_day = np.repeat((signup_us - calendar.start_us) // US_PER_DAY, bounces)
    bounce_us = calendar.start_us + bounce_day * US_PER_DAY + _time_of_day_us(rng, bounce_day.size)

    new_visitor_sessions = customers + bounce_day.size
    per_order = max(sessions_per_order * created_us.size - new_visitor_sessions, 0) / max(created_us.size, 1)
    purchase = np.repeat(np.arange(created_us.size), rng.poisson(per_order, size=created_us.size))
    returning_owner = owner[purchase]
    until_us = created_us[purchase]
    since_us = signup_us[returning_owner]
    returning_us = until_us - (rng.exponential(SESSION_LEAD_MEAN_DAYS, size=purchase.size) * US_PER_DAY).astype(
        np.int64
    )
    # A session cannot come before the customer exists: those fall between signup and purchase.
    too_early = returning_us <= since_us
    span = until_us[too_early] - since_us[too_early]
    returning_us[too_early] = since_us[too_early] + 1 + (rng.random(span.size) * (span - 1)).astype(np.int64)

    visit_us = np.concatenate([signup_us - signup_lead_us, bounce_us, returning_us])
    order = np.argsort(visit_us, kind="stable")  # session ids follow visit time
    kind = np.concatenate(
        [
            np.full(customers, SIGNUP_SESSION, dtype=np.int8),
            np.full(bounce_day.size, BOUNCE, dtype=np.int8),
            np.full(purchase.size, RETURNING, dtype=np.int8),
        ]
    )
    customer = np.concatenate([np.arange(customers), np.full(bounce_day.size, -1), returning_owner])
    lead = np.concatenate([signup_lead_us, np.zeros(bounce_day.size + purchase.size, dtype=np.int64)])
    return Sessions(kind=kind[order], customer=customer[order], visit_us=visit_us[order], signup_lead_us=lead[order])


def _session_depth(rng: np.random.Generator, sessions: Sessions) -> np.ndarray:
    """Number of events of each session: visit, (signup), then as far as pass-through lets it go.

    Payment completion is a little worse for sessions that start at night.
    """
    size = sessions.kind.size
    night = (sessions.visit_us % US_PER_DAY) < NIGHT_HOURS * US_PER_HOUR
    alive = sessions.kind != BOUNCE
    depth = np.where(sessions.kind == SIGNUP_SESSION, 2, 1)
    for step, chance in enumerate(PASS_THROUGH):
        last_step = step == len(PASS_THROUGH) - 1
        alive &= rng.random(size) < (np.where(night, PAYMENT_COMPLETION_NIGHT, chance) if last_step else chance)
        depth += alive
    return depth


def _funnel_table(
    rng: np.random.Generator,
    calendar: Calendar,
    *,
    sessions: Sessions,
    customer_numbers: np.ndarray,
    first_session: int,
    first_event: int,
) -> tuple[pa.Table, int]:
    """Events of the sessions, session by session, and the number of sessions used."""
    depth = _session_depth(rng, sessions)
    session = np.repeat(np.arange(depth.size, dtype=np.int32), depth)
    first_index = np.cumsum(depth) - depth
    position = (np.arange(session.size) - first_index[session]).astype(np.int8)
    in_signup_session = sessions.kind[session] == SIGNUP_SESSION
    stage = np.where(in_signup_session, SIGNUP_PATH[position], RETURNING_PATH[position])

    gaps = _lognormal_us(rng, STAGE_GAP_MEDIAN_S[stage], session.size)
    gaps[position == 0] = 0
    signup_sessions = sessions.kind == SIGNUP_SESSION
    gaps[first_index[signup_sessions] + 1] = sessions.signup_lead_us[signup_sessions]
    occurred_us = np.cumsum(gaps)
    occurred_us += (sessions.visit_us - occurred_us[first_index])[session]

    # Events after the end of the window have not happened yet; dropping them keeps every
    # session a prefix of its path, because times increase within a session.
    seen = occurred_us < calendar.end_us
    session, position, stage, occurred_us = session[seen], position[seen], stage[seen], occurred_us[seen]
    customer = sessions.customer[session]
    # The visit that leads to a signup is still anonymous.
    known = (customer >= 0) & ~(in_signup_session[seen] & (position == 0))
    table = pa.table(
        {
            "event_id": _format_ids("E", np.arange(first_event, first_event + session.size), 12),
            "session_id": _format_ids("S", first_session + session.astype(np.int64), 11),
            "customer_id": _format_ids("C", customer_numbers[np.maximum(customer, 0)], 7, known),
            "stage": _labels(FUNNEL_STAGES, stage),
            "occurred_at": _timestamps(occurred_us),
        }
    )
    return table, depth.size


# --- day-level tables -----------------------------------------------------------------------------


def _window_dates(calendar: Calendar) -> np.ndarray:
    """Every day of the window as ``datetime64[D]``."""
    return np.arange(np.datetime64(calendar.start_date, "D"), np.datetime64(calendar.end_date, "D") + 1)


def _trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values up to each day (fewer at the start)."""
    running = np.concatenate([[0.0], np.cumsum(values)])
    index = np.arange(values.size)
    low = np.maximum(index + 1 - window, 0)
    return (running[index + 1] - running[low]) / (index + 1 - low)


def _daily_salaries(calendar: Calendar, level: float) -> np.ndarray:
    """A monthly payroll, raised every few months as the team grows, spread over the month's days."""
    months = _window_dates(calendar).astype("datetime64[M]")
    days_in_month = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64)
    month_index = (months - months[0]).astype(np.int64)
    monthly = SALARY_SHARE * level * 30.4 * SALARY_RAISE ** (month_index // SALARY_RAISE_EVERY_MONTHS)
    return monthly / days_in_month


def _costs_table(rng: np.random.Generator, calendar: Calendar, totals: DayTotals) -> pa.Table:
    """One row per day and category. Fixed costs are sized on the window's mean daily gross, so the
    store starts in the red and becomes profitable as revenue grows, whatever the spec's size."""
    level = max(totals.gross.sum() / calendar.days, 1.0)
    by_category = {
        "infrastructure": (
            INFRA_BASE_SHARE * level + INFRA_VOLUME_SHARE * _trailing_mean(totals.gross, INFRA_WINDOW_DAYS)
        )
        * rng.lognormal(0.0, 0.05, size=calendar.days),
        "payment_fees": PAYMENT_FEE_RATE * totals.gross + PAYMENT_FEE_FIXED * totals.orders,
        "support": SUPPORT_PER_ORDER * totals.orders + SUPPORT_BASE_SHARE * level,
        "salaries": _daily_salaries(calendar, level),
        "other": OTHER_SHARE * level * rng.lognormal(0.0, 0.3, size=calendar.days),
    }
    amounts = np.column_stack([by_category[category] for category in COST_CATEGORIES])
    return _day_by_label_table("cost_date", "category", calendar, COST_CATEGORIES, amounts)


def _marketing_table(rng: np.random.Generator, calendar: Calendar, customers: int) -> pa.Table:
    """Spend per paid channel and day: the channel's CAC times the customers it is expected to bring."""
    signups = customers * calendar.signup_weights / calendar.signup_weights.sum()
    paid = tuple(CHANNEL_CAC)
    share = np.array([CHANNEL_SHARES[CHANNELS.index(channel)] for channel in paid])
    cac = np.array([CHANNEL_CAC[channel] for channel in paid])
    amounts = signups[:, None] * share * cac * rng.lognormal(0.0, 0.2, size=(calendar.days, len(paid)))
    return _day_by_label_table("spend_date", "channel", calendar, paid, amounts)


def _exchange_rates_table(calendar: Calendar) -> pa.Table:
    """One row per published day and currency other than USD: its rate to USD."""
    days = np.flatnonzero(calendar.rate_published)
    foreign = np.arange(1, len(CURRENCIES))
    return pa.table(
        {
            "rate_date": pa.array(np.repeat(_window_dates(calendar)[days], foreign.size)),
            "currency": _labels(CURRENCIES, np.tile(foreign, days.size)),
            "rate": calendar.usd_per_unit[foreign][:, days].T.ravel(),
        }
    )


def _day_by_label_table(
    date_column: str, label_column: str, calendar: Calendar, labels: Sequence[str], amounts: np.ndarray
) -> pa.Table:
    """Long table of a (days x labels) amount matrix, day by day."""
    size = amounts.size
    return pa.table(
        {
            date_column: pa.array(np.repeat(_window_dates(calendar), len(labels))),
            label_column: _labels(labels, np.tile(np.arange(len(labels)), calendar.days)),
            "amount": np.round(amounts.ravel(), 2),
            "currency": _constant("USD", size),
        }
    )


# --- orchestration --------------------------------------------------------------------------------


def _default_end_date() -> dt.date:
    """Yesterday in UTC: the last complete day."""
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def sample_store_first_day(out_dir: Path, spec: SampleStoreSpec) -> dt.date:
    """The first day of the sample store in ``out_dir``: from its manifest once it is there, else the
    first day that generating ``spec`` there now would give."""
    manifest = out_dir / MANIFEST_NAME
    if manifest.exists():
        return dt.date.fromisoformat(json.loads(manifest.read_text())["start_date"])
    return (spec.end_date or _default_end_date()) - dt.timedelta(days=spec.days - 1)


def _prepare_folders(out_dir: Path) -> None:
    """Empty table folders, so part files of an earlier, larger run cannot linger.

    The old manifest goes first: it marks a complete store, and an interrupted run must not leave
    one next to half-written tables.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST_NAME).unlink(missing_ok=True)
    for name in TABLES:
        if (out_dir / name).exists():
            shutil.rmtree(out_dir / name)
        (out_dir / name).mkdir()


@dataclass(eq=False)
class Progress:
    """Running counts across blocks: ids continue where the previous block stopped."""

    rows: dict[str, int]
    sessions: int
    totals: DayTotals


def _write_block(
    out_dir: Path,
    spec: SampleStoreSpec,
    calendar: Calendar,
    *,
    block: int,
    first: int,
    signup_us: np.ndarray,
    progress: Progress,
) -> None:
    """Generate and write the customers ``first ..`` with their transactions and funnel events."""
    customer_numbers = np.arange(first + 1, first + 1 + signup_us.size)
    customers = _customers_table(_rng(spec.seed, STREAM_CUSTOMERS, block), first + 1, signup_us)
    owner, created_us = _purchase_times(_rng(spec.seed, STREAM_PURCHASES, block), calendar, signup_us)
    transactions = _transactions_table(
        _rng(spec.seed, STREAM_TRANSACTIONS, block),
        calendar,
        customer_numbers=customer_numbers[owner],
        currency=_currency_of_customers(customers)[owner],
        created_us=created_us,
        first_number=progress.rows["transactions"] + 1,
        totals=progress.totals,
    )
    funnel_rng = _rng(spec.seed, STREAM_FUNNEL, block)
    sessions = _block_sessions(
        funnel_rng,
        calendar,
        signup_us=signup_us,
        owner=owner,
        created_us=created_us,
        sessions_per_order=spec.sessions_per_order,
    )
    funnel, session_count = _funnel_table(
        funnel_rng,
        calendar,
        sessions=sessions,
        customer_numbers=customer_numbers,
        first_session=progress.sessions + 1,
        first_event=progress.rows["funnel_events"] + 1,
    )
    progress.sessions += session_count
    for name, table in (("customers", customers), ("transactions", transactions), ("funnel_events", funnel)):
        _write_part(table, out_dir, name, block)
        progress.rows[name] += table.num_rows


def _block_line(progress: Progress, customers_done: int, customers: int, seconds: float) -> str:
    """One progress line: customers written of all, the block tables' rows so far, and their rate."""
    rows = progress.rows
    written = rows["customers"] + rows["transactions"] + rows["funnel_events"]
    return (
        f"  customers {customers_done:,} of {customers:,} ({customers_done / customers:.0%}): "
        f"{rows['transactions']:,} transactions, {rows['funnel_events']:,} funnel events "
        f"({written / max(seconds, 1e-9):,.0f} rows/s)"
    )


def generate_sample_store(
    out_dir: Path,
    spec: SampleStoreSpec = DEFAULT_SPEC,
    *,
    block_customers: int | None = None,
    report: Callable[[str], None] | None = None,
) -> dict:
    """Write the sample store described by ``spec`` to ``out_dir`` and return its manifest.

    ``block_customers`` (default :data:`BLOCK_CUSTOMERS`) bounds how many customers, with all their
    transactions and funnel events, are in memory at once; each block is one part file per table.
    ``report``, if given, gets a line after each block and each table (rows written, rate): a large
    store takes minutes.
    """
    block_customers = BLOCK_CUSTOMERS if block_customers is None else block_customers
    if not isinstance(block_customers, int) or not 1 <= block_customers <= MAX_BLOCK_CUSTOMERS:
        raise ValueError(f"block_customers must be an integer in 1..{MAX_BLOCK_CUSTOMERS}, got {block_customers!r}")
    out_dir = Path(out_dir)
    end_date = spec.end_date or _default_end_date()
    calendar = _build_calendar(spec.seed, end_date, spec.days, spec.shape)
    signup_us = _signup_times(_rng(spec.seed, STREAM_SIGNUPS), calendar, spec.customers)
    _prepare_folders(out_dir)

    progress = Progress(rows=dict.fromkeys(TABLES, 0), sessions=0, totals=DayTotals.empty(spec.days))
    started = time.perf_counter()
    for block, first in enumerate(range(0, spec.customers, block_customers)):
        block_signups = signup_us[first : first + block_customers]
        _write_block(out_dir, spec, calendar, block=block, first=first, signup_us=block_signups, progress=progress)
        if report is not None:
            report(_block_line(progress, first + block_signups.size, spec.customers, time.perf_counter() - started))

    rows = progress.rows
    for name, table in (
        ("costs", _costs_table(_rng(spec.seed, STREAM_COSTS), calendar, progress.totals)),
        ("marketing_spend", _marketing_table(_rng(spec.seed, STREAM_MARKETING), calendar, spec.customers)),
        ("exchange_rates", _exchange_rates_table(calendar)),
    ):
        _write_part(table, out_dir, name, 0)
        rows[name] = table.num_rows
        if report is not None:
            report(f"  {name}: {table.num_rows:,} rows")

    manifest = {
        "seed": spec.seed,
        "days": spec.days,
        "customers": spec.customers,
        "start_date": calendar.start_date.isoformat(),
        "end_date": calendar.end_date.isoformat(),
        "sessions_per_order": spec.sessions_per_order,
        "shape": spec.shape,
        "rows": {name: rows[name] for name in TABLES},
        "generator_version": GENERATOR_VERSION,
    }
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# --- sizing and CLI -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _transactions_per_customer(days: int) -> float:
    """Mean transactions per customer over ``days``, measured on a fixed simulated cohort."""
    calendar = _build_calendar(0, CALIBRATION_END_DATE, days)
    signup_us = _signup_times(_rng(0, STREAM_SIGNUPS), calendar, CALIBRATION_CUSTOMERS)
    owner, _ = _purchase_times(_rng(0, STREAM_PURCHASES), calendar, signup_us)
    return max(owner.size, 1) / CALIBRATION_CUSTOMERS


def customers_for_transactions(transactions: int, days: int) -> int:
    """How many customers give about ``transactions`` transactions over ``days`` days."""
    if not isinstance(transactions, int) or transactions < 1:
        raise ValueError(f"transactions must be an integer >= 1, got {transactions!r}")
    if not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be an integer >= 1, got {days!r}")
    return max(1, round(transactions / _transactions_per_customer(days)))


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line options; sizes are validated by :class:`SampleStoreSpec`."""
    parser = argparse.ArgumentParser(
        prog="analytics-sample-store", description="Generate the VectorCraft sample store as Parquet part files."
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write the tables and manifest to")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SPEC.seed, help="seed of the generator: the same seed, the same store"
    )
    parser.add_argument(
        "--days",
        type=int,
        default=DEFAULT_SPEC.days,
        help=f"days of data, ending --end-date (default {DEFAULT_SPEC.days})",
    )
    parser.add_argument(
        "--customers", type=int, default=DEFAULT_SPEC.customers, help=f"customers (default {DEFAULT_SPEC.customers:,})"
    )
    parser.add_argument(
        "--end-date",
        type=dt.date.fromisoformat,
        default=None,
        help="last day of data, YYYY-MM-DD (default: yesterday, UTC)",
    )
    parser.add_argument(
        "--shape",
        choices=SHAPES,
        default=DEFAULT_SPEC.shape,
        help="how the store's customers arrive: growing (default), decaying (one cohort at the start) or flat",
    )
    parser.add_argument(
        "--transactions", type=int, default=None, help="size by transactions instead: overrides --customers"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; prints one line of row counts."""
    args = _parse_args(argv)
    started = time.perf_counter()
    try:
        customers = args.customers
        if args.transactions is not None:
            customers = customers_for_transactions(args.transactions, args.days)
        spec = SampleStoreSpec(
            seed=args.seed, days=args.days, customers=customers, end_date=args.end_date, shape=args.shape
        )
        manifest = generate_sample_store(args.out, spec, report=print)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{name}={count:,}" for name, count in manifest["rows"].items())
    print(
        f"sample store {manifest['start_date']}..{manifest['end_date']} in {args.out}: {counts} "
        f"({time.perf_counter() - started:.1f}s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
