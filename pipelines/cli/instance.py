"""The persistent Dagster instance under the data folder: its ``dagster.yaml`` and the switches for
recording a run over a range of days cheaply.

``python -m pipelines.cli.instance HOME`` (``make install`` runs it) writes ``HOME/dagster.yaml``:
Dagster's defaults without telemetry, with run monitoring on (:data:`RUN_MONITORING`), and with
``ANALYTICS_BATCHED_EVENT_LOG`` on (the default) the event log
:class:`pipelines.defs.dagster_compat.BatchedSqliteEventLogStorage`, which stores a partition
range's materializations in one transaction per file. A ``dagster.yaml`` the user wrote
is left alone; one this module wrote is rewritten, so the setting takes effect.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from pipelines.settings import SettingsError, load_settings

EVENT_BATCH_SIZE_FLAG = "DAGSTER_EVENT_BATCH_SIZE"
PLANNED_EVENTS_FLAG = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
RANGE_RUN_FLAGS = {
    # One "materialization planned" event per asset for the whole range instead of one per asset
    # and day. The cost, per Dagster: if the run fails, its partitions show as missing rather than failed.
    PLANNED_EVENTS_FLAG: "true",
    # Asset events Dagster buffers before handing them to the storage: a partition range's events
    # arrive as batches of at most this many (the last one is flushed at the end of the step). The
    # batched event log stores a batch in one transaction, and so does Dagster's PostgreSQL storage.
    EVENT_BATCH_SIZE_FLAG: "1000",
}
"""Dagster's switches for recording a run over a range of days cheaply; the Makefile exports the
same defaults for ``make ui``."""
INSTANCE_FILE = "dagster.yaml"
WRITTEN_BY = "# Written by pipelines.cli.instance (ANALYTICS_BATCHED_EVENT_LOG); rewritten when that changes.\n"
"""The first line of a ``dagster.yaml`` this module wrote, which it may therefore rewrite."""
EARLIER_MODULE = "module: pipelines.instance\n"
"""How a ``dagster.yaml`` written before the module moved names the batched event log."""
BATCHED_EVENT_LOG = ("pipelines.defs.dagster_compat", "BatchedSqliteEventLogStorage")
"""Module and class of the batched event log, spelled out: importing it here would import Dagster
into ``make install``."""


RUN_MONITORING = {
    "enabled": True,
    # A run the daemon launched whose worker has not started within this is failed (the worker died
    # or never came up); a run being cancelled that has not stopped within this is failed too.
    "start_timeout_seconds": 180,
    "cancel_timeout_seconds": 180,
    # Dagster's default run launcher cannot resume a run in a new worker: a lost run is failed, never resumed.
    "max_resume_run_attempts": 0,
}
"""Dagster's run monitoring, done by the daemon (``make ui``) for the runs it launches. ``make run``
executes in its own process, which no launcher watches: :mod:`pipelines.defs.run_liveness` covers those."""


def instance_config(home: Path, *, batched_event_log: bool) -> dict[str, object]:
    """``dagster.yaml`` of an instance in ``home``: Dagster's defaults without telemetry (nothing here
    may reach outside the machine), with run monitoring on, and with the batched event log if asked for."""
    config: dict[str, object] = {"telemetry": {"enabled": False}, "run_monitoring": RUN_MONITORING}
    if batched_event_log:
        module, class_name = BATCHED_EVENT_LOG
        config["event_log_storage"] = {
            "module": module,
            "class": class_name,
            "config": {"base_dir": str(home.resolve() / "history" / "runs")},
        }
    return config


def written_here(text: str) -> bool:
    """Whether ``text`` is a ``dagster.yaml`` this module wrote (now or before it moved)."""
    return text.startswith(WRITTEN_BY) or EARLIER_MODULE in text


def prepare_instance(home: Path, *, batched_event_log: bool) -> None:
    """Create the instance folder ``home`` with its ``dagster.yaml`` (unless the user wrote one) and
    turn on the range-run switches for this process (unless set already)."""
    home.mkdir(parents=True, exist_ok=True)
    config_file = home / INSTANCE_FILE
    existing = config_file.read_text() if config_file.exists() else None
    if existing is None or written_here(existing):
        config = instance_config(home, batched_event_log=batched_event_log)
        text = WRITTEN_BY + yaml.safe_dump(config, sort_keys=False)
        if text != existing:
            config_file.write_text(text)
    for flag, value in RANGE_RUN_FLAGS.items():
        os.environ.setdefault(flag, value)


def main(argv: list[str]) -> int:
    """``python -m pipelines.cli.instance HOME``: prepare the instance folder (``make install`` does, so
    that ``make ui`` runs on the same ``dagster.yaml`` as ``make run``)."""
    if len(argv) != 1:
        print("usage: python -m pipelines.cli.instance DAGSTER_HOME", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    prepare_instance(Path(argv[0]), batched_event_log=settings.warehouse.batched_event_log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
