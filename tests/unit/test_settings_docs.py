"""The README's settings tables are generated from the settings and match them."""

from __future__ import annotations

import pytest

from pipelines.cli.settings_docs import README, allowed_range, render_readme, settings_table
from pipelines.settings import SECTIONS, MLSettings, SourceSettings, env_name


def test_the_readme_tables_match_the_settings():
    text = README.read_text()

    assert render_readme(text) == text, "run `make docs` to regenerate the README's settings tables"


def test_every_setting_is_in_a_readme_table_once():
    text = README.read_text()

    for name, section in SECTIONS.items():
        for field in section.model_fields:
            assert text.count(f"| `{env_name(section, field)}` |") == 1, (name, field)


def test_a_row_shows_the_variable_default_meaning_and_range():
    table = settings_table(["ml"])

    assert (
        "| `ANALYTICS_DAYS_AHEAD` | `30` | Days the revenue forecast covers; also the backtest's horizon (1 to 90) |"
        in table
    )
    assert allowed_range(MLSettings.model_fields["model_type"]).startswith(" (one of `auto`, `linear`")
    assert allowed_range(SourceSettings.model_fields["kind"]) == "", "its description names the choices"
    assert env_name(SourceSettings, "kind") == "ANALYTICS_SOURCE"


def test_a_block_naming_an_unknown_section_is_an_error():
    with pytest.raises(ValueError, match=r"unknown settings sections \['nowhere'\]"):
        render_readme("<!-- settings: nowhere -->\n<!-- /settings -->")
