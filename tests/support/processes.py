"""Real processes for the tests of crashed runs."""

from __future__ import annotations

import subprocess
import sys

from pipelines.defs.run_liveness import process_tags


def ended_process_tags() -> dict[str, str]:
    """The run tags of a real process, taken while it lived; it has ended when this returns."""
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        return process_tags(process.pid)
    finally:
        process.stdin.close()  # it reads to the end of its input, then exits
        process.wait()
