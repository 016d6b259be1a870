"""circuit.lap_line: when a car crossed the timing line, against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from circuit.lap_line import (
    crossing_share,
    crossing_time,
    is_standing_start,
    line_total_m,
    standing_start_us,
)


def test_line_crossing_is_interpolated_by_distance() -> None:
    # 5 m before the line at t=0, 15 m after it at t=100: a quarter of the way.
    assert crossing_time(0, 995.0, 100, 1015.0, 15.0) == pytest.approx(25.0)
    assert crossing_time(0, 1000.0, 100, 1000.0, 0.0) == 100.0  # not moving
    assert not math.isnan(crossing_time(0, math.nan, 100, 1000.0, 0.0))


def test_the_line_is_where_the_lap_distance_starts() -> None:
    # Lap 3 of a 5,000 m lap, 12 m past the line: the line is at 10,000 m.
    assert line_total_m(10_012.0, 12.0) == 10_000.0
    # 4.5 m before the line, 3.5 m after it: 4.5 / 8 of the way.
    assert crossing_share(9_995.5, 10_003.5, 3.5) == pytest.approx(0.5625)


def test_microsecond_event_times_keep_their_precision() -> None:
    # 100 Hz at the epoch scale: 2 m before the line, 6 m after it; 2/8 of 10,000 us.
    start = 1_751_800_000_000_000
    crossed = crossing_time(start, 5_878.0, start + 10_000, 5_886.0, 6.0)
    assert crossed == start + 2_500


def test_a_sample_on_the_line_is_the_crossing() -> None:
    # The sample after sits exactly on the line: it is the crossing, to the microsecond.
    assert crossing_time(0, 990.0, 100, 1000.0, 0.0) == 100.0
    # The sample before sits exactly on the line (the previous lap's last, at its end).
    assert crossing_time(0, 1000.0, 100, 1008.0, 8.0) == 0.0


def test_a_standing_car_crosses_at_the_first_sample_after() -> None:
    # On the line, not moving between two samples: no distance to interpolate over.
    assert crossing_share(1000.0, 1000.0, 0.0) == 1.0
    assert crossing_time(40.0, 1000.0, 50.0, 1000.0, 0.0) == 50.0
    # Rolling back a few centimetres (sensor noise at a standstill) is the same.
    assert crossing_time(40.0, 1000.02, 50.0, 1000.0, 0.0) == 50.0


def test_nan_takes_the_first_sample_after() -> None:
    # No distance before (a car's first record after a gap), none after, no time before.
    assert crossing_time(0, math.nan, 100, 1000.0, 0.0) == 100.0
    assert crossing_time(0, 995.0, 100, 1015.0, math.nan) == 100.0
    assert crossing_time(math.nan, 995.0, 100, 1000.0, 0.0) == 100.0
    assert crossing_share(math.nan, math.nan, math.nan) == 1.0


def test_samples_that_disagree_about_the_line_are_clamped_to_them() -> None:
    # The sample after puts the line 20 m behind the sample before: the crossing cannot be
    # before the first sample, nor after the second.
    assert crossing_time(0, 1005.0, 100, 1010.0, 20.0) == 0.0
    assert crossing_time(0, 950.0, 100, 960.0, -50.0) == 100.0


def test_a_race_grid_behind_the_line_is_a_standing_start() -> None:
    assert is_standing_start(1, -8.0)  # a grid slot 8 m behind the line
    assert not is_standing_start(1, 0.0)  # on the line: a practice car, or already moving
    assert not is_standing_start(1, 2345.0)  # mid-lap: practice, or a stream joined late
    assert not is_standing_start(2, -0.5)  # only lap 1 starts from the grid


def test_lights_out_is_session_time_zero_from_any_record() -> None:
    start = 1_751_800_000_000_000
    assert standing_start_us(start, 0.0) == start  # a record at lights out
    assert standing_start_us(start + 3_250_000, 3.25) == start  # 3.25 s later
    # At 100 Hz, a long way into a session: still the microsecond.
    assert standing_start_us(start + 5_400_000_010, 5400.00001) == pytest.approx(start, abs=0.5)
