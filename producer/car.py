"""Car parameters: one frozen dataclass, every field named with its unit.

The defaults describe a current Formula 1 car at Silverstone in the spirit of published
parameter sets (about 800 kg with driver and no fuel, c_w*A about 1.5 m2, c_z*A about 4.5 to
5 m2, a 1.6 L V6 turbo hybrid with about 560 kW from the engine and 120 kW from the MGU-K).
:func:`car_params_for` gives each car of a grid its own parameters, reproducible from the
seed: a pace deficit that grows with the car index (a qualifying order, car 0 fastest, P1 to
P20 about 1.5 to 2.5 s a lap at Silverstone) and small variations that make traces differ.
:func:`fuel_for_race` sizes the start fuel of a race.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from circuit import Track
from runtime.errors import ConfigError

GRAVITY_M_S2 = 9.81

# Twenty distinct three-letter driver codes; a grid larger than 20 reuses them in order
# (car ids stay unique).
DRIVER_CODES: tuple[str, ...] = (
    "ALB", "BOT", "CAS", "DUR", "EVA", "FER", "GOM", "HAL", "IVO", "JAN",
    "KAR", "LEV", "MAR", "NOV", "OKA", "PER", "QUI", "ROS", "SAN", "TOR",
)  # fmt: skip

# Shift points in engine rpm (see CarParams.upshift_rpm and downshift_rpm): out of 1st to
# 7th going up, out of 2nd to 8th going down.
GEARBOX_UPSHIFT_RPM = (11_800.0, 11_800.0, 12_300.0, 12_400.0, 11_800.0, 11_800.0, 12_400.0)
GEARBOX_DOWNSHIFT_RPM = (9_400.0, 7_200.0, 9_700.0, 9_100.0, 10_150.0, 10_150.0, 10_150.0)


@dataclass(frozen=True)
class CarParams:
    """Physical parameters of one car. Units are in the field names."""

    # Mass and aerodynamics
    mass_kg: float = 798.0  # car with driver, no fuel
    fuel_start_kg: float = 110.0
    cw_a_m2: float = 1.50  # drag coefficient times frontal area
    cz_a_m2: float = 4.80  # downforce coefficient times frontal area
    air_density_kg_m3: float = 1.18
    drs_drag_reduction: float = 0.10  # share of c_w*A removed while the DRS flap is open
    # Power unit
    ice_power_w: float = 560_000.0
    ers_power_w: float = 120_000.0
    # MGU-K energy that may be deployed per lap; 0 means unlimited.
    ers_energy_per_lap_j: float = 0.0
    # The engine keeps burning fuel off throttle (turbo kept spooled, MGU-H harvesting).
    ice_overrun_power_w: float = 200_000.0
    ice_efficiency: float = 0.45  # brake thermal efficiency
    fuel_lhv_j_per_kg: float = 43.0e6
    fuel_flow_max_kg_per_h: float = 100.0  # FIA fuel-flow limit
    # Transmission
    gear_ratios: tuple[float, ...] = (2.480, 2.011, 1.750, 1.449, 1.333, 1.161, 1.013, 0.882)
    final_drive_ratio: float = 5.17
    wheel_radius_m: float = 0.330
    rev_limit_rpm: float = 15_000.0
    # Top of 8th: the engine is mapped to stop pulling here (past the peak of power the fuel-
    # flow limit makes more revs worthless), which caps a tow or DRS run near 337 km/h rather
    # than letting a cut of drag carry the car far beyond any speed trap at Silverstone.
    top_gear_max_rpm: float = 12_400.0
    # Engine rpm at which the driver shifts up out of 1st to 7th: the power unit works
    # between about 10,000 and 12,500 rpm. 3rd, 4th and 7th are held longer (and 4th is a
    # little taller), so a short burst between two corners needs no shift: at Silverstone the
    # Village-Loop link in 3rd, Brooklands to Luffield in 4th, Stowe to Vale in 7th.
    upshift_rpm: tuple[float, ...] = GEARBOX_UPSHIFT_RPM
    # Engine rpm below which he shifts down out of 2nd to 8th. Each is well below the rpm the
    # gear starts at after an upshift, so a lift or a dab of the brakes near a shift point
    # keeps the gear (no shift undone within half a second), and where full throttle may
    # follow (6th to 8th) high enough that the engine then pulls above 10,000 rpm, sensor
    # noise included. Where the tyres, not the engine, limit the car the gear is kept lower:
    # 3rd through the slow corners (Village, Brooklands, Luffield, Vale; The Loop, slower,
    # in 1st), 5th through Becketts, where the throttle comes back only as the car speeds up.
    # At Silverstone: 46 to 50 shifts on a flying lap, whatever the car of the grid and its
    # compound (a real car makes 43 to 48).
    downshift_rpm: tuple[float, ...] = GEARBOX_DOWNSHIFT_RPM
    min_rpm: float = 4_000.0  # launch/clutch-slip floor
    # Tyres: friction coefficient mu = mu_ref * (1 + load_sensitivity * (Fz - Fz_ref) / Fz_ref)
    # per tyre, so grip grows less than linearly with load (downforce). Lateral mu is set so a
    # race's flying laps stay within the envelope's peak lateral g as the fuel burns off.
    tyre_mu_lat: float = 2.00
    tyre_mu_long: float = 1.95
    tyre_reference_load_n: float = 3_000.0
    tyre_load_sensitivity: float = -0.09
    driven_axle_load_share: float = 0.60  # rear axle share of the load when accelerating
    rolling_resistance_coeff: float = 0.012
    # Wear of a medium set added per metre driven per g of acceleration (about 40 laps of
    # life at Silverstone); a compound scales it and sets the grip lost (producer.tyres).
    tyre_wear_per_g_m: float = 2.1e-6
    # Brakes (the tyres usually limit braking first at low speed)
    brake_force_max_n: float = 38_000.0
    # Steering geometry
    wheelbase_m: float = 3.60
    steering_ratio: float = 11.0  # steering-wheel angle per road-wheel angle
    steering_lock_deg: float = 180.0  # steering-wheel angle at full lock, each way

    def __post_init__(self) -> None:
        if len(self.gear_ratios) != 8:
            raise ValueError("an F1 gearbox has 8 forward gears")
        if any(b >= a for a, b in zip(self.gear_ratios, self.gear_ratios[1:], strict=False)):
            raise ValueError("gear ratios must decrease from 1st to 8th")
        if len(self.upshift_rpm) != 7 or len(self.downshift_rpm) != 7:
            raise ValueError("shift points: 7 upshifts (1st to 7th), 7 downshifts (2nd to 8th)")
        up, down = self.gear_upshift_speeds_m_s(), self.gear_downshift_speeds_m_s()
        if np.any(down >= up):
            raise ValueError("each gear must shift down below the speed it was shifted up at")

    @property
    def fuel_flow_max_kg_s(self) -> float:
        return self.fuel_flow_max_kg_per_h / 3600.0

    def gear_upshift_speeds_m_s(self) -> np.ndarray:
        """Road speed (m/s) at which 1st to 7th reach their upshift rpm."""
        return np.asarray(self.upshift_rpm) / self.rpm_per_m_s()[:7]

    def gear_downshift_speeds_m_s(self) -> np.ndarray:
        """Road speed (m/s) below which 2nd to 8th shift down."""
        return np.asarray(self.downshift_rpm) / self.rpm_per_m_s()[1:]

    def rpm_per_m_s(self) -> np.ndarray:
        """Engine rpm per m/s of road speed in each gear (index 0 = 1st gear)."""
        ratios = np.asarray(self.gear_ratios) * self.final_drive_ratio
        return ratios * 60.0 / (2.0 * math.pi * self.wheel_radius_m)


def car_id(index: int) -> str:
    """Car id for a 0-based car index: ``car-01``, ``car-02``, ..."""
    return f"car-{index + 1:02d}"


def driver_code(index: int) -> str:
    """Three-letter driver code for a 0-based car index."""
    return DRIVER_CODES[index % len(DRIVER_CODES)]


# Pace: a deficit in seconds a lap at Silverstone grows with the car index (a qualifying
# order, car 0 on pole). The spread P1 to P20 is drawn per seed within the real range (about
# 1.5 to 2.5 s a lap) and shared among the 19 gaps at random, each gap at least 40 % of the
# average, so the order is the index order with room to spare.
PACE_SPREAD_S = (1.7, 2.3)
PACE_FIELD = 20  # cars the spread is drawn for; a larger grid continues at the average gap
# A deficit is less downforce, less power and less mechanical grip, in these shares of the
# lap time: teams differ mostly in aerodynamics and power units.
PACE_SHARES = {"cz_a_m2": 0.40, "power": 0.35, "tyre_grip": 0.25}
# Lap-time sensitivity at Silverstone, seconds per 1 % more of each (the speed profile at
# 50 kg of fuel): what sets the size of a deficit's changes and compensates the variations.
LAP_TIME_PER_PERCENT = {
    "mass_kg": 0.216,
    "cw_a_m2": 0.085,
    "cz_a_m2": -0.126,
    "ice_power_w": -0.118,
    "power": -0.142,  # engine and MGU-K together
    "tyre_grip": -0.34,  # lateral and longitudinal friction together
}

# Fields varied between cars and the relative spread (uniform, +-) of each: the traces and
# the fuel and tyre use differ; their effect on the lap time is taken out of the pace deficit.
_VARIATION: dict[str, float] = {
    "mass_kg": 0.005,
    "cw_a_m2": 0.01,
    "cz_a_m2": 0.01,
    "ice_power_w": 0.01,
    "tyre_grip": 0.005,
    "tyre_wear_per_g_m": 0.01,
}


def pace_deficits_s(n_cars: int, seed: int) -> np.ndarray:
    """The lap-time deficit (s) of cars 0 to ``n_cars - 1`` to car 0 at Silverstone in a
    session seeded with ``seed``: 0 for car 0, increasing with the index."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0x9ACE])
    spread = rng.uniform(*PACE_SPREAD_S)
    gaps = rng.uniform(0.4, 1.6, PACE_FIELD - 1)
    gaps *= spread / gaps.sum()
    if n_cars > PACE_FIELD:
        gaps = np.append(gaps, np.full(n_cars - PACE_FIELD, spread / (PACE_FIELD - 1)))
    return np.concatenate(([0.0], np.cumsum(gaps)))[:n_cars]


