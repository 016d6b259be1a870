"""The vectorised simulator: record contract, determinism, physics bookkeeping, file output."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from circuit import silverstone
from producer.car import DRIVER_CODES, CarParams, car_id, car_params_for, driver_code
from producer.driver import ControllerGains, PedalLimits, pedal_step, speed_profile
from producer.output_files import write_batches, write_records
from producer.report import lap_report
from producer.simulation import TELEMETRY_FIELDS, Simulation, concat_batches, to_records
from producer.tyres import grip_scale
from runtime.compile_notice import compile_notice
from runtime.errors import ConfigError

START_US = 1_751_716_800_000_000  # 2025-07-05 12:00:00 UTC

PYTHON_TYPES = {
    "session_id": str,
    "car_id": str,
    "driver": str,
    "timestamp": int,
    "sim_time_s": float,
    "lap": int,
    "lap_distance_m": float,
    "total_distance_m": float,
    "x_m": float,
    "y_m": float,
    "speed_kmh": float,
    "throttle": float,
    "brake": float,
    "steering": float,
    "gear": int,
    "rpm": float,
    "g_lat": float,
    "g_long": float,
    "fuel_kg": float,
    "tyre_wear": float,
    "drs": bool,
    "sector": int,
    "session_kind": str,
    "tyre_compound": str,
    "tyre_age_laps": int,
    "pit_status": str,
    "pit_stops": int,
    "car_status": str,
}


@pytest.fixture(scope="module")
def grid_run() -> dict[str, np.ndarray]:
    """20 cars for 30 simulated seconds."""
    sim = Simulation(silverstone(), n_cars=20, seed=7, session_start_us=START_US)
    return sim.run(3000)


def test_batch_has_exactly_the_telemetry_fields() -> None:
    sim = Simulation(silverstone(), n_cars=3, seed=1, session_start_us=START_US)
    batch = sim.step()
    assert tuple(batch) == TELEMETRY_FIELDS
    assert set(TELEMETRY_FIELDS) == set(PYTHON_TYPES)
    assert all(len(col) == 3 for col in batch.values())
    records = to_records(batch)
    assert len(records) == 3
    for record in records:
        assert tuple(record) == TELEMETRY_FIELDS
        for name, value in record.items():
            assert type(value) is PYTHON_TYPES[name], name
    assert [r["car_id"] for r in records] == ["car-01", "car-02", "car-03"]
    assert records[0]["session_id"] == f"session-{START_US}"
    # A practice on the default compound: nobody in the pit lane, nobody finished.
    assert {
        (r["session_kind"], r["tyre_compound"], r["tyre_age_laps"], r["pit_status"])
        for r in records
    } == {("practice", "medium", 0, "none")}
    assert {(r["pit_stops"], r["car_status"]) for r in records} == {(0, "running")}


def test_ids_and_driver_codes() -> None:
    assert car_id(0) == "car-01" and car_id(19) == "car-20"
    codes = [driver_code(i) for i in range(20)]
    assert len(set(codes)) == 20 == len(DRIVER_CODES)
    assert all(len(c) == 3 and c.isalpha() and c.isupper() for c in codes)


def test_car_variation_is_small_and_reproducible() -> None:
    base = CarParams()
    assert base.mass_kg == pytest.approx(798.0)
    assert base.fuel_start_kg == 110.0
    assert base.fuel_flow_max_kg_per_h == 100.0
    assert base.rev_limit_rpm == 15_000.0
    assert len(base.gear_ratios) == 8
    a = car_params_for(3, seed=42)
    assert a == car_params_for(3, seed=42)
    assert a != car_params_for(4, seed=42)
    assert a != car_params_for(3, seed=43)
    # Car 0 (pole) is the base car give or take its small variations; the others add a pace
    # deficit (less downforce, power and grip: at most about 2.5 s a lap at Silverstone).
    pole, last = car_params_for(0, seed=42), car_params_for(19, seed=42)
    for f in fields(base):
        old = getattr(base, f.name)
        if isinstance(old, float):
            assert abs(getattr(pole, f.name) - old) <= 0.015 * abs(old) + 1e-12, f.name
            assert abs(getattr(last, f.name) - old) <= 0.10 * abs(old) + 1e-12, f.name
    for name in ("cz_a_m2", "ice_power_w", "ers_power_w", "tyre_mu_lat", "tyre_mu_long"):
        assert getattr(last, name) < getattr(pole, name), name


def test_timestamps_come_from_the_injected_session_start(grid_run) -> None:
    ts = grid_run["timestamp"].reshape(3000, 20)
    assert np.all(ts == ts[:, :1])  # all cars share the tick's clock
    assert ts[0, 0] == START_US + 10_000
    assert np.all(np.diff(ts[:, 0]) == 10_000)  # 100 Hz
    t = grid_run["sim_time_s"].reshape(3000, 20)[:, 0]
    assert np.allclose(ts[:, 0], START_US + np.round(t * 1e6))


def test_cars_start_spread_out_and_car_0_from_rest() -> None:
    track = silverstone()
    sim = Simulation(track, n_cars=4, seed=3)
    assert sim.v[0] == 0.0 and sim.s[0] == 0.0
    assert np.allclose(sim.s, np.arange(4) * track.length_m / 4)
    assert np.all(sim.v[1:] > 20.0)
    first = to_records(sim.step())
    assert all(r["lap"] == 1 for r in first)
    assert first[0]["speed_kmh"] < 2.0
    assert first[0]["gear"] == 1


def test_channels_are_consistent(grid_run) -> None:
    b = grid_run
    track = silverstone()
    assert np.all((b["gear"] >= 1) & (b["gear"] <= 8))
    assert np.all((b["sector"] >= 1) & (b["sector"] <= 3))
    assert np.all((b["throttle"] >= 0) & (b["throttle"] <= 1))
    assert np.all((b["brake"] >= 0) & (b["brake"] <= 1))
    assert np.all((b["lap_distance_m"] >= 0) & (b["lap_distance_m"] < track.length_m))
    assert np.allclose(b["total_distance_m"], (b["lap"] - 1) * track.length_m + b["lap_distance_m"])
    # Position on the centre line.
    x, y = track.position(b["lap_distance_m"])
    assert np.allclose(b["x_m"], x) and np.allclose(b["y_m"], y)
    # Sector from the lap distance.
    assert np.array_equal(b["sector"], track.sector_at(b["lap_distance_m"]))
    # rpm tied to gear and speed (within sensor noise, above the launch floor).
    car = CarParams()
    ratio = np.asarray(car.rpm_per_m_s())[b["gear"] - 1]
    expected = b["speed_kmh"] / 3.6 * ratio
    moving = expected > 5000
    assert np.all(np.abs(b["rpm"][moving] - expected[moving]) < 0.02 * expected[moving] + 100)
    assert b["rpm"].max() < 13_000
    # Lateral g from v^2 * curvature; curvature is positive to the left, g_lat to the right.
    v = b["speed_kmh"] / 3.6
    g_lat_expected = -v * v * track.curvature_at(b["lap_distance_m"]) / 9.81
    assert np.abs(b["g_lat"] - g_lat_expected).max() < 0.25
    assert np.abs(b["g_lat"]).max() < 6.5
    # Steering follows the curvature: right (positive) where the line turns right.
    k = track.curvature_at(b["lap_distance_m"])
    turning = np.abs(k) > 0.01
    assert np.all(np.sign(b["steering"][turning]) == -np.sign(k[turning]))
    assert np.abs(b["steering"]).max() <= 1.0
    # Silverstone runs clockwise: most of the cornering is to the right.
    assert np.mean(b["g_lat"][turning] > 0) > 0.5


def test_pedals_are_smooth_and_never_both_pressed(grid_run) -> None:
    thr = grid_run["throttle"].reshape(3000, 20)
    brk = grid_run["brake"].reshape(3000, 20)
    assert np.all(np.minimum(thr, brk) < 0.05)
    gains = ControllerGains()
    dt = 0.01
    assert np.diff(thr, axis=0).max() <= gains.throttle_rise_per_s * dt + 1e-9
    assert np.diff(thr, axis=0).min() >= -gains.throttle_fall_per_s * dt - 1e-9
    assert np.diff(brk, axis=0).max() <= gains.brake_rise_per_s * dt + 1e-9
    # No chatter: the foot moves between throttle and brake (each above 5 %) no faster than
    # every 0.1 s, and the brake is applied fewer than 20 times per lap (a lap is ~87 s).
    total_presses = 0
    for car in range(20):
        pedal = np.where(brk[:, car] > 0.05, -1, np.where(thr[:, car] > 0.05, 1, 0))
        ticks = np.flatnonzero(pedal)  # ticks with a pedal in use
        used = pedal[ticks]
        switch = ticks[1:][np.diff(used) != 0]  # first tick on the other pedal
        assert np.all(np.diff(switch) >= 10)
        total_presses += np.count_nonzero(np.diff(used) == -2)
    laps = 20 * 30 / 87
    assert total_presses / laps < 20


def test_pedal_step_hysteresis() -> None:
    limits = PedalLimits.per_tick(ControllerGains(), 0.01)
    thr, brk, braking = 1.0, 0.0, False
    # A small brake demand only lifts the throttle: no braking below the threshold.
    thr, brk, braking = pedal_step(thr, brk, braking, -0.1, 0.05, limits)
    assert not braking and brk == 0.0 and thr < 1.0
    # A large brake demand: throttle released first, then the brake comes in.
    for _ in range(20):
        thr, brk, braking = pedal_step(thr, brk, braking, -1.0, 1.0, limits)
    assert braking and thr == 0.0 and brk > 0.9


def test_same_seed_gives_identical_records() -> None:
    a = Simulation(silverstone(), n_cars=3, seed=11, session_start_us=START_US)
    b = Simulation(silverstone(), n_cars=3, seed=11, session_start_us=START_US)
    ra = to_records(a.run(500))
    rb = to_records(b.run(500))
    assert ra == rb


def test_different_seed_gives_different_noise() -> None:
    cars = [CarParams()] * 2  # identical cars: only the noise differs
    a = Simulation(silverstone(), n_cars=2, seed=1, cars=cars).run(300)
    b = Simulation(silverstone(), n_cars=2, seed=2, cars=cars).run(300)
    assert np.array_equal(a["throttle"], b["throttle"])  # physics is noise-free
    assert np.array_equal(a["lap_distance_m"], b["lap_distance_m"])
    assert not np.array_equal(a["speed_kmh"], b["speed_kmh"])
    assert not np.array_equal(a["g_lat"], b["g_lat"])
    diff = a["speed_kmh"] - b["speed_kmh"]
    assert 0.05 < diff.std() < 0.5  # sensor noise, not a different car


def test_fuel_burns_and_tyres_wear(grid_run) -> None:
    fuel = grid_run["fuel_kg"].reshape(3000, 20)
    wear = grid_run["tyre_wear"].reshape(3000, 20)
    assert np.all(np.diff(fuel, axis=0) <= 0)
    assert np.all(np.diff(wear, axis=0) >= 0)
    used = fuel[0] - fuel[-1]
    assert np.all((used > 0.4) & (used < 1.0))  # 30 s at about 80 kg/h
    # Flow never above the 100 kg/h limit.
    assert (-np.diff(fuel, axis=0)).max() <= 100 / 3600 * 0.01 + 1e-12
    assert np.all((wear[-1] > 0.001) & (wear[-1] < 0.02))


def test_laps_count_at_the_line_and_profiles_follow_fuel() -> None:
    sim = Simulation(silverstone(), n_cars=1, seed=5)
    expected_first = float(sim.expected_lap_time_s[0])
    b = sim.run(9500)
    laps = b["lap"]
    assert laps[0] == 1 and laps[-1] == 2
    cross = int(np.flatnonzero(np.diff(laps))[0])
    assert b["lap_distance_m"][cross] > silverstone().length_m - 100
    assert b["lap_distance_m"][cross + 1] < 100
    # The profile was rebuilt for the fuel load and tyre grip at the line.
    car = sim.cars[0]
    fuel_at_line = float(b["fuel_kg"][cross + 1])
    grip = grip_scale("medium", float(b["tyre_wear"][cross + 1]))
    rebuilt = speed_profile(silverstone(), car, mass_kg=car.mass_kg + fuel_at_line, grip_scale=grip)
    assert sim.expected_lap_time_s[0] != expected_first
    assert sim.expected_lap_time_s[0] == pytest.approx(rebuilt.lap_time_s, abs=0.01)


def test_drs_opens_only_on_its_zones_from_lap_2_when_enabled() -> None:
    track = silverstone()
    off = Simulation(track, n_cars=2, seed=4, drs_enabled=False).run(500)
    assert not off["drs"].any()
    on = Simulation(track, n_cars=1, seed=4, drs_enabled=True).run(16_500)  # to Stowe, lap 2
    assert on["drs"].any()
    assert not on["drs"][on["lap"] == 1].any()
    zone = track.drs_zone_at(on["lap_distance_m"])
    assert np.all(zone[on["drs"]])
    assert np.all(on["brake"][on["drs"]] < 0.01)
    # On the Hangar Straight, DRS (lap 2) adds speed over the same car without it (lap 1).
    hangar = track.corner("Hangar Straight")
    on_hangar = (on["lap_distance_m"] >= hangar.start_m) & (on["lap_distance_m"] < hangar.end_m)
    top1 = on["speed_kmh"][on_hangar & (on["lap"] == 1)].max()
    top2 = on["speed_kmh"][on_hangar & (on["lap"] == 2)].max()
    assert top2 > top1 + 4.0
    assert top2 < 330.0


def test_speed_profile_passes() -> None:
    track = silverstone()
    car = CarParams()
    profile = speed_profile(track, car)
    assert np.all(profile.v_target <= profile.v_limit + 1e-9)
    assert np.all(profile.v_limit <= profile.v_corner + 1e-9)
    assert 83.0 < profile.lap_time_s < 90.0
    worn = speed_profile(track, car, grip_scale=0.95)
    light = speed_profile(track, car, mass_kg=car.mass_kg + 10.0)
    assert worn.lap_time_s > profile.lap_time_s > light.lap_time_s


def test_invalid_arguments() -> None:
    with pytest.raises(ConfigError):
        Simulation(silverstone(), n_cars=0)
    with pytest.raises(ConfigError):
        Simulation(silverstone(), n_cars=1, hz=7)
    with pytest.raises(ConfigError):
        Simulation(silverstone(), n_cars=2, cars=[CarParams()])


def test_report_accepts_records_and_columns() -> None:
    sim = Simulation(silverstone(), n_cars=1, seed=2)
    batch = sim.run(9300)
    from_columns = lap_report(batch)
    from_records = lap_report(to_records(batch))
    assert len(from_columns) == 1 and from_columns[0].lap == 1
    assert from_columns == from_records
    assert 84.0 < from_columns[0].lap_time_s < 95.0


def test_output_files_csv_and_jsonl(tmp_path: Path) -> None:
    sim = Simulation(silverstone(), n_cars=2, seed=9, session_start_us=START_US)
    batches = [sim.step() for _ in range(50)]
    expected = to_records(concat_batches(batches))
    n_csv = write_batches(tmp_path / "out.csv", batches)
    n_jsonl = write_records(tmp_path / "out.jsonl", expected)
    assert n_csv == n_jsonl == 100
    frame = pd.read_csv(tmp_path / "out.csv")
    assert tuple(frame.columns) == TELEMETRY_FIELDS
    assert frame["car_id"].tolist()[:2] == ["car-01", "car-02"]
    assert frame["timestamp"].tolist() == [r["timestamp"] for r in expected]
    assert np.allclose(frame["speed_kmh"], [r["speed_kmh"] for r in expected])
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == expected
    with pytest.raises(ConfigError, match="unknown output format"):
        write_records(tmp_path / "out.txt", expected)
    assert math.isfinite(frame["rpm"].sum())


def test_compile_notice_speaks_only_when_slow(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="runtime.compile_notice")
    with compile_notice("quick", after_s=0.5):
        pass
    assert caplog.messages == []
    with compile_notice("slow", after_s=0.01):
        time.sleep(0.1)
    assert caplog.messages[0] == "compiling slow (first run only, then cached)"
    assert caplog.messages[1].startswith("slow ready after")
