"""Peak memory of process trees, sampled in a thread while a step runs; their memory at one
moment (idle); and the CPU time they spent.

Every `interval` seconds the process table is read once (a tree grows:
spark-submit starts its Python driver, the scheduler its tasks), each group's
processes are taken from it, and their RSS is summed; every `pss_every`-th
sample their PSS too (`psutil.Process.memory_full_info`, from
/proc/PID/smaps_rollup). A group's peak is the largest sum of one sample. RSS
counts shared pages once per process, PSS shares them out: the PSS of a tree
is what it costs the machine. PSS is read less often because it is not free:
the kernel walks every page of the process, about 15 ms for a JVM here, and
at every 0.2 s the sampler alone took half of one of the two cores during the
cycle, slowing down what it measured.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

MB = 1_000_000
SAMPLE_EVERY_SECONDS = 0.2
PSS_EVERY_SAMPLES = 5  # once a second


class ProcessTable:
    """Who is whose child, read once per sample."""

    def __init__(self) -> None:
        self.processes: dict[int, psutil.Process] = {}
        self.children: dict[int, list[int]] = defaultdict(list)
        for process in psutil.process_iter(["ppid"]):
            self.processes[process.pid] = process
            self.children[process.info["ppid"]].append(process.pid)

    def tree(self, pid: int) -> list[psutil.Process]:
        """The process and its descendants, the process first; none when it has ended."""
        found, pending = [], [pid]
        while pending:
            current = pending.pop()
            if current in self.processes:
                found.append(self.processes[current])
                pending.extend(self.children.get(current, ()))
        return found


Group = Callable[[ProcessTable], Iterable[psutil.Process]]


@dataclass
class Peak:
    rss_bytes: int = 0
    pss_bytes: int = 0
    samples: int = 0
    at_peak: list[tuple[str, int]] = field(default_factory=list)  # (process, RSS) in the highest RSS sample

    def as_dict(self) -> dict:
        return {"rss_peak_mb": round(self.rss_bytes / MB, 1), "pss_peak_mb": round(self.pss_bytes / MB, 1),
                "samples": self.samples, "processes_at_peak": len(self.at_peak),
                "rss_at_peak_mb": {f"{name} #{index}": round(rss / MB, 1)
                                   for index, (name, rss) in enumerate(sorted(self.at_peak, key=lambda p: -p[1]))}}


def descendants_of_this_process(table: ProcessTable) -> list[psutil.Process]:
    """What this process launched (spark-submit and its driver, the baseline consumer)."""
    return table.tree(os.getpid())[1:]


def pidfile_tree(pidfile: Path) -> Group:
    """The tree of a service `bin/stack` started (its pidfile under .state/pids)."""
    pid = int(pidfile.read_text().split()[0])
    return lambda table: table.tree(pid)


def _sum(processes: Iterable[psutil.Process], with_pss: bool) -> tuple[int, int, list[tuple[str, int]]]:
    """Summed RSS and PSS (0 unless `with_pss`), and each process's (name, RSS)."""
    pss = 0
    each = []
    for process in processes:
        try:
            info = process.memory_full_info() if with_pss else process.memory_info()
            each.append((process.name(), info.rss))
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
        pss += info.pss if with_pss else 0
    return sum(rss for _, rss in each), pss, each


@contextmanager
def peak_memory(groups: dict[str, Group], interval: float = SAMPLE_EVERY_SECONDS,
                pss_every: int = PSS_EVERY_SAMPLES) -> Iterator[dict[str, Peak]]:
    """Sample every group until the block ends; the yielded dict holds each group's `Peak`."""
    peaks = {name: Peak() for name in groups}
    stop = threading.Event()

    def run() -> None:
        sample = 0
        while True:
            table = ProcessTable()
            with_pss = sample % pss_every == 0
            for name, group in groups.items():
                rss, pss, each = _sum(group(table), with_pss)
                peak = peaks[name]
                peak.samples += 1
                if rss > peak.rss_bytes:
                    peak.rss_bytes, peak.at_peak = rss, each
                peak.pss_bytes = max(peak.pss_bytes, pss)
            sample += 1
            if stop.wait(interval):
                return

    sampler = threading.Thread(target=run, name="memory-sampler", daemon=True)
    sampler.start()
    try:
        yield peaks
    finally:
        stop.set()
        sampler.join()


def pss_now(groups: dict[str, Group]) -> dict[str, float]:
    """Each group's PSS at this moment, in MB."""
    table = ProcessTable()
    return {name: round(_sum(group(table), with_pss=True)[1] / MB, 1) for name, group in groups.items()}


def cpu_seconds(groups: Iterable[Group]) -> float:
    """CPU time (user + system) the groups' processes have used so far, with that of every
    descendant that has ended and been waited for (the kernel adds it to the parent's children
    times): the difference of two readings is what the trees spent between them, the task
    processes and spark-submit launches that came and went included."""
    table = ProcessTable()
    seen: set[int] = set()
    total = 0.0
    for group in groups:
        for process in group(table):
            if process.pid in seen:
                continue
            seen.add(process.pid)
            try:
                times = process.cpu_times()
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
            total += times.user + times.system + times.children_user + times.children_system
    return total
