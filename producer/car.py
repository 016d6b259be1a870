"""Car parameters: one frozen dataclass, every field named with its unit.

The defaults describe a current Formula 1 car at Silverstone in the spirit of published
parameter sets (about 800 kg with driver and no fuel, c_w*A about 1.5 m2, c_z*A about 4.5 to
5 m2, a 1.6 L V6 turbo hybrid with about 560 kW from the engine and 120 kW from the MGU-K).
:func:`car_params_for` gives each car of a grid slightly different parameters (within about
1 %) so that lap times and traces differ between cars in a reproducible way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

GRAVITY_M_S2 = 9.81

# Twenty distinct three-letter driver codes; a grid larger than 20 reuses them in order
# (car ids stay unique).
DRIVER_CODES: tuple[str, ...] = (
    "ALB", "BOT", "CAS", "DUR", "EVA", "FER", "GOM", "HAL", "IVO", "JAN",
    "KAR", "LEV", "MAR", "NOV", "OKA", "PER", "QUI", "ROS", "SAN", "TOR",
)  # fmt: skip


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
    gear_ratios: tuple[float, ...] = (2.480, 2.011, 1.750, 1.528, 1.333, 1.161, 1.013, 0.882)
    final_drive_ratio: float = 5.17
    wheel_radius_m: float = 0.330
    rev_limit_rpm: float = 15_000.0
    upshift_rpm: float = 11_800.0
    # A downshift waits until the speed is this share below the lower gear's upshift speed,
    # so that the gear does not hunt when the speed hovers near a shift point: a lift or a
    # dab of the brakes near a shift speed keeps the gear (2 % leaves no shift undone within
    # half a second at Silverstone).
    downshift_hysteresis: float = 0.02
    # Slow corners are taken in 3rd: the tyres, not the engine, limit the car there, so the
    # driver shifts down out of 3rd only once the engine falls below this speed (hairpins).
    # At Silverstone: 3rd at Village, Brooklands, Luffield and Vale, 1st at the Loop, about
    # 52 shifts a lap instead of 64 (a real car makes 43 to 48).
    low_gear_downshift_rpm: float = 7_500.0
    min_rpm: float = 4_000.0  # launch/clutch-slip floor
    # Tyres: friction coefficient mu = mu_ref * (1 + load_sensitivity * (Fz - Fz_ref) / Fz_ref)
    # per tyre, so grip grows less than linearly with load (downforce).
    tyre_mu_lat: float = 2.10
    tyre_mu_long: float = 1.95
    tyre_reference_load_n: float = 3_000.0
    tyre_load_sensitivity: float = -0.09
    driven_axle_load_share: float = 0.60  # rear axle share of the load when accelerating
    rolling_resistance_coeff: float = 0.012
    tyre_wear_per_g_m: float = 1.5e-6  # wear added per metre driven per g of acceleration
    tyre_grip_loss_at_full_wear: float = 0.12  # share of mu lost when tyre_wear reaches 1
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

    @property
    def fuel_flow_max_kg_s(self) -> float:
        return self.fuel_flow_max_kg_per_h / 3600.0

    def gear_upshift_speeds_m_s(self) -> np.ndarray:
        """Road speed (m/s) at which each gear reaches the upshift rpm."""
        ratios = np.asarray(self.gear_ratios) * self.final_drive_ratio
        return self.upshift_rpm * 2.0 * math.pi * self.wheel_radius_m / (60.0 * ratios)

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


# Fields varied between cars and the relative spread (uniform, +-) of each.
_VARIATION: dict[str, float] = {
    "mass_kg": 0.005,
    "cw_a_m2": 0.01,
    "cz_a_m2": 0.01,
    "ice_power_w": 0.01,
    "tyre_mu_lat": 0.005,
    "tyre_mu_long": 0.005,
    "tyre_wear_per_g_m": 0.01,
}


def car_params_for(index: int, seed: int, base: CarParams | None = None) -> CarParams:
    """Parameters of car ``index`` in a session seeded with ``seed``.

    Each varied field is scaled by a factor drawn uniformly within its spread (at most 1 %);
    the same (index, seed) always gives the same car.
    """
    base = base or CarParams()
    rng = np.random.default_rng([seed & 0xFFFFFFFF, index, 0xCA5])
    changes = {}
    for field in fields(base):
        spread = _VARIATION.get(field.name)
        if spread is not None:
            factor = 1.0 + spread * (2.0 * rng.random() - 1.0)
            changes[field.name] = getattr(base, field.name) * factor
    return replace(base, **changes)
