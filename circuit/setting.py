"""Which circuit: the ``F1_TRACK`` setting that the simulator and the pit wall share.

``F1_TRACK`` empty or unset means the built-in Silverstone; otherwise it is the path of a
circuit CSV (``circuit/README.md``). ``f1-simulate --track FILE`` overrides it for one run;
the pit wall reads it to draw the circuit the stream is on, so one env var points both at
the same file.
"""

from __future__ import annotations

from pathlib import Path

from circuit.silverstone import silverstone
from circuit.track import Track
from circuit.track_csv import load_track_csv
from runtime.settings import Setting


def _path_or_none(text: str) -> Path | None:
    return Path(text) if text.strip() else None


TRACK_SETTING: Setting[Path | None] = Setting(
    "F1_TRACK",
    "",
    "a circuit CSV (x_m,y_m[,w_tr_right_m,w_tr_left_m])",
    _path_or_none,
    flag="--track",
    default_help="none: the built-in Silverstone",
)


def load(path: str | Path | None) -> Track:
    """The circuit in ``path``, or the built-in Silverstone when there is none.

    A missing or malformed file raises :class:`~runtime.errors.ConfigError` naming the file,
    the line and the reason.
    """
    if path is None or not str(path).strip():
        return silverstone()
    return load_track_csv(path)
