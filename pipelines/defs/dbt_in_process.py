"""dbt run inside the Dagster run's process: dbt-core's ``dbtRunner`` on a thread, whose events
dagster-dbt reads as if they were the JSON log lines of a ``dbt`` child process.

A child process pays, on every build, for starting Python and importing dbt-core and its DuckDB
adapter, which the run's process has mostly done already (``docs/benchmarks.md``). dagster-dbt
0.29 only runs the ``dbt`` executable and reads its standard output;
:class:`pipelines.defs.dagster_compat.StorefrontDbtCliResource` hands it a :class:`DbtThread`
instead, which has the part of ``subprocess.Popen`` dagster-dbt uses.

Nothing of dbt outlives the run's process: a killed process takes the thread with it, and DuckDB
rolls back dbt's open transaction when the warehouse is next opened. When dbt ends, its DuckDB
connection is closed (dbt-duckdb keeps it open for the next invocation), so that the run's later
steps can open the warehouse with their own settings.
"""

from __future__ import annotations

import ctypes
import queue
import signal
import threading
from collections.abc import Iterator, Sequence

import orjson
from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.adapters.factory import FACTORY
from dbt.cli.main import dbtRunner
from dbt_common.events.base_types import EventMsg
from dbt_common.events.functions import msg_to_dict

FORWARDED_LEVELS = frozenset({"info", "warn", "error"})
"""The events a ``dbt`` process prints at its default log level: what dagster-dbt reads (the
results of models and tests are ``info``); the ``debug`` ones go to the target folder's dbt.log."""
EXIT_CODES = {"success": 0, "failure": 1, "error": 2}
"""dbt's exit codes: every node passed; a node failed; dbt itself failed (a bad argument, a parse error)."""


class EventLines:
    """The standard output of a :class:`DbtThread`: dbt's events as JSON lines, until dbt ends."""

    def __init__(self) -> None:
        self._lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.closed = False

    def put(self, line: bytes | None) -> None:
        """Add a line; ``None`` once, when dbt has ended."""
        self._lines.put(line)

    def __iter__(self) -> Iterator[bytes]:
        while (line := self._lines.get()) is not None:
            yield line

    def __enter__(self) -> EventLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.closed = True


class DbtThread:
    """``dbt <args>`` on a thread of this process, with the part of ``subprocess.Popen``'s interface
    dagster-dbt's ``DbtCliInvocation`` uses: ``args``, ``stdout``, ``wait()``, ``returncode`` and
    ``send_signal()``."""

    def __init__(self, args: Sequence[str]) -> None:
        self.args = ["dbt", *args]
        self.stdout = EventLines()
        self.returncode: int | None = None
        self._thread = threading.Thread(target=self._run, name="dbt", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            result = dbtRunner(callbacks=[self._forward]).invoke(self.args[1:])
            if result.exception is not None and not isinstance(result.exception, KeyboardInterrupt):
                # dbt reports most of its own failures as error events; this one may not have been.
                self._put_error(f"dbt failed: {result.exception}")
            self.returncode = EXIT_CODES[
                "success" if result.success else "error" if result.exception is not None else "failure"
            ]
        finally:
            close_dbt_connection()
            self.stdout.put(None)

    def _forward(self, event: EventMsg) -> None:
        if event.info.level in FORWARDED_LEVELS:
            self.stdout.put(orjson.dumps(msg_to_dict(event)))

    def _put_error(self, message: str) -> None:
        self.stdout.put(
            orjson.dumps({"info": {"level": "error", "msg": message, "name": "DbtThreadError"}, "data": {}})
        )

    def wait(self, timeout: float | None = None) -> int | None:
        self._thread.join(timeout)
        return self.returncode

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Stop dbt as Ctrl-C stops a ``dbt`` process (dagster-dbt sends SIGINT when the run is
        interrupted): the queries it runs are cancelled, and a ``KeyboardInterrupt`` in dbt's thread,
        raised once the thread next runs (when a node ends), stops it starting others."""
        if signum != signal.SIGINT or not self._thread.is_alive() or self._thread.ident is None:
            return
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(self._thread.ident), ctypes.py_object(KeyboardInterrupt)
        )
        adapter = FACTORY.adapters.get(DuckDBConnectionManager.TYPE)
        if adapter is not None:
            adapter.cancel_open_connections()


def close_dbt_connection() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after an invocation (its
    environment, ``_ENV``: tests/integration/test_dbt_in_process.py reopens the warehouse after dbt with
    other settings, which fails while it is open)."""
    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager.close_all_connections()
