"""The incremental models against full builds: nightly runs on top of a backfill, and a reload of an
old day that loses its events, leave every mart as a full build from scratch over the same source
does; so do random sequences of reference-date moves, reloads, emptied days, events that come days
after the rest of their session, stage changes and full refreshes on a tiny store."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
from dbt.cli.main import dbtRunner

from pipelines.defs.project import DBT_PROJECT_DIR
from pipelines.settings import Settings
from pipelines.source_schema import SOURCE_TABLES
from pipelines.sources.raw_tables import LOAD_LOG_DDL, create_raw_table
from tests.support.mart_comparison import mart_differences
from tests.support.pipeline_runs import (
    DBT_MODELS,
    INGEST,
    SAMPLE_FIRST_DAY,
    SAMPLE_SPEC,
    isolated_settings,
    query,
    run_pipeline,
)

INGEST_AND_DBT = INGEST | DBT_MODELS
LAST_DAY = SAMPLE_SPEC.end_date
BOOKKEEPING = {
    "staging.stg_customers": ("_last_load_id",),
    "intermediate.funnel_sessions": ("_reference_date", "_last_load_id", "_build_number"),
    "intermediate.int_customer_orders": ("_reference_date", "_last_load_id", "_build_number"),
    "intermediate.int_order_days": ("_last_load_id",),
    "intermediate.int_customer_purchase_months": ("_reference_date", "_last_load_id", "_build_number"),
    "intermediate.int_customer_months": ("_customers_build_number", "_purchase_months_build_number"),
    "intermediate.int_customer_product_months": ("_purchase_months_build_number",),
    "intermediate.int_product_days": ("_last_load_id",),
    "intermediate.int_payment_hours": ("_last_load_id",),
    "intermediate.int_funnel_days": ("_funnel_build_number",),
    "intermediate.int_funnel_stage_times": ("_funnel_build_number",),
}
"""Columns that say which build wrote a row: they differ between builds by design."""
FLOAT_TOLERANCE = 1e-12
"""Relative: the same sums over rows in another order differ in the last bits, and no more."""


def differences(actual: Settings, expected: Settings) -> list[str]:
    """Where the marts of ``actual`` differ from those of ``expected``, the bookkeeping left out."""
    return mart_differences(actual, expected, left_out=BOOKKEEPING, rel_tol=FLOAT_TOLERANCE)


def full_build(tmp_path: Path, source: Path, name: str) -> Settings:
    settings = isolated_settings(tmp_path / name, source)
    run_pipeline(settings, SAMPLE_FIRST_DAY, LAST_DAY, selection=INGEST_AND_DBT)
    return settings


def drop_funnel_events_of(source: Path, day: dt.date) -> None:
    """Rewrite the source's funnel events without those of ``day``."""
    folder = source / "funnel_events"
    kept = source / "funnel_events_kept.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * from read_parquet('{folder}/*.parquet') where cast(occurred_at as date) <> ?) "
            f"to '{kept}' (format parquet)",
            [day],
        )
    shutil.rmtree(folder)
    folder.mkdir()
    kept.rename(folder / "part-00000.parquet")


