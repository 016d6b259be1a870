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
# Noise is drawn this many ticks at a time (one generator call), whatever the block size.
NOISE_CHUNK_TICKS = 100
# No car goes faster than this (m/s): lets the lap-line test skip ticks where none can cross.
MAX_SPEED_BOUND_M_S = 200.0

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
        self._noise_buf = np.empty((0, 5, n))
        self._noise_pos = NOISE_CHUNK_TICKS

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
        # The physics needs curvature and progress ratio every tick; positions are
        # interpolated once per block.
        self._kr = np.ascontiguousarray(self._geo[:, :2])
        self._dkr = np.ascontiguousarray(self._dgeo[:, :2])
        self._x0, self._dx, self._y0, self._dy = x0, dx, y0, dy
        # Bound on the distance any car covers in one tick (far above any car's top speed).
        self._max_step_m = MAX_SPEED_BOUND_M_S * self.dt * float(r0.max())
        self._drs_zone = np.append(track.drs_mask, track.drs_mask[0])
        self._sector_2 = const(track.sector_starts_m[1])
        self._sector_3 = const(track.sector_starts_m[2])
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
        geo_now = self._geometry(self.s)[0]
        self._k_now, self._ratio_now = geo_now[:, 0], geo_now[:, 1]

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
        return self.step_block(1)

    def step_block(self, n_ticks: int) -> Batch:
        """Advance every car by ``n_ticks`` ticks; the batches of those instants concatenated
        (tick-major, car-minor), the same records as ``n_ticks`` calls of :meth:`step`.

        The physics runs tick by tick (each tick depends on the one before); the channels
        that only report the state (positions, noise, rpm, units) are computed once for the
        whole block, which is what makes long blocks cheaper per tick.
        """
        if n_ticks < 1:
            raise ValueError(f"n_ticks must be at least 1, got {n_ticks}")
        s, v = self.s, self.v
        throttle, brake, braking = self.throttle, self.brake, self.braking
        fuel, wear, gear, lap = self.fuel, self.wear, self.gear, self.lap
        drs_open, ers_used = self.drs_open, self.ers_used
        k, ratio = self._k_now, self._ratio_now
        # Constants as locals: the loop below is the simulator's hot path.
        one, zero, dt, half_dt, hz = self._one, self._zero, self._dt, self._half_dt, self._hz
        g, inv_g, length = self._g, self._inv_g, self._length
        lookahead, inv_spacing, row_off = self._lookahead, self._inv_spacing, self._row_off
        vlim_f, dvlim_f, aff_f = self._vlim_f, self._dvlim_f, self._aff_f
        mass_dry, c_down, mu_lat = self._mass_dry, self._c_down, self._mu_lat
        grip_loss = self._grip_loss
        load_c0, load_c1, long_over_lat = self._load_c0, self._load_c1, self._long_over_lat
        share, crr, brake_max = self._share, self._crr, self._brake_max
        two_tau, two_d0, limits = self._two_tau, self._two_d0, self._pedal_limits
        ice_w, ers_w, ers_lap_j = self._ice_w, self._ers_w, self._ers_lap_j
        overrun_w, fuel_per_j, fuel_cap = self._overrun_w, self._fuel_per_j, self._fuel_cap
        wear_rate, kr_table, dkr_table = self._wear_rate, self._kr, self._dkr
        gear_off, gear_up, gear_down = self._gear_off, self._gear_up, self._gear_down
        ers_limited, drs_enabled = self._ers_limited, self.drs_enabled
        power = self._power
        c_drag = self._c_drag
        length_m, max_step_m = self.track.length_m, self._max_step_m
        safe_ticks = 0

        out_s, out_v, out_thr, out_brk, out_gear, out_k = [], [], [], [], [], []
        out_glat, out_glong, out_fuel, out_wear, out_lap, out_drs = [], [], [], [], [], []
        for _ in range(n_ticks):
            # Target speed a little ahead (the driver's reaction time) and its slope.
            ahead = v * lookahead
            ahead += s
            np.subtract(ahead, length, out=ahead, where=ahead >= length)
            ua = ahead * inv_spacing
            ja = ua.astype(np.intp)
            fa = ua - ja
            ja += row_off
            v_target = fa * dvlim_f.take(ja)
            v_target += vlim_f.take(ja)
            a_ff = aff_f.take(ja)

            # Forces available at this speed: tyre grip (load-sensitive, worn, shared with
            # cornering through the friction ellipse), power, brakes.
            mass = mass_dry + fuel
            v2 = v * v
            fz = mass * g
            fz += c_down * v2
            lat_cap = grip_loss * wear
            np.subtract(one, lat_cap, out=lat_cap)
            lat_cap *= mu_lat
            load = load_c1 * fz
            load += load_c0
            lat_cap *= load
            lat_cap *= fz
            use = mass * v2
            use *= np.abs(k)
            use /= lat_cap
            np.minimum(use, one, out=use)
            use *= use
            np.subtract(one, use, out=use)
            f_long = lat_cap * long_over_lat
            f_long *= np.sqrt(use, out=use)
            f_long += one
            if ers_limited:
                power = ice_w + ers_w * (ers_used < ers_lap_j)
            f_power = power / np.maximum(v, one)
            f_traction = f_long * share
            if drs_enabled:
                c_drag = np.where(drs_open, self._c_drag_drs, self._c_drag)
            f_resist = c_drag * v2
            f_resist += crr * fz

            # Driver: the acceleration that reaches the target, as pedal demands. The
            # throttle is the share of the engine's power asked for and the brake the share
            # of the brake system's force; the driver asks no more than the tyres can
            # transmit.
            reach = v * two_tau
            reach += two_d0
            a_cmd = v_target * v_target
            a_cmd -= v2
            a_cmd /= reach
            a_cmd += a_ff
            f_need = mass * a_cmd
            f_need += f_resist
            thr_demand = np.minimum(f_need, f_traction)
            thr_demand /= f_power
            brk_demand = np.minimum(np.negative(f_need, out=f_need), f_long)
            brk_demand /= brake_max
            throttle, brake, braking = pedal_step(
                throttle, brake, braking, thr_demand, brk_demand, limits
            )

            # Longitudinal dynamics (semi-implicit Euler).
            f_drive = throttle * f_power
            np.minimum(f_drive, f_traction, out=f_drive)
            f_brake = brake * brake_max
            np.minimum(f_brake, f_long, out=f_brake)
            f_drive -= f_brake
            f_drive -= f_resist
            accel = f_drive
            accel /= mass
            accel *= dt
            accel += v
            v_new = np.maximum(accel, zero, out=accel)
            accel = v_new - v
            accel *= hz
            driven = v + v_new
            driven *= half_dt
            s_new = driven * ratio
            s_new += s

            # Fuel burnt by the engine's power (capped flow); tyre wear from the tyres' work.
            burn = throttle * ice_w
            np.maximum(burn, overrun_w, out=burn)
            burn *= fuel_per_j
            np.minimum(burn, fuel_cap, out=burn)
            burn *= dt
            fuel = fuel - burn
            np.maximum(fuel, zero, out=fuel)
            if ers_limited:
                ers_used = ers_used + throttle * ers_w * dt
            g_lat = v_new * v_new
            g_lat *= k
            g_lat *= inv_g
            g_long = accel * inv_g
            g_comb = g_lat * g_lat
            g_comb += g_long * g_long
            np.sqrt(g_comb, out=g_comb)
            g_comb *= wear_rate
            g_comb *= driven
            wear = wear + g_comb
            np.minimum(wear, one, out=wear)

            # Lap line: new lap, new profile for the fuel and tyres of the moment. No car
            # moves more than max_step_m per tick, so the test waits until one can arrive.
            safe_ticks -= 1
            if safe_ticks <= 0:
                crossed = s_new >= length
                safe_ticks = int((length_m - s_new.max()) / max_step_m)
            if safe_ticks <= 0 and np.count_nonzero(crossed):
                s_new = s_new - length * crossed
                lap = lap + crossed
                if ers_limited:
                    ers_used = ers_used * ~crossed
                self.fuel, self.wear = fuel, wear
                for i in np.flatnonzero(crossed):
                    self._rebuild_profile(int(i))
                safe_ticks = int((length_m - s_new.max()) / max_step_m)

            # Track at the new position: curvature and progress ratio for the next tick.
            u = s_new * inv_spacing
            j = u.astype(np.intp)
            kr = (u - j)[:, None] * dkr_table.take(j, axis=0)
            kr += kr_table.take(j, axis=0)
            k_next, ratio = kr[:, 0], kr[:, 1]
            # DRS opens in a zone at full throttle (from lap 2), closes on braking or zone
            # exit.
            if drs_enabled:
                drs_open = (
                    self._drs_zone.take(j)
                    & (lap >= 2)
                    & (brake < 0.01)
                    & (drs_open | (throttle > 0.95))
                )

            # Gear from speed: one shift at most per tick (speed changes < 1 m/s per tick).
            gi = gear_off + gear
            gear = gear + (v_new >= gear_up.take(gi))
            gear -= v_new < gear_down.take(gi)

            out_s.append(s_new)
            out_v.append(v_new)
            out_thr.append(throttle)
            out_brk.append(brake)
            out_gear.append(gear)
            out_k.append(k)
            out_glat.append(g_lat)
            out_glong.append(g_long)
            out_fuel.append(fuel)
            out_wear.append(wear)
            out_lap.append(lap)
            out_drs.append(drs_open)
            s, v, k = s_new, v_new, k_next

        self.s, self.v = s, v
        self.throttle, self.brake, self.braking = throttle, brake, braking
        self.fuel, self.wear, self.gear, self.lap = fuel, wear, gear, lap
        self.drs_open, self.ers_used = drs_open, ers_used
        self._k_now, self._ratio_now = k, ratio
        first_tick = self.tick + 1
        self.tick += n_ticks
        return self._report(
            first_tick,
            n_ticks,
            out_s,
            out_v,
            out_thr,
            out_brk,
            out_gear,
            out_k,
            out_glat,
            out_glong,
            out_fuel,
            out_wear,
            out_lap,
            out_drs,
        )

    def _noise(self, n_ticks: int) -> np.ndarray:
        """Sensor noise of the next ``n_ticks`` ticks, shape (5, n_ticks, n_cars).

        Drawn in chunks of ``NOISE_CHUNK_TICKS`` ticks whatever the block size, so a seed gives
        the same records whether the simulation is stepped tick by tick or in blocks.
        """
        parts = []
        need = n_ticks
        while need:
            if self._noise_pos == NOISE_CHUNK_TICKS:
                shape = (NOISE_CHUNK_TICKS, 5, self.n_cars)
                self._noise_buf = self._rng.standard_normal(shape) * self._noise_scale
                self._noise_pos = 0
            take = min(need, NOISE_CHUNK_TICKS - self._noise_pos)
            parts.append(self._noise_buf[self._noise_pos : self._noise_pos + take])
            self._noise_pos += take
            need -= take
        block = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return block.transpose(1, 0, 2)

    def _report(self, first_tick: int, n_ticks: int, *columns: list[np.ndarray]) -> Batch:
        """The telemetry channels of a block from the state recorded at each tick."""
        # (n_ticks, n_cars) arrays: per-car constants broadcast along the ticks.
        n = self.n_cars
        s, v, thr, brk, gear, k, g_lat, g_long, fuel, wear, lap, drs = (
            (c[0] if n_ticks == 1 else np.concatenate(c)).reshape(n_ticks, n) for c in columns
        )
        size = n_ticks * n
        speed_noise, steer_noise, rpm_noise, g_lat_noise, g_long_noise = self._noise(n_ticks)
        ticks = np.arange(first_tick, first_tick + n_ticks, dtype=np.int64).repeat(n)
        u = s * self._inv_spacing[0]
        j = u.astype(np.intp)
        f = u - j
        rpm = v * self._gear_rpm.take(self._gear_off + gear)
        np.maximum(rpm, self._min_rpm, out=rpm)
        np.minimum(rpm, self._rev_limit, out=rpm)
        rpm += rpm_noise
        steer = np.arctan(self._wheelbase * k)
        steer *= self._steer_per_rad
        np.negative(steer, out=steer)
        steer += steer_noise
        np.minimum(steer, 1.0, out=steer)
        np.maximum(steer, -1.0, out=steer)
        speed = v * 3.6
        speed += speed_noise
        g_lat += g_lat_noise
        np.negative(g_lat, out=g_lat)
        sector = (s >= self._sector_2[0]).astype(np.int64)
        sector += 1
        sector += s >= self._sector_3[0]
        if n_ticks == 1:
            session, cars, drivers = self._col_session, self._col_car, self._col_driver
        else:
            session, cars, drivers = (
                np.tile(c, n_ticks) for c in (self._col_session, self._col_car, self._col_driver)
            )
        return {
            "session_id": session,
            "car_id": cars,
            "driver": drivers,
            "timestamp": self.session_start_us + ticks * self._dt_us,
            "sim_time_s": ticks * self.dt,
            "lap": lap.reshape(size),
            "lap_distance_m": s.reshape(size),
            "total_distance_m": ((lap - 1) * self._length[0] + s).reshape(size),
            "x_m": (self._x0.take(j) + f * self._dx.take(j)).reshape(size),
            "y_m": (self._y0.take(j) + f * self._dy.take(j)).reshape(size),
            "speed_kmh": np.maximum(speed, 0.0, out=speed).reshape(size),
            "throttle": thr.reshape(size),
            "brake": brk.reshape(size),
            "steering": steer.reshape(size),
            "gear": gear.reshape(size),
            "rpm": rpm.reshape(size),
            "g_lat": g_lat.reshape(size),
            "g_long": (g_long + g_long_noise).reshape(size),
            "fuel_kg": fuel.reshape(size),
            "tyre_wear": wear.reshape(size),
            "drs": drs.reshape(size),
            "sector": sector.reshape(size),
        }

    def run(self, n_ticks: int) -> Batch:
        """Advance ``n_ticks`` ticks; the batches concatenated (tick-major, car-minor)."""
        blocks = []
        while n_ticks > 0:
            size = min(n_ticks, 1000)
            blocks.append(self.step_block(size))
            n_ticks -= size
        return blocks[0] if len(blocks) == 1 else concat_batches(blocks)

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
