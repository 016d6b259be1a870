"""One physics tick of every car, compiled: the driver, the pedals, the forces, the gearbox.

:func:`advance` runs ticks for the whole grid in one compiled loop and writes each tick's
telemetry channels straight into the output arrays, so a tick costs a few hundred
nanoseconds per car instead of one numpy call per operation. The model (see
:mod:`producer.simulation` for the conventions) per car and tick:

* the driver reads the target speed ``lookahead`` seconds ahead on the car's speed profile
  and asks for the acceleration that reaches it (:class:`producer.driver.ControllerGains`),
  as pedal demands; the pedals follow at limited rates (:func:`producer.driver.pedal_step`);
* the drive force is the throttle share of what the power unit (power / speed) and the
  driven tyres (grip left over from cornering, friction ellipse) can give, the brake force
  the brake share of what brakes and tyres can give; drag, rolling resistance and downforce
  grow with speed (semi-implicit Euler);
* fuel burns with the engine's power (capped flow), tyres wear with their work and lose
  grip, DRS cuts drag on its zones when the session enables it;
* the gearbox shifts up at the upshift speed and down with hysteresis (see
  :attr:`producer.car.CarParams.downshift_hysteresis`), one gear per tick at most.

A car that crosses the line starts a new lap; :func:`advance` returns after that tick so
that the caller can rebuild the car's speed profile for its fuel and tyres of the moment.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from producer.driver import PedalLimits, pedal_step


class CarConstants(NamedTuple):
    """Per-car constants (arrays, one element per car), folded for the tick's arithmetic."""

    mass_dry: np.ndarray  # kg, without fuel
    c_drag: np.ndarray  # drag per v^2 (N s^2 / m^2)
    c_drag_drs: np.ndarray  # the same with the DRS flap open
    c_down: np.ndarray  # downforce per v^2
    ice_w: np.ndarray
    ers_w: np.ndarray
    ers_lap_j: np.ndarray  # MGU-K energy per lap, 0 for unlimited
    overrun_w: np.ndarray  # power burnt off throttle
    fuel_per_j: np.ndarray  # kg of fuel per joule of engine work
    fuel_cap: np.ndarray  # kg/s flow limit
    mu_lat: np.ndarray
    long_over_lat: np.ndarray
    # Load factor of the friction coefficient: 1 + sens * (Fz / 4 - Fz0) / Fz0 = c0 + c1 * Fz.
    load_c0: np.ndarray
    load_c1: np.ndarray
    share: np.ndarray  # driven axle's share of the load
    crr: np.ndarray
    wear_rate: np.ndarray  # wear per metre per g
    grip_loss: np.ndarray  # share of mu lost at full wear
    brake_max: np.ndarray
    wheelbase: np.ndarray
    steer_per_rad: np.ndarray  # steering-wheel fraction of full lock per road-wheel radian
    rev_limit: np.ndarray
    min_rpm: np.ndarray


class Gearbox(NamedTuple):
    """Per-car gear tables, indexed [car, gear] (gear 0 unused)."""

    up: np.ndarray  # speed (m/s) at which the gear shifts up (inf in top gear)
    down: np.ndarray  # speed below which the gear shifts down (-1 in first gear)
    rpm: np.ndarray  # engine rpm per m/s


class TrackTables(NamedTuple):
    """Track samples with the first repeated at the end, and the step to the next sample,
    so that a lookup is ``value[j] + f * step[j]`` without wrapping."""

    k: np.ndarray  # driving-line curvature (1/m, positive to the left)
    dk: np.ndarray
    ratio: np.ndarray  # centre-line metres per metre driven
    dratio: np.ndarray
    x: np.ndarray
    dx: np.ndarray
    y: np.ndarray
    dy: np.ndarray
    drs_zone: np.ndarray  # bool
    length: float
    inv_spacing: float
    sector_2: float
    sector_3: float


class Profiles(NamedTuple):
    """Each car's target speed along the lap, [car, sample], closed like the track tables."""

    v: np.ndarray  # limit speed (m/s)
    dv: np.ndarray  # step to the next sample
    a_ff: np.ndarray  # acceleration along the profile to the next sample (feed-forward)


class Controls(NamedTuple):
    """The session's fixed settings for the tick."""

    dt: float
    hz: float
    gravity: float
    lookahead_s: float
    two_reach_s: float  # 2 * reach time
    two_reach_m: float  # 2 * reach distance
    drs_enabled: bool
    ers_limited: bool
    pedals: PedalLimits