def test_nightly_runs_and_a_reload_leave_the_marts_as_a_full_build_does(sample_store, tmp_path):
    source = tmp_path / "store"
    shutil.copytree(sample_store, source)
    nightly = isolated_settings(tmp_path / "nightly", source)
    run_pipeline(nightly, SAMPLE_FIRST_DAY, LAST_DAY - dt.timedelta(days=2), selection=INGEST_AND_DBT)
    for day in (LAST_DAY - dt.timedelta(days=1), LAST_DAY):
        run_pipeline(nightly, day, day, selection=INGEST_AND_DBT)

    assert query(nightly, "select max(_build_number) from intermediate.funnel_sessions") == [(3,)]
    assert differences(nightly, full_build(tmp_path, source, "full")) == []

    # A day reloaded without any of its events: its sessions go, and the sessions that went on
    # into the next day start on that next day.
    emptied = LAST_DAY - dt.timedelta(days=10)
    sessions_on = "select count(*) from intermediate.funnel_sessions where session_date = ?"
    ((sessions_of_the_day,),) = query(nightly, sessions_on, [emptied])
    drop_funnel_events_of(source, emptied)
    run_pipeline(nightly, emptied, emptied, selection=INGEST_AND_DBT)

    assert sessions_of_the_day > 0
    assert query(nightly, sessions_on, [emptied]) == [(0,)]
    assert query(nightly, "select count(*) from intermediate.funnel_sessions where started_at is null") == [(0,)]
    full_after_reload = full_build(tmp_path, source, "full_after_reload")
    assert differences(nightly, full_after_reload) == []

    # The dbt step's full_refresh (make run over every day) builds funnel_sessions afresh.
    run_pipeline(nightly, LAST_DAY, LAST_DAY, selection=INGEST_AND_DBT, full_refresh=True)
    assert query(nightly, "select distinct _build_number from intermediate.funnel_sessions") == [(1,)]
    assert differences(nightly, full_after_reload) == []


def test_a_nightly_run_after_the_funnel_stages_changed_rebuilds_every_session(sample_store, tmp_path):
    before = isolated_settings(tmp_path / "nightly", sample_store)
    run_pipeline(before, SAMPLE_FIRST_DAY, LAST_DAY - dt.timedelta(days=1), selection=INGEST_AND_DBT)
    # Signup leaves the funnel: its column goes, and every stored session's stages are counted anew.
    stages = ("visit", "upload", "checkout", "payment_initiated", "payment_completed")
    after = isolated_settings(tmp_path / "nightly", sample_store, marts={"funnel_stages": stages})
    run_pipeline(after, LAST_DAY, LAST_DAY, selection=INGEST_AND_DBT)

    full = isolated_settings(tmp_path / "full", sample_store, marts={"funnel_stages": stages})
    run_pipeline(full, SAMPLE_FIRST_DAY, LAST_DAY, selection=INGEST_AND_DBT)
    assert query(after, "select distinct _funnel_stages from intermediate.funnel_sessions") == [(",".join(stages),)]
    assert differences(after, full) == []


# --- random sequences on a tiny store, the incremental model against a full build after each step ---

SEQUENCES = 30
STEPS_PER_SEQUENCE = 2
STORE_DAYS = [dt.date(2025, 1, 1) + dt.timedelta(days=offset) for offset in range(8)]
DEFAULT_STAGES = ("visit", "signup", "upload", "checkout", "payment_initiated", "payment_completed")
OTHER_STAGES = ("visit", "upload", "checkout", "payment_completed")
"""The stage change a step may make (and undo): signup and payment_initiated leave the funnel."""
TIMEZONES = ("UTC", "America/New_York")
"""The store time zones a step switches between: late UTC events and orders fall on the day before
in New York."""
STEP_WEIGHTS = {
    "reference_back": 3,
    "reference_forward": 3,
    "reload_day": 2,
    "empty_day": 1,
    "late_event": 2,
    "change_stages": 1,
    "change_timezone": 1,
    "full_refresh": 1,
}
"""How often each kind of step is drawn: the reference-date moves most, since a stage change or a
full refresh recomputes everything and so hides what the steps before it left wrong."""
TINY_RAW_DDL = """
create schema if not exists raw;
create table raw.transactions (
    transaction_id varchar, customer_id varchar, created_at timestamp, completed_at timestamp, status varchar,
    amount double, original_amount decimal(18, 2), original_currency varchar, exchange_rate decimal(18, 10),
    product varchar, payment_method varchar, promo_code varchar, updated_at timestamp
);
create table raw.funnel_events (
    event_id varchar, session_id varchar, customer_id varchar, stage varchar, occurred_at timestamp
);
"""


def other(pair: tuple, current: object) -> object:
    """The value of ``pair`` that ``current`` is not: a step's switch of a setting."""
    return pair[1] if current == pair[0] else pair[0]


