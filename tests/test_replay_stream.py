"""The replay's timeline and loop, against an injected clock: pacing, the time shift, the
from-lap cut, blocks, a stop, and the reader running ahead."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from replay.columns import Batch, take, to_batch
from replay.stream import MAX_BLOCK_ROWS, block_span_us, read_ahead, replay
from replay.timeline import FromLap, Retime, blocks, new_session_id
from runtime.errors import InfrastructureError
from runtime.pacing import Rate
from tests.replay_samples import START_US, TICK_US, session_frame


class Clock:
    """A monotonic clock that moves only when slept on; ``sleeps`` lists each sleep."""

    def __init__(self) -> None:
        self.now = 500.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Output:
    """Takes batches as the Kafka output does, noting the clock at each write."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock
        self.batches: list[Batch] = []
        self.times: list[float] = []
        self.flushed = self.closed = 0

    def write(self, batch: Batch) -> None:
        self.batches.append(batch)
        self.times.append(self.clock() if self.clock else 0.0)

    def flush(self) -> int:
        self.flushed += 1
        return 0

    def close(self) -> None:
        self.closed += 1

    def rows(self) -> Batch:
        return {k: np.concatenate([b[k] for b in self.batches]) for k in self.batches[0]}


def _batch(ticks: int = 160) -> Batch:
    return to_batch(session_frame(ticks), "sample")


def _chunks(batch: Batch, size: int) -> Iterator[Batch]:
    n = len(batch["timestamp"])
    for start in range(0, n, size):
        yield take(batch, slice(start, start + size))


# --- pacing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [1.0, 2.0, 0.5])
def test_each_record_is_sent_at_its_event_time_over_the_rate(factor: float) -> None:
    clock, batch = Clock(), _batch()
    out = Output(clock)
    done = replay(
        _chunks(batch, 37), out, Rate(factor), threading.Event(), clock=clock, sleep=clock.sleep
    )
    assert done.records == len(batch["timestamp"])
    started = 500.0
    for sent_at, block in zip(out.times, out.batches, strict=True):
        due = (int(block["timestamp"][0]) - START_US) / 1e6 / factor
        assert sent_at - started == pytest.approx(due)
        # A block holds one 10 ms slot of wall clock: nothing goes more than 10 ms early.
        span = (int(block["timestamp"][-1]) - int(block["timestamp"][0])) / 1e6 / factor
        assert span < 0.01 + 1e-9
    assert clock.now - started == pytest.approx(159 * TICK_US / 1e6 / factor)


def test_max_rate_never_sleeps_and_cuts_blocks_by_size() -> None:
    clock = Clock()
    out = Output(clock)
    replay(_chunks(_batch(), 100), out, Rate(None), threading.Event(), sleep=clock.sleep)
    assert clock.sleeps == []
    assert block_span_us(Rate(None)) is None
    assert all(len(b["timestamp"]) <= MAX_BLOCK_ROWS for b in out.batches)


def test_a_block_is_ten_milliseconds_of_wall_clock_at_any_rate() -> None:
    assert block_span_us(Rate(1.0)) == 10_000
    assert block_span_us(Rate(4.0)) == 40_000
    batch = _batch(20)  # 2 cars, 10 Hz: one 100 ms tick per slot of 40 ms, none empty
    cut = list(blocks(batch, START_US, 40_000, MAX_BLOCK_ROWS))
    assert [offset for offset, _ in cut] == [i * TICK_US for i in range(20)]
    assert all(len(b["timestamp"]) == 2 for _, b in cut)
    by_size = list(blocks(batch, START_US, None, 15))
    assert [len(b["timestamp"]) for _, b in by_size] == [15, 15, 10]


# --- what a replay changes --------------------------------------------------------------------


def test_the_first_record_is_stamped_now_and_every_interval_is_kept() -> None:
    batch = _batch()
    retime = Retime("replay-1", keep_time=False, clock=lambda: 1_800_000_000.25)
    first, second = (retime(b) for b in _chunks(batch, 200))
    assert int(first["timestamp"][0]) == 1_800_000_000_250_000
    shift = retime.shift_us
    assert shift == 1_800_000_000_250_000 - START_US
    both = np.concatenate([first["timestamp"], second["timestamp"]])
    assert np.array_equal(both - shift, batch["timestamp"])  # one offset for every record
    assert set(first["session_id"]) == set(second["session_id"]) == {"replay-1"}
    for name in ("car_id", "lap", "speed_kmh", "sim_time_s"):
        assert np.array_equal(first[name], batch[name][:200])


