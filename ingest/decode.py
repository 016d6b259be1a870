"""One datagram in: its header, or the reason it cannot be used.

:func:`classify` reads the 29-byte header and checks the datagram against its format's
layout; the per-car parts are then read as numpy views of the datagram's bytes
(:class:`ingest.layouts.PerCar`), vectorised over the 22 (or 24) cars, never copied field by
field in Python.

What is wrong with a datagram, by kind (the counters of the progress line):

* ``garbage``: too short for a packet format, or a format no game ever used;
* ``unknown_format``: a plausible game year that is not 2023..2026 (an older game, or a newer
  one than this code knows);
* ``unknown_packet_id``: an id above the highest the format defines;
* ``truncated``: shorter than its packet's layout (or than the header);
* ``wrong_size``: longer than its packet's layout.

Packets of a known id that the ingest does not need (car setups, lobby info, ...) are
counted as ``ignored``; they are not a problem.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from ingest.layouts import (
    CAR_DAMAGE,
    CAR_STATUS,
    CAR_TELEMETRY,
    EVENT,
    LAP_DATA,
    LAYOUTS,
    MAX_PACKET_ID,
    MOTION,
    PARTICIPANTS,
    SESSION,
    Layout,
)

GARBAGE = "garbage"
UNKNOWN_FORMAT = "unknown_format"
UNKNOWN_PACKET_ID = "unknown_packet_id"
TRUNCATED = "truncated"
WRONG_SIZE = "wrong_size"
PROBLEMS = (GARBAGE, UNKNOWN_FORMAT, UNKNOWN_PACKET_ID, TRUNCATED, WRONG_SIZE)
IGNORED = "ignored"

DECODED_IDS = frozenset(
    {MOTION, SESSION, LAP_DATA, EVENT, PARTICIPANTS, CAR_TELEMETRY, CAR_STATUS, CAR_DAMAGE}
)
# Game years a datagram could plausibly come from: the UDP format exists since F1 2017.
_PLAUSIBLE_FORMATS = range(2017, 2101)
_HEADER = struct.Struct("<HBBBBBQfIIBB")
HEADER_SIZE = _HEADER.size


class Header(NamedTuple):
    packet_format: int
    packet_id: int
    session_uid: int
    session_time: float
    frame_identifier: int
    overall_frame_identifier: int
    player_car_index: int


class Classified(NamedTuple):
    """A datagram's header and layout, or (problem, detail) when it cannot be used."""

    header: Header | None
    layout: Layout | None
    problem: str | None
    detail: str = ""


def classify(data: bytes) -> Classified:
    """The header and layout of ``data``, or why it cannot be decoded (see the module doc)."""
    size = len(data)
    if size < 2:
        return Classified(None, None, GARBAGE, f"{size} byte(s)")
    fmt = data[0] | data[1] << 8
    layout = LAYOUTS.get(fmt)
    if layout is None:
        if fmt in _PLAUSIBLE_FORMATS and size >= HEADER_SIZE:
            return Classified(None, None, UNKNOWN_FORMAT, f"format {fmt}")
        return Classified(None, None, GARBAGE, f"{size} bytes starting {data[:4].hex()}")
    if size < HEADER_SIZE:
        return Classified(None, None, TRUNCATED, f"format {fmt}: {size} bytes, no full header")
    fields = _HEADER.unpack_from(data)
    packet_id = fields[5]
    if packet_id > MAX_PACKET_ID[fmt]:
        return Classified(None, None, UNKNOWN_PACKET_ID, f"format {fmt}: packet id {packet_id}")
    expected = layout.sizes[packet_id]
    if size != expected:
        kind = TRUNCATED if size < expected else WRONG_SIZE
        return Classified(
            None, None, kind, f"format {fmt} packet {packet_id}: {size} bytes, not {expected}"
        )
    header = Header(fmt, packet_id, fields[6], fields[7], fields[8], fields[9], fields[10])
    if packet_id not in DECODED_IDS:
        return Classified(header, layout, IGNORED)
    return Classified(header, layout, None)
