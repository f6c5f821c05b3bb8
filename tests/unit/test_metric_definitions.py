"""One definition per business rule in the dbt project (docs/metrics.md): the rule that makes a
customer's first paid order, and so their acquisition cohort, stands in one model only."""

from __future__ import annotations

import re
from pathlib import Path

MODELS = Path(__file__).parents[2] / "dbt_project" / "models"
FIRST_ORDER_RULE = re.compile(r"min\(\s*[\w.]*order_date\s*\)[^,]*\bas\s+first_order_date\b", re.IGNORECASE)
"""A model that derives ``first_order_date`` itself, as a minimum of order days."""


def test_the_first_paid_order_rule_is_in_exactly_one_model():
    deriving = {path.stem for path in MODELS.rglob("*.sql") if FIRST_ORDER_RULE.search(path.read_text())}

    assert deriving == {"int_customer_orders"}


def test_the_rule_pattern_finds_a_copy_of_the_rule():
    # The pattern must see the rule as a model would write it again, or the test above proves nothing.
    copy = "select customer_id, min(paid_orders.order_date) as first_order_date from paid_orders group by 1"

    assert FIRST_ORDER_RULE.search(copy)
