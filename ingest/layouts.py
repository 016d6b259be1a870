"""The game's UDP packet layouts, as numpy structured dtypes, per packet format.

The layouts follow the game's published UDP specifications ("Data Output from F1 23 / F1 24 /
F1 25 / F1 25 2026 Season Pack"): every packet starts with the same 29-byte header, every
value is little-endian and packed (no padding). A packet's format is the header's
``m_packetFormat`` (2023, 2024, 2025, 2026), its kind the header's ``m_packetId``.

Only the packets the ingest reads are laid out here, each one whole (a dtype per car entry
with every field of the specification in order, so the offsets can be read off and compared
with the reference library: ``tests/test_ingest_decode.py`` checks each against
``f1-packets`` at the pinned version of its format). What changed between formats:

* 2024: Session grew (more weather samples, the assists and the sector start distances at
  its end); Lap Data's time deltas gained minute parts and a speed trap; Participants gained
  the tech level.
* 2025: Participants' names shrank to 32 bytes and gained the livery colours; Car Damage
  gained tyre blisters.
* 2026 (the 2026 season pack): 24 cars instead of 22; Motion's g-forces are int16; Car
  Telemetry's engine temperature is one byte; Car Status gained the ERS harvest limit;
  Participants' driver, network and team ids are uint16; Session grew again at its end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FORMATS = (2023, 2024, 2025, 2026)

# Packet ids (the header's m_packetId): the same in every format.
MOTION = 0
SESSION = 1
LAP_DATA = 2
EVENT = 3
PARTICIPANTS = 4
CAR_SETUPS = 5
CAR_TELEMETRY = 6
CAR_STATUS = 7
FINAL_CLASSIFICATION = 8
LOBBY_INFO = 9
CAR_DAMAGE = 10
SESSION_HISTORY = 11
TYRE_SETS = 12
MOTION_EX = 13
TIME_TRIAL = 14
LAP_POSITIONS = 15
CAR_TELEMETRY_2 = 16
# The highest packet id of each format: an id above it is unknown.
MAX_PACKET_ID = {2023: 13, 2024: 14, 2025: 15, 2026: 16}

HEADER = np.dtype(
    [
        ("packet_format", "<u2"),
        ("game_year", "u1"),
        ("game_major_version", "u1"),
        ("game_minor_version", "u1"),
        ("packet_version", "u1"),
        ("packet_id", "u1"),
        ("session_uid", "<u8"),
        ("session_time", "<f4"),
        ("frame_identifier", "<u4"),
        ("overall_frame_identifier", "<u4"),
        ("player_car_index", "u1"),
        ("secondary_player_car_index", "u1"),
    ]
)
assert HEADER.itemsize == 29


def _motion_car(fmt: int) -> np.dtype:
    g = "<i2" if fmt >= 2026 else "<f4"
    return np.dtype(
        [
            ("world_position", "<f4", (3,)),  # x, y (up), z; metres
            ("world_velocity", "<f4", (3,)),  # m/s
            ("world_forward_dir", "<i2", (3,)),  # normalised: divide by 32767
            ("world_right_dir", "<i2", (3,)),
            ("g_force_lateral", g),
            ("g_force_longitudinal", g),
            ("g_force_vertical", g),
            ("yaw", "<f4"),
            ("pitch", "<f4"),
            ("roll", "<f4"),
        ]
    )


def _lap_car(fmt: int) -> np.dtype:
    if fmt == 2023:
        times = [
            ("sector1_time_ms_part", "<u2"),
            ("sector1_time_minutes_part", "u1"),
            ("sector2_time_ms_part", "<u2"),
            ("sector2_time_minutes_part", "u1"),
            ("delta_to_car_in_front_ms", "<u2"),
            ("delta_to_race_leader_ms", "<u2"),
        ]
        trap: list[tuple[str, str]] = []
    else:
        times = [
            ("sector1_time_ms_part", "<u2"),
            ("sector1_time_minutes_part", "u1"),
            ("sector2_time_ms_part", "<u2"),
            ("sector2_time_minutes_part", "u1"),
            ("delta_to_car_in_front_ms_part", "<u2"),
            ("delta_to_car_in_front_minutes_part", "u1"),
            ("delta_to_race_leader_ms_part", "<u2"),
            ("delta_to_race_leader_minutes_part", "u1"),
        ]
        trap = [("speed_trap_fastest_speed", "<f4"), ("speed_trap_fastest_lap", "u1")]
    return np.dtype(
        [
            ("last_lap_time_ms", "<u4"),
            ("current_lap_time_ms", "<u4"),
            *times,
            ("lap_distance", "<f4"),  # m; negative before the car first crosses the line
            ("total_distance", "<f4"),
            ("safety_car_delta", "<f4"),
            ("car_position", "u1"),
            ("current_lap_num", "u1"),
            ("pit_status", "u1"),  # 0 none, 1 pitting, 2 in the pit area
            ("num_pit_stops", "u1"),
            ("sector", "u1"),  # 0, 1, 2
            ("current_lap_invalid", "u1"),
            ("penalties", "u1"),
            ("total_warnings", "u1"),
            ("corner_cutting_warnings", "u1"),
            ("num_unserved_drive_through_pens", "u1"),
            ("num_unserved_stop_go_pens", "u1"),
            ("grid_position", "u1"),
            ("driver_status", "u1"),
            # 0 invalid, 1 inactive, 2 active, 3 finished, 4 did not finish,
            # 5 disqualified, 6 not classified, 7 retired
            ("result_status", "u1"),
            ("pit_lane_timer_active", "u1"),
            ("pit_lane_time_in_lane_ms", "<u2"),
            ("pit_stop_timer_ms", "<u2"),
            ("pit_stop_should_serve_pen", "u1"),
            *trap,
        ]
    )


def _telemetry_car(fmt: int) -> np.dtype:
    return np.dtype(
        [
            ("speed", "<u2"),  # km/h
            ("throttle", "<f4"),  # 0..1
            ("steer", "<f4"),  # -1 (full lock left) .. 1 (right)
            ("brake", "<f4"),  # 0..1
            ("clutch", "u1"),
            ("gear", "i1"),  # -1 reverse, 0 neutral, 1..8
            ("engine_rpm", "<u2"),
            ("drs", "u1"),
            ("rev_lights_percent", "u1"),
            ("rev_lights_bit_value", "<u2"),
            # Wheel order of every 4-array of the specification: RL, RR, FL, FR.
            ("brakes_temperature", "<u2", (4,)),  # degrees C
            ("tyres_surface_temperature", "u1", (4,)),  # degrees C
            ("tyres_inner_temperature", "u1", (4,)),  # degrees C
            ("engine_temperature", "u1" if fmt >= 2026 else "<u2"),  # degrees C
            ("tyres_pressure", "<f4", (4,)),  # PSI
            ("surface_type", "u1", (4,)),
        ]
    )


def _status_car(fmt: int) -> np.dtype:
    harvest_limit = [("ers_harvest_limit_per_lap", "<f4")] if fmt >= 2026 else []
    return np.dtype(
        [
            ("traction_control", "u1"),
            ("anti_lock_brakes", "u1"),
            ("fuel_mix", "u1"),
            ("front_brake_bias", "u1"),
            ("pit_limiter_status", "u1"),
            ("fuel_in_tank", "<f4"),  # kg
            ("fuel_capacity", "<f4"),
            ("fuel_remaining_laps", "<f4"),
            ("max_rpm", "<u2"),
            ("idle_rpm", "<u2"),
            ("max_gears", "u1"),
            ("drs_allowed", "u1"),
            ("drs_activation_distance", "<u2"),
            ("actual_tyre_compound", "u1"),
            # F1: 16 soft, 17 medium, 18 hard, 7 inter, 8 wet; F1 classic: 9 dry, 10 wet;
            # F2: 19 super soft, 20 soft, 21 medium, 22 hard, 15 wet
            ("visual_tyre_compound", "u1"),
            ("tyres_age_laps", "u1"),
            ("vehicle_fia_flags", "i1"),
            ("engine_power_ice", "<f4"),
            ("engine_power_mguk", "<f4"),
            ("ers_store_energy", "<f4"),  # J
            ("ers_deploy_mode", "u1"),  # 0 none, 1 medium, 2 hotlap, 3 overtake
            ("ers_harvested_this_lap_mguk", "<f4"),
            ("ers_harvested_this_lap_mguh", "<f4"),
            *harvest_limit,
            ("ers_deployed_this_lap", "<f4"),
            ("network_paused", "u1"),
        ]
    )


def _damage_car(fmt: int) -> np.dtype:
    blisters = [("tyre_blisters", "u1", (4,))] if fmt >= 2025 else []
    return np.dtype(
        [
            ("tyres_wear", "<f4", (4,)),  # percent
            ("tyres_damage", "u1", (4,)),
            ("brakes_damage", "u1", (4,)),
            *blisters,
            ("front_left_wing_damage", "u1"),
            ("front_right_wing_damage", "u1"),
            ("rear_wing_damage", "u1"),
            ("floor_damage", "u1"),
            ("diffuser_damage", "u1"),
            ("sidepod_damage", "u1"),
            ("drs_fault", "u1"),
            ("ers_fault", "u1"),
            ("gear_box_damage", "u1"),
            ("engine_damage", "u1"),
            ("engine_mguh_wear", "u1"),
            ("engine_es_wear", "u1"),
            ("engine_ce_wear", "u1"),
            ("engine_ice_wear", "u1"),
            ("engine_mguk_wear", "u1"),
            ("engine_tc_wear", "u1"),
            ("engine_blown", "u1"),
            ("engine_seized", "u1"),
        ]
    )


def _participant(fmt: int) -> np.dtype:
    ids = "<u2" if fmt >= 2026 else "u1"
    name_len = 48 if fmt <= 2024 else 32
    tech = [("tech_level", "<u2")] if fmt >= 2024 else []
    livery = [("num_colours", "u1"), ("livery_colours", "u1", (4, 3))] if fmt >= 2025 else []
    return np.dtype(
        [
            ("ai_controlled", "u1"),
            ("driver_id", ids),
            ("network_id", ids),
            ("team_id", ids),
            ("my_team", "u1"),
            ("race_number", "u1"),
            ("nationality", "u1"),
            ("name", f"S{name_len}"),  # UTF-8, null-terminated
            ("your_telemetry", "u1"),
            ("show_online_names", "u1"),
            *tech,
            ("platform", "u1"),
            *livery,
        ]
    )


# The Session packet's fields up to the ones the ingest reads, and where the sector start
# distances are (2024 on: the last two floats of the 2024/2025 packet, 745 and 749; the 2026
# packet keeps the first 753 bytes and adds its own fields after them).
SESSION_PREFIX = np.dtype(
    [
        ("weather", "u1"),
        ("track_temperature", "i1"),
        ("air_temperature", "i1"),
        ("total_laps", "u1"),
        ("track_length", "<u2"),  # m
        # 2023: 0 unknown, 1-4 practice, 5-9 qualifying, 10-12 race, 13 time trial;
        # 2024 on: 0 unknown, 1-4 practice, 5-9 qualifying, 10-14 sprint shootout,
        # 15-17 race, 18 time trial
        ("session_type", "u1"),
        ("track_id", "i1"),
    ]
)
SESSION_SIZE = {2023: 644, 2024: 753, 2025: 753, 2026: 926}
SECTOR_STARTS_OFFSET = {2024: 745, 2025: 745, 2026: 745}

EVENT_SIZE = 45
EVENT_CODE_OFFSET = 29
EVENT_DETAILS_OFFSET = 33
FLASHBACK = np.dtype([("frame_identifier", "<u4"), ("session_time", "<f4")])


@dataclass(frozen=True)
class PerCar:
    """A packet made of the header, one entry per car, then a few bytes of its own."""

    car: np.dtype
    cars: int
    cars_offset: int
    size: int

    def entries(self, data: bytes) -> np.ndarray:
        """The car entries of ``data`` (read-only view, no copy)."""
        return np.frombuffer(data, self.car, self.cars, self.cars_offset)


@dataclass(frozen=True)
class Layout:
    """Every layout of one packet format."""

    packet_format: int
    cars: int
    motion: PerCar
    lap_data: PerCar
    telemetry: PerCar
    status: PerCar
    damage: PerCar
    participants: PerCar
    session_size: int
    # Size of each packet id the format defines (the ones the ingest does not decode too),
    # so a datagram of a known id but the wrong length is told apart.
    sizes: dict[int, int]


# Sizes of the packets the ingest does not decode, per the specifications.
_OTHER_SIZES = {
    2023: {
        CAR_SETUPS: 1107,
        FINAL_CLASSIFICATION: 1020,
        LOBBY_INFO: 1218,
        SESSION_HISTORY: 1460,
        TYRE_SETS: 231,
        MOTION_EX: 217,
    },
    2024: {
        CAR_SETUPS: 1133,
        FINAL_CLASSIFICATION: 1020,
        LOBBY_INFO: 1306,
        SESSION_HISTORY: 1460,
        TYRE_SETS: 231,
        MOTION_EX: 237,
        TIME_TRIAL: 101,
    },
    2025: {
        CAR_SETUPS: 1133,
        FINAL_CLASSIFICATION: 1042,
        LOBBY_INFO: 954,
        SESSION_HISTORY: 1460,
        TYRE_SETS: 231,
        MOTION_EX: 273,
        TIME_TRIAL: 101,
        LAP_POSITIONS: 1131,
    },
    2026: {
        CAR_SETUPS: 1233,
        FINAL_CLASSIFICATION: 1134,
        LOBBY_INFO: 1062,
        SESSION_HISTORY: 1460,
        TYRE_SETS: 231,
        MOTION_EX: 273,
        TIME_TRIAL: 104,
        LAP_POSITIONS: 1231,
        CAR_TELEMETRY_2: 269,
    },
}


def _per_car(car: np.dtype, cars: int, offset: int, tail: int) -> PerCar:
    return PerCar(car, cars, offset, offset + cars * car.itemsize + tail)


def _layout(fmt: int) -> Layout:
    cars = 24 if fmt >= 2026 else 22
    h = HEADER.itemsize
    motion = _per_car(_motion_car(fmt), cars, h, 0)
    # Lap Data ends with the time trial PB and rival car indices.
    lap_data = _per_car(_lap_car(fmt), cars, h, 2)
    # Car Telemetry ends with the MFD panel indices and the suggested gear.
    telemetry = _per_car(_telemetry_car(fmt), cars, h, 3)
    status = _per_car(_status_car(fmt), cars, h, 0)
    damage = _per_car(_damage_car(fmt), cars, h, 0)
    # Participants starts with the number of active cars.
    participants = _per_car(_participant(fmt), cars, h + 1, 0)
    sizes = {
        MOTION: motion.size,
        SESSION: SESSION_SIZE[fmt],
        LAP_DATA: lap_data.size,
        EVENT: EVENT_SIZE,
        PARTICIPANTS: participants.size,
        CAR_TELEMETRY: telemetry.size,
        CAR_STATUS: status.size,
        CAR_DAMAGE: damage.size,
        **_OTHER_SIZES[fmt],
    }
    return Layout(
        fmt, cars, motion, lap_data, telemetry, status, damage, participants, sizes[SESSION], sizes
    )


LAYOUTS: dict[int, Layout] = {fmt: _layout(fmt) for fmt in FORMATS}

# The packet sizes the specifications publish, checked at import: a layout that drifts from
# its specification fails here rather than decoding shifted values.
_PUBLISHED = {
    2023: {MOTION: 1349, LAP_DATA: 1131, PARTICIPANTS: 1306, CAR_TELEMETRY: 1352,
           CAR_STATUS: 1239, CAR_DAMAGE: 953},
    2024: {MOTION: 1349, LAP_DATA: 1285, PARTICIPANTS: 1350, CAR_TELEMETRY: 1352,
           CAR_STATUS: 1239, CAR_DAMAGE: 953},
    2025: {MOTION: 1349, LAP_DATA: 1285, PARTICIPANTS: 1284, CAR_TELEMETRY: 1352,
           CAR_STATUS: 1239, CAR_DAMAGE: 1041},
    2026: {MOTION: 1325, LAP_DATA: 1399, PARTICIPANTS: 1470, CAR_TELEMETRY: 1448,
           CAR_STATUS: 1445, CAR_DAMAGE: 1133},
}  # fmt: skip
for _fmt, _sizes in _PUBLISHED.items():
    for _id, _size in _sizes.items():
        assert LAYOUTS[_fmt].sizes[_id] == _size, (_fmt, _id, LAYOUTS[_fmt].sizes[_id], _size)
