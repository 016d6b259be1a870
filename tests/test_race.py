"""Sessions end at the line, the race (grid, lights out, flag), traffic, pit stops and
strategies, on lean runs: a few cars, a few laps."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from circuit import silverstone
from producer.car import CarParams
from producer.pit_lane import SILVERSTONE, pit_lane
from producer.race import (
    RACE_DRS_FROM_LAP,
    Finisher,
    classification,
    drs_detection_points,
    pit_stops,
    straight_mask,
    traffic_laps,
)
from producer.race_report import format_classification, pit_loss_s, race_lines, result_text
from producer.report import format_report, lap_report, with_traffic
from producer.session import GRID_SLOT_M, POLE_BEHIND_LINE_M, SessionPlan, race_laps
from producer.simulation import Simulation
from producer.strategy import STATIONARY_LIMITS_S, Strategy, plan_strategy
from runtime.errors import ConfigError
from schemas.schema_files import load_schema
from schemas.topics import TELEMETRY_SCHEMA_FILE
from schemas.validation import RecordValidator

START_US = 1_751_716_800_000_000
TRACK = silverstone()


def _car(batch: dict[str, np.ndarray], car: str) -> dict[str, np.ndarray]:
    sel = batch["car_id"] == car
    return {name: column[sel] for name, column in batch.items()}


def _grid(batch: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Columns as (tick, car) arrays, NaN (or empty) where a car sent no record."""
    ticks = np.rint(batch["sim_time_s"] * 100).astype(int) - 1
    cars = np.array([int(c[4:]) - 1 for c in batch["car_id"].tolist()])
    out = {}
    for name in ("total_distance_m", "lap_distance_m", "speed_kmh", "lap"):
        grid = np.full((ticks.max() + 1, n), np.nan)
        grid[ticks, cars] = batch[name]
        out[name] = grid
    pit = np.zeros((ticks.max() + 1, n), dtype=bool)
    pit[ticks, cars] = batch["pit_status"] != "none"
    out["pit"] = pit
    return out


def _ends_just_past_the_line(car: dict[str, np.ndarray]) -> None:
    """The car's last record is its first sample past the line, and the only finished one."""
    assert car["lap"][-1] == car["lap"][-2] + 1
    assert 0.0 <= car["lap_distance_m"][-1] < 1.0  # under one tick at racing speed
    assert car["car_status"][-1] == "finished"
    assert set(car["car_status"][:-1].tolist()) == {"running"}


# ---------------------------------------------------------------- practice


def test_practice_cars_drive_their_laps_from_the_first_crossing_then_stop() -> None:
    sim = Simulation(TRACK, 3, seed=4, session=SessionPlan(laps=2))
    batch = sim.run_to_end()
    assert sim.finished and sim.laps == 2
    ends = []
    for i in range(3):
        car = _car(batch, f"car-0{i + 1}")
        _ends_just_past_the_line(car)
        # Lap 1 began mid-lap (car 0 on the line, from rest): laps 2 and 3 are full laps.
        assert car["lap"][0] == 1 and car["lap"][-1] == 4
        assert set(car["session_kind"].tolist()) == {"practice"}
        assert set(car["pit_status"].tolist()) == {"none"}
        assert car["tyre_age_laps"][-1] == 3
        ends.append(car["sim_time_s"][-1])
    # Each car stops on its own: cars further round the lap at the start finish earlier.
    assert ends[0] > ends[1] > ends[2]


def test_practice_has_no_grid_and_an_unlimited_one_never_ends() -> None:
    sim = Simulation(TRACK, 2, seed=1)
    assert sim.laps is None and not sim.strategies
    with pytest.raises(ConfigError, match="never ends"):
        sim.run_to_end()


# ---------------------------------------------------------------- the race


@pytest.fixture(scope="module")
def short_race() -> tuple[Simulation, dict[str, np.ndarray]]:
    """Three cars, two laps, each with one stop at the end of lap 1."""
    sim = Simulation(
        TRACK, 3, seed=6, session=SessionPlan(kind="race", laps=2), session_start_us=START_US
    )
    return sim, sim.run_to_end()


