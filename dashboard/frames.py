"""What one browser session is sent each frame: only what changed since its last frame.

A :class:`FrameReader` belongs to one session. It remembers what that session already has
(the lap it is drawing, how far along the lap its trace goes, which reference lap it shows,
the last G-G sample it got, the text of every readout) and turns the shared model into a
:class:`Frame` of increments. The views apply a frame to Bokeh sources as ``stream``/``patch``
calls, so a browser receives a few hundred bytes per frame instead of whole plots.

Free of Panel and Bokeh, so it is unit-tested directly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dashboard.car_compare import CompareFrame, CompareReader
from dashboard.circuit_shape import CircuitShape
from dashboard.delta import delta_live, delta_window, reference_lap
from dashboard.model import CarState, CompletedLap, GridModel
from dashboard.timing import CarTiming, Tower, session_line, tower_columns
from dashboard.traces import every_nth

# The G-G trail: one sample in TRAIL_EVERY (25 per second at 100 Hz), at most TRAIL_POINTS.
TRAIL_EVERY = 4
TRAIL_POINTS = 50
# Without new records a frame is built again after this long: cars go stale by the clock.
RECHECK_S = 1.0


def fmt_lap_time(seconds: float | None, decimals: int = 3) -> str:
    """``1:26.790``; an em dash when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "\u2014"
    minutes, rest = divmod(seconds, 60.0)
    width = 3 + decimals if decimals else 2
    return f"{int(minutes)}:{rest:0{width}.{decimals}f}"


def fmt_delta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "\u2014"
    return f"{round(seconds, 2) + 0.0:+.2f}"  # + 0.0: never "-0.00"


def delta_sign(seconds: float) -> str:
    """``loss``, ``gain`` or empty (no reference, or level to the hundredth)."""
    if not math.isfinite(seconds) or abs(seconds) < 0.005:
        return ""
    return "loss" if seconds > 0 else "gain"


def readouts(
    car: CarState, reference: CompletedLap | None, timing: CarTiming | None = None
) -> dict[str, str]:
    """Every number of the readout panel as the text the browser shows. Last and best lap
    from the tower's timing where the car's traces have none (a session read back from
    storage, whose lap times come from the stored lap summaries)."""
    r = car.latest or {}
    if not r:
        return {}
    last = car.last.time_s if car.last else None
    best = car.best.time_s if car.best else None
    if timing is not None:
        if last is None and timing.last is not None:
            last = timing.last.time_s
        if best is None and math.isfinite(timing.best_lap_s):
            best = timing.best_lap_s
    elapsed = car.lap_elapsed_s(r["timestamp"])
    gear = int(r["gear"])
    delta = delta_live(
        car.trace, reference.trace if reference else None, r["lap_distance_m"], elapsed
    )
    return {
        "driver": f"{car.driver} \u00b7 {car.car_id}",
        "speed": f"{r['speed_kmh']:.0f}",
        "gear": "N" if gear == 0 else str(gear),
        "rpm": f"{r['rpm']:,.0f}",
        "lap": str(int(r["lap"])),
        "sector": f"S{int(r['sector'])}",
        "drs": "DRS" if r["drs"] else "",
        # Tenths: the timer then changes 10 times a second, not every frame.
        "timer": fmt_lap_time(elapsed, 1),
        "last": fmt_lap_time(last),
        "best": fmt_lap_time(best),
        "delta": fmt_delta(delta),
        "delta_sign": delta_sign(delta),
        "fuel": f"{r['fuel_kg']:.1f}",
        "tyre": f"{r['tyre_wear'] * 100:.1f}",
    }


def _rounded(values: np.ndarray, decimals: int) -> list[float | None]:
    """A JSON-friendly list (None for NaN): short numbers cost fewer bytes than float64s."""
    return [None if not math.isfinite(v) else v for v in np.round(values, decimals).tolist()]


@dataclass
class Frame:
    """The increments for one session; empty fields mean "unchanged"."""

    cars: list[tuple[str, str]] | None = None  # (car id, driver) when the grid changed
    circuit: CircuitShape | None = None  # the map and distance axes, when they changed
    positions: dict[str, list[Any]] | None = None  # x, y of every car, in ``cars`` order
    selected: str | None = None
    trace_reset: bool = False  # replace (not extend) the lap trace and the delta
    trace: dict[str, list[Any]] | None = None  # distance_m, speed_kmh, throttle, brake, delta
    reference: dict[str, list[Any]] | None = None  # replaces the ghost lap ({} clears it)
    trail: dict[str, list[Any]] | None = None  # g_lat, g_long: new points only
    trail_reset: bool = False
    now: dict[str, float] | None = None  # latest g_lat, g_long, throttle, brake
    text: dict[str, str] = field(default_factory=dict)  # readouts whose text changed
    # The timing tower: every column when its rows changed, else the cells that changed; the
    # row backgrounds when the selection or the order moved; the session's line under it.
    tower: Tower | None = None  # the tower these increments are from (not sent as such)
    tower_columns: dict[str, list[Any]] | None = None
    tower_patch: dict[str, list[tuple[int, Any]]] | None = None
    tower_highlight: list[str] | None = None
    tower_line: str | None = None
    compare: CompareFrame | None = None  # car against car, when something changed

    @property
    def empty(self) -> bool:
        return not (
            self.cars is not None
            or self.circuit is not None
            or self.positions is not None
            or self.trace_reset
            or self.trace
            or self.reference is not None
            or self.trail
            or self.now is not None
            or self.text
            or self.tower_columns is not None
            or self.tower_patch is not None
            or self.tower_highlight is not None
            or self.tower_line is not None
            or self.compare is not None
        )


