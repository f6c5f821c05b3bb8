"""Daily partitions of the raw tables: one partition per UTC day of the source data, from
``ANALYTICS_PARTITION_START`` or, left unset, from the sample store's first day, so that the UI shows
no day as missing that there is nothing to load for."""

import datetime as dt

from dagster import DailyPartitionsDefinition

from pipelines.sample_store.generator import SampleStoreSpec, sample_store_first_day
from pipelines.settings import Settings

DEFAULT_PARTITION_START = dt.date(2024, 1, 1)
"""The first partition of a files or SQL source without ``ANALYTICS_PARTITION_START``: finding the
source's first day would read the whole source at every load of the code location."""


def daily_partitions(start: dt.date) -> DailyPartitionsDefinition:
    """One partition per day from ``start``."""
    return DailyPartitionsDefinition(start_date=start.isoformat())


def partition_start(settings: Settings) -> dt.date:
    """The first day of the daily partitions: ``ANALYTICS_PARTITION_START``; unset, the sample store's
    first day (the one ``make run`` generates, if it has not yet), or :data:`DEFAULT_PARTITION_START`
    for the other sources."""
    if settings.schedule.partition_start is not None:
        return settings.schedule.partition_start
    if settings.source.kind == "sample":
        return sample_store_first_day(settings.source_folder, sample_store_spec(settings))
    return DEFAULT_PARTITION_START


def sample_store_spec(settings: Settings) -> SampleStoreSpec:
    """The sample store of ``ANALYTICS_SAMPLE_*``."""
    return SampleStoreSpec(seed=settings.sample.seed, days=settings.sample.days, customers=settings.sample.customers)
