"""Where a build's time went, read back from what it recorded: Dagster's step statistics and
event log, and dbt's ``run_results.json`` of the run's dbt step."""

from __future__ import annotations

import json
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance

from pipelines.defs.project import dbt_project


def latest_run_id(instance: DagsterInstance) -> str:
    """The id of the instance's newest run."""
    runs = instance.get_runs(limit=1)
    if not runs:
        raise RuntimeError(f"no run is recorded in {instance.root_directory}")
    return runs[0].run_id


def step_seconds(instance: DagsterInstance, run_id: str) -> dict[str, float]:
    """Each step's own time (one step per asset; the dbt models are one step)."""
    return {
        stats.step_key: round(stats.end_time - stats.start_time, 3)
        for stats in instance.get_run_step_stats(run_id)
        if stats.start_time is not None and stats.end_time is not None
    }


def bookkeeping(instance: DagsterInstance, run_id: str) -> dict[str, float]:
    """How many events the run recorded, and how long recording the planned materializations
    took before the first step started (one event per asset and partition)."""
    records = instance.all_logs(run_id)
    planned = [
        record.timestamp
        for record in records
        if record.dagster_event and record.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    ]
    materializations = sum(
        1
        for record in records
        if record.dagster_event and record.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION
    )
    return {
        "events": len(records),
        "planned_materialization_events": len(planned),
        "materialization_events": materializations,
        "planning_seconds": round(max(planned) - min(planned), 3) if planned else 0.0,
    }


def dbt_target(run_id: str) -> Path:
    """The target folder of the run's ``dbt build`` (dagster-dbt names it
    ``target/dbt_models-<first 7 characters of the run id>-<hash>``): manifest, run results."""
    folders = sorted(
        (dbt_project.project_dir / "target").glob(f"dbt_models-{run_id[:7]}-*"), key=lambda path: path.stat().st_mtime
    )
    if not folders:
        raise RuntimeError(f"no dbt target folder of run {run_id} under {dbt_project.project_dir / 'target'}")
    return Path(folders[-1])


def dbt_node_seconds(run_id: str) -> dict[str, float]:
    """Each dbt model's and test's execution time in the run's ``dbt build``."""
    results = json.loads((dbt_target(run_id) / "run_results.json").read_text())
    return {node_name(result["unique_id"]): round(result["execution_time"], 3) for result in results["results"]}


def node_name(unique_id: str) -> str:
    """``model:revenue_daily`` of ``model.storefront_metrics.revenue_daily``."""
    kind, _, name = unique_id.split(".", 2)
    return f"{kind}:{name}"
