"""The id check across days: an id already stored on a day a load keeps is rejected, whatever the
stored id hashes (``raw._<table>_id_hashes``) say, and the hashes stay the table's through reloads,
failed loads and rows written by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from dagster import AssetSelection

from pipelines.settings import Settings
from tests.support.csv_store import FUNNEL_EVENTS, write_store, write_table
from tests.support.pipeline_runs import query, run_pipeline

JAN_1, JAN_2, JAN_3 = dt.date(2025, 1, 1), dt.date(2025, 1, 2), dt.date(2025, 1, 3)
EVENTS = AssetSelection.assets(["raw", "funnel_events"])


def event(event_id: str, occurred_at: str) -> dict[str, str]:
    return {"event_id": event_id, "session_id": "S9", "customer_id": "", "stage": "visit", "occurred_at": occurred_at}


# E1 and E2 on day 1 (FUNNEL_EVENTS), E3 on day 2: the days loaded first.
FIRST_EVENTS = [*FUNNEL_EVENTS, event("E3", "2025-01-02 10:00:00")]


def stored_events(settings: Settings) -> list[tuple[str, dt.date]]:
    return query(settings, "select event_id, _partition_date from raw.funnel_events order by 1, 2")


def rejects(settings: Settings) -> list[tuple[int, str]]:
    return query(
        settings,
        "select row_number, reason from raw.rejected_rows where source_table = 'funnel_events' order by 1",
    )


def assert_hashes_mirror_the_table(settings: Settings) -> None:
    """The stored hashes are those of the table's rows, one each, recomputed here from the ids."""
    table = query(settings, "select hash(event_id), _partition_date from raw.funnel_events order by 1, 2")
    stored = query(settings, "select id_hash, _partition_date from raw._funnel_events_id_hashes order by 1, 2")
    assert stored == table


@pytest.fixture
def loaded_two_days(tmp_path, make_settings) -> tuple[Settings, Path]:
    store = write_store(tmp_path / "store")
    write_table(store, "funnel_events", FIRST_EVENTS)
    settings = make_settings(store)
    run_pipeline(settings, JAN_1, JAN_2, selection=EVENTS)
    assert stored_events(settings) == [("E1", JAN_1), ("E2", JAN_1), ("E3", JAN_2)]
    assert_hashes_mirror_the_table(settings)
    return settings, store


def test_ids_stored_on_other_days_are_rejected_naming_the_day_on_every_reload(loaded_two_days):
    settings, store = loaded_two_days
    # Day 3, data rows 4-8 of the file: a new id, day 1's E1, day 2's E3, and E5 twice (the last copy wins).
    day_3 = [
        event("E4", "2025-01-03 08:00:00"),
        event("E1", "2025-01-03 09:00:00"),
        event("E3", "2025-01-03 10:00:00"),
        event("E5", "2025-01-03 11:00:00"),
        event("E5", "2025-01-03 12:00:00"),
    ]
    write_table(store, "funnel_events", [*FIRST_EVENTS, *day_3])
    expected_rejects = [
        (5, "duplicate event_id of a row loaded on 2025-01-01"),
        (6, "duplicate event_id of a row loaded on 2025-01-02"),
        (7, "duplicate event_id"),
    ]

    for _ in range(2):  # the second run replaces day 3 with the same outcome
        run_pipeline(settings, JAN_3, JAN_3, selection=EVENTS)

        assert rejects(settings) == expected_rejects
        assert stored_events(settings) == [("E1", JAN_1), ("E2", JAN_1), ("E3", JAN_2), ("E4", JAN_3), ("E5", JAN_3)]
        assert query(settings, "select occurred_at from raw.funnel_events where event_id = 'E5'") == [
            (dt.datetime(2025, 1, 3, 12),)
        ]
        assert_hashes_mirror_the_table(settings)

    # Reloading day 2 keeps its own E3 (not "stored elsewhere"): the reload replaces it.
    run_pipeline(settings, JAN_2, JAN_2, selection=EVENTS)
    assert stored_events(settings)[2] == ("E3", JAN_2)
    assert rejects(settings) == expected_rejects
    assert_hashes_mirror_the_table(settings)


def test_a_stored_hash_equal_to_a_new_ids_hash_does_not_reject_it(loaded_two_days):
    settings, store = loaded_two_days
    # A collision, made by hand: day 1's stored hash of E1 becomes the hash of day 3's new E4.
    with duckdb.connect(str(settings.warehouse_file)) as con:
        con.execute("update raw._funnel_events_id_hashes set id_hash = hash('E4') where id_hash = hash('E1')")
    write_table(store, "funnel_events", [*FIRST_EVENTS, event("E4", "2025-01-03 08:00:00")])

    run_pipeline(settings, JAN_3, JAN_3, selection=EVENTS)

    assert rejects(settings) == []
    assert stored_events(settings)[-1] == ("E4", JAN_3)


def test_rows_written_into_the_table_by_hand_are_checked_against(loaded_two_days):
    settings, store = loaded_two_days
    with duckdb.connect(str(settings.warehouse_file)) as con:
        con.execute(
            "insert into raw.funnel_events values ('P1', 'S9', null, 'visit', '2025-01-02 20:00:00', "
            "'2025-01-02', 'planted', current_timestamp)"
        )
    write_table(store, "funnel_events", [*FIRST_EVENTS, event("P1", "2025-01-03 08:00:00")])

    run_pipeline(settings, JAN_3, JAN_3, selection=EVENTS)

    assert rejects(settings) == [(4, "duplicate event_id of a row loaded on 2025-01-02")]
    assert_hashes_mirror_the_table(settings)


def test_a_failed_load_leaves_the_table_and_its_hashes_as_they_were(loaded_two_days, monkeypatch):
    settings, store = loaded_two_days
    write_table(store, "funnel_events", [*FIRST_EVENTS, event("E4", "2025-01-03 08:00:00")])
    before = stored_events(settings)

    def fail(*args: object) -> None:
        raise RuntimeError("load stopped after its inserts")

    # The last step of the load's transaction, after the table and its hashes were written.
    monkeypatch.setattr("pipelines.sources.raw_tables._log_load", fail)
    result = run_pipeline(settings, JAN_3, JAN_3, selection=EVENTS, raise_on_error=False)

    assert not result.success
    assert stored_events(settings) == before
    assert_hashes_mirror_the_table(settings)
