"""Benchmark of the InfluxDB sink: sustained points/s from Kafka into influxd, against writing
the same line protocol directly with influxdb-client in the same run, and the delay at a live
20-car grid.

    .venv/bin/python benchmarks/bench_sink.py [--records 200000] [--rounds 2] [--live-s 20]

Needs the stack (`f1-stack up`). Everything goes to topics and buckets of this run, which are
deleted at the end. Throughput rounds alternate (direct, sink, direct, sink, ...) so drift of
the shared machine hits both; the best round of each is reported. Each round also reports the
CPU per point of influxd (from /proc, when it runs on this machine; other writers to the same
influxd count too) and of this process (the client, or the sink's loop with its Kafka threads):
on a machine where the two share the cores, that is what sets the ratio.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# The repository root, for the integration tests' Kafka helpers.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from figures import figure
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from circuit import silverstone
from integration_tests.kafka_io import produce_all
from producer.simulation import Simulation, to_records
from runtime.endpoints import Endpoints
from runtime.kafka import client_config
from schemas.registration import register_all
from schemas.registry import SchemaRegistry
from schemas.serde import ColumnDecoder, telemetry_deserializer, telemetry_serializer
from schemas.topics import Topics
from sinks import app
from sinks.consumer_loop import SinkLoop
from sinks.line_protocol import LineEncoder
from sinks.settings import SinkSettings

HZ = 100
CARS = 20


def note(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def machine() -> str:
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return (
        f"{platform.machine()}, {os.cpu_count()} cpus, {mem} memory, "
        f"Python {platform.python_version()}, {platform.system()}"
    )


def contract_records(sim: Simulation, ticks: int) -> list[dict]:
    """Simulated records made to satisfy the contract: the simulator reports steering in
    degrees, the contract a fraction of full lock (taken as 180 degrees here)."""
    records = to_records(sim.run(ticks))
    for r in records:
        r["steering"] = max(-1.0, min(1.0, -r["steering"] / 180.0))
    return records


def setup_topics(e: Endpoints, tag: str) -> Topics:
    topics = Topics.from_env(
        telemetry=f"bench-sink-tel-{tag}",
        analytics=f"bench-sink-laps-{tag}",
        dlq=f"bench-dlq-{tag}",
    )
    admin = AdminClient(client_config(e.kafka_bootstrap))
    for future in admin.create_topics([NewTopic(topics.telemetry, 1, 1)]).values():
        future.result(timeout=30)
    register_all(e.registry_url, topics)
    return topics


def delete_topics(e: Endpoints, made: list[Topics]) -> None:
    """The run's topics (subjects stay: the registry keeps ids for good)."""
    names = [n for t in made for n in (t.telemetry, t.dlq)]
    admin = AdminClient(client_config(e.kafka_bootstrap))
    for future in admin.delete_topics(names).values():
        try:
            future.result(timeout=30)
        except Exception as exc:  # a DLQ topic the sink never needed to create
            note(f"topic not deleted: {exc}")


class Buckets:
    def __init__(self, e: Endpoints) -> None:
        self.e = e
        self.client = InfluxDBClient(
            url=e.influx_url, token=e.influx_token.reveal(), org=e.influx_org
        )
        self.made: list = []

    def new(self, name: str) -> str:
        self.made.append(
            self.client.buckets_api().create_bucket(bucket_name=name, org=self.e.influx_org)
        )
        return name

    def delete_all(self) -> None:
        for bucket in self.made:
            self.client.buckets_api().delete_bucket(bucket)
        self.client.close()


def sink_bodies(decoder: ColumnDecoder, values: Sequence[bytes], batch: int) -> list[bytes]:
    """The request bodies the sink writes for ``values``, ``batch`` lines each."""
    encoder = LineEncoder()
    return [
        encoder.encode(decoder.decode_columns(values[i : i + batch]))
        for i in range(0, len(values), batch)
    ]


