"""Peak memory of process trees, sampled in a thread while a step runs.

Every `interval` seconds each group's processes are listed again (a tree
grows: spark-submit starts its Python driver, the scheduler its tasks) and
their RSS and PSS (`psutil.Process.memory_full_info`, from
/proc/PID/smaps_rollup) are summed; a group's peak is the largest sum of one
sample. RSS counts shared pages once per process, PSS shares them out: the
PSS of a tree is what it costs the machine.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

MB = 1_000_000
SAMPLE_EVERY_SECONDS = 0.2

Group = Callable[[], Iterable[psutil.Process]]


@dataclass
class Peak:
    rss_bytes: int = 0
    pss_bytes: int = 0
    samples: int = 0
    processes: int = 0  # in the sample with the highest RSS

    def as_dict(self) -> dict:
        return {"rss_peak_mb": round(self.rss_bytes / MB, 1), "pss_peak_mb": round(self.pss_bytes / MB, 1),
                "samples": self.samples, "processes_at_peak": self.processes}


def tree(root: psutil.Process) -> list[psutil.Process]:
    """`root` and its descendants; none when it has ended."""
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def descendants_of_this_process() -> list[psutil.Process]:
    """What this process launched (spark-submit and its driver, the baseline consumer)."""
    return psutil.Process(os.getpid()).children(recursive=True)


def pidfile_tree(pidfile: Path) -> Group:
    """The tree of a service `bin/stack` started (its pidfile under .state/pids)."""
    root = psutil.Process(int(pidfile.read_text().split()[0]))
    return lambda: tree(root)


def _sample(processes: Iterable[psutil.Process]) -> tuple[int, int, int]:
    rss = pss = count = 0
    for process in processes:
        try:
            info = process.memory_full_info()
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += info.pss
        count += 1
    return rss, pss, count


@contextmanager
def peak_memory(groups: dict[str, Group], interval: float = SAMPLE_EVERY_SECONDS) -> Iterator[dict[str, Peak]]:
    """Sample every group until the block ends; the yielded dict holds each group's `Peak`."""
    peaks = {name: Peak() for name in groups}
    stop = threading.Event()

    def run() -> None:
        while True:
            for name, group in groups.items():
                rss, pss, count = _sample(group())
                peak = peaks[name]
                peak.samples += 1
                if rss > peak.rss_bytes:
                    peak.rss_bytes, peak.processes = rss, count
                peak.pss_bytes = max(peak.pss_bytes, pss)
            if stop.wait(interval):
                return

    sampler = threading.Thread(target=run, name="memory-sampler", daemon=True)
    sampler.start()
    try:
        yield peaks
    finally:
        stop.set()
        sampler.join()
