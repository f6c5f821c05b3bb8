"""The dbt project, as dagster-dbt sees it.

The manifest is prepared ahead of time (``make`` runs ``dbt parse``; ``dagster dev`` prepares it
on start), never parsed at every import of the definitions.
"""

from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()
