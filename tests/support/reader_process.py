"""A reader process for the concurrency test: queries the serving file and the API in a loop.

Run as ``python -m tests.support.reader_process SERVING API_URL TOKEN OUT STOP``. Until the file STOP
exists it keeps observing, and appends each observation to OUT as a JSON line:

- ``held``: a read-only connection opened once at the start and kept open the whole time (a BI
  tool left open); it must keep seeing the first snapshot, whole, however many are published.
- ``file``: a fresh read-only connection each round (a tool that reconnects).
- ``health-check``, ``comprehensive``, ``revenue-forecast``: the API's answers.

Each observation names the snapshot's run id and the figures the test checks against that run
(forecast days, model versions), plus any inconsistency found inside the snapshot itself. It
uses nothing of ``pipelines``: it reads the files and the API as an outside reader would. An error
is recorded, not raised, so the test sees every failure with its round.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import duckdb

API_PATHS = ("health-check", "comprehensive", "revenue-forecast?days=90")


def observe_file(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """The snapshot's run id and figures, and whether its tables all belong to it: each table's row
    count is the one recorded at publication, and the forecast, its fitted history and the latest
    model version are one model."""
    (run_id,) = con.execute("select run_id from snapshot").fetchone()
    recorded = dict(con.execute("select table_name, row_count from snapshot_tables").fetchall())
    problems = []
    for table, rows in recorded.items():
        (actual,) = con.execute(f"select count(*) from {table}").fetchone()
        if actual != rows:
            problems.append(f"{table}: {actual} rows, {rows} recorded")
    versions = con.execute(
        """select (select list(distinct model_version) from ml.revenue_forecast),
            (select list(distinct model_version) from ml.revenue_fitted_history),
            (select version from ml.model_performance order by trained_at desc limit 1)"""
    ).fetchone()
    if not versions[0] == versions[1] == [versions[2]]:
        problems.append(f"forecast, fitted history and latest model disagree: {versions}")
    return {
        "run_id": run_id,
        "forecast_rows": recorded["ml.revenue_forecast"],
        "model_rows": recorded["ml.model_performance"],
        "problems": problems,
    }


def fresh_connection(serving: Path) -> duckdb.DuckDBPyConnection:
    """A new read-only look at the serving file. Attached to an in-memory database: a second
    ``duckdb.connect`` of the same path in this process would return the held connection's
    instance, and so the old snapshot."""
    con = duckdb.connect()
    con.execute(f"attach '{serving}' as snapshot_file (read_only)")
    con.execute("use snapshot_file")
    return con


def observe_api(api_url: str, token: str, path: str) -> dict[str, object]:
    """One API answer reduced to the run id and the figures the test checks."""
    request = urllib.request.Request(f"{api_url}/api/analytics/{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    observation: dict[str, object] = {"run_id": answer["run_id"], "problems": []}
    if "tables" in answer:
        observation["forecast_rows"] = answer["tables"]["ml.revenue_forecast"]
        observation["model_rows"] = answer["tables"]["ml.model_performance"]
    else:
        observation["forecast_rows"] = len(answer["forecast"]["date"])
    return observation


def observed(source: str, observe: object) -> dict[str, object]:
    """``observe()`` labelled with its source and time, or the error it raised."""
    started = time.time()
    try:
        observation = observe()
    except (duckdb.Error, urllib.error.URLError, OSError, KeyError, ValueError) as error:
        observation = {"error": f"{type(error).__name__}: {error}"}
    return {"source": source, "started": started, "finished": time.time(), **observation}


def main(serving: Path, api_url: str, token: str, out: Path, stop: Path) -> None:
    held = duckdb.connect(str(serving), read_only=True)
    with out.open("a") as log:
        while not stop.exists():
            observations = [observed("held", lambda: observe_file(held))]

            def reconnect() -> dict[str, object]:
                con = fresh_connection(serving)
                try:
                    return observe_file(con)
                finally:
                    con.close()

            observations.append(observed("file", reconnect))
            for path in API_PATHS:
                observations.append(observed(path.split("?")[0], lambda path=path: observe_api(api_url, token, path)))
            for observation in observations:
                log.write(json.dumps(observation) + "\n")
            log.flush()
    held.close()


if __name__ == "__main__":
    serving_arg, api_url_arg, token_arg, out_arg, stop_arg = sys.argv[1:]
    main(Path(serving_arg), api_url_arg, token_arg, Path(out_arg), Path(stop_arg))
