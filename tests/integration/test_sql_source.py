"""The SQL source: the shop's own database, SQLite and a real PostgreSQL server, pulled incrementally.

PostgreSQL is Debian's ``postgresql`` package (``.ci/run`` installs it): a module fixture starts a
private server on a free loopback port in a temp dir and stops it at the end. The shop holds the
session's sample store, so the warehouse built from its files is the session's
``sample_warehouse``; each database's warehouse is built once per module; tests that change a shop
or a warehouse change their own copies.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import AssetSelection, ExecuteInProcessResult

from pipelines.cli.run import source_day_range
from pipelines.sample_store.usd_amounts import in_usd
from pipelines.settings import Settings
from pipelines.source_schema import SOURCE_TABLES
from pipelines.sources.database import shop_connection
from pipelines.sources.files import SourceError
from pipelines.sources.mapping import MappingError
from pipelines.sources.raw_tables import describe_days
from pipelines.warehouse.store_calendar import day_ranges
from tests.integration.test_currency import CONVERTED, CURRENCY_MAX_AGE_DAYS, CURRENCY_WINDOW, write_currency_store
from tests.integration.test_ingest import JAN_1, JAN_2, PLANTED
from tests.integration.test_store_timezone import ORDERS as NEW_YORK_ORDERS
from tests.support.csv_store import GOOD_TRANSACTIONS, transaction, write_store
from tests.support.loopback_servers import free_port
from tests.support.mart_comparison import mart_differences, mart_tables
from tests.support.pipeline_runs import (
    DBT_MODELS,
    INGEST,
    SAMPLE_FIRST_DAY,
    SAMPLE_SPEC,
    isolated_settings,
    query,
    run_pipeline,
)

FIRST_DAY = SAMPLE_FIRST_DAY
LAST_DAY = SAMPLE_SPEC.end_date
NEXT_DAY = LAST_DAY + dt.timedelta(days=1)
# Every raw table and every dbt model: what the marts comparison needs, no ml or serving.
WAREHOUSE = INGEST | DBT_MODELS
# The ingest assets and revenue_daily with what it needs (stg_customers: the relationships test).
REVENUE = INGEST | AssetSelection.assets(["marts", "revenue_daily"], ["staging", "stg_customers"]).upstream()
TRANSACTIONS = AssetSelection.assets(["raw", "transactions"])
LOOKBACK_DAYS = 3
# revenue_daily's columns that depend on the day's own orders only (growth and new customers
# also look at other days).
DAY_COLUMNS = (
    "gross_revenue",
    "refunds",
    "net_revenue",
    "orders",
    "refunded_orders",
    "failed_orders",
    "attempted_orders",
    "promo_orders",
    "paying_customers",
)
PASSWORD = "Shop-Pw-7f3a91"
CHUNK_ROWS = 100  # the smallest chunk allowed: every table is read in several chunks
# The shop keeps money as numeric and updated_at as a time with zone, as shops do.
SHOP_TYPES: dict[str, dict[str, sa.types.TypeEngine]] = {
    "transactions": {"amount": sa.Numeric(18, 2), "updated_at": sa.DateTime(timezone=True)},
    "costs": {"amount": sa.Numeric(18, 2)},
    "marketing_spend": {"amount": sa.Numeric(18, 2)},
}


# --- a private PostgreSQL server -----------------------------------------------------------------


@dataclass(frozen=True)
class PostgresServer:
    """A running PostgreSQL server of this module; user ``shop`` with :data:`PASSWORD`."""

    port: int

    def url(self, database: str, password: str | None = PASSWORD) -> sa.URL:
        return sa.URL.create(
            "postgresql+psycopg",
            username="shop",
            password=password,
            host="127.0.0.1",
            port=self.port,
            database=database,
        )

    def create_database(self, name: str, template: str | None = None) -> sa.URL:
        """A new database, a copy of ``template`` if given."""
        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        copy_of = f' template "{template}"' if template else ""
        with engine.connect() as conn:
            conn.execute(sa.text(f'create database "{name}"{copy_of}'))
        engine.dispose()
        return self.url(name)


def _postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin/ folder."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if not found:
        pytest.fail("PostgreSQL is not installed: apt-get install -y postgresql (.ci/run does it)")
    return found[-1].parent


def _as_server_user(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: as root, run them as the package's user.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server on a free loopback port, in a temp dir, password authentication over TCP.

    Its own time zone is New York, so that the tests show the pipeline reads in UTC regardless.
    """
    bin_dir = _postgres_bin()
    # Not under pytest's tmp_path: its parent folders are private to the user running the tests.
    home = Path(tempfile.mkdtemp(prefix="sql_pg_"))
    data = home / "data"
    (home / "password").write_text(PASSWORD)
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
        shutil.chown(home / "password", "postgres")
    try:
        _run(
            _as_server_user(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", "shop", f"--pwfile={home / 'password'}"]
                + ["--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C"]
            )
        )
        port = free_port()
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c timezone=America/New_York -c fsync=off"
        pg_ctl = str(bin_dir / "pg_ctl")
        _run(_as_server_user([pg_ctl, "-D", str(data), "-l", str(home / "server.log"), "-o", options, "-w", "start"]))
        try:
            yield PostgresServer(port=port)
        finally:
            _run(_as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]))
    finally:
        shutil.rmtree(home)


