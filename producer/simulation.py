"""The race simulator: every car advances together, tick by tick, in compiled code.

Each call of :meth:`Simulation.step` moves all cars by one physics tick (``1 / hz`` seconds)
and returns a *columnar batch*: a dict of telemetry field name -> numpy array with one
element per car still in the session (:meth:`Simulation.step_block`: one per car and tick,
for many ticks). The tick itself is :func:`producer.physics.advance`; this module holds the
session: cars, track, speed profiles, strategies, noise and the batches. :func:`to_records`
turns a batch into the list of dict records that the serialisers expect, with exactly the
field names of :data:`TELEMETRY_FIELDS`.

Model, per car and tick: the driver (:mod:`producer.driver`) reads the target speed a short
time ahead and demands throttle or brake; the pedals move at limited rates; the drive force
is the throttle share of what the power unit (power / speed) and the rear tyres (grip left
over from cornering) can give, the brake force the brake share of what brakes and tyres can
give; drag, rolling resistance and downforce grow with speed. Fuel burns with the engine's
power, tyres wear with the work they do and lose grip, DRS cuts drag on its zones when the
session allows it. The car ahead gives a tow on the straights and dirty air in the corners
(:mod:`producer.race`); a car on its in-lap stops in the pit lane for new tyres
(:mod:`producer.pit_lane`, :mod:`producer.strategy`). The target speed profile of a car is
recomputed as it starts each lap and when it gets new tyres, with its fuel load and tyres of
that moment.

The session (:mod:`producer.session`) is a practice (cars spread around the lap) or a race
(a grid behind the line, lights out at session time 0, the chequered flag after the leader's
last lap). Either way each car ends at a line crossing: its last record is its first sample
past the line (``car_status`` ``finished``), after which it sends no more records while the
others go on.

Channel conventions:

* ``steering`` is the steering-wheel angle as a fraction of full lock, positive to the right
  (as telemetry.avsc defines it), from the driving-line curvature with a bicycle model;
* ``g_lat`` is positive towards the car's right, ``g_long`` positive when accelerating, both
  in g. Track curvature is positive to the left (counter-clockwise), hence the sign flips;
* ``total_distance_m`` is ``(lap - 1) * lap length + lap_distance_m``: how far the car is
  from the start line of its lap 1, so cars can be ordered by it; on a race grid both are
  negative until the car first crosses the line;
* ``x_m``/``y_m`` follow the track's centre line, and the pit lane beside it in the pit lane;
* ``timestamp`` is the car's clock: session start (microseconds since the epoch, injected)
  plus simulated time. The simulator never reads the wall clock.

Sensor noise (speed, rpm, accelerations, steering) comes from one seeded generator; the same
seed gives bit-identical records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from circuit import Track
from producer.car import (
    GRAVITY_M_S2,
    CarParams,
    car_id,
    car_params_for,
    driver_code,
    fuel_for_race,
)
from producer.driver import ControllerGains, PedalLimits, speed_profile
from producer.physics import (
    EVENT_TYRES,
    NOISE_ROWS,
    CarConstants,
    CarState,
    Channels,
    Controls,
    Gearbox,
    Profiles,
    RowCodes,
    TrackTables,
    advance,
    empty_channels,
    empty_codes,
)
from producer.pit_lane import pit_lane
from producer.race import race_control, straight_mask, traffic
from producer.session import SessionPlan, grid_positions, race_laps
from producer.strategy import Strategy, plan_strategy
from producer.tyres import COMPOUND, DEFAULT_COMPOUND, TyreSets, compound, grip_scale
from runtime.compile_notice import compile_notice
from runtime.errors import ConfigError
from schemas.channels import CAR_STATUSES, PIT_STATUSES, TYRE_COMPOUNDS

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
    "session_kind",
    "tyre_compound",
    "tyre_age_laps",
    "pit_status",
    "pit_stops",
    "car_status",
)

# Standard deviation of the sensor noise added to the logged channels (not to the physics).
NOISE_SPEED_KMH = 0.15
NOISE_RPM = 20.0
NOISE_G = 0.03
NOISE_STEERING = 0.002  # fraction of full lock
# Noise is drawn this many ticks at a time (one generator call), whatever the block size.
NOISE_CHUNK_TICKS = 100
# A launch from rest is limited by traction: wheelspin and the clutch leave this share of the
# rear tyres' grip usable at rest, all of it from LAUNCH_SPEED_M_S on; 0 to 100 km/h then
# takes about 2.6 s, as published for current cars (2.5 to 3 s).
LAUNCH_GRIP = 0.7
LAUNCH_SPEED_M_S = 30.0
# Below this speed the engine's torque through 1st gear, not its power, caps the drive force
# (about 27 kN: some 650 N m times the overall 1st-gear ratio over the wheel radius).
FULL_POWER_SPEED_M_S = 25.0
# The compound of a practice car unless the session names one.
PRACTICE_COMPOUND = "medium"
# Tiled string columns kept for reuse (block sizes times the value combinations in use).
_TILED_MAX = 64

Batch = dict[str, np.ndarray]
_COMPOUND_CODES = {name: code for code, name in enumerate(TYRE_COMPOUNDS)}


class Simulation:
    """All cars of a session, advanced together at ``hz`` ticks per simulated second.

    ``session`` says what the session is (:class:`producer.session.SessionPlan`; default: a
    practice without end). In practice car 0 starts from rest on the start/finish line and
    car ``i`` ``i / n_cars`` of a lap further on, already at its target speed, so the cars are
    spread around the circuit from the first tick; in a race they stand on the grid in car
    order. Every car is on lap 1 at the start. ``strategies`` replaces the race strategies
    drawn from the seed (one per car).

    A car that has finished produces no more records: a batch holds, tick by tick, the cars
    still in the session (:attr:`block_cars` says which car each row is), and
    :attr:`finished` is true once none is left.

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
        session: SessionPlan | None = None,
        strategies: Sequence[Strategy] | None = None,
    ) -> None:
        if not isinstance(n_cars, int) or n_cars < 1:
            raise ConfigError(f"n_cars must be a positive integer, got {n_cars!r}")
        if not isinstance(hz, int) or hz < 10 or 1_000_000 % hz:
            raise ConfigError(f"hz must be an integer >= 10 that divides 1,000,000, got {hz!r}")
        if cars is not None and len(cars) != n_cars:
            raise ConfigError(f"got {len(cars)} car parameter sets for {n_cars} cars")
        self.session = session or SessionPlan()
        is_race = self.session.is_race
        if strategies is not None and (not is_race or len(strategies) != n_cars):
            raise ConfigError(f"a race takes one strategy per car: {n_cars} cars")
        self.track = track
        self.n_cars = n_cars
        self.hz = hz
        self.dt = 1.0 / hz
        self.seed = seed
        self.session_start_us = int(session_start_us)
        self.session_id = session_id or f"session-{self.session_start_us}"
        self.laps = self.session.laps if not is_race else self.session.laps or race_laps(track)
        # In a race DRS follows the rule (detection points); in practice it is free when on.
        self.drs_enabled = bool(drs_enabled) or is_race
        self.gains = gains or ControllerGains()
        self.cars: tuple[CarParams, ...] = tuple(
            cars if cars is not None else (car_params_for(i, seed) for i in range(n_cars))
        )
        if is_race:
            assert self.laps is not None
            self.strategies: tuple[Strategy, ...] = tuple(
                strategies
                if strategies is not None
                else (plan_strategy(i, seed, self.laps, self.session.tyre) for i in range(n_cars))
            )
        else:
            self.strategies = ()
        self._stops_made = [0] * n_cars
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
        self._race = race_control(track, race=is_race, laps=self.laps)
        self._pit = pit_lane(track, n_cars)
        self._traffic = traffic()
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
            launch_grip=LAUNCH_GRIP,
            launch_speed=LAUNCH_SPEED_M_S,
            full_power_speed=FULL_POWER_SPEED_M_S,
        )
        # Metres driven on the driving line from each sample to the next.
        self._ds_drive = track.spacing_m / np.append(track.progress_ratio, track.progress_ratio[0])

        # String columns, as object arrays so that tolist() yields str: the values of each
        # car, and of each code of the coded channels; tiled blocks are kept (read-only).
        n = n_cars
        self._per_car = {
            "session_id": np.array([self.session_id] * n, dtype=object),
            "car_id": np.array([car_id(i) for i in range(n)], dtype=object),
            "driver": np.array([driver_code(i) for i in range(n)], dtype=object),
            "session_kind": np.array([self.session.kind] * n, dtype=object),
        }
        self._code_values = {
            "tyre_compound": np.array(TYRE_COMPOUNDS, dtype=object),
            "pit_status": np.array(PIT_STATUSES, dtype=object),
            "car_status": np.array(CAR_STATUSES, dtype=object),
        }
        self._tiled: dict[Any, np.ndarray] = {}
        self.block_cars = np.empty(0, dtype=np.int16)

        # Target speed profiles, one row per car.
        npts = track.n_points
        self._profiles = Profiles(
            v=np.zeros((n, npts + 1)), dv=np.zeros((n, npts + 1)), a_ff=np.zeros((n, npts + 1))
        )
        self.expected_lap_time_s = np.zeros(n)
        self._v_expected = np.zeros((n, npts))  # flying-lap speeds, for rolling starts

        if is_race:
            s0 = grid_positions(n, track)
        else:
            s0 = np.array([i * track.length_m / n for i in range(n)])
        s0_wrapped = np.where(s0 < 0.0, s0 + track.length_m, s0)
        if is_race:
            start_compounds = [s.start_compound for s in self.strategies]
        else:
            start_compounds = [self.session.tyre or PRACTICE_COMPOUND] * n
        cell = np.minimum(
            (s0_wrapped / self._race.cell_m).astype(np.int64), len(self._race.detect) - 1
        )
        self.state = CarState(
            s=s0.astype(float),
            v=np.zeros(n),
            throttle=np.zeros(n),
            brake=np.zeros(n),
            braking=np.zeros(n, dtype=bool),
            fuel=self._start_fuel(),
            wear=np.zeros(n),
            ers_used=np.zeros(n),
            k=np.interp(s0_wrapped, track.s, track.curvature, period=track.length_m),
            ratio=np.interp(s0_wrapped, track.s, track.progress_ratio, period=track.length_m),
            drs_open=np.zeros(n, dtype=bool),
            gear=np.ones(n, dtype=np.int64),
            lap=np.ones(n, dtype=np.int64),
            active=np.ones(n, dtype=bool),
            status=np.zeros(n, dtype=np.int64),
            tyre_age=np.zeros(n, dtype=np.int64),
            compound=np.array([_COMPOUND_CODES[c] for c in start_compounds], dtype=np.int64),
            pit_stops=np.zeros(n, dtype=np.int64),
            pit_phase=np.zeros(n, dtype=np.int64),
            pit_timer=np.zeros(n),
            next_stop_lap=np.zeros(n, dtype=np.int64),
            next_stop_s=np.zeros(n),
            next_compound=np.zeros(n, dtype=np.int64),
            cell=cell,
            gap_s=np.full(n, math.inf),
            # On the grid each car has the one in the slot in front of it ahead.
            ahead=np.arange(-1, n - 1, dtype=np.int64) if is_race else np.full(n, -1),
            drs_armed=np.zeros(n, dtype=bool),
        )
        # The sets on the cars: warm (from the blankets) at the start.
        self.tyres = TyreSets(n)
        for i, name in enumerate(start_compounds):
            self.tyres.fit(i, name, lap=1)
        for i in range(n):
            self._plan_next_stop(i)
        with compile_notice("the simulator's physics"):
            for i in range(n):
                self._rebuild_profile(i)
            # No tick: loads (or compiles) the kernel now rather than at the first step.
            self._advance(
                np.empty((0, NOISE_ROWS, n)),
                0,
                0,
                0,
                np.zeros(n, np.int64),
                empty_channels(0),
                empty_codes(0),
            )
        if not is_race:
            # Rolling cars start at the speed of a flying lap at their position, in the gear
            # of that speed.
            j0 = np.minimum((s0 / track.spacing_m).astype(np.intp), npts - 1)
            self.state.v[:] = self._v_expected[np.arange(n), j0]
            self.state.v[0] = 0.0
            wanted = (self.state.v[:, None] >= self._gearbox.up[:, 1:8]).sum(axis=1) + 1
            self.state.gear[:] = np.minimum(wanted, 8)

    def _start_fuel(self) -> np.ndarray:
        """Each car's fuel at the start: ``fuel_kg`` when the session sets it, in a race what
        the race distance needs, in practice the car's own start fuel."""
        if self.session.fuel_kg is not None:
            return np.full(self.n_cars, float(self.session.fuel_kg))
        if not self.session.is_race:
            return np.array([c.fuel_start_kg for c in self.cars], dtype=float)
        assert self.laps is not None
        return np.full(self.n_cars, fuel_for_race(self.laps, self.track))

    def _plan_next_stop(self, i: int) -> None:
        """Set car ``i``'s next stop (lap, stationary time, compound) from its strategy."""
        made = self._stops_made[i]
        state = self.state
        if not self.strategies or made >= self.strategies[i].stops:
            state.next_stop_lap[i] = 0
            return
        strategy = self.strategies[i]
        state.next_stop_lap[i] = strategy.stop_laps[made]
        state.next_stop_s[i] = strategy.stationary_s[made]
        state.next_compound[i] = _COMPOUND_CODES[strategy.compounds[made + 1]]

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

    @property
    def finished(self) -> bool:
        """Whether every car has finished (no more records will come)."""
        return not self.state.active.any()

    def tyre_compound(self, i: int) -> str:
        """The compound of car ``i``'s tyres (its age in laps: ``state.tyre_age[i]``)."""
        return TYRE_COMPOUNDS[int(self.state.compound[i])]

    def fit_tyres(self, i: int, name: str, *, cold: bool = True) -> None:
        """Fit car ``i`` a new set of ``name`` (one of :data:`producer.tyres.COMPOUNDS`)
        where it is now: age 0, no wear, the compound's grip; a cold set (a pit stop) warms
        up from here, so the out-lap starts slow. The car's speed profile follows at once."""
        state = self.state
        lap = int(state.lap[i])
        total_m = (lap - 1) * self.track.length_m + float(state.s[i])
        self.tyres.fit(i, name, lap, cold_from_m=total_m if cold else math.nan)
        state.compound[i] = _COMPOUND_CODES[name]
        state.tyre_age[i] = 0
        state.wear[i] = 0.0
        self._rebuild_profile(i)

    # ------------------------------------------------------------------ profile
    def _rebuild_profile(self, i: int) -> None:
        """Set car ``i``'s tyre constants and recompute its target speeds for its current
        mass and tyres.

        The compound of the set (``state.compound``) gives the compiled tick the car's tyre
        friction, wear rate and grip lost with wear (:mod:`producer.tyres`); the target
        speeds follow the set's grip at its wear of the moment and, for a set fitted cold
        (:meth:`fit_tyres`), its warm-up from where it was fitted. Called for every car at
        the start, and for a car at each line crossing and after new tyres; a session that
        caps a car's target speeds applies its cap after this.
        """
        car = self.cars[i]
        state = self.state
        name = TYRE_COMPOUNDS[int(state.compound[i])]
        tyre = compound(name)
        self._car.mu_lat[i] = car.tyre_mu_lat * tyre.grip
        self._car.wear_rate[i] = car.tyre_wear_per_g_m * tyre.wear_factor
        self._car.grip_loss[i] = tyre.grip_loss_at_full_wear
        metres_on_set: float | np.ndarray = math.inf
        cold_from_m = float(self.tyres.cold_from_m[i])
        if math.isfinite(cold_from_m):
            length = self.track.length_m
            metres_on_set = (int(state.lap[i]) - 1) * length + self.track.s - cold_from_m
            # Points behind the fitting point on its lap come after a lap more of the set.
            metres_on_set = np.where(metres_on_set < 0.0, metres_on_set + length, metres_on_set)
            if metres_on_set.min() >= tyre.warmup_m:
                self.tyres.cold_from_m[i] = math.nan  # up to temperature
                metres_on_set = math.inf
        grip = grip_scale(name, float(state.wear[i]), metres_on_set)
        profile = speed_profile(
            self.track, car, mass_kg=car.mass_kg + float(state.fuel[i]), grip_scale=grip
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

        Fewer ticks when the session ends on the way (the last car finishes), none once it
        has ended. The ticks run in compiled code (:func:`producer.physics.advance`), which
        returns to rebuild a car's speed profile when it starts a lap or gets new tyres.
        """
        if n_ticks < 1:
            raise ValueError(f"n_ticks must be at least 1, got {n_ticks}")
        n = self.n_cars
        out = empty_channels(n_ticks * n)
        codes = empty_codes(n_ticks * n)
        noise = self._noise(n_ticks)
        events = np.zeros(n, dtype=np.int64)
        done = rows = 0
        while done < n_ticks and not self.finished:
            done, rows = self._advance(noise, done, n_ticks, rows, events, out, codes)
            for i in np.flatnonzero(events).tolist():
                if events[i] & EVENT_TYRES:
                    # The compiled tick changed the compound on release; the sets follow.
                    self.fit_tyres(i, self.tyre_compound(i))
                    self._stops_made[i] += 1
                    self._plan_next_stop(i)
                if self.state.active[i]:
                    self._rebuild_profile(i)
            events[:] = 0
        self.tick += done
        return self._batch(out, codes, done, rows)

    def _advance(
        self,
        noise: np.ndarray,
        start: int,
        stop: int,
        row: int,
        events: np.ndarray,
        out: Channels,
        codes: RowCodes,
    ) -> tuple[int, int]:
        """Ticks ``start`` to ``stop - 1`` of the block that follows the current tick, from
        row ``row``; (the tick after the last one done, the row after the last one written)
        (see :func:`producer.physics.advance`)."""
        return advance(
            self.state,
            self._car,
            self._gearbox,
            self._track,
            self._profiles,
            self._controls,
            self._race,
            self._pit,
            self._traffic,
            noise,
            self.tick + 1,
            self._clock_us,
            start,
            stop,
            row,
            events,
            out,
            codes,
        )

    def _batch(self, out: Channels, codes: RowCodes, ticks: int, rows: int) -> Batch:
        """The telemetry columns of ``rows`` records over ``ticks`` ticks."""
        cars = codes.car[:rows]
        self.block_cars = cars
        n_present = int(np.count_nonzero(self.state.active))
        # The same cars on every tick (no car finished during the block): the usual case,
        # whose string columns are shared, read-only tiles.
        uniform = rows > 0 and rows == ticks * n_present
        columns: dict[str, np.ndarray] = {}
        if uniform:
            present = cars[:n_present]
            key = present.tobytes()
            for name, values in self._per_car.items():
                columns[name] = self._tile((name, key), ticks, values, present)
        else:
            for name, values in self._per_car.items():
                columns[name] = values[cars]
        for name, code in (
            ("tyre_compound", codes.compound),
            ("pit_status", codes.pit),
            ("car_status", codes.status),
        ):
            values = self._code_values[name]
            code = code[:rows]
            if uniform:
                first = code[:n_present]
                if (code.reshape(ticks, n_present) == first).all():
                    # Each car's value held over the block.
                    columns[name] = self._tile((name, key, first.tobytes()), ticks, values, first)
                    continue
            columns[name] = values[code]
        for name, column in zip(Channels._fields, out, strict=True):
            columns[name] = column if len(column) == rows else column[:rows]
        return {name: columns[name] for name in TELEMETRY_FIELDS}

    def _tile(self, key: Any, ticks: int, values: np.ndarray, index: np.ndarray) -> np.ndarray:
        """``values[index]`` (one per car) repeated for ``ticks`` ticks, read-only and owning
        its data, the same object for the same key and block size: an encoder may then take
        the same object for the same values (see ``schemas.serde``)."""
        cache_key = (key, ticks)
        tiled = self._tiled.get(cache_key)
        if tiled is None:
            tiled = np.tile(values[index], ticks).copy()
            tiled.flags.writeable = False
            if len(self._tiled) >= _TILED_MAX:
                self._tiled.clear()
            self._tiled[cache_key] = tiled
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
        """Advance ``n_ticks`` ticks (fewer if the session ends); the batches concatenated
        (tick-major, car-minor)."""
        blocks = []
        while n_ticks > 0 and not self.finished:
            size = min(n_ticks, 1000)
            blocks.append(self.step_block(size))
            n_ticks -= size
        return blocks[0] if len(blocks) == 1 else concat_batches(blocks)

    def run_to_end(self, block_ticks: int = 1000) -> Batch:
        """Advance until every car has finished (the session needs ``laps``)."""
        if self.laps is None:
            raise ConfigError("a session without a number of laps never ends")
        blocks = []
        while not self.finished:
            blocks.append(self.step_block(block_ticks))
        return concat_batches(blocks)

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
        # The compound of each car's set changes these (Simulation._rebuild_profile).
        wear_rate=per_car("tyre_wear_per_g_m"),
        grip_loss=np.full(len(cars), COMPOUND[DEFAULT_COMPOUND].grip_loss_at_full_wear),
        brake_max=per_car("brake_force_max_n"),
        wheelbase=per_car("wheelbase_m"),
        # Road-wheel angle (rad) to steering-wheel fraction of full lock.
        steer_per_rad=np.degrees(1.0) * per_car("steering_ratio") / per_car("steering_lock_deg"),
        rev_limit=per_car("rev_limit_rpm"),
        top_gear_rpm=per_car("top_gear_max_rpm"),
        min_rpm=per_car("min_rpm"),
    )


def _gearbox(cars: Sequence[CarParams]) -> Gearbox:
    """Gear tables [car, gear]: the speed above which the car shifts up, the speed below
    which it shifts down (the shift points of :class:`producer.car.CarParams`), rpm per m/s
    (gear 0 unused)."""
    n = len(cars)
    up = np.full((n, 9), np.inf)
    up[:, 1:8] = np.stack([c.gear_upshift_speeds_m_s() for c in cars])
    down = np.full((n, 9), -1.0)
    down[:, 2:] = np.stack([c.gear_downshift_speeds_m_s() for c in cars])
    rpm = np.zeros((n, 9))
    rpm[:, 1:] = np.stack([c.rpm_per_m_s() for c in cars])
    return Gearbox(up=up, down=down, rpm=rpm)


def _track_tables(track: Track) -> TrackTables:
    def closed(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = np.append(values, values[0]).astype(float)
        return c, np.append(np.diff(c), 0.0)

    straight = straight_mask(track)
    return TrackTables(
        *closed(track.curvature),
        *closed(track.progress_ratio),
        *closed(track.x),
        *closed(track.y),
        drs_zone=np.append(track.drs_mask, track.drs_mask[0]),
        straight=np.append(straight, straight[0]),
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
