"""Projector mode: larger type and charts, readable from the back of a room.

Turned on by the sidebar's toggle or by a link with `?projector=1` (the value lives in the URL with the
scaling controls). The page's CSS is a fixed string (no user text): the root font size that Streamlit's
rem units follow, and larger metric values; charts get larger fonts and heights through `figure()`.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

ROOT_FONT_PX = 22  # the theme's baseFontSize is 17: about 1.3x
CHART_SCALE = 1.3

_CSS = f"""<style>
html {{ font-size: {ROOT_FONT_PX}px !important; }}
[data-testid=stMetricValue] {{ font-size: 2.4rem; }}
[data-testid=stMainBlockContainer] {{ padding-top: 3rem; }}
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
        legend_font_size=(layout.legend.font.size or size / CHART_SCALE) * CHART_SCALE,
        height=int((layout.height or 440) * CHART_SCALE),
    )
    for annotation in layout.annotations:
        annotation.font.size = (annotation.font.size or 14) * CHART_SCALE
    return fig


def theme() -> str | None:
    """Streamlit's chart theme replaces the figures' own fonts with its small ones: off in projector mode."""
    return None if enabled() else "streamlit"
