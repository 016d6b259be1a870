"""Car against car on the live tab: speed, throttle and brake of the two cars over lap distance
and the time delta between them, updated from :class:`~dashboard.car_compare.CompareFrame`s
(named sources ``compare-a``, ``compare-b``, ``compare-delta`` for tests and tools)."""

from __future__ import annotations

from typing import Any

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, DataRange1d, NumeralTickFormatter, Range1d, Span
from bokeh.models.layouts import LayoutDOM

from dashboard import theme
from dashboard.car_compare import CompareFrame

TRACE_COLUMNS = ("distance_m", "speed_kmh", "throttle", "brake")
MIN_WIDTH = 900


def _empty(columns: tuple[str, ...]) -> dict[str, list[Any]]:
    return {c: [] for c in columns}


class CompareView:
    def __init__(self, x_range: Range1d) -> None:
        stretch: dict[str, Any] = {"sizing_mode": "stretch_width", "min_width": MIN_WIDTH}
        self.sources = {
            side: ColumnDataSource(_empty(TRACE_COLUMNS), name=f"compare-{side}")
            for side in ("a", "b")
        }
        self.delta_source = ColumnDataSource(_empty(("distance_m", "delta")), name="compare-delta")
        speed = theme.themed_figure(
            "Car vs car", height=200, x_range=x_range, y_range=Range1d(0, 360), **stretch
        )
        theme.distance_line(speed, "speed_kmh", self.sources["b"], theme.LAP_B, "B")
        theme.distance_line(speed, "speed_kmh", self.sources["a"], theme.LAP_A, "A")
        speed.yaxis.axis_label = "Speed (km/h)"
        pedals = theme.themed_figure(
            "Throttle (solid) and brake (dashed), A and B",
            height=130,
            x_range=x_range,
            y_range=Range1d(-5, 105),
            **stretch,
        )
        for side, colour in (("b", theme.LAP_B), ("a", theme.LAP_A)):
            pedals.line(
                "distance_m", "throttle", source=self.sources[side], color=colour, line_width=1.5
            )
            pedals.line(
                "distance_m",
                "brake",
                source=self.sources[side],
                color=colour,
                line_width=1.5,
                line_dash="dashed",
            )
        pedals.yaxis.axis_label = "Pedal (%)"
        delta = theme.themed_figure(
            "Time delta, A minus B on this lap (+ = A slower)",
            height=140,
            x_range=x_range,
            y_range=DataRange1d(min_interval=0.5, range_padding=0.2),
            **stretch,
        )
        delta.yaxis.formatter = NumeralTickFormatter(format="+0.00")
        delta.add_layout(Span(location=0, dimension="width", line_color=theme.MUTED))
        theme.distance_line(delta, "delta", self.delta_source, theme.ACCENT)
        delta.yaxis.axis_label = "Delta (s)"
        delta.xaxis.axis_label = "Lap distance (m)"
        for fig in (speed, pedals, delta):
            theme.style_legend(fig)
        self.speed_fig, self.pedal_fig, self.delta_fig = speed, pedals, delta

    def layout(self) -> LayoutDOM:
        return column(self.speed_fig, self.pedal_fig, self.delta_fig, sizing_mode="stretch_width")

    def apply(self, frame: CompareFrame) -> None:
        if frame.title is not None:
            self.speed_fig.title.text = f"Car vs car \u00b7 {frame.title}"
        for side, source in self.sources.items():
            points = (frame.traces or {}).get(side)
            if (frame.reset or {}).get(side):
                source.data = points or _empty(TRACE_COLUMNS)
            elif points and points["distance_m"]:
                source.stream(points)
        if frame.delta_reset:
            self.delta_source.data = frame.delta or _empty(("distance_m", "delta"))
        elif frame.delta and frame.delta["distance_m"]:
            self.delta_source.stream(frame.delta)
