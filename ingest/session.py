"""Game packets to telemetry records: each car's latest Motion, Lap Data, Car Status and Car
Damage, joined at every Car Telemetry packet.

:class:`GameIngest` takes datagrams with their arrival time (the caller's clock: the socket's
receive time live, the recorded time on replay) and keeps one :class:`GameSession` per
``m_sessionUID``. Each Car Telemetry packet gives one record per active car (Lap Data's result
status not invalid or inactive) once the session has seen a Motion, a Lap Data and a Car
Status packet; records collect in columns until :meth:`GameIngest.take` hands them out as one
batch (field name -> numpy array, the fields of ``schemas/telemetry.avsc`` in order).

Event time: ``timestamp`` = the session's start as the first packet gives it (its arrival time
minus its ``m_sessionTime``) plus the packet's ``m_sessionTime``, so the first record's time is
its arrival time and later ones follow the game's clock, not the network's jitter.

Telemetry v3's game channels come from the same packets: the height (Motion's world y, which
points up), the tyre surface and inner temperatures, brake temperatures, tyre pressures and
engine temperature (Car Telemetry), the ERS store and deploy mode (Car Status). The game's
4-arrays are rear first (RL, RR, FL, FR); the contract's wheel order is FL, FR, RL, RR
(``schemas.channels.WHEELS``). A network player whose "Your Telemetry" setting is restricted
has their Car Status zeroed by the game: their ERS channels are null (not measured), not zeros.

The sector: where the car's lap distance falls among the Session packet's sector starts
(formats 2024 on), so the sectors every consumer times are the ones the game publishes; Lap
Data's sector before the session has sent them (format 2023 never does) and on a grid behind
the line.

Flashbacks: the game rewinds ``m_frameIdentifier`` and ``m_sessionTime`` and sends the rewound
frames again, while ``m_overallFrameIdentifier`` keeps counting up. A Car Telemetry packet
whose frame identifier is not above the last one that gave records is a frame replayed by a
flashback: it is dropped (counted as ``flashback_replayed``), so the records of a session stay
in event-time order and a car's laps are not counted twice; records resume with the first
frame past the one the flashback interrupted. A packet whose overall frame identifier is not
above the last Car Telemetry packet's arrived out of order (counted as ``out_of_order``).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NamedTuple

import numpy as np

from ingest import decode
from ingest.layouts import (
    CAR_DAMAGE,
    CAR_STATUS,
    CAR_TELEMETRY,
    EVENT,
    EVENT_CODE_OFFSET,
    EVENT_DETAILS_OFFSET,
    FLASHBACK,
    LAP_DATA,
    LAYOUTS,
    MOTION,
    PARTICIPANTS,
    SECTOR_STARTS_OFFSET,
    SESSION,
    SESSION_PREFIX,
    Layout,
    PerCar,
)
from schemas.channels import WHEELS, channels
from schemas.schema_files import load_schema
from schemas.topics import TELEMETRY_SCHEMA_FILE

log = logging.getLogger(__name__)

MAX_CARS = 24
GRAVITY = 9.80665
DIRECTION_SCALE = 32767.0
FLASHBACK_REPLAYED = "flashback_replayed"
OUT_OF_ORDER = "out_of_order"
WAITING = "waiting"  # Car Telemetry before the session's first Motion, Lap Data, Car Status
OUT_OF_RANGE = "out_of_range"

# Telemetry records carry every field of the current schema, in its order.
TELEMETRY_SCHEMA = load_schema(TELEMETRY_SCHEMA_FILE)
FIELDS: tuple[str, ...] = tuple(f["name"] for f in TELEMETRY_SCHEMA["fields"])
DEFAULTS: dict[str, Any] = {
    f["name"]: f["default"] for f in TELEMETRY_SCHEMA["fields"] if "default" in f
}
_RANGES = tuple(
    (c.name, c.minimum, c.maximum)
    for c in channels()
    if c.numeric and c.minimum is not None and c.maximum is not None and c.name in FIELDS
)


@cache
def _bounds(members: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The lower and upper bounds of these ``_RANGES`` entries, as (n, 1) columns."""
    low = np.array([[_RANGES[k][1]] for k in members], dtype=np.float64)
    high = np.array([[_RANGES[k][2]] for k in members], dtype=np.float64)
    return low, high


