"""One physics tick of every car, compiled: the driver, the pedals, the forces, the gearbox,
the cars around it, the pit lane and the end of the session.

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
  grip, DRS cuts drag on its zones when the session allows it;
* the gearbox shifts up at the upshift speed and down with hysteresis (see
  :attr:`producer.car.CarParams.downshift_hysteresis`), one gear per tick at most;
* traffic (:class:`Traffic`): within about a second of the car ahead a car gets a tow on the
  straights (less drag) and loses grip in the corners (dirty air: the driver's target speed
  falls, since the point-mass model has no other way to be slower in a corner), and it does
  not drive through the car ahead in a corner: it follows it;
* the pit lane (:class:`PitLane`): the car leaves the track at the entry on the lap its
  strategy says, brakes to the speed limit, stops in its box for the stop's time, gets new
  tyres and rejoins at the exit.

The gap to the car ahead is a time difference at the same track point, as timing systems
measure it: every car stamps the time it passes each cell boundary (every few metres) of a
table shared by the grid, and reads there when the car before it passed.

A car that crosses the line starts a new lap, and a car released from its pit box has new
tyres; :func:`advance` returns after that tick so that the caller can rebuild the car's
speed profile for its fuel and tyres of the moment. A car that has finished (``--laps`` done,
or the chequered flag) writes its record at the line and no more after it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from producer.driver import PedalLimits, pedal_step

# Codes of the string channels, as indexes into the values of schemas.channels
# (CAR_STATUSES, PIT_STATUSES).
CAR_RUNNING, CAR_FINISHED = 0, 1
PIT_STATUS_NONE, PIT_STATUS_LANE, PIT_STATUS_STOP = 0, 1, 2
# Where a car is in the pit lane: on track, on its way to its box, stationary, on its way out.
PIT_NONE, PIT_IN, PIT_STOPPED, PIT_OUT = 0, 1, 2, 3
# What happened to a car on the tick :func:`advance` returned after (bits of ``events``).
EVENT_LAP = 1  # crossed the line: a new lap
EVENT_TYRES = 2  # released from its pit box with a new set of tyres
# A stop ends in the box when the car stands still no further than this before its mark.
BOX_REACH_M = 3.0
# The brake the driver holds while the car stands in its box.
BOX_BRAKE = 0.3
NO_GAP = math.inf


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
    top_gear_rpm: np.ndarray  # the engine stops pulling here in top gear
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
    straight: np.ndarray  # bool: on a straight (a tow helps, overtaking is possible)
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
    # Traction from rest: the share of the driven tyres' grip a launch can use (wheelspin and
    # clutch control), rising to all of it at ``launch_speed`` (m/s).
    launch_grip: float
    launch_speed: float
    full_power_speed: float  # m/s: from here on the power unit's full power reaches the road


class Traffic(NamedTuple):
    """How a car feels the car ahead (see :mod:`producer.race` for the values)."""

    window_s: float  # gap within which the car ahead matters
    slipstream_cut: float  # share of the drag removed right behind, on a straight
    dirty_air_loss: float  # share of the cornering grip lost right behind
    corner_k: float  # curvature (1/m) from which a bend counts in full for dirty air
    follow_min_m: float  # closest a car follows another in a corner
    follow_time_s: float  # how fast it closes a larger distance
    follow_range_m: float  # beyond this the car ahead does not limit the speed


class RaceControl(NamedTuple):
    """The session's rules, and the state the cars share (updated in place)."""

    finish_lap: int  # a car finishes on the crossing that starts this lap (0: never)
    flag: bool  # a race: the first car to finish brings out the chequered flag
    drs_from_lap: int
    drs_detection: bool  # DRS only when within the window at the detection point
    cell_m: float  # spacing of the passing-time table
    detect: np.ndarray  # bool per cell: a DRS detection point at the cell's start
    pass_time: np.ndarray  # per cell: when a car last passed its start (s)
    pass_car: np.ndarray  # per cell: which car (-1: none yet)
    flag_time: np.ndarray  # [0]: when the leader took the flag (s), inf until then


