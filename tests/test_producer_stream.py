"""The producer's streaming path: blocks of ticks, lap bookkeeping, queueing and counting."""

from __future__ import annotations

import numpy as np
import pytest

from circuit import silverstone
from producer import cli
from producer.cli import LapWatch, Settings, block_ticks, build_parser, stream
from producer.kafka_output import DeliveryStats, produce_all
from producer.pacing import Rate
from producer.simulation import TELEMETRY_FIELDS, Simulation, concat_batches
from runtime.command import StopSignal
from tests.fakes import FakeProducer

START_US = 1_751_716_800_000_000


def test_blocks_give_the_same_records_as_single_steps() -> None:
    one = Simulation(silverstone(), n_cars=4, seed=5, session_start_us=START_US, drs_enabled=True)
    blocks = Simulation(
        silverstone(), n_cars=4, seed=5, session_start_us=START_US, drs_enabled=True
    )
    ticks = 2600  # past the lap line for the last car, noise chunks at every alignment
    singles = concat_batches([one.step() for _ in range(ticks)])
    parts, done, sizes = [], 0, [1, 7, 50, 3, 250, 99, 1000]
    while done < ticks:
        size = min(sizes[len(parts) % len(sizes)], ticks - done)
        parts.append(blocks.step_block(size))
        done += size
    joined = concat_batches(parts)
    for name in TELEMETRY_FIELDS:
        assert np.array_equal(singles[name], joined[name]), name
        assert singles[name].dtype == joined[name].dtype, name
    assert one.tick == blocks.tick == ticks
    assert np.array_equal(one.s, blocks.s) and np.array_equal(one.lap, blocks.lap)
    assert joined["lap"].max() == 2


def test_step_block_refuses_no_ticks() -> None:
    with pytest.raises(ValueError):
        Simulation(silverstone(), n_cars=1).step_block(0)


def test_block_ticks() -> None:
    assert block_ticks(Rate(None)) == cli.MAX_BLOCK_TICKS
    assert block_ticks(Rate(1.0)) == 1
    assert block_ticks(Rate(0.5)) == 1
    assert block_ticks(Rate(10.0)) == 10
    assert block_ticks(Rate(1000.0)) == cli.MAX_BLOCK_TICKS


def _run_ticks(n_cars: int, ticks: int) -> dict[str, np.ndarray]:
    return Simulation(silverstone(), n_cars=n_cars, seed=2).run(ticks)


def test_lap_watch_on_blocks_matches_tick_by_tick() -> None:
    n = 3
    batch = _run_ticks(n, 9300)
    per_tick = LapWatch(n, laps=1)
    expected, stop = [], None
    for t in range(9300):
        row = {k: v[t * n : (t + 1) * n] for k, v in batch.items()}
        expected += [(t, *item) for item in per_tick.update(row)]
        if per_tick.completed.min() >= 1:
            stop = t
            break
    assert stop is not None
    blocks = LapWatch(n, laps=1)
    got, offset = [], 0
    for size in [1, 50, 333, 1000] * 20:
        block = {k: v[offset * n : (offset + size) * n] for k, v in batch.items()}
        got += [(offset + t, *rest) for t, *rest in blocks.finished(block)]
        if blocks.done_tick is not None:
            assert offset + blocks.done_tick == stop
            break
        offset += size
    assert got == expected
    assert np.array_equal(blocks.completed, per_tick.completed)


class ListSink:
    def __init__(self) -> None:
        self.batches: list[dict[str, np.ndarray]] = []

    def write(self, batch: dict[str, np.ndarray]) -> None:
        self.batches.append(dict(batch))

    def flush(self) -> int:
        return 0


@pytest.fixture(scope="module")
def one_lap_reference() -> dict[str, np.ndarray]:
    """Two cars' records, tick by tick, up to (not including) the tick on which the last car
    finishes lap 1: what ``f1-simulate --laps 1`` sends."""
    batch = Simulation(silverstone(), 2, seed=1, session_start_us=START_US).run(9500)
    watch = LapWatch(2)
    for t in range(9500):
        watch.update({k: v[2 * t : 2 * t + 2] for k, v in batch.items()})
        if watch.completed.min() >= 1:
            return {k: v[: 2 * t] for k, v in batch.items()}
    raise AssertionError("no lap completed")


@pytest.mark.parametrize("block", [7, 50])
def test_stream_sends_the_same_records_at_any_block_size(
    block: int, one_lap_reference: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "block_ticks", lambda _rate: block)
    args = build_parser().parse_args(
        ["--cars", "2", "--laps", "1", "--rate", "max", "--session-start", str(START_US / 1e6)]
    )
    settings = Settings.from_args(args)
    assert settings.session_start_us == START_US
    sim = Simulation(silverstone(), 2, seed=1, session_start_us=START_US)
    sink = ListSink()
    assert stream(sim, sink, settings, StopSignal()) == 0
    got = concat_batches(sink.batches)
    for name in TELEMETRY_FIELDS:
        assert np.array_equal(got[name], one_lap_reference[name]), name


@pytest.mark.parametrize("full_every", [2, 3, 7, 1000])
def test_produce_all_resumes_after_a_full_queue(full_every: int) -> None:
    values = [bytes([i % 256]) * 3 for i in range(500)]
    keys = [f"car-{i % 20 + 1:02d}" for i in range(500)]
    producer = FakeProducer(full_every=full_every)
    produce_all(producer, "t", values, keys)
    assert producer.sent == [("t", v, k) for v, k in zip(values, keys, strict=True)]
    assert producer.polls == producer.calls - len(values)


def test_delivered_is_produced_minus_failed_minus_queued() -> None:
    queued = [0]
    stats = DeliveryStats(queued=lambda: queued[0])
    stats.produced = 1000
    queued[0] = 300
    assert (stats.delivered, stats.in_flight) == (700, 300)

    class Err:
        def str(self) -> str:
            return "Broker: Message timed out"

    stats.on_delivery(None, None)  # success reports do not count twice
    stats.on_delivery(Err(), None)
    queued[0] = 0
    assert (stats.delivered, stats.failed, stats.last_error) == (
        999,
        1,
        "Broker: Message timed out",
    )
