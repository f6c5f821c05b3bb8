"""The mapping from a shop database's table and column names to the source schema.

A shop whose tables or columns are named differently from :mod:`pipelines.source_schema`
describes the difference in a YAML (or JSON) file, ``ANALYTICS_SOURCE_MAPPING``, instead of
writing code. Per source table, all keys optional::

    transactions:
      table: orders              # the shop's table (default: the source table's name)
      columns:                   # source column: shop column (default: the same name)
        transaction_id: order_id
        amount: total
      watermark: modified_at     # the shop column that says when a row last changed

The default watermark is the table's version column (``updated_at``) when the shop's table has
it, else its partition column. See ``docs/source-schema.md``.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipelines.source_schema import SOURCE_TABLES, SourceTable
from pipelines.sources.files import SourceError


class MappingError(SourceError):
    """The mapping file cannot be read or names something the source schema does not have."""


class TableMapping(BaseModel):
    """Where one source table lives in the shop's database."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str | None = Field(None, min_length=1)
    columns: dict[str, str] = Field(default_factory=dict)
    watermark: str | None = Field(None, min_length=1)

    @field_validator("columns")
    @classmethod
    def _named_columns(cls, columns: dict[str, str]) -> dict[str, str]:
        empty = [source for source, shop in columns.items() if not shop.strip()]
        if empty:
            raise ValueError(f"empty shop column name for {', '.join(empty)}")
        return columns


class SourceMapping(BaseModel):
    """The mapping of every source table (tables left out keep their own names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tables: dict[str, TableMapping] = Field(default_factory=dict)

    def shop_table(self, table: SourceTable) -> str:
        """The shop's name of ``table``."""
        return self.for_table(table).table or table.name

    def shop_column(self, table: SourceTable, column: str) -> str:
        """The shop's name of ``column`` of ``table``."""
        return self.for_table(table).columns.get(column, column)

    def watermark(self, table: SourceTable) -> str | None:
        """The shop column the mapping names as ``table``'s watermark, if it names one."""
        return self.for_table(table).watermark

    def for_table(self, table: SourceTable) -> TableMapping:
        """The mapping entry of ``table`` (empty if the file has none)."""
        return self.tables.get(table.name, TableMapping())


def _check_against_schema(mapping: SourceMapping) -> list[str]:
    """Problems of names the source schema does not have: unknown tables and unknown columns."""
    problems = []
    for name, entry in mapping.tables.items():
        if name not in SOURCE_TABLES:
            problems.append(f"{name!r} is not a source table (one of {', '.join(SOURCE_TABLES)})")
            continue
        known = SOURCE_TABLES[name].column_names
        problems.extend(
            f"{name}.columns: {column!r} is not a column of source table {name} (one of {', '.join(known)})"
            for column in entry.columns
            if column not in known
        )
    return problems


def parse_mapping(document: object, origin: str) -> SourceMapping:
    """The mapping in a parsed YAML/JSON ``document``; errors name ``origin`` and the key."""
    if document is None:
        return SourceMapping()
    if not isinstance(document, dict):
        raise MappingError(f"{origin}: expected a mapping of source tables, got {type(document).__name__}")
    try:
        mapping = SourceMapping(tables=document)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc'][1:])}: {problem['msg']}" for problem in error.errors()
        ]
        raise MappingError(f"{origin}: " + "; ".join(problems)) from None
    problems = _check_against_schema(mapping)
    if problems:
        raise MappingError(f"{origin}: " + "; ".join(problems))
    return mapping


def load_mapping(path: Path | None) -> SourceMapping:
    """The mapping in the file ``path`` (YAML or JSON); no file means every name as in the source schema."""
    if path is None:
        return SourceMapping()
    origin = f"source mapping {path} (ANALYTICS_SOURCE_MAPPING)"
    try:
        text = path.read_text()
    except OSError as error:
        raise MappingError(f"{origin} cannot be read: {error.strerror}") from error
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise MappingError(f"{origin} is not valid YAML or JSON: {error}") from error
    return parse_mapping(document, origin)
