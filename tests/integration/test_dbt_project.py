"""The dbt project as a dbt user finds it: `dbt source freshness` and `dbt docs generate` pass on a
built warehouse, every model and column is described, the published marts have enforced contracts,
the docs leave the unit tests out of the lineage, the exposures name what reads the marts, and the
selectors select what they say."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.defs.project import dbt_project
from pipelines.settings import Settings

DBT = Path(sys.executable).parent / "dbt"
EXPOSURES = {"dashboard", "json_api", "serving_snapshot"}
ANSWERS = Path(__file__).parents[2] / "pipelines" / "readers" / "answers.py"
"""The JSON API's answers, which the dashboard draws: the marts they read are what both exposures read."""


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
