"""Whether the process running a Dagster run is still there, and failing the runs whose process is gone.

``make run`` executes its run in its own process (``execute_in_process``), which no run launcher
and so no Dagster run monitoring watches: killed with ``kill -9``, the run would stay STARTED
forever, the alert sensors would skip every tick waiting for it, and no run-failure alert would be
raised. Nor does the daemon's default run launcher watch the process it starts. So every run is
tagged with the process that executes it (:func:`process_tags`: ``make run`` at launch, any other
run when its first step starts, :func:`tag_run_process`), and both the next
``make run`` and the sensors fail a run in progress whose process is gone
(:func:`settle_active_runs`), through ``DagsterInstance.report_run_failed``: the run-failure sensor
then alerts on it like on any failed run.

A process is known by its pid *and* its start time since boot (``/proc/<pid>/stat``, field 22) on
this boot (``/proc/sys/kernel/random/boot_id``), so a pid the system has since given to another
process is not mistaken for the run's. Only runs tagged on this host are judged. Without ``/proc``
(macOS, Windows) runs are not tagged, never judged here, and a killed ``make run`` must be marked
failed by hand (docs/reliability.md). A run the daemon launched whose worker never started has no
such tag either: failing it is the daemon's run monitoring's job (``run_monitoring`` in the
instance's ``dagster.yaml``, its start timeout).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

PID_TAG = "storefront/pid"
PID_STARTED_AT_TAG = "storefront/pid_started_at"
"""``<boot id>/<start time in clock ticks since boot>`` of the run's process."""
HOST_TAG = "storefront/host"
ACTIVE_RUN_STATUSES = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
GONE_STATES = {"Z", "X"}
"""``/proc/<pid>/stat`` states of a process that has ended: a zombie (killed, not yet reaped by its
parent) runs nothing any more."""


def process_started_at(pid: int) -> str | None:
    """``<boot id>/<start ticks>`` of the live process ``pid``, None if there is none (or it has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses itself:
    # the fields after the last ')' start with the state (field 3); the start time is field 22.
    after_name = stat[stat.rindex(")") + 2 :].split()
    state, start_ticks = after_name[0], after_name[19]
    if state in GONE_STATES:
        return None
    return f"{BOOT_ID_FILE.read_text().strip()}/{start_ticks}"


def process_tags(pid: int | None = None) -> dict[str, str]:
    """The tags naming the live process ``pid`` (this one by default), for a run it executes; none
    where ``/proc`` is missing."""
    if not BOOT_ID_FILE.exists():
        return {}
    pid = os.getpid() if pid is None else pid
    started_at = process_started_at(pid)
    if started_at is None:
        raise ProcessLookupError(f"no live process {pid} to tag a run with")
    return {PID_TAG: str(pid), PID_STARTED_AT_TAG: started_at, HOST_TAG: socket.gethostname()}


def tag_run_process(instance: DagsterInstance, run: DagsterRun) -> None:
    """Tag ``run`` with this process, which executes its steps (every job of the code location runs
    them in one process), unless ``make run`` tagged it at launch: a run the daemon launched (the
    nightly schedule's, a backfill, the UI's) is then judged like ``make run``'s."""
    if PID_TAG not in run.tags:
        tags = process_tags()
        if tags:
            instance.add_run_tags(run.run_id, tags)


def run_process_gone(run: DagsterRun) -> bool:
    """Whether the process a run's tags name is known to be gone: tagged on this host, and no
    process with that pid and start time lives. False whenever that cannot be known."""
    tags = run.tags
    if PID_TAG not in tags or tags.get(HOST_TAG) != socket.gethostname() or not BOOT_ID_FILE.exists():
        return False
    return process_started_at(int(tags[PID_TAG])) != tags[PID_STARTED_AT_TAG]


@dataclass
class ActiveRuns:
    """The runs in progress on an instance: those still running, and those just marked failed."""

    live: list[DagsterRun] = field(default_factory=list)
    failed: list[DagsterRun] = field(default_factory=list)


def settle_active_runs(instance: DagsterInstance, marked_by: str) -> ActiveRuns:
    """The runs in progress on ``instance``, after reporting those whose process is gone as failed
    (``marked_by`` says who noticed, in the failure's message)."""
    runs = ActiveRuns()
    for record in instance.get_run_records(RunsFilter(statuses=ACTIVE_RUN_STATUSES)):
        run = record.dagster_run
        if run_process_gone(run):
            instance.report_run_failed(run, dead_run_message(run, marked_by))
            runs.failed.append(run)
        else:
            runs.live.append(run)
    return runs


def dead_run_message(run: DagsterRun, marked_by: str) -> str:
    """The failure message of a run whose process is gone."""
    return (
        f"the process {run.tags[PID_TAG]} on {run.tags[HOST_TAG]} that ran this run is gone (killed or crashed "
        f"before the run ended); marked failed by {marked_by}"
    )
