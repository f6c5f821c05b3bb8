"""The README's tables of settings, generated from the settings' own fields (name, default, range,
description), so that the README cannot drift from :mod:`pipelines.settings`.

Each table sits between ``<!-- settings: <section>, <section> -->`` and ``<!-- /settings -->`` in the
README. ``python -m pipelines.cli.settings_docs`` rewrites them (``make docs``); with ``--check`` it only
says whether the README is up to date (the test suite checks the same).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from pipelines.settings import SECTIONS, env_name

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"(<!-- settings: (?P<sections>[a-z_, ]+) -->\n)(?P<table>.*?)(<!-- /settings -->)", re.DOTALL)
HEADER = "| variable | default | meaning |\n| --- | --- | --- |\n"


def shown_default(field: FieldInfo) -> str:
    """The default as the README shows it: a derived default's description, or the value in code style."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "shown_default" in extra:
        return str(extra["shown_default"])
    return "(none)" if field.default is None else f"`{default_text(field.default)}`"


def default_text(value: object) -> str:
    """A default value as written in the environment: booleans lower case, lists as JSON, dates in ISO."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return json.dumps(list(value))
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def bound_values(item: object) -> list[float]:
    """The bound of an ``annotated_types`` constraint (``Ge(1)``: 1), none for any other metadata."""
    for kind, attribute in ((Ge, "ge"), (Gt, "gt"), (Le, "le"), (Lt, "lt")):
        if isinstance(item, kind):
            return [getattr(item, attribute)]
    return []


def allowed_range(field: FieldInfo) -> str:
    """The field's bounds and choices, as a parenthesis after its meaning (empty if it has none)."""
    bounds = {type(item): value for item in field.metadata for value in bound_values(item)}
    low = next((f"{bounds[kind]:,}" for kind in (Ge, Gt) if kind in bounds), None)
    high = next((f"{bounds[kind]:,}" for kind in (Le, Lt) if kind in bounds), None)
    wording = {
        (Ge, Le): f"{low} to {high}",
        (Gt, Le): f"over {low}, up to {high}",
        (Gt, Lt): f"between {low} and {high}, both excluded",
        (Ge, Lt): f"{low} to below {high}",
        (Ge, None): f"{low} or more",
        (Gt, None): f"over {low}",
        (None, Le): f"up to {high}",
        (None, Lt): f"below {high}",
    }
    key = (
        next((kind for kind in (Ge, Gt) if kind in bounds), None),
        next((kind for kind in (Le, Lt) if kind in bounds), None),
    )
    if key in wording:
        return f" ({wording[key]})"
    choices = [arg for arg in get_args(field.annotation) if get_origin(field.annotation) is not None]
    literal = [value for value in choices if isinstance(value, str)]
    named = all(f"`{value}`" in (field.description or "") for value in literal)
    return f" (one of {', '.join(f'`{value}`' for value in literal)})" if literal and not named else ""


def settings_table(sections: list[str]) -> str:
    """The markdown table of every field of ``sections``, in their order."""
    rows = []
    for name in sections:
        section: type[BaseSettings] = SECTIONS[name]
        for field_name, field in section.model_fields.items():
            meaning = (field.description or "").rstrip(".") + allowed_range(field)
            rows.append(f"| `{env_name(section, field_name)}` | {shown_default(field)} | {meaning} |\n")
    return HEADER + "".join(rows)


def render_readme(text: str) -> str:
    """``text`` with every settings block replaced by its generated table."""

    def table(match: re.Match[str]) -> str:
        sections = [name.strip() for name in match["sections"].split(",")]
        unknown = [name for name in sections if name not in SECTIONS]
        if unknown:
            raise ValueError(f"README.md names unknown settings sections {unknown}: the sections are {list(SECTIONS)}")
        return match.group(1) + settings_table(sections) + match.group(4)

    return BLOCK.sub(table, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the README's settings tables from pipelines.settings.")
    parser.add_argument("--check", action="store_true", help="only report whether README.md is up to date")
    args = parser.parse_args(argv)
    text = README.read_text()
    rendered = render_readme(text)
    if args.check:
        if rendered != text:
            print(f"{README}: the settings tables differ from pipelines.settings; run `make docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(rendered)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