def test_the_grid_stands_behind_the_line_and_lap_1_starts_at_lights_out(short_race) -> None:
    _, batch = short_race
    first = {name: column[:3] for name, column in batch.items()}
    assert first["sim_time_s"].tolist() == [0.01] * 3  # the first tick after lights out
    assert first["lap"].tolist() == [1, 1, 1]
    slots = -(POLE_BEHIND_LINE_M + GRID_SLOT_M * np.arange(3))
    assert np.allclose(first["lap_distance_m"], slots, atol=0.01)  # at rest before it
    assert np.array_equal(first["total_distance_m"], first["lap_distance_m"])
    assert np.all(first["speed_kmh"] < 1.0)
    assert set(batch["session_kind"].tolist()) == {"race"}
    for i in range(3):
        car = _car(batch, f"car-0{i + 1}")
        # Negative lap distance until the first crossing, which starts no lap.
        behind = car["lap_distance_m"] < 0
        assert behind[0] and not behind[-1]
        first_cross = int(np.argmin(behind))
        assert np.all(behind[:first_cross]) and not behind[first_cross:].any()
        assert car["lap"][first_cross] == 1
        assert np.all(np.diff(car["total_distance_m"]) >= 0.0)


def test_the_launch_is_traction_limited(short_race) -> None:
    _, batch = short_race
    for i in range(3):
        car = _car(batch, f"car-0{i + 1}")
        t100 = car["sim_time_s"][np.argmax(car["speed_kmh"] >= 100.0)]
        assert 2.5 <= t100 <= 3.0, (i, t100)


def test_every_car_finishes_the_lap_it_is_on_after_the_leader(short_race) -> None:
    sim, batch = short_race
    assert sim.finished
    for i in range(3):
        _ends_just_past_the_line(_car(batch, f"car-0{i + 1}"))
    result = classification(batch)
    assert [f.laps for f in result] == [2, 2, 2]
    assert result[0].gap_s == 0.0 and all(f.gap_s > 0.0 for f in result[1:])
    assert [f.position for f in result] == [1, 2, 3]
    winner = _car(batch, result[0].car_id)
    # The others took the flag after the winner, at their own crossing.
    for f in result[1:]:
        assert _car(batch, f.car_id)["sim_time_s"][-1] >= winner["sim_time_s"][-1]


def test_a_lapped_car_finishes_one_lap_down() -> None:
    slow = replace(CarParams(), ice_power_w=250_000.0, ers_power_w=0.0, tyre_mu_lat=1.3)
    sim = Simulation(
        TRACK,
        2,
        seed=1,
        cars=[CarParams(), slow],
        session=SessionPlan(kind="race", laps=4),
        strategies=[Strategy(("medium",)), Strategy(("medium",))],
    )
    batch = sim.run_to_end()
    leader, lapped = _car(batch, "car-01"), _car(batch, "car-02")
    _ends_just_past_the_line(leader)
    _ends_just_past_the_line(lapped)
    assert leader["lap"][-1] == 5 and lapped["lap"][-1] == 4
    # Its first crossing after the flag ends its race.
    flag = leader["sim_time_s"][-1]
    crossings = lapped["sim_time_s"][1:][np.diff(lapped["lap"]) == 1]
    assert crossings[-2] < flag <= crossings[-1]
    result = classification(batch)
    assert [(f.car_id, f.laps_down, f.gap_s) for f in result] == [
        ("car-01", 0, 0.0),
        ("car-02", 1, None),
    ]
    assert result[1].gap_text == "+1 LAP"
    assert Finisher(2, "x", 3, 1.0, 0.5, 0).gap_text == "+0.500 s"


def test_race_distance_and_fuel() -> None:
    assert race_laps(TRACK) == 52  # the fewest laps over 305 km
    sim = Simulation(TRACK, 2, seed=1, session=SessionPlan(kind="race"))
    assert sim.laps == 52
    assert np.all((sim.state.fuel > 100.0) & (sim.state.fuel <= 110.0))
    short = Simulation(TRACK, 1, seed=1, session=SessionPlan(kind="race", laps=3))
    assert 5.0 < short.state.fuel[0] < 8.0
    chosen = Simulation(TRACK, 1, seed=1, session=SessionPlan(kind="race", laps=3, fuel_kg=50.0))
    assert chosen.state.fuel[0] == 50.0


def test_session_plans_refuse_bad_input() -> None:
    for bad in (
        {"kind": "qualy"},
        {"laps": 0},
        {"tyre": "wet"},
        {"fuel_kg": float("nan")},
        {"fuel_kg": -1.0},
        {"fuel_kg": 200.0},
    ):
        with pytest.raises(ConfigError):
            SessionPlan(**bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="20 slots"):
        Simulation(TRACK, 21, session=SessionPlan(kind="race", laps=1))


