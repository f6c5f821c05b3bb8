"""Shared fixtures: a small sample store and per-test warehouse settings."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.defs.project import dbt_project
from pipelines.sample_store.generator import generate_sample_store
from pipelines.settings import Settings
from tests.support.api_server import running_api
from tests.support.pipeline_runs import SAMPLE_FIRST_DAY, SAMPLE_SPEC, isolated_settings, run_pipeline


@pytest.fixture(scope="session")
def dbt_manifest_prepared() -> None:
    """dagster-dbt loads the manifest at import; `make test` prepares it before pytest starts."""
    if not dbt_project.manifest_path.exists():
        pytest.exit(f"{dbt_project.manifest_path} is missing: run the suite with `make test`", returncode=2)


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small sample store (120 days, 400 customers), generated once per session."""
    folder = tmp_path_factory.mktemp("sample_store")
    generate_sample_store(folder, SAMPLE_SPEC)
    return folder


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a warehouse of this test's own, reading ``source_dir``."""

    def _make(source_dir: Path, **sections: dict[str, object]) -> Settings:
        return isolated_settings(tmp_path / "data", source_dir, **sections)

    return _make


@pytest.fixture(scope="session")
def sample_warehouse(
    sample_store: Path, tmp_path_factory: pytest.TempPathFactory, dbt_manifest_prepared: None
) -> Settings:
    """The whole pipeline built once over the sample store; tests only read it."""
    settings = isolated_settings(tmp_path_factory.mktemp("sample_warehouse"), sample_store)
    run_pipeline(settings, SAMPLE_FIRST_DAY, SAMPLE_SPEC.end_date)
    return settings


@pytest.fixture(scope="session")
def api_url(sample_warehouse: Settings) -> Iterator[str]:
    """The real API over the sample warehouse's snapshot, on a loopback port, for the session."""
    with running_api(sample_warehouse) as url:
        yield url


@pytest.fixture
def own_warehouse(sample_warehouse: Settings, tmp_path: Path) -> Settings:
    """A copy of the sample warehouse and its snapshot, for a test that changes them."""
    shutil.copy(sample_warehouse.warehouse_file, tmp_path / "warehouse.duckdb")
    shutil.copy(sample_warehouse.serving_file, tmp_path / "serving.duckdb")
    return sample_warehouse.updated(
        warehouse={"data_dir": tmp_path, "warehouse_path": tmp_path / "warehouse.duckdb"},
        serving={"path": tmp_path / "serving.duckdb"},
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the unit tests' share of the suite's time (setup, call and teardown of every test)."""
    seconds = {"unit": 0.0, "all": 0.0}
    for reports in terminalreporter.stats.values():
        for report in reports:
            duration = getattr(report, "duration", None)
            if duration is None or not hasattr(report, "nodeid"):
                continue
            seconds["all"] += duration
            if report.nodeid.startswith("tests/unit/"):
                seconds["unit"] += duration
    if seconds["all"]:
        terminalreporter.write_line(
            f"tests/unit: {seconds['unit']:.1f} s of the {seconds['all']:.1f} s these tests took "
            f"({seconds['unit'] / seconds['all']:.1%})"
        )
