"""Simulator throughput without Kafka: car-ticks (records) per second for 1 and 20 cars.

Usage: python benchmarks/bench_simulator.py [--seconds 5] [--cars 1 20]

Prints the machine (cores, memory, Python, numpy), the command, and for each grid size the
time per tick, car-ticks per second from ``Simulation.step`` (one tick per call, as at
``--rate realtime``), from ``Simulation.step_block`` with ``producer.cli.MAX_BLOCK_TICKS``
ticks per call (as at ``--rate max``), and ``step`` plus
:func:`producer.simulation.to_records` (dict records, what a per-record serialiser consumes).
The lap-start profile rebuilds are included, since a run covers several laps' worth of
rebuilds per car. The simulator is built (and its compiled physics loaded) before timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from figures import figure

from circuit import silverstone
from producer.cli import MAX_BLOCK_TICKS
from producer.simulation import Simulation, to_records


def machine_info() -> str:
    mem = "unknown"
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    break
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"machine: {cpu}, {os.cpu_count()} cores, {mem} memory; "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )


def measure(n_cars: int, seconds: float, mode: str) -> tuple[float, int]:
    """Run for about ``seconds`` of wall time; returns (elapsed, ticks)."""
    sim = Simulation(silverstone(), n_cars=n_cars, seed=1)
    for _ in range(100):  # warm-up
        sim.step()
    ticks = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        if mode == "block":
            for _ in range(10):
                sim.step_block(MAX_BLOCK_TICKS)
            ticks += 10 * MAX_BLOCK_TICKS
        else:
            for _ in range(500):
                batch = sim.step()
                if mode == "records":
                    to_records(batch)
            ticks += 500
        now = time.perf_counter()
        if now >= deadline:
            return now - start, ticks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="wall time per measurement")
    parser.add_argument("--cars", type=int, nargs="+", default=[1, 20], help="grid sizes")
    args = parser.parse_args(argv)
    print(machine_info())
    print("command: python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]))
    print(
        f"modes: columns = step(), block = step_block({MAX_BLOCK_TICKS}), "
        "records = step() + to_records"
    )
    print(f"{'cars':>5} {'mode':>8} {'us/tick':>9} {'car-ticks/s':>13} {'x real time':>12}")
    block_figures = []
    for n_cars in args.cars:
        for mode in ("columns", "block", "records"):
            elapsed, ticks = measure(n_cars, args.seconds, mode)
            per_tick = elapsed / ticks
            rate = n_cars * ticks / elapsed
            realtime = ticks / 100 / elapsed  # simulated seconds per wall second at 100 Hz
            print(f"{n_cars:>5} {mode:>8} {per_tick * 1e6:>9.1f} {rate:>13,.0f} {realtime:>12,.0f}")
            if mode == "block":
                block_figures.append(
                    f"{n_cars} car(s): {per_tick * 1e6:.1f} µs per tick, {rate:,.0f} car-ticks/s"
                )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    figure(
        f"simulator, blocks of {MAX_BLOCK_TICKS} ticks (as at --rate max)",
        "; ".join(block_figures),
        "(the producer's budget)",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
