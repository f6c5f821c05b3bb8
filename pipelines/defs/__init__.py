"""Dagster definitions beside the assets: partitions, jobs, schedules, sensors, resources, the dbt
project and the one corner that touches Dagster's private API (:mod:`pipelines.defs.dagster_compat`).
Each is built by a function from the settings; :mod:`pipelines.definitions` gathers them."""
