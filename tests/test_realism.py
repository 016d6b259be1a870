"""The acceptance envelope of a flying lap at Silverstone (see producer.report.ENVELOPE) and
the bands of a race there (producer.report.RACE_BANDS).

One car runs three laps from a standing start; laps 2 and 3 are flying laps and every item
of the envelope is checked on each of them. The race bands are measured as the realism
report measures them: short runs of one car alone (fuel loads, compounds, a stint on one set)
and the flying lap of each car of a 20-car grid.
"""

from __future__ import annotations

import numpy as np
import pytest

from circuit import silverstone
from producer.report import (
    ENVELOPE,
    RACE_BANDS,
    CarRaceFigures,
    LapFigures,
    car_race_figures,
    format_race_section,
    format_report,
    info_line,
    lap_report,
    race_line,
)
from producer.simulation import Simulation, concat_batches
from producer.tyres import COMPOUNDS

SEED = 2025


@pytest.fixture(scope="module")
def run() -> dict[str, np.ndarray]:
    sim = Simulation(silverstone(), n_cars=1, seed=SEED, session_start_us=1_751_716_800_000_000)
    batch = sim.run(100 * 272)  # three laps from a standing start: about 271 s
    return batch


@pytest.fixture(scope="module")
def flying(run: dict[str, np.ndarray]) -> list[LapFigures]:
    laps = lap_report(run)
    assert [lap.lap for lap in laps] == [1, 2, 3], format_report(laps)
    assert [lap.standing_start for lap in laps] == [True, False, False]
    return laps[1:]


def within(name: str, laps: list[LapFigures]) -> None:
    limit = ENVELOPE[name]
    for lap in laps:
        value = float(getattr(lap, name))
        assert limit.low <= value <= limit.high, (
            f"lap {lap.lap}: {limit.label} = {value:g}, envelope [{limit.low:g}, {limit.high:g}]"
            f"\n{format_report(laps)}"
        )


def test_envelope_covers_every_item_of_realism_md() -> None:
    assert set(ENVELOPE) == {
        "lap_time_s",
        "top_speed_kmh",
        "min_speed_kmh",
        "peak_lat_g",
        "max_lat_g_sample",
        "mean_abs_lat_g",
        "peak_brake_g",
        "braking_zones",
        "full_throttle_share",
        "brake_share",
        "fuel_used_kg",
        "n_gears_used",
        "rpm_full_throttle_min",
        "rpm_full_throttle_max",
    }
    assert (ENVELOPE["lap_time_s"].low, ENVELOPE["lap_time_s"].high) == (84.5, 90.0)
    assert ENVELOPE["max_lat_g_sample"].high == 6.5


def test_lap_time(flying: list[LapFigures]) -> None:
    within("lap_time_s", flying)


def test_top_speed(flying: list[LapFigures]) -> None:
    within("top_speed_kmh", flying)


def test_slowest_point_is_the_loop(flying: list[LapFigures], run: dict[str, np.ndarray]) -> None:
    within("min_speed_kmh", flying)
    track = silverstone()
    for lap in (2, 3):
        sel = run["lap"] == lap
        at = run["lap_distance_m"][sel][np.argmin(run["speed_kmh"][sel])]
        assert track.corner_at(float(at)) == "The Loop"


def test_lateral_g(flying: list[LapFigures]) -> None:
    within("peak_lat_g", flying)
    within("max_lat_g_sample", flying)
    within("mean_abs_lat_g", flying)


def test_braking(flying: list[LapFigures]) -> None:
    within("peak_brake_g", flying)
    within("braking_zones", flying)
    within("brake_share", flying)


def test_full_throttle(flying: list[LapFigures]) -> None:
    within("full_throttle_share", flying)


def test_fuel(flying: list[LapFigures]) -> None:
    within("fuel_used_kg", flying)


def test_gears_and_rpm(flying: list[LapFigures]) -> None:
    within("n_gears_used", flying)
    for lap in flying:
        assert lap.gears_used == (1, 2, 3, 4, 5, 6, 7, 8)
    within("rpm_full_throttle_min", flying)
    within("rpm_full_throttle_max", flying)


def test_every_item_passes_on_both_flying_laps(flying: list[LapFigures]) -> None:
    for lap in flying:
        assert lap.failures() == [], format_report(flying)
        assert all(lap.checks().values())
    table = format_report(flying)
    assert "FAIL" not in table
    assert table.count("PASS") == len(ENVELOPE)


def test_gearbox_does_not_hunt(run: dict[str, np.ndarray], flying: list[LapFigures]) -> None:
    # A shift is never undone within half a second: a lift or a dab of the brakes near a shift
    # speed keeps the gear.
    gear = run["gear"]
    shifts = np.flatnonzero(np.diff(gear)) + 1
    direction = np.sign(np.diff(gear)[shifts - 1])
    reversed_soon = (direction[1:] != direction[:-1]) & (np.diff(shifts) < 50)  # 100 Hz
    assert not reversed_soon.any(), run["sim_time_s"][shifts[1:][reversed_soon]]
    # A real car at Silverstone makes 43 to 48 shifts a lap (the band: 43 to 50).
    band = RACE_BANDS["gear_changes"]
    for lap in flying:
        assert band.low <= lap.gear_changes <= band.high, format_report(flying)


# ------------------------------------------------------------------------------ a race


def in_band(name: str, value: float) -> None:
    limit = RACE_BANDS[name]
    assert limit.low <= value <= limit.high, f"{limit.label} = {value:g}, band {limit}"


