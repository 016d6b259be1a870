"""The game's packet layouts and their decoding, against packets that f1-packets (the
reference library, at each format's pinned version) built: tests/fixtures/game_udp/."""

from __future__ import annotations

import numpy as np
import pytest
from numpy import float32 as f32

from ingest import decode
from ingest.layouts import LAYOUTS, SECTOR_STARTS_OFFSET, SESSION_PREFIX
from ingest.session import GameIngest, driver_code, session_kind
from schemas.serde import Serializer
from schemas.topics import TELEMETRY_SCHEMA_FILE
from tests.game_samples import FORMATS, datagrams, expected

# The ingest's field names where the library's differ (arrays the library splits are
# compared at their first element).
RENAMED = {
    "world_position": "world_position_x",
    "world_velocity": "world_velocity_x",
    "world_forward_dir": "world_forward_dir_x",
    "world_right_dir": "world_right_dir_x",
    "last_lap_time_ms": "last_lap_time_in_ms",
    "current_lap_time_ms": "current_lap_time_in_ms",
    "delta_to_car_in_front_ms": "delta_to_car_in_front_in_ms",
    "delta_to_race_leader_ms": "delta_to_race_leader_in_ms",
    "pit_lane_time_in_lane_ms": "pit_lane_time_in_lane_in_ms",
    "pit_stop_timer_ms": "pit_stop_timer_in_ms",
}
# 2023's library names the sector time parts differently.
RENAMED_2023 = {
    "sector1_time_ms_part": "sector1_time_in_ms",
    "sector1_time_minutes_part": "sector1_time_minutes",
    "sector2_time_ms_part": "sector2_time_in_ms",
    "sector2_time_minutes_part": "sector2_time_minutes",
}
PACKETS = {
    "motion": "motion",
    "lap": "lap_data",
    "status": "status",
    "damage": "damage",
    "telemetry": "telemetry",
    "participants": "participants",
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("packet", sorted(PACKETS))
def test_each_layout_has_the_reference_librarys_offsets_and_sizes(fmt: int, packet: str) -> None:
    reference = expected(str(fmt))["layout"][packet]
    mine = getattr(LAYOUTS[fmt], PACKETS[packet])
    assert mine.size == reference["size"]
    assert mine.cars_offset == reference["cars_offset"]
    assert mine.car.itemsize == reference["car_size"]
    names = {**RENAMED, **(RENAMED_2023 if fmt == 2023 else {})}
    for name in mine.car.names:
        ref_offset, ref_size, _ = reference["car"][names.get(name, name)]
        field, offset = mine.car.fields[name][:2]
        assert offset == ref_offset, (name, offset, ref_offset)
        if name not in RENAMED:
            assert field.itemsize == ref_size, (name, field.itemsize, ref_size)
    # Nothing of the library's entry is left out of the ingest's.
    assert len(reference["car"]) == len(mine.car.names) + 3 * sum(
        1 for n in mine.car.names if n in RENAMED and n.startswith("world_")
    ) - sum(1 for n in mine.car.names if n.startswith("world_"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_header_and_session_fields_sit_where_the_library_puts_them(fmt: int) -> None:
    layout = expected(str(fmt))["layout"]
    assert [v[0] for v in layout["header"].values()] == [
        decode.HEADER_SIZE - 29 + off for off in (0, 2, 3, 4, 5, 6, 7, 15, 19, 23, 27, 28)
    ]
    session = layout["session"]
    assert LAYOUTS[fmt].session_size == session["size"]
    for name in SESSION_PREFIX.names:
        assert 29 + SESSION_PREFIX.fields[name][1] == session["fields"][name][0], name
    if fmt in SECTOR_STARTS_OFFSET:
        assert SECTOR_STARTS_OFFSET[fmt] == session["fields"]["sector2_lap_distance_start"][0]
        assert SECTOR_STARTS_OFFSET[fmt] + 4 == session["fields"]["sector3_lap_distance_start"][0]
    event = layout["event"]
    assert (event["size"], event["details_offset"]) == (45, 33)


def _records(name: str) -> dict[str, np.ndarray]:
    ingest = GameIngest()
    for arrival, data in datagrams(name):
        ingest.feed(data, arrival)
    batch = ingest.take()
    assert batch is not None
    return batch


COMPOUND = {16: "soft", 17: "medium", 18: "hard", 7: "intermediate", 8: "wet"}
PIT = {0: "none", 1: "pit_lane", 2: "pit_stop"}
CAR_STATUS = {2: "running", 3: "finished", 7: "retired"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_frame_gives_one_record_per_car_with_the_values_put_in(fmt: int) -> None:
    spec = expected(str(fmt))
    n = spec["n_cars"]
    batch = _records(str(fmt))
    assert len(batch["car_id"]) == n * len(spec["frames"])
    first = datagrams(str(fmt))[0][0]
    start = first - round(spec["frames"][0]["session_time"] * 1e6)
    f32 = np.float32
    for i, frame in enumerate(spec["frames"]):
        rows = slice(i * n, (i + 1) * n)
        cars = frame["cars"]
        got = {name: column[rows] for name, column in batch.items()}
        assert (got["timestamp"] == start + round(frame["session_time"] * 1e6)).all()
        assert (got["sim_time_s"] == frame["session_time"]).all()
        assert (got["session_id"] == "game-123456789abcdef0").all()
        if frame["participants"]:
            assert got["car_id"].tolist() == [f"car-{k:02d}" for k in spec["race_numbers"]]
            assert got["driver"].tolist() == [driver_code(name) for name in spec["names"]]
        else:
            assert got["car_id"].tolist() == [f"car-idx{k:02d}" for k in range(n)]
        assert got["speed_kmh"].tolist() == cars["speed"]
        assert got["throttle"].tolist() == [float(f32(v)) for v in cars["throttle"]]
        assert got["brake"].tolist() == [float(f32(v)) for v in cars["brake"]]
        assert got["steering"].tolist() == [float(f32(v)) for v in cars["steer"]]
        assert got["gear"].tolist() == cars["gear"]
        assert got["rpm"].tolist() == cars["engine_rpm"]
        assert got["drs"].tolist() == [bool(v) for v in cars["drs"]]
        assert got["x_m"].tolist() == cars["world_position_x"]
        assert got["y_m"].tolist() == cars["world_position_z"]
        assert got["lap"].tolist() == cars["current_lap_num"]
        assert got["lap_distance_m"].tolist() == cars["lap_distance"]
        assert got["total_distance_m"].tolist() == cars["total_distance"]
        assert min(cars["lap_distance"]) < 0  # cars behind the line on lap 1
        assert got["sector"].tolist() == expected_sectors(spec, cars)
        assert got["pit_status"].tolist() == [PIT[v] for v in cars["pit_status"]]
        assert got["pit_stops"].tolist() == cars["num_pit_stops"]
        assert got["car_status"].tolist() == [CAR_STATUS[v] for v in cars["result_status"]]
        assert got["fuel_kg"].tolist() == cars["fuel_in_tank"]
        assert got["tyre_compound"].tolist() == [COMPOUND[v] for v in cars["visual_tyre_compound"]]
        assert got["tyre_age_laps"].tolist() == cars["tyres_age_laps"]
        assert got["tyre_wear"].tolist() == [float(f32(max(w) / 100)) for w in cars["tyres_wear"]]
        assert (got["session_kind"] == "race").all()
        if fmt != 2026:
            assert got["g_lat"].tolist() == cars["g_force_lateral"]
            assert got["g_long"].tolist() == cars["g_force_longitudinal"]
        # Telemetry v3's game channels, the wheels in the contract's order (the game's arrays
        # are RL, RR, FL, FR).
        assert got["z_m"].tolist() == cars["world_position_y"]
        for name, (field, unit) in GAME_WHEEL_FIELDS.items():
            for k, wheel in enumerate(("rl", "rr", "fl", "fr")):
                want = [float(f32(v[k])) for v in cars[field]]
                assert got[f"{name}_{wheel}_{unit}"].tolist() == want, (name, wheel)
        assert got["engine_temp_c"].tolist() == cars["engine_temperature"]
        assert got["ers_store_mj"].tolist() == [
            float(f32(v) / f32(1e6)) for v in cars["ers_store_energy"]
        ]
        assert got["ers_deploy_mode"].tolist() == [ERS[v] for v in cars["ers_deploy_mode"]]


GAME_WHEEL_FIELDS = {
    "tyre_surface_temp": ("tyres_surface_temperature", "c"),
    "tyre_inner_temp": ("tyres_inner_temperature", "c"),
    "brake_temp": ("brakes_temperature", "c"),
    "tyre_pressure": ("tyres_pressure", "psi"),
}
ERS = {0: "none", 1: "medium", 2: "hotlap", 3: "overtake"}


def expected_sectors(spec: dict, cars: dict) -> list[int]:
    """The sector of each car: from the Session packet's sector starts where the format has
    them (formats 2024 on) and the car is past the line, else Lap Data's."""
    starts = spec["sector_starts"]
    out = []
    for d, lap_data_sector in zip(cars["lap_distance"], cars["sector"], strict=True):
        if starts is None or d < 0:
            out.append(lap_data_sector + 1)
        else:
            out.append(1 + (d >= f32(starts[0])) + (d >= f32(starts[1])))
    return out


def test_format_2026_takes_g_forces_from_the_change_of_velocity() -> None:
    # The fixture's cars speed up along their forward axis by 0.6 m/s a frame at 60 Hz.
    spec = expected("2026")
    batch = _records("2026")
    n = spec["n_cars"]
    assert (batch["g_long"][:n] == 0).all()  # one Motion packet: no change to measure yet
    assert batch["g_long"][n:] == pytest.approx(0.6 * 60 / 9.80665, rel=1e-3)
    assert batch["g_lat"][n:] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_session_packet_gives_the_kind_and_the_sector_starts(fmt: int) -> None:
    ingest = GameIngest()
    for arrival, data in datagrams(str(fmt)):
        ingest.feed(data, arrival)
    (session,) = ingest.sessions.values()
    assert session.kind == "race"
    assert session.track_length_m == 5891
    assert session.track_id == 7
    starts = expected(str(fmt))["sector_starts"]
    assert session.sector_starts_m == (tuple(starts) if starts else None)


def test_session_kinds_of_each_format() -> None:
    assert [session_kind(2023, t) for t in (0, 1, 4, 5, 9, 10, 12, 13)] == [
        "unknown", "practice", "practice", "qualifying", "qualifying", "race", "race", "practice"
    ]  # fmt: skip
    assert [session_kind(2025, t) for t in (0, 3, 5, 10, 14, 15, 17, 18)] == [
        "unknown", "practice", "qualifying", "qualifying", "qualifying", "race", "race",
        "practice",
    ]  # fmt: skip


def test_driver_codes_from_participant_names() -> None:
    assert driver_code("VERSTAPPEN") == "VER"
    assert driver_code("PÉREZ") == "PER"
    assert driver_code("Lando Norris") == "NOR"
    assert driver_code("xX_player_9") == "PLA"
    assert driver_code("Li") == "LIX"
    assert driver_code("") == "XXX"


def test_a_flashback_drops_the_frames_it_replays_and_keeps_event_time_in_order() -> None:
    spec = expected("2025_flashback")
    n = spec["n_cars"]
    ingest = GameIngest()
    for arrival, data in datagrams("2025_flashback"):
        ingest.feed(data, arrival)
    batch = ingest.take()
    assert batch is not None
    frame_times = [f["session_time"] for f in spec["frames"]]
    # Frames 1000..1007, then the flashback to 1003: 1004..1007 come again and are dropped,
    # 1008..1010 are new.
    kept = frame_times[:8] + frame_times[-3:]
    assert ingest.counts["flashback_replayed"] == 4
    assert ingest.counts["flashbacks"] == 1
    assert len(batch["car_id"]) == n * len(kept)
    assert batch["sim_time_s"][::n].tolist() == kept
    timestamps = batch["timestamp"].reshape(-1, n)[:, 0]
    assert (np.diff(timestamps) > 0).all()


def _mutated(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value) :]


def test_bad_datagrams_are_counted_by_kind_and_give_no_record() -> None:
    good = list(datagrams("2025"))
    telemetry = next(d for _, d in good if d[6] == 6)
    problems: list[tuple[str, str]] = []
    ingest = GameIngest(on_problem=lambda kind, detail: problems.append((kind, detail)))
    bad = [
        b"",  # garbage
        b"\x00",  # garbage
        bytes(range(256)) * 3,  # garbage: format 0x0100
        telemetry[:100],  # truncated
        telemetry[:20],  # truncated: no full header
        telemetry + b"\0",  # wrong size
        _mutated(telemetry, 0, (2019).to_bytes(2, "little")),  # unknown format
        _mutated(telemetry, 6, bytes([99])),  # unknown packet id
    ]
    for data in bad:
        ingest.feed(data, 1)
    assert ingest.take() is None
    assert ingest.counts == {
        "garbage": 3, "truncated": 2, "wrong_size": 1, "unknown_format": 1,
        "unknown_packet_id": 1,
    }  # fmt: skip
    assert [k for k, _ in problems].count("garbage") == 3
    # Good datagrams after the bad ones still give their records.
    for arrival, data in good:
        ingest.feed(data, arrival)
    batch = ingest.take()
    assert batch is not None and len(batch["car_id"]) == 22 * 6


def test_records_wait_for_motion_lap_data_and_car_status() -> None:
    good = list(datagrams("2025"))
    telemetry = [(t, d) for t, d in good if d[6] == 6]
    ingest = GameIngest()
    for arrival, data in telemetry:
        ingest.feed(data, arrival)
    assert ingest.take() is None
    assert ingest.counts["waiting"] == len(telemetry)


def test_rows_outside_the_contract_are_dropped_and_counted() -> None:
    problems: list[str] = []
    ingest = GameIngest(on_problem=lambda kind, detail: problems.append(detail))
    for arrival, data in datagrams("2025"):
        ingest.feed(data, arrival)
    assert ingest.take() is not None
    before = ingest.records
    # A new frame (1006) whose Motion packet has a crash's g-force spike on car 3.
    frame = (1006).to_bytes(4, "little")
    motion, telemetry = (next(d for _, d in datagrams("2025") if d[6] == i) for i in (0, 6))
    g_lat_of_car_3 = LAYOUTS[2025].motion.cars_offset + 3 * 60 + 36
    spike = _mutated(motion, g_lat_of_car_3, np.float32(25.0).tobytes())
    ingest.feed(_mutated(_mutated(spike, 19, frame), 23, frame), 2)
    ingest.feed(_mutated(_mutated(telemetry, 19, frame), 23, frame), 3)
    batch = ingest.take()
    assert batch is not None
    assert len(batch["car_id"]) == 21
    assert "car-04" not in batch["car_id"].tolist()
    assert ingest.counts["out_of_range"] == 1
    assert ingest.records == before + 21
    assert problems == ["g_lat outside -10..10"]


def test_classify_reads_the_header() -> None:
    _, data = datagrams("2024")[0]
    c = decode.classify(data)
    assert c.problem is None and c.header is not None
    assert (c.header.packet_format, c.header.packet_id) == (2024, 0)
    assert c.header.session_uid == 0x1234_5678_9ABC_DEF0
    assert c.header.frame_identifier == 1000 == c.header.overall_frame_identifier


def test_network_players_with_restricted_telemetry_have_no_ers_values() -> None:
    # The game zeroes a network player's Car Status when their "Your Telemetry" setting is
    # restricted: their ERS channels are null, not zeros. The player's own car (index 0 here)
    # and AI cars are never restricted.
    layout = LAYOUTS[2025]
    entry = layout.participants.car
    human = {2: 0, 3: 1, 0: 0}  # car index -> your_telemetry (0 restricted, 1 public)
    out = []
    for arrival, data in datagrams("2025"):
        if data[6] == 4:  # Participants
            for car, public in human.items():
                at = layout.participants.cars_offset + car * entry.itemsize
                data = _mutated(data, at + entry.fields["ai_controlled"][1], b"\0")
                data = _mutated(data, at + entry.fields["your_telemetry"][1], bytes([public]))
        out.append((arrival, data))
    ingest = GameIngest()
    for arrival, data in out:
        ingest.feed(data, arrival)
    batch = ingest.take()
    assert batch is not None
    last = slice(-22, None)  # a frame after the Participants packet
    store = batch["ers_store_mj"][last].tolist()
    modes = batch["ers_deploy_mode"][last].tolist()
    assert store[2] is None and modes[2] is None
    assert [v is None for v in store].count(True) == 1
    assert store[0] == pytest.approx(4.0) and modes[0] == "none"
    assert store[3] == pytest.approx(4.0 - 0.003) and modes[3] == "overtake"
    # Such a batch encodes as any other: the nulls as the union's null branch.
    values = Serializer(1, TELEMETRY_SCHEMA_FILE).encode_columns(batch)
    assert len(values) == len(batch["car_id"])
