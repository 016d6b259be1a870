"""``f1-simulate``: drive one car or a full grid around a circuit and stream the telemetry.

The circuit is the built-in Silverstone unless ``--track`` or ``F1_TRACK`` names a circuit
CSV (the setting the pit wall reads too, see :mod:`circuit.setting`).

By default records go to Kafka (topic ``f1-telemetry``, key = car id) as Avro through the
Schema Registry; ``--output FILE.csv|.jsonl`` writes the same records to a file instead,
and ``--report`` prints the realism figures of a simulated run without any output.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import circuit
from circuit.lap_line import crossing_time
from producer.pacing import Pacer, Rate
from runtime import endpoints
from runtime.command import StopSignal, add_verbose_flag, run_main
from runtime.errors import ConfigError
from runtime.settings import Setting, integer, number
from schemas.topics import TELEMETRY_TOPIC_SETTING

log = logging.getLogger("producer")

PROG = "f1-simulate"
MAX_CARS = 20
HZ_SETTING: Setting[Any] = Setting(
    "PHYSICS_FREQUENCY", "100", "physics ticks per second", integer(1, 10_000), flag="--hz"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Simulate F1 cars around Silverstone (or the circuit of --track) at 100 Hz "
        "and stream their telemetry as Avro to Kafka (or to a file).",
    )
    parser.add_argument("--cars", type=int, default=1, help="number of cars, 1 to 20 (1)")
    parser.add_argument(
        "--laps", type=int, default=None, help="laps per car, then stop (default: until Ctrl-C)"
    )
    HZ_SETTING.add_to(parser)
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the sensor noise and car spread"
    )
    parser.add_argument(
        "--rate",
        default="realtime",
        help="'realtime' (default), 'max', or N for N times real time",
    )
    circuit.TRACK_SETTING.add_to(parser, metavar="FILE")
    parser.add_argument("--drs", action="store_true", help="let cars open DRS in the DRS zones")
    parser.add_argument("--session-id", help="session id (default: session-<start time in us>)")
    parser.add_argument(
        "--session-start",
        type=_finite_float,
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
    endpoints.add_kafka_flags(parser)
    TELEMETRY_TOPIC_SETTING.add_to(parser, deprecated=("--topic",), dest="topic")
    parser.add_argument(
        "--progress-every",
        type=_positive_float,
        default=5.0,
        metavar="S",
        help="seconds between progress lines (5)",
    )
    add_verbose_flag(parser)
    return parser


def _finite_float(text: str) -> float:
    try:
        return number()(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_float(text: str) -> float:
    try:
        return number(above=0)(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
    kafka_bootstrap: str
    registry_url: str
    topic: str
    progress_every_s: float

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        if not 1 <= args.cars <= MAX_CARS:
            raise ConfigError(f"--cars must be between 1 and {MAX_CARS}, got {args.cars}")
        if args.laps is not None and args.laps < 1:
            raise ConfigError(f"--laps must be at least 1, got {args.laps}")
        hz = HZ_SETTING.resolve(args.hz)
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
            track=circuit.TRACK_SETTING.resolve(args.track),
            drs=args.drs,
            session_id=args.session_id,
            session_start_us=round(start_s * 1_000_000),
            output=args.output,
            report=args.report,
            kafka_bootstrap=endpoints.KAFKA_BOOTSTRAP.resolve(args.bootstrap),
            registry_url=endpoints.SCHEMA_REGISTRY_URL.resolve(args.registry),
            topic=TELEMETRY_TOPIC_SETTING.resolve(args.topic),
            progress_every_s=args.progress_every,
        )


class LapWatch:
    """Notices lap completions in the stream, for progress lines and the end of a run.

    With ``laps``, ``done_tick`` is set to the tick (row block index within the last batch)
    at which every car has completed that many laps; the run ends before that tick.
    """

    def __init__(self, n_cars: int, laps: int | None = None) -> None:
        self.n_cars = n_cars
        self.laps = laps
        self.lap = np.ones(n_cars, dtype=np.int64)
        self.lap_start_s = np.full(n_cars, np.nan)  # each car's last line crossing
        self.completed = np.zeros(n_cars, dtype=np.int64)
        self.done_tick: int | None = None
        # Each car's last sample of the previous batch: the sample before a crossing on the
        # batch's first tick.
        self._last_t = np.full(n_cars, np.nan)
        self._last_total = np.full(n_cars, np.nan)

    def update(self, batch: dict[str, np.ndarray]) -> list[tuple[str, int, float | None]]:
        """(car id, lap number, lap time or None when the lap started before the session) of
        the laps completed in ``batch`` (one or more ticks, tick-major); see ``finished``.
        Lap times run from line crossing to line crossing (:mod:`circuit.lap_line`)."""
        return [item[1:] for item in self.finished(batch)]

    def finished(self, batch: dict[str, np.ndarray]) -> list[tuple[int, str, int, float | None]]:
        """Like :meth:`update`, each item led by its tick within the batch. Stops at the tick
        where every car has done ``laps`` laps (``done_tick``)."""
        n = self.n_cars
        laps = np.asarray(batch["lap"]).reshape(-1, n)
        t_s = batch["sim_time_s"]
        total = batch["total_distance_m"]
        prev = np.concatenate([self.lap[None, :], laps[:-1]])
        changed = np.argwhere(laps != prev)  # in tick order, then car order
        finished = []
        tick_done = None
        for t, i in changed.tolist():
            if tick_done is not None and t != tick_done:
                break
            row = t * n + i
            if t:
                before_t, before_total = float(t_s[row - n]), float(total[row - n])
            else:
                before_t, before_total = float(self._last_t[i]), float(self._last_total[i])
            crossed = crossing_time(
                before_t,
                before_total,
                float(t_s[row]),
                float(total[row]),
                float(batch["lap_distance_m"][row]),
            )
            started = self.lap_start_s[i]
            lap_time = None if np.isnan(started) else crossed - started
            finished.append((t, str(batch["car_id"][row]), int(self.lap[i]), lap_time))
            self.lap[i] = laps[t, i]
            self.lap_start_s[i] = crossed
            self.completed[i] += 1
            if self.laps is not None and tick_done is None and self.completed.min() >= self.laps:
                tick_done = t  # the other cars crossing on this tick still count
        self.done_tick = tick_done
        if tick_done is None:
            self.lap[:] = laps[-1]
            self._last_t[:] = t_s[-n:]
            self._last_total[:] = total[-n:]
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


def run(settings: Settings, stop: StopSignal) -> int:
    from producer.simulation import Simulation

    track = circuit.load(settings.track)
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
        where = f"{settings.topic} at {settings.kafka_bootstrap}"
    log.info(
        "session %s on %s (%.0f m): %d car(s) at %d Hz, rate %s, %s -> %s",
        sim.session_id,
        track.name,
        track.length_m,
        settings.cars,
        settings.hz,
        settings.rate,
        f"{settings.laps} lap(s)" if settings.laps else "until Ctrl-C",
        where,
    )
    return stream(sim, sink, settings, stop)


def _kafka_sink(settings: Settings):
    from producer.kafka_output import KafkaTelemetryOutput
    from runtime.kafka import broker_topics
    from schemas.registry import SchemaRegistry
    from schemas.serde import telemetry_serializer
    from schemas.topics import Topics

    broker_topics(settings.kafka_bootstrap, attempts=5, timeout_s=2.0, wait_s=1.0)
    registry = SchemaRegistry(settings.registry_url)
    serializer = telemetry_serializer(registry, Topics.from_env(telemetry=settings.topic))
    return KafkaTelemetryOutput(settings.kafka_bootstrap, settings.topic, serializer)


def stream(sim, sink, settings: Settings, stop: StopSignal) -> int:
    """Step ``sim`` block by block at the pace of ``settings.rate`` and write each block to
    ``sink`` until every car has done its laps or ``stop`` is set; the exit code."""
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


def _summary(records: int, elapsed: float, sink, undelivered: int, stop: StopSignal) -> int:
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
    return run_main(PROG, build_parser(), run, argv, settings=Settings.from_args)


if __name__ == "__main__":
    sys.exit(main())
