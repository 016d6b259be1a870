"""Producer throughput into the local broker: `f1-simulate --rate max` vs raw confluent-kafka.

Usage: python benchmarks/bench_producer.py [--cars 20] [--laps 1] [--repeats 5]
           [--topic bench-producer] [--bootstrap HOST:PORT] [--registry URL]

Needs the local stack; registers the topic's subjects itself (as ``f1-schemas register
--telemetry-topic bench-producer`` does).

Each repeat measures, back to back in this process:

1. baseline: confluent-kafka producing the same session's records, simulated and encoded
   before timing starts (the real path's records, keys and blocks; only the session id and
   the event times differ, not the sizes), with the
   producer's own settings (``PRODUCER_TUNING``, the same delivery callback) and the same
   queueing loop, then flushing;
2. the real path: ``producer.cli``'s streaming loop at ``--rate max`` for ``--laps`` laps
   (simulate, check, encode, produce, flush), records/s from start to the end of the flush,
   its producer warmed up like the baseline's;
3. the baseline again;
4. zero-filled values of the records' mean size through the same loop: the baseline used
   until 2026-12-04, kept as a second ratio. lz4 shrinks a block of identical zero-filled
   values to almost nothing, so the broker receives a fraction of the bytes and this
   baseline is about a third faster than producing the records themselves.

The ratio is (2) over the mean of (1) and (3). Then, without Kafka: the simulator alone
(``step_block`` in the blocks ``--rate max`` uses) and encoding rates of one block (fastavro
record by record vs ``Serializer.encode_columns``); and the Avro path alone (pre-simulated
blocks encoded and produced) against the same baseline, which shows how much of the gap is
the simulator.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_simulator import machine_info
from confluent_kafka import Producer
from figures import figure

from circuit import silverstone
from producer import cli
from producer.kafka_output import PRODUCER_TUNING, DeliveryStats, produce_all
from producer.simulation import Simulation, to_records
from runtime import endpoints
from runtime.command import StopSignal
from runtime.kafka import client_config
from schemas.registration import register_all
from schemas.registry import SchemaRegistry
from schemas.serde import telemetry_serializer
from schemas.topics import Topics

TARGET_RECORDS_S = 50_000
TARGET_RATIO = 0.5


Blocks = list[tuple[list[bytes], list[str]]]  # (values, keys) as the real path produces them


def baseline(bootstrap: str, topic: str, blocks: Blocks) -> float:
    """Records/s of pre-serialized blocks through the producer's settings and loop."""
    stats = DeliveryStats()
    producer = Producer(
        {**client_config(bootstrap), **PRODUCER_TUNING, "on_delivery": stats.on_delivery}
    )
    producer.produce(topic, b"warm-up", b"warm-up")
    producer.flush(10)
    records = 0
    start = time.perf_counter()
    for values, keys in blocks:
        produce_all(producer, topic, values, keys)
        producer.poll(0)
        records += len(values)
    left = producer.flush(60)
    elapsed = time.perf_counter() - start
    if left or stats.failed:
        raise SystemExit(f"baseline: {left + stats.failed} records not delivered")
    return records / elapsed


def encoded(serializer, batches: list[dict]) -> Blocks:
    """Each batch's encoded values and keys, as the producer hands them to librdkafka."""
    return [(serializer.encode_columns(b), b["car_id"].tolist()) for b in batches]


def session_blocks(args: argparse.Namespace, serializer) -> Blocks:
    """The real path's session, simulated and encoded: its blocks as they are produced."""
    settings = real_settings(args)
    sim = cli.simulation(settings)
    batches = []
    while not sim.finished:
        batch = sim.step_block(cli.block_ticks(settings.rate))
        if len(batch["car_id"]):
            batches.append(batch)
    return encoded(serializer, batches)


def zero_filled(blocks: Blocks) -> Blocks:
    """The same blocks with every value replaced by zero bytes of the records' mean size."""
    size = round(sum(len(v) for values, _ in blocks for v in values) / records_in(blocks))
    return [([bytes(size)] * len(values), keys) for values, keys in blocks]


