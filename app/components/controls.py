"""The scaling controls in the sidebar, shared by every page.

`scaling_sidebar()` draws the widgets and returns a `Selection` (plain values); pages read the same
selection with `current_selection()`. Widget keys: mode, phi, alpha, beta, gamma, depth, width,
resolution, preset (and family: EfficientNet-B or -Lite). Their values, ranges and defaults, and the
link that keeps them in the URL, are app.components.url_state's.
"""
from __future__ import annotations

from dataclasses import dataclass

import effnet
import streamlit as st

from app.components import projector, url_state
from app.components.text import escape_markdown
from app.components.url_state import (CONTROL_KEYS, CUSTOM, DEFAULTS, DEPTH_RANGE, FAMILIES, MODE_LABELS, MODES,
                                      PHI_RANGE, PRESET_OPTIONS, RESOLUTION_RANGE, V2_FAMILIES, WIDTH_RANGE)

_LAST_GOOD = "_controls_last_good"
_SELECTION = "_controls_selection"
_SNAPPED = "_controls_snapped"  # the one-line note of the last Compound -> Manual switch, shown once


@dataclass(frozen=True)
class Selection:
    """What the controls chose: the configuration to show, and why it may not be the one asked for."""

    config: effnet.ScalingConfig  # the requested config, or the last valid one if it was refused
    mode: str  # "Compound" or "Manual"
    alpha: float
    beta: float
    gamma: float
    error: str | None  # one line: why the requested config was refused (the last good one is shown)
    build_error: str | None  # one line: the config profiles fine but is too big to build here
    link_warnings: tuple[str, ...]  # values in the URL that were out of range and ignored
    pinned: effnet.ScalingConfig | None = None  # the configuration pinned for comparison, if any

    @property
    def constraint(self) -> float:
        """alpha * beta^2 * gamma^2: FLOPs growth per unit of phi (the paper asks for about 2)."""
        return effnet.flops_ratio_per_phi(self.alpha, self.beta, self.gamma)


def show_messages(selection: Selection) -> None:
    """At the top of a page: why the configuration shown is not the one asked for, in one line each."""
    if selection.error:
        st.error(selection.error)
    for warning in selection.link_warnings:
        st.warning(escape_markdown(warning))  # it quotes the link: shown as typed, never as markdown


def current_selection() -> Selection:
    """The selection made by this run's sidebar (main.py draws it before the page runs)."""
    selection = st.session_state.get(_SELECTION)
    if selection is None:  # a page run without main.py (never in the app): draw the controls now
        selection = scaling_sidebar()
    return selection


# ---------------------------------------------------------------------------------------------
# Callbacks: they run before the script, so they may set other widgets' values
# ---------------------------------------------------------------------------------------------
def _snap(value: float, low: float, high: float, step: float) -> float:
    return round(min(high, max(low, round(value / step) * step)), 4)


def _on_preset() -> None:
    for key, value in url_state.preset_values(st.session_state["preset"]).items():
        st.session_state[key] = value


def _on_mode() -> None:
    st.session_state["preset"] = CUSTOM
    if st.session_state["mode"] == "Manual":
        # Start the manual sliders where the compound rule was.
        config = st.session_state.get(_LAST_GOOD) or effnet.preset("b0")
        st.session_state["depth"] = _snap(config.depth, *DEPTH_RANGE)
        st.session_state["width"] = _snap(config.width, *WIDTH_RANGE)
        st.session_state["resolution"] = int(_snap(config.resolution, *RESOLUTION_RANGE))
        st.session_state[_SNAPPED] = snap_note(config, st.session_state["depth"], st.session_state["width"],
                                               st.session_state["resolution"])


def snap_note(config: effnet.ScalingConfig, depth: float, width: float, resolution: int) -> str | None:
    """One line when the Manual sliders could not start exactly where the compound rule was (they move in
    steps of 0.05 and 4 px): what moved, from what to what. None when nothing moved."""
    moved = [f"{name} {before:.4g} → {after:g}" for name, before, after in
             (("d", config.depth, depth), ("w", config.width, width)) if round(before, 4) != after]
    if config.resolution != resolution:
        moved.append(f"r {config.resolution} → {resolution} px")
    if not moved:
        return None
    return (f"Manual sliders move in steps of {DEPTH_RANGE[2]:g} (and {RESOLUTION_RANGE[2]} px): "
            f"{', '.join(moved)}, so the network may differ slightly from the compound one.")


def _on_custom() -> None:
    st.session_state["preset"] = CUSTOM


def _on_pin() -> None:
    shown = st.session_state.get(_LAST_GOOD) or requested_config(DEFAULTS)
    st.session_state["pin"] = url_state.encode_pin(shown)


def _on_unpin() -> None:
    st.session_state["pin"] = ""


# ---------------------------------------------------------------------------------------------
# The sidebar
# ---------------------------------------------------------------------------------------------
def requested_config(values: dict) -> effnet.ScalingConfig:
    """The configuration the control values ask for; raises effnet.ConfigError if it is out of range."""
    variant = "lite" if values["family"] == "Lite" else "b"
    table = V2_FAMILIES.get(values["family"], "b0")
    if values["mode"] == "Compound":
        if table != "b0":
            raise effnet.ConfigError(
                "EfficientNetV2 was not scaled by the compound rule: choose Manual to scale its table by depth and width"
            )
        return effnet.compound(values["phi"], values["alpha"], values["beta"], values["gamma"], variant=variant)
    if values["preset"] != CUSTOM:
        official = effnet.preset(values["preset"])
        if (official.depth, official.width, official.resolution, official.variant, official.stage_table) == (
            values["depth"], values["width"], values["resolution"], variant, table
        ):
            return official
    return effnet.ScalingConfig(
        depth=float(values["depth"]), width=float(values["width"]), resolution=int(values["resolution"]), variant=variant,
        stage_table=table,
    )


