"""The readout board: speed, gear, rpm, lap, timers, delta, fuel, tyres and pedal gauges,
drawn as text and bars on one canvas.

One canvas instead of a dozen HTML elements: a changed number is one ``patch`` of one
ColumnDataSource and one canvas repaint in the browser, where changing the text of HTML
elements 30 times a second makes the browser lay the page out again each time.
"""

from __future__ import annotations

from bokeh.core.properties import value
from bokeh.models import ColumnDataSource, Range1d
from bokeh.plotting import figure

from dashboard import theme

WIDTH, HEIGHT = 420, 330
BAR_X = (345.0, 395.0)  # throttle and brake bar centres
BAR_BOTTOM, BAR_TOP = 40.0, 262.0

# key -> (label, unit, x, y of the value's baseline, font size)
CELLS: dict[str, tuple[str, str, float, float, str]] = {
    "speed": ("SPEED", "km/h", 10, 218, "42px"),
    "gear": ("GEAR", "", 140, 218, "42px"),
    "rpm": ("RPM", "", 205, 218, "24px"),
    "lap": ("LAP", "", 10, 148, "24px"),
    "sector": ("SECTOR", "", 70, 148, "24px"),
    "drs": ("DRS", "", 145, 148, "24px"),
    "timer": ("LAP TIME", "", 205, 148, "24px"),
    "last": ("LAST LAP", "", 10, 80, "20px"),
    "best": ("BEST LAP", "", 125, 80, "20px"),
    "delta": ("DELTA", "s", 245, 80, "20px"),
    "fuel": ("FUEL", "kg", 10, 12, "20px"),
    "tyre": ("TYRE WEAR", "%", 125, 12, "20px"),
}
LABEL_GAP = 6  # pixels between a value's top and its label's baseline


class ReadoutBoard:
    def __init__(self) -> None:
        fig = figure(
            width=WIDTH,
            height=HEIGHT,
            x_range=Range1d(0, WIDTH),
            y_range=Range1d(0, HEIGHT),
            toolbar_location=None,
            tools="",
            min_border=0,
            name="readout-board",
        )
        fig.axis.visible = False
        fig.grid.visible = False
        fig.background_fill_color = theme.PANEL
        fig.border_fill_color = theme.PANEL
        fig.outline_line_color = None
        self.keys = ["driver", *CELLS]
        labels: dict[str, list[float | str]] = {"x": [], "y": [], "text": []}
        for label, unit, x, y, size in CELLS.values():
            labels["x"].append(x)
            labels["y"].append(y + int(size.removesuffix("px")) + LABEL_GAP)
            labels["text"].append(f"{label} ({unit})" if unit else label)
        fig.text(
            "x",
            "y",
            text="text",
            source=ColumnDataSource(labels),
            text_color=theme.MUTED,
            text_font_size="11px",
            text_baseline="bottom",
        )
        self.values = ColumnDataSource(
            {
                "key": self.keys,
                "x": [10.0] + [c[2] for c in CELLS.values()],
                "y": [292.0] + [c[3] for c in CELLS.values()],
                "value": ["Waiting for telemetry"] + ["\u2014"] * len(CELLS),
                "colour": [theme.TEXT] * len(self.keys),
                "size": ["20px"] + [c[4] for c in CELLS.values()],
            },
            # Named so tests and tools can read the numbers from the browser's document.
            name="readouts",
        )
        fig.text(
            "x",
            "y",
            text="value",
            source=self.values,
            text_color="colour",
            text_font_size="size",
            text_font_style="bold",
            text_baseline="bottom",
            text_font=value(theme.MONO),
        )
        # Pedal gauges: a dim track and a bar whose top follows the pedal.
        fig.quad(
            left=[x - 16 for x in BAR_X],
            right=[x + 16 for x in BAR_X],
            bottom=BAR_BOTTOM,
            top=BAR_TOP,
            fill_color=theme.GRID,
            line_color=None,
        )
        self.pedals = ColumnDataSource(
            {
                "left": [x - 16 for x in BAR_X],
                "right": [x + 16 for x in BAR_X],
                "top": [BAR_BOTTOM, BAR_BOTTOM],
                "colour": [theme.THROTTLE, theme.BRAKE],
            },
            name="pedals",
        )
        fig.quad(
            left="left",
            right="right",
            bottom=BAR_BOTTOM,
            top="top",
            fill_color="colour",
            line_color=None,
            source=self.pedals,
        )
        fig.text(
            list(BAR_X),
            [BAR_BOTTOM - 6] * 2,
            text=["THR %", "BRK %"],
            text_color=theme.MUTED,
            text_font_size="11px",
            text_align="center",
            text_baseline="top",
        )
        self.figure = fig
        self._index = {k: i for i, k in enumerate(self.keys)}

    def update(self, texts: dict[str, str], colours: dict[str, str] | None = None) -> None:
        """Patch the values (and colours) that changed."""
        patches: dict[str, list[tuple[int, str]]] = {}
        values = [(self._index[k], t or "\u2014") for k, t in texts.items() if k in self._index]
        if values:
            patches["value"] = values
        if colours:
            patches["colour"] = [(self._index[k], c) for k, c in colours.items()]
        if patches:
            self.values.patch(patches)

    def pedal_levels(self, throttle: float, brake: float) -> None:
        """Throttle and brake, 0..1."""
        span = BAR_TOP - BAR_BOTTOM
        tops = [BAR_BOTTOM + span * min(max(v, 0.0), 1.0) for v in (throttle, brake)]
        self.pedals.patch({"top": [(slice(0, 2), tops)]})
