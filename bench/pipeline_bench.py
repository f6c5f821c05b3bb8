"""The pipeline benchmark: full build, nightly run, per-step times, API latency and the naive
comparison at 0.1, 1 and 10 million transactions, plus the fixed cost of an almost empty store.

    make bench           # every size; prints the table, writes bench/results.json
    make bench-smoke     # 100k only, and fails if any figure is missing

Builds run as the README's `make run` does (``python -m pipelines.cli.run``, a persistent Dagster
instance), each in a fresh data folder under ``bench/.cache/runs``. Nothing here asserts a time:
the targets are printed next to the figures, with how far each is from its target.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import duckdb
import psutil

from bench import api_latency, dagster_timings
from bench.bench_ml import bench_ml
from bench.engine_limit import STAGES as ENGINE_STAGES
from bench.engine_limit import engine_seconds
from bench.naive import comprehensive_on_request
from bench.process_tree import run_measured
from bench.stores import CACHE, NEXT_DAY, add_next_day, cached_store, remove_next_day
from pipelines.defs.dagster_compat import instance_at

RESULTS = Path(__file__).resolve().parent / "results.json"
ENGINE_MEMORY_LIMIT = "1GB"
"""The pipeline's default ``ANALYTICS_DUCKDB_MEMORY_LIMIT``, for the engine's limit too."""
PIPELINE_STAGES = {"raw": "raw__", "dbt_models": "dbt_models", "ml": "ml__"}
"""The full build's steps (by step key prefix) that do each engine stage's work; dbt's step does the
models and the data tests together."""
ML_CUSTOMERS, ML_SMOKE_CUSTOMERS = 1_000_000, 100_000
"""Simulated customers of the BG/NBD + Gamma-Gamma timing (bench/bench_ml.py)."""
ALL_SIZES = ("empty", "100k", "1M", "10M")
MIB = 1024 * 1024
RUN_FIGURES = ("seconds", "peak_rss_bytes", "steps", "dbt_nodes", "dagster")
NIGHTLY_RUNS = 3
"""Nightly runs of each size, each from the full build's warehouse: the median one is reported, and
every run's time beside it, because the machine's speed drifts from run to run (docs/benchmarks.md)."""
FIGURES = {
    "transactions": (),
    "full_build": RUN_FIGURES,
    "engine": ENGINE_STAGES,
    "nightly": (*RUN_FIGURES, "runs_seconds"),
    "api": ("endpoints",),
    "naive": ("on_request_ms", "precomputed_ms", "ratio"),
    "load_average": ("before", "after"),
}
"""Every figure of a store's results, by section; the empty store has no API or naive ones."""
LATENCY_FIGURES = ("p50_ms", "p95_ms", "p99_ms")
"""Of each endpoint at each number of clients (api_latency.CONCURRENCY)."""
# Issue 21's targets (2 cores): seconds, bytes, or a ratio. "engine_multiple" is the full build's time as a
# multiple of the engine's limit measured in the same run (the same work without orchestration).
TARGETS = {
    "empty": {"nightly_seconds": 8},
    "1M": {"full_build_seconds": 20, "engine_multiple": 2, "nightly_seconds": 8},
    "10M": {"full_build_seconds": 100, "engine_multiple": 2, "peak_rss_bytes": 2 * 1024 * MIB, "nightly_seconds": 15},
    "api_p95_ms_16_clients": 20,
    "naive_over_precomputed": 1000,
}


