"""``make run``: build the whole warehouse from the configured source in one Dagster run.

Generates the embedded sample store if it is the source and is missing, materializes every
asset over the source's whole range of days as a single run recorded in the persistent Dagster
instance under the data folder (so ``make ui`` shows it with lineage), and prints a summary.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import gc
import os
import sys
import time
import traceback
from typing import NoReturn

import duckdb
import pandas as pd
from dagster import DagsterInstance

from pipelines.cli.instance import prepare_instance
from pipelines.definitions import build_definitions
from pipelines.defs.dagster_compat import range_run_tags
from pipelines.defs.partitions import partition_start, sample_store_spec, store_partitions
from pipelines.defs.run_errors import first_step_error
from pipelines.defs.run_liveness import process_tags, settle_active_runs
from pipelines.sample_store.generator import MANIFEST_NAME, generate_sample_store
from pipelines.settings import Settings, SettingsError, load_settings
from pipelines.source_schema import SOURCE_TABLES, SourceTable
from pipelines.sources.database import day_range
from pipelines.sources.files import SourceError, register_source_rows
from pipelines.sources.mapping import load_mapping
from pipelines.sources.validation import partition_day_sql
from pipelines.warehouse.snapshot import current_exports
from pipelines.warehouse.store_calendar import utc_day_margin

SUMMARY_TABLES = ("raw", "staging", "marts", "ml", "alerts")
FAILED_BEFORE_START_TAG = "storefront/failed_before_start"
"""Tag of a run recorded only to say that the build failed before Dagster could start it."""
HEADLINE_KPIS = (
    ("net_revenue", "Net revenue, last 30 days", "{:,.2f}"),
    ("net_revenue_growth", "Growth vs the 30 days before", "{:+.1%}"),
    ("average_order_value", "Average order value", "{:,.2f}"),
    ("revenue_per_customer", "Revenue per paying customer", "{:,.2f}"),
    ("payment_success_rate", "Payment success rate", "{:.1%}"),
)


class NoPartition(ValueError):
    """The source holds no day that a partition covers."""


def ensure_sample_store(settings: Settings) -> None:
    """Generate the sample store into the source folder unless it is already there."""
    if settings.source.kind != "sample" or (settings.source_folder / MANIFEST_NAME).exists():
        return
    print(f"Generating the sample store into {settings.source_folder} ...", flush=True)
    generate_sample_store(
        settings.source_folder, sample_store_spec(settings), report=lambda line: print(line, flush=True)
    )


def table_day_range(settings: Settings, table: SourceTable) -> tuple[dt.date, dt.date] | None:
    """First and last day of one source table's rows, None if it has no readable day."""
    if settings.source.kind == "sql":
        margin = utc_day_margin(settings.schedule.store_timezone)
        return day_range(settings.source.database_url, load_mapping(settings.source.mapping), table, margin)
    with duckdb.connect() as con:
        register_source_rows(con, settings.source_folder, table, encoding=settings.source.encoding)
        source_types = dict(con.execute("select column_name, column_type from (describe _src)").fetchall())
        day = partition_day_sql(table, source_types, settings.schedule.store_timezone)
        first, last = con.execute(f"select min({day}), max({day}) from _src as s").fetchone()
    return None if first is None else (first, last)


def source_day_range(settings: Settings) -> tuple[dt.date, dt.date]:
    """First and last day of any source table's rows.

    Every table counts, not only transactions: customers who signed up before the first order,
    or costs booked before it, belong to the warehouse too.
    """
    ranges = {name: table_day_range(settings, table) for name, table in SOURCE_TABLES.items()}
    if ranges["transactions"] is None:
        raise NoPartition(f"the source {settings.source_label} holds no transactions with a readable created_at")
    found = [days for days in ranges.values() if days is not None]
    return min(first for first, _ in found), max(last for _, last in found)


def partition_range(settings: Settings, first: dt.date, last: dt.date) -> tuple[str, str]:
    """The partition keys covering the source, bounded by the partitions that exist.

    Rows before ``ANALYTICS_PARTITION_START`` or after the last complete day belong to no
    partition: the load rejects the first (with the reason) and leaves the second to later nights.
    """
    start = partition_start(settings)
    last_key = store_partitions(settings).get_last_partition_key()
    first_key = max(first, start).isoformat()
    if first_key > last_key or last < start:
        raise NoPartition(
            f"the source's days {first} .. {last} have no partition: partitions run from "
            f"ANALYTICS_PARTITION_START={start} to the last complete day {last_key}"
        )
    return first_key, min(last.isoformat(), last_key)


