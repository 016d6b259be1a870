"""Tyre compounds and sets, the pace spread of a grid, race fuel and the gearbox's shift
points (producer.tyres, producer.car): the model's parameters, without running laps."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from circuit import silverstone
from producer.car import (
    RACE_FUEL_ALLOWANCE_KG,
    CarParams,
    car_params_for,
    fuel_for_race,
    pace_deficits_s,
)
from producer.driver import speed_profile
from producer.tyres import COMPOUND, COMPOUNDS, TyreSets, compound, grip_scale, warmup_scale
from runtime.errors import ConfigError


def test_compounds_softer_is_grippier_and_wears_faster() -> None:
    assert COMPOUNDS == ("soft", "medium", "hard")
    soft, medium, hard = (compound(name) for name in COMPOUNDS)
    assert medium.grip == 1.0
    assert soft.grip > medium.grip > hard.grip
    assert soft.wear_factor > medium.wear_factor > hard.wear_factor
    # Degradation, grip lost per unit of wear times wear per lap: fastest on softs.
    loss = [c.grip_loss_at_full_wear * c.wear_factor for c in (soft, medium, hard)]
    assert loss[0] > loss[1] > loss[2]
    assert set(COMPOUND) == set(COMPOUNDS)


@pytest.mark.parametrize("name", ["intermediate", "wet", "unknown", "Soft", ""])
def test_an_unknown_compound_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match="unknown tyre compound"):
        compound(name)
    with pytest.raises(ConfigError):
        TyreSets(2, name)


def test_grip_scale_falls_with_wear_and_on_a_cold_set() -> None:
    soft = compound("soft")
    assert grip_scale("soft", 0.0) == soft.grip
    assert grip_scale("soft", 1.0) == pytest.approx(soft.grip * (1 - soft.grip_loss_at_full_wear))
    assert grip_scale("soft", 2.0) == grip_scale("soft", 1.0)  # wear stops at 1
    assert grip_scale("medium", 0.5) < grip_scale("medium", 0.1) < grip_scale("medium", 0.0)
    # A cold set: the warm-up loss where it was fitted, none once warm.
    metres = np.array([0.0, 0.5 * soft.warmup_m, soft.warmup_m, 10 * soft.warmup_m])
    scale = warmup_scale(soft, metres)
    assert np.allclose(scale, [1 - soft.warmup_grip_loss, 1 - soft.warmup_grip_loss / 2, 1, 1])
    assert warmup_scale(soft, math.inf) == 1.0
    assert np.allclose(grip_scale("soft", 0.0, metres), soft.grip * scale)


def test_tyre_sets_count_the_age_in_laps_from_the_fitting_lap() -> None:
    sets = TyreSets(3, "hard")
    assert sets.names().tolist() == ["hard"] * 3
    sets.fit(1, "soft", lap=5, cold_from_m=4 * 5891.0 + 120.0)
    sets.fit(2, "medium", lap=7, age_laps=3)
    assert sets.name(1) == "soft" and sets.name(2) == "medium"
    assert sets.age_laps(np.array([1, 5, 7])).tolist() == [0, 0, 3]
    assert sets.age_laps(np.array([4, 6, 8])).tolist() == [3, 1, 4]
    # A block's lap column, tick-major: two ticks of three cars.
    assert sets.age_laps(np.array([1, 5, 7, 2, 6, 7])).tolist() == [0, 0, 3, 1, 1, 3]
    assert np.isnan(sets.cold_from_m[[0, 2]]).all() and sets.cold_from_m[1] == 4 * 5891.0 + 120
    with pytest.raises(ConfigError, match="tyre age"):
        sets.fit(0, "soft", lap=1, age_laps=-1)


def test_race_fuel_is_the_distance_plus_a_margin_within_the_allowance() -> None:
    track = silverstone()
    fuel = fuel_for_race(52, track)  # a Grand Prix at Silverstone
    assert 52 * 1.95 < fuel < 52 * 1.95 + 4.0
    assert fuel_for_race(3, track) == pytest.approx(3 * 1.95 * 1.02 + 1.0, abs=0.01)
    assert fuel_for_race(60, track) == RACE_FUEL_ALLOWANCE_KG == 110.0
    with pytest.raises(ConfigError):
        fuel_for_race(0, track)


@pytest.mark.parametrize("seed", [1, 2, 7, 2025])
def test_pace_spread_in_grid_order(seed: int) -> None:
    deficits = pace_deficits_s(20, seed)
    assert deficits[0] == 0.0 and np.all(np.diff(deficits) > 0.035)
    assert 1.7 <= deficits[-1] <= 2.3
    # The cars the deficits become: their flying laps (speed profiles at 50 kg of fuel) in
    # index order, as far apart as the deficits say (the sensitivities are linear).
    track = silverstone()
    cars = [car_params_for(i, seed) for i in range(20)]
    times = np.array([speed_profile(track, c, mass_kg=c.mass_kg + 50.0).lap_time_s for c in cars])
    assert np.all(np.diff(times) > 0.0)
    assert np.allclose(times - times[0], deficits, atol=0.08)
    assert car_params_for(4, seed) == car_params_for(4, seed)
    assert pace_deficits_s(25, seed)[:20].tolist() == deficits.tolist()


def test_shift_points_are_checked() -> None:
    car = CarParams()
    up, down = car.gear_upshift_speeds_m_s(), car.gear_downshift_speeds_m_s()
    assert len(up) == len(down) == 7 and np.all(down < up)
    rpm = car.rpm_per_m_s()
    # After each upshift the engine still pulls: 10,000 rpm or more above 2nd.
    assert np.all(up[1:] * rpm[2:] >= 10_000)
    assert max(car.upshift_rpm) <= 12_500
    with pytest.raises(ValueError, match="shift down below"):
        replace(car, downshift_rpm=(12_000.0,) * 7)
    with pytest.raises(ValueError, match="7 upshifts"):
        replace(car, upshift_rpm=(11_800.0,) * 8)
