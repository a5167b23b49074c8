"""Projector mode: larger type and charts, readable from the back of a room.

Turned on by the sidebar's toggle or by a link with `?projector=1` (the value lives in the URL with the
scaling controls). The page's CSS is a fixed string (no user text): the root font size that Streamlit's
rem units follow, and larger metric values; charts get larger fonts and heights through `figure()`.
"""

from __future__ import annotations

import math
import re

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

ROOT_FONT_PX = 22  # the theme's baseFontSize is 17: about 1.3x
CHART_SCALE = 1.3

_CSS = f"""<style>
html {{ font-size: {ROOT_FONT_PX}px !important; }}
[data-testid=stMetricValue] {{ font-size: 2.4rem; }}
[data-testid=stMainBlockContainer] {{ padding-top: 3rem; padding-left: 1.5rem; padding-right: 1.5rem; }}
/* The page tabs: four fit at 1280 px, so Learn is not hidden under "1 more". */
[data-testid=stTopNavLink] {{ padding-left: 8px !important; padding-right: 8px !important; }}
[data-testid=stTopNavLink] span, [data-testid=stTopNavLink] p {{ font-size: 16px !important; }}
/* Formulas wider than their column scroll inside it instead of running off the page. */
.katex-display {{ overflow-x: auto; overflow-y: hidden; }}
/* Long labels wrap instead of ending in "…" at this size (the sidebar's α·β²·γ² metric). */
[data-testid=stMetricLabel], [data-testid=stMetricLabel] * {{ white-space: normal !important; overflow: visible !important; }}
[data-testid=stCaptionContainer], [data-testid=stCaptionContainer] p {{ font-size: 0.95rem; }}
</style>"""


def enabled() -> bool:
    return bool(st.session_state.get("projector"))


def apply(on: bool) -> None:
    """Add projector mode's style sheet to this run's page (nothing when off)."""
    if on:
        st.html(_CSS)


def figure(fig: go.Figure) -> go.Figure:
    """`fig` with fonts and height scaled for a projector when projector mode is on (unchanged otherwise)."""
    if not enabled():
        return fig
    layout = fig.layout
    size = (layout.font.size or 15) * CHART_SCALE
    fig.update_layout(
        font=dict(size=size),
        title_font_size=(layout.title.font.size or 17) * CHART_SCALE,
        title_subtitle_font_size=(layout.title.subtitle.font.size or 13) * CHART_SCALE,
        legend_font_size=(layout.legend.font.size or size / CHART_SCALE) * CHART_SCALE,
        height=int((layout.height or 440) * CHART_SCALE),
    )
    # The margins hold the axis titles and a legend below the plot: larger type needs them larger too,
    # or the legend lands on the axis title (the training curves' "epoch").
    margin = layout.margin
    fig.update_layout(margin=dict(l=int((margin.l or 70) * CHART_SCALE), r=int((margin.r or 20) * CHART_SCALE),
                                  t=int((margin.t or 90) * CHART_SCALE), b=int((margin.b or 60) * CHART_SCALE)))
    for annotation in layout.annotations:
        annotation.font.size = (annotation.font.size or 14) * CHART_SCALE
    _legend_at_the_bottom(fig)
    return fig


NARROWEST_CHART_PX = 800  # a full-width chart at 1280 px with the sidebar open


def _legend_rows(fig: go.Figure, font_px: float) -> int:
    """About how many lines a horizontal legend takes in the narrowest chart: entries flow across it,
    or with grouped trace order each group is a column of its entries under its title."""
    shown = [trace for trace in fig.data if trace.showlegend is not False and trace.name]
    entry_px = lambda text: len(text) * 0.55 * font_px + 45  # noqa: E731 - symbol, gap and text
    if "grouped" in (fig.layout.legend.traceorder or ""):
        groups: dict[str, list[str]] = {}
        for trace in shown:
            groups.setdefault(trace.legendgroup or trace.name, []).append(trace.name)
        rows, line_px, line_rows = 0, 0.0, 0
        for names in groups.values():
            width = max(entry_px(name) for name in names)
            if line_px and line_px + width > NARROWEST_CHART_PX:
                rows, line_px, line_rows = rows + line_rows, 0.0, 0
            line_px += width
            line_rows = max(line_rows, len(names) + 1)  # its entries and its title
        return rows + line_rows
    return max(1, math.ceil(sum(entry_px(trace.name) for trace in shown) / NARROWEST_CHART_PX))


