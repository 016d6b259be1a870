"""``f1-simulate``: drive one car or a full grid around Silverstone and stream the telemetry.

By default records go to Kafka (topic ``f1-telemetry``, key = car id) as Avro through the
Schema Registry; ``--output FILE.csv|.jsonl`` writes the same records to a file instead,
and ``--report`` prints the realism figures of a simulated run without any output.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import numpy as np

from producer.pacing import Pacer, Rate
from runtime import endpoints
from runtime.command import configure_logging, env_help, run_command
from runtime.errors import ConfigError
from schemas.topics import TELEMETRY_TOPIC_SETTING

log = logging.getLogger("producer")

PROG = "f1-simulate"
MAX_CARS = 20
# The physics frequency's env var, as the platform's settings name it.
HZ_SETTING = ("PHYSICS_FREQUENCY", "100")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Simulate F1 cars around Silverstone at 100 Hz and stream their telemetry "
        "as Avro to Kafka (or to a file).",
    )
    parser.add_argument("--cars", type=int, default=1, help="number of cars, 1 to 20 (1)")
    parser.add_argument(
        "--laps", type=int, default=None, help="laps per car, then stop (default: until Ctrl-C)"
    )
    parser.add_argument(
        "--hz", type=int, default=None, help=env_help(HZ_SETTING, "physics ticks per second")
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the sensor noise and car spread"
    )
    parser.add_argument(
        "--rate",
        default="realtime",
        help="'realtime' (default), 'max', or N for N times real time",
    )
    parser.add_argument(
        "--track", type=Path, help="a circuit CSV (x_m,y_m[,w_tr_right_m,w_tr_left_m])"
    )
    parser.add_argument("--drs", action="store_true", help="let cars open DRS in the DRS zones")
    parser.add_argument("--session-id", help="session id (default: session-<start time in us>)")
    parser.add_argument(
        "--session-start",
        type=float,
        default=None,
        help="session start as Unix seconds (default: now); event times are this plus "
        "simulated time",
    )
    parser.add_argument("--output", type=Path, help="write records to FILE.csv or FILE.jsonl")
    parser.add_argument(
        "--report",
        action="store_true",
        help="simulate (3 laps by default) and print the realism table",
    )
    parser.add_argument(
        "--bootstrap",
        default=None,
        help=env_help(endpoints.KAFKA_BOOTSTRAP, "Kafka bootstrap servers"),
    )
    parser.add_argument(
        "--registry",
        default=None,
        help=env_help(endpoints.SCHEMA_REGISTRY_URL, "Schema Registry URL"),
    )
    parser.add_argument(
        "--topic", default=None, help=env_help(TELEMETRY_TOPIC_SETTING, "telemetry topic")
    )
    parser.add_argument(
        "--progress-every",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between progress lines (5)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    return parser


@dataclass
class Settings:
    cars: int
    laps: int | None
    hz: int
    seed: int
    rate: Rate
    track: Path | None
    drs: bool
    session_id: str | None
    session_start_us: int
    output: Path | None
    report: bool
    bootstrap: str
    registry: str
    topic: str
    progress_every_s: float

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        if not 1 <= args.cars <= MAX_CARS:
            raise ConfigError(f"--cars must be between 1 and {MAX_CARS}, got {args.cars}")
        if args.laps is not None and args.laps < 1:
            raise ConfigError(f"--laps must be at least 1, got {args.laps}")
        hz_text = str(args.hz) if args.hz is not None else endpoints.env(HZ_SETTING)
        try:
            hz = int(hz_text)
        except ValueError:
            raise ConfigError(f"physics frequency must be an integer, got {hz_text!r}") from None
        if args.output is not None and args.output.suffix not in (".csv", ".jsonl"):
            raise ConfigError(f"--output must end in .csv or .jsonl, got {args.output}")
        if args.output is not None and args.report:
            raise ConfigError("--output and --report cannot be combined")
        start_s = args.session_start if args.session_start is not None else time.time()
        laps = args.laps if args.laps is not None else (3 if args.report else None)
        return cls(
            cars=args.cars,
            laps=laps,
            hz=hz,
            seed=args.seed,
            rate=Rate.parse(args.rate),
            track=args.track,
            drs=args.drs,
            session_id=args.session_id,
            session_start_us=round(start_s * 1_000_000),
            output=args.output,
            report=args.report,
            bootstrap=args.bootstrap or endpoints.env(endpoints.KAFKA_BOOTSTRAP),
            registry=args.registry or endpoints.env(endpoints.SCHEMA_REGISTRY_URL),
            topic=args.topic or endpoints.env(TELEMETRY_TOPIC_SETTING),
            progress_every_s=args.progress_every,
        )


class StopFlag:
    """Set by SIGINT/SIGTERM: the run loop finishes its tick, flushes and reports."""

    def __init__(self) -> None:
        self.stopped = False
        self.signal_name = ""

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.stopped = True
        self.signal_name = signal.Signals(signum).name


class LapWatch:
    """Notices lap completions in the stream, for progress lines and the end of a run.

    With ``laps``, ``done_tick`` is set to the tick (row block index within the last batch)
    at which every car has completed that many laps; the run ends before that tick.
    """

    def __init__(self, n_cars: int, laps: int | None = None) -> None:
        self.n_cars = n_cars
        self.laps = laps
        self.lap = np.ones(n_cars, dtype=np.int64)
        self.lap_start_s = np.full(n_cars, np.nan)
        self.completed = np.zeros(n_cars, dtype=np.int64)
        self.done_tick: int | None = None

    def update(self, batch: dict[str, np.ndarray]) -> list[tuple[str, int, float | None]]:
        """(car id, lap number, lap time or None when the lap started before the session) of
        the laps completed in ``batch`` (one or more ticks, tick-major); see ``finished``."""
        return [item[1:] for item in self.finished(batch)]

    def finished(self, batch: dict[str, np.ndarray]) -> list[tuple[int, str, int, float | None]]:
        """Like :meth:`update`, each item led by its tick within the batch. Stops at the tick
        where every car has done ``laps`` laps (``done_tick``)."""
        n = self.n_cars
        laps = np.asarray(batch["lap"]).reshape(-1, n)
        prev = np.concatenate([self.lap[None, :], laps[:-1]])
        changed = np.argwhere(laps != prev)  # in tick order, then car order
        finished = []
        tick_done = None
        for t, i in changed.tolist():
            if tick_done is not None and t != tick_done:
                break
            row = t * n + i
            now = float(batch["sim_time_s"][row])
            started = self.lap_start_s[i]
            lap_time = None if np.isnan(started) else now - started
            finished.append((t, str(batch["car_id"][row]), int(self.lap[i]), lap_time))
            self.lap[i] = laps[t, i]
            self.lap_start_s[i] = now
            self.completed[i] += 1
            if self.laps is not None and tick_done is None and self.completed.min() >= self.laps:
                tick_done = t  # the other cars crossing on this tick still count
        self.done_tick = tick_done
        if tick_done is None:
            self.lap[:] = laps[-1]
        return finished


# At --rate max the simulator steps and the producer encodes this many ticks at a time: the
# per-call costs of the simulator and the encoder (tens of numpy calls per field) are paid once
# per block instead of once per tick. 200 ticks of 20 cars is 4,000 records, about 2 ms.
MAX_BLOCK_TICKS = 200


def block_ticks(rate: Rate) -> int:
    """Ticks per block: as many as fit in one real-time tick of wall clock (N at N times real
    time, so no record is sent more than one tick early), 1 at real time and slower."""
    if rate.factor is None:
        return MAX_BLOCK_TICKS
    return max(1, min(MAX_BLOCK_TICKS, int(rate.factor)))


def _load_track(path: Path | None):
    from producer.silverstone import silverstone
    from producer.track import load_track_csv

    return silverstone() if path is None else load_track_csv(path)


def run(settings: Settings, stop: StopFlag) -> int:
    from producer.simulation import Simulation

    track = _load_track(settings.track)
    sim = Simulation(
        track,
        settings.cars,
        hz=settings.hz,
        seed=settings.seed,
        session_start_us=settings.session_start_us,
        session_id=settings.session_id,
        drs_enabled=settings.drs,
    )
    if settings.report:
        return _report(sim, settings)
    if settings.output is not None:
        from producer.output_files import open_writer

        sink = open_writer(settings.output)
        where = str(settings.output)
    else:
        sink = _kafka_sink(settings)
        where = f"{settings.topic} at {settings.bootstrap}"
    log.info(
        "session %s: %d car(s) at %d Hz, rate %s, %s -> %s",
        sim.session_id,
        settings.cars,
        settings.hz,
        settings.rate,
        f"{settings.laps} lap(s)" if settings.laps else "until Ctrl-C",
        where,
    )
    return _stream(sim, sink, settings, stop)


def _kafka_sink(settings: Settings):
    from producer.kafka_output import KafkaTelemetryOutput, check_broker
    from schemas.registry import SchemaRegistry
    from schemas.serde import telemetry_serializer
    from schemas.topics import Topics

    check_broker(settings.bootstrap)
    registry = SchemaRegistry(settings.registry)
    serializer = telemetry_serializer(registry, Topics.from_env(telemetry=settings.topic))
    return KafkaTelemetryOutput(settings.bootstrap, settings.topic, serializer)


def _stream(sim, sink, settings: Settings, stop: StopFlag) -> int:
    pacer = Pacer(settings.rate, settings.hz)
    laps = LapWatch(settings.cars, settings.laps)
    block = block_ticks(settings.rate)
    records = 0
    started = time.monotonic()
    last_progress = started
    tick = 0
    try:
        while not stop.stopped:
            pacer.wait_for(tick)
            batch = sim.step_block(block)
            tick += block
            finished = laps.finished(batch)
            done = laps.done_tick
            if done is not None:
                # Every car has done its laps: send the ticks before that one, then stop.
                rows = done * settings.cars
                if rows:
                    sink.write({name: column[:rows] for name, column in batch.items()})
                    records += rows
                _log_laps(finished, done)
                break
            sink.write(batch)
            records += len(batch["car_id"])
            _log_laps(finished, block)
            now = time.monotonic()
            if now - last_progress >= settings.progress_every_s:
                _progress(records, now - started, sim, pacer, tick, sink)
                last_progress = now
    finally:
        undelivered = sink.flush()
        close = getattr(sink, "close", None)
        if close is not None:
            close()
    elapsed = time.monotonic() - started
    return _summary(records, elapsed, sink, undelivered, stop)


def _log_laps(finished: list[tuple[int, str, int, float | None]], before_tick: int) -> None:
    for t, car, lap, lap_time in finished:
        if t < before_tick and lap_time is not None:
            log.info("%s lap %d: %s", car, lap, _lap_time(lap_time))


def _lap_time(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:06.3f}"


def _progress(records: int, elapsed: float, sim, pacer: Pacer, tick: int, sink) -> None:
    stats = getattr(sink, "stats", None)
    delivered = f", {stats.delivered:,} delivered" if stats else ""
    log.info(
        "%s records%s, %.0f/s, simulated %.1f s, behind real time %.3f s",
        f"{records:,}",
        delivered,
        records / elapsed if elapsed > 0 else 0.0,
        sim.sim_time_s,
        pacer.lag_s(tick),
    )


def _summary(records: int, elapsed: float, sink, undelivered: int, stop: StopFlag) -> int:
    stats = getattr(sink, "stats", None)
    why = f" (stopped by {stop.signal_name})" if stop.stopped else ""
    rate = records / elapsed if elapsed > 0 else 0.0
    if stats is None:
        log.info("wrote %s records in %.1f s (%.0f/s)%s", f"{records:,}", elapsed, rate, why)
        return 0
    log.info(
        "produced %s records in %.1f s (%.0f/s), %s delivered, %d failed%s",
        f"{records:,}",
        elapsed,
        rate,
        f"{stats.delivered:,}",
        stats.failed,
        why,
    )
    if stats.failed or undelivered:
        print(
            f"{PROG}: {stats.failed + undelivered} record(s) were not delivered"
            f" (last error: {stats.last_error or 'flush timed out'})",
            file=sys.stderr,
        )
        return 1
    return 0


def _report(sim, settings: Settings) -> int:
    from producer.report import format_report, lap_report
    from producer.simulation import concat_batches

    laps = settings.laps or 3
    batches = []
    laps_watch = LapWatch(settings.cars)
    while laps_watch.completed.min() < laps:
        # Blocks of ticks are cheaper per tick and give the same records as single steps.
        batch = sim.step_block(100)
        laps_watch.update(batch)
        batches.append(batch)
    print(format_report(lap_report(concat_batches(batches))))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = Settings.from_args(args)
    except ConfigError as exc:
        parser.error(str(exc))
    stop = StopFlag()
    stop.install()
    return run_command(PROG, lambda: run(settings, stop))


if __name__ == "__main__":
    sys.exit(main())