class CarState(NamedTuple):
    """Dynamic state, one element per car, updated in place."""

    s: np.ndarray  # lap distance (m, centre line)
    v: np.ndarray  # speed (m/s)
    throttle: np.ndarray
    brake: np.ndarray
    braking: np.ndarray  # bool: the foot is on the brake side
    fuel: np.ndarray
    wear: np.ndarray
    ers_used: np.ndarray  # J this lap
    k: np.ndarray  # curvature at s
    ratio: np.ndarray  # progress ratio at s
    drs_open: np.ndarray  # bool
    gear: np.ndarray  # int64
    lap: np.ndarray  # int64


class Channels(NamedTuple):
    """Telemetry channels of a block of ticks (tick-major, car-minor), named as in the schema."""

    timestamp: np.ndarray
    sim_time_s: np.ndarray
    lap: np.ndarray
    lap_distance_m: np.ndarray
    total_distance_m: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    speed_kmh: np.ndarray
    throttle: np.ndarray
    brake: np.ndarray
    steering: np.ndarray
    gear: np.ndarray
    rpm: np.ndarray
    g_lat: np.ndarray
    g_long: np.ndarray
    fuel_kg: np.ndarray
    tyre_wear: np.ndarray
    drs: np.ndarray
    sector: np.ndarray


INT_CHANNELS = ("timestamp", "lap", "gear", "sector")
BOOL_CHANNELS = ("drs",)

# Rows of the noise array: (ticks, NOISE_ROWS, cars), one standard deviation already applied.
NOISE_SPEED, NOISE_STEERING, NOISE_RPM, NOISE_G_LAT, NOISE_G_LONG = range(5)
NOISE_ROWS = 5


def empty_channels(rows: int) -> Channels:
    """Output arrays for ``rows`` records, in the telemetry dtypes."""

    def one(name: str) -> np.ndarray:
        if name in INT_CHANNELS:
            return np.empty(rows, dtype=np.int64)
        return np.empty(rows, dtype=bool if name in BOOL_CHANNELS else np.float64)

    return Channels(*(one(name) for name in Channels._fields))


