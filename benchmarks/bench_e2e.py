"""End-to-end latency at a live grid: from a record's produce to the dashboard process, to
InfluxDB, and from a lap's last record to its summary on the analytics topic.

    .venv/bin/python benchmarks/bench_e2e.py [--cars 20] [--session race|practice]
                                              [--seconds 240] [--sessions 1] [--quick]

Every service runs as its own process, started as ``f1-stack demo`` starts it
(``stack.demo.Platform``, default settings) on topics, a bucket, a sink group and a
checkpoint of this run (``bench-e2e-<id>``, topics created and subjects registered as
``f1-stack demo`` does): ``panel serve dashboard/app.py --plugins dashboard.health``,
``f1-sink-influx``, ``f1-analytics``, then ``f1-simulate --cars 20 --rate realtime``.
``--sessions`` protocol-level pit wall sessions stay open meanwhile, so the server draws
frames while it consumes, as it does when someone watches it.

A record's produce time is its Kafka timestamp: the producer sets none, so librdkafka stamps
each record with the wall clock when ``f1-simulate`` hands it over (``produce()``, before the
producer's 20 ms linger); every process runs on this machine, on the same clock. Then:

- (a) dashboard: the dashboard server gets one more plugin, this file
  (``--plugins benchmarks.bench_e2e``). It changes no service code and adds only two clock
  readings and a list of timestamps per batch: it wraps the feed thread's batch handler
  (``dashboard.feed.Feed._handle``) to note the wall clock when the consumer hands over a
  batch ("received") and when the batch is in the model the sessions draw from ("in the
  model"), and serves those times at ``/bench-e2e``. The headline is "in the model". The
  same figure for a plain confluent-kafka consumer in this process (the dashboard's fetch
  settings, one ``poll`` per record) is the baseline: what the broker and the producer's
  linger cost any consumer.
- (b) InfluxDB: the sink commits a batch's offsets only once InfluxDB accepted it, so a
  record is written when its offset is committed; this process reads the sink group's
  committed offsets every 20 ms, and a record's time is the first read that shows it
  committed (at most 20 ms plus one request late).
- (c) lap summaries: a lap can be summarised once the first record past its line crossing
  is there; per summary, the time from that record's produce to the summary arriving on
  the analytics topic (read_committed: the job publishes in transactions). The target is
  the analytics job's: trigger interval (5 s) plus 3 s.

The first ``--warmup`` seconds of records are left out. The default 240 s of a race covers
laps 1 and 2 of every car (lap 1 ends about 100 s after lights out); ``--quick`` is a 20 s
smoke (no lap completes, so (c) is not measured). Needs the local stack (``f1-stack up``);
the run's topics and bucket are deleted at the end, the services' logs kept in the folder it
prints. SIGTERM or Ctrl-C stops it through the same clean-up.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from runtime.kafka import client_config

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# Set in the services' environment: the dashboard server, which loads this file as a
# plugin, then records arrival times. Nothing else imports this file with it set.
PROBE_ENV = "F1_BENCH_E2E_PROBE"
PROBE_PATH = "/bench-e2e"
PLUGIN = "benchmarks.bench_e2e"


# --- the probe, loaded into the dashboard server by `panel serve --plugins` ----------------


class Arrivals:
    """Per batch of telemetry the feed handled: (received s, in the model s, [produce ms])."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches: list[tuple[float, float, list[int]]] = []

    def add(self, received: float, ingested: float, stamps: list[int]) -> None:
        with self.lock:
            self.batches.append((received, ingested, stamps))

    def take(self) -> list[tuple[float, float, list[int]]]:
        with self.lock:
            taken, self.batches = self.batches, []
        return taken


