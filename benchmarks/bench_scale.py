"""Scale curve: 1, 2, 5 and 10 concurrent 20-car sessions at real time through every service
on this machine; per step each service's lag, CPU per record and memory, and the first step
where a target fails.

    .venv/bin/python benchmarks/bench_scale.py [--steps 1,2,5,10] [--seconds 60] [--warmup 40]

Each step is a platform of its own, started as ``f1-stack demo`` starts it
(``bench_e2e.BenchPlatform``: fresh topics with the demo's partitions, bucket, sink group and
checkpoint, default settings): one ``panel serve`` dashboard with one protocol-level session
open, one ``f1-sink-influx``, one ``f1-analytics`` (``local[2]``, trigger 5 s), then N
``f1-simulate --session race --cars 20 --rate realtime`` processes, each its own session on
the one telemetry topic (N x 2,000 records/s). After ``--warmup`` seconds, every 2 s for
``--seconds``:

- records in: the telemetry topic's end offsets;
- lag, per consumer, in records and in seconds of input: the sink, its group's committed
  offsets (it commits once InfluxDB accepted a batch); the analytics job, the offsets of its
  last completed micro-batch (its checkpoint's ``commits``/``offsets``); the dashboard, the
  ``lag_records`` of its ``/health``;
- CPU (psutil, user + system) and resident memory of every process: the simulators
  (summed), the sink, the analytics job's process tree (Python driver, JVM, Python
  workers), the dashboard server, and the stack's Kafka, InfluxDB and registry; CPU per
  record is CPU seconds over the records that service handled in the window (InfluxDB: per
  point the sink committed);
- the dashboard's produce-to-process latency (the ``bench_e2e`` probe) and the frames per
  second its open session gets.

Targets (the project's design targets, as the other benchmarks check them): every simulator
keeps real time (records in >= 97 % of N x 2,000/s); the sink's lag under 1 s; the analytics
job within trigger + 3 s = 8 s of the present and its micro-batches shorter than the
trigger; the dashboard at most one core, produce to dashboard p99 <= 50 ms, 30 fps to its
session; and no consumer's lag growing through the window (a trend above 5 % of the input
rate). A step that cannot start or dies is reported as failed, with the reason. Needs the
local stack; each step's topics and bucket are deleted after it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from bench_e2e import (  # noqa: E402
    PROBE_PATH,
    BenchPlatform,
    Stopped,
    dashboard_latencies,
    machine_busy_s,
    percentiles,
    stack_pids,
    stop_on_signals,
    usage,
)
from confluent_kafka import Consumer, KafkaException, TopicPartition  # noqa: E402
from figures import figure, machine  # noqa: E402

from integration_tests.dashboard_probe import ProtocolSession  # noqa: E402
from runtime.kafka import client_config  # noqa: E402
from stack.demo import Service  # noqa: E402

CARS = 20
HZ = 100
TRIGGER_S = 5.0
SAMPLE_S = 2.0
TARGET_SINK_LAG_S = 1.0
TARGET_ANALYTICS_LAG_S = TRIGGER_S + 3
TARGET_DASHBOARD_CORES = 1.0
TARGET_DASHBOARD_P99_MS = 50.0
TARGET_FPS = 29.0  # 30 fps, as bench_dashboard counts it
GROWING = 0.05  # a lag trend above this share of the input rate grows without bound
SERVICES = (
    "simulators",
    "sink",
    "analytics",
    "dashboard",
    "kafka",
    "influxdb",
    "registry",
    "this process",
)
_BATCH_LINE = re.compile(r"(\d\d:\d\d:\d\d)[.,]?\d* .*batch (\d+): (\d+) records in ([\d.]+) s")


# --- one step ---------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float
    records_in: int
    lag: dict[str, int | None]  # consumer -> records behind
    handled: dict[str, int | None]  # service -> records handled so far
    cpu: dict[str, float]
    rss: dict[str, float]
    busy: float  # machine CPU seconds (all cores) so far


@dataclass
class Step:
    sessions: int
    samples: list[Sample] = field(default_factory=list)
    dashboard_ms: dict[str, float] = field(default_factory=dict)
    fps: float | None = None
    batches: list[tuple[int, float]] = field(default_factory=list)  # (records, seconds)
    failed: str | None = None  # the step could not run: why

    def span(self) -> float:
        return self.samples[-1].at - self.samples[0].at

    def rate_in(self) -> float:
        return (self.samples[-1].records_in - self.samples[0].records_in) / self.span()

    def lag_s(self, name: str) -> tuple[float | None, float | None, float | None]:
        """(lag at the end, max lag, trend) in seconds of input (trend: per second)."""
        rate = self.rate_in() or 1.0
        points = [(s.at, s.lag[name]) for s in self.samples if s.lag.get(name) is not None]
        if len(points) < 2:
            return None, None, None
        t = np.array([p[0] for p in points])
        lag = np.array([p[1] for p in points], dtype=float)
        trend = float(np.polyfit(t - t[0], lag, 1)[0])
        return lag[-1] / rate, lag.max() / rate, trend / rate

    def cores(self, name: str) -> float:
        return (self.samples[-1].cpu[name] - self.samples[0].cpu[name]) / self.span()

    def us_per_record(self, name: str) -> float | None:
        first, last = self.samples[0].handled.get(name), self.samples[-1].handled.get(name)
        came = self.samples[-1].records_in - self.samples[0].records_in
        if first is None or last is None or last - first < 0.05 * came:
            return None  # (almost) nothing handled in the window: no per-record figure
        return (self.samples[-1].cpu[name] - self.samples[0].cpu[name]) / (last - first) * 1e6

    def rss(self, name: str) -> float:
        return max(s.rss[name] for s in self.samples)

    def machine_busy(self) -> float:
        return (self.samples[-1].busy - self.samples[0].busy) / self.span()

    def dashboard_p99(self) -> str:
        if not self.dashboard_ms.get("n"):
            return "none: no record of the window reached it"
        return f"{self.dashboard_ms['p99']:.0f} ms"

    def behind(self) -> list[str]:
        """The consumers whose lag grows through the window (or that did not report one)."""
        out = []
        for name in ("sink", "analytics", "dashboard"):
            end, _top, trend = self.lag_s(name)
            limit = TARGET_ANALYTICS_LAG_S if name == "analytics" else TARGET_SINK_LAG_S
            if trend is None or end is None or (trend > GROWING and end > limit):
                out.append(name)
        return out

    def checks(self) -> list[tuple[str, bool, str]]:
        """(target, met, the measured figure) for every target of this step."""
        if self.failed is not None or len(self.samples) < 3:
            return [("the step runs", False, self.failed or "too few samples")]
        out = []
        want = self.sessions * CARS * HZ
        rate = self.rate_in()
        out.append(
            (
                "simulators keep real time",
                rate >= 0.97 * want,
                f"{rate:,.0f} of {want:,} records/s",
            )
        )
        for name, target in (
            ("sink", TARGET_SINK_LAG_S),
            ("analytics", TARGET_ANALYTICS_LAG_S),
        ):
            end, top, trend = self.lag_s(name)
            if end is None or top is None or trend is None:
                out.append((f"{name} lag known", False, "no lag figure"))
                continue
            out.append((f"{name} lag < {target:.0f} s", top < target, f"max {top:.2f} s"))
            out.append(
                (f"{name} lag not growing", trend <= GROWING, f"trend {trend * 100:+.1f} %/s")
            )
        end, top, trend = self.lag_s("dashboard")
        if trend is not None:
            out.append(
                (
                    "dashboard lag not growing",
                    trend <= GROWING,
                    f"trend {trend * 100:+.1f} %/s, end {end:.2f} s",
                )
            )
        if self.batches:
            longest = max(s for _, s in self.batches)
            out.append(
                (
                    f"analytics micro-batch < trigger {TRIGGER_S:.0f} s",
                    longest < TRIGGER_S,
                    f"longest {longest:.1f} s",
                )
            )
        cores = self.cores("dashboard")
        out.append(("dashboard <= 1 core", cores <= TARGET_DASHBOARD_CORES, f"{cores:.2f} cores"))
        p99 = self.dashboard_ms.get("p99", float("nan"))
        out.append(
            (
                "produce to dashboard p99 <= 50 ms",
                p99 <= TARGET_DASHBOARD_P99_MS,
                f"p99 {self.dashboard_p99()}",
            )
        )
        if self.fps is not None:
            out.append(("30 fps to the open session", self.fps >= TARGET_FPS, f"{self.fps:.1f}"))
        return out


class Sampler:
    """Reads the lags, counts and process figures of one step's platform."""

    def __init__(self, run: BenchPlatform, simulators: list[Service]) -> None:
        self.run = run
        self.simulators = simulators
        self.parts = run.partitions()
        topic = run.topics.telemetry
        self.tps = [TopicPartition(topic, p) for p in self.parts]
        bootstrap = run.endpoints.kafka_bootstrap
        self.sink_group = Consumer({**client_config(bootstrap), "group.id": run.sink_group})
        self.stack = stack_pids()

    def close(self) -> None:
        self.sink_group.close()

    def end_offsets(self) -> int:
        total = 0
        for tp in self.tps:
            _low, high = self.sink_group.get_watermark_offsets(tp, timeout=5, cached=False)
            total += max(high, 0)
        return total

    def sink_committed(self) -> int | None:
        try:
            return sum(max(tp.offset, 0) for tp in self.sink_group.committed(self.tps, timeout=5))
        except KafkaException:
            return None

    def analytics_done(self) -> int | None:
        """Records of the telemetry topic the analytics job's completed micro-batches cover."""
        commits = self.run.checkpoint / "commits"
        try:
            done = [int(p.name) for p in commits.iterdir() if p.name.isdigit()]
            if not done:
                return None
            lines = (self.run.checkpoint / "offsets" / str(max(done))).read_text().splitlines()
        except (OSError, ValueError):
            return None
        for line in lines[2:]:
            try:
                offsets = json.loads(line).get(self.run.topics.telemetry)
            except (ValueError, AttributeError):
                continue
            if offsets:
                return sum(int(v) for v in offsets.values())
        return None

    def sample(self) -> Sample:
        records_in = self.end_offsets()
        sink = self.sink_committed()
        analytics = self.analytics_done()
        health = self.run.get_json("/health", timeout_s=5) or {}
        services = self.run.platform.services
        pids: dict[str, tuple[list[int], bool]] = {
            "simulators": ([s.process.pid for s in self.simulators if s.process], False),
            "sink": ([services["sink-influx"].process.pid], False),  # type: ignore[union-attr]
            "analytics": ([services["analytics"].process.pid], True),  # type: ignore[union-attr]
            "dashboard": ([services["dashboard"].process.pid], False),  # type: ignore[union-attr]
        }
        for name in ("kafka", "influxdb", "registry"):
            pids[name] = ([self.stack[name]] if name in self.stack else [], False)
        pids["this process"] = ([os.getpid()], False)  # the protocol session and the sampling
        cpu, rss = {}, {}
        for name, (found, tree) in pids.items():
            cpu[name], rss[name] = usage(found, tree)
        dashboard_lag = health.get("lag_records")
        return Sample(
            at=time.monotonic(),
            records_in=records_in,
            lag={
                "sink": None if sink is None else records_in - sink,
                "analytics": None if analytics is None else records_in - analytics,
                "dashboard": dashboard_lag,
            },
            handled={
                "simulators": records_in,
                "kafka": records_in,
                "sink": sink,
                "influxdb": sink,
                "analytics": analytics,
                "dashboard": health.get("messages"),
                "registry": None,
            },
            cpu=cpu,
            rss=rss,
            busy=machine_busy_s(),
        )