# ---------------------------------------------------------------- a 20-car race


@pytest.fixture(scope="module")
def grand_prix() -> tuple[Simulation, dict[str, np.ndarray]]:
    sim = Simulation(
        TRACK, 20, seed=1, session=SessionPlan(kind="race", laps=5), session_start_us=START_US
    )
    return sim, sim.run_to_end()


def _lap_orders(batch: dict[str, np.ndarray], laps: int) -> list[list[str]]:
    """The order in which the cars completed each lap."""
    orders = []
    for lap in range(1, laps + 1):
        crossing = []
        for car in sorted(set(batch["car_id"].tolist())):
            c = _car(batch, car)
            k = np.flatnonzero((c["lap"][1:] == lap + 1) & (c["lap"][:-1] == lap))
            if len(k):
                crossing.append((c["sim_time_s"][k[0] + 1], car))
        orders.append([car for _, car in sorted(crossing)])
    return orders


def test_positions_change_and_the_order_is_classified(grand_prix) -> None:
    _, batch = grand_prix
    orders = _lap_orders(batch, 5)
    assert all(len(order) == 20 for order in orders)
    moved = sum(
        a != b for o1, o2 in itertools.pairwise(orders) for a, b in zip(o1, o2, strict=True)
    )
    assert moved >= 10
    result = classification(batch)
    assert len(result) == 20 and result[0].laps == 5
    assert [f.car_id for f in result] == orders[-1]
    gaps = [f.gap_s for f in result]
    assert gaps[0] == 0.0 and all(b >= a for a, b in itertools.pairwise(gaps))  # type: ignore[operator]
    assert 5.0 < gaps[-1] < 120.0  # type: ignore[operator]


def test_cars_do_not_drive_through_each_other_in_corners(grand_prix) -> None:
    _, batch = grand_prix
    g = _grid(batch, 20)
    total, speed = g["total_distance_m"], g["speed_kmh"]
    # Off the pit lane, and not rejoining from it: the pit exit runs beside the track, where
    # the cars on the racing line pass a car that is still accelerating to racing speed.
    recent = np.cumsum(g["pit"], axis=0)
    recent[600:] -= recent[:-600].copy()
    on_track = recent == 0
    ahead = total[:, :, None] - total[:, None, :]  # [tick, i, j]: i ahead of j by
    passed = (ahead[:-1] < 0) & (ahead[:-1] > -50) & (ahead[1:] >= 0)
    passed &= on_track[1:, :, None] & on_track[1:, None, :]
    t, i, j = np.nonzero(passed)
    assert len(t) >= 10  # overtakes happen
    lap_m = g["lap_distance_m"][t + 1, i] % TRACK.length_m
    straight = straight_mask(TRACK)[(lap_m / TRACK.spacing_m).astype(int) % TRACK.n_points]
    closing = speed[t + 1, i] - speed[t + 1, j]
    # On a straight a car passes with a tow and DRS; in a corner it follows unless the car
    # ahead is much slower (a lap-1 scramble), never at an absurd closing speed.
    assert np.all(closing[~straight] < 60.0), closing[~straight]
    assert np.count_nonzero(straight) >= np.count_nonzero(~straight) / 2


def test_every_record_of_the_race_keeps_the_contract(grand_prix) -> None:
    _, batch = grand_prix
    validator = RecordValidator(load_schema(TELEMETRY_SCHEMA_FILE))
    validator.check_columns(batch)  # the channel table's ranges, e.g. g within 10
    assert batch["lap_distance_m"].min() < 0.0 and batch["total_distance_m"].min() < 0.0
    assert {"none", "pit_lane", "pit_stop"} == set(batch["pit_status"].tolist())


def test_drs_only_from_lap_3_in_its_zones(grand_prix) -> None:
    _, batch = grand_prix
    drs = batch["drs"]
    assert drs.any()
    assert not drs[batch["lap"] < RACE_DRS_FROM_LAP].any()
    assert np.all(TRACK.drs_zone_at(batch["lap_distance_m"][drs]))
    assert not drs[batch["pit_status"] != "none"].any()