class TinyWarehouse:
    """A tiny warehouse driven step by step with the dbt models of ``models`` run in this process,
    and compared with what a full build of them gives over the same upstream tables.

    Each setting that dbt gets as a var (``settings()``) has its own target folder, so that dbt
    parses the project once per setting, not at every step."""

    models: tuple[str, ...] = ()
    """The models a step builds, in this order."""
    compared: tuple[str, ...] = ()
    """The incremental ones among them, compared with a full build."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "tiny.duckdb"
        self.compiled: dict[tuple[object, str], str] = {}
        self.dbt = dbtRunner()

    def settings(self) -> dict[str, object]:
        """The dbt vars of the current step besides the warehouse's path."""
        return {}

    def dbt_args(self, command: str) -> list[str]:
        settings = self.settings()
        target = self.folder / f"target_{abs(hash(json.dumps(settings, sort_keys=True)))}"
        dbt_vars = {"warehouse_path": str(self.path), **settings}
        folders = [
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
        ]
        # One thread: without the populated relation cache, models built side by side trip dbt's
        # cache ("Cache inconsistency detected").
        return [command, *folders, "--vars", json.dumps(dbt_vars), "--quiet", "--no-populate-cache", "--threads", "1"]

    def build(self, full_refresh: bool = False, select: tuple[str, ...] | None = None) -> None:
        result = self.dbt.invoke(
            [*self.dbt_args("run"), "--select", *(select or self.models), *(["--full-refresh"] if full_refresh else [])]
        )
        assert result.success, result.exception

    def full_build_sql(self, model: str) -> str:
        """The model's SQL as a full build compiles it, once per setting: what is read from the data
        (the funnel's reference date) holds for every step."""
        key = (json.dumps(self.settings(), sort_keys=True), model)
        if key not in self.compiled:
            result = self.dbt.invoke([*self.dbt_args("compile"), "--select", model, "--full-refresh"])
            assert result.success, result.exception
            self.compiled[key] = result.result.results[0].node.compiled_code
        return self.compiled[key]

    def differences(self, model: str) -> tuple[list[tuple], list[tuple]]:
        """The stored rows of ``model`` and a full build's over the same upstream tables, the
        bookkeeping left out: equal when all is well. Columns are matched by name: a stage added
        back is a column added at the end of the table."""
        table = next(name for name in BOOKKEEPING if name.split(".")[1] == model)
        bookkeeping = ", ".join(BOOKKEEPING[table])
        with duckdb.connect(str(self.path)) as con:
            full = con.execute(f"select * exclude ({bookkeeping}) from ({self.full_build_sql(model)}) order by all")
            columns = [column[0] for column in full.description]
            full_rows = full.fetchall()
            stored = con.execute(f"select {', '.join(columns)} from {table} order by all")
            return stored.fetchall(), full_rows


FUNNEL_MODELS = ("funnel_sessions", "funnel_session_stages", "int_funnel_days", "int_funnel_stage_times")
"""The incremental funnel models and the view between them, built at every step in this order."""
INCREMENTAL_FUNNEL_MODELS = ("funnel_sessions", "int_funnel_days", "int_funnel_stage_times")