def print_summary(settings: Settings, run_id: str) -> None:
    """Rows per table, the headline KPIs and where to look next."""
    with duckdb.connect(str(settings.warehouse_file), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            # Not the ingest's own tables (raw._<table>_id_hashes): they hold no rows of the store.
            f"where table_schema in {SUMMARY_TABLES} and not starts_with(table_name, '_') order by 1, 2"
        ).fetchall()
        print("\nRows per table")
        for schema, name in tables:
            rows = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
            print(f"  {schema + '.' + name:<40} {rows:>12,}")
        kpis = con.execute("select * from marts.kpi_summary").fetchdf().iloc[0]
    print(f"\nHeadline KPIs (as of {kpis['reference_date']:%Y-%m-%d})")
    for column, label, fmt in HEADLINE_KPIS:
        value = kpis[column]
        print(f"  {label:<32} {'n/a' if pd.isna(value) else fmt.format(value)}")
    print(f"\nWarehouse: {settings.warehouse_file}")
    print(f"Readers' snapshot: {settings.serving_file} (Parquet in {current_exports(settings.serving_file)})")
    print("Dashboard and JSON API: ANALYTICS_API_TOKEN=<a secret> make serve, then http://127.0.0.1:8000")
    print(f"Dagster run {run_id} is recorded in {settings.dagster_home}")
    print("Open the Dagster UI with `make ui`, then http://127.0.0.1:3000 (Runs, Lineage).")


def fail_orphaned_runs(instance: DagsterInstance) -> None:
    """Mark failed the runs of an earlier ``make run`` whose process died mid-run (``kill -9``, a
    crash, the machine's power): they would otherwise stay in progress for ever and hold back the
    alert sensors. The run-failure sensor alerts on each."""
    for run in settle_active_runs(instance, marked_by="the next `make run`").failed:
        print(f"The run {run.run_id} lost its process mid-run: marked failed.", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Build the warehouse from the configured source (ANALYTICS_*).")
    parser.add_argument(
        "--day",
        type=dt.date.fromisoformat,
        help="refresh only this day's partition (YYYY-MM-DD), as the nightly schedule does; default: every day",
    )
    return parser.parse_args(argv)


def record_failed_run(instance: DagsterInstance, settings: Settings, message: str) -> str:
    """Record in ``instance`` a ``nightly_refresh`` run that failed before it could start, so that the
    run-failure sensor alerts on it like on any failed night; its id."""
    job = build_definitions(settings).resolve_job_def("nightly_refresh")
    run = instance.create_run_for_job(job_def=job, tags={FAILED_BEFORE_START_TAG: "true"})
    instance.report_run_failed(run, message)
    return run.run_id


def user_error(settings: Settings, message: str, *, run_id: str | None = None) -> int:
    """Print a failure the user's data or settings caused as one line (with the traceback only at
    ``ANALYTICS_LOG_LEVEL=DEBUG``); the exit status."""
    if settings.warehouse.log_level == "DEBUG":
        traceback.print_exc()
    where = f" (Dagster run {run_id}; `make ui` shows it)" if run_id else ""
    print(f"error: {message}{where}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    prepare_instance(settings.dagster_home, batched_event_log=settings.warehouse.batched_event_log)
    with DagsterInstance.get() as instance:
        return build(settings, instance, args.day, started)


def build(settings: Settings, instance: DagsterInstance, day: dt.date | None, started: float) -> int:
    """Run ``nightly_refresh`` over the source's days (only ``day``'s if given) and print the summary;
    the exit status."""
    fail_orphaned_runs(instance)
    try:
        ensure_sample_store(settings)
        first, last = partition_range(settings, *((day, day) if day else source_day_range(settings)))
    except (SourceError, NoPartition) as error:
        return user_error(settings, str(error), run_id=record_failed_run(instance, settings, str(error)))
    print(f"Building the warehouse from {settings.source_label}, days {first} .. {last}, as one run ...", flush=True)

    # A build of every day rebuilds the incremental models from scratch, which is quicker than
    # replacing every row of them (and picks up any change of the dbt project); a day's refresh does not.
    result = (
        build_definitions(settings)
        .resolve_job_def("nightly_refresh")
        .execute_in_process(
            instance=instance,
            run_config={
                "loggers": {"console": {"config": {"log_level": settings.warehouse.log_level}}},
                "ops": {"dbt_models": {"config": {"full_refresh": day is None}}},
            },
            # The process running the run, so that a later start can tell when it died mid-run.
            tags={**range_run_tags(first, last), **process_tags()},
            raise_on_error=False,
        )
    )
    if not result.success:
        reason = first_step_error(result.get_step_failure_events()) or "see `make ui` for the failing step"
        print(f"error: the run {result.run_id} failed at {reason}", file=sys.stderr)
        return 1
    print_summary(settings, result.run_id)
    print(f"\nDone in {time.perf_counter() - started:,.1f} s.")
    return 0


def exit_now(status: int) -> NoReturn:
    """End the process with ``status`` after its exit handlers (logging's flush, multiprocessing's
    release of dbt's locks) and with its output flushed, but without the interpreter's finalization,
    as mypy's ``hard_exit`` and multiprocessing's own child processes do: that would free the objects
    of Dagster's, dbt's and pandas' imports one by one (docs/benchmarks.md), after everything the run
    wrote is closed."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    # The imports' objects, most of the heap, live as long as the process: the garbage collector's
    # passes during the run need not go over them again and again.
    gc.freeze()
    try:
        status = main()
    except BaseException:
        # An unexpected end: Python's own, with its traceback and the imports' objects freed.
        gc.unfreeze()
        raise
    exit_now(status)