def _two_car_race(second: CarParams, laps: int = 4) -> dict[str, np.ndarray]:
    return Simulation(
        TRACK,
        2,
        seed=1,
        cars=[CarParams(), second],
        session=SessionPlan(kind="race", laps=laps),
        strategies=[Strategy(("medium",)), Strategy(("medium",))],
    ).run_to_end()


def test_drs_only_within_a_second_of_the_car_ahead_at_detection() -> None:
    # The same car 8 m behind on the grid stays within the second (passing and repassing
    # with the tow): DRS from lap 3, in each zone, for the car behind at the detection point.
    twins = _two_car_race(CarParams())
    drs = twins["drs"]
    assert set(twins["lap"][drs].tolist()) == {3, 4}
    opened = twins["lap_distance_m"][drs]
    for start, end in TRACK.drs_zones_m:
        assert np.any((opened >= start) & (opened < end))
    # Never both in the same zone on the same lap: only the car behind at detection.
    for lap in (3, 4):
        for start, end in TRACK.drs_zones_m:
            zone = drs & (twins["lap"] == lap) & (twins["lap_distance_m"] >= start)
            zone &= twins["lap_distance_m"] < end
            assert len(set(twins["car_id"][zone].tolist())) <= 1
    # A car 10 % down on power is more than a second behind by lap 3: no DRS.
    slower = replace(CarParams(), ice_power_w=0.9 * CarParams().ice_power_w)
    apart = _two_car_race(slower)
    assert not apart["drs"].any()
    assert len(drs_detection_points(TRACK)) == len(TRACK.drs_zones_m) == 2


def test_a_tow_adds_top_speed_and_dirty_air_costs_corner_speed() -> None:
    twins = [CarParams(), CarParams()]
    strategies = [Strategy(("medium",)), Strategy(("medium",))]
    sim = Simulation(
        TRACK,
        2,
        seed=1,
        cars=twins,
        session=SessionPlan(kind="race", laps=2),
        strategies=strategies,
    )
    batch = sim.run_to_end()
    front, behind = _car(batch, "car-01"), _car(batch, "car-02")
    hangar = TRACK.corner("Hangar Straight")
    copse = TRACK.corner("Copse")

    def top(car, corner, lap):
        sel = (car["lap"] == lap) & (car["lap_distance_m"] >= corner.start_m)
        sel &= car["lap_distance_m"] < corner.end_m
        return car["speed_kmh"][sel].max(), car["speed_kmh"][sel].min()

    # The same car, 8 m behind at the start: it follows within the second all race.
    assert top(behind, hangar, 1)[0] > top(front, hangar, 1)[0] + 3.0
    assert top(behind, copse, 1)[1] < top(front, copse, 1)[1] - 2.0


def test_a_tow_and_drs_stop_at_the_top_of_8th(grand_prix) -> None:
    # The engine stops pulling at CarParams.top_gear_max_rpm in 8th: a tow with DRS open
    # tops out near 337 km/h, and the rpm channel stays in its envelope.
    _, batch = grand_prix
    towed = batch["drs"]
    assert towed.any()
    assert 325.0 < batch["speed_kmh"][towed].max() < 341.0
    full = (batch["throttle"] >= 0.98) & (batch["gear"] >= 3)
    assert batch["rpm"][full].max() <= 12_500.0


def _records(car: str, t: np.ndarray, total: np.ndarray) -> dict[str, np.ndarray]:
    return {"car_id": np.full(len(t), car), "sim_time_s": t, "total_distance_m": total}


def test_traffic_laps_are_those_passed_within_the_window_behind_another_car() -> None:
    # 50 m/s on a 1,000 m lap for 60 s (3 laps): B runs 0.5 s behind A all along; C starts
    # 10 s behind B and, from 30 s, gains 20 m/s until it sits 0.4 s behind B (at 55 s,
    # 2,705 m: lap 3). A leads and is never behind anyone; C is behind B only on lap 3.
    length = 1_000.0
    t = np.arange(0.0, 60.0, 0.01)
    c_total = 50.0 * (t - 10.5) + 20.0 * np.clip(t - 30.0, 0.0, None)
    cars = {
        "A": 50.0 * t,
        "B": 50.0 * (t - 0.5),
        "C": np.minimum(c_total, 50.0 * (t - 0.9)),
    }
    batch = {
        name: np.concatenate([_records(car, t, total)[name] for car, total in cars.items()])
        for name in ("car_id", "sim_time_s", "total_distance_m")
    }
    assert traffic_laps(batch, length) == {("B", 1), ("B", 2), ("B", 3), ("C", 3)}
    # A window shorter than B's 0.5 s leaves only C, 0.4 s behind.
    assert traffic_laps(batch, length, window_s=0.45) == {("C", 3)}


