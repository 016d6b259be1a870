"""``f1-simulate``: drive one car or a full grid around a circuit and stream the telemetry.

The circuit is the built-in Silverstone unless ``--track`` or ``F1_TRACK`` names a circuit
CSV (the setting the pit wall reads too, see :mod:`circuit.setting`). ``--session`` (or
``F1_SESSION_KIND``) makes it a practice (cars spread around the lap) or a race (a grid, lights
out, the chequered flag): see :mod:`producer.session`.

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
from producer.car import car_id
from producer.pacing import Pacer, Rate
from producer.session import GRID_SLOTS, MAX_FUEL_KG, SESSION_KINDS, TYRE_CHOICES, SessionPlan
from runtime import endpoints
from runtime.command import StopSignal, add_verbose_flag, run_main
from runtime.errors import ConfigError
from runtime.settings import Setting, choice, flag_type, integer, number
from schemas.topics import TELEMETRY_TOPIC_SETTING

log = logging.getLogger("producer")

PROG = "f1-simulate"
MAX_CARS = 20
# 9999-12-31T23:59:59Z: event times beyond it overflow the microsecond timestamps.
LAST_SESSION_START_S = 253_402_300_799
HZ_SETTING: Setting[Any] = Setting(
    "PHYSICS_FREQUENCY", "100", "physics ticks per second", integer(1, 10_000), flag="--hz"
)
SESSION_KIND_SETTING: Setting[str] = Setting(
    "F1_SESSION_KIND",
    "practice",
    f"kind of session: {' or '.join(SESSION_KINDS)}",
    choice(*SESSION_KINDS),
    flag="--session",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Simulate F1 cars around Silverstone (or the circuit of --track) at 100 Hz "
        "and stream their telemetry as Avro to Kafka (or to a file).",
    )
    parser.add_argument("--cars", type=int, default=1, help="number of cars, 1 to 20 (1)")
    parser.add_argument(
        "--laps",
        type=int,
        default=None,
        help="practice: full laps per car, then stop (default: until Ctrl-C); race: the race "
        "distance in laps (default: the laps that exceed 305 km, 52 at Silverstone)",
    )
    SESSION_KIND_SETTING.add_to(parser, metavar="KIND")
    parser.add_argument(
        "--tyre",
        metavar="COMPOUND",
        help=f"start compound of every car: {', '.join(TYRE_CHOICES)} (default: a race, each "
        "car's strategy; practice, medium)",
    )
    parser.add_argument(
        "--fuel-kg",
        type=_finite_float,
        default=None,
        metavar="KG",
        help="start fuel of every car (default: a race, what its distance needs; practice, 110 kg)",
    )
    HZ_SETTING.add_to(parser)
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed of the sensor noise, the spread between cars and the race strategies",
    )
    parser.add_argument(
        "--rate",
        default="realtime",
        help="'realtime' (default), 'max', or N for N times real time",
    )
    circuit.TRACK_SETTING.add_to(parser, metavar="FILE")
    parser.add_argument(
        "--drs",
        action="store_true",
        help="practice: let cars open DRS in the DRS zones (a race always has DRS, by its rule)",
    )
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


_finite_float = flag_type(number())
_positive_float = flag_type(number(above=0))


@dataclass
class Settings:
    cars: int
    laps: int | None
    session: str
    tyre: str | None
    fuel_kg: float | None
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
        session = SESSION_KIND_SETTING.resolve(args.session)
        race = session == "race"
        if race and args.cars > GRID_SLOTS:
            raise ConfigError(
                f"--cars {args.cars}: a race grid has {GRID_SLOTS} slots, no more cars fit"
            )
        if not 1 <= args.cars <= MAX_CARS:
            raise ConfigError(f"--cars must be between 1 and {MAX_CARS}, got {args.cars}")
        if args.laps is not None and args.laps < 1:
            what = "a race needs at least 1 lap" if race else "must be at least 1"
            raise ConfigError(f"--laps {what}, got {args.laps}")
        if args.seed < 0:
            raise ConfigError(f"--seed must be 0 or more, got {args.seed}")
        tyre = args.tyre.strip().lower() if args.tyre is not None else None
        if tyre is not None and tyre not in TYRE_CHOICES:
            raise ConfigError(
                f"--tyre: unknown compound {args.tyre!r}, choose one of {', '.join(TYRE_CHOICES)}"
            )
        if args.fuel_kg is not None and not 0 < args.fuel_kg <= MAX_FUEL_KG:
            raise ConfigError(
                f"--fuel-kg must be above 0 and at most {MAX_FUEL_KG:g}, got {args.fuel_kg:g}"
            )
        if args.session_start is not None and not 0 <= args.session_start <= LAST_SESSION_START_S:
            raise ConfigError(
                "--session-start must be Unix seconds, 0 or more and before the year 10000, "
                f"got {args.session_start:g}"
            )
        hz = HZ_SETTING.resolve(args.hz)
        if args.output is not None and args.output.suffix not in (".csv", ".jsonl"):
            raise ConfigError(f"--output must end in .csv or .jsonl, got {args.output}")
        if args.output is not None and args.report:
            raise ConfigError("--output and --report cannot be combined")
        start_s = args.session_start if args.session_start is not None else time.time()
        laps = args.laps if args.laps is not None or race else (3 if args.report else None)
        registry_url = endpoints.SCHEMA_REGISTRY_URL.resolve(args.registry)
        if args.output is None and not args.report:
            endpoints.check_clients(registry_url)
        return cls(
            cars=args.cars,
            laps=laps,
            session=session,
            tyre=tyre,
            fuel_kg=args.fuel_kg,
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
            registry_url=registry_url,
            topic=TELEMETRY_TOPIC_SETTING.resolve(args.topic),
            progress_every_s=args.progress_every,
        )


class LapWatch:
    """Notices lap completions in the stream, for the lap log and progress lines.

    Lap times run from line crossing to line crossing (:mod:`circuit.lap_line`); lap 1 of a
    race, whose first records stand behind the line (negative lap distance), from lights out
    at session time 0. Batches may hold any ticks of any cars (a car that has finished sends
    no more records): each row's car is found from its ``car_id``, or given.
    """

    def __init__(self, n_cars: int) -> None:
        self.n_cars = n_cars
        self.lap = np.ones(n_cars, dtype=np.int64)
        self.lap_start_s = np.full(n_cars, np.nan)  # each car's last line crossing
        self.completed = np.zeros(n_cars, dtype=np.int64)
        # Each car's last sample of the previous batches: the sample before a crossing on its
        # first row of a batch.
        self._last_t = np.full(n_cars, np.nan)
        self._last_total = np.full(n_cars, np.nan)
        self._seen = np.zeros(n_cars, dtype=bool)
        self._index = {car_id(i): i for i in range(n_cars)}

    def update(
        self, batch: dict[str, np.ndarray], cars: np.ndarray | None = None
    ) -> list[tuple[str, int, float | None]]:
        """(car id, lap number, lap time or None when the lap started before the session) of
        the laps completed in ``batch``, in the order of the rows; see :meth:`finished`."""
        return [item[1:] for item in self.finished(batch, cars)]

    def finished(
        self, batch: dict[str, np.ndarray], cars: np.ndarray | None = None
    ) -> list[tuple[int, str, int, float | None]]:
        """Like :meth:`update`, each item led by the row of the batch that starts the next
        lap. ``cars``: the car index of each row (default: from ``car_id``)."""
        laps = np.asarray(batch["lap"])
        rows = len(laps)
        if rows == 0:
            return []
        if cars is None:
            index = self._index
            cars = np.fromiter(
                (index[c] for c in batch["car_id"].tolist()), dtype=np.int64, count=rows
            )
        t_s = batch["sim_time_s"]
        total = batch["total_distance_m"]
        distance = batch["lap_distance_m"]
        # Rows grouped by car (in time order within each car).
        order = np.argsort(cars, kind="stable")
        by_car = cars[order]
        first = np.ones(rows, dtype=bool)
        first[1:] = by_car[1:] != by_car[:-1]
        last = np.ones(rows, dtype=bool)
        last[:-1] = first[1:]
        new = first & ~self._seen[by_car]
        for row in order[new].tolist():
            i = int(cars[row])
            self._seen[i] = True
            if laps[row] == 1 and distance[row] < 0.0:
                # A race grid: lap 1 runs from lights out, session time 0.
                self.lap_start_s[i] = float(t_s[row]) - float(t_s[row])
        lap_sorted = laps[order]
        before = np.empty_like(lap_sorted)
        before[1:] = lap_sorted[:-1]
        before[first] = self.lap[by_car[first]]
        changed = np.flatnonzero(lap_sorted != before)  # positions in the grouped order
        finished = []
        for pos in sorted(changed.tolist(), key=lambda p: int(order[p])):
            row = int(order[pos])
            i = int(cars[row])
            if first[pos]:
                before_t, before_total = float(self._last_t[i]), float(self._last_total[i])
            else:
                prev = int(order[pos - 1])
                before_t, before_total = float(t_s[prev]), float(total[prev])
            crossed = crossing_time(
                before_t, before_total, float(t_s[row]), float(total[row]), float(distance[row])
            )
            started = self.lap_start_s[i]
            lap_time = None if np.isnan(started) else crossed - started
            finished.append((row, car_id(i), int(before[pos]), lap_time))
            self.lap_start_s[i] = crossed
            self.completed[i] += 1
        ends = order[last]
        ending_cars = cars[ends]
        self.lap[ending_cars] = laps[ends]
        self._last_t[ending_cars] = t_s[ends]
        self._last_total[ending_cars] = total[ends]
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


def simulation(settings: Settings):
    """The session ``settings`` describe, ready to step (a ``producer.simulation.Simulation``)."""
    from producer.simulation import Simulation

    session = SessionPlan(
        kind=settings.session, laps=settings.laps, tyre=settings.tyre, fuel_kg=settings.fuel_kg
    )
    return Simulation(
        circuit.load(settings.track),
        settings.cars,
        hz=settings.hz,
        seed=settings.seed,
        session_start_us=settings.session_start_us,
        session_id=settings.session_id,
        drs_enabled=settings.drs,
        session=session,
    )


def run(settings: Settings, stop: StopSignal) -> int:
    sim = simulation(settings)
    track = sim.track
    if settings.report:
        return _report(sim, settings)
    if settings.output is not None:
        from producer.output_files import open_writer

        sink = open_writer(settings.output)
        where = str(settings.output)
    else:
        sink = _kafka_sink(settings)
        where = f"{settings.topic} at {settings.kafka_bootstrap}"
    if sim.session.is_race:
        length = f"a race of {sim.laps} lap(s)"
    else:
        length = f"{sim.laps} lap(s) each" if sim.laps else "until Ctrl-C"
    log.info(
        "%s session %s on %s (%.0f m): %d car(s) at %d Hz, rate %s, %s -> %s",
        sim.session.kind,
        sim.session_id,
        track.name,
        track.length_m,
        settings.cars,
        settings.hz,
        settings.rate,
        length,
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
    ``sink`` until every car has finished (``sim.finished``: each ends just past the line) or
    ``stop`` is set; the exit code."""
    pacer = Pacer(settings.rate, settings.hz)
    laps = LapWatch(sim.n_cars)
    block = block_ticks(settings.rate)
    records = 0
    started = time.monotonic()
    last_progress = started
    tick = 0
    try:
        while not stop.stopped and not sim.finished:
            pacer.wait_for(tick)
            batch = sim.step_block(block)
            tick += block
            rows = len(batch["car_id"])
            if rows:
                sink.write(batch)
                records += rows
            _log_laps(laps.finished(batch, sim.block_cars))
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


