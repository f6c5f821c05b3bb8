"""The dbt models as Dagster assets, loaded from the prepared manifest, grouped by their layer
(``staging``, ``intermediate``, ``marts``: the model's folder).

``dbt build`` runs each model and then its tests; the tests are Dagster asset checks, and a test
of severity ``error`` is a blocking check: dbt skips the models downstream of the failing one and
the failed check fails the step, so no Python asset downstream runs on a table that failed.
"""

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
from dagster import AssetCheckResult, AssetExecutionContext, Config, MetadataValue, Output, TableColumn, TableSchema
from dagster_dbt import DbtCliInvocation, DbtCliResource, dbt_assets
from dagster_duckdb import DuckDBResource
from pydantic import Field

from pipelines.defs.dagster_compat import DescribedChecksDbtTranslator
from pipelines.defs.project import dbt_project
from pipelines.defs.resources import DbtVars
from pipelines.warehouse.sql import RelationShape, relation_shapes

PARTIAL_PARSE_FILE = "partial_parse.msgpack"
TEST_SENTENCES = {
    "relationships": "every {column} is a `{field}` of `{to}`",
}
"""How an asset check describes the dbt tests this project uses most (the rest: by name and column)."""
RULE_PHRASES = {
    "not_null": "is never null",
    "unique": "is unique",
    "accepted_range": "lies within [{min_value}, {max_value}]",
    "accepted_values": "is one of {values}",
    "null_without_denominator": "is null where `{denominator}` is 0 or null",
    "sums_to": "adds up to `{total}`",
    "non_increasing": "never grows along `{order_by}`",
    "same_on_every_row": "is the same on every row",
}
"""How the check of a ``column_rules`` test (tests/generic/column_rules.sql) says each rule of a column
(a ``unique`` rule with a ``where`` adds the rows it reads, a whole-table rule its groups and condition)."""
COLUMN_RULES_TEST = "column_rules"
BROKEN_RULES_METADATA = "broken_rules"
"""The metadata of a failed ``column_rules`` check that lists the broken rules: column, rule, failing rows."""
LATEST_LOAD_WHERE = "__latest_load__"
"""The placeholder of a test's ``where`` config for the rows of the days of the latest load
(macro get_where_subquery in dbt_project/macros/latest_load.sql)."""
LATEST_LOAD_DAYS = ", on the days of the latest load (every row on a full refresh)"
KEPT_TARGET_FOLDERS = 10
"""dagster-dbt gives every invocation a target folder of its own (manifest, run results, compiled
SQL); the latest ones are kept for debugging, older ones are removed so nightly runs do not
fill the disk."""


FAILED_STATUSES = frozenset({"error", "fail"})
"""The statuses of dbt's run results that fail a build (a test of severity ``warn`` ends as ``warn``)."""


class BrokenRule(NamedTuple):
    """A rule a ``column_rules`` test found broken: its column (none for a rule of whole rows), the
    rule as the test names it, and how many rows or groups break it."""

    column: str | None
    rule: str
    failing_rows: int


class DbtBuildConfig(Config):
    """Run configuration of the dbt step (the launchpad's ``ops.dbt_models.config``)."""

    full_refresh: bool = Field(
        False,
        description="Rebuild the incremental models (funnel_sessions) from every row instead of the days loaded "
        "since their last build (`dbt build --full-refresh`). `make run` over the whole source does.",
    )