def batch_times(log: Path, after: str) -> list[tuple[int, float]]:
    """The analytics job's micro-batches logged at or after ``after`` (HH:MM:SS)."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        m = _BATCH_LINE.search(line)
        if m and m.group(1) >= after and int(m.group(3)) > 0:
            found.append((int(m.group(3)), float(m.group(4))))
    return found


def run_step(n: int, seconds: float, warmup: float) -> Step:
    step = Step(n)
    try:
        run = BenchPlatform("bench-scale", CARS, "race")
    except Exception as exc:  # the stack is not there (or not all of it)
        step.failed = f"could not set up: {type(exc).__name__}: {exc}"
        report_step(step)
        return step
    print(f"\n-- step {n}: {n} session(s) x {CARS} cars; logs in {run.logs}", flush=True)
    session: ProtocolSession | None = None
    sampler: Sampler | None = None
    simulators: list[Service] = []
    try:
        started = time.monotonic()
        run.start_consumers()
        print(f"  consumers up in {time.monotonic() - started:.0f} s", flush=True)
        session = ProtocolSession(f"{run.base_url}/app")
        session.open()
        for i in range(n):
            argv = [sys.executable, "-m", "producer", "--session", "race", "--cars", str(CARS)]
            argv += ["--rate", "realtime", "--session-id", f"{run.session_id}-s{i + 1}"]
            argv += ["--seed", str(i + 1), "--progress-every", "30"]
            name = f"simulator-{i + 1}"
            service = Service(name, argv, run.logs / f"demo-{name}.log")
            run.platform.services[name] = service
            simulators.append(service)
        run.platform.start(*(s.name for s in simulators))
        sampler = Sampler(run, simulators)
        time.sleep(warmup)
        run.get_json(PROBE_PATH)  # the warm-up's arrivals are left out
        window_start_ms = time.time() * 1000
        clock = time.strftime("%H:%M:%S")
        frames = session.patch_docs
        end = time.monotonic() + seconds
        arrivals: list = []
        while True:
            step.samples.append(sampler.sample())
            # Fetched as it goes, so the probe holds only a few seconds of arrival times.
            arrivals += run.get_json(PROBE_PATH, timeout_s=10) or []
            exited = {k: v for k, v in run.platform.exited().items() if k != "simulator"}
            if exited:
                step.failed = f"exited during the step: {exited}"
                break
            if time.monotonic() >= end:
                break
            time.sleep(SAMPLE_S)
        step.fps = (session.patch_docs - frames) / step.span() if len(step.samples) > 1 else None
        _received, ingested = dashboard_latencies(arrivals, window_start_ms)
        step.dashboard_ms = percentiles(ingested)
        step.batches = batch_times(run.platform.services["analytics"].log_file, clock)
    except (SystemExit, Exception) as exc:
        step.failed = f"{type(exc).__name__}: {exc}"
    finally:
        if session is not None:
            session.close()
        if sampler is not None:
            sampler.close()
        for service in simulators:
            run.stop_service(service.name)
        run.close()
    report_step(step)
    return step


# --- report -----------------------------------------------------------------------------------


def report_step(step: Step) -> None:
    if step.failed is not None and len(step.samples) < 3:
        print(f"  step {step.sessions}: FAILED: {step.failed}", flush=True)
        return
    counted = sum(step.cores(name) for name in SERVICES)
    print(
        f"  {step.rate_in():,.0f} records/s in over {step.span():.0f} s; machine CPU "
        f"{step.machine_busy():.2f} of {os.cpu_count()} cores busy ({counted:.2f} in the "
        "processes below, the rest the kernel and other processes)",
        flush=True,
    )
    print(
        f"  {'service':11} {'lag end':>9} {'lag max':>9} {'trend':>8} {'cores':>6} "
        f"{'us/record':>10} {'RSS MiB':>8}"
    )
    for name in SERVICES:
        end, top, trend = (None, None, None)
        if name in ("sink", "analytics", "dashboard"):
            end, top, trend = step.lag_s(name)
        per = step.us_per_record(name)
        print(
            f"  {name:11} {_s(end):>9} {_s(top):>9} "
            f"{'-' if trend is None else f'{trend * 100:+.1f}%/s':>8} {step.cores(name):>6.2f} "
            f"{'-' if per is None else f'{per:.1f}':>10} {step.rss(name):>8,.0f}"
        )
    d = step.dashboard_ms
    if d.get("n"):
        print(
            f"  dashboard: produce -> in the model p50 {d['p50']:.0f} ms, p99 {d['p99']:.0f} ms, "
            f"max {d['max']:.0f} ms; {step.fps or 0:.1f} fps to the open session"
        )
    if step.batches:
        sizes = [n for n, _ in step.batches]
        times = [s for _, s in step.batches]
        print(
            f"  analytics micro-batches: {len(times)}, {max(sizes):,} records at most, "
            f"{np.median(times):.1f} s median, {max(times):.1f} s longest"
        )
    for what, met, figure_text in step.checks():
        print(f"    {'ok  ' if met else 'FAIL'} {what}: {figure_text}")


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="1,2,5,10", help="concurrent sessions per step")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per step")
    parser.add_argument("--warmup", type=float, default=40.0, help="seconds before the window")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.steps.split(",")]
    stop_on_signals()
    print("bench_scale: concurrent 20-car sessions at real time through every service")
    print(f"machine: {machine()}")
    print(f"command: {shlex.join(['python', Path(sys.argv[0]).as_posix(), *sys.argv[1:]])}")
    steps = []
    for n in counts:
        steps.append(run_step(n, args.seconds, args.warmup))

    print()
    header = (
        f"{'sessions':>8} {'records/s':>10} {'machine':>8} {'sim us/rec':>10} "
        f"{'sink lag':>9} {'sink us/rec':>11} {'spark lag':>9} {'spark us/rec':>12} "
        f"{'spark MiB':>9} {'dash cores':>10} {'dash p99':>9} {'dash fps':>8} "
        f"{'influxd cores':>13} {'kafka cores':>11}  first failure"
    )
    print(header)
    print("-" * len(header))
    first_fail: tuple[Step, str] | None = None
    for s in steps:
        failing = [f"{what} ({text})" for what, met, text in s.checks() if not met]
        if failing and first_fail is None:
            first_fail = (s, "; ".join(failing))
        if s.failed is not None and len(s.samples) < 3:
            print(f"{s.sessions:>8}  did not run: {s.failed}")
            continue
        print(
            f"{s.sessions:>8} {s.rate_in():>10,.0f} {s.machine_busy():>7.2f}c "
            f"{_us(s.us_per_record('simulators')):>10} {_s(s.lag_s('sink')[1]):>9} "
            f"{_us(s.us_per_record('sink')):>11} {_s(s.lag_s('analytics')[1]):>9} "
            f"{_us(s.us_per_record('analytics')):>12} {s.rss('analytics'):>9,.0f} "
            f"{s.cores('dashboard'):>10.2f} {s.dashboard_p99().split(':')[0]:>9} "
            f"{s.fps or 0:>8.1f} {s.cores('influxdb'):>13.2f} {s.cores('kafka'):>11.2f}  "
            f"{'; '.join(failing) if failing else '-'}"
        )
    print("(lags: the largest in the window, in seconds of input; us/rec: CPU per record)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    for s in steps:
        if s.failed is not None and len(s.samples) < 3:
            figure(f"scale, {s.sessions} x 20-car sessions", f"did not run: {s.failed}", "-", False)
            continue
        met = all(ok for _, ok, _ in s.checks())
        figure(
            f"scale, {s.sessions} x 20-car session(s) at real time, every service",
            f"{s.rate_in():,.0f} records/s in; lag max sink {_s(s.lag_s('sink')[1])}, "
            f"analytics {_s(s.lag_s('analytics')[1])}; dashboard {s.cores('dashboard'):.2f} "
            f"cores, p99 {s.dashboard_p99()}, "
            f"{s.fps or 0:.0f} fps; machine {s.machine_busy():.2f} cores busy",
            "every target of the step",
            met,
        )
    falling = next(((s, s.behind()) for s in steps if s.failed is None and s.behind()), None)
    figure(
        "scale, the first step where a consumer falls behind (lag growing past its target)",
        f"{falling[0].sessions} sessions: {', '.join(falling[1])}"
        if falling
        else f"none up to {counts[-1]} sessions",
    )
    if first_fail is not None:
        s, why = first_fail
        figure("scale, the first step where a target fails", f"{s.sessions} sessions: {why}")
    else:
        figure("scale, the first step where a target fails", f"none up to {counts[-1]} sessions")
    return 0


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Stopped as why:
        sys.exit(f"bench_scale: stopped by {why}; the step's services stopped, topics deleted")
