"""A synthetic F1 game race on a circuit the project does not know, as the game's datagrams:
a few cars start from a grid behind the line at session time 0, drive the oval of
``tests/circuit_samples.py`` (1,303 m) for a full lap and cross into the next one.

The packets are laid out with the ingest's own layouts (``ingest.layouts``, which
``tests/test_ingest_decode.py`` checks field by field against the reference library), in
format 2025, in the game's order each frame: Motion, (Session), Lap Data, Car Status, Car
Damage, (Participants), Car Telemetry. The Session packet says the lap length, a race and
where sectors 2 and 3 start; Lap Data's own sector agrees with those starts. The game's
world axes: x and z are the map (the oval's x and y), y points up (a small hill).

What each car does is a function of its grid slot and the session time, so a test can say
what the stream must show: :func:`car_state` gives it, :func:`session_datagrams` the
datagrams, :func:`write_session` a recording (``f1-ingest-udp --record``'s format).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.layouts import (
    CAR_DAMAGE,
    CAR_STATUS,
    CAR_TELEMETRY,
    HEADER,
    LAP_DATA,
    LAYOUTS,
    MOTION,
    PARTICIPANTS,
    SECTOR_STARTS_OFFSET,
    SESSION,
    SESSION_PREFIX,
    PerCar,
)
from ingest.recording import RecordingWriter
from tests.circuit_samples import LENGTH_M, oval_at

FORMAT = 2025
HZ = 30
SESSION_UID = 0x0F1E_2D3C_4B5A_6978
FIRST_ARRIVAL_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
RACE = 15  # m_sessionType of a race, format 2024 on
LAP_M = LENGTH_M
SECTOR_STARTS_M = (400.5, 850.25)  # where the Session packet says sectors 2 and 3 start
TOP_SPEED_MPS = 55.0
ACCEL_MPS2 = 8.0
GRID_GAP_M = 8.0  # each grid slot this much further behind the line
PAST_LINE_M = 40.0  # the session ends once every car is this far into its next lap


@dataclass(frozen=True)
class GameCar:
    index: int  # slot in the game's arrays
    race_number: int
    name: str
    driver: str  # the driver code the ingest makes of the name


CARS = (
    GameCar(0, 4, "NORRIS", "NOR"),
    GameCar(1, 16, "LECLERC", "LEC"),
    GameCar(2, 81, "PIASTRI", "PIA"),
)


def car_id(car: GameCar) -> str:
    return f"car-{car.race_number:02d}"


def grid_m(car: GameCar) -> float:
    """Where the car stands at lights out: behind the line (a negative distance)."""
    return -GRID_GAP_M * (car.index + 1)


def distance_m(car: GameCar, t: float) -> float:
    """Distance from the line at session time ``t`` (negative on the grid), lap 1 from 0."""
    ramp = TOP_SPEED_MPS / ACCEL_MPS2
    if t <= ramp:
        return grid_m(car) + 0.5 * ACCEL_MPS2 * t * t
    return grid_m(car) + 0.5 * TOP_SPEED_MPS * ramp + TOP_SPEED_MPS * (t - ramp)


def speed_mps(t: float) -> float:
    return min(TOP_SPEED_MPS, ACCEL_MPS2 * t)


@dataclass(frozen=True)
class CarState:
    lap: int
    lap_distance_m: float
    total_distance_m: float
    sector: int  # the game's: 0, 1, 2
    x: float
    y_up: float
    z: float


def car_state(car: GameCar, t: float) -> CarState:
    total = distance_m(car, t)
    lap = 1 if total < LAP_M else 1 + int(total // LAP_M)
    lap_distance = total if lap == 1 else total - (lap - 1) * LAP_M
    sector = (
        0 if lap_distance < SECTOR_STARTS_M[0] else 1 if lap_distance < SECTOR_STARTS_M[1] else 2
    )
    ((x, z),) = oval_at(np.array([lap_distance]))
    return CarState(
        lap, lap_distance, total, sector, x, 2.0 * math.sin(2 * math.pi * total / LAP_M), z
    )


def frames(cars: tuple[GameCar, ...] = CARS) -> int:
    """Frames until every car is PAST_LINE_M into lap 2."""
    t = 0.0
    while min(distance_m(c, t) for c in cars) < LAP_M + PAST_LINE_M:
        t += 1.0 / HZ
    return round(t * HZ) + 1


def session_id_of(uid: int) -> str:
    """The session id the ingest gives a session of ``m_sessionUID`` ``uid``."""
    return f"game-{uid:016x}"


SESSION_ID = session_id_of(SESSION_UID)


def _packet(packet_id: int, size: int, frame: int, uid: int) -> bytearray:
    data = bytearray(size)
    h = np.frombuffer(data, HEADER, 1, 0)
    h["packet_format"] = FORMAT
    h["game_year"] = 25
    h["game_major_version"] = 1
    h["packet_version"] = 1
    h["packet_id"] = packet_id
    h["session_uid"] = uid
    h["session_time"] = frame / HZ
    h["frame_identifier"] = frame
    h["overall_frame_identifier"] = frame
    h["player_car_index"] = 0
    h["secondary_player_car_index"] = 255
    return data


def _cars(data: bytearray, part: PerCar) -> np.ndarray:
    return np.frombuffer(data, part.car, part.cars, part.cars_offset)


def _frame(cars: tuple[GameCar, ...], frame: int, uid: int) -> list[bytes]:
    layout = LAYOUTS[FORMAT]
    t = frame / HZ
    states = [car_state(c, t) for c in cars]
    speed = speed_mps(t)
    n = len(cars)
    out: list[bytes] = []

    motion = _packet(MOTION, layout.motion.size, frame, uid)
    m = _cars(motion, layout.motion)
    for i, (car, s) in enumerate(zip(cars, states, strict=True)):
        ahead = car_state(car, t + 0.1)
        heading = math.atan2(ahead.z - s.z, ahead.x - s.x)
        m["world_position"][i] = (s.x, s.y_up, s.z)
        m["world_velocity"][i] = (speed * math.cos(heading), 0.0, speed * math.sin(heading))
        m["world_forward_dir"][i] = (
            round(32767 * math.cos(heading)),
            0,
            round(32767 * math.sin(heading)),
        )
        m["world_right_dir"][i] = (
            round(32767 * math.sin(heading)),
            0,
            round(-32767 * math.cos(heading)),
        )
        m["g_force_lateral"][i] = 0.1 * (i + 1)
        m["g_force_longitudinal"][i] = ACCEL_MPS2 / 9.80665 if speed < TOP_SPEED_MPS else 0.0
    out.append(bytes(motion))

    if frame % 15 == 0:
        session = _packet(SESSION, layout.session_size, frame, uid)
        p = np.frombuffer(session, SESSION_PREFIX, 1, HEADER.itemsize)
        p["total_laps"] = 1
        p["track_length"] = round(LAP_M)
        p["session_type"] = RACE
        p["track_id"] = -1
        np.frombuffer(session, "<f4", 2, SECTOR_STARTS_OFFSET[FORMAT])[:] = SECTOR_STARTS_M
        out.append(bytes(session))

    lap_data = _packet(LAP_DATA, layout.lap_data.size, frame, uid)
    lap = _cars(lap_data, layout.lap_data)
    order = sorted(range(n), key=lambda i: -states[i].total_distance_m)
    for i, s in enumerate(states):
        lap["lap_distance"][i] = s.lap_distance_m
        lap["total_distance"][i] = s.total_distance_m
        lap["current_lap_num"][i] = s.lap
        lap["sector"][i] = s.sector
        lap["car_position"][i] = order.index(i) + 1
        lap["grid_position"][i] = i + 1
        lap["result_status"][i] = 2  # active
        lap["driver_status"][i] = 1
    out.append(bytes(lap_data))

    status = _packet(CAR_STATUS, layout.status.size, frame, uid)
    st = _cars(status, layout.status)
    st["fuel_in_tank"][:n] = [20.0 - 0.01 * frame - i for i in range(n)]
    st["visual_tyre_compound"][:n] = 16  # soft
    st["actual_tyre_compound"][:n] = 18
    st["tyres_age_laps"][:n] = [s.lap - 1 for s in states]
    st["ers_store_energy"][:n] = [4.0e6 - 500.0 * frame for _ in range(n)]
    st["ers_deploy_mode"][:n] = [1 + i % 3 for i in range(n)]
    out.append(bytes(status))

    damage = _packet(CAR_DAMAGE, layout.damage.size, frame, uid)
    dm = _cars(damage, layout.damage)
    dm["tyres_wear"][:n] = [[0.01 * frame, 0.01 * frame, 0.02 * frame, 0.02 * frame]] * n
    out.append(bytes(damage))

    if frame % 60 == 0:
        participants = _packet(PARTICIPANTS, layout.participants.size, frame, uid)
        participants[layout.participants.cars_offset - 1] = n
        pp = _cars(participants, layout.participants)
        for i, car in enumerate(cars):
            pp["ai_controlled"][i] = 1
            pp["race_number"][i] = car.race_number
            pp["name"][i] = car.name.encode()
            pp["your_telemetry"][i] = 1
        out.append(bytes(participants))

    telemetry = _packet(CAR_TELEMETRY, layout.telemetry.size, frame, uid)
    tm = _cars(telemetry, layout.telemetry)
    kmh = speed * 3.6
    for i in range(n):
        tm["speed"][i] = round(kmh)
        tm["throttle"][i] = 1.0
        tm["gear"][i] = max(1, min(8, int(kmh // 40) + 1))
        tm["engine_rpm"][i] = 8000 + 40 * round(kmh) % 4000
        # The game's wheel order: RL, RR, FL, FR.
        tm["brakes_temperature"][i] = (400 + i, 410 + i, 500 + i, 510 + i)
        tm["tyres_surface_temperature"][i] = (90, 91, 95, 96)
        tm["tyres_inner_temperature"][i] = (100, 101, 104, 105)
        tm["engine_temperature"][i] = 105
        tm["tyres_pressure"][i] = (21.5, 21.5, 23.0, 23.0)
    out.append(bytes(telemetry))
    return out


def session_datagrams(
    cars: tuple[GameCar, ...] = CARS, uid: int = SESSION_UID
) -> list[tuple[int, bytes]]:
    """(arrival µs, datagram) of the whole session, in the game's order."""
    items: list[tuple[int, bytes]] = []
    for frame in range(frames(cars)):
        arrival = FIRST_ARRIVAL_US + round(frame / HZ * 1e6)
        items += [(arrival + k, d) for k, d in enumerate(_frame(cars, frame, uid))]
    return items


def write_session(path: Path, cars: tuple[GameCar, ...] = CARS, uid: int = SESSION_UID) -> Path:
    """The session as a recording, for ``f1-ingest-udp --replay``."""
    with RecordingWriter(path) as writer:
        for arrival, data in session_datagrams(cars, uid):
            writer.write(data, arrival)
    return path