# --- shops and warehouses ------------------------------------------------------------------------


@dataclass(frozen=True)
class Shop:
    """A shop database holding the sample store, and how to make a private copy of it."""

    url: sa.URL
    copy: Callable[[str], sa.URL]


def write_shop(url: sa.URL, tables: dict[str, pd.DataFrame], types: dict[str, dict] | None = None) -> sa.URL:
    """Create the shop's tables from ``tables`` (pandas ``to_sql``)."""
    engine = sa.create_engine(url)
    try:
        for name, frame in tables.items():
            frame.to_sql(name, engine, index=False, dtype=(types or {}).get(name))
    finally:
        engine.dispose()
    return url


def sample_tables(store: Path) -> dict[str, pd.DataFrame]:
    """The sample store's tables; ``updated_at`` as UTC times with zone."""
    tables = {name: pd.read_parquet(store / name) for name in SOURCE_TABLES}
    tables["transactions"]["updated_at"] = tables["transactions"]["updated_at"].dt.tz_localize("UTC")
    return tables


def csv_tables(store: Path) -> dict[str, pd.DataFrame]:
    """The tables of a CSV store as text, every value as the file has it (SQLite keeps anything); an
    empty cell is NULL, as it is to DuckDB's CSV reader. An optional table the store lacks, the shop lacks too."""
    return {name: pd.read_csv(path, dtype=str) for name in SOURCE_TABLES if (path := store / f"{name}.csv").exists()}


def sql_settings(data_dir: Path, url: sa.URL, **source: object) -> Settings:
    """Settings of a warehouse in ``data_dir`` pulling from the database at ``url``, with some other
    fields of the source section (``lookback_days``, ``mapping``) set."""
    return Settings().updated(
        warehouse={"data_dir": data_dir, "warehouse_path": data_dir / "warehouse.duckdb"},
        source={
            "kind": "sql",
            "url": url.render_as_string(hide_password=False),
            "chunk_rows": CHUNK_ROWS,
            **source,
        },
    )


def copy_warehouse(built: Settings, data_dir: Path, url: sa.URL, **source: object) -> Settings:
    """Settings of a copy of ``built``'s warehouse, pulling from ``url``."""
    settings = sql_settings(data_dir, url, **source)
    data_dir.mkdir(parents=True)
    shutil.copy(built.warehouse_file, settings.warehouse_file)
    return settings


@pytest.fixture(scope="module")
def shop_store(sample_store: Path) -> Path:
    """The store the shop's database holds: the session's sample store (120 days, 400 customers)."""
    return sample_store


