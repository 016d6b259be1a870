"""One browser session's page: header, banner, live tab, analytics tab, and their callbacks.

Every session reads the process-wide model (:func:`dashboard.feed.shared_feed`); its only
own state is which car it shows and what it has already sent (a
:class:`~dashboard.frames.FrameReader`), and which session it shows
(:mod:`dashboard.session_pick`: the live one, or one picked in the header, shown as it ended
when it is not the live one). The live tab is redrawn at ``VISUALIZATION_FPS`` and each
frame goes out as one websocket message (the document is held while it is built).
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future

import panel as pn
from bokeh.models import Div
from panel.io.callbacks import PeriodicCallback

from dashboard import theme
from dashboard.analytics_view import AnalyticsView
from dashboard.feed import shared_feed
from dashboard.frames import FrameReader
from dashboard.history_source import HistorySource
from dashboard.live_view import LiveView
from dashboard.model import GridModel
from dashboard.session_pick import SessionPick
from dashboard.settings import Settings
from dashboard.status import describe

log = logging.getLogger(__name__)

STATUS_EVERY_S = 0.5
FRAME_EARLY_S = 0.004  # a tick this close to the due time draws the frame
LIVE = "Live session (follow)"
AHEAD = "The car ahead"
SESSIONS_EVERY_S = 30.0
BANNER_STYLES = {
    "error": ("#4a1016", "#ff8a80"),
    "warn": ("#3b2a00", "#ffd54f"),
    "info": ("#10263f", "#90caf9"),
}

TABS_CSS = f"""
.bk-tab {{ color: {theme.MUTED}; background: {theme.BACKGROUND}; font-weight: 600;
  padding: 6px 18px; border: none; }}
.bk-tab.bk-active {{ color: {theme.TEXT}; background: {theme.PANEL};
  border-bottom: 3px solid {theme.ACCENT}; }}
