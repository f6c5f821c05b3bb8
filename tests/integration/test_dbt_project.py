"""The dbt project as a dbt user finds it: `dbt source freshness` and `dbt docs generate` pass on a
built warehouse, every model and column is described, the published marts have enforced contracts,
the docs leave the unit tests out of the lineage, the exposures name what reads the marts, the
selectors select what they say, and the column_rules tests check every rule the per-column tests did."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.project import dbt_project
from pipelines.settings import Settings
from tests.support.csv_store import write_store
from tests.support.pipeline_runs import INGEST, run_pipeline

DBT = Path(sys.executable).parent / "dbt"
EXPOSURES = {"dashboard", "json_api", "serving_snapshot"}
ANSWERS = Path(__file__).parents[2] / "pipelines" / "readers" / "answers.py"
RULES_BEFORE_COLUMN_RULES = Path(__file__).parents[1] / "support" / "dbt_rules_before_column_rules.json"
"""Every (model, column, rule, arguments, severity) the project checked with one dbt test per column and
rule, extracted from the manifest before those tests were merged into one column_rules test per model."""
KEYS_BEFORE_COLUMN_RULES = Path(__file__).parents[1] / "support" / "dbt_keys_before_column_rules.json"
"""Every (model, key, "unique", arguments, severity) the project checked with a `unique`, `unique_combination`
or `unique_in_latest_load` test, from the manifest before the keys moved into column_rules: the key is
the column, or a combination's columns joined by ", "; the arguments say which rows the test read."""
MERGED_TESTS = {"not_null", "accepted_range", "accepted_values", "null_without_denominator", "expression_is_true"}
MERGED_KEY_TESTS = {"unique", "unique_combination"}
MOVED_RULES = {
    ("funnel_session_stages", "minutes_to_next_stage"): "int_funnel_stage_times",
    **{("int_paid_orders", column): "stg_transactions" for column in ("transaction_id", "customer_id", "order_date")},
}
"""Rules checked since on another model that holds the same values: the day histogram counts every row
of the 70-million-row view at 10M transactions, and is a few rows a day to scan each night; the paid
orders are rows of stg_transactions with those columns as they are."""
"""The JSON API's answers, which the dashboard draws: the marts they read are what both exposures read."""


TABLE_RULES_BEFORE_COLUMN_RULES = {
    ("kpi_summary", None, "row_count", '{"expected": 1}'),
    ("customer_metrics", None, "row_count", '{"expected": 1}'),
    ("funnel_hourly", None, "row_count", '{"expected": 24}'),
    (
        "customer_segments",
        "customers",
        "sums_to",
        json.dumps({"total": "(select count(*) from {{ ref('customer_rfm') }})"}),
    ),
    ("customer_segments", "customer_share", "sums_to", '{"total": 1, "when": "sum(customers) > 0"}'),
    ("customer_segments", "revenue_share", "sums_to", '{"total": 1, "when": "sum(revenue) > 0"}'),
    (
        "product_performance",
        "revenue_share",
        "sums_to",
        '{"group_by": ["grain", "order_month"], "when": "sum(net_revenue) > 0"}',
    ),
    ("cost_breakdown", "share", "sums_to", '{"group_by": ["period"], "when": "sum(amount) > 0"}'),
    ("roi_monthly", "break_even_month", "same_on_every_row", "{}"),
    ("top_customers", "historical_ltv", "non_increasing", '{"order_by": "ltv_rank"}'),
    ("funnel_stages", "entered", "non_increasing", '{"order_by": "stage_order"}'),
    ("funnel_daily", "entered", "non_increasing", '{"group_by": ["session_date"], "order_by": "stage_order"}'),
}
"""The whole-table tests (row_count, sums_to, same_on_every_row, non_increasing), each a blocking dbt test of
its own before they became rules of their model's column_rules test: (model, column, rule, arguments as JSON)."""


