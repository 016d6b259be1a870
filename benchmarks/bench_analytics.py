"""The analytics job: summary latency at realtime rate, job memory and CPU, bounded state.

Usage (no sub-command: both, with their defaults):
  python benchmarks/bench_analytics.py latency [--cars 20] [--seconds 240] [--trigger 5s]
  python benchmarks/bench_analytics.py state [--cars 5] [--laps 20] [--hz 100]

``latency`` runs ``f1-analytics`` as its own process (default settings but fresh topics and
checkpoint) and the producer (``python -m producer.cli --rate realtime``), reads f1-analytics
with a plain consumer and prints, per summary, the time from the lap's end to the summary's
arrival: the realtime producer keeps event time on the wall clock (session start = now), so
``arrival wall time - lap_end`` is the delay after the line crossing that ends the lap. The
target is the trigger interval plus 3 s. It also samples the job's process tree (the Python
driver, the JVM and the Python workers): resident memory and CPU.

``state`` produces a whole session at full speed first, then runs the job in-process in
micro-batches of at most 20,000 records and prints, after each batch, how many laps have
been summarised and how many state rows the stateful operator holds: per car, not per lap.

Both need the local stack (``f1-stack up``) and leave their unique topics behind.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_simulator import machine_info
from confluent_kafka import Consumer
from figures import figure

from integration_tests.analytics_helpers import (
    Session,
    caught_up,
    encode_batches,
    end_offsets,
    make_topics,
    run_job,
)
from integration_tests.kafka_io import produce_all
from runtime.endpoints import Endpoints
from runtime.kafka import client_config
from schemas.registry import SchemaRegistry
from schemas.serde import lap_summary_deserializer

ROOT = Path(__file__).resolve().parents[1]
TICK_S = os.sysconf("SC_CLK_TCK")


# --- process tree sampling (no psutil needed) ------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_children(p))
    return out


def _usage(pids: list[int]) -> tuple[float, float]:
    """(resident MiB, CPU seconds) summed over ``pids``."""
    rss_kib, cpu_ticks = 0, 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu_ticks += int(fields[11]) + int(fields[12])
            with open(f"/proc/{pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss_kib += int(line.split()[1])
        except OSError:
            continue
    return rss_kib / 1024, cpu_ticks / TICK_S


class TreeSampler(threading.Thread):
    def __init__(self, pid: int, every_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, float, float]] = []  # (wall, rss MiB, cpu s)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            rss, cpu = _usage(_tree(self.pid))
            self.samples.append((time.monotonic(), rss, cpu))


# --- latency ---------------------------------------------------------------------------------


def latency(args: argparse.Namespace) -> int:
    from analytics.settings import parse_duration_s

    trigger_s = parse_duration_s(args.trigger, "--trigger")
    ep = Endpoints.from_env()
    suffix = f"bench-{uuid.uuid4().hex[:8]}"
    topics = make_topics(ep.kafka_bootstrap, ep.registry_url, suffix, partitions=4)
    env = {
        **os.environ,
        "F1_TELEMETRY_TOPIC": topics.telemetry,
        "F1_ANALYTICS_TOPIC": topics.analytics,
        "SPARK_TRIGGER_INTERVAL": args.trigger,
        "F1_ANALYTICS_CHECKPOINT": tempfile.mkdtemp(prefix="bench-analytics-"),
        "F1_ANALYTICS_STARTING_OFFSETS": "latest",
    }
    py = sys.executable
    job = subprocess.Popen(
        [py, "-m", "analytics"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    batch_s: list[float] = []
    console: list[str] = []
    threading.Thread(target=_job_log, args=(job, batch_s), daemon=True).start()
    threading.Thread(target=lambda: console.extend(job.stdout or []), daemon=True).start()
    sampler = TreeSampler(job.pid)
    sampler.start()
    arrivals: list[tuple[float, dict]] = []
    reader = threading.Thread(target=_read, args=(ep, topics.analytics, arrivals), daemon=True)
    reader.start()
    time.sleep(args.warmup)  # the JVM and the first (empty) batches
    cpu_before = sampler.samples[-1] if sampler.samples else (time.monotonic(), 0.0, 0.0)
    simulate = ["--cars", str(args.cars), "--rate", "realtime", "--topic", topics.telemetry]
    simulate += ["--session-id", suffix, "--progress-every", "60"]
    producer = subprocess.Popen(
        [py, "-m", "producer.cli", *simulate],
        env=env,
        cwd=ROOT,
    )
    time.sleep(args.seconds)
    producer.send_signal(signal.SIGINT)
    producer.wait(60)
    time.sleep(trigger_s + 5)  # the laps finished in the last batch
    cpu_after = sampler.samples[-1]
    stop_started = time.monotonic()
    job.send_signal(signal.SIGTERM)
    job.wait(120)
    stop_s = time.monotonic() - stop_started
    sampler.stop.set()
    time.sleep(0.5)  # the console reader drains the pipe

    delays = sorted(arrival - s["lap_end"] / 1e6 for arrival, s in arrivals)
    rss = [r for when, r, _ in sampler.samples if when <= cpu_after[0]]
    busy = (cpu_after[2] - cpu_before[2]) / (cpu_after[0] - cpu_before[0])
    print(machine_info())
    print(f"command: {' '.join(sys.argv)}")
    print(
        f"f1-analytics (trigger {args.trigger}, 100 Hz) with {args.cars} cars at realtime for "
        f"{args.seconds:.0f} s: {len(delays)} lap summaries, {len(console)} console lines"
    )
    if delays:
        target = trigger_s + 3
        p90 = delays[min(len(delays) - 1, round(0.9 * (len(delays) - 1)))]
        within = sum(d <= target for d in delays)
        print(
            f"lap end -> summary on {topics.analytics}: median {statistics.median(delays):.2f} s, "
            f"p90 {p90:.2f} s, max {delays[-1]:.2f} s, min {delays[0]:.2f} s; "
            f"{within}/{len(delays)} within the target of trigger + 3 s = {target:.1f} s"
        )
    if batch_s:
        print(
            f"micro-batches with data: {len(batch_s)}, processing time median "
            f"{statistics.median(batch_s):.2f} s, max {max(batch_s):.2f} s"
        )
    print(
        f"job process tree: resident memory max {max(rss):.0f} MiB, last {rss[-1]:.0f} MiB; "
        f"CPU {busy:.2f} cores while the grid was running"
    )
    print(f"machine load average at the end (1, 5, 15 min): {os.getloadavg()}")
    print(f"SIGTERM -> exit code {job.returncode} in {stop_s:.1f} s")
    if delays:
        figure(
            f"analytics, lap end to summary ({args.cars} cars, realtime, trigger {args.trigger})",
            f"median {statistics.median(delays):.2f} s, p90 {p90:.2f} s, max {delays[-1]:.2f} s; "
            f"{within}/{len(delays)} within target",
            f"trigger + 3 s = {target:.0f} s",
            within == len(delays),
        )
    figure(
        "analytics job, memory and CPU",
        f"{max(rss):,.0f} MiB max, {busy:.2f} cores",
        "-",
    )
    return 0 if delays else 1


_BATCH_LINE = re.compile(r"batch \d+: (\d+) records in ([\d.]+) s")


def _job_log(job: subprocess.Popen[str], batch_s: list[float]) -> None:
    """Pass the job's log through and note how long each micro-batch with data took."""
    assert job.stderr is not None
    for line in job.stderr:
        sys.stderr.write(line)
        found = _BATCH_LINE.search(line)
        if found and int(found.group(1)) > 0:
            batch_s.append(float(found.group(2)))


