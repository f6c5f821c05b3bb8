"""The benchmark's own checks: `make bench-smoke` fails on a missing figure, and no test of the
suite asserts a time (times live in bench/, as figures)."""

from __future__ import annotations

import ast
import copy
import json
import math
from pathlib import Path

import pytest

from bench.pipeline_bench import TARGETS, missing_figures
from bench.report import report

REPOSITORY = Path(__file__).resolve().parents[2]
CLOCKS = {"monotonic", "perf_counter", "time", "process_time", "monotonic_ns", "perf_counter_ns", "time_ns"}


@pytest.fixture(scope="module")
def results() -> dict:
    """The figures of the committed `make bench` run: every one of them is there."""
    return json.loads((REPOSITORY / "bench" / "results.json").read_text())


def test_a_complete_run_has_no_missing_figure(results):
    assert missing_figures(results) == []


def test_the_report_shows_every_size_and_every_target(results):
    shown = report(results)

    results_rows = [line for line in shown.split("### The engine's limit")[0].splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0].removeprefix("| ") for row in results_rows[2:]] == list(results["sizes"])
    for size in ("empty", "1M", "10M"):
        for target in TARGETS[size]:
            assert f"| {size} {target.replace('_', ' ')} |" in shown
    for size in results["sizes"]:
        assert f"| {size} | whole run |" in shown, "the engine's limit of every size"


def _endpoint(results: dict, size: str) -> dict:
    """The latencies of the alerts endpoint at ``size``."""
    return results["sizes"][size]["api"]["endpoints"]["alerts"]


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        (lambda r: r["sizes"]["1M"]["nightly"].pop("seconds"), "sizes.1M.nightly.seconds"),
        (lambda r: r["sizes"]["10M"]["full_build"].update(peak_rss_bytes=None), "sizes.10M.full_build.peak_rss_bytes"),
        (lambda r: r["sizes"]["100k"]["naive"].update(ratio=math.nan), "sizes.100k.naive.ratio"),
        (lambda r: r["sizes"]["1M"]["api"].update(endpoints={}), "sizes.1M.api.endpoints (empty)"),
        (lambda r: r["sizes"]["10M"].pop("api"), "sizes.10M.api"),
        (lambda r: r["sizes"]["empty"]["full_build"].update(steps={}), "sizes.empty.full_build.steps (empty)"),
        (lambda r: _endpoint(r, "100k").pop("16"), "sizes.100k.api.endpoints.alerts.16"),
        (lambda r: _endpoint(r, "1M")["1"].pop("p99_ms"), "sizes.1M.api.endpoints.alerts.1.p99_ms"),
        (lambda r: r["ml"]["customer_scores"]["seconds"].update(simulate=None), "ml.customer_scores.seconds.simulate"),
    ],
    ids=["figure", "none", "nan", "empty", "section", "steps", "clients", "latency", "ml"],
)
def test_bench_smoke_names_a_missing_figure(results, change, missing):
    broken = copy.deepcopy(results)
    change(broken)

    assert missing_figures(broken) == [missing]


def durations_asserted(source: str) -> list[int]:
    """Lines of ``assert`` statements that use a duration: a name assigned the difference of two
    readings of a clock (``elapsed = time.monotonic() - started``)."""
    tree = ast.parse(source)
    clock_names = set()
    durations = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            reads_clock = any(
                isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in CLOCKS
                for call in ast.walk(node.value)
            )
            names = {name.id for name in ast.walk(node.value) if isinstance(name, ast.Name)}
            uses_clock_name = bool(names & clock_names)
            subtracts = any(isinstance(op, ast.BinOp) and isinstance(op.op, ast.Sub) for op in ast.walk(node.value))
            if reads_clock and not subtracts:
                clock_names.add(node.targets[0].id)
            elif (reads_clock or uses_clock_name) and subtracts:
                durations.add(node.targets[0].id)
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert) and any(isinstance(n, ast.Name) and n.id in durations for n in ast.walk(node))
    ]


def test_the_duration_check_finds_an_asserted_time():
    planted = "started = time.monotonic()\nwork()\nelapsed = time.monotonic() - started\nassert elapsed < 1\n"
    assert durations_asserted(planted) == [4]


def test_no_test_asserts_a_time():
    asserted = {
        path.name: lines
        for path in sorted((REPOSITORY / "tests").glob("*.py"))
        if (lines := durations_asserted(path.read_text()))
    }
    assert asserted == {}
