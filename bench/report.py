"""The tables of docs/benchmarks.md, in Markdown, from a ``make bench`` run's results, so that the
page shows the figures of an actual run rather than figures copied by hand.

    python -m bench.report [bench/results.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.pipeline_bench import MIB, RESULTS, engine_rows, target_figures, worst_p95

GROWTH = (("100k", "1M"), ("1M", "10M"))
"""The size steps whose cost growth the page shows."""


def table(header: list[str], rows: list[list[str]], right_from: int = 1) -> str:
    """A Markdown table, the columns from ``right_from`` on aligned right (figures)."""
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def results_table(sizes: dict[str, dict]) -> str:
    rows = []
    for size, figures in sizes.items():
        full, nightly = figures["full_build"], figures["nightly"]
        rows.append(
            [
                size,
                f"{figures['transactions']:,}",
                f"{full['seconds']:.1f}",
                f"{full['peak_rss_bytes'] / MIB:,.0f}",
                f"{nightly['seconds']:.1f} ({', '.join(f'{seconds:.1f}' for seconds in nightly['runs_seconds'])})",
                f"{nightly['peak_rss_bytes'] / MIB:,.0f}",
                f"{worst_p95(figures):.1f}" if "api" in figures else "-",
                f"{figures['naive']['ratio']:,}x" if "naive" in figures else "-",
                f"{figures['load_average']['before']:.1f} / {figures['load_average']['after']:.1f}",
            ]
        )
    header = [
        "store",
        "transactions",
        "full build s",
        "peak RSS MiB",
        "nightly s: the median (each run)",
        "nightly peak MiB",
        "API p95 ms, 16 clients (worst endpoint)",
        "comprehensive on request / precomputed",
        "load average before / after",
    ]
    return table(header, rows)


def engine_table(sizes: dict[str, dict]) -> str:
    rows = []
    for size, figures in sizes.items():
        for stage, seconds, limit in engine_rows(figures):
            rows.append([size, stage, f"{seconds:.1f}", f"{limit:.1f}", f"{seconds / max(limit, 1e-9):.1f}x"])
    return table(["store", "stage", "pipeline s", "engine s", "multiple"], rows, right_from=2)


def steps_table(sizes: dict[str, dict]) -> str:
    """Seconds per step of every full build, and of the nightly runs at 1M and 10M, slowest first."""
    columns = [(size, "full_build") for size in sizes] + [(size, "nightly") for size in ("1M", "10M") if size in sizes]
    steps = {step for figures in sizes.values() for step in figures["full_build"]["steps"]}
    biggest = next(reversed(sizes))
    rows = []
    for step in sorted(steps, key=lambda s: -sizes[biggest]["full_build"]["steps"].get(s, 0)):
        values = [sizes[size][run]["steps"].get(step) for size, run in columns]
        rows.append([f"`{step}`", *(f"{v:.1f}" if v is not None else "-" for v in values)])
    outside = [sizes[size][run]["seconds"] - sum(sizes[size][run]["steps"].values()) for size, run in columns]
    rows.append(["outside the steps", *(f"{v:.1f}" for v in outside)])
    header = ["step, s", *(size if run == "full_build" else f"nightly at {size}" for size, run in columns)]
    return table(header, rows)


def slowest_nodes(sizes: dict[str, dict], count: int = 6) -> str:
    lines = []
    for size, figures in sizes.items():
        for run in ("full_build", "nightly"):
            nodes = figures[run]["dbt_nodes"]
            slowest = sorted(nodes.items(), key=lambda item: -item[1])[:count]
            said = ", ".join(f"`{key.split(':', 1)[1].split('.')[0]}` {seconds:.1f} s" for key, seconds in slowest)
            lines.append(
                f"- {size} {run.replace('_', ' ')}: {said} ({len(nodes)} nodes: "
                f"{sum(nodes.values()):.1f} s of thread time)"
            )
    return "\n".join(lines)


def growth_table(sizes: dict[str, dict]) -> str:
    """How each run's time grows from one size to the next, per million transactions added."""
    rows = []
    for small, large in GROWTH:
        if small not in sizes or large not in sizes:
            continue
        added = (sizes[large]["transactions"] - sizes[small]["transactions"]) / 1e6
        for run, label in (("full_build", "full build"), ("nightly", "nightly run")):
            grew = sizes[large][run]["seconds"] - sizes[small][run]["seconds"]
            rows.append([f"{small} to {large}", label, f"{grew:.1f}", f"{grew / added:.1f}"])
        engine = sum(sizes[large]["engine"].values()) - sum(sizes[small]["engine"].values())
        rows.append([f"{small} to {large}", "engine's limit", f"{engine:.1f}", f"{engine / added:.1f}"])
    return table(["sizes", "run", "seconds added", "seconds per million transactions"], rows, right_from=2)


def targets_table(results: dict) -> str:
    rows = []
    for what, measured, target, met in target_figures(results):
        if "peak_rss" in what:
            shown, wanted = f"{measured / MIB:,.0f} MiB", f"{target / MIB:,.0f} MiB"
        elif "multiple" in what or "naive" in what:
            shown, wanted = f"{measured:,.1f}x", f"{target:,}x"
        else:
            shown, wanted = f"{measured:,.1f}", f"{target:,}"
        # The naive comparison's target is a floor, the others ceilings: a miss is said as a factor above 1.
        shortfall = target / measured if "naive" in what else measured / target
        verdict = "met" if met else f"missed ({shortfall:.1f}x)"
        rows.append([what.replace("_", " "), wanted, shown, verdict])
    return table(["target", "target value", "measured", "verdict"], rows, right_from=1)


def report(results: dict) -> str:
    sizes = results["sizes"]
    sections = [
        ("Results", results_table(sizes)),
        ("The engine's limit", engine_table(sizes)),
        ("Seconds per step", steps_table(sizes)),
        ("Slowest dbt nodes", slowest_nodes(sizes)),
        ("Growth", growth_table(sizes)),
        ("Targets", targets_table(results)),
    ]
    return "\n\n".join(f"### {title}\n\n{body}" for title, body in sections) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    print(report(json.loads(args.results.read_text())), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