def car_params_for(index: int, seed: int, base: CarParams | None = None) -> CarParams:
    """Parameters of car ``index`` in a session seeded with ``seed``.

    The car is :func:`pace_deficits_s` slower than car 0 at Silverstone: ``base`` with less
    downforce, power and tyre grip (:data:`PACE_SHARES`), plus small variations
    (:data:`_VARIATION`, uniform) whose effect on the lap time the deficit absorbs. The same
    (index, seed) always gives the same car.
    """
    base = base or CarParams()
    rng = np.random.default_rng([seed & 0xFFFFFFFF, index, 0xCA5])
    change = {name: spread * (2.0 * rng.random() - 1.0) for name, spread in _VARIATION.items()}
    # Lap time the variations add (s), then the deficit still to be made.
    varied = sum(
        100.0 * change[name] * LAP_TIME_PER_PERCENT[name]
        for name in ("mass_kg", "cw_a_m2", "cz_a_m2", "ice_power_w", "tyre_grip")
    )
    deficit = float(pace_deficits_s(index + 1, seed)[index]) - varied
    for name, share in PACE_SHARES.items():
        change[name] = change.get(name, 0.0) + share * deficit / (
            100.0 * LAP_TIME_PER_PERCENT[name]
        )
    power = 1.0 + change.pop("power")
    grip = 1.0 + change.pop("tyre_grip")
    values = {name: getattr(base, name) * (1.0 + rel) for name, rel in change.items()}
    values["ice_power_w"] *= power
    return replace(
        base,
        **values,
        ers_power_w=base.ers_power_w * power,
        tyre_mu_lat=base.tyre_mu_lat * grip,
        tyre_mu_long=base.tyre_mu_long * grip,
    )


# Fuel a car burns a lap, per metre of lap (kg/m): 1.95 kg a lap at Silverstone (5,891 m) with
# the default car, flat out; realism.md: about 2 to 2.4 kg a lap.
FUEL_PER_LAP_METRE_KG = 1.95 / 5_891.0
RACE_FUEL_MARGIN = 0.02  # share of the race's fuel carried in reserve
RACE_FUEL_SAMPLE_KG = 1.0  # left in the car for the FIA's fuel sample
RACE_FUEL_ALLOWANCE_KG = 110.0  # FIA race fuel allowance


def fuel_for_race(laps: int, track: Track) -> float:
    """Start fuel (kg) for a race of ``laps`` laps of ``track``: the fuel of the distance
    plus a small margin and the sample, capped at the 110 kg allowance (a longer race runs
    short, as a real car would have to save fuel)."""
    if laps < 1:
        raise ConfigError(f"a race has at least 1 lap, got {laps!r}")
    need = laps * track.length_m * FUEL_PER_LAP_METRE_KG * (1.0 + RACE_FUEL_MARGIN)
    return min(need + RACE_FUEL_SAMPLE_KG, RACE_FUEL_ALLOWANCE_KG)