def _legend_at_the_bottom(fig: go.Figure) -> None:
    """A legend below the plot moves to the bottom of the figure, with a bottom margin that holds the
    axis's tick labels and title above it and the legend itself: at projector type Plotly shrank the
    plot to fit the legend and left it on the axis title (chart ③ with the sidebar collapsed)."""
    legend = fig.layout.legend
    if legend.y is None or legend.y >= 0 or legend.orientation != "h":
        return
    font_px = legend.font.size or fig.layout.font.size or 15
    axis_px = 3.6 * (fig.layout.font.size or 15)  # tick labels, the title and their gaps
    rows = _legend_rows(fig, font_px)
    fig.update_layout(legend=dict(yref="container", y=0, yanchor="bottom", maxheight=1.0),  # never scrolled
                      margin=dict(b=int(axis_px + 1.45 * font_px * rows + 24)))


def theme() -> str | None:
    """Streamlit's chart theme replaces the figures' own fonts with its small ones: off in projector mode."""
    return None if enabled() else "streamlit"


# Table widths in characters of the longest unbreakable word per column (cells wrap at spaces,
# hyphens and dashes), plus each cell's padding: what fits beside an open sidebar at 1280 px, in projector type
# and in the normal one.
TABLE_BUDGET = {True: 100, False: 105}
CELL_PADDING = 3
_BREAKS = re.compile(r"(?<=[-–])|[\s/]+")  # a line may break after a hyphen or an en dash


def _column_width(name: str, values: pd.Series) -> int:
    words = [word for text in (str(name), *map(str, values)) for word in _BREAKS.split(text)]
    return max(len(word) for word in words) + CELL_PADDING


CONTINUED = "(continued)"  # the first header of a split table's later parts


def split_columns(frame: pd.DataFrame, budget: int, keep: int = 1) -> list[pd.DataFrame]:
    """`frame` as one or more tables, each no wider than `budget` characters, each starting with the
    first `keep` columns (the row names) so that every part reads on its own. A table that fits is
    returned whole."""
    widths = {column: _column_width(column, frame[column]) for column in frame.columns}
    if sum(widths.values()) <= budget:
        return [frame]
    key = list(frame.columns[:keep])
    used = sum(widths[column] for column in key)
    parts: list[list] = [[]]
    for column in frame.columns[keep:]:
        if parts[-1] and used + sum(widths[c] for c in parts[-1]) + widths[column] > budget:
            parts.append([])
        parts[-1].append(column)
    return [frame[key + part] for part in parts]


def table(frame: pd.DataFrame, keep: int = 1) -> None:
    """st.table (cells wrap, no toolbar), split into tables that fit the column when it is too wide
    for a 1280 px screen with the sidebar open: no part of it hides behind a horizontal scroll."""
    for number, part in enumerate(split_columns(frame, TABLE_BUDGET[enabled()], keep)):
        if number:  # a continuation says so in its first header
            part = part.rename(columns={part.columns[0]: f"{part.columns[0]} {CONTINUED}"})
        st.table(part, hide_index=True)


def columns(spec: int | list, **options) -> list:
    """st.columns(spec), or in projector mode one full-width container per column, one under the other:
    at projector type two charts side by side are each too narrow (titles cut, legends on the axes)."""
    if not enabled():
        return st.columns(spec, **options)
    return [st.container() for _ in range(spec if isinstance(spec, int) else len(spec))]
