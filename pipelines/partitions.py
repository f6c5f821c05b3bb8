"""Daily partitions of the raw tables: one partition per UTC day of the source data."""

from dagster import DailyPartitionsDefinition

from pipelines.settings import load_settings

daily_partitions = DailyPartitionsDefinition(start_date=load_settings().partition_start.isoformat())
