"""Wall time and peak memory of a command, counting every process it starts (dbt runs as one)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import psutil

SAMPLE_SECONDS = 0.05


@dataclass(frozen=True)
class Measured:
    """One command's wall time, the peak of its process tree's summed RSS, and its output."""

    seconds: float
    peak_rss_bytes: int
    output: str


class CommandFailed(RuntimeError):
    """The measured command exited with an error; the message ends with its output."""


def run_measured(command: list[str], env: Mapping[str, str]) -> Measured:
    """Run ``command``, sampling the RSS of it and all its descendants every 50 ms."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0]
    sampler = threading.Thread(target=_sample_peak, args=(process, peak), daemon=True)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - start
    sampler.join()
    if process.returncode != 0:
        raise CommandFailed(f"{' '.join(command)} exited with {process.returncode}:\n{output[-4000:]}")
    return Measured(seconds=seconds, peak_rss_bytes=peak[0], output=output)


def _sample_peak(process: subprocess.Popen, peak: list[int]) -> None:
    root = psutil.Process(process.pid)
    while process.poll() is None:
        peak[0] = max(peak[0], _tree_rss(root))
        time.sleep(SAMPLE_SECONDS)


def _tree_rss(root: psutil.Process) -> int:
    """Summed RSS of ``root`` and its descendants; processes that end while being read count 0."""
    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total