def influxd_pid() -> int | None:
    """The local influxd's process id (None when InfluxDB runs elsewhere)."""
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "influxd":
                return int(comm.parent.name)
        except OSError:
            continue
    return None


def process_cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system) process ``pid`` has used so far."""
    if pid is None:
        return None
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after the command name, from field 3
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Round:
    """One throughput round: points/s and the CPU per point of influxd and of this process
    (influxdb-client for the baseline, the sink's loop for the sink)."""

    rate: float
    influxd_us: float | None
    python_us: float


class CpuMeter:
    """CPU of influxd and of this process between start() and stop(), per point."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid

    def start(self) -> None:
        self.influxd = process_cpu_s(self.pid)
        self.own = time.process_time()

    def stop(self, n: int, seconds: float) -> Round:
        influxd = process_cpu_s(self.pid)
        used = None if influxd is None or self.influxd is None else influxd - self.influxd
        return Round(
            n / seconds,
            None if used is None else used / n * 1e6,
            (time.process_time() - self.own) / n * 1e6,
        )


def direct_round(e: Endpoints, bucket: str, bodies: list[bytes], n: int, meter: CpuMeter) -> Round:
    """influxdb-client writing the same line protocol, same batch size."""
    with InfluxDBClient(
        url=e.influx_url, token=e.influx_token.reveal(), org=e.influx_org
    ) as client:
        write = client.write_api(write_options=SYNCHRONOUS)
        meter.start()
        started = time.perf_counter()
        for body in bodies:
            write.write(bucket, e.influx_org, body, write_precision=WritePrecision.US)
        return meter.stop(n, time.perf_counter() - started)


class SinkThread:
    """The sink's loop (app.run) in a thread of this process, so its counters can be read."""

    def __init__(self, settings: SinkSettings) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None
        ready: list[SinkLoop] = []
        self.thread = threading.Thread(target=self._run, args=(settings, ready.append), daemon=True)
        self.thread.start()
        while not ready:
            self.check()
            time.sleep(0.01)
        self.loop = ready[0]

    def _run(self, settings: SinkSettings, on_ready) -> None:
        try:
            app.run(settings, self.stop, on_ready)
        except BaseException as exc:
            self.error = exc

    def check(self) -> None:
        if self.error is not None:
            raise SystemExit(f"the sink failed: {self.error!r}")
        if not self.thread.is_alive() and not self.stop.is_set():
            raise SystemExit("the sink ended on its own")

    def wait_stored(self, n: int, timeout_s: float) -> float:
        deadline = time.monotonic() + timeout_s
        while self.loop.stats.stored < n:
            self.check()
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"the sink stored {self.loop.stats.stored} of {n} in {timeout_s} s"
                )
            time.sleep(0.005)
        return time.monotonic()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)


def _settings(
    e: Endpoints, topics: Topics, bucket: str, group_prefix: str, **extra: Any
) -> SinkSettings:
    """The sink's settings against this run's topics and bucket, in a fresh consumer group."""
    return SinkSettings.from_env(
        kafka_bootstrap=e.kafka_bootstrap,
        registry_url=e.registry_url,
        influx_url=e.influx_url,
        influx_bucket=bucket,
        telemetry_topic=topics.telemetry,
        analytics_topic=topics.analytics,
        dlq_topic=topics.dlq,
        group_id=f"{group_prefix}-{uuid.uuid4().hex[:8]}",
        **extra,
    )


def sink_round(
    e: Endpoints, topics: Topics, bucket: str, n: int, batch: int, meter: CpuMeter
) -> Round:
    """The sink from a topic holding n records, from the first record consumed to the last one
    committed (consumer-group start-up is not part of the throughput)."""
    settings = _settings(e, topics, bucket, "bench", batch_points=batch, progress_s=3600.0)
    sink = SinkThread(settings)
    try:
        while sink.loop.stats.first_consumed is None:
            sink.check()
            time.sleep(0.001)
        meter.start()
        done = sink.wait_stored(n, 600)
        first = sink.loop.stats.first_consumed
        result = meter.stop(n, done - first)
    finally:
        sink.close()
    return result