class TinyFunnelStore(TinyWarehouse):
    """A warehouse of a few funnel sessions a day, whose steps build the incremental funnel models.

    The reference date is the day of its only transaction, so that moving it changes data, not
    vars: dbt then parses the project once per stage list."""

    models = ("stg_funnel_events", *FUNNEL_MODELS)
    """The staging view too: its days are the store time zone's."""
    compared = INCREMENTAL_FUNNEL_MODELS

    def __init__(self, folder: Path, rng: random.Random) -> None:
        super().__init__(folder)
        self.rng = rng
        self.stages = DEFAULT_STAGES
        self.timezone = TIMEZONES[0]
        self.reloads = 0
        self.source: dict[dt.date, list[tuple]] = {day: self.new_sessions(day) for day in STORE_DAYS}
        """The shop's events by the day their session started."""
        with duckdb.connect(str(self.path)) as con:
            con.execute(TINY_RAW_DDL)
            con.execute(LOAD_LOG_DDL)
        self.load_days(STORE_DAYS)
        self.set_reference_date(STORE_DAYS[-1])
        self.build(full_refresh=True, select=("stg_transactions", "stg_funnel_events", *FUNNEL_MODELS))

    def new_sessions(self, day: dt.date) -> list[tuple]:
        """Events of 0 to 3 sessions starting on ``day`` (a new draw each time); a session that
        starts late may go on past midnight into the next day: at 23:00 UTC, or at 04:00 UTC, 23:00
        the day before in New York."""
        self.reloads += 1
        events = []
        for number in range(self.rng.randint(0, 3)):
            session = f"{day:%m%d}-{self.reloads}-{number}"
            at = dt.datetime.combine(day, dt.time(self.rng.choice([4, 9, 12, 15, 18, 23]), self.rng.randint(0, 59)))
            for stage in DEFAULT_STAGES[: self.rng.randint(1, len(DEFAULT_STAGES))]:
                if stage == "signup" and self.rng.random() < 0.3:
                    continue  # a returning customer skips signup
                events.append((f"{session}-{stage}", session, None, stage, at))
                at += dt.timedelta(minutes=self.rng.randint(1, 50))
        return events

    def load_days(self, days: list[dt.date]) -> None:
        """What an ingest of ``days`` does: replace their events (by the store day each occurred, in
        the current time zone) with the shop's, and log the load, days left empty included."""
        zone = ZoneInfo(self.timezone)
        events = [
            event
            for sessions in self.source.values()
            for event in sessions
            if event[4].replace(tzinfo=dt.UTC).astimezone(zone).date() in days
        ]
        with duckdb.connect(str(self.path)) as con:
            con.execute(
                "delete from raw.funnel_events where cast(timezone(?, timezone('UTC', occurred_at)) as date) in ?",
                [self.timezone, days],
            )
            if events:
                con.executemany("insert into raw.funnel_events values (?, ?, ?, ?, ?)", events)
            con.execute(
                "insert into raw.load_log select (select coalesce(max(load_id), 0) + 1 from raw.load_log), "
                "'funnel_events', unnest(?), 'test', now()",
                [days],
            )

    def add_late_event(self) -> None:
        """A session's event that comes one to three days after its other events, and the load of
        that day alone: the session's stored events lie on days that no load since has touched."""
        started = [day for day, events in self.source.items() if events]
        if not started:
            return
        day = self.rng.choice(started)
        session = self.rng.choice(self.source[day])[1]
        last = max(event[4] for event in self.source[day] if event[1] == session)
        at = last + dt.timedelta(days=self.rng.randint(1, 3), minutes=self.rng.randint(1, 50))
        self.reloads += 1
        self.source[day].append((f"{session}-late-{self.reloads}", session, None, self.rng.choice(DEFAULT_STAGES), at))
        self.load_days([at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(self.timezone)).date()])

    def set_reference_date(self, day: dt.date) -> None:
        self.reference_date = day
        with duckdb.connect(str(self.path)) as con:
            con.execute("delete from raw.transactions")
            con.execute(
                "insert into raw.transactions values "
                "('T1', 'C1', ?, ?, 'completed', 1.0, 1.0, 'USD', 1, 'p', 'card', null, ?)",
                [dt.datetime.combine(day, dt.time(12))] * 3,
            )

    def settings(self) -> dict[str, object]:
        return {"funnel_stages": list(self.stages), "store_timezone": self.timezone}

    def step(self, kind: str) -> str:
        """Apply one step of ``kind`` to the source (or the settings) and build incrementally."""
        if kind == "reference_back":
            earlier = [day for day in STORE_DAYS if day < self.reference_date]
            self.set_reference_date(self.rng.choice(earlier or [self.reference_date]))
        elif kind == "reference_forward":
            later = [day for day in STORE_DAYS if day > self.reference_date]
            self.set_reference_date(self.rng.choice(later or [self.reference_date]))
        elif kind in ("reload_day", "empty_day"):
            # The shop's sessions of a day change (or go), and that day and the next are loaded again.
            day = self.rng.choice(STORE_DAYS)
            self.source[day] = self.new_sessions(day) if kind == "reload_day" else []
            self.load_days([day, day + dt.timedelta(days=1)])
        elif kind == "late_event":
            self.add_late_event()
        elif kind == "change_stages":
            self.stages = OTHER_STAGES if self.stages == DEFAULT_STAGES else DEFAULT_STAGES
        elif kind == "change_timezone":
            self.timezone = other(TIMEZONES, self.timezone)
        self.build(full_refresh=kind == "full_refresh")
        return f"{kind} (reference date {self.reference_date}, stages {len(self.stages)}, {self.timezone})"


