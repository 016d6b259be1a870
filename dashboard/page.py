"""One browser session's page: header, banner, live tab, analytics tab, and their callbacks.

Every session reads the process-wide model (:func:`dashboard.feed.shared_feed`); its only
own state is which car it shows and what it has already sent (a
:class:`~dashboard.frames.FrameReader`). The live tab is redrawn at ``VISUALIZATION_FPS``
and each frame goes out as one websocket message (the document is held while it is built).
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable

import panel as pn
from bokeh.models import Div
from panel.io.callbacks import PeriodicCallback

from dashboard import theme
from dashboard.analytics_view import AnalyticsView
from dashboard.feed import shared_feed
from dashboard.frames import FrameReader
from dashboard.history_source import HistorySource
from dashboard.live_view import LiveView
from dashboard.settings import Settings
from dashboard.status import describe

log = logging.getLogger(__name__)

STATUS_EVERY_S = 0.5
FRAME_EARLY_S = 0.004  # a tick this close to the due time draws the frame
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
        self.analytics = AnalyticsView(self.model, history, self.settings.topics)
        with self.model.lock:
            circuit_name = self.model.circuit().name
        self.title = pn.pane.HTML(_title_html(circuit_name), width=520)
        self.car_select = pn.widgets.Select(name="Car", options={}, width=240)
        self.car_select.param.watch(self._on_select, "value")
        self.status = Div(
            text="Starting\u2026",
            styles={"color": theme.MUTED, "font-size": "12px", "font-family": theme.MONO},
            width=1100,
            name="status",
        )
        self.banner = Div(text="", width=1460, visible=False, name="banner")
        self._next_status = 0.0
        self._due = 0.0
        self._banner_text: str | None = ""
        self._selecting = False

    def _on_select(self, event: object) -> None:
        if not self._selecting:
            self.reader.select(self.car_select.value)

    def view(self) -> pn.viewable.Viewable:
        header = pn.Row(self.title, self.car_select, sizing_mode="stretch_width")
        tabs = pn.Tabs(
            ("Live", pn.pane.Bokeh(self.live.layout())),
            ("Analytics", self.analytics.layout()),
            dynamic=False,
            stylesheets=[TABS_CSS],
        )
        page = pn.Column(
            header,
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
        frame = self.reader.next_frame(self.model)
        now = time.monotonic()
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

    def _update_status(self) -> None:
        with self.model.lock:
            cars = len(self.model.active_cars())
            text = describe(self.model.status, self.settings.topics, cars)
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