@pytest.fixture(scope="module")
def files_warehouse(sample_warehouse: Settings) -> Settings:
    """The whole pipeline built from the shop store's files (the session's, shared with the other
    test modules; only read): what every database must give too."""
    return sample_warehouse


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shop(request: pytest.FixtureRequest, shop_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """The sample store in the shop's database: a SQLite file, or a database of the PostgreSQL server."""
    tables = sample_tables(shop_store)
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("sqlite_shop")
        url = write_shop(sa.URL.create("sqlite", database=str(folder / "shop.db")), tables, SHOP_TYPES)

        def copy_sqlite(name: str) -> sa.URL:
            shutil.copy(folder / "shop.db", folder / f"{name}.db")
            return sa.URL.create("sqlite", database=str(folder / f"{name}.db"))

        return Shop(url=url, copy=copy_sqlite)
    server: PostgresServer = request.getfixturevalue("postgres")
    url = write_shop(server.create_database("shop"), tables, SHOP_TYPES)
    return Shop(url=url, copy=lambda name: server.create_database(name, template="shop"))


@pytest.fixture(scope="module")
def sql_warehouse(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The raw tables and every dbt model built from the shop's database over the whole sample,
    as the files warehouse was, once per database."""
    settings = sql_settings(tmp_path_factory.mktemp("sql_warehouse"), shop.url)
    run_pipeline(settings, FIRST_DAY, LAST_DAY, selection=WAREHOUSE)
    return settings


def raw_rows(settings: Settings, table: str) -> list[tuple]:
    """The source columns and partition day of every row of ``raw.<table>``, sorted."""
    columns = ", ".join(f'"{name}"' for name in SOURCE_TABLES[table].column_names)
    return query(settings, f"select {columns}, _partition_date from raw.{table} order by all")


def revenue_by_day(settings: Settings) -> dict[dt.date, tuple]:
    """revenue_daily's day-own figures, by day."""
    rows = query(settings, f"select revenue_date, {', '.join(DAY_COLUMNS)} from marts.revenue_daily")
    return {day: tuple(round(value, 2) for value in figures) for day, *figures in rows}


# --- the same warehouse as from files ------------------------------------------------------------


def test_the_database_gives_the_same_warehouse_as_the_files(files_warehouse, sql_warehouse):
    for table in SOURCE_TABLES:
        assert raw_rows(sql_warehouse, table) == raw_rows(files_warehouse, table), table
    assert query(sql_warehouse, "select count(*) from raw.rejected_rows") == [(0,)]
    marts = mart_tables(files_warehouse)
    assert mart_tables(sql_warehouse) == marts
    assert {"marts.revenue_daily", "marts.customer_rfm", "marts.kpi_summary", "intermediate.funnel_sessions"} <= set(
        marts
    )
    assert mart_differences(sql_warehouse, files_warehouse) == []


def test_postgresql_sessions_count_days_in_utc(postgres):
    # The server's own zone is New York: day bounds compared with timestamptz columns must be UTC midnights.
    with shop_connection(postgres.url("postgres")) as shop_db:
        assert shop_db.execute(sa.text("show timezone")).scalar() == "UTC"


def test_make_run_finds_the_days_of_the_database(shop, files_warehouse, tmp_path):
    first, last = source_day_range(sql_settings(tmp_path, shop.url))

    assert (first, last) == source_day_range(files_warehouse)
    assert last == LAST_DAY


# --- the nightly run: changed days are replaced whole --------------------------------------------

CHANGED_AT = dt.datetime.combine(NEXT_DAY, dt.time(10, 0))


def read_shop_table(url: sa.URL, table: str = "transactions") -> pd.DataFrame:
    """A table of the shop as it is now (by default its transactions)."""
    engine = sa.create_engine(url)
    try:
        return pd.read_sql_table(table, engine)
    finally:
        engine.dispose()


def change_the_shop(url: sa.URL) -> set[dt.date]:
    """What happens in the shop on NEXT_DAY; returns the days whose orders changed.

    An order of LAST_DAY - 20 is refunded, a pending order completes late, an order of
    LAST_DAY - 5 arrives late (synced today) and two new orders are placed today. Every changed
    row gets updated_at = the moment of the change.
    """
    orders = read_shop_table(url)
    day = orders["created_at"].dt.date
    refunded = orders[(orders["status"] == "completed") & (day == LAST_DAY - dt.timedelta(days=20))].iloc[0]
    pending = orders[orders["status"] == "pending"].iloc[0]
    changed_at_utc = CHANGED_AT.replace(tzinfo=dt.UTC)
    new_order = {
        "customer_id": refunded["customer_id"],
        "status": "completed",
        "amount": 19,
        "currency": "USD",
        "product": "pro_monthly",
        "payment_method": "card",
        "promo_code": None,
    }
    late_order_at = dt.datetime.combine(LAST_DAY - dt.timedelta(days=5), dt.time(12, 0))
    new_orders = [
        {**new_order, "transaction_id": "T-LATE", "created_at": late_order_at, "completed_at": late_order_at},
        *(
            {**new_order, "transaction_id": f"T-NEW{n}", "created_at": at, "completed_at": at}
            for n, at in enumerate((CHANGED_AT - dt.timedelta(hours=2), CHANGED_AT - dt.timedelta(hours=1)))
        ),
    ]
    engine = sa.create_engine(url)
    transactions = sa.Table("transactions", sa.MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(
            transactions.update()
            .where(transactions.c.transaction_id == refunded["transaction_id"])
            .values(status="refunded", updated_at=changed_at_utc)
        )
        conn.execute(
            transactions.update()
            .where(transactions.c.transaction_id == pending["transaction_id"])
            .values(status="completed", completed_at=CHANGED_AT, updated_at=changed_at_utc)
        )
        conn.execute(transactions.insert(), [{**order, "updated_at": changed_at_utc} for order in new_orders])
    engine.dispose()
    return {LAST_DAY - dt.timedelta(days=20), pending["created_at"].date(), late_order_at.date(), NEXT_DAY}


def cents(amount: float) -> Decimal:
    """A sum of the shop's amounts as the warehouse's decimal(18, 2) holds it."""
    return Decimal(f"{amount:.2f}")


def revenue_computed_from_the_shop(url: sa.URL, days: set[dt.date]) -> dict[dt.date, tuple]:
    """revenue_daily's day-own figures of ``days``, computed from the shop's orders directly.

    Paid = completed or refunded; gross = paid amounts, refunds = refunded amounts, net =
    completed amounts, all on the day the order was created, in USD (the shop's EUR and GBP orders
    converted with its exchange rates, in pandas).
    """
    orders = in_usd(read_shop_table(url), read_shop_table(url, "exchange_rates"))
    orders["day"] = orders["created_at"].dt.date
    figures = {}
    for day, of_day in orders[orders["day"].isin(days)].groupby("day"):
        paid = of_day[of_day["status"].isin(["completed", "refunded"])]
        refunded = of_day[of_day["status"] == "refunded"]
        figures[day] = (
            cents(paid["amount"].sum()),
            cents(refunded["amount"].sum()),
            cents(of_day.loc[of_day["status"] == "completed", "amount"].sum()),
            len(paid),
            len(refunded),
            int((of_day["status"] == "failed").sum()),
            len(of_day),
            int(paid["promo_code"].notna().sum()),
            paid["customer_id"].nunique(),
        )
    return figures


def days_listed(text: str) -> set[dt.date]:
    """The days of a ``describe_days`` text."""
    days = set()
    for part in text.split(", "):
        first, _, last = part.partition(" .. ")
        start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last or first)
        days |= {start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)}
    return days


def test_the_nightly_run_replaces_exactly_the_days_that_changed(shop, sql_warehouse, tmp_path):
    url = shop.copy("nightly")
    settings = copy_warehouse(sql_warehouse, tmp_path / "data", url)
    before = revenue_by_day(sql_warehouse)
    touched = change_the_shop(url)

    result = run_pipeline(settings, NEXT_DAY, NEXT_DAY, selection=REVENUE)

    after = revenue_by_day(settings)
    assert {day for day in after if after[day] != before.get(day)} == touched
    assert {day: after[day] for day in touched} == revenue_computed_from_the_shop(url, touched)
    metadata = result.asset_materializations_for_node("raw__transactions")[0].metadata
    assert touched - {NEXT_DAY} <= days_listed(metadata["days_beyond_window"].value)
    assert metadata["watermark"].value == str(CHANGED_AT)
    orders = len(read_shop_table(url))
    assert query(settings, "select count(*), count(distinct transaction_id) from raw.transactions") == [
        (orders, orders)
    ]

    # The same night again: nothing new, nothing counted twice.
    loaded = {table: raw_rows(settings, table) for table in SOURCE_TABLES}
    run_pipeline(settings, NEXT_DAY, NEXT_DAY, selection=INGEST)
    assert {table: raw_rows(settings, table) for table in SOURCE_TABLES} == loaded


def as_utc(times: pd.Series) -> pd.Series:
    """Times as naive UTC, whether the driver returned them with a zone (PostgreSQL) or without (SQLite)."""
    return times.dt.tz_convert(None) if times.dt.tz is not None else times


def set_order(url: sa.URL, transaction_id: str, **values: object) -> None:
    """Change one order of the shop."""
    engine = sa.create_engine(url)
    transactions = sa.Table("transactions", sa.MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(transactions.update().where(transactions.c.transaction_id == transaction_id).values(**values))
    engine.dispose()


def test_a_late_change_within_the_look_back_is_picked_up_and_one_before_it_is_not(shop, sql_warehouse, tmp_path):
    """The look-back is counted on the change time: each pull reads again the rows whose
    ``updated_at`` is on or after the watermark's day less ANALYTICS_SOURCE_LOOKBACK_DAYS, and
    reloads their days. So a change that reaches the database late, stamped before the latest
    change already loaded (a replica catching up, a long transaction committing), is picked up if
    its time lies in the look-back, and not if it lies before it.

    Two orders of old, otherwise quiet days (no row of theirs changed since the look-back's first
    day, so nothing else reloads them) are refunded with such late stamps, half a day inside and
    half a day outside the look-back; then the nightly run loads NEXT_DAY.
    """
    url = shop.copy("lookback")
    settings = copy_warehouse(sql_warehouse, tmp_path / "data", url, lookback_days=LOOKBACK_DAYS)
    ((watermark,),) = query(
        settings, "select watermark from raw._source_watermarks where source_table = ?", ["transactions"]
    )
    look_back_from = dt.datetime.combine(watermark.date() - dt.timedelta(days=LOOKBACK_DAYS), dt.time())
    orders = read_shop_table(url)
    orders["day"], orders["changed"] = orders["created_at"].dt.date, as_utc(orders["updated_at"])
    assert orders["changed"].notna().all(), "every sample order has a change time"
    # The days reloaded anyway: those of the rows changed on or after the look-back's first day.
    reread_days = set(orders.loc[orders["changed"] >= look_back_from, "day"])
    candidates = orders[(orders["status"] == "completed") & ~orders["day"].isin(reread_days)].sort_values("day")
    inside, outside = candidates.iloc[-1], candidates[candidates["day"] < candidates.iloc[-1]["day"]].iloc[-1]
    half_day = dt.timedelta(hours=12)
    for order, changed_at in ((inside, look_back_from + half_day), (outside, look_back_from - half_day)):
        set_order(url, order["transaction_id"], status="refunded", updated_at=changed_at.replace(tzinfo=dt.UTC))
    before = set(raw_rows(settings, "transactions"))

    result = run_pipeline(settings, NEXT_DAY, NEXT_DAY, selection=TRANSACTIONS)

    after = set(raw_rows(settings, "transactions"))
    changed_ids = {row[0] for row in after ^ before}
    assert changed_ids == {inside["transaction_id"]}, "the change inside the look-back, and only it, was loaded"
    (loaded,) = (row for row in after if row[0] == inside["transaction_id"])
    assert loaded[SOURCE_TABLES["transactions"].column_names.index("status")] == "refunded"
    metadata = result.asset_materializations_for_node("raw__transactions")[0].metadata
    assert days_listed(metadata["days_beyond_window"].value) == reread_days | {inside["day"]}
    assert outside["day"] not in days_listed(metadata["days_beyond_window"].value)
    assert "watermark" not in metadata, "both changes are older than the watermark, which stays"


# --- names of the shop's own ---------------------------------------------------------------------

RENAMED_COLUMNS = {
    "transaction_id": "order_id",
    "customer_id": "buyer",
    "created_at": "placed_at",
    "amount": "total",
    "status": "state",
    "updated_at": "modified_at",
}
MAPPING = """\
# The shop calls its transactions "orders" and its customers "accounts".
transactions:
  table: orders
  columns: {transaction_id: order_id, customer_id: buyer, created_at: placed_at, amount: total, status: state,
            updated_at: modified_at}
  watermark: modified_at
customers:
  table: accounts
  columns: {customer_id: account_id}
"""


def test_a_shop_with_its_own_names_loads_through_the_mapping_alone(shop_store, files_warehouse, tmp_path):
    tables = sample_tables(shop_store)
    orders = tables.pop("transactions").rename(columns=RENAMED_COLUMNS).assign(internal_note="not for analytics")
    accounts = tables.pop("customers").rename(columns={"customer_id": "account_id"})
    url = write_shop(
        sa.URL.create("sqlite", database=str(tmp_path / "renamed.db")),
        {"orders": orders, "accounts": accounts, **tables},
    )
    (tmp_path / "mapping.yml").write_text(MAPPING)
    settings = sql_settings(tmp_path / "data", url, mapping=tmp_path / "mapping.yml")

    run_pipeline(settings, FIRST_DAY, LAST_DAY, selection=INGEST)

    for table in SOURCE_TABLES:
        assert raw_rows(settings, table) == raw_rows(files_warehouse, table), table
    assert query(settings, "select origin from raw._source_watermarks where source_table = 'transactions'") == [
        ("orders.modified_at",)
    ]


# --- bad rows, bad configuration, failures -------------------------------------------------------


def test_rows_that_break_the_schema_are_rejected_as_from_files(tmp_path, make_settings):
    store = write_store(tmp_path / "store", transactions=GOOD_TRANSACTIONS + [row for row, _ in PLANTED])
    tables = csv_tables(store)
    url = write_shop(sa.URL.create("sqlite", database=str(tmp_path / "shop.db")), tables)
    from_files, from_sql = make_settings(store), sql_settings(tmp_path / "sql", url)

    for settings in (from_files, from_sql):
        run_pipeline(settings, JAN_1, JAN_2, selection=INGEST)

    rejected = "select reason, raw_values, partition_date from raw.rejected_rows order by all"
    assert query(from_sql, rejected) == query(from_files, rejected)
    assert sorted(reason for reason, *_ in query(from_sql, rejected)) == sorted(reason for _, reason in PLANTED)
    assert query(from_sql, "select distinct source_file from raw.rejected_rows") == [("sql:transactions",)]
    assert raw_rows(from_sql, "transactions") == raw_rows(from_files, "transactions")


def test_orders_in_other_currencies_are_converted_and_rejected_as_from_files(tmp_path):
    # The hand-made store of test_currency, its bad rates included, as text in SQLite; PostgreSQL's
    # typed tables convert the sample store's orders (test_the_database_gives_the_same_warehouse_as_the_files).
    store = write_currency_store(tmp_path / "store")
    url = write_shop(sa.URL.create("sqlite", database=str(tmp_path / "shop.db")), csv_tables(store))
    max_age = {"exchange_rate_max_age_days": CURRENCY_MAX_AGE_DAYS}
    from_files = isolated_settings(tmp_path / "files", store, source=max_age)
    from_sql = sql_settings(tmp_path / "sql", url, **max_age)

    for settings in (from_files, from_sql):
        run_pipeline(settings, *CURRENCY_WINDOW, selection=INGEST)

    converted = (
        "select transaction_id, amount, currency, original_amount, original_currency, exchange_rate "
        "from raw.transactions order by 1"
    )
    assert query(from_sql, converted) == query(from_files, converted)
    assert {row[0] for row in query(from_sql, converted)} == set(CONVERTED)
    rejected = "select source_table, reason, partition_date from raw.rejected_rows order by all"
    assert query(from_sql, rejected) == query(from_files, rejected)
    assert raw_rows(from_sql, "exchange_rates") == raw_rows(from_files, "exchange_rates")


@pytest.mark.adversarial
def test_rows_outside_the_partitions_and_times_with_offsets_are_judged_as_from_files(tmp_path, make_settings):
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    outside = [
        transaction("E1", "C1", "2024-12-30 12:00:00"),
        transaction("F1", "C1", future),
        transaction("Z1", "C1", "2025-01-01 23:30:00-03:00"),
    ]
    store = write_store(tmp_path / "store", transactions=[*GOOD_TRANSACTIONS, *outside])
    tables = csv_tables(store)
    url = write_shop(sa.URL.create("sqlite", database=str(tmp_path / "shop.db")), tables)
    first_day = {"partition_start": JAN_1}
    from_files = make_settings(store, schedule=first_day)
    from_sql = sql_settings(tmp_path / "sql", url).updated(schedule=first_day)

    for settings in (from_files, from_sql):
        run_pipeline(settings, JAN_1, JAN_2, selection=INGEST)
        run_pipeline(settings, JAN_2, JAN_2, selection=INGEST)

    rejected = "select reason, partition_date from raw.rejected_rows order by all"
    assert query(from_sql, rejected) == query(from_files, rejected)
    assert [reason.split(" (")[0] for reason, _ in query(from_sql, rejected)] == [
        "created_at before ANALYTICS_PARTITION_START 2025-01-01",
        "created_at in the future",
    ]
    assert query(from_sql, "select created_at from raw.transactions where transaction_id = 'Z1'") == [
        (dt.datetime(2025, 1, 2, 2, 30),)
    ]
    assert raw_rows(from_sql, "transactions") == raw_rows(from_files, "transactions")


def snapshot(settings: Settings) -> dict[str, list[tuple]]:
    """Every row of the raw tables (load bookkeeping included) and of revenue_daily."""
    tables = [f"raw.{name}" for name in (*SOURCE_TABLES, "rejected_rows")] + ["marts.revenue_daily"]
    return {table: query(settings, f"select * from {table} order by all") for table in tables}


def everything_said(result: ExecuteInProcessResult, capfd: pytest.CaptureFixture) -> str:
    """Every event message and error of the run, and everything printed (the console log)."""
    errors = [event.step_failure_data.error.to_string() for event in result.all_events if event.is_step_failure]
    captured = capfd.readouterr()
    return "\n".join([*(event.message or "" for event in result.all_events), *errors, captured.out, captured.err])


def failure_of(result: ExecuteInProcessResult, table: str) -> str:
    """The message of the error that failed ``table``'s ingest step (Dagster wraps it as the cause)."""
    return result.failure_data_for_node(f"raw__{table}").error.cause.message


@pytest.mark.parametrize("given_in", ["user part", "query"])
def test_a_wrong_password_fails_naming_the_server_without_it_and_leaves_the_warehouse(
    postgres, files_warehouse, tmp_path, capfd, given_in
):
    wrong = "Wrong-Pw-55c2e0"
    if given_in == "user part":
        url = postgres.url("shop", password=wrong)
        shown = f"postgresql+psycopg://shop:***@127.0.0.1:{postgres.port}/shop"
    else:
        # libpq takes the password as a connection parameter too: SQLAlchemy passes the query on.
        url = postgres.url("shop", password=None).update_query_dict({"password": wrong})
        shown = f"postgresql+psycopg://shop@127.0.0.1:{postgres.port}/shop?password=***"
    settings = copy_warehouse(files_warehouse, tmp_path / "data", url)

    result = run_pipeline(settings, LAST_DAY, LAST_DAY, selection=INGEST, raise_on_error=False)

    assert not result.success
    message = failure_of(result, "customers")
    assert shown in message
    assert "password authentication failed" in message
    assert wrong not in everything_said(result, capfd)
    assert snapshot(settings) == snapshot(files_warehouse)


def test_a_missing_table_fails_naming_it_and_leaves_its_data(postgres, shop_store, files_warehouse, tmp_path, capfd):
    tables = sample_tables(shop_store)
    tables["transactions_archive"] = tables.pop("transactions")
    url = write_shop(postgres.create_database("shop_without_transactions"), tables, SHOP_TYPES)
    settings = copy_warehouse(files_warehouse, tmp_path / "data", url)

    result = run_pipeline(settings, LAST_DAY, LAST_DAY, selection=REVENUE, raise_on_error=False)

    message = failure_of(result, "transactions")
    assert "shop table 'transactions' for source table transactions" in message
    assert "does not exist" in message
    assert f"shop:***@127.0.0.1:{postgres.port}/shop_without_transactions" in message
    assert PASSWORD not in everything_said(result, capfd)
    # The other tables reloaded the same rows; transactions and everything built on them are untouched.
    before, after = snapshot(files_warehouse), snapshot(settings)
    for table in ("raw.transactions", "marts.revenue_daily"):
        assert after[table] == before[table], table
    for table in SOURCE_TABLES:
        assert raw_rows(settings, table) == raw_rows(files_warehouse, table), table
    assert query(settings, "select count(*) from raw._source_watermarks where source_table = 'transactions'") == [(0,)]


def test_a_missing_column_names_the_column_and_what_it_stands_for(shop_store, tmp_path):
    tables = sample_tables(shop_store)
    url = write_shop(sa.URL.create("sqlite", database=str(tmp_path / "shop.db")), tables)
    (tmp_path / "mapping.yml").write_text("transactions:\n  columns: {amount: total}\n")
    settings = sql_settings(tmp_path / "data", url, mapping=tmp_path / "mapping.yml")

    with pytest.raises(SourceError, match=r"shop table 'transactions' .* lacks column\(s\) total \(for amount\)"):
        run_pipeline(settings, LAST_DAY, LAST_DAY, selection=AssetSelection.assets(["raw", "transactions"]))


def test_a_mapping_error_names_the_file_and_the_key(tmp_path):
    (tmp_path / "mapping.yml").write_text("transactions:\n  table: orders\n  columns: {amout: total}\n")
    # The mapping is read before the database is opened.
    unopened = sa.URL.create("sqlite", database=str(tmp_path / "shop.db"))
    settings = sql_settings(tmp_path / "data", unopened, mapping=tmp_path / "mapping.yml")

    with pytest.raises(MappingError, match=r"mapping\.yml.*transactions\.columns: 'amout' is not a column"):
        run_pipeline(settings, LAST_DAY, LAST_DAY, selection=AssetSelection.assets(["raw", "transactions"]))


def test_days_are_grouped_into_runs_of_consecutive_days():
    days = [dt.date(2025, 3, day) for day in (9, 1, 2, 3)]

    assert day_ranges(days) == [(dt.date(2025, 3, 1), dt.date(2025, 3, 4)), (dt.date(2025, 3, 9), dt.date(2025, 3, 10))]
    assert describe_days(days) == "2025-03-01 .. 2025-03-03, 2025-03-09"


def test_a_nightly_pull_of_a_new_york_store_day_holds_its_evening_from_the_next_utc_day(tmp_path):
    # The shop's database is read by UTC days: the store's 10 Mar 2024 runs from 05:00 UTC on 10 Mar
    # (00:00 EST) to 04:00 UTC on 11 Mar (00:00 EDT, after the clocks went forward).
    orders = [transaction(*order[:3], amount=order[3]) for order in NEW_YORK_ORDERS]
    # Signed up at 23:00 EST on 9 Mar, 04:00 UTC on 10 Mar, with the first order.
    customers = [{"customer_id": "C1", "signup_at": "2024-03-10 04:00:00"}]
    store = write_store(tmp_path / "store", transactions=orders, customers=customers)
    url = write_shop(sa.URL.create("sqlite", database=str(tmp_path / "shop.db")), csv_tables(store))
    settings = sql_settings(tmp_path / "sql", url).updated(
        schedule={"store_timezone": "America/New_York", "partition_start": dt.date(2024, 3, 1)}
    )
    spring_day = dt.date(2024, 3, 10)

    run_pipeline(settings, spring_day, spring_day, selection=TRANSACTIONS)

    loaded = query(settings, "select transaction_id, _partition_date from raw.transactions order by 1")
    assert loaded == [(tid, day) for tid, _, _, _, day in sorted(NEW_YORK_ORDERS) if day == spring_day]
    assert loaded == [("SPRING_MORNING", spring_day), ("SPRING_NIGHT", spring_day)], "03:30 UTC on 11 Mar included"
    first_day, _ = source_day_range(settings.updated(schedule={"partition_start": None}))
    assert first_day <= dt.date(2024, 3, 9), "make run's range holds the store day of the first UTC time"
