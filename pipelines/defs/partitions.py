"""Daily partitions of the raw tables: one partition per day of the store's calendar
(``ANALYTICS_STORE_TIMEZONE``, ending at the store's midnight, 23 or 25 hours long across a daylight
saving change), from ``ANALYTICS_PARTITION_START`` or, left unset, from the sample store's first day,
so that the UI shows no day as missing that there is nothing to load for."""

import datetime as dt

from dagster import DailyPartitionsDefinition

from pipelines.sample_store.generator import SampleStoreSpec, sample_store_first_day
from pipelines.settings import Settings
from pipelines.warehouse.store_calendar import store_day

DEFAULT_PARTITION_START = dt.date(2024, 1, 1)
"""The first partition of a files or SQL source without ``ANALYTICS_PARTITION_START``: finding the
source's first day would read the whole source at every load of the code location."""


def store_partitions(settings: Settings) -> DailyPartitionsDefinition:
    """The partitions of the raw tables: one per day of the store's calendar from :func:`partition_start`."""
    return DailyPartitionsDefinition(
        start_date=partition_start(settings).isoformat(), timezone=settings.schedule.store_timezone
    )


def partition_start(settings: Settings) -> dt.date:
    """The first day of the daily partitions: ``ANALYTICS_PARTITION_START``; unset, the store day of the
    sample store's first time (the store that ``make run`` generates, if it has not yet; its times are
    UTC from that day's midnight, which west of UTC is the evening before), or
    :data:`DEFAULT_PARTITION_START` for the other sources."""
    if settings.schedule.partition_start is not None:
        return settings.schedule.partition_start
    if settings.source.kind == "sample":
        first_day = sample_store_first_day(settings.source_folder, sample_store_spec(settings))
        return store_day(dt.datetime.combine(first_day, dt.time()), settings.schedule.store_timezone)
    return DEFAULT_PARTITION_START


def sample_store_spec(settings: Settings) -> SampleStoreSpec:
    """The sample store of ``ANALYTICS_SAMPLE_*``."""
    return SampleStoreSpec(seed=settings.sample.seed, days=settings.sample.days, customers=settings.sample.customers)
