"""API read latency: every GET endpoint of the running API, at 1 and 16 concurrent clients.

The API runs as ``make serve`` runs it (``python -m pipelines.cli.serve``, one uvicorn process) on a free
loopback port, over the snapshot the benchmark's build published. Each client is a thread with
its own keep-alive HTTP connection; latency is the wall time of one request and its whole answer.
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

TOKEN = "bench-token"
CONCURRENCY = (1, 16)
# About 200 requests per endpoint at each concurrency (16 clients x 13 = 208): enough for a p99.
REQUESTS_PER_CLIENT = {1: 200, 16: 13}
START_TIMEOUT_SECONDS = 60
QUERIES = {"revenue-forecast": "days=30", "export": "table=marts.kpi_summary&format=json"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_api(env: dict[str, str]) -> Iterator[int]:
    """The app of ``make serve`` on a free port with ``env`` (which sets the token); yields the port."""
    port = free_port()
    code = (
        "import uvicorn; from pipelines.cli.serve import environment_app, server_options; "
        f"uvicorn.run(environment_app(), **server_options('127.0.0.1', {port}), log_level='warning')"
    )
    process = subprocess.Popen([sys.executable, "-c", code], env={**env, "ANALYTICS_API_TOKEN": TOKEN})
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                status, _ = request(
                    http.client.HTTPConnection("127.0.0.1", port, timeout=5), "/api/analytics/health-check"
                )
                if status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start on port {port}")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def request(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    connection.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
    response = connection.getresponse()
    return response.status, response.read()


def endpoints(port: int) -> dict[str, str]:
    """Name and path (with the benchmark's parameters) of every GET endpoint in the OpenAPI schema."""
    _, body = request(http.client.HTTPConnection("127.0.0.1", port, timeout=30), "/openapi.json")
    paths = json.loads(body)["paths"]
    named = {path.rsplit("/", 1)[-1]: path for path, methods in paths.items() if "get" in methods}
    return {name: f"{path}?{QUERIES[name]}" if name in QUERIES else path for name, path in sorted(named.items())}


def client_latencies(port: int, path: str, count: int, start: threading.Barrier) -> list[float]:
    """``count`` requests on one keep-alive connection, each timed in milliseconds."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start.wait()
    latencies = []
    for _ in range(count):
        began = time.perf_counter()
        status, _ = request(connection, path)
        latencies.append((time.perf_counter() - began) * 1000)
        if status != 200:
            raise RuntimeError(f"{path} answered HTTP {status}")
    connection.close()
    return latencies


def percentiles(latencies: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49], 2), "p95_ms": round(cuts[94], 2), "p99_ms": round(cuts[98], 2)}


def measure_endpoint(port: int, path: str, clients: int) -> dict[str, float]:
    """Latency percentiles of ``path`` with ``clients`` clients sending at once."""
    results: list[list[float]] = [[] for _ in range(clients)]
    start = threading.Barrier(clients)

    def run(index: int) -> None:
        results[index] = client_latencies(port, path, REQUESTS_PER_CLIENT[clients], start)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return percentiles([latency for client in results for latency in client])


def measure(env: dict[str, str]) -> dict[str, object]:
    """``{"endpoints": {name: {"1": percentiles, "16": percentiles}}}`` for the API over ``env``'s snapshot."""
    with running_api(env) as port:
        return {
            "endpoints": {
                name: {str(clients): measure_endpoint(port, path, clients) for clients in CONCURRENCY}
                for name, path in endpoints(port).items()
            }
        }
