"""Daily partitions of the raw tables: one partition per UTC day of the source data, from
``ANALYTICS_PARTITION_START``."""

import datetime as dt

from dagster import DailyPartitionsDefinition


def daily_partitions(start: dt.date) -> DailyPartitionsDefinition:
    """One partition per day from ``start``."""
    return DailyPartitionsDefinition(start_date=start.isoformat())
