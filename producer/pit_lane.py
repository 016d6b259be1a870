"""The pit lane: where it leaves and rejoins the track, its speed limit and the pit boxes.

At Silverstone the pit lane runs beside the start/finish straight: the entry is after the last
corner (Club), the timing line is crossed in the pit lane, the boxes come shortly after the
line, and the exit rejoins before Abbey (turn 1). A car on its in-lap leaves the racing line
at the entry, brakes to the limit by the limit line, stops in its team's box (2 to 3.5 s
stationary, new tyres), then drives at the limit to the end of the limited zone and
accelerates back onto the track. The lap that ends in the pit lane is the in-lap; the next,
which starts there, the out-lap. Against staying out a stop costs about 19 to 22 s in
reality (TUMFTM: 19.4 s at Silverstone); this layout gives about 20 s (measured in
``tests/test_race.py``).

Every distance is measured along the track from the timing line, so the same layout serves
any circuit whose pit lane runs beside its start/finish straight; a circuit shorter than
4 km gets a proportionally shorter lane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from circuit import Track
from producer.physics import PitLane

# A circuit shorter than this gets a pit lane shortened in proportion.
FULL_LANE_FROM_M = 4000.0


@dataclass(frozen=True)
class PitLaneLayout:
    """Where the pit lane's features are, in metres from the timing line along the track."""

    entry_before_line_m: float = 170.0  # the lane leaves the track after Club
    limit_before_line_m: float = 105.0  # speed-limit line
    first_box_after_line_m: float = 40.0
    box_spacing_m: float = 15.0  # between the boxes of consecutive teams
    cars_per_team: int = 2  # teammates share a box
    limit_after_line_m: float = 280.0  # end of the speed limit
    exit_after_line_m: float = 320.0  # back on the racing line, before Abbey (330 m)
    speed_limit_kmh: float = 80.0
    # The pit limiter holds the car a little under the limit, as teams set it.
    limiter_kmh: float = 79.5
    entry_decel_m_s2: float = 25.0  # braking from racing speed to the limit, about 2.5 g
    stop_decel_m_s2: float = 18.0  # braking into the box
    offset_m: float = 15.0  # the lane runs this far to the right of the track's centre line

    def box_after_line_m(self, car: int) -> float:
        return self.first_box_after_line_m + self.box_spacing_m * (car // self.cars_per_team)


SILVERSTONE = PitLaneLayout()


def pit_lane(track: Track, n_cars: int, layout: PitLaneLayout = SILVERSTONE) -> PitLane:
    """The compiled tick's pit lane for ``track`` and ``n_cars`` cars (lane distances)."""
    scale = min(1.0, track.length_m / FULL_LANE_FROM_M)
    entry = layout.entry_before_line_m * scale
    boxes = np.array([layout.box_after_line_m(i) * scale for i in range(n_cars)])
    return PitLane(
        entry_m=track.length_m - entry,
        limit_in=(layout.entry_before_line_m - layout.limit_before_line_m) * scale,
        limit_out=entry + layout.limit_after_line_m * scale,
        exit=entry + layout.exit_after_line_m * scale,
        box=entry + boxes,
        v_limit=layout.limiter_kmh / 3.6,
        a_entry=layout.entry_decel_m_s2,
        a_stop=layout.stop_decel_m_s2,
        offset_m=layout.offset_m,
    )
