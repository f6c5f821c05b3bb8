"""The nightly schedule: at 02:00 in ``ANALYTICS_TIMEZONE``, refresh yesterday's partition."""

import datetime as dt

from dagster import RunRequest, ScheduleEvaluationContext, schedule

from pipelines.jobs import nightly_refresh
from pipelines.settings import load_settings


@schedule(
    name="nightly_refresh_schedule",
    job=nightly_refresh,
    cron_schedule="0 2 * * *",
    execution_timezone=load_settings().timezone,
)
def nightly_refresh_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    """Request the last complete day as of the tick (the partition days are UTC days)."""
    tick_day = context.scheduled_execution_time.astimezone(dt.UTC).date()
    partition_key = (tick_day - dt.timedelta(days=1)).isoformat()
    return RunRequest(run_key=partition_key, partition_key=partition_key)
