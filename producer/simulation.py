"""The vectorised race simulator: every car advances together, one numpy array per state.

Each call of :meth:`Simulation.step` moves all cars by one physics tick (``1 / hz`` seconds)
and returns a *columnar batch*: a dict of telemetry field name -> numpy array with one
element per car. :func:`to_records` turns a batch into the list of dict records that the
serialisers expect, with exactly the field names of :data:`TELEMETRY_FIELDS`.

Model, per car and tick: the driver (:mod:`producer.driver`) reads the target speed a short
time ahead and demands throttle or brake; the pedals move at limited rates; the drive force
is the throttle share of what the power unit (power / speed) and the rear tyres (grip left
over from cornering) can give, the brake force the brake share of what brakes and tyres can
give; drag, rolling resistance and downforce grow with speed. Fuel burns with the engine's
power, tyres wear with the work they do and lose grip, DRS cuts drag on its zones when the
session enables it. The target speed profile of a car is recomputed as it starts each lap,
with its fuel load and tyre grip of that moment.

Channel conventions:

* ``steering`` is the steering-wheel angle as a fraction of full lock, positive to the right
  (as telemetry.avsc defines it), from the driving-line curvature with a bicycle model;
* ``g_lat`` is positive towards the car's right, ``g_long`` positive when accelerating, both
  in g. Track curvature is positive to the left (counter-clockwise), hence the sign flips;
* ``total_distance_m`` is ``(lap - 1) * lap length + lap_distance_m``: how far the car is
  from the start line of its lap 1, so cars can be ordered by it;
* ``timestamp`` is the car's clock: session start (microseconds since the epoch, injected)
  plus simulated time. The simulator never reads the wall clock.

Sensor noise (speed, rpm, accelerations, steering) comes from one seeded generator; the same
seed gives bit-identical records.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from producer.car import GRAVITY_M_S2, CarParams, car_id, car_params_for, driver_code
from producer.driver import ControllerGains, PedalLimits, pedal_step, speed_profile
from producer.track import Track
from schemas.errors import ConfigError

logger = logging.getLogger(__name__)

TELEMETRY_FIELDS: tuple[str, ...] = (
    "session_id",
    "car_id",
    "driver",
    "timestamp",
    "sim_time_s",
    "lap",
    "lap_distance_m",
    "total_distance_m",
    "x_m",
    "y_m",
    "speed_kmh",
    "throttle",
    "brake",
    "steering",
    "gear",
    "rpm",
    "g_lat",
    "g_long",
    "fuel_kg",
    "tyre_wear",
    "drs",
    "sector",
)

# Standard deviation of the sensor noise added to the logged channels (not to the physics).
NOISE_SPEED_KMH = 0.15
NOISE_RPM = 20.0
NOISE_G = 0.03
NOISE_STEERING = 0.002  # fraction of full lock

Batch = dict[str, np.ndarray]


class Simulation:
    """All cars of a session, advanced together at ``hz`` ticks per simulated second.

    Car 0 starts from rest on the start/finish line; car ``i`` starts ``i / n_cars`` of a lap
    further on, already at its target speed, so a grid is spread around the circuit from the
    first tick (as in a practice session). Every car is on lap 1 at the start.

    Arrays in a returned batch are never modified afterwards by the simulator, but some of
    them (constant columns) are shared between batches: treat batches as read-only.
    """

    def __init__(
        self,
        track: Track,
        n_cars: int = 20,
        *,
        hz: int = 100,
        seed: int = 0,
        session_start_us: int = 1_720_000_000_000_000,
        session_id: str | None = None,
        drs_enabled: bool = False,
        cars: Sequence[CarParams] | None = None,
        gains: ControllerGains | None = None,
    ) -> None:
        if not isinstance(n_cars, int) or n_cars < 1:
            raise ConfigError(f"n_cars must be a positive integer, got {n_cars!r}")
        if not isinstance(hz, int) or hz < 10 or 1_000_000 % hz:
            raise ConfigError(f"hz must be an integer >= 10 that divides 1,000,000, got {hz!r}")
        if cars is not None and len(cars) != n_cars:
            raise ConfigError(f"got {len(cars)} car parameter sets for {n_cars} cars")
        self.track = track
        self.n_cars = n_cars
        self.hz = hz
        self.dt = 1.0 / hz
        self._dt_us = 1_000_000 // hz
        self.seed = seed
        self.session_start_us = int(session_start_us)
        self.session_id = session_id or f"session-{self.session_start_us}"
        self.drs_enabled = bool(drs_enabled)
        self.gains = gains or ControllerGains()
        self.cars: tuple[CarParams, ...] = tuple(
            cars if cars is not None else (car_params_for(i, seed) for i in range(n_cars))
        )
        self.tick = 0
        self._rng = np.random.default_rng([seed & 0xFFFFFFFF, 0x5E550])
        n = n_cars

        def per_car(name: str) -> np.ndarray:
            return np.array([getattr(c, name) for c in self.cars], dtype=float)

        def const(value: float) -> np.ndarray:
            # Array constants: numpy combines two arrays faster than an array and a float.
            return np.full(n, float(value))

        # Constant per-car parameters, folded so that each step needs few operations.
        rho_half = 0.5 * per_car("air_density_kg_m3")
        fz0 = per_car("tyre_reference_load_n")
        sens = per_car("tyre_load_sensitivity")
        self._one = const(1.0)
        self._zero = const(0.0)
        self._dt = const(self.dt)
        self._half_dt = const(0.5 * self.dt)
        self._hz = const(float(hz))
        self._g = const(GRAVITY_M_S2)
        self._inv_g = const(1.0 / GRAVITY_M_S2)
        self._mass_dry = per_car("mass_kg")
        self._c_drag = rho_half * per_car("cw_a_m2")
        self._c_drag_drs = self._c_drag * (1.0 - per_car("drs_drag_reduction"))
        self._c_down = rho_half * per_car("cz_a_m2")
        self._ice_w = per_car("ice_power_w")
        self._ers_w = per_car("ers_power_w")
        self._ers_lap_j = per_car("ers_energy_per_lap_j")
        self._ers_limited = bool(np.any(self._ers_lap_j > 0.0))
        self._power = self._ice_w + self._ers_w
        self._overrun_w = per_car("ice_overrun_power_w")
        self._fuel_per_j = 1.0 / (per_car("ice_efficiency") * per_car("fuel_lhv_j_per_kg"))
        self._fuel_cap = per_car("fuel_flow_max_kg_per_h") / 3600.0
        self._mu_lat = per_car("tyre_mu_lat")
        self._long_over_lat = per_car("tyre_mu_long") / self._mu_lat
        # load factor = 1 + sens * (Fz / 4 - Fz0) / Fz0 = c0 + c1 * Fz
        self._load_c0 = 1.0 - sens
        self._load_c1 = sens / (4.0 * fz0)
        self._share = per_car("driven_axle_load_share")
        self._crr = per_car("rolling_resistance_coeff")
        self._wear_rate = per_car("tyre_wear_per_g_m")
        self._grip_loss = per_car("tyre_grip_loss_at_full_wear")
        self._brake_max = per_car("brake_force_max_n")
        self._wheelbase = per_car("wheelbase_m")
        # Road-wheel angle (rad) to steering-wheel fraction of full lock.
        self._steer_per_rad = (
            np.degrees(1.0) * per_car("steering_ratio") / per_car("steering_lock_deg")
        )
        self._rev_limit = per_car("rev_limit_rpm")
        self._min_rpm = per_car("min_rpm")
        self._pedal_limits = PedalLimits(self.gains, self.dt, n)
        self._lookahead = const(self.gains.lookahead_s)
        self._two_tau = const(2.0 * self.gains.reach_time_s)
        self._two_d0 = const(2.0 * self.gains.reach_min_m)
        self._noise_scale = np.array(
            [NOISE_SPEED_KMH, NOISE_STEERING, NOISE_RPM, NOISE_G, NOISE_G]
        )[:, None]
        self._kmh = const(3.6)

        # Gear tables, flat and indexed by car * 9 + gear (gear 0 unused): the speed above
        # which the car shifts up, the speed below which it shifts down, rpm per m/s.
        v_up = np.stack([c.gear_upshift_speeds_m_s() for c in self.cars])  # (n, 8)
        hyst = per_car("downshift_hysteresis")[:, None]
        up = np.full((n, 9), np.inf)
        up[:, 1:8] = v_up[:, :7]
        down = np.full((n, 9), -1.0)
        down[:, 2:] = v_up[:, :7] * (1.0 - hyst)
        rpm = np.zeros((n, 9))
        rpm[:, 1:] = np.stack([c.rpm_per_m_s() for c in self.cars])
        self._v_up = v_up
        self._gear_up = up.ravel()
        self._gear_down = down.ravel()
        self._gear_rpm = rpm.ravel()
        self._gear_off = np.arange(n, dtype=np.int64) * 9

        # Track tables with the first sample repeated at the end, and the step to the next
        # sample, so that a lookup is value[j] + f * step[j] without wrapping.
        npts = track.n_points
        self._npts = npts
        self._inv_spacing = const(1.0 / track.spacing_m)
        self._length = const(track.length_m)
        self._spacing = track.spacing_m

        def closed(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            c = np.append(values, values[0]).astype(float)
            return c, np.append(np.diff(c), 0.0)

        # One table, one row per sample: curvature, progress ratio, x, y (values, then steps),
        # so a single row lookup serves the physics and the position channels.
        k0, dk = closed(track.curvature)
        r0, dr = closed(track.progress_ratio)
        x0, dx = closed(track.x)
        y0, dy = closed(track.y)
        self._r0 = r0
        self._geo = np.column_stack([k0, r0, x0, y0])
        self._dgeo = np.column_stack([dk, dr, dx, dy])
        self._drs_zone = np.append(track.drs_mask, track.drs_mask[0])
        self._sector_2 = const(track.sector_starts_m[1])
        self._sector_3 = const(track.sector_starts_m[2])
        self._sector_1 = np.ones(n, dtype=np.int64)
        self._ds_drive = track.spacing_m / self._r0

        # Constant string columns, as object arrays so that tolist() yields str.
        self._col_session = np.array([self.session_id] * n, dtype=object)
        self._col_car = np.array([car_id(i) for i in range(n)], dtype=object)
        self._col_driver = np.array([driver_code(i) for i in range(n)], dtype=object)
        self._rows = np.arange(n)
        self._row_off = self._rows * (npts + 1)

        # Target speed profiles, one row per car (flat views for fast lookups).
        self._vlim = np.zeros((n, npts + 1))
        self._dvlim = np.zeros((n, npts + 1))
        self._aff = np.zeros((n, npts + 1))
        self._vlim_f = self._vlim.reshape(-1)
        self._dvlim_f = self._dvlim.reshape(-1)
        self._aff_f = self._aff.reshape(-1)
        self.expected_lap_time_s = np.zeros(n)
        self._v_expected = np.zeros((n, npts))  # flying-lap speeds, for rolling starts

        # Dynamic state.
        self.lap = np.ones(n, dtype=np.int64)
        self._lap_base = np.zeros(n)  # (lap - 1) * length
        self.s = np.array([i * track.length_m / n for i in range(n)])
        self.fuel = per_car("fuel_start_kg")
        self.wear = np.zeros(n)
        self.ers_used = np.zeros(n)
        self.drs_open = np.zeros(n, dtype=bool)
        for i in range(n):
            self._rebuild_profile(i)
        # Rolling cars start at the speed of a flying lap at their position.
        j0 = np.minimum((self.s * self._inv_spacing).astype(np.intp), npts - 1)
        self.v = self._v_expected[self._rows, j0]
        self.v[0] = 0.0
        self.throttle = np.zeros(n)
        self.brake = np.zeros(n)
        self.braking = np.zeros(n, dtype=bool)
        wanted = (self.v[:, None] >= v_up).sum(axis=1) + 1
        self.gear = np.minimum(wanted, 8).astype(np.int64)
        self._geo_now = self._geometry(self.s)[0]

    # ------------------------------------------------------------------ profile
    def _rebuild_profile(self, i: int) -> None:
        """Recompute car ``i``'s target speeds for its current mass and tyre grip."""
        car = self.cars[i]
        grip = 1.0 - car.tyre_grip_loss_at_full_wear * float(self.wear[i])
        profile = speed_profile(
            self.track, car, mass_kg=car.mass_kg + float(self.fuel[i]), grip_scale=grip
        )
        v = np.append(profile.v_limit, profile.v_limit[0])
        self._vlim[i] = v
        self._dvlim[i, :-1] = np.diff(v)
        self._dvlim[i, -1] = 0.0
        # Acceleration along the limit profile (feed-forward) from one sample to the next.
        v2 = v * v
        self._aff[i, :-1] = (v2[1:] - v2[:-1]) / (2.0 * self._ds_drive[:-1])
        self._aff[i, -1] = self._aff[i, 0]
        self.expected_lap_time_s[i] = profile.lap_time_s
        self._v_expected[i] = profile.v_target

    def _geometry(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows (curvature, progress ratio, x, y) interpolated at ``s``, and sample indices."""
        u = s * self._inv_spacing
        j = u.astype(np.intp)
        geo = self._geo.take(j, axis=0) + (u - j)[:, None] * self._dgeo.take(j, axis=0)
        return geo, j

    # ------------------------------------------------------------------ stepping
    def step(self) -> Batch:
        """Advance every car by one tick and return the columnar batch of that instant."""
        s = self.s
        v = self.v

        # Track at the car's position (looked up at the end of the previous tick).
        k = self._geo_now[:, 0]
        ratio = self._geo_now[:, 1]

        # Target speed a little ahead (the driver's reaction time) and its slope.
        ahead = s + v * self._lookahead
        ahead = ahead - self._length * (ahead >= self._length)
        ua = ahead * self._inv_spacing
        ja = ua.astype(np.intp)
        fa = ua - ja
        ja = ja + self._row_off
        v_target = self._vlim_f.take(ja) + fa * self._dvlim_f.take(ja)
        a_ff = self._aff_f.take(ja)

        # Forces available at this speed: tyre grip (load-sensitive, worn, shared with
        # cornering through the friction ellipse), power, brakes.
        mass = self._mass_dry + self.fuel
        v2 = v * v
        fz = mass * self._g + self._c_down * v2
        lat_cap = self._mu_lat * (self._one - self._grip_loss * self.wear)
        lat_cap = lat_cap * (self._load_c0 + self._load_c1 * fz) * fz
        use = np.minimum(mass * v2 * np.abs(k) / lat_cap, self._one)
        f_long = lat_cap * self._long_over_lat * np.sqrt(self._one - use * use) + self._one
        power = self._power
        if self._ers_limited:
            power = self._ice_w + self._ers_w * (self.ers_used < self._ers_lap_j)
        f_power = power / np.maximum(v, self._one)
        f_traction = f_long * self._share
        c_drag = self._c_drag
        if self.drs_enabled:
            c_drag = np.where(self.drs_open, self._c_drag_drs, self._c_drag)
        f_resist = c_drag * v2 + self._crr * fz

        # Driver: the acceleration that reaches the target, as pedal demands. The throttle is
        # the share of the engine's power asked for and the brake the share of the brake
        # system's force; the driver asks no more than the tyres can transmit.
        a_cmd = a_ff + (v_target * v_target - v2) / (v * self._two_tau + self._two_d0)
        f_need = mass * a_cmd + f_resist
        throttle, brake, self.braking = pedal_step(
            self.throttle,
            self.brake,
            self.braking,
            np.minimum(f_need, f_traction) / f_power,
            np.minimum(-f_need, f_long) / self._brake_max,
            self._pedal_limits,
        )

        # Longitudinal dynamics (semi-implicit Euler).
        f_drive = np.minimum(throttle * f_power, f_traction)
        f_brake = np.minimum(brake * self._brake_max, f_long)
        accel = (f_drive - f_brake - f_resist) / mass
        v_new = np.maximum(v + accel * self._dt, self._zero)
        accel = (v_new - v) * self._hz
        driven = (v + v_new) * self._half_dt
        s_new = s + driven * ratio

        # Fuel burnt by the engine's power (capped flow); tyre wear from the tyres' work.
        burn = np.minimum(
            np.maximum(throttle * self._ice_w, self._overrun_w) * self._fuel_per_j, self._fuel_cap
        )
        self.fuel = np.maximum(self.fuel - burn * self._dt, self._zero)
        if self._ers_limited:
            self.ers_used = self.ers_used + throttle * self._ers_w * self._dt
        g_lat = v_new * v_new * k * self._inv_g
        g_long = accel * self._inv_g
        g_comb = np.sqrt(g_lat * g_lat + g_long * g_long)
        self.wear = np.minimum(self.wear + self._wear_rate * g_comb * driven, self._one)

        # Lap line: new lap, new profile for the fuel and tyres of the moment.
        crossed = s_new >= self._length
        if np.count_nonzero(crossed):
            s_new = s_new - self._length * crossed
            self.lap = self.lap + crossed
            self._lap_base = (self.lap - 1) * self._length
            if self._ers_limited:
                self.ers_used = self.ers_used * ~crossed
            for i in np.flatnonzero(crossed):
                self._rebuild_profile(int(i))

        geo, j = self._geometry(s_new)
        self._geo_now = geo
        # DRS opens in a zone at full throttle (from lap 2), closes on braking or zone exit.
        if self.drs_enabled:
            self.drs_open = (
                self._drs_zone.take(j)
                & (self.lap >= 2)
                & (brake < 0.01)
                & (self.drs_open | (throttle > 0.95))
            )

        # Gear from speed: one shift at most per tick (speed changes < 1 m/s per tick).
        gi = self._gear_off + self.gear
        gear = self.gear + (v_new >= self._gear_up.take(gi)) - (v_new < self._gear_down.take(gi))
        rpm = v_new * self._gear_rpm.take(self._gear_off + gear)
        rpm = np.minimum(np.maximum(rpm, self._min_rpm), self._rev_limit)

        self.s = s_new
        self.v = v_new
        self.throttle = throttle
        self.brake = brake
        self.gear = gear
        self.tick += 1

        noise = self._rng.standard_normal((5, self.n_cars)) * self._noise_scale
        return {
            "session_id": self._col_session,
            "car_id": self._col_car,
            "driver": self._col_driver,
            "timestamp": np.full(
                self.n_cars, self.session_start_us + self.tick * self._dt_us, np.int64
            ),
            "sim_time_s": np.full(self.n_cars, self.tick * self.dt),
            "lap": self.lap,
            "lap_distance_m": s_new,
            "total_distance_m": self._lap_base + s_new,
            "x_m": geo[:, 2],
            "y_m": geo[:, 3],
            "speed_kmh": np.maximum(v_new * self._kmh + noise[0], self._zero),
            "throttle": throttle,
            "brake": brake,
            "steering": np.clip(
                -np.arctan(self._wheelbase * k) * self._steer_per_rad + noise[1], -1.0, 1.0
            ),
            "gear": gear,
            "rpm": rpm + noise[2],
            "g_lat": -(g_lat + noise[3]),
            "g_long": g_long + noise[4],
            "fuel_kg": self.fuel,
            "tyre_wear": self.wear,
            "drs": self.drs_open,
            "sector": self._sector_1 + (s_new >= self._sector_2) + (s_new >= self._sector_3),
        }

    def run(self, n_ticks: int) -> Batch:
        """Advance ``n_ticks`` ticks; the batches concatenated (tick-major, car-minor)."""
        return concat_batches([self.step() for _ in range(n_ticks)])

    @property
    def sim_time_s(self) -> float:
        """Simulated time since the session start, in seconds."""
        return self.tick * self.dt


def concat_batches(batches: Sequence[Batch]) -> Batch:
    """Join batches field by field (rows in the order given)."""
    if not batches:
        return {name: np.empty(0) for name in TELEMETRY_FIELDS}
    return {name: np.concatenate([b[name] for b in batches]) for name in TELEMETRY_FIELDS}


def to_records(batch: Batch) -> list[dict[str, Any]]:
    """Rows of a columnar batch as dicts of plain Python values (str, int, float, bool)."""
    columns = [batch[name].tolist() for name in TELEMETRY_FIELDS]
    return [dict(zip(TELEMETRY_FIELDS, row, strict=True)) for row in zip(*columns, strict=True)]
