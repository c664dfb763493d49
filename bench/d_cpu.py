"""CPU per process group during a scenario (d) run, from /proc: the workers, PostgreSQL
(the postmaster, its live backends, and the backends it reaped meanwhile), the bench
process (its threads: the asyncio loop, the latency probe, and in thread mode the
sandboxes) and the sandbox processes; the rest of the machine is "others"."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.stats import TICK, Load, machine_busy_seconds

GROUPS = ("workers", "postgres", "bench", "sandboxes")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat from the 3rd on (None when the process is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def _own(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _reaped(fields: list[str]) -> float:
    return (int(fields[13]) + int(fields[14])) / TICK  # cutime + cstime


def cpu_seconds(pids: Sequence[int]) -> float:
    return sum(_own(f) for f in map(_stat, pids) if f is not None)


def postgres_seconds(postmaster: int) -> float:
    """The server's CPU so far: the postmaster's own and reaped children's, plus its live
    children's (a backend that exits moves from the second term to the first)."""
    top = _stat(postmaster)
    if top is None:
        return 0.0
    total = _own(top) + _reaped(top)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[1] == str(postmaster):  # ppid
                total += _own(fields)
    return total


def parent_of(pid: int) -> int:
    fields = _stat(pid)
    if fields is None:
        raise LookupError(f"no process {pid}")
    return int(fields[1])


@dataclass
class Processes:
    """The pids of each group (the workers change from run to run)."""

    postmaster: int
    workers: list[int] = field(default_factory=list)
    sandboxes: list[int] = field(default_factory=list)

    def snapshot(self) -> dict[str, float]:
        return {
            "workers": cpu_seconds(self.workers),
            "postgres": postgres_seconds(self.postmaster),
            "bench": cpu_seconds([os.getpid()]),
            "sandboxes": cpu_seconds(self.sandboxes),
            "machine": machine_busy_seconds(),
            "wall": os.times().elapsed,
        }


@dataclass
class Usage:
    """Cores each group kept busy on average over a phase, and the load average."""

    seconds: float
    cores: dict[str, float]
    others: float
    load: Load

    def describe(self) -> str:
        groups = ", ".join(f"{g} {self.cores[g]:.2f}" for g in GROUPS)
        return f"cores busy: {groups}, others {self.others:.2f}; {self.load.describe()}"

    def as_json(self) -> dict[str, float | bool]:
        return {
            **{f"cores_{g}": round(c, 3) for g, c in self.cores.items()},
            "cores_others": round(self.others, 3),
            "load_before": self.load.before,
            "load_peak": self.load.peak,
            "shared": self.load.shared,
        }


def usage(before: dict[str, float], after: dict[str, float], load: Load) -> Usage:
    wall = max(after["wall"] - before["wall"], 1e-9)
    cores = {g: (after[g] - before[g]) / wall for g in GROUPS}
    machine = (after["machine"] - before["machine"]) / wall
    others = max(0.0, machine - sum(cores.values()))
    load.seconds = wall
    load.machine_cpu = machine * wall
    load.ours_cpu = sum(cores.values()) * wall
    return Usage(wall, cores, others, load)