def probe_routes() -> list[tuple[str, Any, dict[str, Any]]]:
    """Wrap the dashboard feed's batch handler to note arrival times; the route serving them."""
    from tornado.web import RequestHandler

    from dashboard import feed

    arrivals = Arrivals()
    handle = feed.Feed._handle

    def timed(self: feed.Feed, messages: list[Any]) -> None:
        received = time.time()
        handle(self, messages)
        ingested = time.time()
        topic = self.settings.topics.telemetry
        stamps = [m.timestamp()[1] for m in messages if m.error() is None and m.topic() == topic]
        if stamps:
            arrivals.add(received, ingested, stamps)

    feed.Feed._handle = timed  # type: ignore[method-assign]

    class ArrivalsHandler(RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", "application/json")
            self.set_header("Cache-Control", "no-store")
            self.write(json.dumps(arrivals.take()))

    return [(PROBE_PATH, ArrivalsHandler, {})]


ROUTES = probe_routes() if os.environ.get(PROBE_ENV) == "1" else []


# --- the platform of one run ------------------------------------------------------------------


def percentiles(values: Any) -> dict[str, float]:
    """p50, p99 and max of ``values`` (seconds) in milliseconds, and how many."""
    import numpy as np

    a = np.asarray(values, dtype=float) * 1000
    if not len(a):
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    return {
        "n": len(a),
        "p50": float(np.percentile(a, 50)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
    }


def fmt(p: dict[str, float], unit: str = "ms") -> str:
    if unit == "s":
        p50, p99, top = (p[k] / 1000 for k in ("p50", "p99", "max"))
        return f"p50 {p50:.2f} s, p99 {p99:.2f} s, max {top:.2f} s"
    return f"p50 {p['p50']:.1f} ms, p99 {p['p99']:.1f} ms, max {p['max']:.1f} ms"


class BenchPlatform:
    """Topics, a bucket, a sink group and a checkpoint of one run, and the services as
    ``f1-stack demo`` runs them (``stack.demo.Platform``), the dashboard with the probe."""

    def __init__(
        self, prefix: str, cars: int, session: str, simulator_args: tuple[str, ...] = ()
    ) -> None:
        import contextlib
        import io
        import tempfile
        import uuid

        from integration_tests.dashboard_probe import free_port
        from integration_tests.sink_support import create_bucket
        from runtime.endpoints import Endpoints
        from schemas.topics import Topics
        from stack.demo import Options, Platform, prepare

        self.endpoints = e = Endpoints.from_env()
        self.tag = uuid.uuid4().hex[:8]
        name = f"{prefix}-{self.tag}"
        self.topics = Topics(telemetry=name, analytics=f"{name}-laps", dlq=f"{name}-dlq")
        self.bucket = name
        self.sink_group = f"{name}-sink"
        self.logs = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.checkpoint = self.logs / "checkpoint"
        self.env = {
            "F1_KAFKA_BOOTSTRAP": e.kafka_bootstrap,
            "F1_SCHEMA_REGISTRY_URL": e.registry_url,
            "F1_INFLUX_URL": e.influx_url,
            "F1_INFLUX_TOKEN": e.influx_token.reveal(),
            "F1_INFLUX_ORG": e.influx_org,
            "F1_INFLUX_BUCKET": self.bucket,
            "F1_TELEMETRY_TOPIC": self.topics.telemetry,
            "F1_ANALYTICS_TOPIC": self.topics.analytics,
            "F1_DLQ_TOPIC": self.topics.dlq,
            "F1_SINK_GROUP": self.sink_group,
            "F1_ANALYTICS_CHECKPOINT": str(self.checkpoint),
            PROBE_ENV: "1",
        }
        with contextlib.redirect_stdout(io.StringIO()):  # its line per schema version checked
            prepare(e, self.topics)  # subjects registered, topics created as the demo does
        create_bucket(e, self.bucket)
        self.session_id = name
        self.platform = Platform(
            Options(
                cars=cars,
                rate="realtime",
                session=session,
                dashboard_port=free_port(),
                simulator_args=("--session-id", self.session_id, *simulator_args),
                env=self.env,
                logs_dir=self.logs,
            )
        )
        self.platform.services["dashboard"].argv += ["--plugins", PLUGIN]
        self.port = self.platform.options.dashboard_port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get_json(self, path: str, timeout_s: float = 10) -> Any:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout_s) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())
        except OSError:
            return None

    def partitions(self) -> list[int]:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(client_config(self.endpoints.kafka_bootstrap))
        metadata = admin.list_topics(self.topics.telemetry, timeout=10)
        return sorted(metadata.topics[self.topics.telemetry].partitions)

    def start_consumers(self) -> None:
        """The dashboard, the sink and the analytics job; back once the dashboard's feed has
        the telemetry topic and the analytics job has run its first micro-batch."""
        self.platform.start("dashboard", "sink-influx", "analytics")
        self.wait("the dashboard's feed to find the telemetry topic", self._feed_ready, 120)
        log = self.platform.services["analytics"].log_file
        self.wait(
            "the analytics job's first micro-batch",
            lambda: "analytics.job: batch " in log.read_text(errors="replace"),
            300,
        )

    def _feed_ready(self) -> bool:
        health = self.get_json("/health") or {}
        return self.topics.telemetry in (health.get("topics_found") or [])

    def wait(self, what: str, probe: Any, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not probe():
            exited = self.platform.exited()
            if exited:
                name = next(iter(exited))
                raise SystemExit(
                    f"{name} exited ({exited[name]}) while waiting for {what}:\n"
                    f"{self.platform.log_tail(name, 20)}"
                )
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out after {timeout_s:.0f} s waiting for {what}")
            time.sleep(0.5)

    def stop_service(self, name: str, timeout_s: float = 30) -> int | None:
        """SIGTERM one service and wait for it (the simulator flushes what it holds)."""
        import signal
        import subprocess

        service = self.platform.services[name]
        if service.process is None:
            return None
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
            try:
                service.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()
        return service.process.returncode

    def close(self) -> None:
        """Every service stopped; the run's topics and bucket deleted, its checkpoint too."""
        import contextlib
        import shutil

        from confluent_kafka.admin import AdminClient

        from integration_tests.sink_support import delete_bucket

        self.platform.stop()
        delete_bucket(self.endpoints, self.bucket)
        admin = AdminClient({**client_config(self.endpoints.kafka_bootstrap), "log_level": 0})
        names = [self.topics.telemetry, self.topics.analytics, self.topics.dlq]
        for future in admin.delete_topics(names, operation_timeout=10).values():
            with contextlib.suppress(Exception):
                future.result(timeout=15)
        shutil.rmtree(self.checkpoint, ignore_errors=True)


# --- processes: CPU and memory -----------------------------------------------------------------


def stack_pids() -> dict[str, int]:
    """The local stack's processes, from the pid files ``f1-stack up`` writes."""
    from stack.paths import state_dir

    found = {}
    for name, pid_file in (
        ("kafka", "kafka.pid"),
        ("influxdb", "influxdb.pid"),
        ("registry", "schema-registry.pid"),
    ):
        try:
            found[name] = int((state_dir() / "pids" / pid_file).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return found


def usage(pids: list[int], tree: bool = False) -> tuple[float, float]:
    """(CPU seconds, resident MiB) summed over ``pids`` (and their children with ``tree``)."""
    import psutil

    cpu, rss = 0.0, 0
    procs: list[psutil.Process] = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            procs.append(p)
            if tree:
                procs += p.children(recursive=True)
        except psutil.Error:
            continue
    for p in procs:
        try:
            with p.oneshot():
                t = p.cpu_times()
                # children_*: descendants that have exited (Spark's Python workers come and go)
                cpu += t.user + t.system + t.children_user + t.children_system
                rss += p.memory_info().rss
        except psutil.Error:
            continue
    return cpu, rss / 2**20


def machine_busy_s() -> float:
    """CPU seconds all cores of the machine have been busy (not idle, waiting or stolen)."""
    import psutil

    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0) - getattr(t, "steal", 0)


def cpu_by_process(run: BenchPlatform) -> dict[str, float]:
    """CPU seconds so far of each service of ``run``, of the stack, of this process and of
    the machine; ``at``: when (monotonic seconds)."""
    services = run.platform.services
    out: dict[str, float] = {}
    for name, service in services.items():
        if service.process is not None:
            out[name] = usage([service.process.pid], tree=name == "analytics")[0]
    for name, pid in stack_pids().items():
        out[name] = usage([pid])[0]
    out["this process"] = usage([os.getpid()])[0]
    out["machine"] = machine_busy_s()
    out["at"] = time.monotonic()
    return out


class Stopped(BaseException):
    """SIGTERM or SIGINT: the run stops, through its clean-up (services, topics, bucket)."""


def stop_on_signals() -> None:
    """SIGTERM and SIGINT (ignored by default in a background job) raise :class:`Stopped`."""
    import signal

    def stop(signum: int, _frame: Any) -> None:
        raise Stopped(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


# --- what this process reads meanwhile --------------------------------------------------------


class Reader(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.loop()
        except BaseException as exc:
            self.error = exc

    def loop(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


class PlainConsumer(Reader):
    """The baseline: a confluent-kafka consumer with the dashboard feed's fetch settings,
    one ``poll`` per record; per record (partition, offset, produce ms, arrival s, value)."""

    def __init__(self, bootstrap: str, topic: str, partitions: list[int]) -> None:
        super().__init__()
        self.bootstrap, self.topic, self.parts = bootstrap, topic, partitions
        self.records: list[tuple[int, int, int, float, bytes]] = []

    def loop(self) -> None:
        import uuid

        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        consumer = Consumer(
            {
                **client_config(self.bootstrap),
                "group.id": f"bench-e2e-baseline-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
                "fetch.min.bytes": 1,
            }
        )
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in self.parts])
        append = self.records.append
        try:
            while not self.stopping.is_set():
                msg = consumer.poll(0.1)
                if msg is None or msg.error() is not None:
                    continue
                now = time.time()
                append((msg.partition(), msg.offset(), msg.timestamp()[1], now, msg.value()))
        finally:
            consumer.close()


class CommitWatch(Reader):
    """The sink group's committed offsets, read every ``every_s``: (read at s, offsets)."""

    def __init__(
        self, bootstrap: str, group: str, topic: str, partitions: list[int], every_s: float = 0.02
    ) -> None:
        super().__init__()
        self.bootstrap, self.group, self.topic, self.parts = bootstrap, group, topic, partitions
        self.every_s = every_s
        self.seen: list[tuple[float, list[int]]] = []

    def loop(self) -> None:
        from confluent_kafka import Consumer, KafkaException, TopicPartition

        # Never subscribes: asking for a group's committed offsets does not join the group.
        consumer = Consumer({**client_config(self.bootstrap), "group.id": self.group})
        parts = [TopicPartition(self.topic, p) for p in self.parts]
        last: list[int] = []
        try:
            while not self.stopping.wait(self.every_s):
                try:
                    found = consumer.committed(parts, timeout=5)
                except KafkaException:
                    continue
                now = time.time()
                offsets = [max(tp.offset, 0) for tp in found]
                if offsets != last:
                    self.seen.append((now, offsets))
                    last = offsets
        finally:
            consumer.close()

    def committed_total(self) -> int:
        return sum(self.seen[-1][1]) if self.seen else 0


class SummaryReader(Reader):
    """Lap summaries as they arrive on the analytics topic: (arrival s, summary)."""

    def __init__(self, bootstrap: str, registry_url: str, topic: str) -> None:
        super().__init__()
        self.bootstrap, self.registry_url, self.topic = bootstrap, registry_url, topic
        self.found: list[tuple[float, dict[str, Any]]] = []

    def loop(self) -> None:
        import uuid

        from confluent_kafka import Consumer

        from schemas.registry import SchemaRegistry
        from schemas.serde import lap_summary_deserializer

        with SchemaRegistry(self.registry_url) as registry:
            decode = lap_summary_deserializer(registry).decode
            consumer = Consumer(
                {
                    **client_config(self.bootstrap),
                    "group.id": f"bench-e2e-laps-{uuid.uuid4().hex[:8]}",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                    "isolation.level": "read_committed",
                    "fetch.wait.max.ms": 10,
                }
            )
            consumer.subscribe([self.topic])
            try:
                while not self.stopping.is_set():
                    msg = consumer.poll(0.1)
                    if msg is None or msg.error() is not None:
                        continue
                    self.found.append((time.time(), decode(msg.value())))
            finally:
                consumer.close()


# --- the figures ------------------------------------------------------------------------------


def dashboard_latencies(batches: list[list[Any]], since_ms: float) -> tuple[list[float], ...]:
    """Per record produced after ``since_ms``: received and in-the-model latency, seconds."""
    received: list[float] = []
    ingested: list[float] = []
    for got, done, stamps in batches:
        for ms in stamps:
            if ms >= since_ms:
                received.append(got - ms / 1000)
                ingested.append(done - ms / 1000)
    return received, ingested


def sink_latencies(
    records: list[tuple[int, int, int, float, bytes]],
    seen: list[tuple[float, list[int]]],
    parts: list[int],
    since_ms: float,
) -> tuple[list[float], int]:
    """Per record produced after ``since_ms``: from produce to the first read of the sink
    group's offsets that shows it committed; and how many were never seen committed."""
    import numpy as np

    if not seen:
        return [], len(records)
    when = np.array([t for t, _ in seen])
    committed = np.array([offsets for _, offsets in seen])  # one column per partition
    index = {p: i for i, p in enumerate(parts)}
    out: list[float] = []
    missing = 0
    for partition, offset, produced_ms, _arrived, _value in records:
        if produced_ms < since_ms:
            continue
        column = committed[:, index[partition]]
        first = int(np.searchsorted(column, offset, side="right"))  # committed > offset
        if first >= len(when):
            missing += 1
            continue
        out.append(when[first] - produced_ms / 1000)
    return out, missing


def summary_latencies(
    registry_url: str,
    records: list[tuple[int, int, int, float, bytes]],
    summaries: list[tuple[float, dict[str, Any]]],
    since_ms: float,
) -> list[tuple[float, dict[str, Any]]]:
    """Per summary: from the produce of its car's first record at or past the lap's end
    (what lets the job close the lap) to the summary's arrival."""
    import numpy as np

    from schemas.registry import SchemaRegistry
    from schemas.serde import ColumnDecoder, telemetry_deserializer

    with SchemaRegistry(registry_url) as registry:
        decoder = ColumnDecoder(telemetry_deserializer(registry, validate=False))
        cars: list[np.ndarray] = []
        sessions: list[np.ndarray] = []
        stamps: list[np.ndarray] = []
        produced: list[np.ndarray] = []
        chunk = 20_000
        for i in range(0, len(records), chunk):
            part = records[i : i + chunk]
            decoded = decoder.decode_columns([r[4] for r in part])
            rows = decoded.rows
            cars.append(decoded.columns["car_id"])
            sessions.append(decoded.columns["session_id"])
            stamps.append(decoded.columns["timestamp"].astype(np.int64))
            produced.append(np.array([part[j][2] for j in rows.tolist()], dtype=np.int64))
    if not cars:
        return []
    car = np.concatenate(cars)
    session = np.concatenate(sessions)
    ts = np.concatenate(stamps)
    prod = np.concatenate(produced)
    per_car: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for key in {(s, c) for s, c in zip(session.tolist(), car.tolist(), strict=True)}:
        mask = (session == key[0]) & (car == key[1])
        order = np.argsort(ts[mask], kind="stable")
        per_car[key] = (ts[mask][order], prod[mask][order])
    out = []
    for arrived, s in summaries:
        found = per_car.get((s["session_id"], s["car_id"]))
        if found is None:
            continue
        end = s["lap_end"]
        end_us = end if isinstance(end, int) else int(end.timestamp() * 1_000_000)
        i = int(np.searchsorted(found[0], end_us, side="left"))
        if i >= len(found[0]) or found[1][i] < since_ms:
            continue
        out.append((arrived - found[1][i] / 1000, s))
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    import shlex
    import sys

    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(HERE))
    from figures import figure, machine

    from integration_tests.dashboard_probe import ProtocolSession

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cars", type=int, default=20)
    parser.add_argument("--session", default="race", choices=("race", "practice"))
    parser.add_argument("--seconds", type=float, default=240.0, help="measured window of the grid")
    parser.add_argument("--warmup", type=float, default=10.0, help="first seconds left out")
    parser.add_argument("--sessions", type=int, default=1, help="pit wall sessions kept open")
    parser.add_argument("--quick", action="store_true", help="a 20 s smoke (no lap completes)")
    args = parser.parse_args(argv)
    stop_on_signals()
    if args.quick:
        args.seconds, args.warmup = 20.0, 3.0

    print("bench_e2e: produce -> dashboard process, InfluxDB, lap summary at a live grid")
    print(f"machine: {machine()}")
    print(f"command: {shlex.join(['python', Path(sys.argv[0]).as_posix(), *sys.argv[1:]])}")
    run = BenchPlatform("bench-e2e", args.cars, args.session, ("--progress-every", "30"))
    e = run.endpoints
    print(
        f"topics {run.topics.telemetry} (+ -laps, -dlq), bucket {run.bucket}; "
        f"service logs in {run.logs}",
        flush=True,
    )
    sessions: list[ProtocolSession] = []
    readers: list[Reader] = []
    batches: list[list[Any]] = []
    try:
        started = time.monotonic()
        run.start_consumers()
        print(f"  consumers up in {time.monotonic() - started:.0f} s", flush=True)
        for _ in range(args.sessions):
            session = ProtocolSession(f"{run.base_url}/app")
            session.open()
            sessions.append(session)
        parts = run.partitions()
        plain = PlainConsumer(e.kafka_bootstrap, run.topics.telemetry, parts)
        commits = CommitWatch(e.kafka_bootstrap, run.sink_group, run.topics.telemetry, parts)
        laps = SummaryReader(e.kafka_bootstrap, e.registry_url, run.topics.analytics)
        readers = [plain, commits, laps]
        for reader in readers:
            reader.start()
        load_before = os.getloadavg()[0]
        grid_started = time.time()
        run.platform.start("simulator")
        cpu_before = cpu_by_process(run)
        since_ms = (grid_started + args.warmup) * 1000
        end = time.monotonic() + args.warmup + args.seconds
        while time.monotonic() < end:
            time.sleep(min(10.0, max(0.0, end - time.monotonic())))
            batches += run.get_json(PROBE_PATH) or []
            if run.platform.exited():
                raise SystemExit(f"a service exited early: {run.platform.exited()}")
            print(
                f"  {time.time() - grid_started:5.0f} s: {len(plain.records):,} records, "
                f"{len(laps.found)} lap summaries",
                flush=True,
            )
        load_after = os.getloadavg()[0]
        cpu_after = cpu_by_process(run)
        code = run.stop_service("simulator")
        print(f"  simulator stopped (exit {code}); draining", flush=True)
        # Everything produced reaches every consumer; the laps finished by then are summarised.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and commits.committed_total() < len(plain.records):
            time.sleep(0.5)
        quiet_since, count = time.monotonic(), len(laps.found)
        while time.monotonic() - quiet_since < 15 and not args.quick:
            time.sleep(1)
            if len(laps.found) != count:
                quiet_since, count = time.monotonic(), len(laps.found)
        batches += run.get_json(PROBE_PATH) or []
        fps = [s.patch_docs for s in sessions]
    finally:
        for reader in readers:
            reader.stop()
        for session in sessions:
            session.close()
        run.close()
    for reader in readers:
        if reader.error is not None:
            raise SystemExit(f"{type(reader).__name__} failed: {reader.error!r}")

    received, ingested = dashboard_latencies(batches, since_ms)
    base = [arrived - ms / 1000 for _, _, ms, arrived, _ in plain.records if ms >= since_ms]
    sink, unseen = sink_latencies(plain.records, commits.seen, parts, since_ms)
    summary = summary_latencies(e.registry_url, plain.records, laps.found, since_ms)
    measured = sum(1 for r in plain.records if r[2] >= since_ms)
    p_dash, p_recv, p_base = percentiles(ingested), percentiles(received), percentiles(base)
    p_sink = percentiles(sink)
    p_laps = percentiles([d for d, _ in summary])

    print()
    print(
        f"grid: f1-simulate --session {args.session} --cars {args.cars} --rate realtime, "
        f"{args.cars * 100:,} records/s; {measured:,} records measured over {args.seconds:.0f} s "
        f"after {args.warmup:.0f} s; {args.sessions} pit wall session(s) open "
        f"({sum(fps):,} frames received); load average {load_before:.1f} -> {load_after:.1f} "
        f"on {os.cpu_count()} cpus"
    )
    span = cpu_after["at"] - cpu_before["at"]
    took = {k: (cpu_after[k] - cpu_before[k]) / span for k in cpu_after}
    ours = sum(v for k, v in took.items() if k not in ("at", "machine"))
    print(
        "CPU while the grid ran, cores: "
        + ", ".join(f"{k} {v:.2f}" for k, v in took.items() if k not in ("at", "machine"))
        + f"; the machine {took['machine']:.2f} of {os.cpu_count()} busy ({ours:.2f} in these)"
    )
    print(f"{'produce ->':44} {'records':>9} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    rows = [
        ("dashboard process, in the model (headline)", p_dash),
        ("dashboard process, received by the feed", p_recv),
        ("plain consumer in this process (baseline)", p_base),
        ("InfluxDB: written and committed by the sink", p_sink),
        ("lap summary on the analytics topic", p_laps),
    ]
    for what, p in rows:
        print(f"{what:44} {p['n']:>9,} {p['p50']:>9.1f} {p['p99']:>9.1f} {p['max']:>9.1f}")
    if unseen:
        print(f"  {unseen:,} records were never seen committed by the sink")
    if summary:
        first = min(s["lap"] for _, s in summary)
        last = max(s["lap"] for _, s in summary)
        print(f"  lap summaries measured: {len(summary)} (laps {first} to {last})")
    dashboard_ok = p_dash["n"] > 0.99 * measured and p_dash["p99"] <= 50
    figure(
        f"end to end, produce to the dashboard process ({args.cars}-car grid, realtime, "
        f"{args.sessions} session(s) open)",
        f"{fmt(p_dash)} ({p_dash['n']:,} records); plain consumer baseline, same run: "
        f"{fmt(p_base)}",
        "p99 <= 50 ms",
        dashboard_ok,
    )
    figure(
        f"end to end, produce to written in InfluxDB ({args.cars}-car grid)",
        f"{fmt(p_sink, 's')} ({p_sink['n']:,} records, {unseen} not seen committed)",
        "< 1 s (the sink's lag target)",
        p_sink["n"] > 0 and unseen == 0 and p_sink["p99"] < 1000,
    )
    if summary:
        figure(
            f"end to end, a lap's last record to its summary ({args.cars}-car grid, trigger 5s)",
            f"{fmt(p_laps, 's')} ({p_laps['n']} laps)",
            "trigger + 3 s = 8 s",
            p_laps["max"] <= 8000,
        )
    elif not args.quick:
        print("no lap summary measured: run longer (--seconds)")
        return 1
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except Stopped as why:
        raise SystemExit(f"bench_e2e: stopped by {why}; services stopped, topics deleted") from None
