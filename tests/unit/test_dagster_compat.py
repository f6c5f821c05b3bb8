"""What :mod:`pipelines.defs.dagster_compat` relies on in Dagster's and dagster-dbt's private API.

Each test names one thing an upgrade could change: if it fails after an upgrade, the compatibility
module (and nothing else) needs adapting. What the batched event log writes is compared with
Dagster's own storage in tests/integration/test_instance.py.
"""

from __future__ import annotations

import inspect
import sys
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource
from dagster_dbt.compat import DBT_PYTHON_VERSION

from pipelines.cli.instance import BATCHED_EVENT_LOG
from pipelines.defs import dagster_compat
from pipelines.defs.dagster_compat import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
    BatchedSqliteEventLogStorage,
    DescribedChecksDbtTranslator,
    StorefrontDbtCliResource,
    range_run_tags,
)
from pipelines.defs.dbt_launcher import LAUNCHER_NAME
from pipelines.defs.project import dbt_project


def test_the_run_tags_are_the_ones_dagster_puts_on_partitioned_runs():
    # The values Dagster writes on a run of one partition and on a backfill run of a range.
    assert PARTITION_NAME_TAG == "dagster/partition"
    assert ASSET_PARTITION_RANGE_START_TAG == "dagster/asset_partition_range_start"
    assert ASSET_PARTITION_RANGE_END_TAG == "dagster/asset_partition_range_end"
    assert range_run_tags("2025-01-01", "2025-01-31") == {
        "dagster/asset_partition_range_start": "2025-01-01",
        "dagster/asset_partition_range_end": "2025-01-31",
    }


def test_the_dbt_cli_version_hook_is_a_cached_property_whose_function_can_be_called():
    hook = inspect.getattr_static(DbtCliResource, "_cli_version")

    assert isinstance(hook, cached_property)
    assert list(inspect.signature(hook.func).parameters) == ["self"]
    assert str(DBT_PYTHON_VERSION) == version("dbt-core")


def test_the_dbt_cli_resource_knows_the_installed_dbt_without_starting_it(monkeypatch):
    dbt = StorefrontDbtCliResource(project_dir=dbt_project, dbt_executable=dagster_compat.dbt_executable())

    def no_process(*args, **kwargs):
        raise AssertionError("dbt --version was started")

    monkeypatch.setattr("subprocess.run", no_process)
    monkeypatch.setattr("subprocess.Popen", no_process)
    monkeypatch.setattr("subprocess.check_output", no_process)
    assert dbt._cli_version == DBT_PYTHON_VERSION


def test_the_dbt_cli_builds_its_adapter_through_the_hook_the_resource_overrides():
    # DbtCliResource.cli() asks this hook for the adapter it hands the invocation, which may be None.
    hook = inspect.signature(DbtCliResource._initialize_dbt_core_adapter)

    assert list(hook.parameters) == ["self", "args"]
    assert "self._initialize_dbt_core_adapter(args)" in inspect.getsource(DbtCliResource.cli)
    assert DbtCliInvocation.__dataclass_fields__["adapter"].default is None
    assert StorefrontDbtCliResource._initialize_dbt_core_adapter is not DbtCliResource._initialize_dbt_core_adapter


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


def test_dbt_runs_through_the_launcher_next_to_this_interpreter():
    # What makes dbt die with the run's process (tests/integration/test_crash_recovery.py shows it):
    # dagster-dbt's public dbt_executable names the installed launcher, which replaces itself with dbt.
    launcher = Path(sys.executable).parent / LAUNCHER_NAME

    assert dagster_compat.dbt_executable() == str(launcher)
    assert launcher.exists(), "`make install` installs the storefront-dbt console script"
    assert "dbt_executable" in DbtCliResource.model_fields


def test_dagster_dbts_asset_check_hook_is_the_one_the_described_checks_override():
    hook = inspect.signature(DagsterDbtTranslator.get_asset_check_spec)

    assert list(hook.parameters) == ["self", "asset_spec", "manifest", "unique_id", "project"]
    assert DescribedChecksDbtTranslator.get_asset_check_spec is not DagsterDbtTranslator.get_asset_check_spec