def _read(ep: Endpoints, topic: str, arrivals: list[tuple[float, dict]]) -> None:
    with SchemaRegistry(ep.registry_url) as registry:
        de = lap_summary_deserializer(registry)
        consumer = Consumer(
            {
                **client_config(ep.kafka_bootstrap),
                "group.id": f"bench-{topic}",
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
            }
        )
        consumer.subscribe([topic])
        while True:
            msg = consumer.poll(0.1)
            if msg is None or msg.error() is not None:
                continue
            arrivals.append((time.time(), de.decode(msg.value())))


# --- bounded state ---------------------------------------------------------------------------


def state(args: argparse.Namespace) -> int:
    from analytics.job import AnalyticsJob
    from analytics.settings import Settings
    from analytics.spark_session import build_session

    ep = Endpoints.from_env()
    suffix = f"bench-{uuid.uuid4().hex[:8]}"
    topics = make_topics(ep.kafka_bootstrap, ep.registry_url, suffix)
    started = time.monotonic()
    session = Session(cars=args.cars, hz=args.hz, seed=1, session_id=suffix)
    batches = session.until_laps(args.laps)
    values = encode_batches(ep.registry_url, topics, batches)
    produce_all(ep.kafka_bootstrap, topics.telemetry, values)
    produced_s = time.monotonic() - started
    ends = end_offsets(ep.kafka_bootstrap, topics.telemetry)
    settings = Settings.from_env(
        {
            "F1_TELEMETRY_TOPIC": topics.telemetry,
            "F1_ANALYTICS_TOPIC": topics.analytics,
            "F1_ANALYTICS_CHECKPOINT": tempfile.mkdtemp(prefix="bench-analytics-"),
            "SPARK_TRIGGER_INTERVAL": "1s",
            "F1_ANALYTICS_MAX_OFFSETS_PER_TRIGGER": str(args.per_batch),
            "F1_KAFKA_BOOTSTRAP": ep.kafka_bootstrap,
            "F1_SCHEMA_REGISTRY_URL": ep.registry_url.with_credentials(),
        }
    )
    spark = build_session("bench-analytics-state")
    spark.sparkContext.setLogLevel("ERROR")
    rows: list[tuple[int, int, int, int]] = []
    with AnalyticsJob(settings, spark, echo=None) as job:
        original = job._record

        def record(progress: dict) -> None:
            original(progress)
            op = (progress.get("stateOperators") or [{}])[0]
            rows.append(
                (
                    progress["batchId"],
                    job.publisher.published,
                    int(op.get("numRowsTotal", 0)),
                    int(op.get("memoryUsedBytes", 0)),
                )
            )

        job._record = record  # type: ignore[method-assign]
        elapsed = run_job(job, caught_up(topics.telemetry, ends), timeout_s=3600)
    spark.stop()

    print(machine_info())
    print(f"command: {' '.join(sys.argv)}")
    print(
        f"{len(values):,} records ({args.cars} cars, {args.laps} laps, {args.hz} Hz) produced in "
        f"{produced_s:.0f} s, aggregated in {elapsed:.0f} s "
        f"({len(values) / elapsed:,.0f} records/s), batches of at most {args.per_batch:,}"
    )
    print(f"{'batch':>5} {'laps summarised':>15} {'state rows':>10} {'state memory':>12}")
    step = max(1, len(rows) // 25)
    shown = rows[::step] + ([rows[-1]] if rows and (len(rows) - 1) % step else [])
    for batch, laps, total, mem in shown:
        print(f"{batch:>5} {laps:>15} {total:>10} {mem / 1024:>9.0f} KiB")
    totals = [r[2] for r in rows if r[1] > 0]
    print(
        f"state rows once laps complete: min {min(totals)}, max {max(totals)} "
        f"({args.cars} cars) while laps summarised went from {rows[0][1]} to {rows[-1][1]}"
    )
    figure(
        f"analytics state over {args.laps} laps of {args.cars} cars",
        f"{max(totals)} state rows at most while {rows[-1][1]} laps were summarised",
        "bounded by the cars",
        max(totals) <= args.cars,
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what")
    lat = sub.add_parser("latency", help="summary latency, memory and CPU at realtime rate")
    lat.add_argument("--cars", type=int, default=20)
    lat.add_argument("--seconds", type=float, default=240.0, help="how long the grid runs")
    lat.add_argument("--trigger", default="5s")
    lat.add_argument("--warmup", type=float, default=25.0, help="seconds for the job to start")
    st = sub.add_parser("state", help="state rows against laps over a whole session")
    st.add_argument("--cars", type=int, default=5)
    st.add_argument("--laps", type=int, default=20)
    st.add_argument("--hz", type=int, default=100)
    st.add_argument("--per-batch", type=int, default=20_000)
    args = parser.parse_args()
    if args.what is None:  # `make bench`: both, with their defaults
        state(parser.parse_args(["state"]))
        return latency(parser.parse_args(["latency"]))
    return latency(args) if args.what == "latency" else state(args)


if __name__ == "__main__":
    sys.exit(main())