def run_dbt(settings: Settings, target: Path, *args: str, **dbt_vars: object) -> subprocess.CompletedProcess:
    """dbt ``args`` on ``settings``' warehouse with ``dbt_vars``, its artefacts in ``target`` (never the
    project's own target)."""
    vars_json = json.dumps({"warehouse_path": str(settings.warehouse_file), **dbt_vars})
    return subprocess.run(
        [str(DBT), *args, "--profiles-dir", ".", "--target-path", str(target), "--vars", vars_json, "--no-use-colors"],
        cwd=dbt_project.project_dir,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def docs(sample_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The target folder of `dbt docs generate` on the sample warehouse, as docs/bi-tools.md runs it:
    without the unit tests."""
    target = tmp_path_factory.mktemp("dbt_docs")
    done = run_dbt(sample_warehouse, target, "docs", "generate", without_unit_tests=True)
    assert done.returncode == 0, done.stdout[-3000:]
    return target


def test_source_freshness_passes_on_a_warehouse_just_loaded(sample_warehouse, tmp_path):
    done = run_dbt(sample_warehouse, tmp_path, "source", "freshness")

    assert done.returncode == 0, done.stdout[-3000:]
    assert "PASS freshness of raw.load_log" in done.stdout


def test_every_model_and_every_column_it_builds_is_described(docs):
    manifest = json.loads((docs / "manifest.json").read_text())
    catalog = json.loads((docs / "catalog.json").read_text())
    models = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}

    undescribed_models = [node["name"] for node in models.values() if not node["description"].strip()]
    undescribed_columns = [
        f"{models[uid]['name']}.{column.lower()}"
        for uid, entry in catalog["nodes"].items()
        if uid in models
        for column in entry["columns"]
        if not models[uid]["columns"].get(column.lower(), {}).get("description", "").strip()
    ]

    assert len(models) >= 20
    assert undescribed_models == []
    assert undescribed_columns == []


def test_every_published_mart_has_an_enforced_contract_typing_every_column_it_builds(docs):
    manifest = json.loads((docs / "manifest.json").read_text())
    catalog = json.loads((docs / "catalog.json").read_text())
    marts = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    marts = {uid: node for uid, node in marts.items() if node["schema"] == "marts"}

    uncontracted = [node["name"] for node in marts.values() if not node["config"]["contract"]["enforced"]]
    untyped = [
        f"{node['name']}.{column['name']}"
        for node in marts.values()
        for column in node["columns"].values()
        if not column.get("data_type")
    ]
    # The contract names every column the table has, in the warehouse's own type for it.
    built = {
        uid: {name.lower(): column["type"].lower() for name, column in catalog["nodes"][uid]["columns"].items()}
        for uid in marts
    }
    declared = {
        uid: {name: column["data_type"].replace(" ", "") for name, column in node["columns"].items()}
        for uid, node in marts.items()
    }

    assert len(marts) >= 14
    assert uncontracted == []
    assert untyped == []
    assert declared == built


def test_the_docs_leave_the_unit_tests_out_of_the_lineage(docs, sample_warehouse, tmp_path):
    parsed = run_dbt(sample_warehouse, tmp_path, "parse")
    assert parsed.returncode == 0, parsed.stdout[-3000:]

    assert json.loads((tmp_path / "manifest.json").read_text())["unit_tests"], "the project has unit tests"
    assert json.loads((docs / "manifest.json").read_text())["unit_tests"] == {}


def test_the_exposures_name_the_readers_and_the_marts_they_read(docs):
    manifest = json.loads((docs / "manifest.json").read_text())
    exposures = {node["name"]: node for node in manifest["exposures"].values()}

    assert set(exposures) == EXPOSURES
    for exposure in exposures.values():
        read = {uid.rsplit(".", 1)[-1] for uid in exposure["depends_on"]["nodes"]}
        assert {"kpi_summary", "revenue_daily", "customer_rfm", "roi_monthly"} <= read
        assert exposure["owner"]["name"]
    assert exposures["dashboard"]["type"] == "dashboard"
    answered = set(re.findall(r"\bmarts\.(\w+)", ANSWERS.read_text()))
    for name in ("dashboard", "json_api"):
        read = {uid.rsplit(".", 1)[-1] for uid in exposures[name]["depends_on"]["nodes"]}
        assert answered - read == set(), f"marts the API answers from that exposure {name} does not list"


def test_the_selectors_select_what_they_say(sample_warehouse, tmp_path):
    def listed(selector: str) -> dict[str, set[str]]:
        """unique ids of what ``selector`` selects, by resource type (the unit tests included)."""
        done = run_dbt(
            sample_warehouse, tmp_path, "ls", "--selector", selector, "--resource-type", "all", "--output", "json", "-q"
        )
        assert done.returncode == 0, done.stdout[-3000:]
        found: dict[str, set[str]] = {}
        for line in done.stdout.splitlines():
            node = json.loads(line)
            found.setdefault(node["resource_type"], set()).add(node["unique_id"])
        return found

    nightly, published, tests_only = listed("nightly"), listed("published"), listed("tests_only")
    kpis, sessions = "model.storefront_metrics.kpi_summary", "model.storefront_metrics.funnel_sessions"

    assert kpis in nightly["model"] and "unit_test" not in nightly, "the suite runs the unit tests, not the night"
    assert {kpis, sessions} <= published["model"], "the exposures' marts and what they are built from"
    assert "model" not in tests_only and tests_only["unit_test"] and tests_only["test"]


def checked_rules(manifest: dict) -> set[tuple[str, str | None, str, str, str]]:
    """(model, column, rule, arguments as JSON, severity) of every rule that the manifest's tests check,
    whether a test of its own (dbt's form: ``not_null_<model>_<column>``) or one of a column_rules test.
    A key's uniqueness is a rule ``unique`` of the key (as in KEYS_BEFORE_COLUMN_RULES), with the rows it
    reads as arguments: ``where``, and ``latest_load`` of its test when it reads the days of a load (its
    ``time_column`` form); the ``key_column`` form reads every row of each key it checks, so the key is
    unique as without it."""
    rules = set()
    for test in manifest["nodes"].values():
        generic = test.get("test_metadata") or {}
        checked_here = {*MERGED_TESTS, *MERGED_KEY_TESTS, "column_rules"}
        if test["resource_type"] != "test" or generic.get("name") not in checked_here:
            continue
        model = manifest["nodes"][test["attached_node"]]["name"]
        severity = test["config"]["severity"].lower()
        arguments = {key: value for key, value in generic["kwargs"].items() if key not in ("model", "column_name")}
        if generic["name"] in MERGED_KEY_TESTS:
            rules.add((model, *key_rule(test), severity))
            continue
        if generic["name"] != "column_rules":
            if "expression" in arguments:
                arguments["expression"] = arguments["expression"].strip()
            column = generic["kwargs"].get("column_name")
            rules.add((model, column, generic["name"], json.dumps(arguments, sort_keys=True), severity))
            continue
        latest_load = arguments.get("latest_load") or {}
        read = {"latest_load": latest_load} if "time_column" in latest_load else {}
        for column, column_rules in arguments.get("columns", {}).items():
            for rule in column_rules:
                name, rule_arguments = (rule, {}) if isinstance(rule, str) else next(iter(rule.items()))
                if name == "unique":
                    rule_arguments = {**rule_arguments, **read}
                rules.add((model, column, name, json.dumps(rule_arguments, sort_keys=True), severity))
        for combination in arguments.get("unique_combinations", []):
            rules.add((model, ", ".join(combination), "unique", json.dumps(read, sort_keys=True), severity))
        for expression in arguments.get("expressions", []):
            expression_arguments = json.dumps({"expression": expression.strip()})
            rules.add((model, None, "expression_is_true", expression_arguments, severity))
        if arguments.get("row_count") is not None:
            rules.add((model, None, "row_count", json.dumps({"expected": arguments["row_count"]}), severity))
    return rules


def key_rule(test: dict) -> tuple[str, str, str]:
    """(key, "unique", arguments as JSON) of a test of its own that a key is unique."""
    generic = test["test_metadata"]
    arguments = generic["kwargs"]
    if generic["name"] == "unique_combination":
        return ", ".join(arguments["columns"]), "unique", "{}"
    read = {"where": test["config"]["where"]} if test["config"].get("where") else {}
    return arguments["column_name"], "unique", json.dumps(read, sort_keys=True)


def test_the_column_rules_tests_check_every_rule_the_per_column_tests_did():
    manifest = json.loads(dbt_project.manifest_path.read_text())
    rules_before = json.loads(RULES_BEFORE_COLUMN_RULES.read_text())
    # A moved rule may be one its new model had already: the set holds it once.
    before = {
        (MOVED_RULES.get((model, column), model), column, name, json.dumps(arguments, sort_keys=True), severity)
        for model, column, name, arguments, severity in rules_before
    }

    keys_before = {
        (model, key, name, json.dumps(arguments, sort_keys=True), severity)
        for model, key, name, arguments, severity in json.loads(KEYS_BEFORE_COLUMN_RULES.read_text())
    }

    now = checked_rules(manifest)

    assert len(rules_before) == 224
    assert len(keys_before) == 31
    assert sorted(before - now, key=str) == [], "rules no test checks any more"
    assert sorted(keys_before - now, key=str) == [], "keys no test checks any more"
    table_rules = {(*rule, "error") for rule in TABLE_RULES_BEFORE_COLUMN_RULES}
    assert sorted(table_rules - now, key=str) == [], "whole-table rules no test checks any more"
    tests = [node for node in manifest["nodes"].values() if node["resource_type"] == "test"]
    merged = MERGED_TESTS | MERGED_KEY_TESTS
    one_rule_tests = [test["name"] for test in tests if (test.get("test_metadata") or {}).get("name") in merged]
    assert one_rule_tests == [], "a column rule in a test of its own: add it to its model's column_rules instead"
    column_rules_tests = [test for test in tests if test["test_metadata"]["name"] == "column_rules"]
    per_model_and_severity = {(test["attached_node"], test["config"]["severity"]) for test in column_rules_tests}
    assert len(per_model_and_severity) == len(column_rules_tests), "one column_rules test per model and severity"


def broken_rules_of(settings: Settings, target: Path, call: str) -> set[tuple[str | None, str, int]]:
    """(column, rule, failing rows) of each rule that the column_rules test ``call`` (Jinja) finds broken,
    as `dbt show` of the test's query returns them."""
    done = run_dbt(
        settings, target, "--quiet", "show", "--limit", "10", "--output", "json", "--inline", "{{ " + call + " }}"
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return {(row["column_name"], row["rule"], row["failing_rows"]) for row in json.loads(done.stdout)["show"]}


def test_column_rules_returns_each_broken_rule_with_its_column_and_failing_rows(sample_warehouse, tmp_path):
    # Three rows of a, b, d, r, e: each rule below is broken by the rows counted next to it.
    rows = "(values (1, 3, 0, 5.0, 'x'), (2, 5, 0, null, 'x'), (null, 4, 2, 1.0, 'y')) as v(a, b, d, r, e)"
    rules = {
        # row 3 null; row 2's 2 > 1; unique: 1 and 2 (a null is no key)
        "a": ["not_null", {"accepted_range": {"min_value": 1, "max_value": 1}}, "unique"],
        "b": [{"accepted_values": {"values": ["3", "4"]}}],  # row 2's 5
        # none: rows 1 and 2 share d 0, but only rows 2 and 3 have b > 3
        "d": ["not_null", {"accepted_range": {"min_value": 0}}, {"unique": {"where": "b > 3"}}],
        "r": [{"null_without_denominator": {"denominator": "d"}}],  # row 1: 5.0 where d is 0; row 2 null is fine
        "e": ["unique"],  # rows 1 and 2 share x
    }
    # a < 2: row 2 false, row 3 null (which fails too, as a null must not pass a check).
    expressions = ["a < 2", "r is null or r > 0"]
    combinations = [["d", "e"], ["a", "e"]]  # rows 1 and 2 share (0, x); (1, x), (2, x), (null, y) differ
    call = (
        f'test_column_rules(model="(select * from {rows})", columns={rules}, expressions={expressions}, '
        f"unique_combinations={combinations})"
    )

    assert broken_rules_of(sample_warehouse, tmp_path, call) == {
        ("a", "not_null", 1),
        ("a", "accepted_range: min_value 1, max_value 1", 1),
        ("b", "accepted_values: 3, 4", 1),
        ("r", "null_without_denominator: d", 1),
        (None, "expression_is_true: a < 2", 2),
        ("e", "unique", 2),
        ("d, e", "unique", 2),
    }


def test_column_rules_counts_what_breaks_each_whole_table_rule(sample_warehouse, tmp_path):
    # Four rows in two groups g, ordered by o within each.
    rows = (
        "(values ('p', 1, 10, 0.5, date '2025-01-01'), ('p', 2, 12, 0.5, date '2025-01-01'), "
        "('q', 1, 7, 0.25, null), ('q', 2, 3, 0.25, date '2025-01-01')) as v(g, o, x, s, m)"
    )
    rules = {
        # p grows from 10 to 12 (one row); q falls from 7 to 3.
        "x": [{"non_increasing": {"order_by": "o", "group_by": ["g"]}}],
        "s": [
            {"sums_to": {"group_by": ["g"]}},  # p adds up to 1, q to 0.5: one group
            {"sums_to": {"total": 2}},  # the table adds up to 1.5
            {"sums_to": {"total": 1.5}},  # holds
            {"sums_to": {"total": 2, "when": "sum(x) > 100"}},  # x adds up to 32: not checked
        ],
        "m": ["same_on_every_row"],  # 2025-01-01 and null: one value too many
        "o": ["same_on_every_row"],  # 1 and 2, on two rows each: one value too many
        "g": [{"non_increasing": {"order_by": "o, g"}}],  # p, q, p, q: q follows p twice
    }
    call = f'test_column_rules(model="(select * from {rows})", columns={rules}, row_count=6)'

    assert broken_rules_of(sample_warehouse, tmp_path, call) == {
        ("x", "non_increasing: group_by g; order_by o", 1),
        ("s", "sums_to: group_by g", 1),
        ("s", "sums_to: total 2", 1),
        ("m", "same_on_every_row", 1),
        ("o", "same_on_every_row", 1),
        ("g", "non_increasing: order_by o, g", 2),
        (None, "row_count: 6", 2),  # 4 rows, 2 fewer than 6
    }


RELATIONSHIP_TEST = "relationships_stg_transactions_customer_id__customer_id__ref_stg_customers_"


def test_the_nightly_relationships_test_reads_the_orders_of_the_latest_load(tmp_path, make_settings):
    settings = make_settings(write_store(tmp_path / "store"))
    run_pipeline(settings, dt.date(2025, 1, 1), dt.date(2025, 1, 2), selection=INGEST)
    run_pipeline(settings, dt.date(2025, 1, 2), dt.date(2025, 1, 2), selection=INGEST)
    done = run_dbt(settings, tmp_path / "views", "build", "--select", "stg_customers", "stg_transactions")
    assert done.returncode == 0, done.stdout[-3000:]
    # stg_customers has a row for every customer of an order by its definition: an orphan order
    # needs a stg_customers without C1, whose orders are T1 (1 Jan) and T3 (2 Jan, the latest load).
    with duckdb.connect(str(settings.warehouse_file)) as con:
        con.execute("delete from staging.stg_customers where customer_id = 'C1'")

    def orphans(*flags: str) -> int:
        """dbt's count of orphan orders of the relationships test alone (stg_customers stays as planted)."""
        target = tmp_path / f"test{'_'.join(flags)}"
        run_dbt(settings, target, "build", "--select", RELATIONSHIP_TEST, *flags)
        (result,) = json.loads((target / "run_results.json").read_text())["results"]
        return result["failures"]

    assert orphans() == 1, "T3: the night reads the orders of 2 Jan"
    assert orphans("--full-refresh") == 2, "T1 and T3: a full refresh reads every order"
