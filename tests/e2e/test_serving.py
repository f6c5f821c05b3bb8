"""The readers' snapshot: complete, replaced atomically, untouched by a failed run, republished
with new alerts, and read without a hitch by another process while refreshes publish."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from dagster import AssetSelection

from pipelines.readers.snapshot_reader import SnapshotReader
from pipelines.settings import Settings
from pipelines.warehouse.snapshot import (
    CURRENT_EXPORTS,
    current_exports,
    exports_root,
    publish_snapshot,
    read_snapshot_info,
    refresh_alerts,
)
from tests.support.api_server import TOKEN, running_api
from tests.support.pipeline_runs import SAMPLE_FIRST_DAY, SAMPLE_SPEC, run_pipeline
from tests.support.planted_alerts import plant_alert

REPOSITORY = Path(__file__).resolve().parents[2]
READER_START_TIMEOUT_SECONDS = 30
READER_CATCH_UP_SECONDS = 60


def published(settings: Settings) -> list[str]:
    with duckdb.connect(str(settings.serving_file), read_only=True) as con:
        return [name for (name,) in con.execute("select table_name from snapshot_tables order by 1").fetchall()]


def test_the_snapshot_holds_every_finished_table_as_built(sample_warehouse):
    tables = published(sample_warehouse)

    with duckdb.connect(str(sample_warehouse.warehouse_file), read_only=True) as build:
        schemas = ("marts", "ml", "alerts")
        built = {
            f"{schema}.{name}"
            for schema, name in build.execute(
                "select table_schema, table_name from information_schema.tables where table_schema in ?", [schemas]
            ).fetchall()
        }
        build.execute(f"attach '{sample_warehouse.serving_file}' as snapshot (read_only)")
        differences = {
            name: build.execute(
                f"select count(*) from ((select * from {name} except all select * from snapshot.{name}) "
                f"union all (select * from snapshot.{name} except all select * from {name}))"
            ).fetchone()[0]
            for name in tables
        }
    assert set(tables) == built
    assert differences == dict.fromkeys(tables, 0)


def test_a_reader_keeps_its_snapshot_while_a_new_one_replaces_it(own_warehouse):
    serving = own_warehouse.serving_file
    reader = SnapshotReader(serving)
    old_connection = duckdb.connect(str(serving), read_only=True)
    (old_revenue,) = old_connection.execute("select net_revenue from marts.kpi_summary").fetchone()
    with reader.cursor() as cursor:
        old_run = read_snapshot_info(cursor).run_id
    reader.compute("run", lambda cursor, info: info.run_id)
    stored_before = reader.cached("run")

    with duckdb.connect(str(own_warehouse.warehouse_file)) as build:
        build.execute("update marts.kpi_summary set net_revenue = -1")
        publish_snapshot(build, serving, "a-later-run", "USD")

    assert old_connection.execute("select net_revenue from marts.kpi_summary").fetchone() == (old_revenue,)
    assert read_snapshot_info(old_connection).run_id == old_run, "the open snapshot is whole and unchanged"
    assert (stored_before, reader.cached("run")) == (f'"{old_run}"'.encode(), None), "answers last one snapshot"
    with reader.cursor() as new:
        assert read_snapshot_info(new).run_id == "a-later-run"
        assert new.execute("select net_revenue from marts.kpi_summary").fetchone() == (-1,)
    old_connection.close()


def handles_on_replaced_file(path: Path) -> int:
    """How many of this process's open files are the file that was at ``path`` before a newer one
    was renamed over it (Linux shows such a file's descriptor as ``<path> (deleted)``)."""
    return sum(1 for target in open_file_targets() if target == f"{path} (deleted)")


def open_file_targets() -> list[str]:
    """What each of this process's open file descriptors points to."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except FileNotFoundError:
            # Closed since the listing: the listing's own descriptor is, always.
            continue
    return targets


def test_the_api_closes_a_replaced_snapshot_when_its_last_request_ends(own_warehouse):
    serving = own_warehouse.serving_file
    reader = SnapshotReader(serving)

    with reader.cursor() as under_way:
        (old_run,) = under_way.execute("select run_id from snapshot").fetchone()
        with duckdb.connect(str(own_warehouse.warehouse_file)) as build:
            publish_snapshot(build, serving, "a-later-run", "USD")
        with reader.cursor() as new:
            assert new.execute("select run_id from snapshot").fetchone() == ("a-later-run",)
        assert under_way.execute("select run_id from snapshot").fetchone() == (old_run,), "the request keeps its own"
        still_open = handles_on_replaced_file(serving)

    assert still_open >= 1, "the replaced file stays open while a request reads it"
    assert handles_on_replaced_file(serving) == 0, "and is closed when that request ends"
    with reader.cursor() as after:
        assert after.execute("select run_id from snapshot").fetchone() == ("a-later-run",)


def parquet_row_counts(paths: list[Path]) -> dict[str, int]:
    """Each ``<schema>.<table>.parquet`` file of ``paths`` by table, with its row count."""
    with duckdb.connect() as con:
        return {path.stem: con.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0] for path in paths}


def exported(folder: Path) -> dict[str, int]:
    """The row count of each table exported into ``folder``."""
    return parquet_row_counts(sorted(folder.glob("*.parquet")))


def test_exports_are_switched_with_the_snapshot_and_the_previous_ones_kept_one_publication(own_warehouse):
    serving = own_warehouse.serving_file
    with duckdb.connect(str(own_warehouse.warehouse_file)) as build:
        info_a = publish_snapshot(build, serving, "run-a", "USD")
        # A reader resolves `current` once and reads a's files one by one, while b is published.
        folder_a = current_exports(serving).resolve()
        first, *rest = sorted(folder_a.glob("*.parquet"))
        read_before_b = parquet_row_counts([first])
        build.execute("delete from marts.kpi_summary")
        info_b = publish_snapshot(build, serving, "run-b", "USD")
        read_after_b = parquet_row_counts(rest)
        folder_b = current_exports(serving).resolve()
        # The currency is the publishing build's, whatever a reader's own settings say.
        publish_snapshot(build, serving, "run-c", "EUR")
        folder_c = current_exports(serving).resolve()
        with duckdb.connect(str(serving), read_only=True) as snapshot:
            info_c = read_snapshot_info(snapshot)

    assert {**read_before_b, **read_after_b} == info_a.row_counts, "the reader read all of a, none of b"
    assert info_b.row_counts["marts.kpi_summary"] == 0
    assert exported(folder_b) == info_b.row_counts
    assert exported(folder_c) == info_b.row_counts, "c published the same tables as b"
    assert (info_a.currency, info_c.currency) == ("USD", "EUR")
    assert sorted(path.name for path in exports_root(serving).iterdir()) == sorted(
        [CURRENT_EXPORTS, folder_b.name, folder_c.name]
    ), "the current link, its folder and the previous one; a's folder went with c's publication"


def test_a_current_export_folder_copied_in_place_of_its_link_is_kept_as_the_previous_one(own_warehouse):
    serving = own_warehouse.serving_file
    with duckdb.connect(str(own_warehouse.warehouse_file)) as build:
        info_a = publish_snapshot(build, serving, "run-a", "USD")
        # The data folder copied by a tool that follows links: `current` becomes a folder of a's files.
        link = current_exports(serving)
        folder_a = link.resolve()
        link.unlink()
        shutil.copytree(folder_a, link)
        shutil.rmtree(folder_a)
        info_b = publish_snapshot(build, serving, "run-b", "USD")

    assert current_exports(serving).is_symlink()
    assert exported(current_exports(serving)) == info_b.row_counts
    (copied,) = [path for path in exports_root(serving).iterdir() if path.name.startswith(f"{CURRENT_EXPORTS}-copied-")]
    assert exported(copied) == info_a.row_counts, "a's copied files are kept for a reader still reading them"


def test_a_failed_run_leaves_the_previous_snapshot(own_warehouse, tmp_path):
    before = read_snapshot_info(duckdb.connect(str(own_warehouse.serving_file), read_only=True))
    broken = own_warehouse.updated(source={"dir": tmp_path / "missing"})

    result = run_pipeline(broken, SAMPLE_FIRST_DAY, SAMPLE_SPEC.end_date, raise_on_error=False)

    assert not result.success
    with duckdb.connect(str(own_warehouse.serving_file), read_only=True) as con:
        after = read_snapshot_info(con)
    assert after == before


def reopened(serving: Path) -> duckdb.DuckDBPyConnection:
    """A new read-only look at ``serving`` while this process holds the old file open: attached to
    an in-memory database, since ``duckdb.connect`` of the same path would return the open one."""
    con = duckdb.connect()
    con.execute(f"attach '{serving}' as reopened (read_only)")
    con.execute("use reopened")
    return con


def test_refresh_alerts_republishes_the_alerts_and_nothing_else(own_warehouse):
    serving = own_warehouse.serving_file
    old_reader = duckdb.connect(str(serving), read_only=True)
    before = read_snapshot_info(old_reader)
    (kpi_revenue,) = old_reader.execute("select net_revenue from marts.kpi_summary").fetchone()
    fired_at = dt.datetime(2025, 3, 30, 6, tzinfo=dt.UTC)

    with duckdb.connect(str(own_warehouse.warehouse_file)) as build:
        plant_alert(build, "revenue_drop:2025-03-29", fired_at)
        # A mart half rebuilt by a failing run: the alerts' republishing must not carry it to readers.
        build.execute("update marts.kpi_summary set net_revenue = -1")
        info = refresh_alerts(build, serving)

    with reopened(serving) as snapshot:
        after = read_snapshot_info(snapshot)
        feed = snapshot.execute("select alert_key, status, fired_at from alerts.alert_feed").fetchall()
        (revenue_now,) = snapshot.execute("select net_revenue from marts.kpi_summary").fetchone()
    assert info == after
    assert feed == [("revenue_drop:2025-03-29", "open", fired_at)]
    assert revenue_now == kpi_revenue, "the marts stay the published ones"
    assert (after.built_at, after.run_id) == (before.built_at, before.run_id), "still the same run's snapshot"
    assert after.published_at > before.published_at, "readers polling the publication time reload"
    assert after.row_counts == {**before.row_counts, "alerts.alerts": 1, "alerts.alert_feed": 1}
    with duckdb.connect() as con:
        exported = con.execute(
            f"select alert_key from read_parquet('{current_exports(serving) / 'alerts.alerts.parquet'}')"
        ).fetchall()
    assert exported == [("revenue_drop:2025-03-29",)]
    assert old_reader.execute("select count(*) from alerts.alerts").fetchone() == (0,), "an open reader is unmoved"
    old_reader.close()


def test_refresh_alerts_before_any_snapshot_publishes_nothing(own_warehouse, tmp_path):
    serving = tmp_path / "nothing-yet" / "serving.duckdb"

    with duckdb.connect(str(own_warehouse.warehouse_file)) as build:
        assert refresh_alerts(build, serving) is None

    assert not serving.parent.exists()


def test_readers_see_whole_snapshots_while_refreshes_publish(own_warehouse, tmp_path):
    """A reader process (tests/support/reader_process.py) queries the serving file, through a connection it
    holds and through fresh ones, and the API, while two refreshes run and publish. Each refresh
    forecasts a different number of days, so every answer's forecast length says which snapshot
    it came from; every answer must match the run it names, and nothing may fail."""
    out, stop = tmp_path / "observations.jsonl", tmp_path / "stop"
    original = read_snapshot_info(duckdb.connect(str(own_warehouse.serving_file), read_only=True))
    # The sample build forecasts 30 days with one model version; each refresh trains one more.
    expected = {original.run_id: (30, 1)}
    refresh = AssetSelection.groups("ml", "serving")

    with running_api(own_warehouse) as api_url:
        reader = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.reader_process",
                str(own_warehouse.serving_file),
                api_url,
                TOKEN,
                str(out),
                str(stop),
            ],
            cwd=REPOSITORY,
        )
        try:
            wait_for(lambda: observations(out), READER_START_TIMEOUT_SECONDS, "the reader's first observations")
            refreshes = []
            for days_ahead in (10, 20):
                settings = own_warehouse.updated(ml={"days_ahead": days_ahead})
                began = time.time()
                result = run_pipeline(settings, SAMPLE_FIRST_DAY, SAMPLE_SPEC.end_date, selection=refresh)
                refreshes.append((began, time.time()))
                assert result.success, "a refresh runs and publishes while the reader holds the snapshot open"
                expected[result.run_id] = (days_ahead, len(expected) + 1)
            latest = result.run_id
            wait_for(
                lambda: (
                    {"file", "health-check", "comprehensive", "revenue-forecast"}
                    <= {seen["source"] for seen in observations(out) if seen.get("run_id") == latest}
                ),
                READER_CATCH_UP_SECONDS,
                "the reader to see the last snapshot",
            )
        finally:
            stop.touch()
            reader.wait(timeout=60)

    seen = observations(out)
    assert reader.returncode == 0
    assert [observation for observation in seen if "error" in observation or observation["problems"]] == []
    for observation in seen:
        days, models = expected[observation["run_id"]]
        assert observation["forecast_rows"] == days, observation
        assert observation.get("model_rows", models) == models, observation
    assert {observation["run_id"] for observation in seen if observation["source"] == "held"} == {original.run_id}
    for source in ("file", "health-check", "comprehensive", "revenue-forecast"):
        order = [list(expected).index(observation["run_id"]) for observation in seen if observation["source"] == source]
        assert order == sorted(order), f"{source} never went back to an older snapshot"
    during = [o for o in seen if any(began <= o["started"] <= ended for began, ended in refreshes)]
    assert {observation["source"] for observation in during} >= {"held", "file", "health-check"}, "reads overlapped"


def observations(out: Path) -> list[dict]:
    """The reader's observations so far (a line still being written is left for the next look)."""
    if not out.exists():
        return []
    complete = out.read_text().rpartition("\n")[0]
    return [json.loads(line) for line in complete.splitlines()]


def wait_for(condition, timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_seconds} s waiting for {what}")
        time.sleep(0.1)