def live_grid(e: Endpoints, topics: Topics, bucket: str, seconds: float) -> dict[str, float]:
    """20 cars at 100 Hz produced in real time while the sink runs: per batch, the delay of its
    oldest record from being produced to being committed; and the consumer lag at the end."""
    settings = _settings(e, topics, bucket, "bench-live", progress_s=1.0)
    sink = SinkThread(settings)
    loop = sink.loop
    # Start the grid once the consumer has its partition (a lag figure appears then), so the
    # group's join time is not counted as delay.
    deadline = time.monotonic() + 60
    while loop.stats.lag is None and time.monotonic() < deadline:
        sink.check()
        time.sleep(0.1)
    with SchemaRegistry(e.registry_url) as registry:
        serializer = telemetry_serializer(registry, topics)
    producer = Producer(
        {
            **client_config(e.kafka_bootstrap),
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "compression.type": "lz4",
        }
    )
    sim = Simulation(
        silverstone(),
        n_cars=CARS,
        hz=HZ,
        seed=3,
        session_id="bench-live",
        session_start_us=time.time_ns() // 1000,
    )
    ticks = int(seconds * HZ)
    started = time.monotonic()
    lags = []
    for tick in range(ticks):
        for r in contract_records(sim, 1):
            producer.produce(topics.telemetry, key=r["car_id"], value=serializer.encode(r))
        producer.poll(0)
        if tick % HZ == 0 and tick and loop.stats.lag is not None:
            lags.append(loop.stats.lag)  # the loop refreshes it every second (progress_s)
        ahead = (tick + 1) / HZ - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    producer.flush(30)
    try:
        sink.wait_stored(ticks * CARS, 60)
    finally:
        sink.close()
    delays = sorted(loop.stats.delays)
    return {
        "records": ticks * CARS,
        "stored": loop.stats.stored,
        "p50": statistics.median(delays),
        "p99": delays[min(len(delays) - 1, int(len(delays) * 0.99))],
        "max": delays[-1],
        "lag_max": max(lags) if lags else 0,
        "lag_mean": statistics.fmean(lags) if lags else 0,
    }


