"""Every KPI card of ``marts.kpi_summary`` has a label, a unit and a direction of its own in
pipelines/readers/kpi_display.py, the one place the API and the dashboard take them from."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipelines.readers.kpi_display import KPI_DISPLAY, kpi_display, kpi_label

KPI_SUMMARY_YML = Path(__file__).parents[2] / "dbt_project" / "models" / "marts" / "_kpi_summary.yml"
FLAGS = {"has_cost_data"}
"""kpi_summary columns with a prior value that are no KPI (the API shows no card for a flag)."""
UNITS = {"money", "count", "percent", "ratio", "minutes"}


def kpi_card_metrics() -> set[str]:
    """The metrics the API makes a card of: the kpi_summary columns that have a ``<metric>_prior``."""
    models = yaml.safe_load(KPI_SUMMARY_YML.read_text())["models"]
    (model,) = [model for model in models if model["name"] == "kpi_summary"]
    names = {column["name"] for column in model["columns"]}
    return {name for name in names if f"{name}_prior" in names} - FLAGS


def test_every_kpi_card_has_a_display_of_its_own():
    assert kpi_card_metrics() - KPI_DISPLAY.keys() == set()
    assert {display.unit for display in KPI_DISPLAY.values()} <= UNITS


def test_a_column_without_an_entry_is_named_in_words():
    assert kpi_display("weekly_returns").label == "Weekly returns"
    assert kpi_display("weekly_returns").unit == "number"


def test_the_ltv_to_cac_label_names_its_cohort_and_horizon():
    row = {"ltv_horizon_days": 90, "ltv_cohort_month": "2024-03-01"}

    assert kpi_label(row, "ltv_to_cac") == "90-day LTV/CAC of the March 2024 cohort"
    assert kpi_label({**row, "ltv_cohort_month": None}, "ltv_to_cac") == "90-day LTV/CAC by cohort"
    assert kpi_label(row, "cac") == "Customer acquisition cost"