def records_in(blocks: Blocks) -> int:
    return sum(len(values) for values, _ in blocks)


def real_settings(args: argparse.Namespace) -> cli.Settings:
    """``f1-simulate``'s settings for the real path: --rate max into the benchmark's topic."""
    argv = [
        *("--cars", str(args.cars), "--laps", str(args.laps), "--rate", "max"),
        *("--telemetry-topic", args.topic, "--bootstrap", args.bootstrap),
        *("--registry", args.registry),
    ]
    return cli.Settings.from_args(cli.build_parser().parse_args(argv))


def real_run(args: argparse.Namespace) -> tuple[float, int]:
    """Records/s and records of the producer's streaming loop at --rate max."""
    settings = real_settings(args)
    sim = cli.simulation(settings)
    sink = cli._kafka_sink(settings)
    # As for the baseline: the producer connected and holding its idempotent producer id
    # before timing starts (one record, flushed). A cold producer made about one run in four
    # wait 0.4 s in the final flush here: start-up, not throughput.
    sink._producer.produce(args.topic, b"warm-up", b"warm-up")
    sink._producer.flush(10)
    start = time.perf_counter()
    code = cli.stream(sim, sink, settings, StopSignal())
    elapsed = time.perf_counter() - start
    if code != 0 or sink.stats.delivered != sink.stats.produced:
        raise SystemExit(f"producer run failed: exit {code}, {sink.stats}")
    return sink.stats.produced / elapsed, sink.stats.produced


def avro_path(args: argparse.Namespace, serializer, blocks: list[dict]) -> float:
    """Records/s of pre-simulated blocks through encode_columns and the producer loop."""
    stats = DeliveryStats()
    producer = Producer(
        {**client_config(args.bootstrap), **PRODUCER_TUNING, "on_delivery": stats.on_delivery}
    )
    producer.produce(args.topic, b"warm-up", b"warm-up")
    producer.flush(10)
    records = 0
    start = time.perf_counter()
    for batch in blocks:
        values = serializer.encode_columns(batch)
        produce_all(producer, args.topic, values, batch["car_id"].tolist())
        producer.poll(0)
        records += len(values)
    left = producer.flush(60)
    elapsed = time.perf_counter() - start
    if left or stats.failed:
        raise SystemExit(f"avro path: {left + stats.failed} records not delivered")
    return records / elapsed


def rate_of(fn, records_per_call: int, seconds: float = 1.0) -> float:
    fn()
    calls = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return calls * records_per_call / (time.perf_counter() - start)


