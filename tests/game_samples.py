"""The game-packet fixtures (tests/fixtures/game_udp/, made by make_fixtures.py there with
f1-packets at each format's pinned version): their datagrams and what was put into them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from ingest.recording import read_recording

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "game_udp"
FORMATS = (2023, 2024, 2025, 2026)


@cache
def datagrams(name: str) -> tuple[tuple[int, bytes], ...]:
    """(arrival µs, datagram) of fixture ``name`` ("2025", "2025_flashback", ...)."""
    return tuple(read_recording(FIXTURES / f"f1_{name}.f1rec"))


@cache
def expected(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"f1_{name}.json").read_text())


def recording_path(name: str) -> Path:
    return FIXTURES / f"f1_{name}.f1rec"
