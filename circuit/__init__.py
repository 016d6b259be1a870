"""The circuit: one model of the track for the simulator, the pit wall and the tests.

* :mod:`circuit.track`: :class:`Track`, a closed centre line resampled every few metres, with
  lookups by lap distance (position, heading, curvature), three sectors, DRS zones and
  corners;
* :mod:`circuit.track_csv`: :func:`load_track_csv`, a circuit from a CSV file;
* :mod:`circuit.silverstone`: the built-in Silverstone Grand Prix circuit;
* :mod:`circuit.setting`: ``F1_TRACK`` (:data:`TRACK_SETTING`), the one setting that says
  which circuit, and :func:`load`, which turns it into a :class:`Track`;
* :mod:`circuit.lap_line`: when a car crossed the timing line, the one definition every
  service and test uses.

Imports only numpy and :mod:`runtime`, never a service: services import the circuit, so the
producer and the pit wall agree on it without importing each other.
"""

from circuit.lap_line import crossing_share, crossing_time, line_total_m
from circuit.setting import TRACK_SETTING, load
from circuit.silverstone import silverstone
from circuit.track import Corner, Track
from circuit.track_csv import load_track_csv

__all__ = [
    "TRACK_SETTING",
    "Corner",
    "Track",
    "crossing_share",
    "crossing_time",
    "line_total_m",
    "load",
    "load_track_csv",
    "silverstone",
]
