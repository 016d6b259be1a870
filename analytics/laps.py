"""Lap aggregation of one car's telemetry: the pure logic, without Spark.

The Spark job keeps one :class:`LapState` per (session, car) and calls :func:`advance` with
each micro-batch's new samples of that car, sorted by event time. The state holds running
aggregates of the lap the car is on, never the samples themselves, so its size does not
depend on the lap length, the sampling rate or the number of laps driven.

Definitions (the test's independent computation uses the same ones):

* A lap is **complete** when the car was seen crossing the line into it (a sample of lap N-1
  followed by one of lap N) and out of it (a sample of lap N followed by one of lap N+1).
  A car's first lap in the stream counts only from a **standing start**: its first sample is
  on lap 1 behind the line (a race grid, :func:`circuit.lap_line.is_standing_start`), and
  the lap starts at lights out, session time 0
  (:func:`circuit.lap_line.standing_start_us`). Any other first lap started before the
  stream did (practice cars start mid-lap, and a job started mid-session sees partial laps
  too) and never counts.
* The **line crossing** time is interpolated between the last sample before the line and the
  first after it, by distance: ``total_distance_m`` of the line is the first sample's
  ``total_distance_m - lap_distance_m`` (:func:`circuit.lap_line.crossing_time`, the one
  definition the producer, the pit wall and the tests use too). ``lap_start`` and
  ``lap_end`` are the crossings into and out of the lap, rounded to whole microseconds, and
  ``lap_time_s`` is their difference.
* A **sector boundary** is taken halfway between the last sample of one sector and the first
  of the next (the record carries no distance to the sector line; error at most half a
  tick). ``sector1_s + sector2_s + sector3_s == lap_time_s``.
* The other metrics are over the samples whose ``lap`` is N: mean, max and min speed, the
  shares of samples at full throttle (``throttle >= FULL_THROTTLE_MIN``) and braking
  (``brake > BRAKE_ON_MIN``), fuel at the first sample minus fuel at the last, the largest
  ``|g_lat|``, the largest and smallest ``g_long``, and the number of samples.
* Tyres and pit lane: ``tyre_compound`` and ``tyre_age_laps`` are the lap's last sample's;
  ``in_lap`` is true when the first sample past the line that ends the lap is in the pit
  lane (``pit_status`` not ``none``), ``out_lap`` when the first sample of the lap is, so an
  in-lap is followed by an out-lap; ``pit_stop_s`` adds, for each sample of the lap with
  ``pit_status`` ``pit_stop``, the time since the car's sample before it (none for a car's
  first sample in the stream).
* A sample not newer than the last one folded for its car is a duplicate or arrives out of
  order: it is dropped (and counted), so a published summary never changes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import astuple, dataclass, fields
from typing import Any

import numpy as np

from circuit.lap_line import crossing_time, is_standing_start, standing_start_us
from schemas.channels import BRAKE_ON_MIN, FULL_THROTTLE_MIN

# The telemetry columns the aggregation reads, in the order the Spark job passes them.
INPUT_COLUMNS: tuple[str, ...] = (
    "driver",
    "ts_us",
    "sim_time_s",
    "lap",
    "sector",
    "lap_distance_m",
    "total_distance_m",
    "speed_kmh",
    "throttle",
    "brake",
    "fuel_kg",
    "g_lat",
    "g_long",
    "tyre_compound",
    "tyre_age_laps",
    "pit_status",
)
# The dtype each input column is given; the others are float64 (Avro floats widened exactly).
INPUT_DTYPES: dict[str, Any] = {
    "driver": object,
    "ts_us": np.int64,
    "lap": np.int64,
    "sector": np.int64,
    "tyre_compound": object,
    "tyre_age_laps": np.int64,
    "pit_status": object,
}
PIT_NONE = "none"  # pit_status on track
PIT_STOP = "pit_stop"  # pit_status stationary in the pit box

Columns = Mapping[str, np.ndarray]
Summary = dict[str, Any]


@dataclass
class LapState:
    """What is kept per car between micro-batches: the lap in progress and the last sample.

    Optional values are NaN (not None) so that the state is a flat row of numbers.
    """

    driver: str
    lap: int
    lap_start_us: float  # interpolated crossing into ``lap``; NaN if not seen
    sector2_us: float  # boundary sector 1 -> 2 of this lap; NaN until seen
    sector3_us: float
    samples: int
    speed_sum: float
    speed_max: float
    speed_min: float
    full_throttle: int
    braking: int
    fuel_first: float
    fuel_last: float
    abs_g_lat_max: float
    g_long_max: float
    g_long_min: float
    last_ts_us: int
    last_total_m: float
    last_sector: int
    dropped: int  # samples dropped as duplicates or out of order, over the car's life
    standing_start: bool  # lap 1 of a race: lap_start_us is lights out
    out_lap: bool  # the lap started in the pit lane
    pit_stop_us: float  # time stationary in the pit box on this lap
    tyre_compound: str  # at the last sample folded
    tyre_age_laps: int

    def as_tuple(self) -> tuple[Any, ...]:
        return astuple(self)

    @classmethod
    def from_tuple(cls, values: tuple[Any, ...]) -> LapState:
        return cls(*values)


STATE_FIELDS: tuple[tuple[str, str], ...] = tuple((f.name, str(f.type)) for f in fields(LapState))


def _new_lap(
    driver: str,
    lap: int,
    start_us: float,
    last: LapState | None,
    *,
    standing_start: bool = False,
    out_lap: bool = False,
) -> LapState:
    return LapState(
        driver=driver,
        lap=lap,
        lap_start_us=start_us,
        sector2_us=math.nan,
        sector3_us=math.nan,
        samples=0,
        speed_sum=0.0,
        speed_max=-math.inf,
        speed_min=math.inf,
        full_throttle=0,
        braking=0,
        fuel_first=math.nan,
        fuel_last=math.nan,
        abs_g_lat_max=-math.inf,
        g_long_max=-math.inf,
        g_long_min=math.inf,
        last_ts_us=last.last_ts_us if last else 0,
        last_total_m=last.last_total_m if last else math.nan,
        last_sector=last.last_sector if last else 0,
        dropped=last.dropped if last else 0,
        standing_start=standing_start,
        out_lap=out_lap,
        pit_stop_us=0.0,
        tyre_compound=last.tyre_compound if last else "",
        tyre_age_laps=last.tyre_age_laps if last else 0,
    )


def _summary(
    session_id: str, car_id: str, st: LapState, end_us: float, in_lap: bool
) -> Summary | None:
    if math.isnan(st.lap_start_us) or math.isnan(st.sector2_us) or math.isnan(st.sector3_us):
        return None  # not seen crossing into the lap, or a sector never seen: not complete
    start = round(st.lap_start_us)
    end = round(end_us)
    s2 = round(st.sector2_us)
    s3 = round(st.sector3_us)
    n = st.samples
    return {
        "session_id": session_id,
        "car_id": car_id,
        "driver": st.driver,
        "lap": st.lap,
        "lap_time_s": (end - start) / 1e6,
        "sector1_s": (s2 - start) / 1e6,
        "sector2_s": (s3 - s2) / 1e6,
        "sector3_s": (end - s3) / 1e6,
        "lap_start": start,
        "lap_end": end,
        "avg_speed_kmh": st.speed_sum / n,
        "max_speed_kmh": st.speed_max,
        "min_speed_kmh": st.speed_min,
        "full_throttle_share": st.full_throttle / n,
        "brake_share": st.braking / n,
        "fuel_used_kg": st.fuel_first - st.fuel_last,
        "max_abs_g_lat": st.abs_g_lat_max,
        "max_g_long": st.g_long_max,
        "min_g_long": st.g_long_min,
        "sample_count": n,
        "tyre_compound": st.tyre_compound,
        "tyre_age_laps": st.tyre_age_laps,
        "in_lap": in_lap,
        "out_lap": st.out_lap,
        "standing_start": st.standing_start,
        "pit_stop_s": st.pit_stop_us / 1e6,
    }


def _fold(st: LapState, c: Columns, a: int, b: int) -> None:
    """Add samples ``a:b`` (all of lap ``st.lap``, time-ordered) to the lap in progress."""
    ts = c["ts_us"][a:b]
    sector = c["sector"][a:b]
    speed = c["speed_kmh"][a:b]
    g_lat = c["g_lat"][a:b]
    g_long = c["g_long"][a:b]
    fuel = c["fuel_kg"][a:b]
    if st.samples == 0:
        st.fuel_first = float(fuel[0])
        prev_sector = np.concatenate(([0], sector[:-1]))  # no sector before the lap's first
    else:
        prev_sector = np.concatenate(([st.last_sector], sector[:-1]))
    prev_ts = np.concatenate(([st.last_ts_us], ts[:-1]))
    stopped = c["pit_status"][a:b] == PIT_STOP
    if stopped.any():
        gaps = ts - prev_ts
        if st.last_ts_us == 0:  # the car's first sample in the stream: no time before it
            gaps[0] = 0
        st.pit_stop_us += float(gaps[stopped].sum())
    for into, attr in ((2, "sector2_us"), (3, "sector3_us")):
        hits = np.flatnonzero((sector == into) & (prev_sector == into - 1))
        if hits.size and math.isnan(getattr(st, attr)):
            i = int(hits[0])
            setattr(st, attr, (float(prev_ts[i]) + float(ts[i])) / 2.0)
    st.samples += b - a
    st.speed_sum += float(speed.sum())
    st.speed_max = max(st.speed_max, float(speed.max()))
    st.speed_min = min(st.speed_min, float(speed.min()))
    st.full_throttle += int(np.count_nonzero(c["throttle"][a:b] >= FULL_THROTTLE_MIN))
    st.braking += int(np.count_nonzero(c["brake"][a:b] > BRAKE_ON_MIN))
    st.fuel_last = float(fuel[-1])
    st.abs_g_lat_max = max(st.abs_g_lat_max, float(np.abs(g_lat).max()))
    st.g_long_max = max(st.g_long_max, float(g_long.max()))
    st.g_long_min = min(st.g_long_min, float(g_long.min()))
    st.last_ts_us = int(ts[-1])
    st.last_total_m = float(c["total_distance_m"][b - 1])
    st.last_sector = int(sector[-1])
    st.driver = str(c["driver"][b - 1])
    st.tyre_compound = str(c["tyre_compound"][b - 1])
    st.tyre_age_laps = int(c["tyre_age_laps"][b - 1])


def advance(
    session_id: str, car_id: str, state: LapState | None, columns: Columns
) -> tuple[LapState | None, list[Summary]]:
    """Fold one car's new samples into its state; the summaries of the laps they complete.

    ``columns`` holds :data:`INPUT_COLUMNS` as numpy arrays in any order of rows, in the
    dtypes of :data:`INPUT_DTYPES` (numeric channels float64: Avro ``float`` values widened
    exactly).
    """
    order = np.argsort(columns["ts_us"], kind="stable")
    c = {name: np.asarray(columns[name])[order] for name in INPUT_COLUMNS}
    ts = c["ts_us"]
    keep = np.ones(ts.size, dtype=bool)
    if ts.size:
        keep[1:] = ts[1:] > ts[:-1]  # the same instant twice: keep the first
    if state is not None:
        keep &= ts > state.last_ts_us
    dropped = int(ts.size - np.count_nonzero(keep))
    if dropped:
        c = {name: values[keep] for name, values in c.items()}
    if state is not None:
        state.dropped += dropped
    n = c["ts_us"].size
    if n == 0:
        return state, []

    lap = c["lap"]
    starts = np.concatenate(([0], np.flatnonzero(lap[1:] != lap[:-1]) + 1, [n]))
    out: list[Summary] = []
    for a_, b_ in itertools.pairwise(starts.tolist()):
        a, b = int(a_), int(b_)
        seg_lap = int(lap[a])
        in_pit_lane = str(c["pit_status"][a]) != PIT_NONE
        if state is None:
            standing = is_standing_start(seg_lap, float(c["lap_distance_m"][a]))
            start = (
                standing_start_us(float(c["ts_us"][a]), float(c["sim_time_s"][a]))
                if standing
                else math.nan
            )
            state = _new_lap(
                str(c["driver"][a]),
                seg_lap,
                start,
                None,
                standing_start=standing,
                out_lap=in_pit_lane,
            )
            state.dropped = dropped
        elif seg_lap != state.lap:
            start = math.nan
            if seg_lap == state.lap + 1:
                start = crossing_time(
                    state.last_ts_us,
                    state.last_total_m,
                    float(c["ts_us"][a]),
                    float(c["total_distance_m"][a]),
                    float(c["lap_distance_m"][a]),
                )
                done = _summary(session_id, car_id, state, start, in_pit_lane)
                if done is not None:
                    out.append(done)
            # A lap number going back or skipping ahead (a replayed or broken stream) starts
            # an incomplete lap: nothing is published until the line is seen twice again.
            state = _new_lap(state.driver, seg_lap, start, state, out_lap=in_pit_lane)
        _fold(state, c, a, b)
    return state, out
