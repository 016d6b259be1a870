"""The analytics tab: the lap table from the analytics topic and a two-lap comparison.

Refreshed once a second (lap summaries arrive once per lap per car), and only when the lap
book changed. Lap traces for the comparison come from the live feed's memory of recent laps,
else from InfluxDB through the storage sink's history queries.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import Any

import numpy as np
import panel as pn
from bokeh.layouts import column
from bokeh.models import (
    ColumnDataSource,
    DataRange1d,
    DataTable,
    Div,
    FactorRange,
    NumberFormatter,
    Range1d,
    StringFormatter,
    TableColumn,
)
from bokeh.transform import factor_cmap

from dashboard import theme
from dashboard.history_source import HistorySource, Trace
from dashboard.lap_compare import (
    TABLE_FIELDS,
    lap_key,
    lap_options,
    metric_bars,
    table_data,
    title_of,
)
from dashboard.model import GridModel
from schemas.topics import Topics

log = logging.getLogger(__name__)

HISTORY_REFRESH_S = 30


class AnalyticsView:
    def __init__(self, model: GridModel, history: HistorySource, topics: Topics) -> None:
        self.model = model
        self.history = history
        self.topics = topics
        self._book_version = -1
        self._session: str | None = None
        self._rows: dict[str, dict[str, Any]] = {}
        self._history_rows: list[dict[str, Any]] = []
        self._history_future: Future[list[dict[str, Any]]] | None = None
        self._ticks = 0
        self._pending: dict[str, Future[Trace | None]] = {}
        self._traces: dict[str, tuple[Trace | None, str]] = {}
        self._shown: tuple[str | None, str | None] = (None, None)

        self.empty = Div(
            text=f"No lap summaries yet on <b>{topics.analytics}</b>: they appear here as the"
            " analytics job publishes each completed lap.",
            styles={"color": theme.MUTED, "font-size": "14px"},
            width=1100,
        )
        self._build_table()
        self._build_comparison()
        self.lap_a = pn.widgets.Select(name="Lap A", options={}, width=330)
        self.lap_b = pn.widgets.Select(name="Lap B", options={}, width=330)
        self.lap_a.param.watch(lambda _e: self._compare(), "value")
        self.lap_b.param.watch(lambda _e: self._compare(), "value")

    # --- construction ------------------------------------------------------------------------

    def _build_table(self) -> None:
        self.table_source = ColumnDataSource(table_data([]), name="lap-table")

        def fmt(decimals: int) -> NumberFormatter:
            pattern = "0" if decimals == 0 else "0." + "0" * decimals
            return NumberFormatter(
                format=pattern, background_color="bg", text_color="fg", text_align="right"
            )

        text = StringFormatter(background_color="bg", text_color="fg")
        decimals = {"lap": 0, "avg_speed_kmh": 1, "max_speed_kmh": 1, "min_speed_kmh": 1}
        columns = [
            TableColumn(field="driver", title="Driver", formatter=text, width=60),
            TableColumn(field="car_id", title="Car", formatter=text, width=70),
            TableColumn(field="lap_time", title="Lap time (m:s)", formatter=text, width=110),
        ]
        for f in TABLE_FIELDS:
            if f == "lap_time_s":
                continue
            columns.append(
                TableColumn(field=f, title=title_of(f), formatter=fmt(decimals.get(f, 2)), width=95)
            )
        self.table = DataTable(
            source=self.table_source,
            columns=columns,
            width=1460,
            height=300,
            index_position=None,
            sortable=True,
            reorderable=False,
            stylesheets=[_TABLE_CSS],
        )

    def _build_comparison(self) -> None:
        self.compare_source = {
            "a": ColumnDataSource({"distance_m": [], "speed_kmh": []}),
            "b": ColumnDataSource({"distance_m": [], "speed_kmh": []}),
        }
        fig = theme.themed_figure(
            "Speed vs lap distance \u00b7 lap A over lap B",
            width=900,
            height=300,
            # From the line to the end of the longer lap shown: the laps compared may be on a
            # circuit the pit wall only knows from the stream.
            x_range=DataRange1d(start=0.0, range_padding=0.0),
            y_range=Range1d(0, 360),
        )
        theme.distance_line(fig, "speed_kmh", self.compare_source["b"], theme.LAP_B, "Lap B")
        theme.distance_line(fig, "speed_kmh", self.compare_source["a"], theme.LAP_A, "Lap A")
        fig.xaxis.axis_label = "Lap distance (m)"
        fig.yaxis.axis_label = "Speed (km/h)"
        theme.style_legend(fig)
        self.compare_fig = fig
        self.compare_note = Div(text="", styles={"color": theme.MUTED}, width=900)
        self.bar_sources: list[ColumnDataSource] = []
        self.bar_figs = []
        for title, factors in (
            ("Sector times (s)", ["Sector 1", "Sector 2", "Sector 3"]),
            ("Speeds (km/h)", ["Average speed", "Top speed", "Minimum speed"]),
            ("Shares (%)", ["Full throttle", "Braking"]),
        ):
            source = ColumnDataSource({"x": [], "value": [], "lap": []})
            x = [(m, lap) for m in factors for lap in ("A", "B")]
            bar = theme.themed_figure(title, width=540, height=190, x_range=FactorRange(*x))
            bar.vbar(
                x="x",
                top="value",
                width=0.85,
                source=source,
                fill_color=factor_cmap("lap", [theme.LAP_A, theme.LAP_B], ["A", "B"]),
                line_color=None,
            )
            bar.xgrid.visible = False
            bar.x_range.range_padding = 0.05
            bar.xaxis.major_label_text_font_size = "10px"
            bar.xaxis.group_text_color = theme.TEXT
            bar.y_range.start = 0
            self.bar_sources.append(source)
            self.bar_figs.append(bar)

    def layout(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Bokeh(self.empty),
            pn.pane.Bokeh(self.table),
            pn.Row(self.lap_a, self.lap_b),
            pn.Row(
                pn.pane.Bokeh(column(self.compare_fig, self.compare_note)),
                pn.pane.Bokeh(column(*self.bar_figs)),
            ),
        )

    # --- refresh ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Called once a second: pick up new summaries and finished trace lookups."""
        self._ticks += 1
        self._poll_history_rows()
        with self.model.lock:
            book = self.model.laps
            session = self.model.current_session()
            sessions = book.sessions()
            if session is None or session not in sessions:
                session = sessions[-1] if sessions else session
            changed = book.version != self._book_version or session != self._session
            self._book_version = book.version
            rows = book.session_rows(session) if session else []
        if session != self._session:
            self._history_rows = []
        self._session = session
        if self._history_rows:
            merged = {lap_key(r): r for r in self._history_rows}
            merged.update({lap_key(r): r for r in rows})
            rows = sorted(merged.values(), key=lambda r: (r["car_id"], r["lap"]))
            changed = changed or len(rows) != len(self._rows)
        if changed:
            self._show_rows(rows)
        self._collect_traces()

    def _poll_history_rows(self) -> None:
        if not self.history.installed or self._session is None:
            return
        future = self._history_future
        if future is not None and future.done():
            rows = future.result()
            self._history_rows = [
                r for r in rows if all(f in r for f in (*TABLE_FIELDS, "car_id", "driver"))
            ]
            self._history_future = None
        if self._history_future is None and self._ticks % HISTORY_REFRESH_S == 1:
            self._history_future = self.history.lap_summaries(self._session)

    def _show_rows(self, rows: list[dict[str, Any]]) -> None:
        self._rows = {lap_key(r): r for r in rows}
        self.empty.visible = not rows
        self.table_source.data = table_data(rows)
        options = lap_options(rows)
        keys = list(options.values())
        a, b = self.lap_a.value, self.lap_b.value
        self.lap_a.options = options
        self.lap_b.options = options
        if keys:
            # Defaults: the best lap against the latest lap of the same car.
            if a not in keys:
                a = keys[0]
            if b not in keys:
                car = a.split("|")[0]
                same_car = [k for k in keys if k.startswith(car + "|") and k != a]
                b = max(same_car, key=lambda k: int(k.split("|")[1])) if same_car else a
            self.lap_a.value, self.lap_b.value = a, b
        self._compare()

    def _compare(self) -> None:
        keys = (self.lap_a.value, self.lap_b.value)
        rows = [self._rows.get(k) if k else None for k in keys]
        if rows[0] is not None and rows[1] is not None:
            for source, bars in zip(self.bar_sources, metric_bars(rows[0], rows[1]), strict=True):
                source.data = {
                    "x": [(m, lap) for m in bars.metrics for lap in ("A", "B")],
                    "value": [v for pair in zip(bars.a, bars.b, strict=True) for v in pair],
                    "lap": ["A", "B"] * len(bars.metrics),
                }
        for key in keys:
            if key and key not in self._traces and key not in self._pending:
                self._request_trace(key)
        self._show_traces()

    def _request_trace(self, key: str) -> None:
        car, lap = key.split("|")
        with self.model.lock:
            state = self.model.cars.get(car)
            done = state.completed_lap(int(lap)) if state else None
            if done is not None and state is not None and state.session_id == self._session:
                w = done.trace.window(0)
                self._traces[key] = ((w["distance_m"], w["speed_kmh"]), "live feed")
                return
        if self.history.installed and self._session:
            self._pending[key] = self.history.speed_trace(self._session, car, int(lap))
        else:
            self._traces[key] = (None, "")

    def _collect_traces(self) -> None:
        finished = [k for k, f in self._pending.items() if f.done()]
        for key in finished:
            trace = self._pending.pop(key).result()
            self._traces[key] = (trace, "InfluxDB" if trace is not None else "")
        if finished:
            self._show_traces()

    def _show_traces(self) -> None:
        notes = []
        for name, key in zip(("a", "b"), (self.lap_a.value, self.lap_b.value), strict=True):
            trace, origin = self._traces.get(key, (None, "")) if key else (None, "")
            source = self.compare_source[name]
            if trace is None:
                source.data = {"distance_m": [], "speed_kmh": []}
                if key in self._pending:
                    notes.append(f"Lap {name.upper()}: loading from InfluxDB\u2026")
                elif key:
                    notes.append(f"Lap {name.upper()}: no stored trace")
            else:
                d, v = trace
                source.data = {
                    "distance_m": np.round(d, 0).tolist(),
                    "speed_kmh": np.round(v, 1).tolist(),
                }
                notes.append(f"Lap {name.upper()}: trace from the {origin}")
        self.compare_note.text = " \u00b7 ".join(notes)


_TABLE_CSS = f"""
:host {{ --bk-background-color: {theme.PANEL}; }}
.slick-header-column {{ background: #1c2330 !important; color: {theme.TEXT} !important;
  font-size: 11px; }}
.slick-row {{ background: {theme.PANEL}; color: {theme.TEXT}; }}
.slick-row.odd {{ background: #181e28; }}
.slick-cell {{ border-color: {theme.GRID} !important; }}
.slick-cell.selected {{ background: #2a3446 !important; }}
"""