class StorefrontDbtTranslator(DescribedChecksDbtTranslator):
    """Each dbt model in the asset group of its layer, the folder under ``models/`` (keys stay
    ``<schema>/<model>``); each dbt test an asset check that says what it checks."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str:
        # fqn: the project's name, the folders under models/, the model's name.
        return dbt_resource_props["fqn"][1]

    def describe_test(self, test: Mapping[str, Any]) -> str:
        generic = test.get("test_metadata") or {}
        arguments = generic.get("kwargs", {})
        if generic.get("name") == COLUMN_RULES_TEST:
            sentence = describe_column_rules(arguments)
        else:
            column = f"`{test['column_name']}`" if test.get("column_name") else "every row"
            said = TEST_SENTENCES.get(generic.get("name", ""), "dbt test {name} on {column}")
            sentence = said.format(
                name=generic.get("name", test["name"]),
                column=column,
                to=str(arguments.get("to", "")).removeprefix("ref('").removesuffix("')"),
                field=arguments.get("field", ""),
            )
            if LATEST_LOAD_WHERE in str(test.get("config", {}).get("where") or ""):
                sentence += LATEST_LOAD_DAYS
        severity = str(test.get("config", {}).get("severity") or "error").lower()
        return f"{sentence} ({'blocking: a failure stops what depends on it' if severity == 'error' else 'warns'})."


def describe_column_rules(arguments: Mapping[str, Any]) -> str:
    """The rules of a ``column_rules`` test in words: each column with its rules, then each unique
    combination of columns, each expression and the table's number of rows."""
    said = []
    for column, rules in arguments.get("columns", {}).items():
        phrases = []
        for rule in rules:
            name, rule_arguments = (rule, {}) if isinstance(rule, str) else next(iter(rule.items()))
            values = rule_arguments.get("values")
            phrase = RULE_PHRASES[name].format(
                min_value=rule_arguments.get("min_value", "-inf"),
                max_value=rule_arguments.get("max_value", "inf"),
                values=", ".join(values) if isinstance(values, list) else f"`{values}`",
                denominator=rule_arguments.get("denominator", ""),
                total=rule_arguments.get("total", 1),
                order_by=rule_arguments.get("order_by", ""),
            )
            if rule_arguments.get("group_by"):
                phrase += f" within each ({', '.join(rule_arguments['group_by'])})"
            if rule_arguments.get("when"):
                phrase += f" where `{rule_arguments['when']}`"
            if rule_arguments.get("where"):
                phrase += f" among the rows where `{rule_arguments['where']}`"
            phrases.append(phrase)
        said.append(f"`{column}` {', '.join(phrases)}")
    said.extend(
        f"({', '.join(f'`{column}`' for column in combination)}) {RULE_PHRASES['unique']}"
        for combination in arguments.get("unique_combinations", [])
    )
    said.extend(f"`{expression.strip()}` holds on every row" for expression in arguments.get("expressions", []))
    if arguments.get("row_count") is not None:
        said.append(f"the table has {arguments['row_count']} rows")
    latest_load = arguments.get("latest_load")
    if latest_load and latest_load.get("key_column"):
        sources = ", ".join(latest_load["source_tables"])
        return "; ".join(said) + (
            f", on the rows of each `{latest_load['key_column']}` of the latest load of {sources} "
            "(every row on a full refresh)"
        )
    if latest_load:
        return "; ".join(said) + LATEST_LOAD_DAYS
    return "; ".join(said)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    name="dbt_models",
    dagster_dbt_translator=StorefrontDbtTranslator(),
)
def dbt_models(
    context: AssetExecutionContext,
    config: DbtBuildConfig,
    dbt: DbtCliResource,
    warehouse: DuckDBResource,
    dbt_vars: DbtVars,
):
    """Build and test every selected dbt model in the warehouse file of the ``warehouse`` resource, with the
    dbt vars of the settings."""
    # dbt unit tests check SQL logic, not data: the test suite runs them (tests/integration/test_dbt_unit_tests.py),
    # so the nightly build does not pay for them.
    args = ["build", "--exclude-resource-type", "unit_test", "--vars", dbt_vars.cli_vars(warehouse.database)]
    if not sys.stdout.isatty():
        # dbt colours its status words with ANSI codes, noise in a log file or a CI log.
        args.insert(0, "--no-use-colors")
    if config.full_refresh:
        args.append("--full-refresh")
    # dbt waits for a held warehouse without a word (profiles.yml): wait here first, where each wait
    # is logged with the process holding the file.
    with warehouse.get_connection():
        pass
    invocation = dbt.cli(args, context=context, raise_on_error=False)
    # dbt holds the warehouse until it ends: its events are kept until then, so that each model's
    # materialization can carry its columns and row count, read in one connection afterwards.
    # (dagster-dbt's fetch_row_counts() and fetch_column_metadata() open the file from this process
    # while dbt runs: many times slower here, and later steps could not open it with their settings.)
    events = list(invocation.stream())
    with warehouse.get_connection() as con:
        # The models' asset keys are [schema, name] (dagster-dbt's default for this project).
        shapes = relation_shapes(con, sorted({key.path[0] for key in context.assets_def.keys}))
        results = node_results(invocation)
        broken = broken_column_rules(con, events, invocation.manifest["nodes"], results)
    for event in events:
        yield with_broken_rules(with_table_metadata(context, event, shapes), broken)
    if not invocation.is_successful():
        failures = failed_nodes(results, broken)
        if not failures:
            # dbt itself failed (a bad argument, a parse error): dagster-dbt's error says how.
            raise invocation.get_error()
        log = invocation.target_path / "dbt.log"
        raise DbtBuildFailed(f"dbt build failed at {' | '.join(failures)} (dbt's log: {log})")
    keep_partial_parse(invocation.target_path, dbt_project.project_dir / dbt_project.target_path)
    prune_target_folders(invocation.target_path.parent, invocation.target_path.name.split("-", 1)[0])


