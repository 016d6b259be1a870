"""The timing line: when a car crossed it, from two consecutive samples of the car.

The one definition the producer, the analytics job, the pit wall and the tests share:

* the line lies at ``total_distance_m - lap_distance_m`` of the first sample after it (its
  total distance: lap distance 0 of the lap that sample is on);
* the **crossing** is interpolated between the last sample before the line and the first
  after it, by distance: the share of the way from one sample to the other at which the car
  reached the line, applied to their times (any time unit: microseconds, seconds);
* a car that did not move between the two samples (standing on the line), or a distance
  that is NaN, crossed at the first sample after the line; a share outside 0..1 (samples
  that disagree about where the line is) is clamped to the two samples;
* a **standing start**: a race grid stands behind the line, so a car's first record of a
  race is on lap 1 with a negative lap distance (the F1 game's convention). Its lap 1 is
  timed from lights out, session time 0 (:func:`standing_start_us`), not from a crossing,
  and ends at the line one full lap after the car first crosses it. A car whose first
  record is at or past the line (practice, qualifying, a stream joined late) did not start
  its first lap in sight: that lap is not complete.

Plain float arithmetic, no numpy: it runs once per lap change in the Spark workers and in
the pit wall's feed thread, where a numpy call would cost more than the sum.
"""

from __future__ import annotations


def line_total_m(total_distance_m: float, lap_distance_m: float) -> float:
    """Total distance of the line at the start of the sample's lap."""
    return total_distance_m - lap_distance_m


def crossing_share(
    before_total_m: float, after_total_m: float, after_lap_distance_m: float
) -> float:
    """How far (0..1) from the sample before the line to the sample after it the car was when
    it crossed the line."""
    gap_m = after_total_m - before_total_m
    if not gap_m > 0.0:  # standing still, or NaN
        return 1.0
    share = (line_total_m(after_total_m, after_lap_distance_m) - before_total_m) / gap_m
    if share != share:  # NaN: the sample after has no lap distance
        return 1.0
    return min(max(share, 0.0), 1.0)


def crossing_time(
    before_t: float,
    before_total_m: float,
    after_t: float,
    after_total_m: float,
    after_lap_distance_m: float,
) -> float:
    """The time at which the car crossed the line between two consecutive samples."""
    share = crossing_share(before_total_m, after_total_m, after_lap_distance_m)
    if share >= 1.0:
        return float(after_t)  # exact, and defined even when the sample before has no time
    return before_t + share * (after_t - before_t)


def is_standing_start(lap: int, lap_distance_m: float) -> bool:
    """Whether a car's first record shows it on a race grid: lap 1, behind the line."""
    return int(lap) == 1 and lap_distance_m < 0.0


def standing_start_us(timestamp_us: float, sim_time_s: float) -> float:
    """Lights out (session time 0) as event time, from any record of the session: its
    timestamp minus its simulated time (microseconds; the caller rounds, as for crossings)."""
    return timestamp_us - sim_time_s * 1e6