def scaling_sidebar() -> Selection:
    """Draw the scaling controls in the sidebar and return what they select."""
    for key, value in DEFAULTS.items():
        # Re-assigning keeps a hidden widget's value (Streamlit forgets widgets it did not draw).
        st.session_state[key] = st.session_state.get(key, value)
    link_warnings = url_state.apply_url()

    with st.sidebar:
        st.header("Scaling")
        st.selectbox("Preset", PRESET_OPTIONS, key="preset", on_change=_on_preset,
                     help="The published EfficientNet-B0…B7, Lite0…Lite4 and EfficientNetV2-S/M/L: sets the sliders below.")
        st.radio("Family", FAMILIES, key="family", horizontal=True, on_change=_on_custom,
                 format_func=lambda f: f"EfficientNet{f}" if f in V2_FAMILIES else f"EfficientNet-{f}",
                 help="Lite: no squeeze-and-excitation, ReLU6, stem and head not scaled (mobile-friendly). "
                      "V2: Fused-MBConv early stages, its own stage table (Manual mode).")
        mode = st.radio("Mode", MODES, key="mode", horizontal=True, on_change=_on_mode, format_func=MODE_LABELS.get)
        if mode == "Compound":
            low, high, step = PHI_RANGE
            st.slider("φ (compound coefficient)", low, high, step=step, key="phi", on_change=_on_custom,
                      help="depth = α^φ, width = β^φ, resolution = 224·γ^φ (paper, Eq. 3)")
            columns = st.columns(3)
            for column, key, symbol in zip(columns, ("alpha", "beta", "gamma"), ("α", "β", "γ")):
                column.number_input(symbol, step=0.01, format="%.2f", key=key, on_change=_on_custom,
                                    help=f"{symbol} ≥ 1; the paper's grid search gave "
                                         f"α={effnet.ALPHA}, β={effnet.BETA}, γ={effnet.GAMMA}")
            ratio = effnet.flops_ratio_per_phi(
                st.session_state["alpha"], st.session_state["beta"], st.session_state["gamma"]
            )
            st.metric("α·β²·γ² (FLOPs × per unit of φ)", f"{ratio:.3f}", delta=f"{ratio - 2:+.3f} vs 2",
                      delta_color="off", help="The paper constrains α·β²·γ² ≈ 2, so FLOPs grow about 2^φ.")
        else:
            snapped = st.session_state.pop(_SNAPPED, None)
            if snapped:
                st.caption(snapped)
            st.slider("Depth × (layers)", *DEPTH_RANGE[:2], step=DEPTH_RANGE[2], key="depth", on_change=_on_custom)
            st.slider("Width × (channels)", *WIDTH_RANGE[:2], step=WIDTH_RANGE[2], key="width", on_change=_on_custom)
            st.slider("Resolution (pixels)", *RESOLUTION_RANGE[:2], step=RESOLUTION_RANGE[2], key="resolution",
                      on_change=_on_custom)

    values = {key: st.session_state[key] for key in CONTROL_KEYS}
    error = None
    try:
        config = requested_config(values)
        st.session_state[_LAST_GOOD] = config
    except effnet.ConfigError as refusal:
        config = st.session_state.get(_LAST_GOOD) or requested_config(DEFAULTS)
        where = f"φ={values['phi']:g} with α={values['alpha']:g}: " if mode == "Compound" else ""
        # Compound mode has no resolution slider: its networks may pass the Manual slider's end, up to the limit
        past = (f" (the compound rule may go past the Manual slider's {RESOLUTION_RANGE[1]} px, up to "
                f"{effnet.scaling.RESOLUTION_RANGE[1]} px)") if mode == "Compound" and "resolution" in str(refusal) else ""
        error = f"{where}{refusal}{past} (showing the last valid configuration, {config.label})"
    build_error = None
    try:
        effnet.check_buildable(config)
    except effnet.ConfigError as refusal:
        build_error = str(refusal)

    pinned = url_state.decode_pin(st.session_state["pin"]) if st.session_state["pin"] else None
    with st.sidebar:
        st.caption(f"Showing: {config.label}")
        if pinned is None:
            st.button("Pin this configuration", key="pin_button", icon=":material/push_pin:", on_click=_on_pin,
                      help="Keep it on screen while you move the sliders: both side by side, in the metrics, "
                           "the stage table and charts ① to ③. The pin is kept in the link.")
        else:
            st.caption(f":material/push_pin: Pinned: {pinned.label}")
            left, right = st.columns(2)
            left.button("Pin this instead", key="repin_button", on_click=_on_pin)
            right.button("Unpin", key="unpin_button", on_click=_on_unpin)
        st.divider()
        st.toggle("Projector mode", key="projector",
                  help="Larger type and charts, readable from the back of a room; collapse the sidebar with « "
                       "to give the page the whole screen. The address bar then holds a link that opens the lab so.")
        if not st.session_state["projector"]:
            st.page_link("views/build.py", label="Open the lab in projector mode", icon=":material/cast_for_education:",
                         query_params={"projector": "1"})
    projector.apply(st.session_state["projector"])

    url_state.write_url()
    selection = Selection(
        config=config,
        mode=mode,
        alpha=float(values["alpha"]),
        beta=float(values["beta"]),
        gamma=float(values["gamma"]),
        error=error,
        build_error=build_error,
        link_warnings=tuple(link_warnings),
        pinned=pinned,
    )
    st.session_state[_SELECTION] = selection
    return selection