.bk-header {{ border-bottom: 1px solid {theme.GRID}; }}
"""

_history: HistorySource | None = None


def _shared_history(settings: Settings, step_m: float) -> HistorySource:
    """One InfluxDB history source (and its worker thread) per process, like the feed."""
    global _history
    if _history is None:
        assert settings.endpoints is not None
        _history = HistorySource(settings.endpoints, step_m)
    return _history


def _title_html(circuit_name: str) -> str:
    return (
        "<div style='font-size:22px;font-weight:800;letter-spacing:0.04em'>"
        f"<span style='color:{theme.ACCENT}'>F1</span> PIT WALL"
        f"<span style='color:{theme.MUTED};font-size:13px;font-weight:400'>"
        f" \u00b7 {html.escape(circuit_name)} \u00b7 live telemetry</span></div>"
    )


def _periodic(callback: Callable[[], None], period_ms: int) -> PeriodicCallback:
    """A Panel periodic callback scoped to this session, without the busy indicator and the
    per-tick log line ``pn.state.add_periodic_callback`` adds: at 30 frames per second and
    several sessions their bookkeeping cost more server CPU than drawing the frame."""
    cb = PeriodicCallback(callback=callback, period=period_ms, background=True, log=False)
    cb.start()
    return cb


class Page:
    def __init__(self) -> None:
        self.model, feed = shared_feed()
        self.settings = feed.settings
        # The circuit comes with the first frame (and again whenever it changes).
        self.live = LiveView()
        self.reader = FrameReader()
        history = _shared_history(self.settings, self.model.step_m)
        self.history = history
        self.analytics = AnalyticsView(self.model, history, self.settings.topics)
        with self.model.lock:
            circuit_name = self.model.circuit().name
        self.title = pn.pane.HTML(_title_html(circuit_name), width=440)
        self.car_select = pn.widgets.Select(label="Car", options={}, width=220)
        self.car_select.param.watch(self._on_select, "value")
        self.compare_select = pn.widgets.Select(
            label="Compare with", options={AHEAD: ""}, value="", width=220
        )
        self.compare_select.param.watch(self._on_compare, "value")
        self.session_select = pn.widgets.Select(
            label="Session", options={LIVE: ""}, value="", width=300
        )
        self.session_select.param.watch(self._on_session, "value")
        self._stored_sessions: list[str] = []
        self._sessions_future: Future[list[str]] | None = None
        self._next_sessions = 0.0
        self.live.tower.on_pick = self._pick
        self.pick = SessionPick(history)
        self._source: GridModel = self.model
        self.mode = Div(
            text="", name="session-mode", styles={"font-size": "12px"}, sizing_mode="stretch_width"
        )
        self.follow = pn.widgets.Button(
            name="Follow live", button_type="primary", width=110, visible=False, align="end"
        )
        self.follow.on_click(self._follow_live)
        self.status = Div(
            text="Starting\u2026",
            styles={"color": theme.MUTED, "font-size": "12px", "font-family": theme.MONO},
            sizing_mode="stretch_width",
            name="status",
        )
        self.banner = Div(text="", sizing_mode="stretch_width", visible=False, name="banner")
        self._next_status = 0.0
        self._due = 0.0
        self._banner_text: str | None = ""
        self._selecting = False

    def _on_select(self, event: object) -> None:
        if not self._selecting:
            self.reader.select(self.car_select.value)

    def _on_compare(self, event: object) -> None:
        if not self._selecting:
            self.reader.compare_with(self.compare_select.value or None)

    def _on_session(self, event: object) -> None:
        session = self.session_select.value or None
        self.pick.choose(session)
        self.analytics.show_session(session)
        self._show_mode()

    def _follow_live(self, _event: object) -> None:
        self.session_select.value = ""

    def _reader_for(self) -> FrameReader:
        """The reader of the model the picked session is in: a new one (the whole state sent
        again) when that model changes, between the live one and a frozen session's."""
        source, session = self.pick.source(self.model)
        if source is not self._source:
            old = self.reader
            self._source = source
            self.reader = FrameReader(selected=old.selected, session=session)
            self.reader.compare_with(old.comparer.pick)
            self.live.show_live(self.pick.live)
            self._show_mode()
        else:
            self.reader.show_session(session)
        return self.reader

    def _show_mode(self) -> None:
        live = self.pick.live
        colour = theme.GAIN if live else "#ffd54f"
        text = html.escape(self.pick.label())
        body = f"<span style='color:{colour};font-weight:700'>{text}</span>"
        if self.mode.text != body:
            self.mode.text = body
        self.follow.visible = self.pick.session is not None

    def _update_sessions(self, now: float) -> None:
        """The session picker: the live session first, then every session in memory or
        stored in InfluxDB (asked every SESSIONS_EVERY_S), newest in memory first."""
        future = self._sessions_future
        if future is not None and future.done():
            self._stored_sessions = future.result()
            self._sessions_future = None
        if future is None and now >= self._next_sessions and self.history.installed:
            self._next_sessions = now + SESSIONS_EVERY_S
            self._sessions_future = self.history.sessions()
        with self.model.lock:
            in_memory = list(self.model.timing.sessions) + self.model.laps.sessions()
        names = list(dict.fromkeys([*reversed(in_memory), *sorted(self._stored_sessions)]))
        options = {LIVE: "", **{name: name for name in names}}
        if options != self.session_select.options:
            self.session_select.options = options

    def _pick(self, car_id: str) -> None:
        """A row of the tower clicked: that car, as if chosen in the selector (a car that has
        left the track, a finisher long stopped, cannot be shown live)."""
        if car_id in self.car_select.options.values():
            self.car_select.value = car_id

    def view(self) -> pn.viewable.Viewable:
        # The title and the pickers wrap onto a second line rather than widen the page past a
        # narrow screen (they take about 1,300 px on one line).
        header = pn.FlexBox(
            self.title,
            self.session_select,
            self.follow,
            self.car_select,
            self.compare_select,
            flex_wrap="wrap",
            align_items="flex-end",
            sizing_mode="stretch_width",
        )
        # One flex row that wraps: the map, readouts and G-G circle with the tower beside them
        # on a wide screen (under them on a narrow one), then the traces and the car-against-
        # car figures, each a whole row as wide as the page.
        whole_row = {"flex": "1 1 100%", "min-width": "0"}
        live = pn.FlexBox(
            pn.pane.Bokeh(self.live.top()),
            pn.pane.Bokeh(self.live.tower.figure),
            pn.pane.Bokeh(self.live.traces(), sizing_mode="stretch_width", styles=whole_row),
            pn.pane.Bokeh(
                self.live.compare.layout(), sizing_mode="stretch_width", styles=whole_row
            ),
            flex_wrap="wrap",
            align_items="flex-start",
            gap="8px",
            sizing_mode="stretch_width",
        )
        tabs = pn.Tabs(
            ("Live", live),
            ("Analytics", self.analytics.layout()),
            dynamic=False,
            stylesheets=[TABS_CSS],
            sizing_mode="stretch_width",
        )
        page = pn.Column(
            header,
            pn.pane.Bokeh(self.mode),
            pn.pane.Bokeh(self.status),
            pn.pane.Bokeh(self.banner),
            tabs,
            styles={"background": theme.BACKGROUND},
            sizing_mode="stretch_width",
        )
        self._callbacks = [
            # Woken twice per frame; on_tick keeps the frame cadence itself (see there).
            _periodic(self.on_tick, max(1, self.settings.frame_period_ms // 2)),
            _periodic(self.analytics.refresh, 1000),
        ]
        pn.state.on_session_destroyed(self._stop)
        return page

    def _stop(self, _context: object) -> None:
        for callback in self._callbacks:
            callback.stop()

    def on_tick(self) -> None:
        """Draw a frame when one is due. A periodic callback at the frame period itself runs
        a little late every time (the event loop's own latency adds up), which makes 27 or
        28 frames of 30; keeping the due time here holds the rate at VISUALIZATION_FPS."""
        now = time.monotonic()
        if now < self._due - FRAME_EARLY_S:
            return
        period = 1.0 / self.settings.fps
        # Keep the cadence, but after a stall start afresh rather than send a burst.
        self._due = max(self._due + period, now + period / 2)
        self.on_frame()

    def on_frame(self) -> None:
        now = time.monotonic()
        frame = self._reader_for().next_frame(self._source)
        status_due = now >= self._next_status
        if frame.empty and not status_due:
            return
        with pn.io.hold():
            if frame.cars is not None:
                self._selecting = True
                try:
                    self.car_select.options = {f"{d} \u00b7 {c}": c for c, d in frame.cars}
                    if frame.selected is not None:
                        self.car_select.value = frame.selected
                    picked = self.compare_select.value
                    self.compare_select.options = {
                        AHEAD: "",
                        **{f"{d} \u00b7 {c}": c for c, d in frame.cars},
                    }
                    if picked not in self.compare_select.options.values():
                        self.compare_select.value = ""
                finally:
                    self._selecting = False
            if frame.circuit is not None:
                title = _title_html(frame.circuit.name)
                if self.title.object != title:
                    self.title.object = title
            if not frame.empty:
                self.live.apply(frame)
            if status_due:
                self._next_status = now + STATUS_EVERY_S
                self._update_status()
                self._update_sessions(now)
                self._show_mode()

    def _update_status(self) -> None:
        with self.model.lock:
            active = self.model.active_cars()
            finished = all(c.finished for c in active)
            text = describe(self.model.status, self.settings.topics, len(active), None, finished)
        if self.status.text != text.line:
            self.status.text = text.line
        if text.banner != self._banner_text:
            self._banner_text = text.banner
            if text.banner is None:
                self.banner.visible = False
            else:
                bg, fg = BANNER_STYLES.get(text.level, BANNER_STYLES["info"])
                self.banner.styles = {
                    "background": bg,
                    "color": fg,
                    "padding": "8px 14px",
                    "border-radius": "6px",
                    "font-size": "14px",
                    "font-weight": "600",
                }
                self.banner.text = text.banner
                self.banner.visible = True
