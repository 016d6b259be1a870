"""The driver: a target speed profile along the lap and smooth pedal inputs that follow it.

The profile is a quasi-steady-state point-mass calculation on the track's driving line:

1. the highest steady cornering speed at every point, where lateral grip (a friction
   coefficient that falls slightly with load, times weight plus downforce) balances the
   centripetal force;
2. a backward pass that limits each point to the speed from which the car can still brake
   for what follows, with the braking force bounded by the brakes and by the tyre grip left
   over from cornering (friction ellipse), helped by drag;
3. a forward pass that limits each point to what the power unit and the rear tyres can
   reach from what went before.

The controller drives to the *limit* profile (steps 1 and 2): a real driver stays flat out
until the braking point, whatever the forward pass expected, so a car with a little more
power than the profile assumed (DRS, less fuel) simply goes faster on the straight.

The force model here (weight plus downforce, a load-sensitive friction coefficient, the
friction ellipse, power over speed) is the one the simulator applies per tick
(:mod:`producer.physics`). The passes and the pedal step are compiled: the profile is rebuilt
each time a car starts a lap, and the pedal step runs for every car and tick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from circuit import Track
from producer.car import GRAVITY_M_S2, CarParams

# The profile leaves the driver a reserve: corners are taken at this share of the grip and
# braking uses this share of what brakes and tyres can give, so that the small lag of the
# pedals never pushes the car beyond the limit.
CORNER_GRIP_MARGIN = 0.97
BRAKE_MARGIN = 0.93
V_MAX_M_S = 100.0
# Rises of the target speed narrower than this are flattened (see _remove_short_rises).
RISE_WINDOW_M = 60.0  # 360 km/h, above anything the power unit reaches


def max_cornering_speed(
    curvature: np.ndarray, mass_kg: float, car: CarParams, grip_scale: float | np.ndarray = 1.0
) -> np.ndarray:
    """Highest steady speed (m/s) on a curvature (1/m) where lateral grip holds the car.

    With Fz = m g + c v^2 and mu(Fz) linear in Fz, m v^2 |k| = mu(Fz) Fz is a quadratic in
    v^2; the larger root bounds the speed. Where downforce outgrows the need (gentle bends)
    there is no root and the speed is capped at ``V_MAX_M_S``. ``grip_scale`` multiplies the
    friction, at every point or point by point (an array like ``curvature``).
    """
    k = np.abs(np.asarray(curvature, dtype=float))
    mu0 = car.tyre_mu_lat * grip_scale * CORNER_GRIP_MARGIN
    fz0 = car.tyre_reference_load_n
    sens = car.tyre_load_sensitivity
    a = mu0 * (1.0 - sens)  # mu(F) = a + b F, F total load
    b = mu0 * sens / (4.0 * fz0)
    c = 0.5 * car.air_density_kg_m3 * car.cz_a_m2
    mg = mass_kg * GRAVITY_M_S2
    qa = b * c * c
    qb = a * c + 2.0 * b * c * mg - mass_kg * k
    qc = (a + b * mg) * mg
    disc = qb * qb - 4.0 * qa * qc
    with np.errstate(divide="ignore", invalid="ignore"):
        if sens < 0.0:  # qa < 0: the larger root
            u = (-qb - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * qa)
        else:  # no load sensitivity: linear in v^2
            u = np.where(qb < 0.0, -qc / qb, np.inf)
    u = np.where(np.isfinite(u) & (u > 0.0), u, V_MAX_M_S**2)
    return np.minimum(np.sqrt(u), V_MAX_M_S)


@njit(cache=True)
def _remove_short_rises(v2: np.ndarray, half: int) -> None:
    """Morphological opening of a closed-loop trace of squared speeds over +-``half``
    samples, in place.

    A driver does not speed up for a few metres between two close apexes and brake again: a
    rise narrower than the window is flattened to the lower level around it. Wider features
    (straights, braking curves) are unchanged, and the result is never above the input.
    """
    n = len(v2)
    padded = np.concatenate((v2[n - 2 * half :], v2, v2[: 2 * half]))  # the lap is a loop
    eroded = _sliding_min(padded, half)
    v2[:] = -_sliding_min(-eroded, half)


@njit(cache=True)
def _sliding_min(x: np.ndarray, half: int) -> np.ndarray:
    """Minimum of ``x`` over each full window of +-``half`` samples (``len(x) - 2 * half``
    values), from minima over doubling spans: a few passes instead of one per offset."""
    width = 2 * half + 1
    m = x.copy()
    span = 1
    while 2 * span <= width:
        for i in range(len(m) - span):  # m[i] becomes the minimum of x[i : i + 2 * span]
            m[i] = min(m[i], m[i + span])
        span *= 2
    out = np.empty(len(x) - 2 * half)
    for i in range(len(out)):
        out[i] = min(m[i], m[i + width - span])
    return out


class _ProfileForces(NamedTuple):
    """The force model's constants for one car state (see :func:`speed_profile`)."""

    mg: float  # weight
    c_down: float  # downforce per v^2
    c_drag: float  # drag per v^2
    crr: float
    mu_lat: float
    # Load factor of the friction coefficient: 1 + sens * (Fz / 4 - Fz0) / Fz0 = c0 + c1 * Fz.
    load_c0: float
    load_c1: float
    brake_max: float
    brake_long: float  # braking force per unit of lateral capacity
    traction_long: float  # drive force per unit of lateral capacity (driven axle)
    power: float


