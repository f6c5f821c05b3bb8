"""The incremental funnel_sessions model against full builds: nightly runs on top of a backfill, and a
reload of an old day that loses its events, leave every mart as a full build from scratch over
the same source does."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb

from pipelines.settings import Settings
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
BOOKKEEPING = {"intermediate.funnel_sessions": ("_reference_date", "_last_load_id", "_build_number")}
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
