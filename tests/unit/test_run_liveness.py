"""Whether a run's process is known to be gone (pipelines/defs/run_liveness.py), judged on real processes."""

from __future__ import annotations

from dagster import DagsterRun

from pipelines.defs.run_liveness import HOST_TAG, PID_STARTED_AT_TAG, PID_TAG, process_tags, run_process_gone
from tests.support.processes import ended_process_tags


def run_tagged(tags: dict[str, str]) -> DagsterRun:
    return DagsterRun(job_name="nightly_refresh", run_id="run-1", tags=tags)


def test_a_run_of_this_live_process_is_not_gone():
    assert not run_process_gone(run_tagged(process_tags()))


def test_a_run_whose_process_exited_is_gone():
    assert run_process_gone(run_tagged(ended_process_tags()))


def test_a_live_pid_that_started_at_another_time_is_another_process():
    # This process's pid, as if the system had given the dead run's pid to it.
    reused = {**process_tags(), PID_STARTED_AT_TAG: ended_process_tags()[PID_STARTED_AT_TAG]}

    assert run_process_gone(run_tagged(reused))


def test_runs_of_another_host_or_without_the_tags_are_not_judged():
    elsewhere = {**ended_process_tags(), HOST_TAG: "another-host"}

    assert not run_process_gone(run_tagged(elsewhere))
    assert not run_process_gone(run_tagged({}))
    assert PID_TAG in process_tags()