def _table(values: dict[int, str], default: str) -> np.ndarray:
    out = np.full(256, default, dtype=object)
    for code, value in values.items():
        out[code] = value
    return out


# Visual compound (Car Status) -> the contract's compound. F1 modern and classic share the
# codes; F2's are mapped to the same names, the F1 classic "dry" to unknown.
COMPOUNDS = _table(
    {16: "soft", 17: "medium", 18: "hard", 7: "intermediate", 8: "wet",
     10: "wet", 15: "wet", 19: "soft", 20: "soft", 21: "medium", 22: "hard"},
    "unknown",
)  # fmt: skip
PIT_STATUSES = _table({1: "pit_lane", 2: "pit_stop"}, "none")
CAR_STATUSES = _table(
    {3: "finished", 4: "retired", 5: "retired", 6: "retired", 7: "retired"}, "running"
)
# Car Status's ERS deploy mode (the 2026 pack calls 3 "boost"); another code is not a mode the
# contract knows: null.
ERS_DEPLOY_MODES = np.full(256, None, dtype=object)
ERS_DEPLOY_MODES[:4] = ["none", "medium", "hotlap", "overtake"]
# Index of each contract wheel (FL, FR, RL, RR) in the game's 4-arrays (RL, RR, FL, FR).
GAME_WHEEL_INDEX = [("rl", "rr", "fl", "fr").index(w) for w in WHEELS]
# Per-wheel channels: the Car Telemetry field, and the contract's channel and the index in
# the game's array of each wheel.
WHEEL_CHANNELS = tuple(
    (field, tuple((f"{head}_{w}_{unit}", k) for w, k in zip(WHEELS, GAME_WHEEL_INDEX, strict=True)))
    for head, unit, field in (
        ("tyre_surface_temp", "c", "tyres_surface_temperature"),
        ("tyre_inner_temp", "c", "tyres_inner_temperature"),
        ("brake_temp", "c", "brakes_temperature"),
        ("tyre_pressure", "psi", "tyres_pressure"),
    )
)


def session_kind(packet_format: int, session_type: int) -> str:
    """The contract's session kind of the Session packet's ``m_sessionType``."""
    if session_type == 0:
        return "unknown"
    if session_type <= 4:
        return "practice"
    if packet_format == 2023:
        return "qualifying" if session_type <= 9 else "race" if session_type <= 12 else "practice"
    # 2024 on: 10-14 are the sprint shootouts, 18 the time trial.
    return "qualifying" if session_type <= 14 else "race" if session_type <= 17 else "practice"


_WORD = re.compile(r"[A-Z]+")


