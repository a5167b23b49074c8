"""Where a "Show me" link from the Learn page lands: the named chart or control, scrolled into view
and outlined, instead of the top of the page with the point one to three screens down.

A link carries `focus=<name>` next to the control values; the page takes it out of the URL once
(url_state.take_url_param), wraps each target in `section(name)`, and calls `scroll()` at its end.
The mark stays until the configuration changes. Only names from TARGETS reach the page's HTML:
no text from the URL is ever written into it.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from app.components import url_state
from app.components.text import escape_markdown

TARGETS = {
    "metrics": "the metrics: FLOPs and its × against B0",
    "flops_phi": "chart ①: FLOPs against φ",
    "accuracy": "chart ③: accuracy against FLOPs (Table 3)",
    "constraint": "chart ④: the constraint α·β²·γ²",
    "mbconv": "the MBConv explainer",
    "roofline": "the roofline chart: each stage under a device's roof",
}
_STATE = "_focus"
MARK = "#f59e0b"


def take_from_url(configuration: str) -> None:
    """Read a link's `focus` once; forget the mark when `configuration` (its label) has changed."""
    name = url_state.take_url_param("focus")
    if name is not None:
        if name in TARGETS:
            previous = st.session_state.get(_STATE) or {}
            st.session_state[_STATE] = {"name": name, "configuration": configuration,
                                        "run": previous.get("run", 0) + 1, "scrolled": False}
        else:
            st.warning(escape_markdown(f"focus={name} in the link is not a part of this page; ignored"))
    current = st.session_state.get(_STATE)
    if current and current["configuration"] != configuration:
        del st.session_state[_STATE]


def focused() -> str | None:
    current = st.session_state.get(_STATE)
    return current["name"] if current else None


@contextmanager
def section(name: str) -> Iterator[None]:
    """A container the Learn page can point at: outlined, with one line saying why, when it is the focus."""
    assert name in TARGETS, name  # internal: pages name their own sections
    with st.container(key=f"focus_{name}"):
        if focused() == name:
            # scroll-margin-top: land below Streamlit's fixed top bar, not under it.
            st.html(f"<style>.st-key-focus_{name} {{ outline: 4px solid {MARK}; outline-offset: 8px; "
                    "border-radius: 6px; scroll-margin-top: 90px; }</style>")
            st.caption(f":material/arrow_downward: From Learn: {TARGETS[name]}")
        yield


def scroll() -> None:
    """Scroll the focused section into view, once per link followed (the script's text changes each time,
    so Streamlit runs it again; on other reruns it is not sent)."""
    current = st.session_state.get(_STATE)
    if not current or current["scrolled"]:
        return
    current["scrolled"] = True
    selector = f".st-key-focus_{current['name']}"
    st.html(
        f"<script>/* focus run {current['run']} */ (function () {{ let tries = 0; const timer = setInterval(() => {{"
        f" const target = window.parent.document.querySelector('{selector}') || document.querySelector('{selector}');"
        " if (target) { target.scrollIntoView({block: 'start', behavior: 'instant'}); clearInterval(timer); }"
        " if (++tries > 100) clearInterval(timer); }, 100); })();</script>",
        unsafe_allow_javascript=True,
    )