def _log_laps(finished: list[tuple[int, str, int, float | None]]) -> None:
    for _, car, lap, lap_time in finished:
        if lap_time is not None:
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
    return stats.exit_code(PROG, undelivered)


def _report(sim, settings: Settings) -> int:
    from producer.race import traffic_laps
    from producer.race_report import format_classification, race_lines
    from producer.report import (
        car_race_lines,
        format_race_section,
        format_report,
        lap_report,
        with_traffic,
    )
    from producer.simulation import concat_batches

    batches = []
    while not sim.finished:
        # Blocks of ticks are cheaper per tick and give the same records as single steps.
        batches.append(sim.step_block(100))
    batch = concat_batches(batches)
    laps = with_traffic(lap_report(batch), traffic_laps(batch, sim.track.length_m))
    print(format_report(laps))
    print()
    # A race's laps are in traffic, in and out of the pit lane: the gear changes of a flying
    # lap are then judged on laps alone on the track.
    lines = car_race_lines(sim.track, settings.seed, () if sim.session.is_race else laps)
    lines += race_lines(sim.track, settings.seed, batch if sim.session.is_race else None, laps)
    print(format_race_section(lines))
    if sim.session.is_race:
        print()
        print(format_classification(batch))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(PROG, build_parser(), run, argv, settings=Settings.from_args)


if __name__ == "__main__":
    sys.exit(main())
