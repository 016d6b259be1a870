"""The kind of session the simulator runs, and where its cars start.

* **practice**: the cars are spread around the lap (car ``i`` at ``i / n`` of a lap, rolling
  at the speed of a flying lap; car 0 from rest on the line). With ``laps``, each car drives
  that many full laps from its first crossing of the line, then stops just past the line.
* **race**: the cars stand on the grid behind the line in grid order (car 0 on pole), two
  per row, the slots :data:`GRID_SLOT_M` apart and staggered, at rest; lights out at session
  time 0. Lap distance is negative until a car first crosses the line (the F1 game's
  convention) and lap 1 ends at the line one full lap later. When the leader completes
  ``laps`` laps the chequered flag falls: every other car finishes the lap it is on (a lapped
  car one lap down) and stops just past the line.

In both, a car's last record is its first sample past the line, so every lap it drove is
complete.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from circuit import Track
from runtime.errors import ConfigError

PRACTICE = "practice"
RACE = "race"
SESSION_KINDS = (PRACTICE, RACE)
TYRE_CHOICES = ("soft", "medium", "hard")

# The grid (FIA sporting regulations): 2 cars a row, the slots staggered, 8 m apart.
GRID_SLOTS = 20
GRID_SLOT_M = 8.0
# Pole position: the front of the car a few metres behind the line, so its reference point
# (the middle of a 5.6 m car) stands this far behind it.
POLE_BEHIND_LINE_M = 5.0
# A Grand Prix is the fewest laps that exceed 305 km (FIA sporting regulations).
RACE_DISTANCE_M = 305_000.0
# Fuel a tank holds at most (the schema's range of fuel_kg).
MAX_FUEL_KG = 150.0


@dataclass(frozen=True)
class SessionPlan:
    """What the session is: its kind, its length and the cars' start set-up.

    ``laps``: for a race, the race distance (the leader's laps; default: :func:`race_laps`);
    in practice, the full laps each car drives (None: until stopped). ``tyre``: the start
    compound of every car (a race default: each car's strategy; practice: medium).
    ``fuel_kg``: the start fuel of every car (a race default: sized for the race distance;
    practice: the car's own).
    """

    kind: str = PRACTICE
    laps: int | None = None
    tyre: str | None = None
    fuel_kg: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in SESSION_KINDS:
            raise ConfigError(
                f"unknown session kind {self.kind!r}: choose one of {', '.join(SESSION_KINDS)}"
            )
        if self.laps is not None and (not isinstance(self.laps, int) or self.laps < 1):
            raise ConfigError(f"laps must be a whole number of at least 1, got {self.laps!r}")
        if self.tyre is not None and self.tyre not in TYRE_CHOICES:
            raise ConfigError(
                f"unknown tyre compound {self.tyre!r}: choose one of {', '.join(TYRE_CHOICES)}"
            )
        if self.fuel_kg is not None and not (
            math.isfinite(self.fuel_kg) and 0.0 < self.fuel_kg <= MAX_FUEL_KG
        ):
            raise ConfigError(
                f"start fuel must be above 0 and at most {MAX_FUEL_KG:g} kg, got {self.fuel_kg!r}"
            )

    @property
    def is_race(self) -> bool:
        return self.kind == RACE


def race_laps(track: Track) -> int:
    """The laps of a Grand Prix on ``track``: the fewest that exceed 305 km (52 at
    Silverstone)."""
    return math.floor(RACE_DISTANCE_M / track.length_m) + 1


def grid_positions(n_cars: int, track: Track) -> np.ndarray:
    """Lap distance (m, negative: behind the line) of each grid slot, pole first."""
    if n_cars > GRID_SLOTS:
        raise ConfigError(f"the grid has {GRID_SLOTS} slots: {n_cars} cars do not fit")
    slots = -(POLE_BEHIND_LINE_M + GRID_SLOT_M * np.arange(n_cars))
    if n_cars and -slots[-1] > 0.25 * track.length_m:
        raise ConfigError(
            f"track {track.name!r} ({track.length_m:.0f} m) is too short for a grid of "
            f"{n_cars} cars"
        )
    return slots
