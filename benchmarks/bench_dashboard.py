"""Dashboard benchmark: frames per second delivered to 1 and to 5 concurrent sessions of the
pit wall, the server's CPU and the bytes sent to each session, with a live 20-car race.

    .venv/bin/python benchmarks/bench_dashboard.py [--cars 20] [--sessions 1,5] [--seconds 10]
                                                    [--clients protocol,browser]
                                                    [--session race|practice]

A fresh ``panel serve dashboard/app.py`` per measurement, fed by ``f1-simulate --session race
--cars 20`` (real time) on a topic of its own: every session draws the timing tower (gaps and
intervals of a race change with every sample) and the car-against-car comparison besides the
selected car's live figures. Two kinds of session:

- ``browser``: headless Chromium (Debian's ``chromium`` + ``chromium-driver``, via selenium);
  frames and bytes are the websocket frames Chrome's DevTools log shows it received. On a
  small machine the browsers' own rendering competes with the server for the same cores.
- ``protocol``: a client that speaks Bokeh's websocket protocol and only counts what
  arrives (``integration_tests.dashboard_probe.ProtocolSession``): what the server
  delivers when the clients cost nothing.

A frame is one PATCH-DOC message (each frame is sent as one message). Server CPU is the
``panel serve`` process's user + system time over the window (psutil), as a share of one
core; the baseline is the same server with no session open (the Kafka feed alone).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import figures  # noqa: E402
from figures import figure  # noqa: E402

from integration_tests.dashboard_probe import (  # noqa: E402
    Browser,
    PanelServer,
    ProtocolSession,
    WireStats,
)

BIN = Path(sys.executable).parent
TARGET_FPS = 30.0
TARGET_CPU = 1.0
TARGET_BYTES = 100_000
SETTLE_S = 3.0  # after the sessions open, before the window


@dataclass
class Result:
    clients: str
    sessions: int
    fps: list[float]
    bytes_per_s: list[float]
    cpu_cores: float
    baseline_cores: float


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def machine() -> str:
    import bokeh
    import panel

    return f"{figures.machine()}; panel {panel.__version__}, bokeh {bokeh.__version__}"


def measure(
    env: dict[str, str], clients: str, sessions: int, seconds: float, warmup_s: float
) -> Result:
    with PanelServer(env) as server:
        proc = psutil.Process(server.pid)
        opened: list[Browser | ProtocolSession] = []
        try:
            # The first page starts the feed; let it catch up before measuring anything.
            first = Browser() if clients == "browser" else ProtocolSession(server.url)
            first.open(server.url) if isinstance(first, Browser) else first.open()
            first.close()
            time.sleep(warmup_s)
            c0, t0 = cpu_seconds(proc), time.monotonic()
            time.sleep(min(seconds, 5.0))
            baseline = (cpu_seconds(proc) - c0) / (time.monotonic() - t0)
            for _ in range(sessions):
                if clients == "browser":
                    browser = Browser()
                    opened.append(browser)
                    browser.open(server.url)
                else:
                    session = ProtocolSession(server.url)
                    opened.append(session)
                    session.open()
            time.sleep(SETTLE_S)
            stats: list[WireStats | None] = [None] * sessions

            def watch(i: int) -> None:
                stats[i] = opened[i].wire(seconds)

            threads = [threading.Thread(target=watch, args=(i,)) for i in range(sessions)]
            c0, t0 = cpu_seconds(proc), time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            cores = (cpu_seconds(proc) - c0) / (time.monotonic() - t0)
        finally:
            for client in opened:
                client.close()
    done = [s for s in stats if s is not None]
    return Result(
        clients,
        sessions,
        [s.fps for s in done],
        [s.bytes_per_s for s in done],
        cores,
        baseline,
    )


def start_grid(env: dict[str, str], cars: int, topic: str, session: str) -> subprocess.Popen[bytes]:
    subprocess.run(
        [str(BIN / "f1-schemas"), "register", "--telemetry-topic", topic],
        env=env,
        check=True,
        capture_output=True,
    )
    return subprocess.Popen(
        [
            str(BIN / "f1-simulate"),
            "--session",
            session,
            "--cars",
            str(cars),
            "--topic",
            topic,
            "--progress-every",
            "600",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cars", type=int, default=20)
    parser.add_argument("--sessions", default="1,5", help="session counts, comma separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="seconds for the feed to catch up first"
    )
    parser.add_argument("--clients", default="protocol,browser", help="protocol and/or browser")
    parser.add_argument(
        "--session", default="race", choices=("race", "practice"), help="the kind of session"
    )
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.sessions.split(",")]
    kinds = [k.strip() for k in args.clients.split(",")]

    topic = f"bench-dashboard-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "F1_TELEMETRY_TOPIC": topic,
        "F1_ANALYTICS_TOPIC": f"{topic}-analytics",
    }
    print("bench_dashboard: the pit wall under a live grid")
    print(f"machine: {machine()}")
    print(f"command: {shlex.join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])}")
    print(
        f"grid: f1-simulate --session {args.session} --cars {args.cars} "
        f"(real time, {args.cars * 100:,} records/s) "
        f"-> {topic}; window {args.seconds:.0f} s after {args.warmup:.0f} s warm-up"
    )
    sim = start_grid(env, args.cars, topic, args.session)
    results: list[Result] = []
    try:
        time.sleep(5)
        for kind in kinds:
            for n in counts:
                load = os.getloadavg()[0]
                r = measure(env, kind, n, args.seconds, args.warmup)
                results.append(r)
                print(
                    f"  measured {kind:8} x{n}: {min(r.fps):.1f}..{max(r.fps):.1f} fps, "
                    f"server {r.cpu_cores:.2f} cores (load average before: {load:.1f})",
                    flush=True,
                )
    finally:
        sim.terminate()
        sim.wait(timeout=30)

    print()
    header = (
        f"{'clients':9} {'sessions':>8} {'fps/session (min..mean)':>24} "
        f"{'KB/s/session (max)':>19} {'server CPU':>11} {'feed only':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        mean = sum(r.fps) / len(r.fps)
        print(
            f"{r.clients:9} {r.sessions:>8} {min(r.fps):>15.1f}..{mean:<8.1f}"
            f"{max(r.bytes_per_s) / 1000:>19.1f} {r.cpu_cores:>10.2f}c {r.baseline_cores:>9.2f}c"
        )
    print(
        f"targets: {TARGET_FPS:.0f} fps per session with 5 sessions, server CPU <= "
        f"{TARGET_CPU:.0f} core, <= {TARGET_BYTES / 1000:.0f} KB/s per session"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    for r in results:
        worst = min(r.fps)
        figure(
            f"dashboard, {args.cars}-car grid, {r.sessions} {r.clients} session(s)",
            f"{worst:.1f} fps per session (worst), server {r.cpu_cores:.2f} cores, "
            f"{max(r.bytes_per_s) / 1000:.1f} KB/s per session",
            f"{TARGET_FPS:.0f} fps, <= {TARGET_CPU:.0f} core, <= {TARGET_BYTES / 1000:.0f} KB/s",
            # Real browsers share the server's two cores here: their frame rate measures the
            # machine, the protocol sessions measure the server.
            (
                worst >= TARGET_FPS - 1
                and r.cpu_cores <= TARGET_CPU
                and max(r.bytes_per_s) <= TARGET_BYTES
            )
            if r.clients == "protocol"
            else None,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
