"""What else ran on the machine during a run (load average, CPU used by others), and the
median and spread of repeated runs."""

from __future__ import annotations

import os
import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores; /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / TICK


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (0 when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    after = raw.rsplit(")", 1)[1].split()  # fields from the 3rd on (comm may hold spaces)
    return (int(after[11]) + int(after[12])) / TICK


@dataclass
class Load:
    """The load average before a run and while it ran, and the CPU that other processes
    (not the bench, its sandboxes or the engine) used meanwhile."""

    before: float = 0.0
    during: list[float] = field(default_factory=list)
    cores: int = os.cpu_count() or 1
    machine_cpu: float = 0.0
    ours_cpu: float = 0.0
    seconds: float = 0.0

    @property
    def peak(self) -> float:
        return max(self.during, default=self.before)

    @property
    def others_cpu(self) -> float:
        """CPU seconds others used during the run."""
        return max(0.0, self.machine_cpu - self.ours_cpu)

    @property
    def others_cores(self) -> float:
        """Cores others kept busy on average during the run."""
        return self.others_cpu / self.seconds if self.seconds > 0 else 0.0

    @property
    def shared(self) -> bool:
        """Others used more than a fifth of a core on average: the run shared the CPU."""
        return self.others_cores > 0.2

    def describe(self) -> str:
        return (
            f"load {self.before:.2f} before, {self.peak:.2f} peak during; others used "
            f"{self.others_cores:.2f} of {self.cores} cores"
            f" ({'SHARED' if self.shared else 'alone'})"
        )


class LoadWatch:
    """Samples the 1-minute load average every second between `start` and `stop`, and the
    machine's and our processes' CPU seconds at both ends."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self.load = Load(before=os.getloadavg()[0])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._machine = machine_busy_seconds()
        self._ours = self._our_cpu()
        self._began = os.times().elapsed

    def _our_cpu(self) -> float:
        """The bench's CPU, its reaped children's (the engine, the naive peer) and the
        live sandboxes' (`pids`, reaped only after the run)."""
        mine = os.times()
        own = mine.user + mine.system + mine.children_user + mine.children_system
        return own + sum(process_cpu_seconds(p) for p in self.pids)

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            self.load.during.append(os.getloadavg()[0])

    def start(self) -> LoadWatch:
        self._thread.start()
        return self

    def stop(self) -> Load:
        self._stop.set()
        self._thread.join(5)
        self.load.during.append(os.getloadavg()[0])
        self.load.machine_cpu = machine_busy_seconds() - self._machine
        self.load.ours_cpu = self._our_cpu() - self._ours
        self.load.seconds = os.times().elapsed - self._began
        return self.load


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    n: int

    def describe(self, unit: str = "s", digits: int = 1) -> str:
        if self.n == 1:
            return f"{self.median:.{digits}f} {unit} (1 run)"
        return (
            f"{self.median:.{digits}f} {unit} median of {self.n} "
            f"({self.low:.{digits}f}–{self.high:.{digits}f})"
        )


def spread(values: Sequence[float]) -> Spread:
    if not values:
        raise ValueError("no values")
    return Spread(statistics.median(values), min(values), max(values), len(values))
