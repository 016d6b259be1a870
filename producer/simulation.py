"""The race simulator: every car advances together, tick by tick, in compiled code.

Each call of :meth:`Simulation.step` moves all cars by one physics tick (``1 / hz`` seconds)
and returns a *columnar batch*: a dict of telemetry field name -> numpy array with one
element per car (:meth:`Simulation.step_block`: one per car and tick, for many ticks). The
tick itself is :func:`producer.physics.advance`; this module holds the session: cars, track,
speed profiles, noise and the batches. :func:`to_records` turns a batch into the list of dict
records that the serialisers expect, with exactly the field names of :data:`TELEMETRY_FIELDS`.

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

from collections.abc import Sequence
from typing import Any

import numpy as np

from circuit import Track
from producer.car import GRAVITY_M_S2, CarParams, car_id, car_params_for, driver_code
from producer.driver import ControllerGains, PedalLimits, speed_profile
from producer.physics import (
    NOISE_ROWS,
    CarConstants,
    CarState,
    Channels,
    Controls,
    Gearbox,
    Profiles,
    TrackTables,
    advance,
    empty_channels,
)
from runtime.compile_notice import compile_notice
from runtime.errors import ConfigError

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
        self.seed = seed
        self.session_start_us = int(session_start_us)
        self.session_id = session_id or f"session-{self.session_start_us}"
        self.drs_enabled = bool(drs_enabled)
        self.gains = gains or ControllerGains()
        self.cars: tuple[CarParams, ...] = tuple(
            cars if cars is not None else (car_params_for(i, seed) for i in range(n_cars))
        )
        self.tick = 0
        # SFC64: the noise is most of the simulator's random numbers, and this generator
        # draws them about a fifth faster than numpy's default (PCG64).
        self._rng = np.random.Generator(np.random.SFC64([seed & 0xFFFFFFFF, 0x5E550]))
        self._noise_scale = np.array(
            [NOISE_SPEED_KMH, NOISE_STEERING, NOISE_RPM, NOISE_G, NOISE_G]
        )[:, None]
        self._noise_buf = np.empty((0, NOISE_ROWS, n_cars))
        self._noise_pos = NOISE_CHUNK_TICKS
        self._clock_us = (self.session_start_us, 1_000_000 // hz)
        self._car = _car_constants(self.cars)
        self._gearbox = _gearbox(self.cars)
        self._track = _track_tables(track)
        self._controls = Controls(
            dt=self.dt,
            hz=float(hz),
            gravity=GRAVITY_M_S2,
            lookahead_s=self.gains.lookahead_s,
            two_reach_s=2.0 * self.gains.reach_time_s,
            two_reach_m=2.0 * self.gains.reach_min_m,
            drs_enabled=self.drs_enabled,
            ers_limited=bool(np.any(self._car.ers_lap_j > 0.0)),
            pedals=PedalLimits.per_tick(self.gains, self.dt),
        )
        # Metres driven on the driving line from each sample to the next.
        self._ds_drive = track.spacing_m / np.append(track.progress_ratio, track.progress_ratio[0])

        # Constant string columns, as object arrays so that tolist() yields str; tiled once
        # per block size.
        n = n_cars
        self._strings = tuple(
            np.array(values, dtype=object)
            for values in (
                [self.session_id] * n,
                [car_id(i) for i in range(n)],
                [driver_code(i) for i in range(n)],
            )
        )
        self._tiled: dict[int, tuple[np.ndarray, ...]] = {}

        # Target speed profiles, one row per car.
        npts = track.n_points
        self._profiles = Profiles(
            v=np.zeros((n, npts + 1)), dv=np.zeros((n, npts + 1)), a_ff=np.zeros((n, npts + 1))
        )
        self.expected_lap_time_s = np.zeros(n)
        self._v_expected = np.zeros((n, npts))  # flying-lap speeds, for rolling starts

        s0 = np.array([i * track.length_m / n for i in range(n)])
        fuel0 = np.array([c.fuel_start_kg for c in self.cars])
        self.state = CarState(
            s=s0,
            v=np.zeros(n),
            throttle=np.zeros(n),
            brake=np.zeros(n),
            braking=np.zeros(n, dtype=bool),
            fuel=fuel0,
            wear=np.zeros(n),
            ers_used=np.zeros(n),
            k=np.interp(s0, track.s, track.curvature, period=track.length_m),
            ratio=np.interp(s0, track.s, track.progress_ratio, period=track.length_m),
            drs_open=np.zeros(n, dtype=bool),
            gear=np.ones(n, dtype=np.int64),
            lap=np.ones(n, dtype=np.int64),
        )
        with compile_notice("the simulator's physics"):
            for i in range(n):
                self._rebuild_profile(i)
            # No tick: loads (or compiles) the kernel now rather than at the first step.
            self._advance(np.empty((0, NOISE_ROWS, n)), 0, 0, np.zeros(n, bool), empty_channels(0))
        # Rolling cars start at the speed of a flying lap at their position, in the gear of
        # that speed.
        j0 = np.minimum((s0 / track.spacing_m).astype(np.intp), npts - 1)
        self.state.v[:] = self._v_expected[np.arange(n), j0]
        self.state.v[0] = 0.0
        wanted = (self.state.v[:, None] >= self._gearbox.up[:, 1:8]).sum(axis=1) + 1
        self.state.gear[:] = np.minimum(wanted, 8)

    @property
    def s(self) -> np.ndarray:
        """Each car's lap distance (m)."""
        return self.state.s

    @property
    def v(self) -> np.ndarray:
        """Each car's speed (m/s)."""
        return self.state.v

    @property
    def lap(self) -> np.ndarray:
        """Each car's lap number (1 on the first lap)."""
        return self.state.lap

    # ------------------------------------------------------------------ profile
    def _rebuild_profile(self, i: int) -> None:
        """Recompute car ``i``'s target speeds for its current mass and tyre grip."""
        car = self.cars[i]
        grip = 1.0 - car.tyre_grip_loss_at_full_wear * float(self.state.wear[i])
        profile = speed_profile(
            self.track, car, mass_kg=car.mass_kg + float(self.state.fuel[i]), grip_scale=grip
        )
        p = self._profiles
        v = p.v[i]
        v[:-1] = profile.v_limit
        v[-1] = v[0]
        p.dv[i, :-1] = np.diff(v)
        p.dv[i, -1] = 0.0
        # Acceleration along the limit profile (feed-forward) from one sample to the next.
        v2 = v * v
        p.a_ff[i, :-1] = (v2[1:] - v2[:-1]) / (2.0 * self._ds_drive[:-1])
        p.a_ff[i, -1] = p.a_ff[i, 0]
        self.expected_lap_time_s[i] = profile.lap_time_s
        self._v_expected[i] = profile.v_target

    # ------------------------------------------------------------------ stepping
    def step(self) -> Batch:
        """Advance every car by one tick and return the columnar batch of that instant."""
        return self.step_block(1)

    def step_block(self, n_ticks: int) -> Batch:
        """Advance every car by ``n_ticks`` ticks; the batches of those instants concatenated
        (tick-major, car-minor), the same records as ``n_ticks`` calls of :meth:`step`.

        The ticks run in compiled code (:func:`producer.physics.advance`), which returns to
        rebuild a car's speed profile when it starts a lap.
        """
        if n_ticks < 1:
            raise ValueError(f"n_ticks must be at least 1, got {n_ticks}")
        out = empty_channels(n_ticks * self.n_cars)
        noise = self._noise(n_ticks)
        crossed = np.zeros(self.n_cars, dtype=bool)
        done = 0
        while done < n_ticks:
            done = self._advance(noise, done, n_ticks, crossed, out)
            for i in np.flatnonzero(crossed).tolist():
                self._rebuild_profile(i)
            crossed[:] = False
        self.tick += n_ticks
        session, cars, drivers = self._string_columns(n_ticks)
        return {"session_id": session, "car_id": cars, "driver": drivers, **out._asdict()}

    def _advance(
        self, noise: np.ndarray, start: int, stop: int, crossed: np.ndarray, out: Channels
    ) -> int:
        """Ticks ``start`` to ``stop - 1`` of the block that follows the current tick; the
        tick after the last one done (see :func:`producer.physics.advance`)."""
        return advance(
            self.state,
            self._car,
            self._gearbox,
            self._track,
            self._profiles,
            self._controls,
            noise,
            self.tick + 1,
            self._clock_us,
            start,
            stop,
            crossed,
            out,
        )

    def _string_columns(self, n_ticks: int) -> tuple[np.ndarray, ...]:
        """The constant columns of a block, read-only and owning their data: an encoder may
        then take the same object for the same values (see ``schemas.serde``)."""
        tiled = self._tiled.get(n_ticks)
        if tiled is None:
            tiled = tuple(np.tile(column, n_ticks).copy() for column in self._strings)
            for column in tiled:
                column.flags.writeable = False
            if len(self._tiled) < 8:  # a few block sizes at most (steady, last, tests)
                self._tiled[n_ticks] = tiled
        return tiled

    def _noise(self, n_ticks: int) -> np.ndarray:
        """Sensor noise of the next ``n_ticks`` ticks, shape (n_ticks, NOISE_ROWS, n_cars).

        Drawn in chunks of ``NOISE_CHUNK_TICKS`` ticks whatever the block size, so a seed gives
        the same records whether the simulation is stepped tick by tick or in blocks.
        """
        parts = []
        need = n_ticks
        while need:
            if self._noise_pos == NOISE_CHUNK_TICKS:
                shape = (NOISE_CHUNK_TICKS, NOISE_ROWS, self.n_cars)
                self._noise_buf = self._rng.standard_normal(shape)
                self._noise_buf *= self._noise_scale
                self._noise_pos = 0
            take = min(need, NOISE_CHUNK_TICKS - self._noise_pos)
            parts.append(self._noise_buf[self._noise_pos : self._noise_pos + take])
            self._noise_pos += take
            need -= take
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

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