def driver_code(name: str) -> str:
    """A three-letter code from a participant's name: the first three letters of its last
    word of three letters or more ("PÉREZ" -> "PER", "Lando Norris" -> "NOR"), accents
    removed; padded with X when the name has fewer letters."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().upper()
    words = _WORD.findall(plain)
    long = [w for w in words if len(w) >= 3]
    letters = long[-1] if long else "".join(words)
    return (letters[:3] + "XXX")[:3]


def index_car_id(index: int) -> str:
    """The car id of car ``index`` before the Participants packet gives its race number."""
    return f"car-idx{index:02d}"


@dataclass
class GameSession:
    """What one game session has told so far: the latest datagram of each kind (a packet
    covers every car, so the latest one holds each car's latest values), and the names."""

    uid: int
    session_id: str
    start_us: int  # event time at m_sessionTime 0
    kind: str = "unknown"
    track_length_m: float = 0.0
    track_id: int = -1
    sector_starts_m: tuple[float, float] | None = None
    motion: bytes | None = None
    lap_data: bytes | None = None
    status: bytes | None = None
    damage: bytes | None = None
    last_frame: int = -1
    last_overall: int = -1
    # Replaced, never changed in place, when Participants changes them: a record batch keeps
    # the arrays of its own moment.
    car_ids: np.ndarray = field(default_factory=lambda: _index_names(index_car_id))
    drivers: np.ndarray = field(default_factory=lambda: np.full(MAX_CARS, "CAR", dtype=object))
    participants_body: bytes = b""
    # Cars of network players whose "Your Telemetry" is restricted (the game zeroes their Car
    # Status), None when there are none (the usual case); replaced, never changed in place.
    restricted: np.ndarray | None = None
    # Format 2026: the g-forces of the latest Motion packet, from the change of velocity.
    g_forces: tuple[np.ndarray, np.ndarray] | None = None
    velocity: np.ndarray | None = None
    velocity_time: float | None = None


def _index_names(name: Callable[[int], str]) -> np.ndarray:
    return np.array([name(i) for i in range(MAX_CARS)], dtype=object)


def session_id_of(uid: int) -> str:
    return f"game-{uid:016x}"


class _Chunk(NamedTuple):
    """One Car Telemetry packet's records as fed: the datagrams they join (decoded together
    with the batch's others in :meth:`GameIngest.take`), the names and the packet's time."""

    packet_format: int
    telemetry: bytes
    motion: bytes
    lap_data: bytes
    status: bytes
    damage: bytes | None
    g_forces: tuple[np.ndarray, np.ndarray] | None
    car_ids: np.ndarray
    drivers: np.ndarray
    restricted: np.ndarray | None
    sector_starts: tuple[float, float] | None
    session_id: str
    kind: str
    timestamp: int
    session_time: float


class GameIngest:
    """Datagrams in (:meth:`feed`), telemetry batches out (:meth:`take`).

    ``feed`` only classifies a datagram and keeps it as its session's latest of its kind;
    ``take`` decodes the Car Telemetry packets fed since the last call, each joined with the
    Motion, Lap Data, Car Status and Car Damage packets that were the latest at its arrival,
    all of them at once with numpy (so the cost per datagram is a header and a reference).

    ``on_problem(kind, detail)`` is called for every datagram that gives nothing (see
    :mod:`ingest.decode` and this module's doc for the kinds); ``counts`` counts every
    outcome: problems, ``ignored`` packets, packets, records.
    """

    def __init__(self, on_problem: Callable[[str, str], None] | None = None) -> None:
        self.sessions: dict[int, GameSession] = {}
        self.counts: dict[str, int] = {}
        self.on_problem = on_problem or (lambda kind, detail: None)
        self._chunks: list[_Chunk] = []
        self.records = 0

    def _count(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n

    def _problem(self, kind: str, detail: str) -> None:
        self._count(kind)
        self.on_problem(kind, detail)

    @property
    def pending(self) -> int:
        """Car Telemetry packets fed but not taken yet."""
        return len(self._chunks)

    def feed(self, data: bytes, arrival_us: int) -> None:
        """Take one datagram that arrived at ``arrival_us`` (µs since the epoch)."""
        c = decode.classify(data)
        if c.problem is not None:
            if c.problem == decode.IGNORED:
                self._count(decode.IGNORED)
            else:
                self._problem(c.problem, c.detail)
            return
        h = c.header
        layout = c.layout
        assert h is not None and layout is not None
        session = self.sessions.get(h.session_uid)
        if session is None:
            session = self._new_session(h, arrival_us)
        pid = h.packet_id
        self._count("packets")
        if pid == CAR_TELEMETRY:
            self._telemetry(session, layout, h, data)
        elif pid == MOTION:
            session.motion = data
            if layout.packet_format >= 2026:
                self._g_from_velocity(session, layout, float(h.session_time), data)
        elif pid == LAP_DATA:
            session.lap_data = data
        elif pid == CAR_STATUS:
            session.status = data
        elif pid == CAR_DAMAGE:
            session.damage = data
        elif pid == PARTICIPANTS:
            self._participants(session, layout, data)
        elif pid == SESSION:
            self._session(session, layout, data)
        elif pid == EVENT:
            self._event(session, h, data)

    def _new_session(self, h: decode.Header, arrival_us: int) -> GameSession:
        start = arrival_us - round(float(h.session_time) * 1e6)
        session = GameSession(h.session_uid, session_id_of(h.session_uid), start)
        self.sessions[h.session_uid] = session
        log.info(
            "session %s: format %d, started at %d us (first packet at session time %.3f s)",
            session.session_id,
            h.packet_format,
            start,
            h.session_time,
        )
        return session

    # --- the packets decoded as they come -------------------------------------------------

    @staticmethod
    def _g_from_velocity(s: GameSession, layout: Layout, t: float, data: bytes) -> None:
        """Format 2026 sends the g-forces as int16 without a published scale: they are taken
        from the change of the world velocity since the last Motion packet, projected on the
        car's forward and right directions."""
        e = layout.motion.entries(data)
        velocity = e["world_velocity"].astype(np.float64)
        if s.velocity is not None and s.velocity_time is not None and t > s.velocity_time:
            accel = (velocity - s.velocity) / (t - s.velocity_time) / GRAVITY
            forward = e["world_forward_dir"] / DIRECTION_SCALE
            right = e["world_right_dir"] / DIRECTION_SCALE
            s.g_forces = (
                (accel * right).sum(axis=1).astype(np.float32),
                (accel * forward).sum(axis=1).astype(np.float32),
            )
        elif s.g_forces is None:
            zeros = np.zeros(layout.cars, dtype=np.float32)
            s.g_forces = (zeros, zeros)
        s.velocity = velocity
        s.velocity_time = t

    @staticmethod
    def _participants(s: GameSession, layout: Layout, data: bytes) -> None:
        body = data[decode.HEADER_SIZE :]
        if body == s.participants_body:
            return  # the game repeats it every few seconds, mostly unchanged
        s.participants_body = body
        e = layout.participants.entries(data)
        active = min(int(data[layout.participants.cars_offset - 1]), layout.cars)
        numbers = e["race_number"].tolist()
        names = e["name"].tolist()
        car_ids = s.car_ids.copy()
        drivers = s.drivers.copy()
        restricted = np.zeros(MAX_CARS, dtype=bool)
        restricted[: layout.cars] = (e["ai_controlled"] == 0) & (e["your_telemetry"] == 0)
        restricted[active:] = False
        for player in data[27:29]:  # the player's own cars are never restricted
            if player < MAX_CARS:
                restricted[player] = False

        seen: set[str] = set()
        for i in range(active):
            number = numbers[i]
            car = f"car-{number:02d}" if number else index_car_id(i)
            if car in seen:  # two cars with one race number (an online lobby): keep both apart
                car = f"{car}-{i}"
            seen.add(car)
            car_ids[i] = car
            name = names[i].split(b"\0", 1)[0].decode("utf-8", "replace")
            drivers[i] = driver_code(name)
        s.car_ids, s.drivers = car_ids, drivers
        s.restricted = restricted if restricted.any() else None

    @staticmethod
    def _session(s: GameSession, layout: Layout, data: bytes) -> None:
        prefix = np.frombuffer(data, SESSION_PREFIX, 1, decode.HEADER_SIZE)[0]
        s.kind = session_kind(layout.packet_format, int(prefix["session_type"]))
        s.track_length_m = float(prefix["track_length"])
        s.track_id = int(prefix["track_id"])
        offset = SECTOR_STARTS_OFFSET.get(layout.packet_format)
        if offset is not None:
            starts = np.frombuffer(data, "<f4", 2, offset)
            s.sector_starts_m = (float(starts[0]), float(starts[1]))

    def _event(self, s: GameSession, h: decode.Header, data: bytes) -> None:
        code = data[EVENT_CODE_OFFSET : EVENT_CODE_OFFSET + 4]
        if code == b"FLBK":
            to = np.frombuffer(data, FLASHBACK, 1, EVENT_DETAILS_OFFSET)[0]
            self._count("flashbacks")
            log.info(
                "session %s: flashback to frame %d (session time %.3f s); the frames it "
                "replays up to frame %d are dropped",
                s.session_id,
                int(to["frame_identifier"]),
                float(to["session_time"]),
                s.last_frame,
            )

    # --- the records -----------------------------------------------------------------------

    def _telemetry(self, s: GameSession, layout: Layout, h: decode.Header, data: bytes) -> None:
        if s.motion is None or s.lap_data is None or s.status is None:
            self._count(WAITING)
            return
        if h.overall_frame_identifier <= s.last_overall:
            self._problem(OUT_OF_ORDER, f"overall frame {h.overall_frame_identifier}")
            return
        s.last_overall = h.overall_frame_identifier
        if h.frame_identifier <= s.last_frame:
            self._count(FLASHBACK_REPLAYED)
            return
        s.last_frame = h.frame_identifier
        session_time = float(h.session_time)
        self._chunks.append(
            _Chunk(
                layout.packet_format,
                data,
                s.motion,
                s.lap_data,
                s.status,
                s.damage,
                s.g_forces,
                s.car_ids,
                s.drivers,
                s.restricted,
                s.sector_starts_m,
                s.session_id,
                s.kind,
                s.start_us + round(session_time * 1e6),
                session_time,
            )
        )

    def take(self) -> dict[str, np.ndarray] | None:
        """The records of the Car Telemetry packets fed since the last call as one batch (the
        schema's fields in order), None when there are none: one record per active car (Lap
        Data's result status neither invalid nor inactive) per packet. Rows outside the
        contract's ranges (a crash's g-force spike, a car far off the track's lap distance)
        are dropped and counted."""
        if not self._chunks:
            return None
        chunks, self._chunks = self._chunks, []
        # Runs of one packet format (one run, unless sessions of two games interleave).
        parts: list[dict[str, np.ndarray]] = []
        run: list[_Chunk] = []
        for chunk in chunks:
            if run and chunk.packet_format != run[0].packet_format:
                parts.append(_columns(run))
                run = []
            run.append(chunk)
        parts.append(_columns(run))
        if len(parts) == 1:
            batch = parts[0]
        else:
            batch = {name: np.concatenate([p[name] for p in parts]) for name in FIELDS}
        self.records += len(batch["car_id"])
        return self._within_contract(batch)

    def _within_contract(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        # The ranged channels a dtype at a time: one (channels, rows) stack against the bounds,
        # so a few numpy calls per batch whatever the number of channels (the batches of a
        # live session are small: a call per channel would be most of their cost).
        groups: dict[np.dtype, list[int]] = {}
        columns = []
        for k, (name, lo, _) in enumerate(_RANGES):
            column = batch[name]
            if column.dtype == object:  # a nullable channel with nulls: those are in range
                column = np.array([lo if v is None else v for v in column], dtype=np.float64)
            columns.append(column)
            groups.setdefault(column.dtype, []).append(k)
        bad_channels: list[int] = []
        inside_rows = None
        for members in groups.values():
            values = np.stack([columns[k] for k in members])
            low, high = _bounds(tuple(members))
            inside = (values >= low) & (values <= high)  # NaN compares false: outside
            if not inside.all():
                bad_channels += [members[k] for k in np.flatnonzero(~inside.all(axis=1))]
                rows = inside.all(axis=0)
                inside_rows = rows if inside_rows is None else inside_rows & rows
        if inside_rows is None:
            return batch
        for k in sorted(bad_channels):
            name, lo, hi = _RANGES[k]
            self.on_problem(OUT_OF_RANGE, f"{name} outside {lo:g}..{hi:g}")
        keep = inside_rows
        dropped = int((~keep).sum())
        self._count(OUT_OF_RANGE, dropped)
        self.records -= dropped
        if not keep.any():
            return None
        return {name: column[keep] for name, column in batch.items()}


def _cars(layout_part: PerCar, datagrams: list[bytes]) -> np.ndarray:
    """The car entries of many packets of one kind: a (packets, cars) structured array."""
    whole = np.dtype(
        {
            "names": ["cars"],
            "formats": [(layout_part.car, (layout_part.cars,))],
            "offsets": [layout_part.cars_offset],
            "itemsize": layout_part.size,
        }
    )
    return np.frombuffer(b"".join(datagrams), whole)["cars"]


def _columns(chunks: list[_Chunk]) -> dict[str, np.ndarray]:
    """The record columns of chunks of one packet format, the schema's fields in order."""
    layout = LAYOUTS[chunks[0].packet_format]
    n = layout.cars
    telemetry = _cars(layout.telemetry, [c.telemetry for c in chunks])
    motion = _cars(layout.motion, [c.motion for c in chunks])
    lap = _cars(layout.lap_data, [c.lap_data for c in chunks])
    status = _cars(layout.status, [c.status for c in chunks])
    # Records are the active cars: Lap Data's result status neither invalid nor inactive.
    active = lap["result_status"] >= 2
    counts = active.sum(axis=1)

    def cars(values: np.ndarray) -> np.ndarray:
        return values[active]

    def per_packet(values: list[Any], dtype: Any) -> np.ndarray:
        return np.repeat(np.array(values, dtype=dtype), counts)

    if any(c.damage is None for c in chunks):
        no_damage = bytes(layout.damage.size)
        damage = _cars(layout.damage, [c.damage or no_damage for c in chunks])
    else:
        damage = _cars(layout.damage, [c.damage for c in chunks if c.damage is not None])
    position = cars(motion["world_position"])
    if chunks[0].g_forces is None:
        g_lat, g_long = cars(motion["g_force_lateral"]), cars(motion["g_force_longitudinal"])
    else:
        g = [c.g_forces for c in chunks if c.g_forces is not None]
        g_lat = cars(np.stack([lat for lat, _ in g]))
        g_long = cars(np.stack([long for _, long in g]))
    ids = np.stack([c.car_ids[:n] for c in chunks])
    drivers = np.stack([c.drivers[:n] for c in chunks])
    t = telemetry[active]
    lap_cars = lap[active]
    status_cars = status[active]
    result_status = lap_cars["result_status"]
    lap_distance = lap_cars["lap_distance"].astype(np.float64)
    sector = np.minimum(lap_cars["sector"], 2).astype(np.int32) + 1
    starts = _sector_starts(chunks, counts)
    if starts is not None:
        s2, s3 = starts
        if np.ndim(s2) == 0:  # the usual case: one Session packet's starts for the batch
            from_starts = np.searchsorted(np.array([s2, s3]), lap_distance, side="right") + 1
            sector = np.where(lap_distance >= 0.0, from_starts, sector).astype(np.int32)
        else:
            from_starts = 1 + (lap_distance >= s2) + (lap_distance >= s3)
            # A NaN start (no Session packet yet) compares false: Lap Data's sector there.
            use = (lap_distance >= 0.0) & ~np.isnan(s2)
            sector = np.where(use, from_starts, sector).astype(np.int32)
    ers_store = status_cars["ers_store_energy"] / np.float32(1e6)
    ers_mode = ERS_DEPLOY_MODES[status_cars["ers_deploy_mode"]]
    if any(c.restricted is not None for c in chunks):
        none = np.zeros(MAX_CARS, dtype=bool)
        restricted = cars(
            np.stack([(none if c.restricted is None else c.restricted)[:n] for c in chunks])
        )
        ers_store = ers_store.astype(object)
        ers_store[restricted] = None
        ers_mode[restricted] = None
    columns = {
        "session_id": per_packet([c.session_id for c in chunks], object),
        "car_id": ids[active],
        "driver": drivers[active],
        "timestamp": per_packet([c.timestamp for c in chunks], np.int64),
        "sim_time_s": per_packet([c.session_time for c in chunks], np.float64),
        "lap": np.maximum(lap_cars["current_lap_num"], 1).astype(np.int32),
        "lap_distance_m": lap_distance,
        "total_distance_m": lap_cars["total_distance"].astype(np.float64),
        # The game's y axis points up: the map is its x-z plane.
        "x_m": position[:, 0],
        "y_m": position[:, 2],
        "speed_kmh": t["speed"].astype(np.float32),
        "throttle": t["throttle"],
        "brake": t["brake"],
        "steering": t["steer"],
        # Reverse (-1) is reported as neutral: the contract has no reverse gear.
        "gear": np.maximum(t["gear"], 0).astype(np.int32),
        "rpm": t["engine_rpm"].astype(np.float32),
        "g_lat": g_lat.astype(np.float32),
        "g_long": g_long.astype(np.float32),
        "fuel_kg": status_cars["fuel_in_tank"],
        "tyre_wear": np.clip(cars(damage["tyres_wear"]).max(axis=1) / 100.0, 0.0, 1.0).astype(
            np.float32
        ),
        "drs": t["drs"] != 0,
        "sector": sector,
        "session_kind": per_packet([c.kind for c in chunks], object),
        "tyre_compound": COMPOUNDS[status_cars["visual_tyre_compound"]],
        "tyre_age_laps": status_cars["tyres_age_laps"].astype(np.int32),
        "pit_status": PIT_STATUSES[lap_cars["pit_status"]],
        "pit_stops": lap_cars["num_pit_stops"].astype(np.int32),
        "car_status": CAR_STATUSES[result_status],
        "z_m": position[:, 1],  # the game's y: up
        "engine_temp_c": t["engine_temperature"].astype(np.float32),
        "ers_store_mj": ers_store,
        "ers_deploy_mode": ers_mode,
    }
    for game_field, wheels in WHEEL_CHANNELS:
        values = t[game_field].astype(np.float32)  # one copy; a column per wheel is a view
        for name, k in wheels:
            columns[name] = values[:, k]
    rows = int(counts.sum())
    return {
        name: columns[name] if name in columns else _default_column(DEFAULTS[name], rows)
        for name in FIELDS
    }


def _sector_starts(chunks: list[_Chunk], counts: np.ndarray) -> tuple[Any, Any] | None:
    """Where sectors 2 and 3 start, for each record: two numbers when every packet had the
    same (the usual case), per-record arrays when a Session packet came in between (NaN
    before the first), None when none had any."""
    first = chunks[0].sector_starts
    if all(c.sector_starts == first for c in chunks):
        return None if first is None else (np.float64(first[0]), np.float64(first[1]))
    known = np.array([c.sector_starts or (np.nan, np.nan) for c in chunks], dtype=np.float64)
    per_record = np.repeat(known, counts, axis=0)
    return per_record[:, 0], per_record[:, 1]


def _default_column(value: Any, rows: int) -> np.ndarray:
    if isinstance(value, bool):
        return np.full(rows, value, dtype=bool)
    if isinstance(value, int):
        return np.full(rows, value, dtype=np.int64)
    if isinstance(value, float):
        return np.full(rows, value, dtype=np.float64)
    return np.full(rows, value, dtype=object)
