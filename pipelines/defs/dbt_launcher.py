"""``storefront-dbt``: starts the ``dbt`` installed with this interpreter so that it dies with the
process that started it.

dagster-dbt runs ``dbt`` as a child process. Were the run's process killed (``kill -9``, the OOM
killer), dbt would go on as an orphan, holding the warehouse file's lock so that the next run could
not open it. dagster-dbt starts the process itself and takes no hook for it, but it runs whatever
``dbt_executable`` names: this launcher, which asks Linux to SIGKILL it when its parent dies
(``prctl(PR_SET_PDEATHSIG)``, kept across ``exec``), then replaces itself with ``dbt``.

The parent's pid comes in :data:`PARENT_PID_ENV`: a parent that died before the launcher asked has
already left it with another parent, and the launcher then exits rather than run dbt unwatched.
Linux only: elsewhere dbt is started as it is, and may outlive a killed run (docs/reliability.md).
SIGKILL rather than SIGTERM, because nothing of dbt's may survive: its work is in the warehouse's
transactions, which DuckDB rolls back when the file is next opened.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

LAUNCHER_NAME = "storefront-dbt"
"""The console script of :func:`main` (``pyproject.toml``), installed next to the interpreter."""
PARENT_PID_ENV = "STOREFRONT_DBT_PARENT_PID"
PR_SET_PDEATHSIG = 1
"""From ``<linux/prctl.h>``."""


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies; exit at once if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}")
    expected = os.environ.get(PARENT_PID_ENV)
    if expected is not None and os.getppid() != int(expected):
        sys.exit(f"{LAUNCHER_NAME}: the process {expected} that started dbt is gone; dbt not started")


def main() -> NoReturn:
    if sys.platform == "linux":
        die_with_parent()
    dbt = Path(sys.executable).parent / "dbt"
    os.execv(dbt, [str(dbt), *sys.argv[1:]])