class PitLane(NamedTuple):
    """The pit lane, in metres along it from its entry (see :mod:`producer.pit_lane`)."""

    entry_m: float  # lap distance of the entry
    limit_in: float  # speed limit starts
    limit_out: float  # speed limit ends
    exit: float  # back on track
    box: np.ndarray  # per car: its pit box
    v_limit: float  # m/s, the speed the car's limiter holds
    a_entry: float  # deceleration from racing speed to the limit (m/s^2)
    a_stop: float  # deceleration into the box (m/s^2)
    offset_m: float  # lateral offset of the lane from the track centre line, to the right


class CarState(NamedTuple):
    """Dynamic state, one element per car, updated in place."""

    s: np.ndarray  # lap distance (m, centre line); negative on a race grid
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
    active: np.ndarray  # bool: still in the session (producing records)
    status: np.ndarray  # int64: CAR_RUNNING, CAR_FINISHED
    tyre_age: np.ndarray  # int64: laps completed on the set
    compound: np.ndarray  # int64: code of the set's compound (schemas.channels.TYRE_COMPOUNDS)
    pit_stops: np.ndarray  # int64: stops completed
    pit_phase: np.ndarray  # int64: PIT_NONE, PIT_IN, PIT_STOPPED, PIT_OUT
    pit_timer: np.ndarray  # s still to stand in the box
    next_stop_lap: np.ndarray  # int64: the lap that ends in the pit lane (0: no stop)
    next_stop_s: np.ndarray  # stationary time of that stop
    next_compound: np.ndarray  # int64: the compound fitted at that stop
    cell: np.ndarray  # int64: cell of the passing-time table the car is in (-1: none)
    gap_s: np.ndarray  # time behind the car ahead at the last cell boundary
    ahead: np.ndarray  # int64: that car (-1: none within a lap)
    drs_armed: np.ndarray  # bool: within the window at the last detection point


class Channels(NamedTuple):
    """Numeric telemetry channels of a block of ticks (tick-major, car-minor), named as in
    the schema."""

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
    tyre_age_laps: np.ndarray
    pit_stops: np.ndarray


class RowCodes(NamedTuple):
    """Per record: the car (index) and the codes of its string channels."""

    car: np.ndarray
    compound: np.ndarray
    pit: np.ndarray
    status: np.ndarray


INT_CHANNELS = ("timestamp", "lap", "gear", "sector", "tyre_age_laps", "pit_stops")
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


def empty_codes(rows: int) -> RowCodes:
    return RowCodes(
        car=np.empty(rows, dtype=np.int16),
        compound=np.empty(rows, dtype=np.int8),
        pit=np.empty(rows, dtype=np.int8),
        status=np.empty(rows, dtype=np.int8),
    )


@njit(cache=True)
def _pit_target(
    pit: PitLane, phase: int, p: float, p_ahead: float, box: float, v_profile: float
) -> tuple[float, float]:
    """(target speed, feed-forward acceleration) in the pit lane, ``p`` metres along the lane
    from its entry (``p_ahead`` where the driver looks); the racing target ``v_profile`` once
    the car is past the end of the speed limit."""
    if phase == PIT_STOPPED:
        return 0.0, 0.0
    if phase == PIT_OUT:
        if p < pit.limit_out:
            return pit.v_limit, 0.0
        return v_profile, 0.0
    # On the way in: brake to the limit at the limit line, then to a stop at the box.
    cap = pit.v_limit
    a_cap = 0.0
    if p_ahead < pit.limit_in:
        cap = math.sqrt(pit.v_limit * pit.v_limit + 2.0 * pit.a_entry * (pit.limit_in - p_ahead))
        a_cap = -pit.a_entry
    into_box = math.sqrt(2.0 * pit.a_stop * max(box - p_ahead, 0.0))
    if into_box < cap:
        cap = into_box
        a_cap = -pit.a_stop
    return cap, a_cap


@njit(cache=True)
def _pit_offset(pit: PitLane, p: float) -> float:
    """Lateral offset (m, to the right) of the pit lane from the centre line at ``p``."""
    if p < pit.limit_in:
        return pit.offset_m * max(p, 0.0) / pit.limit_in
    if p <= pit.limit_out:
        return pit.offset_m
    return pit.offset_m * max(pit.exit - p, 0.0) / (pit.exit - pit.limit_out)