def is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def cpu_summary(direct: list[Round], sink: list[Round]) -> str:
    def median(values: list[float | None]) -> str:
        known = [v for v in values if v is not None]
        return f"{statistics.median(known):.1f} us" if known else "-"

    return (
        f"influxd {median([r.influxd_us for r in direct])} (baseline) / "
        f"{median([r.influxd_us for r in sink])} (sink); this process: influxdb-client "
        f"{median([r.python_us for r in direct])}, sink {median([r.python_us for r in sink])} "
        "(Kafka client threads included)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="records per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of direct and sink")
    parser.add_argument("--batch", type=int, default=5000, help="points per write")
    parser.add_argument("--live-s", type=float, default=20.0, help="seconds of live grid (0: skip)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    e = Endpoints.from_env()
    tag = uuid.uuid4().hex[:8]
    topics = setup_topics(e, tag)
    made = [topics]
    buckets = Buckets(e)
    try:
        sim = Simulation(silverstone(), n_cars=CARS, hz=HZ, seed=1, session_id=f"bench-{tag}")
        records = contract_records(sim, -(-args.records // CARS))[: args.records]
        with SchemaRegistry(e.registry_url) as registry:
            serializer = telemetry_serializer(registry, topics)
            values = [(r["car_id"].encode(), serializer.encode(r)) for r in records]
            # The baseline writes exactly what the sink writes: the decoded records' lines.
            decoder = ColumnDecoder(telemetry_deserializer(registry))
            bodies = sink_bodies(decoder, [v for _, v in values], args.batch)
        produce_all(e.kafka_bootstrap, topics.telemetry, values)
        note(f"{len(values):,} records on {topics.telemetry}")
        n = len(records)

        meter = CpuMeter(influxd_pid() if is_loopback(e.influx_url) else None)
        load_before = os.getloadavg()
        direct: list[Round] = []
        sink: list[Round] = []
        for i in range(args.rounds):
            bucket = buckets.new(f"bench-direct-{tag}-{i}")
            direct.append(direct_round(e, bucket, bodies, n, meter))
            note(f"round {i + 1}: direct {direct[-1].rate:,.0f} points/s")
            bucket = buckets.new(f"bench-sink-{tag}-{i}")
            sink.append(sink_round(e, topics, bucket, n, args.batch, meter))
            note(f"round {i + 1}: sink {sink[-1].rate:,.0f} points/s")
        load_after = os.getloadavg()
        live = None
        if args.live_s > 0:
            live_topics = setup_topics(e, f"{tag}-live")
            made.append(live_topics)
            live = live_grid(e, live_topics, buckets.new(f"bench-live-{tag}"), args.live_s)
    finally:
        buckets.delete_all()
        delete_topics(e, made)

    size = sum(map(len, bodies)) / n - 1  # without the newline
    print(
        f"bench_sink: {n:,} telemetry records ({CARS} cars, {HZ} Hz), {size:.0f} bytes of line "
        f"protocol each, batches of {args.batch:,}, gzip off (loopback), best of {args.rounds}"
    )
    print(f"machine: {machine()}")
    print(f"command: {' '.join([os.path.relpath(sys.executable), *sys.argv])}")
    print(
        "load average (1, 5, 15 min) before the rounds "
        + " ".join(f"{x:.2f}" for x in load_before)
        + ", after "
        + " ".join(f"{x:.2f}" for x in load_after)
    )
    best_direct = max(r.rate for r in direct)
    best_sink = max(r.rate for r in sink)
    print(f"{'':48}{'points/s':>10}{'vs direct':>11}")
    print(f"{'influxdb-client, same lines (baseline)':48}{best_direct:>10,.0f}{1:>11.2f}")
    ratio = best_sink / best_direct
    print(f"{'f1-sink-influx: Kafka, decode, line protocol':48}{best_sink:>10,.0f}{ratio:>11.2f}")
    rounds = ", ".join(f"{d.rate:,.0f}/{s.rate:,.0f}" for d, s in zip(direct, sink, strict=True))
    print(f"rounds (direct/sink): {rounds}")
    print(f"CPU per point, median of rounds: {cpu_summary(direct, sink)}")
    if live is not None:
        print(
            f"live grid {CARS} cars x {HZ} Hz for {args.live_s:.0f} s: {live['stored']:,} of "
            f"{live['records']:,} stored; delay produce->committed (oldest record of each "
            f"batch) p50 {live['p50']:.2f} s, p99 {live['p99']:.2f} s, max {live['max']:.2f} s; "
            f"consumer lag mean {live['lag_mean']:.0f}, max {live['lag_max']:.0f} records"
        )
    load = f"load average {load_before[0]:.1f} to {load_after[0]:.1f}"
    figure(
        f"sink, sustained points/s into influxd (best of {args.rounds})",
        f"{best_sink:,.0f} points/s ({load})",
        ">= 30,000",
        best_sink >= 30_000,
    )
    figure(
        "sink, against influxdb-client writing the same lines",
        f"{ratio:.2f} ({best_sink:,.0f} / {best_direct:,.0f} points/s; {load})",
        ">= 0.7",
        ratio >= 0.7,
    )
    if live is not None:
        figure(
            f"sink, produce to committed at a live {CARS}-car grid",
            f"p99 {live['p99']:.2f} s, {live['stored']:,} of {live['records']:,} stored",
            "< 1 s",
            live["p99"] < 1 and live["stored"] == live["records"],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
