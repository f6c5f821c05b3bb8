"""Fitted churn/CLV models in ``ml.customer_model_fits``: record a fit, load the latest one back.

The customer models are refitted on a schedule (``ANALYTICS_CUSTOMER_MODEL_REFIT_DAYS``, or sooner
when the customer base moved by more than ``ANALYTICS_CUSTOMER_MODEL_REFIT_BASE_CHANGE``); the nights
in between score with the parameters stored here. One row per fit: the day it was fitted as of, how
many customers it saw, and its parameters as plain JSON (never pickle), whose shape the ``ml``
assets own. Recording a version again replaces its row, so a re-run is idempotent.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import duckdb

FITS_TABLE = "ml.customer_model_fits"

_CREATE_FITS_TABLE = f"""
create table if not exists {FITS_TABLE} (
    model_version varchar not null,
    fitted_on date not null,
    fitted_at timestamptz not null,
    customers bigint not null,
    purchase_model varchar not null,
    parameters varchar not null
)"""


@dataclass(frozen=True)
class CustomerModelFit:
    """One row of ``ml.customer_model_fits``: ``fitted_on`` is the marts' reference date the models
    were fitted as of, ``customers`` the customers with a paid order then, ``parameters`` the JSON
    object of the fitted models."""

    model_version: str
    fitted_on: dt.date
    fitted_at: dt.datetime
    customers: int
    purchase_model: str
    parameters: dict[str, object]


def record_customer_model_fit(con: duckdb.DuckDBPyConnection, fit: CustomerModelFit) -> None:
    """Add ``fit`` to ``ml.customer_model_fits``, replacing an earlier row of the same version and day.

    Runs in the caller's transaction, if any."""
    con.execute("create schema if not exists ml")
    con.execute(_CREATE_FITS_TABLE)
    con.execute(
        f"delete from {FITS_TABLE} where model_version = ? and fitted_on = ?", [fit.model_version, fit.fitted_on]
    )
    con.execute(
        f"insert into {FITS_TABLE} values (?, ?, ?, ?, ?, ?)",
        [
            fit.model_version,
            fit.fitted_on,
            fit.fitted_at,
            fit.customers,
            fit.purchase_model,
            json.dumps(fit.parameters, sort_keys=True),
        ],
    )


def latest_customer_model_fit(con: duckdb.DuckDBPyConnection) -> CustomerModelFit | None:
    """The most recent fit (latest ``fitted_on``, then ``fitted_at``), None before the first."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'ml' and table_name = ?",
        [FITS_TABLE.split(".")[1]],
    ).fetchone()[0]
    if not exists:
        return None
    row = con.execute(
        f"""select model_version, fitted_on, fitted_at, customers, purchase_model, parameters
from {FITS_TABLE}
order by fitted_on desc, fitted_at desc
limit 1"""
    ).fetchone()
    if row is None:
        return None
    version, fitted_on, fitted_at, customers, purchase_model, parameters = row
    return CustomerModelFit(version, fitted_on, fitted_at, customers, purchase_model, json.loads(parameters))