@njit(cache=True)
def advance(
    state: CarState,
    car: CarConstants,
    gearbox: Gearbox,
    track: TrackTables,
    profiles: Profiles,
    controls: Controls,
    race: RaceControl,
    pit: PitLane,
    traffic: Traffic,
    noise: np.ndarray,
    first_tick: int,
    clock_us: tuple[int, int],
    start: int,
    stop: int,
    row: int,
    events: np.ndarray,
    out: Channels,
    codes: RowCodes,
) -> tuple[int, int]:
    """Advance every car still in the session through ticks ``start`` to ``stop - 1`` of a
    block whose tick 0 is session tick ``first_tick``, writing its records from row ``row``
    of ``out`` and ``codes`` (tick-major, car-minor, the cars still in the session).

    ``clock_us`` is (session start, tick length) in microseconds. Returns (the tick after the
    last one done, the row after the last one written). The last tick done is ``stop - 1``,
    or earlier when something happened to a car on that tick (its ``events`` bits set, see
    ``EVENT_LAP`` and ``EVENT_TYRES``) or when no car is left in the session.
    """
    n = len(state.s)
    session_start_us, dt_us = clock_us
    dt = controls.dt
    g = controls.gravity
    length = track.length
    half_length = 0.5 * length
    inv_spacing = track.inv_spacing
    n_cells = len(race.pass_time)
    inv_cell = 1.0 / race.cell_m
    crossed_tick = np.full(n, -1, dtype=np.int64)
    crossed_at = np.zeros(n)
    row_of = np.zeros(n, dtype=np.int64)
    any_event = False
    for t in range(start, stop):
        tick = first_tick + t
        now = tick * dt
        flag_before = race.flag_time[0]
        left = 0
        for i in range(n):
            if not state.active[i]:
                continue
            s = state.s[i]
            v = state.v[i]
            k = state.k[i]
            fuel = state.fuel[i]
            wear = state.wear[i]
            phase = state.pit_phase[i]

            # Target speed a little ahead (the driver's reaction time) and its slope.
            ahead = s + v * controls.lookahead_s
            if ahead >= length:
                ahead -= length
            elif ahead < 0.0:
                ahead += length
            ua = ahead * inv_spacing
            ja = int(ua)
            fa = ua - ja
            v_target = profiles.v[i, ja] + fa * profiles.dv[i, ja]
            a_ff = profiles.a_ff[i, ja]
            js = int((s + length if s < 0.0 else s) * inv_spacing)

            c_drag = car.c_drag_drs[i] if state.drs_open[i] else car.c_drag[i]
            if phase == PIT_NONE:
                # The car ahead: a tow on the straights, dirty air in the corners.
                gap = state.gap_s[i]
                if gap < traffic.window_s:
                    close = 1.0 - gap / traffic.window_s
                    if track.straight[js]:
                        c_drag *= 1.0 - traffic.slipstream_cut * close
                    else:
                        k_ahead = abs(track.k[ja] + fa * track.dk[ja])
                        bend = min(k_ahead / traffic.corner_k, 1.0)
                        v_target *= math.sqrt(1.0 - traffic.dirty_air_loss * close * bend)
                # Off the straights there is no room to pass: follow the car ahead.
                a = state.ahead[i]
                if (
                    a >= 0
                    and not track.straight[js]
                    and state.active[a]
                    and state.pit_phase[a] == PIT_NONE
                ):
                    d = state.s[a] - s
                    if d >= half_length:
                        d -= length
                    elif d < -half_length:
                        d += length
                    if 0.0 < d < traffic.follow_range_m:
                        # Closer than follow_min_m (alongside, or just passed) it holds
                        # the speed of the car ahead: no braking below it, which down a
                        # train of cars would add up to a standstill.
                        cap = (
                            state.v[a] + max(d - traffic.follow_min_m, 0.0) / traffic.follow_time_s
                        )
                        if cap < v_target:
                            v_target = max(cap, 0.0)
                            a_ff = min(a_ff, 0.0)
            else:
                p = s - pit.entry_m
                if p < 0.0:
                    p += length
                cap, a_cap = _pit_target(
                    pit, phase, p, p + v * controls.lookahead_s, pit.box[i], v_target
                )
                if cap < v_target:
                    v_target = cap
                    a_ff = a_cap

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
            # Below full_power_speed the gearing, not the power, caps the drive force (the
            # engine's torque in 1st): the throttle a launch needs is then a real share of
            # what the car can push, never a sliver of power / speed.
            f_power = power / max(v, controls.full_power_speed)
            # At the top of top gear the engine stops pulling, whatever the pedal says.
            top = gearbox.rpm.shape[1] - 1
            pulling = state.gear[i] < top or v * gearbox.rpm[i, top] < car.top_gear_rpm[i]
            f_traction = f_long * car.share[i]
            if v < controls.launch_speed:
                launch = controls.launch_grip + (1.0 - controls.launch_grip) * (
                    v / controls.launch_speed
                )
                f_traction *= launch
            f_resist = c_drag * v2 + car.crr[i] * fz

            # Driver: the acceleration that reaches the target, as pedal demands. The
            # throttle is the share of the engine's power asked for and the brake the share
            # of the brake system's force; the driver asks no more than the tyres can
            # transmit.
            a_cmd = (v_target * v_target - v2) / (
                v * controls.two_reach_s + controls.two_reach_m
            ) + a_ff
            f_need = mass * a_cmd + f_resist
            if phase == PIT_STOPPED:
                throttle_demand, brake_demand = 0.0, BOX_BRAKE
            else:
                throttle_demand = min(f_need, f_traction) / f_power
                brake_demand = min(-f_need, f_long) / car.brake_max[i]
            throttle, brake, braking = pedal_step(
                state.throttle[i],
                state.brake[i],
                state.braking[i],
                throttle_demand,
                brake_demand,
                controls.pedals,
            )

            # Longitudinal dynamics (semi-implicit Euler).
            f_drive = min(throttle * f_power, f_traction) if pulling else 0.0
            f_drive -= min(brake * car.brake_max[i], f_long)
            f_drive -= f_resist
            v_new = max(v + f_drive / mass * dt, 0.0)
            if phase == PIT_STOPPED:
                v_new = 0.0
            accel = (v_new - v) * controls.hz
            driven = (v + v_new) * (0.5 * dt)
            progress = driven * state.ratio[i]
            s_new = s + progress

            # Fuel burnt by the engine's power (capped flow); tyre wear from the tyres' work.
            burn = max(throttle * pulling * car.ice_w[i], car.overrun_w[i]) * car.fuel_per_j[i]
            fuel = max(fuel - min(burn, car.fuel_cap[i]) * dt, 0.0)
            ers_used = state.ers_used[i]
            if controls.ers_limited:
                ers_used += throttle * car.ers_w[i] * dt
            g_lat = v_new * v_new * k / g
            g_long = accel / g
            g_total = math.sqrt(g_lat * g_lat + g_long * g_long)
            wear = min(wear + g_total * car.wear_rate[i] * driven, 1.0)

            # Pit entry, on the lap that ends in the pit lane, unless the flag is out.
            lap = state.lap[i]
            if (
                phase == PIT_NONE
                and state.next_stop_lap[i] == lap
                and s < pit.entry_m <= s_new
                and math.isinf(race.flag_time[0])  # the flag is not out
            ):
                phase = PIT_IN

            # Lap line: a new lap (the caller rebuilds the car's profile). The first
            # crossing from a race grid (from negative lap distances) starts no lap.
            age = state.tyre_age[i]
            finish = False
            if s_new >= length:
                s_new -= length
                lap += 1
                age = min(age + 1, 200)
                ers_used = 0.0
                events[i] |= EVENT_LAP
                any_event = True
                crossed = now - dt * s_new / max(progress, 1e-9)
                crossed_tick[i] = tick
                crossed_at[i] = crossed
                if race.finish_lap > 0:
                    if lap >= race.finish_lap:
                        finish = True
                        if race.flag and crossed < race.flag_time[0]:
                            race.flag_time[0] = crossed
                    elif race.flag and crossed >= race.flag_time[0]:
                        finish = True

            # The pit lane: stop in the box, new tyres on release, back on track at the exit.
            stops = state.pit_stops[i]
            compound = state.compound[i]
            if phase != PIT_NONE:
                p_new = s_new - pit.entry_m
                if p_new < 0.0:
                    p_new += length
                if phase == PIT_IN:
                    if v_new == 0.0 and p_new >= pit.box[i] - BOX_REACH_M:
                        phase = PIT_STOPPED
                        state.pit_timer[i] = state.next_stop_s[i]
                elif phase == PIT_STOPPED:
                    state.pit_timer[i] -= dt
                    if state.pit_timer[i] <= 1e-9:
                        # Released: off the brake, and away on the next tick.
                        phase = PIT_OUT
                        braking = False
                        stops += 1
                        compound = state.next_compound[i]
                        age = 0
                        wear = 0.0
                        events[i] |= EVENT_TYRES
                        any_event = True
                elif p_new >= pit.exit:
                    phase = PIT_NONE

            # Track at the new position: curvature and progress ratio for the next tick.
            s_wrapped = s_new + length if s_new < 0.0 else s_new
            u = s_wrapped * inv_spacing
            j = int(u)
            f = u - j

            # Passing-time table: the gap to the car ahead at each cell boundary.
            drs_armed = state.drs_armed[i]
            if phase == PIT_NONE:
                cell = min(int(s_wrapped * inv_cell), n_cells - 1)
                if cell != state.cell[i]:
                    over = s_wrapped - cell * race.cell_m
                    passed = now - dt * over / max(progress, 1e-9)
                    before = race.pass_car[cell]
                    gap = NO_GAP
                    ahead_car = -1
                    if (
                        before >= 0
                        and before != i
                        and state.active[before]
                        and state.pit_phase[before] == PIT_NONE
                    ):
                        gap = passed - race.pass_time[cell]
                        ahead_car = before
                    race.pass_time[cell] = passed
                    race.pass_car[cell] = i
                    if race.detect[cell]:
                        drs_armed = gap < traffic.window_s and lap >= race.drs_from_lap
                    state.cell[i] = cell
                    state.gap_s[i] = gap
                    state.ahead[i] = ahead_car
            else:
                state.cell[i] = -1
                state.gap_s[i] = NO_GAP
                state.ahead[i] = -1

            # DRS opens in a zone at full throttle once allowed, closes on braking or zone
            # exit. In a race it is allowed from the detection point before the zone.
            allowed = drs_armed if race.drs_detection else lap >= race.drs_from_lap
            drs = (
                controls.drs_enabled
                and phase == PIT_NONE
                and track.drs_zone[j]
                and allowed
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
            state.drs_armed[i] = drs_armed
            state.gear[i] = gear
            state.lap[i] = lap
            state.tyre_age[i] = age
            state.pit_stops[i] = stops
            state.compound[i] = compound
            state.pit_phase[i] = phase

            # The channels of this tick: what the car's sensors read (noise added).
            r = row
            row += 1
            row_of[i] = r
            x = track.x[j] + f * track.dx[j]
            y = track.y[j] + f * track.dy[j]
            if phase != PIT_NONE:
                p_new = s_new - pit.entry_m
                if p_new < 0.0:
                    p_new += length
                offset = _pit_offset(pit, p_new)
                norm = math.sqrt(track.dx[j] * track.dx[j] + track.dy[j] * track.dy[j])
                if norm > 0.0:
                    x += offset * track.dy[j] / norm
                    y -= offset * track.dx[j] / norm
            out.timestamp[r] = session_start_us + tick * dt_us
            out.sim_time_s[r] = now
            out.lap[r] = lap
            out.lap_distance_m[r] = s_new
            out.total_distance_m[r] = (lap - 1) * length + s_new
            out.x_m[r] = x
            out.y_m[r] = y
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
            out.sector[r] = 1 + (s_wrapped >= track.sector_2) + (s_wrapped >= track.sector_3)
            out.tyre_age_laps[r] = age
            out.pit_stops[r] = stops
            codes.car[r] = i
            codes.compound[r] = compound
            if phase == PIT_NONE:
                codes.pit[r] = PIT_STATUS_NONE
            elif phase == PIT_STOPPED:
                codes.pit[r] = PIT_STATUS_STOP
            else:
                codes.pit[r] = PIT_STATUS_LANE
            codes.status[r] = CAR_FINISHED if finish else CAR_RUNNING
            if finish:
                state.status[i] = CAR_FINISHED
                state.active[i] = False
            else:
                left += 1

        # The flag fell on this tick: cars that crossed the line after the leader but were
        # computed before it finish too.
        if race.flag_time[0] < flag_before:
            for i in range(n):
                if (
                    state.active[i]
                    and crossed_tick[i] == tick
                    and crossed_at[i] >= race.flag_time[0]
                ):
                    codes.status[row_of[i]] = CAR_FINISHED
                    state.status[i] = CAR_FINISHED
                    state.active[i] = False
                    left -= 1
        if any_event or left == 0:
            return t + 1, row
    return stop, row
