"""Freshness: by 04:00 in ``ANALYTICS_STORE_TIMEZONE``, two hours after the nightly run starts, every raw
table and the readers' snapshot were materialized since 02:00.

Dagster's freshness policies (``FreshnessPolicy.cron``) on those assets, which the daemon evaluates
without a sensor of ours: a night that did not run, or ran and failed before publishing, shows the
assets as stale in the UI the next morning, whether or not anyone looks at the runs.
"""

from __future__ import annotations

import datetime as dt

from dagster import AssetsDefinition, FreshnessPolicy

DEADLINE_CRON = "0 4 * * *"
"""When the night's work must be done: two hours after the nightly schedule's 02:00."""
NIGHT_LENGTH = dt.timedelta(hours=2)
"""How long before the deadline the materialization may have happened: the night's window."""


def nightly_freshness(timezone: str) -> FreshnessPolicy:
    """Materialized between 02:00 and 04:00 of the day, in ``timezone``."""
    return FreshnessPolicy.cron(deadline_cron=DEADLINE_CRON, lower_bound_delta=NIGHT_LENGTH, timezone=timezone)


def with_nightly_freshness(assets: list[AssetsDefinition], timezone: str) -> list[AssetsDefinition]:
    """``assets`` with the nightly freshness policy on each of their assets."""
    policy = nightly_freshness(timezone)
    return [asset.map_asset_specs(lambda spec: spec.replace_attributes(freshness_policy=policy)) for asset in assets]