def with_table_metadata(context: AssetExecutionContext, event: object, shapes: Mapping[str, RelationShape]) -> object:
    """``event`` with the columns and row count of its model's relation, if it is a model's output."""
    if not isinstance(event, Output):
        return event
    shape = shapes.get(".".join(context.asset_key_for_output(event.output_name).path))
    if shape is None:
        return event
    schema = TableSchema(columns=[TableColumn(name, data_type) for name, data_type in shape.columns])
    table: dict[str, object] = {"dagster/column_schema": MetadataValue.table_schema(schema)}
    if shape.row_count is not None:
        table["dagster/row_count"] = shape.row_count
    return event.with_metadata({**event.metadata, **table})


def node_results(invocation: DbtCliInvocation) -> list[dict[str, Any]]:
    """dbt's run result of each node the build ran; none when it ran none (dbt then writes no run results)."""
    if not (invocation.target_path / "run_results.json").exists():
        return []
    return invocation.get_artifact("run_results.json")["results"]


def broken_column_rules(
    con: duckdb.DuckDBPyConnection,
    events: Sequence[object],
    nodes: Mapping[str, Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
) -> dict[str, list[BrokenRule]]:
    """The rules each failed ``column_rules`` check found broken, by the test's dbt id.

    dbt counts a test's failing rows but keeps only the count; the test's own query, run again here
    (only for the failed ones), names the column and the rule.
    """
    failed = {
        event.metadata["unique_id"].value
        for event in events
        if isinstance(event, AssetCheckResult) and not event.passed and "unique_id" in event.metadata
    }
    failed = {
        unique_id
        for unique_id in failed
        if (nodes[unique_id].get("test_metadata") or {}).get("name") == COLUMN_RULES_TEST
    }
    compiled = {result["unique_id"]: result["compiled_code"] for result in results if result["unique_id"] in failed}
    return {unique_id: [BrokenRule(*row) for row in con.execute(sql).fetchall()] for unique_id, sql in compiled.items()}


def with_broken_rules(event: object, broken: Mapping[str, Sequence[BrokenRule]]) -> object:
    """``event`` with the table of the rules it found broken, if it is a failed ``column_rules`` check."""
    if not isinstance(event, AssetCheckResult) or "unique_id" not in event.metadata:
        return event
    rules = broken.get(event.metadata["unique_id"].value)
    if rules is None:
        return event
    lines = ["| column | rule | failing rows |", "| --- | --- | ---: |"]
    lines.extend(f"| {rule.column or '(row)'} | {rule.rule} | {rule.failing_rows} |" for rule in rules)
    return event.with_metadata({**event.metadata, BROKEN_RULES_METADATA: MetadataValue.md("\n".join(lines))})


class DbtBuildFailed(Exception):
    """dbt's build failed: a model did not build, or a blocking test failed."""


def failed_nodes(results: Sequence[Mapping[str, Any]], broken: Mapping[str, Sequence[BrokenRule]]) -> list[str]:
    """``<node>: <why>`` of each model or test that failed the build (a ``column_rules`` test: its
    broken rules), from dbt's run results."""
    failures = []
    for result in results:
        if result["status"] not in FAILED_STATUSES:
            continue
        rules = broken.get(result["unique_id"])
        if rules:
            why = "; ".join(
                f"{rule.column + ' ' if rule.column else ''}{rule.rule} ({rule.failing_rows:,} failing)"
                for rule in rules
            )
        else:
            why = (result.get("message") or result["status"]).strip().splitlines()[0]
        failures.append(f"{result['unique_id'].split('.')[2]}: {why}")
    return failures


def keep_partial_parse(invocation_target: Path, project_target: Path) -> None:
    """Make this invocation's parse state the one the next invocation starts from.

    dagster-dbt seeds each invocation's target folder with the project's ``partial_parse.msgpack``,
    but dbt parses everything again when the vars or the profile differ from those it was saved
    with, and ``make``'s ``dbt parse`` runs without the warehouse path var. Keeping the latest
    build's state lets the next night with the same settings skip the full parse.
    """
    state = invocation_target / PARTIAL_PARSE_FILE
    if not state.exists():
        return
    staged = project_target / f".{PARTIAL_PARSE_FILE}.{os.getpid()}"
    shutil.copyfile(state, staged)
    # A rename, so a dbt invocation starting meanwhile never reads a half-copied file.
    staged.replace(project_target / PARTIAL_PARSE_FILE)


def prune_target_folders(target_root: Path, prefix: str, keep: int = KEPT_TARGET_FOLDERS) -> None:
    """Remove all but the ``keep`` newest ``<prefix>-*`` invocation folders under ``target_root``."""
    folders = sorted(target_root.glob(f"{prefix}-*"), key=lambda folder: folder.stat().st_mtime, reverse=True)
    for folder in folders[keep:]:
        shutil.rmtree(folder)