def test_race_bands_are_those_of_realism_md() -> None:
    bands = {name: (limit.low, limit.high) for name, limit in RACE_BANDS.items()}
    assert bands == {
        "fuel_effect_s_per_kg": (0.025, 0.040),
        "soft_to_medium_s": (0.4, 0.8),
        "medium_to_hard_s": (0.3, 0.6),
        "soft_to_hard_s": (0.6, 1.6),
        "degradation_soft_s_per_lap": (0.01, 0.08),
        "degradation_medium_s_per_lap": (0.01, 0.08),
        "degradation_hard_s_per_lap": (0.01, 0.08),
        "qualifying_spread_s": (1.5, 2.5),
        "gear_changes": (43, 50),
        "pit_loss_s": (18.0, 24.0),
        "stationary_s": (2.0, 3.5),
    }


@pytest.fixture(scope="module")
def race(flying: list[LapFigures]) -> CarRaceFigures:
    return car_race_figures(silverstone(), SEED, flying)


def test_fuel_effect_per_kg(race: CarRaceFigures) -> None:
    # The same car on new mediums of the same age at 20 and 100 kg: each kg costs 0.025 to
    # 0.040 s a lap (TUMFTM: 0.034 s/kg at Silverstone).
    in_band("fuel_effect_s_per_kg", race.fuel_effect_s_per_kg)
    assert race.fuel_effect_s_per_kg == pytest.approx(0.0272, abs=0.002)


def test_new_tyres_soft_medium_hard(race: CarRaceFigures) -> None:
    times = race.new_tyre_lap_s
    assert list(times) == list(COMPOUNDS)
    in_band("soft_to_medium_s", times["medium"] - times["soft"])
    in_band("medium_to_hard_s", times["hard"] - times["medium"])
    in_band("soft_to_hard_s", times["hard"] - times["soft"])


def test_degradation_is_fastest_on_softs(race: CarRaceFigures) -> None:
    degradation = race.degradation_s_per_lap
    for name in COMPOUNDS:
        in_band(f"degradation_{name}_s_per_lap", degradation[name])
    assert degradation["soft"] > degradation["medium"] > degradation["hard"]


def test_a_stint_gets_faster_as_fuel_burns_on_hards_and_slower_per_lap_of_age() -> None:
    # A stint on one set with the fuel burning: the lap time follows fuel (about 2 kg a lap
    # at 0.027 s/kg, -0.053 s a lap) plus degradation; on hards the fuel wins.
    sim = Simulation(silverstone(), n_cars=1, seed=SEED)
    sim.fit_tyres(0, "hard", cold=False)
    blocks = []
    while sim.lap[0] < 7:
        blocks.append(sim.step_block(1000))
    laps = [lap for lap in lap_report(concat_batches(blocks)) if not lap.standing_start]
    times = [lap.lap_time_s for lap in laps][:5]
    slope = np.polyfit(np.arange(len(times)), times, 1)[0]
    assert -0.05 < slope < -0.02, times


def test_a_cold_set_is_slower_for_the_first_part_of_its_first_lap() -> None:
    def lap_2(cold: bool) -> tuple[float, float]:
        sim = Simulation(silverstone(), n_cars=1, seed=SEED)
        blocks = []
        while sim.lap[0] < 2:
            blocks.append(sim.step_block(50))
        sim.fit_tyres(0, "hard", cold=cold)  # past the line, as if just out of the pit box
        while sim.lap[0] < 3:
            blocks.append(sim.step_block(500))
        b = concat_batches(blocks)
        lap = next(lap for lap in lap_report(b) if lap.lap == 2)
        sel = b["lap"] == 2
        at_3_km = b["sim_time_s"][sel][np.searchsorted(b["lap_distance_m"][sel], 3000.0)]
        return lap.lap_time_s, float(at_3_km)

    (warm_lap, warm_3_km), (cold_lap, cold_3_km) = lap_2(False), lap_2(True)
    assert 0.5 < cold_lap - warm_lap < 1.5
    # All of it lost in the first 3 km, none after.
    assert cold_3_km - warm_3_km == pytest.approx(cold_lap - warm_lap, abs=0.05)


def test_qualifying_spread_and_grid_order(race: CarRaceFigures) -> None:
    times = np.array([lap.lap_time_s for lap in race.qualifying])
    assert len(times) == 20
    assert np.all(np.diff(times) > 0.0), times  # car index 0 on pole, in pace order
    assert race.grid_in_pace_order
    in_band("qualifying_spread_s", race.qualifying_spread_s)


def test_every_car_of_the_grid_shifts_within_the_band(race: CarRaceFigures) -> None:
    for lap in race.qualifying:
        in_band("gear_changes", lap.gear_changes)
        assert lap.gears_used == (1, 2, 3, 4, 5, 6, 7, 8)
        assert lap.rpm_full_throttle_min >= 10_000 and lap.rpm_full_throttle_max <= 12_500


def test_race_section_lines_and_format(race: CarRaceFigures) -> None:
    lines = race.lines()
    assert all(line.ok for line in lines if line.ok is not None), format_race_section(lines)
    lines += [race_line("pit_loss_s", [19.8, 25.0]), info_line("finishing order", "car-01")]
    table = format_race_section(lines).splitlines()
    assert table[0].split() == ["race", "figure", "value", "band", "pass"]
    assert table[-2].startswith("pit stop, time lost") and table[-2].endswith("FAIL")
    assert "19.800 .. 25.000 s" in table[-2] and "18 .. 24 s" in table[-2]
    assert table[-1].split() == ["finishing", "order", "car-01"]
    assert sum(row.endswith("PASS") for row in table) == 9