@njit(cache=True)
def _limit_speeds(
    k: np.ndarray,
    ds: np.ndarray,
    v_corner: np.ndarray,
    grip: np.ndarray,
    m: float,
    half: int,
    f: _ProfileForces,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Limit and target speeds at every sample, and the lap time of the target speeds, from
    the absolute curvature ``k``, the metres driven ``ds`` from each sample to the next, the
    cornering limits and the friction scale ``grip`` at every sample, for a car of mass
    ``m``."""
    n = len(k)
    # Start both passes at the slowest corner: the profile is periodic and nothing can
    # raise the speed there, so one sweep around the lap from that point is exact.
    order = (np.argmin(v_corner) + np.arange(n)) % n
    mk = m * k[order]  # lateral force per v^2
    mu = f.mu_lat * grip[order]
    two_ds_m = 2.0 * ds[order] / m  # v^2 gained per newton over one sample
    # Backward pass (braking): from sample j+1 back to j.
    vl2 = v_corner[order] ** 2
    for j in range(n - 1, -1, -1):
        nxt = j + 1 if j + 1 < n else 0
        v2 = vl2[nxt]
        fz = f.mg + f.c_down * v2
        lat_cap = mu[nxt] * (f.load_c0 + f.load_c1 * fz) * fz
        use = mk[nxt] * v2 / lat_cap
        ell = math.sqrt(1.0 - use * use) if use < 1.0 else 0.0
        f_brake = min(f.brake_long * lat_cap * ell, f.brake_max)
        reach = v2 + (f_brake + f.c_drag * v2 + f.crr * fz) * two_ds_m[j]
        if reach < vl2[j]:
            vl2[j] = reach
    _remove_short_rises(vl2, half)
    # Forward pass (traction and power): from sample j to j+1.
    vt2 = vl2.copy()
    for j in range(n - 1):
        v2 = vt2[j]
        fz = f.mg + f.c_down * v2
        lat_cap = mu[j] * (f.load_c0 + f.load_c1 * fz) * fz
        use = mk[j] * v2 / lat_cap
        ell = math.sqrt(1.0 - use * use) if use < 1.0 else 0.0
        f_drive = f.traction_long * lat_cap * ell
        v = math.sqrt(v2)
        if v > 1.0 and f.power / v < f_drive:
            f_drive = f.power / v
        reach = v2 + (f_drive - f.c_drag * v2 - f.crr * fz) * two_ds_m[j]
        if reach < vt2[j + 1]:
            vt2[j + 1] = max(reach, 1.0)
    v_limit = np.empty(n)
    v_target = np.empty(n)
    v_limit[order] = np.sqrt(vl2)
    v_target[order] = np.sqrt(vt2)
    lap_time = 0.0
    for i in range(n):
        v_mid = 0.5 * (v_target[i] + v_target[i + 1 if i + 1 < n else 0])
        lap_time += ds[i] / max(v_mid, 0.1)
    return v_limit, v_target, lap_time


@dataclass(frozen=True)
class SpeedProfile:
    """Speeds (m/s) at every track sample (index i at distance i * spacing)."""

    v_corner: np.ndarray  # steady cornering limit
    v_limit: np.ndarray  # cornering limit and braking for what follows
    v_target: np.ndarray  # also limited by acceleration: the expected speed
    lap_time_s: float  # lap time predicted by v_target (flying lap)


def speed_profile(
    track: Track,
    car: CarParams,
    *,
    mass_kg: float | None = None,
    grip_scale: float | np.ndarray = 1.0,
    drag_scale: float = 1.0,
) -> SpeedProfile:
    """Target speeds for a flying lap of ``track`` with the car's current state.

    ``mass_kg`` defaults to the car with full fuel; ``grip_scale`` multiplies the tyre
    friction (compound, wear: :func:`producer.tyres.grip_scale`), either everywhere or at each
    track sample (an array of ``track.n_points``: a cold set warming up); ``drag_scale``
    multiplies the drag area.
    """
    m = car.mass_kg + car.fuel_start_kg if mass_kg is None else float(mass_kg)
    k = np.abs(track.curvature)
    grip = np.broadcast_to(np.asarray(grip_scale, dtype=float), k.shape).copy()
    v_corner = max_cornering_speed(k, m, car, grip)
    # Metres driven on the driving line between consecutive samples.
    ds = track.spacing_m / track.progress_ratio

    long_over_lat = car.tyre_mu_long / car.tyre_mu_lat
    forces = _ProfileForces(
        mg=m * GRAVITY_M_S2,
        c_down=0.5 * car.air_density_kg_m3 * car.cz_a_m2,
        c_drag=0.5 * car.air_density_kg_m3 * car.cw_a_m2 * drag_scale,
        crr=car.rolling_resistance_coeff,
        mu_lat=car.tyre_mu_lat,
        load_c0=1.0 - car.tyre_load_sensitivity,
        load_c1=car.tyre_load_sensitivity / (4.0 * car.tyre_reference_load_n),
        brake_max=car.brake_force_max_n * BRAKE_MARGIN,
        brake_long=long_over_lat * BRAKE_MARGIN,
        traction_long=long_over_lat * car.driven_axle_load_share,
        power=car.ice_power_w + car.ers_power_w,
    )
    half = max(round(0.5 * RISE_WINDOW_M / track.spacing_m), 1)
    v_limit, v_target, lap_time = _limit_speeds(k, ds, v_corner, grip, m, half, forces)
    return SpeedProfile(v_corner=v_corner, v_limit=v_limit, v_target=v_target, lap_time_s=lap_time)


@dataclass(frozen=True)
class ControllerGains:
    """Tuning of the pedal controller (pedal rates in travel per second).

    The driver demands ``a = a_profile + (v_target^2 - v^2) / (2 (v * reach_time + reach_min))``
    with ``v_target`` and ``a_profile`` read ``lookahead_s`` ahead: the profile's own
    acceleration plus what closes the speed gap within about ``reach_time_s``.
    """

    lookahead_s: float = 0.12
    reach_time_s: float = 0.05
    reach_min_m: float = 1.0
    throttle_rise_per_s: float = 6.0
    throttle_fall_per_s: float = 12.0
    brake_rise_per_s: float = 16.0
    brake_fall_per_s: float = 6.0
    brake_on: float = 0.12  # brake demand that moves the foot from throttle to brake
    throttle_on: float = 0.05  # throttle demand that moves the foot back to the throttle
    pedal_overlap: float = 0.05  # the other pedal must be below this before one is pressed


class PedalLimits(NamedTuple):
    """The controller's pedal constants for one tick length (rates in travel per tick)."""

    throttle_on: float
    brake_on: float
    overlap: float
    throttle_rise: float
    throttle_fall: float  # negative
    brake_rise: float
    brake_fall: float  # negative

    @classmethod
    def per_tick(cls, gains: ControllerGains, dt: float) -> PedalLimits:
        return cls(
            throttle_on=gains.throttle_on,
            brake_on=gains.brake_on,
            overlap=gains.pedal_overlap,
            throttle_rise=gains.throttle_rise_per_s * dt,
            throttle_fall=-gains.throttle_fall_per_s * dt,
            brake_rise=gains.brake_rise_per_s * dt,
            brake_fall=-gains.brake_fall_per_s * dt,
        )


@njit(cache=True)
def pedal_step(
    throttle: float,
    brake: float,
    braking: bool,
    throttle_demand: float,
    brake_demand: float,
    lim: PedalLimits,
) -> tuple[float, float, bool]:
    """Advance one car's pedals by one tick; returns (throttle, brake, braking).

    Demands are shares of the available drive or brake force (clipped to 0..1 here).
    ``braking`` is a mode with hysteresis: the foot moves to the brake only when the brake
    demand exceeds ``brake_on`` and back to the throttle only when throttle is demanded, so
    small speed errors give a short coast instead of throttle/brake chatter. Pedals move at
    limited rates, and a pedal is pressed only once the other is (nearly) released, so the
    two are never pressed hard at the same time.
    """
    braking = throttle_demand < lim.throttle_on if braking else brake_demand > lim.brake_on
    thr_goal = 0.0 if braking or brake >= lim.overlap else min(throttle_demand, 1.0)
    brk_goal = min(brake_demand, 1.0) if braking and throttle < lim.overlap else 0.0
    # Rate limits; the goals may be negative (no demand), the pedals stop at 0.
    step = min(max(thr_goal - throttle, lim.throttle_fall), lim.throttle_rise)
    throttle = max(throttle + step, 0.0)
    step = min(max(brk_goal - brake, lim.brake_fall), lim.brake_rise)
    brake = max(brake + step, 0.0)
    return throttle, brake, braking
