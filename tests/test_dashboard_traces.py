"""Distance grid, decimation and alignment of lap traces, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dashboard.delta import delta_at, delta_on_grid, delta_window
from dashboard.traces import DistanceTrace, every_nth, grid_size, resample


def _trace(points: list[tuple[float, float]], length: float = 30.0) -> DistanceTrace:
    """A trace of (distance, lap time) samples; speed mirrors the time so both are checked."""
    trace = DistanceTrace(length, 10.0)
    for d, t in points:
        trace.add(d, {"t_s": t, "speed_kmh": 100 * t, "throttle": 0.0, "brake": 0.0})
    return trace


def test_grid_includes_both_ends_of_the_lap() -> None:
    assert grid_size(30.0, 10.0) == 4  # 0, 10, 20, 30
    assert grid_size(35.0, 10.0) == 4  # 0, 10, 20, 30: no point past the line
    assert grid_size(5884.0, 10.0) == 589
    with pytest.raises(ValueError):
        grid_size(0.0, 10.0)


def test_grid_points_are_interpolated_between_the_samples_around_them() -> None:
    trace = _trace([(0.0, 0.0), (5.0, 1.0), (20.0, 2.0)])
    # 10 m lies a third of the way from 5 m (1.0 s) to 20 m (2.0 s).
    np.testing.assert_allclose(trace.values["t_s"][:3], [0.0, 1.0 + 1.0 / 3.0, 2.0])
    np.testing.assert_allclose(trace.values["speed_kmh"][:3], [0.0, 133.33333, 200.0], rtol=1e-6)
    assert (trace.start, trace.end) == (0, 3)
    assert math.isnan(trace.values["t_s"][3])


def test_add_reports_how_many_points_a_sample_filled() -> None:
    trace = DistanceTrace(100.0, 10.0)
    sample = {"t_s": 0.0, "speed_kmh": 0.0, "throttle": 0.0, "brake": 0.0}
    assert trace.add(0.0, sample) == 1
    assert trace.add(4.0, sample) == 0  # between grid points
    assert trace.add(35.0, sample) == 3  # 10, 20, 30
    assert trace.add(34.0, sample) == 0  # a step back is ignored
    assert trace.end == 4


def test_a_lap_joined_late_starts_at_the_next_grid_point() -> None:
    trace = _trace([(23.0, 5.0), (31.0, 6.0)], length=50.0)
    assert trace.start == 3  # 30 m
    assert not trace.complete_from_start
    window = trace.window(0)
    np.testing.assert_allclose(window["distance_m"], [30.0])
    np.testing.assert_allclose(window["t_s"], [5.875])


def test_a_car_starting_from_rest_on_the_line_has_its_lap_from_0() -> None:
    # Its first sample is a fraction of a millimetre past the line.
    trace = _trace([(8.4e-5, 0.01), (25.0, 3.0)], length=50.0)
    assert trace.start == 0 and trace.complete_from_start
    np.testing.assert_allclose(trace.window(0)["distance_m"], [0.0, 10.0, 20.0])


def test_window_copies_only_the_filled_part() -> None:
    trace = _trace([(0.0, 0.0), (30.0, 3.0)])
    part = trace.window(2)
    np.testing.assert_allclose(part["distance_m"], [20.0, 30.0])
    part["t_s"][0] = 99.0
    assert trace.values["t_s"][2] == pytest.approx(2.0)
    assert trace.window(5)["distance_m"].size == 0


def test_delta_is_current_minus_reference_at_each_distance() -> None:
    # Hand-computed: current reaches 0/10/20 m at 0, 1.3333, 2.0 s; the reference lap at
    # 0, 0.8, 1.6 s (it passes 10 m at 0.8 s and 30 m at 2.4 s, so 20 m at 1.6 s).
    current = _trace([(0.0, 0.0), (5.0, 1.0), (20.0, 2.0)])
    reference = _trace([(0.0, 0.0), (10.0, 0.8), (30.0, 2.4)])
    np.testing.assert_allclose(reference.values["t_s"], [0.0, 0.8, 1.6, 2.4])
    np.testing.assert_allclose(delta_window(current, reference, 0), [0.0, 0.533333, 0.4], atol=1e-6)
    np.testing.assert_allclose(delta_window(current, reference, 1), [0.533333, 0.4], atol=1e-6)
    # Between grid points both laps are interpolated: at 15 m, 1.6667 - 1.2.
    assert delta_at(current, reference, 15.0) == pytest.approx(1.0 + 2.0 / 3.0 - 1.2)


def test_delta_without_a_reference_is_nan() -> None:
    current = _trace([(0.0, 0.0), (20.0, 2.0)])
    assert np.isnan(delta_window(current, None, 0)).all()
    assert math.isnan(delta_at(current, None, 5.0))


def test_delta_on_grid_refuses_traces_of_different_grids() -> None:
    with pytest.raises(ValueError):
        delta_on_grid(np.zeros(3), np.zeros(4))


def test_resample_puts_a_stored_lap_on_the_live_grid() -> None:
    d = np.array([12.0, 0.5, 26.0])  # any order, any rate
    v = np.array([120.0, 5.0, 260.0])
    grid, values = resample(d, v, 30.0, 10.0)
    np.testing.assert_allclose(grid, [10.0, 20.0])
    np.testing.assert_allclose(values, [5.0 + 115.0 * 9.5 / 11.5, 120.0 + 140.0 * 8.0 / 14.0])
    assert resample(np.array([]), np.array([]), 30.0, 10.0)[0].size == 0


def test_every_nth_keeps_the_same_samples_whatever_the_frame_boundaries() -> None:
    seqs = np.arange(3, 13)
    assert list(seqs[every_nth(seqs, 4)]) == [4, 8, 12]
    assert list(seqs[:4][every_nth(seqs[:4], 4)]) == [4]


def test_a_lap_longer_than_expected_grows_the_grid_and_ends_at_the_line() -> None:
    # Sized for 30 m, the lap turns out 55 m long (a circuit learned from the stream).
    trace = _trace([(0.0, 0.0), (20.0, 2.0), (55.0, 5.5)])
    assert (trace.start, trace.end) == (0, 6)
    np.testing.assert_allclose(trace.window(0)["t_s"], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    trace.finish()
    assert trace.size == 6 and trace.distance[-1] == 50.0
    assert trace.values["t_s"].size == 6


def test_delta_against_a_reference_of_another_length_is_aligned_by_distance() -> None:
    current = _trace([(0.0, 0.0), (50.0, 5.0)], length=60.0)
    reference = _trace([(0.0, 0.0), (30.0, 2.4)])
    reference.finish()  # 0..30 m
    # 0, 10, 20, 30 m: 1.0 s per 10 m against 0.8; past 30 m the reference has no time.
    np.testing.assert_allclose(
        delta_window(current, reference, 0), [0.0, 0.2, 0.4, 0.6, np.nan, np.nan], atol=1e-9
    )
    np.testing.assert_allclose(delta_window(current, reference, 4), [np.nan, np.nan])
