"""Colours, fonts and figure styling of the pit wall (dark, high contrast, readable at a glance)."""

from __future__ import annotations

from typing import Any

from bokeh.models import ColumnDataSource
from bokeh.palettes import Category20_20
from bokeh.plotting import figure

BACKGROUND = "#0b0e13"
PANEL = "#141922"
GRID = "#232a36"
TEXT = "#e8ecf2"
MUTED = "#8893a5"
ACCENT = "#ff2d55"  # the selected car and its current lap
GHOST = "#9aa4b5"  # the reference lap
THROTTLE = "#2ecc71"
BRAKE = "#ff453a"
GAIN = "#2ecc71"
LOSS = "#ff453a"
SECTOR_COLOURS = ("#e74c3c", "#3498db", "#f1c40f")
CAR_COLOURS = tuple(Category20_20)
LAP_A = "#ff2d55"
LAP_B = "#31c6f5"
FONT = "'Inter', 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif"
MONO = "monospace"

PAGE_CSS = f"""
body, .bk-root, html {{ background: {BACKGROUND}; color: {TEXT}; font-family: {FONT}; }}
"""


def car_colour(index: int) -> str:
    return CAR_COLOURS[index % len(CAR_COLOURS)]


def themed_figure(title: str = "", **kwargs: Any) -> figure:
    """A figure in the pit-wall style: dark, thin grid, no toolbar clutter."""
    kwargs.setdefault("toolbar_location", None)
    kwargs.setdefault("tools", "")
    fig = figure(title=title, **kwargs)
    fig.background_fill_color = PANEL
    fig.border_fill_color = PANEL
    fig.outline_line_color = GRID
    fig.title.text_color = TEXT
    fig.title.text_font = FONT
    fig.title.text_font_size = "13px"
    fig.title.text_font_style = "bold"
    for axis in (*fig.xaxis, *fig.yaxis):
        axis.axis_label_text_color = MUTED
        axis.axis_label_text_font_size = "11px"
        axis.axis_label_text_font_style = "normal"
        axis.major_label_text_color = MUTED
        axis.axis_line_color = GRID
        axis.major_tick_line_color = GRID
        axis.minor_tick_line_color = None
    for grid in (*fig.xgrid, *fig.ygrid):
        grid.grid_line_color = GRID
        grid.grid_line_alpha = 0.7
    fig.min_border_left = 50
    fig.min_border_right = 12
    return fig


def style_legend(fig: figure) -> None:
    for legend in fig.legend:
        legend.background_fill_color = PANEL
        legend.background_fill_alpha = 0.7
        legend.border_line_color = None
        legend.label_text_color = TEXT
        legend.label_text_font_size = "11px"
        legend.location = "bottom_right"
        legend.spacing = 0
        legend.padding = 4
        legend.click_policy = "none"


def distance_line(
    fig: figure,
    field_name: str,
    source: ColumnDataSource,
    color: str,
    legend: str | None = None,
    ghost: float | None = None,
) -> None:
    """A channel against lap distance: a solid line, or with ``ghost`` a dashed one faded to
    that alpha (the reference lap under the current one)."""
    style: dict[str, Any] = {"line_width": 2}
    if ghost is not None:
        style = {"line_width": 2 if legend else 1, "line_dash": "dashed", "alpha": ghost}
    if legend:
        style["legend_label"] = legend
    fig.line("distance_m", field_name, source=source, color=color, **style)
