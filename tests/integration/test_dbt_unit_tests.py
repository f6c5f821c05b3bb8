"""dbt's own unit tests (YAML `unit_tests` next to each mart): the SQL logic of every model on
given rows. The nightly build skips them; here they run against a copy of the sample warehouse
(dbt opens it read-write, and other tests read the original), whose relations give dbt the
column types of each model's inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipelines.defs.project import DBT_PROJECT_DIR


def test_every_dbt_unit_test_passes(own_warehouse, tmp_path):
    dbt = Path(sys.executable).parent / "dbt"
    completed = subprocess.run(
        [
            str(dbt),
            "test",
            "--select",
            "test_type:unit",
            "--vars",
            json.dumps({"warehouse_path": str(own_warehouse.warehouse_file)}),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            # Its own target folder: the project's holds the manifest Dagster loads.
            "--target-path",
            str(tmp_path / "target"),
        ],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout[-5000:]
    assert "PASS=0" not in completed.stdout, "no unit test ran"
