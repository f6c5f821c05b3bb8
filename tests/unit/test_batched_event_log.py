"""Which of a batch's writes of an asset's row the batched event log leaves out, and why that is safe."""

from __future__ import annotations

import logging

from dagster import AssetMaterialization
from dagster._core.events import (
    AssetMaterializationPlannedData,
    DagsterEvent,
    DagsterEventType,
    StepMaterializationData,
)
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from sqlalchemy import text

from pipelines.defs.dagster_compat import BatchedSqliteEventLogStorage, superseded_asset_rows


def entry(event: DagsterEvent | None, timestamp: float = 1.0) -> EventLogEntry:
    return EventLogEntry(
        error_info=None, level=logging.INFO, user_message="", run_id="run", timestamp=timestamp, dagster_event=event
    )


def materialized(asset: str, partition: str) -> EventLogEntry:
    data = StepMaterializationData(AssetMaterialization(asset, partition=partition))
    return entry(DagsterEvent(DagsterEventType.ASSET_MATERIALIZATION.value, "job", event_specific_data=data))


def planned(asset: str) -> EventLogEntry:
    data = AssetMaterializationPlannedData(asset_key=materialized(asset, "").dagster_event.asset_key)
    return entry(DagsterEvent.build_asset_materialization_planned_event("job", "step", data))


def test_an_event_is_superseded_by_a_later_one_of_the_same_asset_and_type():
    events = [
        materialized("orders", "2025-01-01"),
        planned("orders"),
        materialized("orders", "2025-01-02"),
        materialized("customers", "2025-01-01"),
        entry(None),
        planned("orders"),
    ]

    assert superseded_asset_rows(events) == {id(events[0]), id(events[1])}


def test_dagsters_asset_row_of_an_event_sets_the_same_columns_for_every_event_of_its_type():
    # What makes leaving the superseded writes out safe: the later write of the same type sets every
    # column the earlier one would have.
    values = SqliteEventLogStorage._get_asset_entry_values
    for first, second in (
        (materialized("orders", "2025-01-01"), materialized("orders", "2025-01-02")),
        (planned("orders"), planned("orders")),
    ):
        for has_index_columns in (True, False):
            earlier = values(None, first, 1, has_index_columns)
            later = values(None, second, 2, has_index_columns)
            assert earlier and earlier.keys() == later.keys()


def test_a_table_found_is_remembered_and_a_table_not_found_is_asked_for_again(tmp_path):
    storage = BatchedSqliteEventLogStorage(str(tmp_path))
    with storage.index_connection() as conn:
        assert storage.has_table("asset_event_tags")
        assert not storage.has_table("added_later")
        conn.execute(text("create table added_later (id integer)"))
    assert storage.has_table("added_later")

    with storage.index_connection() as conn:
        conn.execute(text("drop table added_later"))
    # A yes is kept for the process: Dagster's storage never drops its tables, only a wipe does.
    assert storage.has_table("added_later")
    storage.wipe()
    assert storage.has_table("asset_event_tags")
    assert not storage.has_table("added_later")
