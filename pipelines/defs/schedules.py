"""The nightly schedule, built from the partitioned job: at 02:00 of the store's day
(``ANALYTICS_STORE_TIMEZONE``, the partitions' time zone), refresh the store day that ended at midnight."""

from dagster import build_schedule_from_partitioned_job

from pipelines.defs.jobs import nightly_refresh

NIGHTLY_HOUR = 2
"""The hour of the store's day the nightly run starts: two hours for the shop's late exports to arrive."""

# Built from the job's daily partitions (the raw tables'), so its cron and time zone are theirs and each
# tick's run request names the partition set and the day it asks for: the last complete one; a tick before
# the first partition asks for nothing. (Dagster 1.13's schedule page still reads "Partition set: None":
# its schedule snapshot never names one, however the schedule is built.)
nightly_refresh_schedule = build_schedule_from_partitioned_job(
    nightly_refresh,
    name="nightly_refresh_schedule",
    hour_of_day=NIGHTLY_HOUR,
    description="Refresh the store day that ended at the last midnight, at 02:00 in the store's time zone.",
)