def best_median(values: list[float]) -> str:
    return f"best {max(values):>10,.0f}  median {statistics.median(values):>10,.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cars", type=int, default=20)
    parser.add_argument("--laps", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--topic", default="bench-producer")
    parser.add_argument("--bootstrap", default=endpoints.env(endpoints.KAFKA_BOOTSTRAP))
    parser.add_argument("--registry", default=endpoints.env(endpoints.SCHEMA_REGISTRY_URL))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    topics = Topics.from_env(
        telemetry=args.topic, analytics=f"{args.topic}-analytics", dlq=f"{args.topic}-dlq"
    )
    register_all(args.registry, topics, say=lambda _line: None)
    serializer = telemetry_serializer(SchemaRegistry(args.registry), topics)
    same = session_blocks(args, serializer)
    zeros = zero_filled(same)
    sim = Simulation(silverstone(), args.cars, seed=1)
    block = sim.step_block(cli.MAX_BLOCK_TICKS)
    keys = block["car_id"].tolist()

    print(machine_info())
    print("command: python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]))
    print(
        f"real path: f1-simulate --cars {args.cars} --laps {args.laps} --rate max "
        f"--topic {args.topic} (producer.cli.stream in this process)"
    )
    size = len(zeros[0][0][0])
    print(
        f"baseline: confluent-kafka producing the same session's {records_in(same):,} records "
        f"(encoded beforehand, {len(same)} blocks), PRODUCER_TUNING, the same loop"
    )
    print(f"zeros: the same blocks, zero-filled {size}-byte values (the baseline until 2026-12-04)")
    print(
        f"{'repeat':>6} {'baseline before':>16} {'f1-simulate':>12} {'baseline after':>15} "
        f"{'ratio':>6} {'zeros':>10} {'ratio to zeros':>15}"
    )
    rates, ratios, bases, zero_ratios = [], [], [], []
    for i in range(args.repeats):
        before = baseline(args.bootstrap, args.topic, same)
        rate, produced = real_run(args)
        after = baseline(args.bootstrap, args.topic, same)
        zero = baseline(args.bootstrap, args.topic, zeros)
        ratio = rate / ((before + after) / 2)
        rates.append(rate)
        ratios.append(ratio)
        zero_ratios.append(rate / zero)
        bases += [before, after]
        print(
            f"{i + 1:>6} {before:>16,.0f} {rate:>12,.0f} {after:>15,.0f} {ratio:>6.2f} "
            f"{zero:>10,.0f} {rate / zero:>15.2f}"
        )
    print(f"f1-simulate records/s: {best_median(rates)}  ({produced:,} records per run)")
    print(f"baseline records/s:    {best_median(bases)}")
    print(f"ratio:                 best {max(ratios):.2f}  median {statistics.median(ratios):.2f}")
    print(f"ratio to zeros:        median {statistics.median(zero_ratios):.2f}")

    print(f"without Kafka, blocks of {cli.MAX_BLOCK_TICKS} ticks x {args.cars} cars:")
    simulated = rate_of(lambda: sim.step_block(cli.MAX_BLOCK_TICKS), len(keys))
    records = to_records(block)
    fastavro = rate_of(lambda: [serializer.encode(r, validate=False) for r in records], len(keys))
    checked = rate_of(lambda: [serializer.encode(r) for r in records], len(keys))
    columns = rate_of(lambda: serializer.encode_columns(block), len(keys))
    print(f"  simulator (step_block, physics + channels + noise):  {simulated:>12,.0f} records/s")
    print(f"  fastavro per record (to_records + encode, no check): {fastavro:>12,.0f} records/s")
    print(f"  fastavro per record (to_records + encode, checked):  {checked:>12,.0f} records/s")
    print(f"  encode_columns (checked, vectorised):                {columns:>12,.0f} records/s")
    # About one lap of a grid, as in the real path.
    blocks = [sim.step_block(cli.MAX_BLOCK_TICKS) for _ in range(9000 // cli.MAX_BLOCK_TICKS)]
    pre_encoded = encoded(serializer, blocks)
    path, path_ratios = [], []
    for _ in range(args.repeats):
        before = baseline(args.bootstrap, args.topic, pre_encoded)
        rate = avro_path(args, serializer, blocks)
        after = baseline(args.bootstrap, args.topic, pre_encoded)
        path.append(rate)
        path_ratios.append(rate / ((before + after) / 2))
    print(
        f"  Avro path (encode_columns + produce, pre-simulated): {best_median(path)}"
        f"  ratio median {statistics.median(path_ratios):.2f}"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    what = f"producer, f1-simulate --cars {args.cars} --rate max into the local broker"
    figure(
        f"{what}, Avro through the registry",
        f"best {max(rates):,.0f}, median {statistics.median(rates):,.0f} records/s",
        f"at least {TARGET_RECORDS_S:,} records/s",
        statistics.median(rates) >= TARGET_RECORDS_S,
    )
    figure(
        "producer vs confluent-kafka producing the same records pre-serialized, same run",
        f"ratio median {statistics.median(ratios):.2f}, best {max(ratios):.2f} "
        f"(baseline median {statistics.median(bases):,.0f}/s); against zero-filled values "
        f"of the same size {statistics.median(zero_ratios):.2f}",
        f"at least {TARGET_RATIO}",
        statistics.median(ratios) >= TARGET_RATIO,
    )
    figure(
        "Avro path alone (column encoder + produce, pre-simulated), same run",
        f"ratio median {statistics.median(path_ratios):.2f}",
    )
    figure(
        "simulator and column encoder alone, records/s",
        f"simulator {simulated:,.0f}, encode_columns {columns:,.0f}, "
        f"fastavro per record {checked:,.0f} (both encoders with range checks)",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