@pytest.fixture(scope="module")
def full_race() -> dict[str, np.ndarray]:
    """The demo's race: 20 cars, the full distance, fuel for it."""
    sim = Simulation(TRACK, 20, seed=1, session=SessionPlan(kind="race"))
    return sim.run_to_end()


def test_the_report_judges_flying_laps_and_sums_up_a_race(full_race) -> None:
    batch = full_race
    laps = with_traffic(lap_report(batch), traffic_laps(batch, TRACK.length_m))
    assert any(lap.traffic for lap in laps) and any(lap.pit_lane for lap in laps)
    flying = [lap for lap in laps if lap.flying]
    assert flying and all(not lap.failures() for lap in flying), [
        (lap.car_id, lap.lap, lap.failures()) for lap in flying if lap.failures()
    ]
    text = format_report(laps)
    assert f"{len(flying)} flying laps: min" in text and "FAIL" not in text
    assert "from rest" in text and "in traffic" in text
    table = format_classification(batch).splitlines()
    assert len(table) == 2 + 20 and table[2].startswith("P1 ")
    assert [row.split()[1] for row in table[2:]] == [f.car_id for f in classification(batch)]


# ---------------------------------------------------------------- pit stops


def _pitting_race(stationary_s: float | None) -> dict[str, np.ndarray]:
    """One car, three laps; a stop at the end of lap 1 unless ``stationary_s`` is None."""
    if stationary_s is None:
        strategy = Strategy(("medium",))
    else:
        strategy = Strategy(("medium", "hard"), (1,), (stationary_s,))
    sim = Simulation(
        TRACK, 1, seed=3, session=SessionPlan(kind="race", laps=3), strategies=[strategy]
    )
    return sim.run_to_end()


@pytest.fixture(scope="module")
def stop_and_no_stop() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    return _pitting_race(2.5), _pitting_race(None)


def test_a_pit_stop_in_the_stream(stop_and_no_stop) -> None:
    car, _ = stop_and_no_stop
    status = car["pit_status"]
    runs = [status[0]]
    for s in status[1:].tolist():
        if s != runs[-1]:
            runs.append(s)
    assert runs == ["none", "pit_lane", "pit_stop", "pit_lane", "none"]
    lane = status != "none"
    # In-lap 1 ends in the pit lane; the box is after the line, the out-lap starts there.
    assert set(car["lap"][lane].tolist()) == {1, 2}
    crossing = int(np.flatnonzero(np.diff(car["lap"]) == 1)[0]) + 1
    assert lane[crossing - 1] and lane[crossing]
    stopped = status == "pit_stop"
    assert np.count_nonzero(stopped) * 0.01 == pytest.approx(2.5)
    assert np.all(car["speed_kmh"][stopped] < 0.6)  # sensor noise around 0
    # The speed limit between the lines (80 km/h; the limiter holds 79.5).
    lay = SILVERSTONE
    p = (car["lap_distance_m"] + lay.entry_before_line_m) % TRACK.length_m
    limited = lane & (p >= lay.entry_before_line_m - lay.limit_before_line_m)
    limited &= p <= lay.entry_before_line_m + lay.limit_after_line_m
    assert car["speed_kmh"][limited].max() <= 80.0 + 0.8
    # New tyres at the release: the second stint's compound, age 0, no wear.
    release = int(np.flatnonzero(stopped)[-1]) + 1
    assert car["tyre_compound"][release - 1] == "medium"
    assert car["tyre_compound"][release] == "hard" and car["tyre_age_laps"][release] == 0
    assert car["tyre_wear"][release] == 0.0
    assert car["pit_stops"][release - 1] == 0 and car["pit_stops"][release] == 1
    assert car["tyre_age_laps"][-1] == 2  # the ends of laps 2 and 3 since
    # The pit lane runs beside the track, to its right.
    x, y = TRACK.position(car["lap_distance_m"][stopped])
    off = np.hypot(car["x_m"][stopped] - x, car["y_m"][stopped] - y)
    assert np.allclose(off, lay.offset_m, atol=0.01)
    assert pit_stops(car) == pit_stops(car)[:1]
    (stop,) = pit_stops(car)
    assert (stop.in_lap, stop.compound_before, stop.compound_after) == (1, "medium", "hard")
    assert stop.stationary_s == pytest.approx(2.5)


