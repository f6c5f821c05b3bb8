"""The floor plan stays true: no circle of imports, no import up a layer, no Dagster below the
Dagster layer, and no settings read or folder made by importing any module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.import_rules import find_cycles, forbidden_imports, import_graph, module_name

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("analytics_ml", "pipelines")
MATHS = {"analytics_ml"}
VOCABULARY = {"pipelines.source_schema"}
SETTINGS = {*MATHS, *VOCABULARY, "pipelines.settings"}
STORES = {*SETTINGS, "pipelines.warehouse"}
BELOW_DAGSTER = {*STORES, "pipelines.sources", "pipelines.sample_store", "pipelines.alerts", "pipelines.readers"}
MAY_IMPORT: dict[str, set[str]] = {
    "analytics_ml": set(),
    "pipelines": set(),
    "pipelines.source_schema": set(),
    "pipelines.settings": MATHS | VOCABULARY,
    "pipelines.warehouse": SETTINGS,
    "pipelines.sources": STORES,
    "pipelines.sample_store": VOCABULARY,
    "pipelines.alerts": STORES,
    "pipelines.readers": STORES,
    "pipelines.defs": BELOW_DAGSTER,
    "pipelines.assets": BELOW_DAGSTER | {"pipelines.defs"},
    "pipelines.definitions": BELOW_DAGSTER | {"pipelines.defs", "pipelines.assets"},
    "pipelines.cli": BELOW_DAGSTER | {"pipelines.defs", "pipelines.assets", "pipelines.definitions"},
}
"""Each layer (a folder or module) and the layers it may import besides itself: the table of
docs/architecture.md."""
DAGSTER_FREE = (
    "analytics_ml",
    "pipelines.settings",
    "pipelines.warehouse",
    "pipelines.sources",
    "pipelines.alerts",
    "pipelines.readers",
)
"""Layers whose modules import neither Dagster nor dbt, not even through a library."""


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_project_has_no_circle_of_imports():
    assert find_cycles(import_graph(ROOT, PACKAGES)) == []


def test_no_module_imports_a_layer_above_its_own():
    assert forbidden_imports(import_graph(ROOT, PACKAGES), MAY_IMPORT) == []


def test_a_planted_circle_and_a_planted_upward_import_are_found(tmp_path):
    # shop.low -> shop.high -> shop.mid -> shop.low: a circle of three, and low may import nothing.
    write_package(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/low.py": "from shop.high import thing\n",
            "shop/mid.py": "import shop.low\n",
            "shop/high/__init__.py": "def thing():\n    from ..mid import other  # deferred, relative\n",
            "shop/leaf.py": "x = 1\n",
        },
    )
    graph = import_graph(tmp_path, ["shop"])

    assert find_cycles(graph) == [["shop.high", "shop.low", "shop.mid"]]
    problems = forbidden_imports(graph, {"shop": set(), "shop.low": set(), "shop.high": {"shop"}})
    assert problems == [
        "shop.low -> shop.high (shop.low may not import shop.high)",
        "shop.mid -> shop.low (shop may not import shop.low)",
    ]


def test_every_module_of_the_project_is_in_a_layer_of_the_plan():
    modules = {module_name(ROOT, path) for package in PACKAGES for path in (ROOT / package).rglob("*.py")}

    assert modules == set(import_graph(ROOT, PACKAGES))
    assert all(any(module == layer or module.startswith(layer + ".") for layer in MAY_IMPORT) for module in modules)


# Imports each group of modules given as a JSON list of lists, in turn, in one fresh interpreter, and
# prints the top-level packages imported after each group. Run in a folder of its own, with settings
# values that would fail if any module read the settings at import.
IMPORT_PROBE = """
import importlib, json, sys
imported = []
for group in json.loads(sys.argv[1]):
    for name in group:
        importlib.import_module(name)
    imported.append(sorted({name.split(".")[0] for name in sys.modules}))
print(json.dumps(imported))
"""
DAGSTER_AND_DBT = {"dagster", "dagster_dbt", "dagster_duckdb", "dagster_slack", "dbt"}


@pytest.fixture(scope="module")
def import_probe(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """The settings, then the layers below Dagster, then every module, imported in a fresh process."""
    tmp_path = tmp_path_factory.mktemp("import_probe")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    modules = sorted(import_graph(ROOT, PACKAGES))
    groups = [["pipelines.settings"], [name for name in modules if name.startswith(DAGSTER_FREE)], modules]
    env = {
        **os.environ,
        "ANALYTICS_DATA_DIR": str(tmp_path / "data"),
        "ANALYTICS_DAYS_AHEAD": "not a number",
        "ANALYTICS_SOURCE": "not a source",
    }
    probe = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, json.dumps(groups)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return tmp_path, probe


def imported_after(probe: subprocess.CompletedProcess, group: int) -> set[str]:
    assert probe.returncode == 0, probe.stderr[-3000:]
    return set(json.loads(probe.stdout.splitlines()[-1])[group])


def test_importing_the_settings_imports_neither_dagster_nor_dbt_nor_duckdb(import_probe):
    _, probe = import_probe

    imported = imported_after(probe, 0)

    assert imported.isdisjoint({*DAGSTER_AND_DBT, "duckdb"}), imported
    assert "pydantic_settings" in imported, "the probe saw the settings' own imports"


def test_the_layers_below_dagster_import_no_dagster(import_probe):
    _, probe = import_probe

    imported = imported_after(probe, 1)

    assert imported.isdisjoint(DAGSTER_AND_DBT), imported
    assert {"duckdb", "fastapi"} <= imported, "the probe imported the stores and the readers"


def test_importing_every_module_reads_no_settings_and_makes_no_folder(import_probe):
    tmp_path, probe = import_probe

    # The environment holds bad settings: any module that read them at import would have failed.
    assert "dagster" in imported_after(probe, 2)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cwd"], "no data folder was made"
    assert list((tmp_path / "cwd").iterdir()) == [], "nothing was written in the working folder"


def test_no_two_modules_share_a_file_name():
    names: dict[str, list[str]] = {}
    for folder in (*PACKAGES, "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name != "__init__.py":
                names.setdefault(path.name, []).append(str(path.relative_to(ROOT)))

    assert {name: paths for name, paths in names.items() if len(paths) > 1} == {}
