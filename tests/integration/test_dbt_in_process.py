"""dbt run on a thread of the run's process (pipelines/defs/dbt_in_process.py), read by dagster-dbt
as if it were a ``dbt`` child process: its events, its failures, its interruption and the warehouse
it lets go of."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pytest
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from pipelines.defs.dagster_compat import StorefrontDbtCliResource, dbt_executable
from pipelines.defs.dbt_in_process import DbtThread
from pipelines.defs.project import dbt_project
from pipelines.defs.resources import build_resources
from pipelines.source_schema import SOURCE_TABLES
from pipelines.sources.raw_tables import create_raw_table

INTERRUPT_AFTER_SECONDS = 2
"""How long the endless query runs before the test interrupts it."""
STOPS_WITHIN_SECONDS = 60
"""dbt cancels its query and ends within this once interrupted (it ends in well under a second here)."""


@pytest.fixture
def dbt(monkeypatch: pytest.MonkeyPatch, dbt_manifest_prepared: None) -> StorefrontDbtCliResource:
    """The project's dbt resource, in a process that may start no ``dbt`` process."""
    popen = subprocess.Popen

    def no_dbt(args: Sequence[str], *more: object, **options: object) -> subprocess.Popen:
        # dbt itself starts `uname -p` (platform.platform()), which may run.
        assert Path(str(args[0])).name != "dbt", f"a dbt process was started: {args}"
        return popen(args, *more, **options)

    monkeypatch.setattr("subprocess.Popen", no_dbt)
    return StorefrontDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


def warehouse_vars(path: Path) -> str:
    return json.dumps({"warehouse_path": str(path)})


def test_dbt_runs_in_this_process_and_dagster_dbt_reads_its_results(dbt, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        for table in ("costs", "marketing_spend"):
            create_raw_table(con, SOURCE_TABLES[table])
    args = ["run", "--select", "stg_costs stg_marketing_spend", "--vars", warehouse_vars(warehouse)]

    invocation = dbt.cli(args, target_path=tmp_path / "target", manifest=dbt_project.manifest_path)
    # Without a Dagster context the invocation yields one materialization per model dbt ran.
    materialized = sorted(event.asset_key.path[-1] for event in invocation.stream())

    assert invocation.is_successful()
    assert materialized == ["stg_costs", "stg_marketing_spend"]
    results = invocation.get_artifact("run_results.json")["results"]
    assert sorted(result["unique_id"].rsplit(".", 1)[-1] for result in results) == materialized
    assert (tmp_path / "target" / "dbt.log").exists(), "dbt's debug log is in the invocation's target folder"
    # dbt let go of the warehouse: it opens with other settings, which DuckDB refuses while this
    # process still holds it with dbt's.
    with duckdb.connect(str(warehouse), config={"threads": 1}) as con:
        assert con.execute("select count(*) from staging.stg_costs").fetchone() == (0,)


@pytest.mark.parametrize(("log_level", "logs_queries"), [("DEBUG", True), ("INFO", False)])
def test_dbt_log_holds_the_queries_only_at_debug(dbt, make_settings, tmp_path, log_level, logs_queries):
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        create_raw_table(con, SOURCE_TABLES["costs"])
    settings = make_settings(tmp_path / "source", warehouse={"log_level": log_level})
    resource = build_resources(settings)["dbt"]
    args = ["run", "--select", "stg_costs", "--vars", warehouse_vars(warehouse)]

    invocation = resource.cli(args, target_path=tmp_path / "target", manifest=dbt_project.manifest_path)
    list(invocation.stream())

    events = [json.loads(line) for line in (tmp_path / "target" / "dbt.log").read_text().splitlines()]
    names = {event["info"]["name"] for event in events}
    assert invocation.is_successful()
    assert "LogModelResult" in names, "the model's result is logged at every level"
    assert ("SQLQuery" in names) == logs_queries, sorted(names)


def test_a_dbt_that_fails_to_start_reports_why(dbt, tmp_path):
    invocation = dbt.cli(["build", "--no-such-flag"], target_path=tmp_path / "target", raise_on_error=False)

    assert not invocation.is_successful()
    assert invocation.process.returncode == 2
    with pytest.raises(DagsterDbtCliRuntimeError, match="no-such-flag"):
        raise invocation.get_error()


def test_an_interrupted_dbt_cancels_its_query_and_ends(tmp_path, dbt_manifest_prepared):
    # dagster-dbt sends SIGINT to dbt when the run is interrupted; an endless query stands for a long model.
    query = "select count(*) from range(1000000000000)"
    args = ["show", "--inline", query, "--project-dir", str(dbt_project.project_dir)]
    args += ["--profiles-dir", str(dbt_project.project_dir), "--target-path", str(tmp_path / "target")]
    dbt = DbtThread([*args, "--vars", warehouse_vars(tmp_path / "warehouse.duckdb")])
    time.sleep(INTERRUPT_AFTER_SECONDS)
    assert dbt.poll() is None, "the query is still running"

    dbt.send_signal(signal.SIGINT)

    assert dbt.wait(STOPS_WITHIN_SECONDS) == 2
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), config={"threads": 1}):
        pass  # nothing of dbt's holds the warehouse