def _car_constants(cars: Sequence[CarParams]) -> CarConstants:
    def per_car(name: str) -> np.ndarray:
        return np.array([getattr(c, name) for c in cars], dtype=float)

    rho_half = 0.5 * per_car("air_density_kg_m3")
    sens = per_car("tyre_load_sensitivity")
    c_drag = rho_half * per_car("cw_a_m2")
    mu_lat = per_car("tyre_mu_lat")
    return CarConstants(
        mass_dry=per_car("mass_kg"),
        c_drag=c_drag,
        c_drag_drs=c_drag * (1.0 - per_car("drs_drag_reduction")),
        c_down=rho_half * per_car("cz_a_m2"),
        ice_w=per_car("ice_power_w"),
        ers_w=per_car("ers_power_w"),
        ers_lap_j=per_car("ers_energy_per_lap_j"),
        overrun_w=per_car("ice_overrun_power_w"),
        fuel_per_j=1.0 / (per_car("ice_efficiency") * per_car("fuel_lhv_j_per_kg")),
        fuel_cap=per_car("fuel_flow_max_kg_per_h") / 3600.0,
        mu_lat=mu_lat,
        long_over_lat=per_car("tyre_mu_long") / mu_lat,
        load_c0=1.0 - sens,
        load_c1=sens / (4.0 * per_car("tyre_reference_load_n")),
        share=per_car("driven_axle_load_share"),
        crr=per_car("rolling_resistance_coeff"),
        wear_rate=per_car("tyre_wear_per_g_m"),
        grip_loss=per_car("tyre_grip_loss_at_full_wear"),
        brake_max=per_car("brake_force_max_n"),
        wheelbase=per_car("wheelbase_m"),
        # Road-wheel angle (rad) to steering-wheel fraction of full lock.
        steer_per_rad=np.degrees(1.0) * per_car("steering_ratio") / per_car("steering_lock_deg"),
        rev_limit=per_car("rev_limit_rpm"),
        min_rpm=per_car("min_rpm"),
    )


