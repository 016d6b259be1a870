"""The live tab: Bokeh figures and readouts for one browser session, updated from frames.

Plain Bokeh models (not HoloViews elements) because every frame is applied as in-place
``stream``/``patch`` calls on their ColumnDataSources: the browser gets only the new points,
and the server does no re-rendering.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    ColumnDataSource,
    DataRange1d,
    NumeralTickFormatter,
    Range1d,
    Span,
)
from bokeh.models.layouts import LayoutDOM

from dashboard import theme
from dashboard.circuit_shape import CircuitShape
from dashboard.compare_view import CompareView
from dashboard.frames import TRAIL_POINTS, Frame
from dashboard.readout_board import CELLS, ReadoutBoard
from dashboard.tower_view import TowerView
from schemas.channels import channel

TRACE_COLUMNS = ("distance_m", "speed_kmh", "throttle", "brake", "delta")
REF_COLUMNS = ("distance_m", "speed_kmh", "throttle", "brake")
# The traces stretch with the page; below this they would be too cramped to read.
TRACE_MIN_WIDTH = 900
# The distance axes before the first frame says which circuit.
DEFAULT_AXIS_M = 1000.0
MAP_PAD_M = 120.0
# The line across the track at the start line and each sector start: half its length, and
# how far beside the track its label sits.
MARK_HALF_M = 45.0
MARK_LABEL_M = 80.0
# Plot area of the map inside its figure (title and borders), for metres as wide as high.
MAP_FRAME_PX = (420, 370)
DASH = "\u2014"
NO_REFERENCE = "No reference lap yet: the car's best valid lap appears here once it has one"
# A session shown as it ended keeps no lap traces but those the pit wall saw live.
NO_TRACE = "A session that is not live: its laps are compared on the Analytics tab"


def _axis_label(name: str) -> str:
    c = channel(name)
    unit = "%" if c.unit == "fraction" else c.unit
    return f"{c.label} ({unit})"


def _empty(columns: tuple[str, ...]) -> dict[str, list[Any]]:
    return {c: [] for c in columns}


class LiveView:
    """All live figures of one session and how a :class:`Frame` changes them."""

    def __init__(self, circuit: CircuitShape | None = None) -> None:
        self.circuit: CircuitShape | None = None
        self._axis_m = DEFAULT_AXIS_M
        self._car_ids: list[str] = []
        self._selected: str | None = None
        self._note = NO_REFERENCE
        self._build_track_map()
        self._build_gg()
        self._build_traces()
        self.compare = CompareView(self.distance_range)
        self._build_readouts()
        self.tower = TowerView()
        if circuit is not None:
            self.show_circuit(circuit)

    # --- construction ------------------------------------------------------------------------

    def _build_track_map(self) -> None:
        # The circuit's outline, sectors and marks are data, set by show_circuit: the stream
        # may be on a circuit other than the configured one, learned as it goes.
        fig = theme.themed_figure(
            "Track map",
            width=440,
            height=420,
            x_range=Range1d(-500.0, 500.0),
            y_range=Range1d(-500.0, 500.0),
        )
        fig.axis.visible = False
        fig.grid.visible = False
        self.outline_source = ColumnDataSource({"x": [], "y": []}, name="track-outline")
        fig.line(
            "x", "y", source=self.outline_source, line_width=14, color="#2b3240", line_cap="round"
        )
        self.sector_sources = []
        for k, colour in enumerate(theme.SECTOR_COLOURS, start=1):
            source = ColumnDataSource({"x": [], "y": []}, name=f"track-sector-{k}")
            fig.line(
                "x",
                "y",
                source=source,
                line_width=3,
                color=colour,
                alpha=0.85,
                legend_label=f"Sector {k}",
            )
            self.sector_sources.append(source)
        self.marks_source = ColumnDataSource({"xs": [], "ys": []}, name="track-marks")
        fig.multi_line("xs", "ys", source=self.marks_source, line_width=3, color=theme.TEXT)
        self.mark_labels = ColumnDataSource({"x": [], "y": [], "text": []})
        fig.text(
            "x",
            "y",
            text="text",
            source=self.mark_labels,
            text_color=theme.TEXT,
            text_font_size="11px",
            anchor="center",
        )
        self.cars_source = ColumnDataSource(
            {"x": [], "y": [], "colour": [], "driver": [], "size": [], "line": []}
        )
        fig.scatter(
            "x",
            "y",
            source=self.cars_source,
            size="size",
            fill_color="colour",
            line_color="line",
            line_width=2,
        )
        self.selected_source = ColumnDataSource({"x": [], "y": [], "driver": []})
        fig.scatter(
            "x",
            "y",
            source=self.selected_source,
            size=20,
            fill_color=theme.ACCENT,
            line_color="white",
            line_width=3,
        )
        fig.text(
            "x",
            "y",
            text="driver",
            source=self.selected_source,
            x_offset=14,
            y_offset=-8,
            text_color="white",
            text_font_size="14px",
            text_font_style="bold",
        )
        theme.style_legend(fig)
        fig.legend.location = "top_left"
        fig.legend.orientation = "horizontal"
        fig.legend.visible = False
        self.track_map = fig

    def _build_gg(self) -> None:
        fig = theme.themed_figure(
            "G-G (friction circle)",
            width=310,
            height=310,
            x_range=Range1d(-6.2, 6.2),
            y_range=Range1d(-6.2, 6.2),
            match_aspect=True,
        )
        fig.xaxis.axis_label = "Lateral (g, + right)"
        fig.yaxis.axis_label = "Longitudinal (g, + accel)"
        theta = np.linspace(0, 2 * np.pi, 121)
        for radius in (1, 2, 3, 4, 5):
            fig.line(
                radius * np.cos(theta),
                radius * np.sin(theta),
                color=theme.GRID if radius % 2 else "#3a4354",
                line_width=1,
            )
        fig.grid.visible = False
        fig.add_layout(Span(location=0, dimension="width", line_color="#3a4354"))
        fig.add_layout(Span(location=0, dimension="height", line_color="#3a4354"))
        self.trail_source = ColumnDataSource({"g_lat": [], "g_long": []})
        fig.line("g_lat", "g_long", source=self.trail_source, color=theme.ACCENT, alpha=0.45)
        fig.scatter(
            "g_lat", "g_long", source=self.trail_source, size=3, color=theme.ACCENT, alpha=0.6
        )
        self.gg_now = ColumnDataSource({"g_lat": [0.0], "g_long": [0.0]})
        fig.scatter(
            "g_lat",
            "g_long",
            source=self.gg_now,
            size=13,
            fill_color=theme.ACCENT,
            line_color="white",
            line_width=2,
        )
        self.gg = fig

    def _build_traces(self) -> None:
        width: dict[str, Any] = {"sizing_mode": "stretch_width", "min_width": TRACE_MIN_WIDTH}
        x_range = Range1d(0, self._axis_m, name="lap-distance")
        self.distance_range = x_range
        # Named so tests and tools can read them from the browser's document.
        self.trace_source = ColumnDataSource(_empty(TRACE_COLUMNS), name="current-lap")
        self.ref_source = ColumnDataSource(_empty(REF_COLUMNS), name="reference-lap")
        self.sector_spans: list[list[Span]] = [[], []]  # sector 2 and 3 starts, every figure

        speed = theme.themed_figure(
            "Speed vs lap distance \u00b7 current lap over the best valid lap",
            **width,
            height=230,
            x_range=x_range,
            y_range=Range1d(0, 360),
        )
        theme.distance_line(
            speed,
            "speed_kmh",
            self.ref_source,
            theme.GHOST,
            "Best valid lap (reference)",
            ghost=0.8,
        )
        theme.distance_line(speed, "speed_kmh", self.trace_source, theme.ACCENT, "Current lap")
        speed.yaxis.axis_label = _axis_label("speed_kmh")

        pedals = theme.themed_figure(
            "Throttle and brake vs lap distance",
            **width,
            height=150,
            x_range=x_range,
            y_range=Range1d(-5, 105),
        )
        theme.distance_line(pedals, "throttle", self.ref_source, theme.THROTTLE, ghost=0.3)
        theme.distance_line(pedals, "throttle", self.trace_source, theme.THROTTLE, "Throttle")
        theme.distance_line(pedals, "brake", self.trace_source, theme.BRAKE, "Brake")
        pedals.yaxis.axis_label = "Pedal (%)"

        delta = theme.themed_figure(
            "Time delta to the best valid lap (+ = slower)",
            **width,
            height=150,
            x_range=x_range,
            # At least half a second tall: a near-perfect lap should look flat, not noisy.
            y_range=DataRange1d(min_interval=0.5, range_padding=0.2),
        )
        delta.yaxis.formatter = NumeralTickFormatter(format="+0.00")
        delta.add_layout(Span(location=0, dimension="width", line_color=theme.MUTED))
        theme.distance_line(delta, "delta", self.trace_source, theme.ACCENT)
        delta.yaxis.axis_label = "Delta (s)"
        # The note is a text glyph fed by a data source rather than an annotation toggled
        # visible: data updates are what every frame carries, so it never goes stale.
        self.no_reference: list[tuple[ColumnDataSource, float]] = []
        for name, fig, y in (("speed", speed, 40.0), ("delta", delta, 0.15)):
            source = ColumnDataSource({"x": [], "y": [], "text": []}, name=f"no-reference-{name}")
            fig.text(
                "x",
                "y",
                text="text",
                source=source,
                text_align="center",
                text_color=theme.MUTED,
                text_font_size="12px",
            )
            self.no_reference.append((source, y))
        self._show_no_reference(True)
        delta.xaxis.axis_label = _axis_label("lap_distance_m")
        for fig in (speed, pedals, delta):
            for spans in self.sector_spans:
                span = Span(
                    location=0.0,
                    dimension="height",
                    line_color="#3a4354",
                    line_dash="dashed",
                    visible=False,
                )
                spans.append(span)
                fig.add_layout(span)
            theme.style_legend(fig)
        self.speed_fig, self.pedal_fig, self.delta_fig = speed, pedals, delta

    def _build_readouts(self) -> None:
        self.board = ReadoutBoard()

    def layout(self) -> LayoutDOM:
        """The map, readouts and G-G circle over the traces and the car-against-car figures."""
        return column(self.top(), self.traces(), self.compare.layout(), sizing_mode="stretch_width")

    def top(self) -> LayoutDOM:
        """The map, the readouts and the G-G circle, side by side (fixed sizes)."""
        return row(self.track_map, self.board.figure, self.gg)

    def traces(self) -> LayoutDOM:
        """Speed, pedals and delta of the selected car: as wide as the page."""
        return column(self.speed_fig, self.pedal_fig, self.delta_fig, sizing_mode="stretch_width")

    def show_live(self, live: bool) -> None:
        """Whether the tab shows a live session (else one as it ended): the note without a
        reference lap says which."""
        note = NO_REFERENCE if live else NO_TRACE
        if note != self._note:
            self._note = note
            self._show_no_reference(bool(self.no_reference[0][0].data["text"]))

    def _show_no_reference(self, show: bool) -> None:
        for source, y in self.no_reference:
            if show:
                source.data = {"x": [self._axis_m / 2], "y": [y], "text": [self._note]}
            else:
                source.data = {"x": [], "y": [], "text": []}

    # --- the circuit ----------------------------------------------------------------------------

    def show_circuit(self, circuit: CircuitShape) -> None:
        """Draw the map, the sector marks and the distance axes of ``circuit``."""
        self.circuit = circuit
        self.track_map.title.text = map_title(circuit)
        x, y = circuit.outline
        self.outline_source.data = {"x": x, "y": y}
        sectors = circuit.sector_starts_m if circuit.lap_length_m is not None else ()
        bounds = [*sectors, circuit.lap_length_m]
        for k, source in enumerate(self.sector_sources):
            if not sectors:
                source.data = {"x": [], "y": []}
                continue
            lo, hi = bounds[k], bounds[k + 1]
            d = circuit.distance_m
            sx, sy = circuit.position(np.concatenate([[lo], d[(d > lo) & (d < hi)], [hi]]))
            source.data = {"x": sx, "y": sy}
        self.track_map.legend.visible = bool(sectors)
        self._show_marks(circuit, sectors or (0.0,))
        self._fit_map(circuit.bounds())
        self._axis_m = circuit.axis_m
        self.distance_range.end = circuit.axis_m
        for spans, start in zip(self.sector_spans, (sectors or (0.0,) * 3)[1:], strict=True):
            for span in spans:
                span.location = start
                span.visible = bool(sectors)
        self._show_no_reference(bool(self.no_reference[0][0].data["text"]))

    def _show_marks(self, circuit: CircuitShape, starts: tuple[float, ...]) -> None:
        """A line across the track at the start line and each sector start (where the outline
        there is known), labelled beside the track."""
        xs, ys, lx, ly, labels = [], [], [], [], []
        for k, start in enumerate(starts, start=1):
            (x0, x1, x2), (y0, y1, y2) = circuit.position(np.array([start, start - 5, start + 5]))
            norm = math.hypot(x2 - x1, y2 - y1)
            if not (math.isfinite(x0) and math.isfinite(norm)) or norm == 0.0:
                continue
            nx, ny = -(y2 - y1) / norm, (x2 - x1) / norm
            xs.append([x0 - MARK_HALF_M * nx, x0 + MARK_HALF_M * nx])
            ys.append([y0 - MARK_HALF_M * ny, y0 + MARK_HALF_M * ny])
            lx.append(x0 + MARK_LABEL_M * nx)
            ly.append(y0 + MARK_LABEL_M * ny)
            labels.append("S/F" if k == 1 else f"S{k}")
        self.marks_source.data = {"xs": xs, "ys": ys}
        self.mark_labels.data = {"x": lx, "y": ly, "text": labels}

    def _fit_map(self, bounds: tuple[float, float, float, float] | None) -> None:
        """Map ranges around the outline, a metre as long across as up (extra room at the top
        for the sector legend)."""
        if bounds is None:
            return
        x0, x1, y0, y1 = bounds
        x0, x1, y0, y1 = x0 - MAP_PAD_M, x1 + MAP_PAD_M, y0 - MAP_PAD_M, y1 + 2.5 * MAP_PAD_M
        w_px, h_px = MAP_FRAME_PX
        m_per_px = max((x1 - x0) / w_px, (y1 - y0) / h_px)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        fig = self.track_map
        fig.x_range.start, fig.x_range.end = cx - m_per_px * w_px / 2, cx + m_per_px * w_px / 2
        fig.y_range.start, fig.y_range.end = cy - m_per_px * h_px / 2, cy + m_per_px * h_px / 2

    # --- frames -------------------------------------------------------------------------------

    def apply(self, frame: Frame) -> None:
        """Apply one frame's increments (call inside a held document, one message per frame)."""
        if frame.circuit is not None:
            self.show_circuit(frame.circuit)
        if frame.cars is not None:
            self._car_ids = [c for c, _ in frame.cars]
            n = len(frame.cars)
            self.cars_source.data = {
                "x": frame.positions["x"] if frame.positions else [0.0] * n,
                "y": frame.positions["y"] if frame.positions else [0.0] * n,
                "colour": [theme.car_colour(i) for i in range(n)],
                "driver": [d for _, d in frame.cars],
                "size": [11] * n,
                "line": ["#0b0e13"] * n,
            }
            if n == 0:
                self._clear_car()
        elif frame.positions is not None and len(frame.positions["x"]) == len(self._car_ids):
            n = len(self._car_ids)
            self.cars_source.patch(
                {
                    "x": [(slice(0, n), frame.positions["x"])],
                    "y": [(slice(0, n), frame.positions["y"])],
                }
            )
        if frame.positions is not None and frame.selected in self._car_ids:
            i = self._car_ids.index(frame.selected)
            x, y = frame.positions["x"][i], frame.positions["y"][i]
            if frame.selected != self._selected or not self.selected_source.data["x"]:
                driver = self.cars_source.data["driver"][i]
                self.selected_source.data = {"x": [x], "y": [y], "driver": [driver]}
            else:
                self.selected_source.patch({"x": [(0, x)], "y": [(0, y)]})
            self._selected = frame.selected
        if frame.reference is not None:
            self.ref_source.data = frame.reference
            self._show_no_reference(not frame.reference["distance_m"])
        if frame.trace_reset:
            self.trace_source.data = frame.trace or _empty(TRACE_COLUMNS)
        elif frame.trace:
            self.trace_source.stream(frame.trace)
        if frame.trail_reset:
            self.trail_source.data = frame.trail or {"g_lat": [], "g_long": []}
        elif frame.trail:
            self.trail_source.stream(frame.trail, rollover=TRAIL_POINTS)
        if frame.now is not None:
            now = frame.now
            self.gg_now.data = {"g_lat": [now["g_lat"]], "g_long": [now["g_long"]]}
            self.board.pedal_levels(now["throttle"], now["brake"])
        if (
            frame.tower_columns is not None
            or frame.tower_patch
            or frame.tower_highlight is not None
            or frame.tower_line is not None
        ):
            self.tower.show(
                frame.tower_columns, frame.tower_patch, frame.tower_highlight, frame.tower_line
            )
        if frame.compare is not None:
            self.compare.apply(frame.compare)
        if frame.text:
            texts = {k: v for k, v in frame.text.items() if k != "delta_sign"}
            colours = None
            if "delta_sign" in frame.text:
                sign = frame.text["delta_sign"]
                colours = {"delta": {"loss": theme.LOSS, "gain": theme.GAIN}.get(sign, theme.TEXT)}
            self.board.update(texts, colours)

    def _clear_car(self) -> None:
        """No car to show (none on track, or the page switched to a session without cars):
        nothing of the car shown before stays on the page."""
        self.selected_source.data = {"x": [], "y": [], "driver": []}
        self.board.update({"driver": "Waiting for telemetry", **dict.fromkeys(CELLS, DASH)})
        self.board.pedal_levels(0.0, 0.0)
        self.trace_source.data = _empty(TRACE_COLUMNS)
        self.ref_source.data = _empty(REF_COLUMNS)
        self._show_no_reference(True)
        self.trail_source.data = {"g_lat": [], "g_long": []}


def map_title(circuit: CircuitShape) -> str:
    """The map's title: the circuit's name, or how an unknown one is drawn (the header names
    it) and its length once the stream has shown it."""
    if not circuit.learned:
        return f"Track map \u00b7 {circuit.name}"
    title = "Track map \u00b7 from the cars' positions"
    if circuit.lap_length_m is None:
        return title
    return f"{title} \u00b7 {circuit.lap_length_m:,.0f} m"
