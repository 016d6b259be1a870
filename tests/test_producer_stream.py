"""The producer's streaming path: blocks of ticks, lap bookkeeping, queueing and counting."""

from __future__ import annotations

import numpy as np
import pytest

from circuit import silverstone
from producer import cli
from producer.cli import LapWatch, Settings, block_ticks, build_parser, stream
from producer.kafka_output import DeliveryStats, produce_all
from producer.pacing import Rate
from producer.session import SessionPlan
from producer.simulation import TELEMETRY_FIELDS, Simulation, concat_batches
from producer.strategy import Strategy
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


def test_blocks_give_the_same_records_when_cars_finish_and_stop() -> None:
    """A race in which cars pit and finish on ticks inside the blocks."""
    session = SessionPlan(kind="race", laps=2)
    strategies = [Strategy(("soft", "medium"), (1,), (2.4,))] * 3

    def sim() -> Simulation:
        return Simulation(
            silverstone(),
            3,
            seed=5,
            session=session,
            strategies=strategies,
            session_start_us=START_US,
        )

    whole = sim().run_to_end(block_ticks=1000)
    stepped = sim()
    parts, sizes = [], [1, 7, 50, 3, 250, 99, 1000]
    while not stepped.finished:
        parts.append(stepped.step_block(sizes[len(parts) % len(sizes)]))
    joined = concat_batches(parts)
    for name in TELEMETRY_FIELDS:
        assert np.array_equal(whole[name], joined[name]), name
    assert stepped.step_block(10)["lap"].size == 0  # nothing after the end
    assert set(joined["pit_status"].tolist()) == {"none", "pit_lane", "pit_stop"}


def _race_records() -> dict[str, np.ndarray]:
    sim = Simulation(
        silverstone(),
        3,
        seed=2,
        session=SessionPlan(kind="race", laps=2),
        session_start_us=START_US,
    )
    return sim.run_to_end()


def test_lap_watch_on_blocks_matches_tick_by_tick() -> None:
    batch = _race_records()
    rows = len(batch["lap"])
    per_row = LapWatch(3)
    expected = []
    for r in range(rows):  # any split of the rows, down to one record at a time
        expected += per_row.update({k: v[r : r + 1] for k, v in batch.items()})
    blocks = LapWatch(3)
    got, offset = [], 0
    for size in [1, 50, 333, 1000] * 200:
        block = {k: v[offset : offset + size] for k, v in batch.items()}
        got += [(offset + r, *rest) for r, *rest in blocks.finished(block)]
        offset += size
        if offset >= rows:
            break
    assert [item[1:] for item in got] == expected
    assert np.array_equal(blocks.completed, per_row.completed)
    # Every lap of every car: lap 1 from lights out, lap 2 up to the flag.
    assert sorted((car, lap) for car, lap, _ in expected) == [
        (f"car-0{i}", lap) for i in (1, 2, 3) for lap in (1, 2)
    ]
    for car, lap, lap_time in expected:
        sel = batch["car_id"] == car
        if lap == 1:
            # A standing start from behind the line, timed from session time 0.
            assert 86.0 < lap_time < 100.0, (car, lap_time)
        else:
            assert 84.0 < lap_time < 110.0, (car, lap_time)
        assert batch["lap"][sel][-1] == 3


class ListSink:
    def __init__(self) -> None:
        self.batches: list[dict[str, np.ndarray]] = []

    def write(self, batch: dict[str, np.ndarray]) -> None:
        self.batches.append(dict(batch))

    def flush(self) -> int:
        return 0


@pytest.mark.parametrize("block", [7, 50])
def test_stream_sends_the_same_records_at_any_block_size(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``f1-simulate --laps 1`` sends each car's records up to its first sample past the
    line after one full lap, whatever the block size."""
    monkeypatch.setattr(cli, "block_ticks", lambda _rate: block)
    args = build_parser().parse_args(
        ["--cars", "2", "--laps", "1", "--rate", "max", "--session-start", str(START_US / 1e6)]
    )
    settings = Settings.from_args(args)
    assert settings.session_start_us == START_US
    reference = Simulation(
        silverstone(), 2, seed=1, session_start_us=START_US, session=SessionPlan(laps=1)
    ).run_to_end()
    sim = cli.simulation(settings)
    sink = ListSink()
    assert stream(sim, sink, settings, StopSignal()) == 0
    got = concat_batches(sink.batches)
    for name in TELEMETRY_FIELDS:
        assert np.array_equal(got[name], reference[name]), name
    for car in ("car-01", "car-02"):
        laps = got["lap"][got["car_id"] == car]
        status = got["car_status"][got["car_id"] == car]
        # Lap 1 began mid-lap, lap 2 is the full lap, the last record is on lap 3.
        assert laps[-1] == 3 and laps[-2] == 2
        assert status[-1] == "finished" and set(status[:-1]) == {"running"}


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