@njit(cache=True)
def advance(
    state: CarState,
    car: CarConstants,
    gearbox: Gearbox,
    track: TrackTables,
    profiles: Profiles,
    controls: Controls,
    noise: np.ndarray,
    first_tick: int,
    clock_us: tuple[int, int],
    start: int,
    stop: int,
    crossed: np.ndarray,
    out: Channels,
) -> int:
    """Advance every car through ticks ``start`` to ``stop - 1`` of a block whose tick 0 is
    session tick ``first_tick``, writing row ``tick * n_cars + car`` of ``out``.

    ``clock_us`` is (session start, tick length) in microseconds. Returns the tick after the
    last one done: ``stop``, or earlier when a car crossed the line on that tick (its
    ``crossed`` element set, its lap counted).
    """
    n = len(state.s)
    session_start_us, dt_us = clock_us
    dt = controls.dt
    g = controls.gravity
    length = track.length
    inv_spacing = track.inv_spacing
    any_crossed = False
    for t in range(start, stop):
        tick = first_tick + t
        for i in range(n):
            s = state.s[i]
            v = state.v[i]
            k = state.k[i]
            fuel = state.fuel[i]
            wear = state.wear[i]

            # Target speed a little ahead (the driver's reaction time) and its slope.
            ahead = s + v * controls.lookahead_s
            if ahead >= length:
                ahead -= length
            ua = ahead * inv_spacing
            ja = int(ua)
            v_target = profiles.v[i, ja] + (ua - ja) * profiles.dv[i, ja]
            a_ff = profiles.a_ff[i, ja]

            # Forces available at this speed: tyre grip (load-sensitive, worn, shared with
            # cornering through the friction ellipse), power, brakes.
            mass = car.mass_dry[i] + fuel
            v2 = v * v
            fz = mass * g + car.c_down[i] * v2
            lat_cap = (
                car.mu_lat[i]
                * (1.0 - car.grip_loss[i] * wear)
                * (car.load_c0[i] + car.load_c1[i] * fz)
                * fz
            )
            use = min(mass * v2 * abs(k) / lat_cap, 1.0)
            f_long = lat_cap * car.long_over_lat[i] * math.sqrt(1.0 - use * use) + 1.0
            power = car.ice_w[i] + car.ers_w[i]
            if controls.ers_limited and state.ers_used[i] >= car.ers_lap_j[i]:
                power = car.ice_w[i]
            f_power = power / max(v, 1.0)
            f_traction = f_long * car.share[i]
            c_drag = car.c_drag_drs[i] if state.drs_open[i] else car.c_drag[i]
            f_resist = c_drag * v2 + car.crr[i] * fz

            # Driver: the acceleration that reaches the target, as pedal demands. The
            # throttle is the share of the engine's power asked for and the brake the share
            # of the brake system's force; the driver asks no more than the tyres can
            # transmit.
            a_cmd = (v_target * v_target - v2) / (
                v * controls.two_reach_s + controls.two_reach_m
            ) + a_ff
            f_need = mass * a_cmd + f_resist
            throttle, brake, braking = pedal_step(
                state.throttle[i],
                state.brake[i],
                state.braking[i],
                min(f_need, f_traction) / f_power,
                min(-f_need, f_long) / car.brake_max[i],
                controls.pedals,
            )

            # Longitudinal dynamics (semi-implicit Euler).
            f_drive = min(throttle * f_power, f_traction)
            f_drive -= min(brake * car.brake_max[i], f_long)
            f_drive -= f_resist
            v_new = max(v + f_drive / mass * dt, 0.0)
            accel = (v_new - v) * controls.hz
            driven = (v + v_new) * (0.5 * dt)
            s_new = s + driven * state.ratio[i]

            # Fuel burnt by the engine's power (capped flow); tyre wear from the tyres' work.
            burn = max(throttle * car.ice_w[i], car.overrun_w[i]) * car.fuel_per_j[i]
            fuel = max(fuel - min(burn, car.fuel_cap[i]) * dt, 0.0)
            ers_used = state.ers_used[i]
            if controls.ers_limited:
                ers_used += throttle * car.ers_w[i] * dt
            g_lat = v_new * v_new * k / g
            g_long = accel / g
            g_total = math.sqrt(g_lat * g_lat + g_long * g_long)
            wear = min(wear + g_total * car.wear_rate[i] * driven, 1.0)

            # Lap line: a new lap (the caller rebuilds the car's profile).
            lap = state.lap[i]
            if s_new >= length:
                s_new -= length
                lap += 1
                ers_used = 0.0
                crossed[i] = True
                any_crossed = True

            # Track at the new position: curvature and progress ratio for the next tick.
            u = s_new * inv_spacing
            j = int(u)
            f = u - j
            # DRS opens in a zone at full throttle (from lap 2), closes on braking or zone
            # exit.
            drs = (
                controls.drs_enabled
                and track.drs_zone[j]
                and lap >= 2
                and brake < 0.01
                and (state.drs_open[i] or throttle > 0.95)
            )

            # Gear from speed: one shift at most per tick (speed changes < 1 m/s per tick).
            gear = state.gear[i]
            if v_new >= gearbox.up[i, gear]:
                gear += 1
            elif v_new < gearbox.down[i, gear]:
                gear -= 1

            state.s[i] = s_new
            state.v[i] = v_new
            state.throttle[i] = throttle
            state.brake[i] = brake
            state.braking[i] = braking
            state.fuel[i] = fuel
            state.wear[i] = wear
            state.ers_used[i] = ers_used
            state.k[i] = track.k[j] + f * track.dk[j]
            state.ratio[i] = track.ratio[j] + f * track.dratio[j]
            state.drs_open[i] = drs
            state.gear[i] = gear
            state.lap[i] = lap

            # The channels of this tick: what the car's sensors read (noise added).
            r = t * n + i
            out.timestamp[r] = session_start_us + tick * dt_us
            out.sim_time_s[r] = tick * dt
            out.lap[r] = lap
            out.lap_distance_m[r] = s_new
            out.total_distance_m[r] = (lap - 1) * length + s_new
            out.x_m[r] = track.x[j] + f * track.dx[j]
            out.y_m[r] = track.y[j] + f * track.dy[j]
            out.speed_kmh[r] = max(v_new * 3.6 + noise[t, NOISE_SPEED, i], 0.0)
            out.throttle[r] = throttle
            out.brake[r] = brake
            steer = -math.atan(car.wheelbase[i] * k) * car.steer_per_rad[i]
            out.steering[r] = min(max(steer + noise[t, NOISE_STEERING, i], -1.0), 1.0)
            out.gear[r] = gear
            rpm = min(max(v_new * gearbox.rpm[i, gear], car.min_rpm[i]), car.rev_limit[i])
            out.rpm[r] = rpm + noise[t, NOISE_RPM, i]
            out.g_lat[r] = -(g_lat + noise[t, NOISE_G_LAT, i])
            out.g_long[r] = g_long + noise[t, NOISE_G_LONG, i]
            out.fuel_kg[r] = fuel
            out.tyre_wear[r] = wear
            out.drs[r] = drs
            out.sector[r] = 1 + (s_new >= track.sector_2) + (s_new >= track.sector_3)
        if any_crossed:
            return t + 1
    return stop