def _gearbox(cars: Sequence[CarParams]) -> Gearbox:
    """Gear tables [car, gear]: the speed above which the car shifts up, the speed below
    which it shifts down, rpm per m/s (gear 0 unused)."""
    n = len(cars)
    v_up = np.stack([c.gear_upshift_speeds_m_s() for c in cars])  # (n, 8)
    hyst = np.array([c.downshift_hysteresis for c in cars])[:, None]
    up = np.full((n, 9), np.inf)
    up[:, 1:8] = v_up[:, :7]
    down = np.full((n, 9), -1.0)
    down[:, 2:] = v_up[:, :7] * (1.0 - hyst)
    rpm = np.zeros((n, 9))
    rpm[:, 1:] = np.stack([c.rpm_per_m_s() for c in cars])
    # Out of 3rd only below the low-gear downshift rpm (see CarParams).
    low_rpm = np.array([c.low_gear_downshift_rpm for c in cars])
    down[:, 3] = np.minimum(down[:, 3], low_rpm / rpm[:, 3])
    return Gearbox(up=up, down=down, rpm=rpm)


def _track_tables(track: Track) -> TrackTables:
    def closed(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = np.append(values, values[0]).astype(float)
        return c, np.append(np.diff(c), 0.0)

    return TrackTables(
        *closed(track.curvature),
        *closed(track.progress_ratio),
        *closed(track.x),
        *closed(track.y),
        drs_zone=np.append(track.drs_mask, track.drs_mask[0]),
        length=float(track.length_m),
        inv_spacing=1.0 / track.spacing_m,
        sector_2=float(track.sector_starts_m[1]),
        sector_3=float(track.sector_starts_m[2]),
    )


def concat_batches(batches: Sequence[Batch]) -> Batch:
    """Join batches field by field (rows in the order given)."""
    if not batches:
        return {name: np.empty(0) for name in TELEMETRY_FIELDS}
    return {name: np.concatenate([b[name] for b in batches]) for name in TELEMETRY_FIELDS}


def to_records(batch: Batch) -> list[dict[str, Any]]:
    """Rows of a columnar batch as dicts of plain Python values (str, int, float, bool)."""
    columns = [batch[name].tolist() for name in TELEMETRY_FIELDS]
    return [dict(zip(TELEMETRY_FIELDS, row, strict=True)) for row in zip(*columns, strict=True)]
