"""The timing tower on the live tab: one row per car, drawn as text on one canvas.

A canvas like the readout board, not an HTML table: a gap that changes four times a second
is one ``patch`` of one ColumnDataSource and a canvas repaint, where HTML cells would make
the browser lay the page out again. The cells are a named ColumnDataSource
(``timing-tower``, one row per car in position order, ``car_id`` keys them), so tests and
tools can read what the browser shows. Clicking a row selects that car.

The browser says which car was clicked, not the server: in a race the order changes several
times a second, and by the time a tap reaches the server (while the feed keeps its cores
busy) the row under the pointer may hold another car. The click writes the car id of the row
the browser showed into a small source (``timing-tower-pick``) that the server watches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bokeh.core.properties import value
from bokeh.events import Tap
from bokeh.models import ColumnDataSource, CustomJS, Range1d, TapTool
from bokeh.plotting import figure

from dashboard import theme
from dashboard.frames import ROWS
from dashboard.timing import tower_columns

WIDTH = 650
ROW_PX = 24
HEADER_PX = 30
FOOTER_PX = 46
MIN_ROWS = 20

# column -> (header, x in px, align); right-aligned numbers line up on their last digit.
COLUMNS: dict[str, tuple[str, float, str]] = {
    "pos": ("P", 22, "right"),
    "driver": ("DRV", 30, "left"),
    "car": ("CAR", 60, "left"),
    "gap": ("GAP", 170, "right"),
    "catch": ("", 178, "center"),
    "interval": ("INT", 236, "right"),
    "last": ("LAST", 306, "right"),
    "best": ("BEST", 376, "right"),
    "s1": ("S1", 430, "right"),
    "s2": ("S2", 482, "right"),
    "s3": ("S3", 534, "right"),
    "tyre": ("TYRE", 546, "left"),
    "pits": ("PIT", 600, "right"),
    "status": ("ST", 610, "left"),
}
COLOUR_OF = {
    "s1": ("s1_colour", "s1_alpha"),
    "s2": ("s2_colour", "s2_alpha"),
    "s3": ("s3_colour", "s3_alpha"),
    "tyre": ("tyre_colour", None),
    "status": ("status_colour", None),
}
MUTED_COLUMNS = ("car",)


def _height(rows: int) -> int:
    return HEADER_PX + max(rows, MIN_ROWS) * ROW_PX + FOOTER_PX


class TowerView:
    """The tower's figure and how tower increments change it."""

    def __init__(self, on_pick: Callable[[str], None] | None = None) -> None:
        self.on_pick = on_pick
        self._rows = 0
        height = _height(MIN_ROWS)
        fig = figure(
            width=WIDTH,
            height=height,
            x_range=Range1d(0, WIDTH),
            y_range=Range1d(0, height),
            toolbar_location=None,
            tools="",
            min_border=0,
            name="timing-tower-figure",
        )
        fig.axis.visible = False
        fig.grid.visible = False
        fig.background_fill_color = theme.PANEL
        fig.border_fill_color = theme.PANEL
        fig.outline_line_color = theme.GRID
        self.figure = fig
        self.rows_source = ColumnDataSource(
            {"top": [], "bottom": [], "bg": []}, name="timing-tower-rows"
        )
        rows = fig.quad(
            left=0,
            right=WIDTH,
            top="top",
            bottom="bottom",
            fill_color="bg",
            line_color=None,
            source=self.rows_source,
        )
        # Taps select nothing themselves: the page selects the car, and the highlight comes
        # back with the next frame.
        fig.add_tools(TapTool(renderers=[rows], behavior="inspect"))
        self.header_source = ColumnDataSource({"x": [], "y": [], "text": [], "align": []})
        self.source = ColumnDataSource(self._empty(), name="timing-tower")
        # ``n`` counts the clicks, so a second click on the same car is a change too.
        self.pick_source = ColumnDataSource({"car_id": [], "n": []}, name="timing-tower-pick")
        self.pick_source.on_change("data", self._picked)
        code = _PICK_JS.replace("HEADER_PX", str(HEADER_PX)).replace("ROW_PX", str(ROW_PX))
        args = {"fig": fig, "rows": self.source, "pick": self.pick_source}
        fig.js_on_event(Tap, CustomJS(args=args, code=code))
        for name, (_title, x, align) in COLUMNS.items():
            colour_col, alpha_col = COLOUR_OF.get(name, (None, None))
            style: dict[str, Any] = {
                "text_color": colour_col or (theme.MUTED if name in MUTED_COLUMNS else theme.TEXT),
                "text_alpha": alpha_col or 1.0,
            }
            if name == "catch":
                style["text_color"] = theme.GAIN
            fig.text(
                x=x,
                y="y",
                text=name,
                source=self.source,
                text_align=align,
                text_baseline="middle",
                text_font_size="12px",
                text_font=value(theme.MONO),
                text_font_style="bold" if name in ("pos", "driver") else "normal",
                **style,
            )
        headers = [(title, x, align) for title, x, align in COLUMNS.values() if title]
        self.header_source.data = {
            "x": [x for _t, x, _a in headers],
            "y": [height - HEADER_PX / 2] * len(headers),
            "text": [t for t, _x, _a in headers],
            "align": [a for _t, _x, a in headers],
        }
        fig.text(
            "x",
            "y",
            text="text",
            text_align="align",
            source=self.header_source,
            text_baseline="middle",
            text_color=theme.MUTED,
            text_font_size="11px",
            text_font_style="bold",
        )
        self.session_source = ColumnDataSource(
            {"x": [8.0], "y": [FOOTER_PX / 2], "text": ["Waiting for timing"]},
            name="timing-session",
        )
        fig.text(
            "x",
            "y",
            text="text",
            source=self.session_source,
            text_baseline="middle",
            text_color=theme.MUTED,
            text_font_size="11px",
            text_font=value(theme.MONO),
        )

    @staticmethod
    def _empty() -> dict[str, list[Any]]:
        return {**tower_columns(None), "y": []}

    def _row_y(self, i: int) -> float:
        return self.figure.height - HEADER_PX - (i + 0.5) * ROW_PX

    # --- frames -------------------------------------------------------------------------------

    def show(
        self,
        columns: dict[str, list[Any]] | None,
        patch: dict[str, list[tuple[int, Any]]] | None,
        highlight: list[str] | None,
        session_line: str | None,
    ) -> None:
        """Apply one frame's tower: whole columns when the rows changed, else the cells that
        did; the row colours (the selected car) when they changed."""
        if columns is not None:
            n = len(columns["car_id"])
            height = _height(n)
            if height != self.figure.height:
                self.figure.height = height
                self.figure.y_range.end = height
                self.header_source.patch(
                    {"y": [(slice(0, len(self.header_source.data["y"])),
                            [height - HEADER_PX / 2] * len(self.header_source.data["y"]))]}
                )  # fmt: skip
            self._rows = n
            self.source.data = {**columns, "y": [self._row_y(i) for i in range(n)]}
            self.rows_source.data = {
                "top": [self._row_y(i) + ROW_PX / 2 for i in range(n)],
                "bottom": [self._row_y(i) - ROW_PX / 2 for i in range(n)],
                "bg": highlight or [ROWS[i % 2] for i in range(n)],
            }
        elif patch:
            self.source.patch(patch)
        if highlight is not None and columns is None and len(highlight) == self._rows:
            self.rows_source.patch({"bg": [(slice(0, self._rows), highlight)]})
        if session_line is not None:
            self.session_source.patch({"text": [(0, session_line)]})

    def _picked(self, _attr: str, _old: Any, new: dict[str, list[Any]]) -> None:
        cars = new.get("car_id") or []
        if self.on_pick is not None and cars:
            self.on_pick(str(cars[-1]))


# The row under the pointer, among the rows this browser shows: its car id goes to the server.
_PICK_JS = """
const i = Math.floor((fig.height - HEADER_PX - cb_obj.y) / ROW_PX);
const col = (d, k) => (d instanceof Map ? d.get(k) : d[k]) || [];
const cars = col(rows.data, "car_id");
if (cb_obj.y == null || i < 0 || i >= cars.length) return;
const n = (col(pick.data, "n")[0] || 0) + 1;
const data = {car_id: [cars[i]], n: [n]};
pick.data = pick.data instanceof Map ? new Map(Object.entries(data)) : data;
"""