def bench_size(size: str, with_readers: bool) -> dict[str, object]:
    """Every figure of one store size."""
    store = cached_store(size)
    data_dir = CACHE / "runs" / size
    shutil.rmtree(data_dir, ignore_errors=True)
    env = pipeline_env(store, data_dir)
    figures: dict[str, object] = {"transactions": count_rows(store, "transactions")}
    # Other work on the machine slows every figure: the load before and after says how much to trust them.
    load_before = os.getloadavg()[0]

    print(f"[{size}] full build of {figures['transactions']:,} transactions ...", flush=True)
    figures["full_build"] = measured_build(env, data_dir, [])
    print(f"[{size}] the same work without orchestration (the engine's limit) ...", flush=True)
    figures["engine"] = engine_seconds(store, build_manifest(data_dir), data_dir, ENGINE_MEMORY_LIMIT)
    print(f"[{size}] {NIGHTLY_RUNS} nightly runs of {NEXT_DAY} on top of the full history ...", flush=True)
    figures["nightly"] = measured_nightly(env, store, data_dir)
    if with_readers:
        print(f"[{size}] API latency and the naive comparison ...", flush=True)
        figures["api"] = api_latency.measure(env)
        figures["naive"] = naive_comparison(store, figures["api"])
    figures["load_average"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    return figures


def pipeline_env(store: Path, data_dir: Path) -> dict[str, str]:
    """The environment of a build of ``store`` into ``data_dir``, with the venv's dbt on PATH."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANALYTICS_DATA_DIR": str(data_dir),
        "ANALYTICS_SOURCE": "files",
        "ANALYTICS_SOURCE_DIR": str(store),
        "ANALYTICS_PARTITION_START": "2023-01-01",
        "ANALYTICS_LOG_LEVEL": "WARNING",
        "ANALYTICS_API_TOKEN": api_latency.TOKEN,
    }


def measured_build(env: dict[str, str], data_dir: Path, args: list[str]) -> dict[str, object]:
    """Run ``python -m pipelines.cli.run`` with ``args``: wall time, peak memory and where the time went."""
    measured = run_measured([sys.executable, "-m", "pipelines.cli.run", *args], env)
    instance = instance_at(data_dir / "dagster_home")
    try:
        run_id = dagster_timings.latest_run_id(instance)
        return {
            "seconds": round(measured.seconds, 2),
            "peak_rss_bytes": measured.peak_rss_bytes,
            "steps": dagster_timings.step_seconds(instance, run_id),
            "dagster": dagster_timings.bookkeeping(instance, run_id),
            "dbt_nodes": dagster_timings.dbt_node_seconds(run_id),
        }
    finally:
        instance.dispose()


def measured_nightly(env: dict[str, str], store: Path, data_dir: Path) -> dict[str, object]:
    """The median of :data:`NIGHTLY_RUNS` nightly runs of the day after ``store``'s last, with every
    run's seconds; each run starts from the data folder as the full build left it, as a second run
    of the same day would replace the day instead of adding it."""
    full_build = data_dir.with_name(f"{data_dir.name}.full-build")
    shutil.rmtree(full_build, ignore_errors=True)
    copy_folder(data_dir, full_build)
    add_next_day(store)
    try:
        runs = []
        for run in range(NIGHTLY_RUNS):
            if run:
                shutil.rmtree(data_dir)
                copy_folder(full_build, data_dir)
            runs.append(measured_build(env, data_dir, ["--day", NEXT_DAY.isoformat()]))
    finally:
        remove_next_day(store)
        shutil.rmtree(full_build)
    median = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
    return {**median, "runs_seconds": [run["seconds"] for run in runs]}


def copy_folder(source: Path, copy: Path) -> None:
    """Copy a data folder, its links as links (the Parquet exports' ``current``), and write the copy to
    disk before the next run, whose commits would otherwise wait for the copy still in memory
    (docs/benchmarks.md)."""
    shutil.copytree(source, copy, symlinks=True)
    os.sync()


def build_manifest(data_dir: Path) -> Path:
    """The manifest of the latest run's ``dbt build`` in the instance under ``data_dir``: its
    compiled SQL is what the engine's limit runs."""
    instance = instance_at(data_dir / "dagster_home")
    try:
        return dagster_timings.dbt_target(dagster_timings.latest_run_id(instance)) / "manifest.json"
    finally:
        instance.dispose()


def count_rows(store: Path, table: str) -> int:
    with duckdb.connect() as con:
        return con.execute(f"select count(*) from read_parquet('{store / table}/*.parquet')").fetchone()[0]


def naive_comparison(store: Path, api: dict[str, object]) -> dict[str, float]:
    """The comprehensive answer computed on request from the raw rows with pandas (one run: it is
    orders of magnitude slower, so its noise does not matter) against the API reading it
    precomputed (median latency at one client)."""
    start = time.perf_counter()
    comprehensive_on_request(store)
    naive_ms = (time.perf_counter() - start) * 1000
    precomputed_ms = api["endpoints"]["comprehensive"]["1"]["p50_ms"]
    return {
        "on_request_ms": round(naive_ms, 1),
        "precomputed_ms": precomputed_ms,
        "ratio": round(naive_ms / precomputed_ms),
    }


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "platform": platform.platform(),
    }


def missing_figures(results: dict[str, object]) -> list[str]:
    """Paths of figures that are absent, None, not finite or an empty section (bench-smoke fails on any)."""
    missing = []

    def walk(value: object, path: str) -> None:
        if isinstance(value, dict):
            if not value:
                missing.append(path + " (empty)")
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif value is None or (isinstance(value, float) and not math.isfinite(value)):
            missing.append(path)

    def require(figures: dict[str, object], keys: tuple[str, ...], path: str) -> None:
        missing.extend(f"{path}.{key}" for key in keys if key not in figures)

    walk(results["sizes"], "sizes")
    walk(results.get("ml", {}), "ml")
    for size, figures in results["sizes"].items():
        sections = {name: keys for name, keys in FIGURES.items() if size != "empty" or name not in ("api", "naive")}
        require(figures, tuple(sections), f"sizes.{size}")
        for name, keys in sections.items():
            if isinstance(figures.get(name), dict):
                require(figures[name], keys, f"sizes.{size}.{name}")
        for endpoint, latencies in figures.get("api", {}).get("endpoints", {}).items():
            path = f"sizes.{size}.api.endpoints.{endpoint}"
            require(latencies, tuple(map(str, api_latency.CONCURRENCY)), path)
            for clients, figures_at in latencies.items():
                require(figures_at, LATENCY_FIGURES, f"{path}.{clients}")
    return missing


def print_report(results: dict[str, object]) -> None:
    """The summary table, where the time goes at each size, and the targets."""
    print_summary(results)
    print_stages(results["sizes"])
    print_engine(results["sizes"])
    print_ml(results["ml"])
    print_targets(results)


def print_ml(ml: dict[str, dict[str, object]]) -> None:
    scores, forecast = ml["customer_scores"], ml["forecast"]
    print(
        f"\nml: purchase model choice ({scores['chosen']}) + Gamma-Gamma on {scores['customers']:,} customers "
        f"fit {scores['seconds']['choose, fit the purchase model + Gamma-Gamma']:.1f} s, "
        f"scoring {scores['seconds']['score every customer']:.1f} s; "
        f"forecast backtest of {forecast['fits']} fits over {forecast['days']} days "
        f"{forecast['seconds']['backtest every candidate, choose, fit']:.1f} s"
    )
    for shape, evaluation in ml["forecast_evaluation"].items():
        rows = ", ".join(
            f"h={row['horizon']}: ratio {row['ratio']:.2f}, "
            f"80 % {row['coverage_80']:.0%}, 95 % {row['coverage_95']:.0%}"
            for row in evaluation["rows"]
        )
        print(f"ml: forecast evaluation on the {shape} sample store: {rows}")


def print_summary(results: dict[str, object]) -> None:
    machine_ = results["machine"]
    print(f"\nMachine: {machine_['cpus']} cores, {machine_['memory_gib']} GiB, Python {machine_['python']}")
    print(
        f"{'size':>6} {'transactions':>13} {'full build s':>13} {'peak MiB':>9} {'nightly s':>10} "
        f"{'API p95 ms@16':>14} {'naive/precomputed':>18} {'load before/after':>18}"
    )
    for size, figures in results["sizes"].items():
        p95 = f"{worst_p95(figures):.1f}" if "api" in figures else "-"
        ratio = f"{figures['naive']['ratio']:,}x" if "naive" in figures else "-"
        print(
            f"{size:>6} {figures['transactions']:>13,} {figures['full_build']['seconds']:>13.1f} "
            f"{figures['full_build']['peak_rss_bytes'] / MIB:>9.0f} {figures['nightly']['seconds']:>10.1f} "
            f"{p95:>14} {ratio:>18} {figures['load_average']['before']:>9.1f}/{figures['load_average']['after']:<8.1f}"
        )


def worst_p95(figures: dict[str, object]) -> float:
    """The highest p95 latency of any endpoint at 16 clients."""
    return max(endpoint["16"]["p95_ms"] for endpoint in figures["api"]["endpoints"].values())


def print_stages(sizes: dict[str, dict[str, object]]) -> None:
    """Seconds of each step of the full build at each size, then Dagster's bookkeeping and dbt's slowest models."""
    steps = sorted({step for figures in sizes.values() for step in figures["full_build"]["steps"]})
    print("\nFull build, seconds per step:")
    print(f"{'step':<40}" + "".join(f"{size:>9}" for size in sizes))
    for step in steps:
        row = [figures["full_build"]["steps"].get(step) for figures in sizes.values()]
        print(f"{step:<40}" + "".join(f"{value:>9.1f}" if value is not None else f"{'-':>9}" for value in row))
    print(
        f"{'Dagster events recorded':<40}"
        + "".join(f"{f['full_build']['dagster']['events']:>9,}" for f in sizes.values())
    )
    for size, figures in sizes.items():
        nodes = sorted(figures["full_build"]["dbt_nodes"].items(), key=lambda item: -item[1])[:3]
        print(f"[{size}] slowest dbt nodes: " + ", ".join(f"{key} {seconds:.2f}s" for key, seconds in nodes))


def pipeline_stage_seconds(steps: dict[str, float]) -> dict[str, float]:
    """The full build's seconds for each engine stage's work (the dbt step's for models and tests together)."""
    return {
        stage: sum(s for key, s in steps.items() if key.startswith(prefix)) for stage, prefix in PIPELINE_STAGES.items()
    }


def engine_rows(figures: dict[str, object]) -> list[tuple[str, float, float]]:
    """(stage, the full build's seconds, the engine's seconds) of one store: each stage, then the whole run."""
    engine = figures["engine"]
    pipeline = pipeline_stage_seconds(figures["full_build"]["steps"])
    return [
        ("raw tables", pipeline["raw"], engine["raw"]),
        ("dbt models and data tests", pipeline["dbt_models"], engine["dbt_models"] + engine["dbt_tests"]),
        ("ml fits", pipeline["ml"], engine["ml"]),
        ("whole run", figures["full_build"]["seconds"], sum(engine.values())),
    ]


def print_engine(sizes: dict[str, dict[str, object]]) -> None:
    """The full build against the engine's limit: the whole run and each stage, in seconds and as a multiple."""
    print("\nFull build against the engine's limit (the same work in one process, no orchestration):")
    print(f"{'size':>6} {'stage':<28} {'pipeline s':>11} {'engine s':>9} {'multiple':>9}")
    for size, figures in sizes.items():
        for stage, seconds, limit in engine_rows(figures):
            print(f"{size:>6} {stage:<28} {seconds:>11.1f} {limit:>9.1f} {seconds / max(limit, 1e-9):>8.1f}x")


def target_figures(results: dict[str, object]) -> list[tuple[str, float, float, bool]]:
    """(what, measured, target, met) for every target whose size was measured."""
    sizes, rows = results["sizes"], []
    for size in ("empty", "1M", "10M"):
        if size not in sizes:
            continue
        for key, target in TARGETS[size].items():
            measured = size_figure(sizes[size], key)
            rows.append((f"{size} {key}", measured, target, measured <= target))
    for size, figures in sizes.items():
        if "api" in figures:
            target = TARGETS["api_p95_ms_16_clients"]
            rows.append((f"{size} API p95 ms at 16 clients", worst_p95(figures), target, worst_p95(figures) <= target))
            target = TARGETS["naive_over_precomputed"]
            ratio = figures["naive"]["ratio"]
            rows.append((f"{size} naive / precomputed", ratio, target, ratio >= target))
    return rows


def size_figure(figures: dict[str, object], key: str) -> float:
    """The figure of one store that a target of :data:`TARGETS` names."""
    if key == "engine_multiple":
        return figures["full_build"]["seconds"] / max(sum(figures["engine"].values()), 1e-9)
    return {
        "full_build_seconds": figures["full_build"]["seconds"],
        "peak_rss_bytes": figures["full_build"]["peak_rss_bytes"],
        "nightly_seconds": figures["nightly"]["seconds"],
    }[key]


def print_targets(results: dict[str, object]) -> None:
    print("\nTargets:")
    for what, measured, target, met in target_figures(results):
        verdict = "met" if met else f"missed ({measured / target:.1f}x)"
        print(f"  {what:<36} {measured:>14,.1f} target {target:>14,.1f}  {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=ALL_SIZES, default=list(ALL_SIZES))
    parser.add_argument("--smoke", action="store_true", help="100k only; fail if a figure is missing")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = ["100k"] if args.smoke else args.sizes
    started = time.perf_counter()
    results = {"machine": machine(), "targets": TARGETS, "sizes": {}}

    def save() -> None:
        # After each size and the ml timings, so a long run that stops keeps what it measured.
        results["bench_seconds"] = round(time.perf_counter() - started, 1)
        args.out.write_text(json.dumps(results, indent=2) + "\n")

    for size in sizes:
        results["sizes"][size] = bench_size(size, with_readers=size != "empty")
        save()
    print("\nThe ml assets' heavy steps at production size:", flush=True)
    results["ml"] = bench_ml(customers=ML_SMOKE_CUSTOMERS if args.smoke else ML_CUSTOMERS)
    save()
    print_report(results)
    print(f"\nWrote {args.out} ({results['bench_seconds']:.0f} s)")
    missing = missing_figures(results)
    if missing:
        print("missing figures: " + ", ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