def check_random_sequences(
    store: TinyFunnelStore | TinyOrderStore, rng: random.Random, sequences: int, weights: dict[str, int]
) -> None:
    """Drive ``store`` through ``sequences`` sequences of random steps (kinds drawn by ``weights``);
    after each step, every incremental model of the store equals a full build over the stored
    models it reads, themselves equal to a full build (checked first). Every sequence starts from
    the state the previous one left, which the check after its last step showed right."""
    for sequence in range(sequences):
        done = []
        for _ in range(STEPS_PER_SEQUENCE):
            done.append(store.step(rng.choices(list(weights), weights=list(weights.values()))[0]))
            for model in store.compared:
                stored, full = store.differences(model)
                assert stored == full, f"{model}: sequence {sequence} after {done}"


def test_random_sequences_of_loads_and_reference_date_moves_leave_the_funnel_models_as_a_full_build(tmp_path):
    rng = random.Random(18)
    check_random_sequences(TinyFunnelStore(tmp_path, rng), rng, SEQUENCES, STEP_WEIGHTS)


# --- random sequences on a tiny shop's orders: int_customer_orders against a full build ---

ORDER_SEQUENCES = 20
ORDER_DAYS = [dt.date(2025, 1, 30), dt.date(2025, 1, 31), dt.date(2025, 2, 1), dt.date(2025, 2, 2), dt.date(2025, 3, 1)]
"""Days in three months, so that a change of one month's margin leaves the others' alone."""
CUSTOMERS = ("C1", "C2", "C3", "C4")
COST_CATEGORIES = ("infrastructure", "payment_fees", "salaries")
"""Costs of revenue (the first two) and other costs: a month's margin moves with the first."""
CHANNELS = ("organic", "email", None)
"""A customer's recorded channel; None: the shop has no record of the customer (a guest)."""
PRODUCTS = ("plan", "addon", None)
"""An order's product; None: the source does not say (the 'unknown' product's)."""
PAYMENT_METHODS = ("card", "paypal", None)
"""An order's payment method; None: the source does not say."""
ORDER_STEP_WEIGHTS = {
    "reference_back": 2,
    "reference_forward": 2,
    "reload_orders": 3,
    "empty_orders": 2,
    "new_day": 2,
    "new_signup": 1,
    "reload_costs": 2,
    "change_customer": 1,
    "change_horizons": 1,
    "change_timezone": 1,
    "change_cost_of_revenue": 1,
    "full_refresh": 1,
}
"""Reloads of old days move customers' first orders (and so their cohorts) back and forth, or take
them away; emptied days remove every order of a day; costs change a month's margin; the LTV
horizons split a customer's months anew; the time zone moves orders to other days; the costs of
revenue change every month's margin; a new day's orders and a guest's record signed up on a new
day are what a night adds."""
COST_OF_REVENUE = (["payment_fees", "infrastructure"], ["salaries"])
"""The var cost_of_revenue_categories a step switches between: the default, and one that turns
the tiny shop's margins around."""
LTV_HORIZONS = ([30, 90, 180, 365], [2, 30])
"""The LTV horizons a step switches between: the default, and one that splits the tiny shop's
days (ORDER_DAYS lie 0 to 30 days apart)."""