_COLUMNS_KEPT = 8
_columns_of: dict[int, tuple[Tower, dict[str, list[Any]], str]] = {}


def _tower_text(tower: Tower) -> tuple[dict[str, list[Any]], str]:
    """The tower's columns and session line, formatted once for every browser session that
    shows this tower (a new tower is computed at most a few times a second)."""
    cached = _columns_of.get(id(tower))
    if cached is not None and cached[0] is tower:
        return cached[1], cached[2]
    columns, line = tower_columns(tower), session_line(tower)
    _columns_of[id(tower)] = (tower, columns, line)
    while len(_columns_of) > _COLUMNS_KEPT:
        _columns_of.pop(next(iter(_columns_of)))
    return columns, line


class FrameReader:
    """One session's view of the shared model.

    ``session``: the session whose timing tower it shows; None follows the live one (the
    session of the cars on track, else of the latest record).
    """

    def __init__(
        self,
        selected: str | None = None,
        session: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.selected = selected
        self.session = session
        self._clock = clock
        self._tower: Tower | None = None
        self._tower_columns: dict[str, list[Any]] | None = None
        self._tower_highlight: list[str] = []
        self._tower_line: str | None = None
        self.comparer = CompareReader()
        self._version = -1
        self._recheck_at = -math.inf
        # None: nothing sent yet, so the first frame says which cars there are, none included
        # (a page switched to another session must drop the cars it showed).
        self._cars: list[tuple[str, str]] | None = None
        self._circuit: CircuitShape | None = None
        self._lap_serial = -1
        self._trace_end = 0
        self._reference: CompletedLap | None = None
        self._reference_shown = False
        self._trail_seq = 0
        self._now: dict[str, float] = {}
        self._text: dict[str, str] = {}

    def select(self, car_id: str | None) -> None:
        """Switch cars: everything car-specific is sent again on the next frame."""
        if car_id != self.selected:
            self.selected = car_id
            self._lap_serial = -1
            self._reference = None
            self._reference_shown = False
            self._trail_seq = 0
            self._now = {}
            self._text = {}
            self._version = -1

    def next_frame(self, model: GridModel) -> Frame:
        now = self._clock()
        with model.lock:
            if model.version == self._version and now < self._recheck_at:
                return Frame()
            frame = self._build(model)
            # A tower is recomputed at most every TimingBook.refresh_s: one taken just before
            # the last records of a session (the flag) is not its final state, and no record
            # will come to ask again. Nor will one when a car goes quiet: look again in a while.
            current = model.timing.is_current(frame.tower)
            self._version = model.version if current else -1
            self._recheck_at = now + RECHECK_S
            return frame

    def _build(self, model: GridModel) -> Frame:
        frame = Frame()
        active = model.active_cars()
        cars = [(c.car_id, c.driver) for c in active]
        if cars != self._cars:
            self._cars = cars
            frame.cars = cars
        circuit = model.circuit(active[0].session_id if active else None)
        if circuit is not self._circuit:
            self._circuit = circuit
            frame.circuit = circuit
        if self.selected not in {c for c, _ in cars}:
            self.select(cars[0][0] if cars else None)
        frame.selected = self.selected
        live = active[0].session_id if active else None
        self._timing(model, live, frame)
        live_tower = frame.tower
        if live is not None and (live_tower is None or live_tower.session_id != live):
            live_tower = model.timing.tower(live, self._clock())
        compare = self.comparer.next(model, self.selected, live_tower, {c for c, _ in cars})
        if not compare.empty:
            frame.compare = compare
        if active:
            frame.positions = {
                "x": _rounded(np.array([c.latest["x_m"] for c in active if c.latest]), 1),
                "y": _rounded(np.array([c.latest["y_m"] for c in active if c.latest]), 1),
            }
        car = model.cars.get(self.selected) if self.selected else None
        if car is None or car.latest is None:
            return frame
        timing = model.timing.car(car.session_id, car.car_id)
        reference = reference_lap(car, timing, model.laps.rows)
        self._lap_trace(car, reference, frame)
        self._trail(car, frame)
        latest = car.latest
        now = {f: round(float(latest[f]), 3) for f in ("g_lat", "g_long", "throttle", "brake")}
        if now != self._now:
            self._now = now
            frame.now = now
        for key, text in readouts(car, reference, timing).items():
            if self._text.get(key) != text:
                self._text[key] = text
                frame.text[key] = text
        return frame

    def compare_with(self, car_id: str | None) -> None:
        """Compare the selected car with ``car_id`` (None: the car ahead in the tower)."""
        self.comparer.choose(car_id)
        self._version = -1

    def show_session(self, session: str | None) -> None:
        """Show the timing of ``session`` (None: follow the live one) from the next frame."""
        if session != self.session:
            self.session = session
            self._tower = None
            self._tower_columns = None
            self._version = -1

    def _timing(self, model: GridModel, live: str | None, frame: Frame) -> None:
        session = self.session or live or model.timing.newest_session
        tower = model.timing.tower(session, self._clock()) if session else None
        frame.tower = tower
        if tower is not self._tower or self._tower_columns is None:
            self._tower = tower
            columns, line = _tower_text(tower) if tower is not None else (tower_columns(None), "")
            old = self._tower_columns
            if old is None or old["car_id"] != columns["car_id"]:
                frame.tower_columns = columns
            else:
                patch = {}
                for name, values in columns.items():
                    changed = [
                        (i, v) for i, (was, v) in enumerate(zip(old[name], values, strict=True))
                        if was != v
                    ]  # fmt: skip
                    if changed:
                        patch[name] = changed
                frame.tower_patch = patch or None
            self._tower_columns = columns
            if line != self._tower_line:
                self._tower_line = line
                frame.tower_line = line
        if self._tower_columns is not None:
            cars = self._tower_columns["car_id"]
            colours = row_colours(cars, self.selected)
            if colours != self._tower_highlight or frame.tower_columns is not None:
                self._tower_highlight = colours
                frame.tower_highlight = colours

    def _lap_trace(self, car: CarState, reference: CompletedLap | None, frame: Frame) -> None:
        if reference is not self._reference or not self._reference_shown:
            self._reference = reference
            self._reference_shown = True
            frame.reference = self._reference_columns(reference)
            # A new reference changes the delta of the whole lap so far: resend it.
            self._lap_serial = -1
        lo = self._trace_end
        if car.lap_serial != self._lap_serial:
            self._lap_serial = car.lap_serial
            frame.trace_reset = True
            lo = 0
        trace = car.trace
        window = trace.window(lo)
        self._trace_end = max(trace.end, trace.start)
        if window["distance_m"].size == 0 and not frame.trace_reset:
            return
        delta = delta_window(trace, reference.trace if reference else None, lo)
        frame.trace = {
            "distance_m": _rounded(window["distance_m"], 0),
            "speed_kmh": _rounded(window["speed_kmh"], 1),
            "throttle": _rounded(window["throttle"] * 100, 0),
            "brake": _rounded(window["brake"] * 100, 0),
            "delta": _rounded(delta, 3),
        }

    @staticmethod
    def _reference_columns(reference: CompletedLap | None) -> dict[str, list[Any]]:
        if reference is None:
            return {"distance_m": [], "speed_kmh": [], "throttle": [], "brake": []}
        w = reference.trace.window(0)
        return {
            "distance_m": _rounded(w["distance_m"], 0),
            "speed_kmh": _rounded(w["speed_kmh"], 1),
            "throttle": _rounded(w["throttle"] * 100, 0),
            "brake": _rounded(w["brake"] * 100, 0),
        }

    def _trail(self, car: CarState, frame: Frame) -> None:
        seqs, values = car.recent.since(self._trail_seq, limit=TRAIL_POINTS * TRAIL_EVERY)
        if self._trail_seq == 0 or (seqs.size and seqs[0] > self._trail_seq):
            frame.trail_reset = True  # first frame, or this session fell behind the ring
        self._trail_seq = car.recent.seq
        keep = every_nth(seqs, TRAIL_EVERY)
        if not keep.any():
            return
        frame.trail = {
            "g_lat": _rounded(values["g_lat"][keep], 2),
            "g_long": _rounded(values["g_long"][keep], 2),
        }


SELECTED_ROW = "#4a1526"
ROWS = ("#141922", "#181e28")


def row_colours(car_ids: list[str], selected: str | None) -> list[str]:
    """The tower's row backgrounds: the selected car's stands out, the others alternate."""
    return [SELECTED_ROW if c == selected else ROWS[i % 2] for i, c in enumerate(car_ids)]
