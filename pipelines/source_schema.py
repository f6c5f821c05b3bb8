"""The source schema: the tables every source provides (the exchange rates optional), their columns and rules.

This is the single description that the files source validates against, that the raw tables
are created from and that ``docs/source-schema.md`` documents. A row that breaks a rule goes to
``raw.rejected_rows`` with the reason; see :mod:`pipelines.sources.validation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TRANSACTION_STATUSES = ("pending", "completed", "failed", "refunded", "cancelled")
FUNNEL_STAGES = ("visit", "signup", "upload", "checkout", "payment_initiated", "payment_completed")
MONEY_TYPE = "DECIMAL(18, 2)"
RATE_TYPE = "DECIMAL(18, 10)"
"""An exchange rate: up to 8 digits before the point and 10 after, so that a rate to the reporting
currency of a currency worth little (0.0000612 USD a dong) keeps its significant digits."""
ForeignCurrency = Literal["reject", "convert", "allow"]


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
    present and unique (later rows with the same id win, see ``version_column``); a table without an
    id names the columns that together identify a row in ``unique_columns``.
    ``foreign_currency`` says what becomes of a row whose ``currency_column`` is not the reporting
    currency: ``reject`` it, ``convert`` its amount with the exchange rates (keeping the original in
    :data:`CONVERSION_COLUMNS`), or ``allow`` it (the exchange rates themselves). An ``optional``
    table that a source lacks altogether is read as empty.
    """

    name: str
    columns: tuple[Column, ...]
    partition_column: str
    id_column: str | None = None
    version_column: str | None = None
    unique_columns: tuple[str, ...] = ()
    amount_column: str | None = None
    rate_column: str | None = None
    currency_column: str | None = None
    foreign_currency: ForeignCurrency = "reject"
    optional: bool = False
    accepted_values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The columns that identify a row: the id, else ``unique_columns``."""
        return (self.id_column,) if self.id_column is not None else self.unique_columns

    @property
    def raw_columns(self) -> tuple[Column, ...]:
        """The columns of ``raw.<name>``: the source's, plus the original money of a converting table."""
        return self.columns + (CONVERSION_COLUMNS if self.foreign_currency == "convert" else ())

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


CONVERSION_COLUMNS = (
    Column("original_amount", MONEY_TYPE),
    Column("original_currency", "VARCHAR"),
    Column("exchange_rate", RATE_TYPE),
)
"""What a converting table keeps of a row as the source had it: its amount and currency, and the rate
its amount was multiplied by (1 for the reporting currency)."""

# In load order: the exchange rates before the transactions converted with them.
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
            name="exchange_rates",
            columns=(
                Column("rate_date", "DATE"),
                Column("currency", "VARCHAR"),
                Column("rate", RATE_TYPE),
            ),
            partition_column="rate_date",
            unique_columns=("rate_date", "currency"),
            rate_column="rate",
            currency_column="currency",
            foreign_currency="allow",
            optional=True,
        ),
        SourceTable(
            name="transactions",
            columns=(
                Column("transaction_id", "VARCHAR"),
                Column("customer_id", "VARCHAR"),
                Column("created_at", "TIMESTAMP"),
                Column("completed_at", "TIMESTAMP", required=False),
                Column("status", "VARCHAR"),
                Column("amount", MONEY_TYPE),
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
            foreign_currency="convert",
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
                Column("amount", MONEY_TYPE),
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
                Column("amount", MONEY_TYPE),
                Column("currency", "VARCHAR"),
            ),
            partition_column="spend_date",
            amount_column="amount",
            currency_column="currency",
        ),
    )
}
