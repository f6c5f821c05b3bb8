"""The nightly schedule: at 02:00 in ``ANALYTICS_TIMEZONE``, refresh yesterday's partition."""

import datetime as dt

from dagster import JobDefinition, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, schedule


def nightly_refresh_schedule(job: JobDefinition, timezone: str) -> ScheduleDefinition:
    """``nightly_refresh_schedule``: ``job`` at 02:00 in ``timezone`` for the day before."""

    @schedule(name="nightly_refresh_schedule", job=job, cron_schedule="0 2 * * *", execution_timezone=timezone)
    def _nightly(context: ScheduleEvaluationContext) -> RunRequest:
        """Request the last complete day as of the tick (the partition days are UTC days)."""
        tick_day = context.scheduled_execution_time.astimezone(dt.UTC).date()
        partition_key = (tick_day - dt.timedelta(days=1)).isoformat()
        return RunRequest(run_key=partition_key, partition_key=partition_key)

    return _nightly
