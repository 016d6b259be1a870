"""The analytics tab: the lap table from the analytics topic and a two-lap comparison.

Refreshed once a second (lap summaries arrive once per lap per car), and only when the lap
book changed. The comparison shows the difference first: the time delta of lap A to lap B
along the lap, the two speed traces, and A minus B of every sector and metric coloured by
its sign. Lap traces come from the live feed's memory of recent laps, else from InfluxDB
through the storage sink's history queries.

Everything is per session: the tab follows the live session, or the one picked in the
header (:meth:`AnalyticsView.show_session`), and its trace cache is keyed by session, car
and lap. A lookup that found InfluxDB down is asked again after ``RETRY_AFTER_S``; only
answers (a trace, or "not stored") are kept.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
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
    NumeralTickFormatter,
    Range1d,
    Span,
    StringFormatter,
    TableColumn,
)

from dashboard import theme
from dashboard.delta import delta_between
from dashboard.history_source import FOUND, UNAVAILABLE, HistorySource, StoredLap
from dashboard.lap_compare import (
    DIFFERENCE_GROUPS,
    TABLE_FIELDS,
    lap_key,
    lap_options,
    metric_differences,
    table_data,
    title_of,
)
from dashboard.model import GridModel
from schemas.channels import LAP_SUMMARY, channel
from schemas.topics import Topics

log = logging.getLogger(__name__)

HISTORY_REFRESH_S = 30
RETRY_AFTER_S = 30.0


@dataclass(frozen=True)
class LapTrace:
    """A lap on the distance grid: speed and time since the lap started."""

    distance_m: np.ndarray
    speed_kmh: np.ndarray
    t_s: np.ndarray
    origin: str  # "live feed" or "InfluxDB"


class TraceCache:
    """Lap traces by (session, car, lap): answers are kept, a failed lookup expires.

    ``None`` in the cache means "not stored" (InfluxDB answered, or without InfluxDB the live
    feed no longer has it); an ``unavailable`` lookup (InfluxDB down) is kept only until
    ``retry_after_s`` has passed, so the trace appears once InfluxDB is back.
    """

    def __init__(
        self, retry_after_s: float = RETRY_AFTER_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._found: dict[tuple[str, str], LapTrace | None] = {}
        self._failed_at: dict[tuple[str, str], float] = {}

    def get(self, session: str, key: str) -> tuple[bool, LapTrace | None]:
        """(known, trace): known is False when the trace must be looked up (again)."""
        k = (session, key)
        if k in self._found:
            return True, self._found[k]
        failed = self._failed_at.get(k)
        if failed is not None and self._clock() - failed < self.retry_after_s:
            return True, None
        return False, None

    def put(self, session: str, key: str, trace: LapTrace | None) -> None:
        self._found[(session, key)] = trace
        self._failed_at.pop((session, key), None)

    def failed(self, session: str, key: str) -> None:
        self._failed_at[(session, key)] = self._clock()

    def unavailable(self, session: str, key: str) -> bool:
        return (session, key) in self._failed_at


class AnalyticsView:
    def __init__(self, model: GridModel, history: HistorySource, topics: Topics) -> None:
        self.model = model
        self.history = history
        self.topics = topics
        self.pinned: str | None = None  # the session picked in the header; None: live
        self._book_version = -1
        self._session: str | None = None
        self._rows: dict[str, dict[str, Any]] = {}
        self._history_rows: list[dict[str, Any]] = []
        self._history_future: Future[list[dict[str, Any]]] | None = None
        self._ticks = 0
        self._pending: dict[tuple[str, str], Future[StoredLap]] = {}
        self.traces = TraceCache()

        self.empty = Div(
            text=f"No lap summaries yet on <b>{topics.analytics}</b>: they appear here as the"
            " analytics job publishes each completed lap.",
            styles={"color": theme.MUTED, "font-size": "14px"},
            sizing_mode="stretch_width",
        )
        self._build_table()
        self._build_comparison()
        self.lap_a = pn.widgets.Select(label="Lap A", options={}, width=330)
        self.lap_b = pn.widgets.Select(label="Lap B", options={}, width=330)
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
            sizing_mode="stretch_width",
            height=300,
            index_position=None,
            sortable=True,
            reorderable=False,
            stylesheets=[_TABLE_CSS],
        )

    def _build_comparison(self) -> None:
        self.compare_source = {
            "a": ColumnDataSource({"distance_m": [], "speed_kmh": []}, name="compare-lap-a"),
            "b": ColumnDataSource({"distance_m": [], "speed_kmh": []}, name="compare-lap-b"),
        }
        self.lap_delta_source = ColumnDataSource({"distance_m": [], "delta": []}, name="lap-delta")
        stretch: dict[str, Any] = {"sizing_mode": "stretch_width", "min_width": 600}
        # From the line to the end of the longer lap shown: the laps compared may be on a
        # circuit the pit wall only knows from the stream.
        x_range = DataRange1d(start=0.0, range_padding=0.0)
        delta = theme.themed_figure(
            "Time delta, lap A minus lap B (+ = A slower)",
            height=220,
            x_range=x_range,
            y_range=DataRange1d(min_interval=0.5, range_padding=0.2),
            **stretch,
        )
        delta.yaxis.formatter = NumeralTickFormatter(format="+0.00")
        delta.add_layout(Span(location=0, dimension="width", line_color=theme.MUTED))
        delta.varea(
            x="distance_m",
            y1=0.0,
            y2="delta",
            source=self.lap_delta_source,
            fill_color=theme.ACCENT,
            fill_alpha=0.15,
        )
        theme.distance_line(delta, "delta", self.lap_delta_source, theme.ACCENT)
        delta.yaxis.axis_label = "Delta (s)"
        speed = theme.themed_figure(
            "Speed vs lap distance \u00b7 lap A over lap B",
            height=240,
            x_range=x_range,
            y_range=Range1d(0, 360),
            **stretch,
        )
        theme.distance_line(speed, "speed_kmh", self.compare_source["b"], theme.LAP_B, "Lap B")
        theme.distance_line(speed, "speed_kmh", self.compare_source["a"], theme.LAP_A, "Lap A")
        speed.xaxis.axis_label = "Lap distance (m)"
        speed.yaxis.axis_label = "Speed (km/h)"
        theme.style_legend(speed)
        self.delta_fig, self.compare_fig = delta, speed
        self.compare_note = Div(text="", styles={"color": theme.MUTED}, sizing_mode="stretch_width")
        self.diff_sources: list[ColumnDataSource] = []
        self.diff_figs = []
        for k, (title, fields, _better) in enumerate(DIFFERENCE_GROUPS):
            labels = [channel(f, LAP_SUMMARY).label for f in fields]
            source = ColumnDataSource(
                _difference_columns([], [], [], 1),
                name=f"lap-differences-{k + 1}",
            )
            fig = theme.themed_figure(
                f"{title}, A \u2212 B",
                width=520,
                height=60 + 34 * len(fields),
                y_range=FactorRange(*reversed(labels)),
                x_range=DataRange1d(range_padding=0.35),
            )
            fig.hbar(
                y="metric",
                right="diff",
                left=0,
                height=0.7,
                source=source,
                fill_color="colour",
                line_color=None,
            )
            fig.text(
                x="at",
                y="metric",
                text="label",
                text_align="align",
                source=source,
                text_baseline="middle",
                text_color=theme.TEXT,
                text_font_size="11px",
                x_offset="offset",
            )
            fig.add_layout(Span(location=0, dimension="height", line_color=theme.MUTED))
            fig.ygrid.visible = False
            fig.yaxis.major_label_text_font_size = "11px"
            self.diff_sources.append(source)
            self.diff_figs.append(fig)

    def layout(self) -> pn.viewable.Viewable:
        traces = pn.Column(
            pn.pane.Bokeh(
                column(self.delta_fig, self.compare_fig, self.compare_note),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
            styles={"flex": "1 1 700px", "min-width": "0"},
        )
        return pn.Column(
            pn.pane.Bokeh(self.empty, sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.table, sizing_mode="stretch_width"),
            pn.Row(self.lap_a, self.lap_b),
            pn.FlexBox(
                traces,
                pn.pane.Bokeh(column(*self.diff_figs)),
                flex_wrap="wrap",
                align_items="flex-start",
                gap="8px",
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )

    # --- sessions -----------------------------------------------------------------------------

    def show_session(self, session: str | None) -> None:
        """Show ``session`` (None: follow the live one) from the next refresh."""
        if session != self.pinned:
            self.pinned = session
            self._book_version = -1
            self.refresh()

    # --- refresh ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Called once a second: pick up new summaries and finished trace lookups."""
        self._ticks += 1
        self._poll_history_rows()
        with self.model.lock:
            book = self.model.laps
            session = self.pinned
            if session is None:
                session = self.model.current_session()
                sessions = book.sessions()
                if session is None or session not in sessions:
                    session = sessions[-1] if sessions else session
            changed = book.version != self._book_version or session != self._session
            self._book_version = book.version
            rows = book.session_rows(session) if session else []
        if session != self._session:
            self._history_rows = []
            self._history_future = None
            self._ticks = 1  # ask InfluxDB for the new session's laps now
            self._poll_history_rows(session)
        self._session = session
        if self._history_rows:
            merged = {lap_key(r): r for r in self._history_rows}
            merged.update({lap_key(r): r for r in rows})
            rows = sorted(merged.values(), key=lambda r: (r["car_id"], r["lap"]))
            changed = changed or len(rows) != len(self._rows)
        if changed:
            self._show_rows(rows)
        self._collect_traces()

    def _poll_history_rows(self, session: str | None = None) -> None:
        session = session or self._session
        if not self.history.installed or session is None:
            return
        future = self._history_future
        if future is not None and future.done():
            rows = future.result()
            self._history_rows = [
                r
                for r in rows
                if all(f in r for f in (*TABLE_FIELDS, "car_id", "driver"))
                and r.get("session_id", session) == session
            ]
            self._history_future = None
        if self._history_future is None and self._ticks % HISTORY_REFRESH_S == 1:
            self._history_future = self.history.lap_summaries(session)

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
            for source, group in zip(
                self.diff_sources, metric_differences(rows[0], rows[1]), strict=True
            ):
                decimals = 3 if group.unit == "s" else 1
                source.data = _difference_columns(
                    group.metrics, group.diffs, group.colours, decimals
                )
        else:
            for source in self.diff_sources:
                source.data = _difference_columns([], [], [], 1)
        session = self._session
        if session is not None:
            for key in keys:
                if key and not self.traces.get(session, key)[0]:
                    self._request_trace(session, key)
        self._show_traces()

    def _request_trace(self, session: str, key: str) -> None:
        if (session, key) in self._pending:
            return
        car, lap = key.split("|")
        with self.model.lock:
            state = self.model.cars.get(car)
            done = state.completed_lap(int(lap)) if state else None
            if done is not None and state is not None and state.session_id == session:
                w = done.trace.window(0)
                trace = LapTrace(w["distance_m"], w["speed_kmh"], w["t_s"], "live feed")
                self.traces.put(session, key, trace)
                return
        if not self.history.installed:
            self.traces.put(session, key, None)
            return
        start = self._rows.get(key, {}).get("lap_start")
        self._pending[(session, key)] = self.history.lap_trace(
            session, car, int(lap), float(start) if start is not None else None
        )

    def _collect_traces(self) -> None:
        finished = [k for k, f in self._pending.items() if f.done()]
        for session, key in finished:
            stored = self._pending.pop((session, key)).result()
            if stored.status == FOUND:
                assert stored.distance_m is not None
                assert stored.speed_kmh is not None and stored.t_s is not None
                trace = LapTrace(stored.distance_m, stored.speed_kmh, stored.t_s, "InfluxDB")
                self.traces.put(session, key, trace)
            elif stored.status == UNAVAILABLE:
                self.traces.failed(session, key)
            else:
                self.traces.put(session, key, None)
        if finished:
            self._show_traces()
        elif self._session is not None:
            # A lookup that failed may be due again: ask once its wait is over.
            for key in (self.lap_a.value, self.lap_b.value):
                if key and not self.traces.get(self._session, key)[0]:
                    self._request_trace(self._session, key)

    def _show_traces(self) -> None:
        notes = []
        shown: dict[str, LapTrace | None] = {}
        session = self._session
        for name, key in zip(("a", "b"), (self.lap_a.value, self.lap_b.value), strict=True):
            trace = self.traces.get(session, key)[1] if key and session else None
            shown[name] = trace
            source = self.compare_source[name]
            if trace is None:
                source.data = {"distance_m": [], "speed_kmh": []}
                if session and (session, key) in self._pending:
                    notes.append(f"Lap {name.upper()}: loading from InfluxDB\u2026")
                elif session and key and self.traces.unavailable(session, key):
                    notes.append(f"Lap {name.upper()}: InfluxDB not answering, retrying")
                elif key:
                    notes.append(f"Lap {name.upper()}: no stored trace")
            else:
                source.data = {
                    "distance_m": np.round(trace.distance_m, 0).tolist(),
                    "speed_kmh": np.round(trace.speed_kmh, 1).tolist(),
                }
                notes.append(f"Lap {name.upper()}: trace from the {trace.origin}")
        a, b = shown["a"], shown["b"]
        if a is not None and b is not None:
            d, delta = delta_between(a.distance_m, a.t_s, b.distance_m, b.t_s)
            self.lap_delta_source.data = {
                "distance_m": np.round(d, 0).tolist(),
                "delta": np.round(delta, 3).tolist(),
            }
        else:
            self.lap_delta_source.data = {"distance_m": [], "delta": []}
        self.compare_note.text = " \u00b7 ".join(notes)


def _difference_columns(
    metrics: list[str], diffs: list[float], colours: list[str], decimals: int
) -> dict[str, list[Any]]:
    """The bars and their signed labels (beyond the bar's end, on its side of zero)."""
    labels = [f"{round(d, decimals) + 0.0:+.{decimals}f}" for d in diffs]
    return {
        "metric": metrics,
        "diff": diffs,
        "colour": colours,
        "label": labels,
        "at": [d if math.isfinite(d) else 0.0 for d in diffs],
        "align": ["left" if d >= 0 else "right" for d in diffs],
        "offset": [4 if d >= 0 else -4 for d in diffs],
    }


_TABLE_CSS = f"""
:host {{ --bk-background-color: {theme.PANEL}; }}
.slick-header-column {{ background: #1c2330 !important; color: {theme.TEXT} !important;
  font-size: 11px; }}
.slick-row {{ background: {theme.PANEL}; color: {theme.TEXT}; }}
.slick-row.odd {{ background: #181e28; }}
.slick-cell {{ border-color: {theme.GRID} !important; }}
.slick-cell.selected {{ background: #2a3446 !important; }}
"""
