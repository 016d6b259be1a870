"""The lap aggregation's pure logic against an independent pandas computation, no Spark."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.laps import advance
from circuit import silverstone
from producer.simulation import Simulation, concat_batches
from tests.analytics_reference import assert_summaries_match, expected_summaries
from tests.micro_batches import job_columns, run_in_chunks


@pytest.fixture(scope="module")
def telemetry() -> pd.DataFrame:
    """Two cars (one from the line, one from mid-track), a bit over 3 laps, at 20 Hz."""
    sim = Simulation(silverstone(), 2, hz=20, seed=3, session_id="unit")
    batches = [sim.step() for _ in range(20 * 300)]
    return pd.DataFrame(concat_batches(batches))


def test_summaries_equal_the_independent_computation(telemetry: pd.DataFrame) -> None:
    got, _ = run_in_chunks(telemetry, [997, 13, 4000, 1])
    want = expected_summaries(telemetry)
    assert_summaries_match(got, want)
    # car-01 starts on the line, car-02 mid-track: neither first lap is complete (not seen
    # crossing into it), nor the lap each car is on when the stream ends.
    laps_per_car = {car: sorted(k[2] for k in got if k[1] == car) for car in ("car-01", "car-02")}
    assert all(laps and laps[0] == 2 for laps in laps_per_car.values()), laps_per_car
    last_laps = telemetry.groupby("car_id")["lap"].max().to_dict()
    for car, laps in laps_per_car.items():
        assert laps[-1] == last_laps[car] - 1


def test_lap_times_are_plausible_and_sectors_add_up(telemetry: pd.DataFrame) -> None:
    got, _ = run_in_chunks(telemetry, [5000])
    for s in got.values():
        assert 80 < s["lap_time_s"] < 110
        assert s["sector1_s"] + s["sector2_s"] + s["sector3_s"] == pytest.approx(s["lap_time_s"])
        assert s["lap_start"] < s["lap_end"]
        assert s["sample_count"] == pytest.approx(s["lap_time_s"] * 20, abs=1)


def test_micro_batch_boundaries_do_not_change_the_result(telemetry: pd.DataFrame) -> None:
    one, _ = run_in_chunks(telemetry, [len(telemetry)])
    many, _ = run_in_chunks(telemetry, [1, 2, 3, 500, 7])
    assert_summaries_match(many, one, rel=1e-12)  # sums in another order: last bits only


def test_duplicates_and_out_of_order_records_are_dropped(telemetry: pd.DataFrame) -> None:
    car = telemetry[telemetry["car_id"] == "car-01"]
    half = len(car) // 2
    state, first = advance("unit", "car-01", None, job_columns(car.iloc[:half]))
    # The same records again, then an older slice: nothing new, and counted.
    state, again = advance("unit", "car-01", state, job_columns(car.iloc[half - 100 : half]))
    assert again == [] and state is not None and state.dropped == 100
    state, rest = advance("unit", "car-01", state, job_columns(car.iloc[half:]))
    whole, _ = run_in_chunks(car, [len(car)])
    assert {s["lap"] for s in first + rest} == {k[2] for k in whole}


def test_rows_in_any_order_within_a_batch(telemetry: pd.DataFrame) -> None:
    car = telemetry[telemetry["car_id"] == "car-02"]
    shuffled = car.sample(frac=1.0, random_state=7)
    _, in_order = advance("unit", "car-02", None, job_columns(car))
    _, mixed = advance("unit", "car-02", None, job_columns(shuffled))
    assert in_order == mixed and in_order


def test_a_gap_in_lap_numbers_completes_nothing(telemetry: pd.DataFrame) -> None:
    car = telemetry[telemetry["car_id"] == "car-01"]
    without_lap_2 = car[car["lap"] != 2]
    _, done = advance("unit", "car-01", None, job_columns(without_lap_2))
    assert all(s["lap"] not in (1, 2, 3) for s in done)