def test_keep_time_keeps_the_stored_times() -> None:
    batch = _batch()
    kept = Retime("replay-1", keep_time=True, clock=lambda: 1e9)(batch)
    assert np.array_equal(kept["timestamp"], batch["timestamp"])
    assert set(kept["session_id"]) == {"replay-1"}


def test_a_new_session_id_names_the_original_and_fits_the_contract() -> None:
    assert new_session_id("race-7", 1_750_000_000_123_456) == "race-7-replay-1750000000123"
    long = new_session_id("x" * 64, 1_750_000_000_123_456)
    assert len(long) == 64 and long.endswith("-replay-1750000000123")


def test_from_lap_starts_each_car_at_its_own_line_crossing() -> None:
    batch = _batch()
    cut = FromLap(2)
    # Chunks that split the crossings, as windows of an InfluxDB read do.
    kept = [cut(b) for b in _chunks(batch, 45)]
    got = {k: np.concatenate([b[k] for b in kept]) for k in batch}
    for car, crossing_tick in (("car-01", 50), ("car-02", 30)):
        mine = got["car_id"] == car
        times = got["timestamp"][mine]
        assert times[0] == START_US + crossing_tick * TICK_US
        assert got["lap"][mine][0] == 2
        original = batch["timestamp"][batch["car_id"] == car]
        assert np.array_equal(times, original[original >= times[0]])  # nothing after is lost


def test_from_lap_keeps_a_car_that_goes_back_a_lap_number_after_its_start() -> None:
    batch = _batch(60)
    batch["lap"] = batch["lap"].copy()
    car1 = np.flatnonzero(batch["car_id"] == "car-01")
    batch["lap"][car1[55:]] = 1  # a lap number that goes back (a broken stream)
    got = FromLap(2)(batch)
    kept = got["timestamp"][got["car_id"] == "car-01"]
    assert len(kept) == 10  # from the crossing at tick 50 to the end, whatever the laps say


# --- the loop ---------------------------------------------------------------------------------


def test_a_stop_ends_the_replay_and_flushes_what_was_sent() -> None:
    clock, stop = Clock(), threading.Event()
    out = Output(clock)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now - 500.0 > 3.0:
            stop.set()  # Ctrl-C three seconds in

    done = replay(_chunks(_batch(), 50), out, Rate(1.0), stop, clock=clock, sleep=sleep)
    assert 0 < done.records < 320
    assert done.records == sum(len(b["timestamp"]) for b in out.batches)
    assert out.flushed == 1 and out.closed == 1
    assert done.last_us is not None and done.last_us - START_US <= 3.1e6


def test_the_output_is_flushed_and_closed_when_the_source_fails() -> None:
    def failing() -> Iterator[Batch]:
        yield _batch(10)
        raise InfrastructureError("InfluxDB at http://x is unreachable")

    out = Output()
    with pytest.raises(InfrastructureError):
        replay(failing(), out, Rate(None), threading.Event())
    assert len(out.batches) == 1 and out.flushed == 1 and out.closed == 1


def test_the_transform_sees_every_batch_in_order() -> None:
    out = Output()
    cut = FromLap(3)
    retime = Retime("r", keep_time=True)
    replay(
        _chunks(_batch(), 30),
        out,
        Rate(None),
        threading.Event(),
        transform=lambda b: retime(cut(b)),
    )
    got = out.rows()
    assert set(got["lap"].tolist()) == {3, 4}
    assert np.all(np.diff(got["timestamp"]) >= 0)


def test_read_ahead_gives_every_item_and_raises_the_readers_error_in_the_caller() -> None:
    assert list(read_ahead(iter(range(10)), depth=2)) == list(range(10))

    def broken() -> Iterator[int]:
        yield 1
        raise InfrastructureError("gone")

    got = []
    with pytest.raises(InfrastructureError, match="gone"):
        for item in read_ahead(broken()):
            got.append(item)
    assert got == [1]


def test_leaving_read_ahead_early_stops_its_reader() -> None:
    produced = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    items = read_ahead(endless(), depth=2)
    assert next(items) == 0
    items.close()
    for thread in threading.enumerate():
        if thread.name == "replay-read":
            thread.join(timeout=2)
    assert not any(t.name == "replay-read" for t in threading.enumerate())
    assert len(produced) <= 5