def test_a_stop_costs_18_to_24_s_against_staying_out(stop_and_no_stop) -> None:
    with_stop, without = stop_and_no_stop
    loss = with_stop["sim_time_s"][-1] - without["sim_time_s"][-1]
    assert 18.0 <= loss <= 24.0, loss
    # The longest stop still costs less than the band's top.
    assert _pitting_race(3.5)["sim_time_s"][-1] - without["sim_time_s"][-1] <= 24.0


def test_the_pit_lane_scales_to_a_short_circuit() -> None:
    lane = pit_lane(TRACK, 20)
    assert lane.entry_m == pytest.approx(TRACK.length_m - SILVERSTONE.entry_before_line_m)
    assert 0 < lane.limit_in < lane.box.min() < lane.box.max() < lane.limit_out < lane.exit
    assert lane.v_limit * 3.6 <= SILVERSTONE.speed_limit_kmh


# ---------------------------------------------------------------- strategies


def test_strategies_obey_the_rules_and_vary_with_the_seed() -> None:
    plans = [plan_strategy(i, seed, 52) for seed in range(20) for i in range(20)]
    assert all(p.legal_for_dry_race() for p in plans)
    assert {p.stops for p in plans} == {1, 2}
    low, high = STATIONARY_LIMITS_S
    for p in plans:
        assert all(1 <= lap <= 51 for lap in p.stop_laps)
        assert all(low <= s <= high for s in p.stationary_s)
    assert len({p.compounds for p in plans}) >= 6
    assert plan_strategy(3, 1, 52) == plan_strategy(3, 1, 52)
    assert [plan_strategy(i, 1, 52) for i in range(20)] != [
        plan_strategy(i, 2, 52) for i in range(20)
    ]
    # --tyre: every car starts on it, and still uses two compounds.
    for i in range(20):
        hard = plan_strategy(i, 7, 52, start_compound="hard")
        assert hard.start_compound == "hard" and hard.legal_for_dry_race()
    # Short races: a two-lap race stops at the end of lap 1, a one-lap race cannot stop.
    assert all(plan_strategy(i, 1, 2).stop_laps == (1,) for i in range(20))
    assert plan_strategy(0, 1, 1).stops == 0


def test_strategies_refuse_what_breaks_the_rules() -> None:
    with pytest.raises(ConfigError):
        Strategy(("medium", "inter"), (3,), (2.5,))
    with pytest.raises(ConfigError):
        Strategy(("medium", "hard"), (3,), (1.0,))  # a stop is 2 to 3.5 s
    with pytest.raises(ConfigError):
        Strategy(("medium", "hard", "soft"), (5, 3), (2.5, 2.5))
    with pytest.raises(ConfigError):
        Simulation(TRACK, 2, strategies=[Strategy(("medium",))] * 2)  # practice: no strategy


# ---------------------------------------------------------------- the report's race lines


def test_the_race_lines_of_the_report(short_race) -> None:
    _, batch = short_race
    loss, stationary, order = race_lines(TRACK, 6, batch)
    assert loss.label == "pit stop, time lost" and loss.ok is True
    assert 18.0 <= float(loss.value.split()[0]) <= 24.0
    assert loss.band == "18 .. 24 s"
    # Each car of the short race stopped once (its strategy: at the end of lap 1).
    assert stationary.label == "pit stop, stationary" and stationary.ok is True
    assert len(pit_stops(batch)) == 3
    result = classification(batch)
    assert order.ok is None and order.value == result_text(batch)
    assert order.value.startswith(f"P1 {result[0].car_id} winner, P2 {result[1].car_id} +")
    assert order.value.count("P") == 3
    # Without a race: the controlled stop's figures, and no order.
    _, alone, no_order = race_lines(TRACK, 6, None)
    assert alone.ok is True and "race only" in no_order.value


def test_pit_loss_grows_with_the_time_stationary() -> None:
    short, long = pit_loss_s(TRACK, 2, stationary_s=2.0), pit_loss_s(TRACK, 2, stationary_s=3.5)
    assert long - short == pytest.approx(1.5, abs=0.02)
    assert 18.0 <= short < long <= 24.0
