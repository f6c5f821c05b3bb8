"""The source schema: the five tables every source provides, their columns and their rules.

This is the single description that the files source validates against, that the raw tables
are created from and that ``docs/source-schema.md`` documents. A row that breaks a rule goes to
``raw.rejected_rows`` with the reason; see :mod:`pipelines.sources.validation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TRANSACTION_STATUSES = ("pending", "completed", "failed", "refunded", "cancelled")
FUNNEL_STAGES = ("visit", "signup", "upload", "checkout", "payment_initiated", "payment_completed")


@dataclass(frozen=True)
class Column:
    """One source column: its name, its DuckDB type and whether a row may leave it empty."""

    name: str
    sql_type: str
    required: bool = True


@dataclass(frozen=True)
class SourceTable:
    """A source table and the checks its rows must pass.

    ``partition_column`` is the time column whose day is the row's partition; ``id_column`` must be
    present and unique (later rows with the same id win, see ``version_column``).
    """

    name: str
    columns: tuple[Column, ...]
    partition_column: str
    id_column: str | None = None
    version_column: str | None = None
    amount_column: str | None = None
    currency_column: str | None = None
    accepted_values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


SOURCE_TABLES: dict[str, SourceTable] = {
    table.name: table
    for table in (
        SourceTable(
            name="customers",
            columns=(
                Column("customer_id", "VARCHAR"),
                Column("signup_at", "TIMESTAMP"),
                Column("acquisition_channel", "VARCHAR", required=False),
                Column("country", "VARCHAR", required=False),
            ),
            partition_column="signup_at",
            id_column="customer_id",
        ),
        SourceTable(
            name="transactions",
            columns=(
                Column("transaction_id", "VARCHAR"),
                Column("customer_id", "VARCHAR"),
                Column("created_at", "TIMESTAMP"),
                Column("completed_at", "TIMESTAMP", required=False),
                Column("status", "VARCHAR"),
                Column("amount", "DECIMAL(18, 2)"),
                Column("currency", "VARCHAR"),
                Column("product", "VARCHAR", required=False),
                Column("payment_method", "VARCHAR", required=False),
                Column("promo_code", "VARCHAR", required=False),
                Column("updated_at", "TIMESTAMP", required=False),
            ),
            partition_column="created_at",
            id_column="transaction_id",
            version_column="updated_at",
            amount_column="amount",
            currency_column="currency",
            accepted_values={"status": TRANSACTION_STATUSES},
        ),
        SourceTable(
            name="funnel_events",
            columns=(
                Column("event_id", "VARCHAR"),
                Column("session_id", "VARCHAR"),
                Column("customer_id", "VARCHAR", required=False),
                Column("stage", "VARCHAR"),
                Column("occurred_at", "TIMESTAMP"),
            ),
            partition_column="occurred_at",
            id_column="event_id",
            accepted_values={"stage": FUNNEL_STAGES},
        ),
        SourceTable(
            name="costs",
            columns=(
                Column("cost_date", "DATE"),
                Column("category", "VARCHAR"),
                Column("amount", "DECIMAL(18, 2)"),
                Column("currency", "VARCHAR"),
            ),
            partition_column="cost_date",
            amount_column="amount",
            currency_column="currency",
        ),
        SourceTable(
            name="marketing_spend",
            columns=(
                Column("spend_date", "DATE"),
                Column("channel", "VARCHAR"),
                Column("amount", "DECIMAL(18, 2)"),
                Column("currency", "VARCHAR"),
            ),
            partition_column="spend_date",
            amount_column="amount",
            currency_column="currency",
        ),
    )
}
