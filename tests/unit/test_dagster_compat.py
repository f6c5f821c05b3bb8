"""What :mod:`pipelines.defs.dagster_compat` relies on in Dagster's and dagster-dbt's private API.

Each test names one thing an upgrade could change: if it fails after an upgrade, the compatibility
module (and nothing else) needs adapting. What the batched event log writes is compared with
Dagster's own storage in tests/integration/test_instance.py.
"""

from __future__ import annotations

import inspect
import re

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource
from dagster_dbt.asset_utils import DbtCliInvocationPartialParams, get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_invocation import PARTIAL_PARSE_FILE_NAME

from pipelines.cli.instance import BATCHED_EVENT_LOG
from pipelines.defs.dagster_compat import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
    BatchedSqliteEventLogStorage,
    DescribedChecksDbtTranslator,
    range_run_tags,
)
from pipelines.defs.dbt_in_process import DbtThread


def test_the_run_tags_are_the_ones_dagster_puts_on_partitioned_runs():
    # The values Dagster writes on a run of one partition and on a backfill run of a range.
    assert PARTITION_NAME_TAG == "dagster/partition"
    assert ASSET_PARTITION_RANGE_START_TAG == "dagster/asset_partition_range_start"
    assert ASSET_PARTITION_RANGE_END_TAG == "dagster/asset_partition_range_end"
    assert range_run_tags("2025-01-01", "2025-01-31") == {
        "dagster/asset_partition_range_start": "2025-01-01",
        "dagster/asset_partition_range_end": "2025-01-31",
    }


def test_dagster_dbts_cli_helpers_take_what_the_in_process_cli_hands_them():
    # StorefrontDbtCliResource.cli() does what DbtCliResource.cli() does with these, up to starting dbt.
    cli_source = inspect.getsource(DbtCliResource.cli)
    for helper in ("extract_runtime_selection_from_args(args)", "get_updated_cli_invocation_params_for_context("):
        assert helper in cli_source, helper
    assert list(inspect.signature(get_updated_cli_invocation_params_for_context).parameters) == [
        "context",
        "manifest",
        "dagster_dbt_translator",
        "runtime_selects",
        "runtime_excludes",
    ]
    assert set(DbtCliInvocationPartialParams.__annotations__) == {
        "manifest",
        "dagster_dbt_translator",
        "selection_args",
        "indirect_selection",
        "dbt_project",
    }
    assert list(inspect.signature(DbtCliResource._get_unique_target_path).parameters) == ["self", "context"]
    assert PARTIAL_PARSE_FILE_NAME in inspect.getsource(DbtCliInvocation.run)


def test_dagster_dbts_invocation_uses_only_the_process_interface_the_dbt_thread_has():
    # DbtCliInvocation is a dataclass taking the process; it reads these of it and nothing else.
    fields = set(DbtCliInvocation.__dataclass_fields__)
    assert {"process", "manifest", "project", "dagster_dbt_translator", "project_dir", "target_path"} <= fields
    assert {"raise_on_error", "context", "adapter", "cli_version"} <= fields
    used = set(re.findall(r"self\.process\.(\w+)", inspect.getsource(DbtCliInvocation)))
    assert used == {"args", "stdout", "wait", "returncode", "send_signal"}
    assert all(callable(getattr(DbtThread, name, None)) for name in ("wait", "send_signal", "poll"))


def test_the_sqlite_event_log_still_has_what_the_batched_one_builds_on():
    # The batched storage overrides _connect, has_table and store_event_batch and calls these of Dagster's.
    for name in (
        "_connect",
        "_initdb",
        "conn_string_for_shard",
        "path_for_shard",
        "run_connection",
        "index_connection",
        "index_transaction",
        "has_table",
        "store_event_batch",
        "store_event",
        "dispose",
        "wipe",
        "from_config_value",
    ):
        assert callable(getattr(SqliteEventLogStorage, name, None)), name
    assert list(inspect.signature(SqliteEventLogStorage.store_event_batch).parameters) == ["self", "events"]
    assert list(inspect.signature(SqliteEventLogStorage._store_asset_event).parameters) == [
        "self",
        "conn",
        "event",
        "event_id",
    ]
    # Every file Dagster's storage touches goes through _connect (which the batched one keeps open and
    # joins), and Dagster's own _connect holds the lock the batched one makes reentrant.
    assert "self._connect(" in inspect.getsource(SqliteEventLogStorage.run_connection)
    assert "self._connect(" in inspect.getsource(SqliteEventLogStorage.index_connection)
    assert "with self._db_lock:" in inspect.getsource(SqliteEventLogStorage._connect)
    # Dagster's watchers of a run (the UI's live run page) react to a change of the run's file.
    assert "path_for_shard(run_id)" in inspect.getsource(SqliteEventLogStorageWatchdog.__init__)
    assert callable(SqliteEventLogStorageWatchdog.on_modified)


def test_the_dagster_yaml_names_the_batched_event_log_where_it_is():
    module, class_name = BATCHED_EVENT_LOG

    assert f"{BatchedSqliteEventLogStorage.__module__}.{BatchedSqliteEventLogStorage.__name__}" == (
        f"{module}.{class_name}"
    )


def test_dagster_dbts_asset_check_hook_is_the_one_the_described_checks_override():
    hook = inspect.signature(DagsterDbtTranslator.get_asset_check_spec)

    assert list(hook.parameters) == ["self", "asset_spec", "manifest", "unique_id", "project"]
    assert DescribedChecksDbtTranslator.get_asset_check_spec is not DagsterDbtTranslator.get_asset_check_spec
