"""Pacing against an injected clock: no drift, no sleeping at --rate max."""

from __future__ import annotations

import pytest

from producer.pacing import Pacer, Rate
from runtime.errors import ConfigError


class FakeClock:
    """A clock whose sleeps overshoot, as real sleeps do."""

    def __init__(self, overshoot_s: float) -> None:
        self.now = 1000.0
        self.overshoot_s = overshoot_s
        self.slept = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += 1
        self.now += seconds + self.overshoot_s


@pytest.mark.parametrize(
    ("text", "factor"), [("realtime", 1.0), ("max", None), ("2", 2.0), ("0.5", 0.5)]
)
def test_rates_parse(text: str, factor: float | None) -> None:
    assert Rate.parse(text).factor == factor


@pytest.mark.parametrize("text", ["0", "-3", "fast", "", "inf", "nan", "-inf"])
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="rate must be"):
        Rate.parse(text)


def test_realtime_pacing_does_not_drift_over_ten_minutes() -> None:
    clock = FakeClock(overshoot_s=0.0004)  # every sleep wakes 0.4 ms late
    pacer = Pacer(Rate.parse("realtime"), hz=100, clock=clock, sleep=clock.sleep)
    start = clock.now
    ticks = 100 * 600
    for tick in range(ticks):
        pacer.wait_for(tick)
        clock.now += 0.002  # the work of one tick
    # Summed sleeps would be 24 s late; due times from the start keep it within one tick.
    assert clock.now - start == pytest.approx(600.0, abs=0.01)
    assert pacer.max_lag_s < 0.01


def test_n_times_realtime_runs_n_times_faster() -> None:
    clock = FakeClock(overshoot_s=0.0)
    pacer = Pacer(Rate.parse("4"), hz=100, clock=clock, sleep=clock.sleep)
    start = clock.now
    for tick in range(401):
        pacer.wait_for(tick)
    assert clock.now - start == pytest.approx(1.0)


def test_max_rate_never_sleeps() -> None:
    clock = FakeClock(overshoot_s=0.0)
    pacer = Pacer(Rate.parse("max"), hz=100, clock=clock, sleep=clock.sleep)
    for tick in range(1000):
        pacer.wait_for(tick)
    assert clock.slept == 0
    assert pacer.lag_s(1000) == 0.0
