"""Crashed runs and locks (docs/reliability.md): a run killed with kill -9 is marked failed and
alerted on, its dbt process dies with it, and a step that waits for the warehouse file says who holds it."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dagster import AssetSelection, DagsterInstance

from tests.support.csv_store import write_store
from tests.support.pipeline_runs import run_pipeline

pytestmark = pytest.mark.adversarial

HOLD_SECONDS = 1.0
"""How long the other process holds the warehouse after saying so: past the resource's first waits."""


@contextmanager
def warehouse_held(path: Path) -> Iterator[subprocess.Popen]:
    """Another process holding ``path`` read-write (as a second run or a notebook would) for
    HOLD_SECONDS after it has opened it; yields the process."""
    code = (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(path)!r})\n"
        "print('held', flush=True)\n"
        f"time.sleep({HOLD_SECONDS})\n"
        "con.close()\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.wait(timeout=30)


def test_a_step_waiting_for_the_warehouse_says_which_process_holds_it_then_runs(tmp_path, make_settings):
    settings = make_settings(write_store(tmp_path / "store"))
    settings.warehouse_file.parent.mkdir(parents=True, exist_ok=True)
    day = dt.date(2025, 1, 1)

    with DagsterInstance.ephemeral() as instance, warehouse_held(settings.warehouse_file) as holder:
        result = run_pipeline(settings, day, day, selection=AssetSelection.assets(["raw", "costs"]), instance=instance)
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]

    assert holder.returncode == 0
    assert result.success, "the step ran once the other process let go"
    waits = [message for message in messages if message.startswith("waiting ")]
    assert waits, "the wait is in the run's log"
    assert all(f"the warehouse {settings.warehouse_file}: held by PID {holder.pid} (" in m for m in waits)
