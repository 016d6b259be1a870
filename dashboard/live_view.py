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
from dashboard.frames import TRAIL_POINTS, Frame
from dashboard.readout_board import ReadoutBoard
from schemas.channels import channel

TRACE_COLUMNS = ("distance_m", "speed_kmh", "throttle", "brake", "delta")
REF_COLUMNS = ("distance_m", "speed_kmh", "throttle", "brake")
TRACE_WIDTH = 1240
OUTLINE_STEP_M = 20.0
NO_REFERENCE = "No reference lap yet: the car's best complete lap appears here once it has one"


def _axis_label(name: str) -> str:
    c = channel(name)
    unit = "%" if c.unit == "fraction" else c.unit
    return f"{c.label} ({unit})"


def _empty(columns: tuple[str, ...]) -> dict[str, list[Any]]:
    return {c: [] for c in columns}


class LiveView:
    """All live figures of one session and how a :class:`Frame` changes them."""

    def __init__(self, track: Any, lap_length_m: float) -> None:
        self.track = track
        self.lap_length_m = lap_length_m
        self._car_ids: list[str] = []
        self._selected: str | None = None
        self._build_track_map()
        self._build_gg()
        self._build_traces()
        self._build_readouts()

    # --- construction ------------------------------------------------------------------------

    def _build_track_map(self) -> None:
        t = self.track
        pad = 120.0
        fig = theme.themed_figure(
            "Track map \u00b7 Silverstone",
            width=470,
            height=420,
            match_aspect=True,
            x_range=Range1d(float(t.x.min() - pad), float(t.x.max() + pad)),
            # Extra room at the top for the sector legend.
            y_range=Range1d(float(t.y.min() - pad), float(t.y.max() + 2.5 * pad)),
        )
        fig.axis.visible = False
        fig.grid.visible = False
        # One point every ~OUTLINE_STEP_M: the map repaints every frame, and a browser
        # without a GPU pays for every vertex of every line each time.
        every = max(1, round(OUTLINE_STEP_M / t.spacing_m))
        s_pts = np.append(t.s[::every], t.length_m)
        xs, ys = t.position(s_pts)
        fig.line(xs, ys, line_width=14, color="#2b3240", line_cap="round")
        bounds = [*t.sector_starts_m, t.length_m]
        for k, colour in enumerate(theme.SECTOR_COLOURS, start=1):
            inside = (s_pts >= bounds[k - 1]) & (s_pts <= bounds[k])
            sx, sy = t.position(np.concatenate([[bounds[k - 1]], s_pts[inside], [bounds[k]]]))
            fig.line(sx, sy, line_width=3, color=colour, alpha=0.85, legend_label=f"Sector {k}")
        bx, by, lx, ly, labels = [], [], [], [], []
        for k, start in enumerate(t.sector_starts_m, start=1):
            x0, y0 = (float(v) for v in t.position(start))
            h = float(t.heading_at(start))
            nx, ny = -math.sin(h), math.cos(h)
            bx.append([x0 - 45 * nx, x0 + 45 * nx])
            by.append([y0 - 45 * ny, y0 + 45 * ny])
            lx.append(x0 + 80 * nx)
            ly.append(y0 + 80 * ny)
            labels.append("S/F" if k == 1 else f"S{k}")
        fig.multi_line(bx, by, line_width=3, color=theme.TEXT)
        fig.text(lx, ly, text=labels, text_color=theme.TEXT, text_font_size="11px", anchor="center")
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
        self.track_map = fig

    def _build_gg(self) -> None:
        fig = theme.themed_figure(
            "G-G (friction circle)",
            width=330,
            height=330,
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
        width = TRACE_WIDTH
        x_range = Range1d(0, self.lap_length_m)
        # Named so tests and tools can read them from the browser's document.
        self.trace_source = ColumnDataSource(_empty(TRACE_COLUMNS), name="current-lap")
        self.ref_source = ColumnDataSource(_empty(REF_COLUMNS), name="reference-lap")
        sector_spans = [
            Span(location=s, dimension="height", line_color="#3a4354", line_dash="dashed")
            for s in self.track.sector_starts_m[1:]
        ]

        speed = theme.themed_figure(
            "Speed vs lap distance \u00b7 current lap over the best lap",
            width=width,
            height=230,
            x_range=x_range,
            y_range=Range1d(0, 360),
        )
        theme.distance_line(
            speed, "speed_kmh", self.ref_source, theme.GHOST, "Best lap (reference)", ghost=0.8
        )
        theme.distance_line(speed, "speed_kmh", self.trace_source, theme.ACCENT, "Current lap")
        speed.yaxis.axis_label = _axis_label("speed_kmh")

        pedals = theme.themed_figure(
            "Throttle and brake vs lap distance",
            width=width,
            height=150,
            x_range=x_range,
            y_range=Range1d(-5, 105),
        )
        theme.distance_line(pedals, "throttle", self.ref_source, theme.THROTTLE, ghost=0.3)
        theme.distance_line(pedals, "throttle", self.trace_source, theme.THROTTLE, "Throttle")
        theme.distance_line(pedals, "brake", self.trace_source, theme.BRAKE, "Brake")
        pedals.yaxis.axis_label = "Pedal (%)"

        delta = theme.themed_figure(
            "Time delta to the best lap (+ = slower)",
            width=width,
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
            for span in sector_spans:
                fig.add_layout(span)
            theme.style_legend(fig)
        self.speed_fig, self.pedal_fig, self.delta_fig = speed, pedals, delta

    def _build_readouts(self) -> None:
        self.board = ReadoutBoard()

    def layout(self) -> LayoutDOM:
        top = row(self.track_map, self.board.figure, self.gg)
        return column(top, self.speed_fig, self.pedal_fig, self.delta_fig)

    def _show_no_reference(self, show: bool) -> None:
        for source, y in self.no_reference:
            if show:
                source.data = {"x": [self.lap_length_m / 2], "y": [y], "text": [NO_REFERENCE]}
            else:
                source.data = {"x": [], "y": [], "text": []}

    # --- frames -------------------------------------------------------------------------------

    def apply(self, frame: Frame) -> None:
        """Apply one frame's increments (call inside a held document, one message per frame)."""
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
                self.selected_source.data = {"x": [], "y": [], "driver": []}
                self.board.update({"driver": "Waiting for telemetry"})
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
        if frame.text:
            texts = {k: v for k, v in frame.text.items() if k != "delta_sign"}
            colours = None
            if "delta_sign" in frame.text:
                sign = frame.text["delta_sign"]
                colours = {"delta": {"loss": theme.LOSS, "gain": theme.GAIN}.get(sign, theme.TEXT)}
            self.board.update(texts, colours)