class TinyOrderStore(TinyWarehouse):
    """A shop of four customers with a few orders a day (of two products and two payment methods)
    and a few costs, whose steps build the incremental order models (with the tables they read).
    The reference date and the LTV horizons are vars: one parse per combination."""

    compared = (
        "stg_customers",
        "int_customer_purchase_months",
        "int_customer_orders",
        "int_customer_months",
        "int_customer_product_months",
        "int_order_days",
        "int_product_days",
        "int_payment_hours",
    )
    models = ("stg_transactions", "int_paid_orders", "int_monthly_margins", *compared)
    """The staging views of the time zone's days too (dbt runs them in the order of the project's lineage)."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        super().__init__(folder)
        self.rng = rng
        self.reloads = 0
        self.reference_date = ORDER_DAYS[-1]
        self.ltv_horizons = LTV_HORIZONS[0]
        self.timezone = TIMEZONES[0]
        self.cost_of_revenue = COST_OF_REVENUE[0]
        self.orders = {day: self.new_orders(day) for day in ORDER_DAYS}
        self.costs = {day: self.new_costs(day) for day in ORDER_DAYS}
        self.channels = {customer: rng.choice(CHANNELS) for customer in CUSTOMERS}
        self.signup_days = dict.fromkeys(CUSTOMERS, ORDER_DAYS[0])
        self.last_day = ORDER_DAYS[-1]
        with duckdb.connect(str(self.path)) as con:
            for table in ("transactions", "customers", "costs", "marketing_spend"):
                create_raw_table(con, SOURCE_TABLES[table])
        self.load("transactions", ORDER_DAYS)
        self.load("costs", ORDER_DAYS)
        self.load_customers()
        staging = ("stg_transactions", "stg_customers", "stg_costs", "stg_marketing_spend")
        self.build(full_refresh=True, select=(*staging, *self.models))

    def settings(self) -> dict[str, object]:
        return {
            "reference_date": self.reference_date.isoformat(),
            "ltv_horizons_days": self.ltv_horizons,
            "store_timezone": self.timezone,
            "cost_of_revenue_categories": self.cost_of_revenue,
        }

    def new_orders(self, day: dt.date) -> list[tuple]:
        """0 to 3 orders of random customers on ``day`` (a new draw each time), some failed or refunded."""
        self.reloads += 1
        return [
            (
                f"T{self.reloads}-{number}",
                self.rng.choice(CUSTOMERS),
                # Before 05:00 UTC the order is on the day before in New York: on the first of a
                # month, in the month before.
                dt.datetime.combine(day, dt.time(self.rng.randint(0, 23), self.rng.randint(0, 59))),
                self.rng.choice(["completed", "completed", "completed", "refunded", "failed"]),
                Decimal(self.rng.choice(["9.99", "25.00", "120.50"])),
                self.rng.choice(PRODUCTS),
                self.rng.choice(PAYMENT_METHODS),
            )
            for number in range(self.rng.randint(0, 3))
        ]

    def new_costs(self, day: dt.date) -> list[tuple]:
        return [
            (
                self.rng.choice(COST_CATEGORIES),
                Decimal(self.rng.choice(["5.00", "40.00"])),
            )
            for _ in range(self.rng.randint(0, 2))
        ]

    def load(self, table: str, days: list[dt.date]) -> None:
        """What an ingest of ``days`` of ``table`` does: replace their rows (the orders by the store day
        each was placed, in the current time zone) and log the load."""
        with duckdb.connect(str(self.path)) as con:
            if table == "transactions":
                con.execute(
                    "delete from raw.transactions where cast(timezone(?, timezone('UTC', created_at)) as date) in ?",
                    [self.timezone, days],
                )
                for orders in self.orders.values():
                    for transaction_id, customer, at, status, amount, product, method in orders:
                        store_day = at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(self.timezone)).date()
                        if store_day not in days:
                            continue
                        con.execute(
                            "insert into raw.transactions (transaction_id, customer_id, created_at, completed_at, "
                            "status, amount, currency, product, payment_method, _partition_date, _run_id, "
                            "_loaded_at) values (?, ?, ?, ?, ?, ?, 'USD', ?, ?, ?, 'test', now())",
                            [transaction_id, customer, at, at, status, amount, product, method, store_day],
                        )
            else:
                con.execute(f"delete from raw.{table} where _partition_date in ?", [days])
                for day in days:
                    for category, amount in self.costs[day]:
                        con.execute(
                            "insert into raw.costs (cost_date, category, amount, currency, _partition_date, _run_id, "
                            "_loaded_at) values (?, ?, ?, 'USD', ?, 'test', now())",
                            [day, category, amount, day],
                        )
            con.execute(
                "insert into raw.load_log select (select coalesce(max(load_id), 0) + 1 from raw.load_log), "
                "?, unnest(?), 'test', now()",
                [table, days],
            )

    def load_customers(self, days: list[dt.date] | None = None) -> None:
        """The shop's customer records of their signup days ``days`` (every signup day by default)
        loaded again."""
        days = days or sorted(set(self.signup_days.values()))
        with duckdb.connect(str(self.path)) as con:
            con.execute("delete from raw.customers where _partition_date in ?", [days])
            for customer, channel in self.channels.items():
                signup_day = self.signup_days[customer]
                if channel is not None and signup_day in days:
                    con.execute(
                        "insert into raw.customers values (?, ?, ?, 'DE', ?, 'test', now())",
                        [customer, dt.datetime.combine(signup_day, dt.time(0)), channel, signup_day],
                    )
            con.execute(
                "insert into raw.load_log select (select coalesce(max(load_id), 0) + 1 from raw.load_log), "
                "'customers', unnest(?), 'test', now()",
                [days],
            )

    def next_day(self) -> dt.date:
        """A day after every day loaded so far."""
        self.last_day += dt.timedelta(days=1)
        return self.last_day

    def step(self, kind: str) -> str:
        """Apply one step of ``kind`` to the shop (or the reference date) and build incrementally."""
        day = self.rng.choice(ORDER_DAYS)
        if kind == "reference_back":
            self.reference_date = self.rng.choice(
                [d for d in ORDER_DAYS if d < self.reference_date] or [self.reference_date]
            )
        elif kind == "reference_forward":
            self.reference_date = self.rng.choice(
                [d for d in ORDER_DAYS if d > self.reference_date] or [self.reference_date]
            )
        elif kind in ("reload_orders", "empty_orders"):
            # The shop's orders of a UTC day change (or go): its store days in any of the time
            # zones are loaded again.
            self.orders[day] = self.new_orders(day) if kind == "reload_orders" else []
            self.load("transactions", [day - dt.timedelta(days=1), day])
        elif kind == "new_day":
            day = self.next_day()
            self.orders[day] = self.new_orders(day)
            self.load("transactions", [day])
        elif kind == "new_signup":
            # A guest's record comes, signed up on a new day (the ingest keeps an id on one day).
            guests = [customer for customer, channel in self.channels.items() if channel is None]
            if guests:
                customer, day = self.rng.choice(guests), self.next_day()
                self.channels[customer] = self.rng.choice([channel for channel in CHANNELS if channel is not None])
                self.signup_days[customer] = day
                self.load_customers([day])
        elif kind == "reload_costs":
            self.costs[day] = self.new_costs(day)
            self.load("costs", [day])
        elif kind == "change_customer":
            self.channels[self.rng.choice(CUSTOMERS)] = self.rng.choice(CHANNELS)
            self.load_customers()
        elif kind == "change_horizons":
            self.ltv_horizons = other(LTV_HORIZONS, self.ltv_horizons)
        elif kind == "change_timezone":
            self.timezone = other(TIMEZONES, self.timezone)
        elif kind == "change_cost_of_revenue":
            self.cost_of_revenue = other(COST_OF_REVENUE, self.cost_of_revenue)
        self.build(full_refresh=kind == "full_refresh")
        return f"{kind} of {day} ({self.settings()})"


def test_random_sequences_of_order_and_cost_changes_leave_the_order_models_as_a_full_build(tmp_path):
    rng = random.Random(21)
    check_random_sequences(TinyOrderStore(tmp_path, rng), rng, ORDER_SEQUENCES, ORDER_STEP_WEIGHTS)


def test_nightly_builds_after_the_time_zone_or_the_costs_of_revenue_changed_recompute_every_row(tmp_path):
    """Without a full refresh: every stored row computed with the old var is recomputed, as the
    `_settings` column says, and each incremental model equals a full build."""
    store = TinyOrderStore(tmp_path, random.Random(7))
    with duckdb.connect(str(store.path)) as con:
        con.execute(
            "insert into raw.transactions (transaction_id, customer_id, created_at, completed_at, status, amount, "
            "currency, product, _partition_date, _run_id, _loaded_at) values ('late', 'C1', ?, ?, 'completed', "
            "10, 'USD', 'plan', ?, 'test', now())",
            [dt.datetime(2025, 2, 1, 2), dt.datetime(2025, 2, 1, 2), dt.date(2025, 2, 1)],
        )
    store.build()
    late_order_day = "select order_date from staging.stg_transactions where transaction_id = 'late'"
    first_days_before = query_tiny(store, late_order_day)

    store.step("change_timezone")
    assert query_tiny(store, late_order_day) == [(dt.date(2025, 1, 31),)] != first_days_before, (
        "a UTC night order falls on the day before in New York"
    )
    for step in (None, "change_cost_of_revenue"):
        if step:
            store.step(step)
        for model in store.compared:
            stored, full = store.differences(model)
            assert stored == full, (step, model)
    settings = {
        model: query_tiny(store, f"select distinct _settings from intermediate.{model}")
        for model in ("int_customer_orders", "int_order_days")
    }
    new_york = '"store_timezone": "America/New_York"'
    assert settings == {
        "int_customer_orders": [(f'{{"cost_of_revenue_categories": ["salaries"], {new_york}}}',)],
        "int_order_days": [(f"{{{new_york}}}",)],
    }


def test_a_new_margin_reaches_the_customer_of_a_months_order_placed_on_the_next_utc_day(tmp_path):
    """In New York, an order at 02:00 UTC on 1 March is on 28 February: its load, then a change of
    February's costs, recompute that customer's contribution with February's margin, as a full
    build does."""
    store = TinyOrderStore(tmp_path, random.Random(7))
    store.step("change_timezone")
    night_order = ("T-night", "C5", dt.datetime(2025, 3, 1, 2), "completed", Decimal("25.00"), "plan", "card")
    store.orders[dt.date(2025, 3, 1)].append(night_order)
    order_month = "select order_month from intermediate.int_paid_orders where transaction_id = 'T-night'"
    contribution = "select gross_margin_contribution from intermediate.int_customer_orders where customer_id = 'C5'"
    contributions = []
    for table, day in (("transactions", dt.date(2025, 2, 28)), ("costs", dt.date(2025, 2, 2))):
        if table == "costs":
            store.costs[day].append(("payment_fees", Decimal("40.00")))
        store.load(table, [day])
        store.build()
        for model in store.compared:
            stored, full = store.differences(model)
            assert stored == full, (table, model)
        contributions.append(query_tiny(store, contribution))
    assert query_tiny(store, order_month) == [(dt.date(2025, 2, 1),)]
    assert len(contributions[0]) == 1 and contributions[1] != contributions[0], "February's margin moved"


def query_tiny(store: TinyWarehouse, sql: str) -> list[tuple]:
    with duckdb.connect(str(store.path)) as con:
        return con.execute(sql).fetchall()
