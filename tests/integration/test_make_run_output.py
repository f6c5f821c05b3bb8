"""What `make run` says while it works and what it leaves in Dagster: no Python warning nor leak
report, a line as each step starts and ends, no ANSI escape codes when its output is not a terminal,
a final line with the whole run's time; and every dbt model's materialization carries its column
schema, and a table's its row count."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey

from pipelines.assets.dbt import dbt_models
from pipelines.defs.dagster_compat import instance_at
from pipelines.defs.partitions import store_partitions
from pipelines.settings import Settings, WarehouseSettings
from pipelines.source_schema import SOURCE_TABLES
from tests.support.pipeline_runs import cli_environment

REPO = Path(__file__).resolve().parents[2]
ANSI_ESCAPE = "\x1b["
STEP_KEYS = ("raw__transactions", "dbt_models", "revenue_forecast_model", "ml__customer_scores", "serving__snapshot")


@pytest.fixture(scope="module")
def make_run_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The data dir and the output (stdout and stderr, as `make run 2>&1 | cat` shows them) of one
    `make run` over a small sample store."""
    data_dir = tmp_path_factory.mktemp("make_run")
    env = cli_environment(data_dir, ANALYTICS_SAMPLE_DAYS="120", ANALYTICS_SAMPLE_CUSTOMERS="400")
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli.run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return data_dir, done.stdout


def test_make_run_prints_no_warning_and_no_escape_codes(make_run_output):
    _, output = make_run_output

    assert not re.search(r"\w+Warning\b", output), "no Python warning (BetaWarning, UserWarning, ...)"
    # The process ends without Python's finalization (pipelines.cli.run.exit_now): nothing it made is
    # reported left behind, neither DuckDB's objects (nanobind) nor dbt's locks (multiprocessing).
    assert "leaked" not in output
    assert ANSI_ESCAPE not in output


def test_make_run_prints_each_steps_start_and_end_and_its_time(make_run_output):
    _, output = make_run_output

    steps = [line for line in output.splitlines() if " - STEP_" in line]
    for step in STEP_KEYS:
        assert any(" - INFO - " in line and f" - {step} - STEP_START - " in line for line in steps), (step, steps)
        finished = f' - {step} - STEP_SUCCESS - Finished execution of step "{step}" in '
        assert any(" - INFO - " in line and finished in line for line in steps), (step, steps)
    assert re.search(r"raw\.transactions: [\d,]+ rows loaded for ", output)
    assert re.search(r"\nDone in [\d,.]+ s\.\n", output)
    assert re.search(r"\n  raw\.transactions +[\d,]+\n", output), "the summary counts the raw tables"
    assert "_id_hashes" not in output, "the summary leaves out the ingest's own tables"


def test_every_dbt_model_carries_its_columns_and_a_table_its_row_count(make_run_output):
    data_dir, _ = make_run_output
    warehouse = data_dir / "warehouse.duckdb"
    schemas = sorted({key.path[0] for key in dbt_models.keys})
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = {
            f"{schema}.{name}": count
            for schema, name in con.execute(
                "select schema_name, table_name from duckdb_tables() where list_contains(?, schema_name)", [schemas]
            ).fetchall()
            for (count,) in [con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()]
        }
        columns = dict(
            con.execute(
                "select table_schema || '.' || table_name, list(column_name order by ordinal_position) "
                "from information_schema.columns where list_contains(?, table_schema) group by 1",
                [schemas],
            ).fetchall()
        )

    with instance_at(data_dir / "dagster_home") as instance:
        for key in dbt_models.keys:
            name = ".".join(key.path)
            metadata = instance.get_latest_materialization_event(AssetKey(key.path)).asset_materialization.metadata
            schema = metadata["dagster/column_schema"].value
            assert [column.name for column in schema.columns] == columns[name], name
            if name in tables:
                assert metadata["dagster/row_count"].value == tables[name], name
            else:
                assert "dagster/row_count" not in metadata, f"{name} is a view: not counted"
    assert len(tables) >= 10


def test_no_partition_of_the_sample_store_is_missing(make_run_output):
    data_dir, _ = make_run_output
    settings = Settings(warehouse=WarehouseSettings(data_dir=data_dir))
    partitions = store_partitions(settings)

    with instance_at(data_dir / "dagster_home") as instance:
        for table in SOURCE_TABLES:
            materialized = instance.get_materialized_partitions(AssetKey(["raw", table]))
            assert set(partitions.get_partition_keys()) == materialized, table
    # 120 days ending yesterday, from the store's own first day, not from a fixed default.
    assert len(partitions.get_partition_keys()) == 120
