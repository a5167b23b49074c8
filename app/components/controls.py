"""The scaling controls in the sidebar, shared by every page, and their state in the URL.

`scaling_sidebar()` draws the widgets and returns a `Selection` (plain values); pages read the same
selection with `current_selection()`. Widget keys: mode, phi, alpha, beta, gamma, depth, width,
resolution, preset (and family: EfficientNet-B or -Lite).

Why the URL is synchronised by hand rather than with `bind="query-params"`: in Streamlit 1.67 a bound
widget makes `st.switch_page` fail ("Cannot clear query parameters - ... bound to widgets") and
ignores the query string of an `st.page_link` inside a session, and it drops an out-of-range value
from a link silently. Here a link (shared or from the Learn page) is read whenever the URL differs
from what the app last wrote, every value is checked with a one-line message, and the current state
is written back, so the address bar always holds a link that reopens this view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import effnet
import streamlit as st

from app.components import projector
from app.components.text import escape_markdown

MODES = ("Compound", "Manual")
MODE_LABELS = {"Compound": "Compound φ", "Manual": "Manual"}
FAMILIES = ("B", "Lite", "V2-S", "V2-M", "V2-L")
# EfficientNetV2's families scale their own stage table (manual depth and width, not the compound rule)
V2_FAMILIES = {"V2-S": "v2_s", "V2-M": "v2_m", "V2-L": "v2_l"}
CUSTOM = "Custom"
PRESET_LABELS = {
    name: name.upper().replace("_", "-") if name.startswith("v2_") else name.replace("lite", "Lite").replace("b", "B")
    for name in effnet.PRESETS
}
PRESET_OPTIONS = (CUSTOM,) + tuple(PRESET_LABELS.values())

# Slider ranges: phi 0..8 covers B0..B7 and a step beyond; depth and width span what ScalingConfig
# accepts; resolutions step by 4 so that every preset (260, 300, 380, ...) is on the slider.
PHI_RANGE = (0.0, 8.0, 0.1)
DEPTH_RANGE = (0.1, 8.0, 0.05)
WIDTH_RANGE = (0.1, 8.0, 0.05)
RESOLUTION_RANGE = (32, 1024, 4)

DEFAULTS: dict[str, object] = {
    "preset": CUSTOM,
    "family": "B",
    "mode": "Compound",
    "phi": 0.0,
    "alpha": effnet.ALPHA,
    "beta": effnet.BETA,
    "gamma": effnet.GAMMA,
    "depth": 1.0,
    "width": 1.0,
    "resolution": effnet.preset("b0").resolution,
    "projector": False,  # large type and charts for the back of a room (app.components.projector)
    "pin": "",  # a pinned configuration to compare with (encode_pin), "" for none; not a widget
}
CONTROL_KEYS = tuple(DEFAULTS)
_LAST_GOOD = "_controls_last_good"
_URL_WRITTEN = "_controls_url_written"
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
# Reading and writing the URL
# ---------------------------------------------------------------------------------------------
def _parse_url_value(key: str, raw: str) -> object:
    """A URL value as the control's type; ValueError with a one-line message if it does not fit."""
    text = raw.strip()
    if key == "mode":
        for mode in MODES:
            if text.lower() in (mode.lower(), MODE_LABELS[mode].lower()):
                return mode
        raise ValueError(f"mode={text!r} in the link is not one of {', '.join(MODES)}")
    if key == "family":
        for family in FAMILIES:
            if text.lower() == family.lower():
                return family
        raise ValueError(f"family={text!r} in the link is not one of {', '.join(FAMILIES)}")
    if key == "projector":
        if text.lower() in ("1", "true", "on", "yes"):
            return True
        if text.lower() in ("0", "false", "off", "no"):
            return False
        raise ValueError(f"projector={text!r} in the link is not 1 or 0")
    if key == "pin":
        decode_pin(text)  # raises ValueError with a one-line message
        return text
    if key == "preset":
        for option in PRESET_OPTIONS:
            if text.lower() == option.lower():
                return option
        raise ValueError(f"preset={text!r} in the link is not one of {', '.join(PRESET_OPTIONS)}")
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{key}={text!r} in the link is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{key}={text!r} in the link is not a finite number")
    ranges = {"phi": PHI_RANGE, "depth": DEPTH_RANGE, "width": WIDTH_RANGE, "resolution": RESOLUTION_RANGE}
    if key in ranges:
        low, high, _ = ranges[key]
        if not low <= number <= high:
            raise ValueError(f"{key}={text} in the link is outside the slider's range {low:g} to {high:g}")
    if key == "resolution":
        return int(round(number))
    return number  # alpha, beta, gamma: effnet.compound checks them and explains a refusal


def encode_pin(config: effnet.ScalingConfig) -> str:
    """A configuration in a few URL-safe characters: a preset by name ('b4'), otherwise
    variant, depth, width and resolution ('b-d2-w1.5-r320'): all that its profile depends on."""
    if config.name:
        return config.name
    family = config.stage_table if config.is_v2 else config.variant
    return f"{family}-d{config.depth:g}-w{config.width:g}-r{config.resolution}"


def decode_pin(text: str) -> effnet.ScalingConfig:
    """The configuration `encode_pin` wrote; ValueError with a one-line message for anything else."""
    text = text.strip().lower()
    if text in effnet.PRESETS:
        return effnet.preset(text)
    parts = text.split("-")
    try:
        variant, depth, width, resolution = parts
        assert depth[0] == "d" and width[0] == "w" and resolution[0] == "r"
        table = variant if variant in V2_FAMILIES.values() else "b0"
        return effnet.ScalingConfig(depth=float(depth[1:]), width=float(width[1:]), resolution=int(resolution[1:]),
                                    variant="b" if table != "b0" else variant, stage_table=table)
    except effnet.ConfigError as refusal:
        raise ValueError(f"pin={text} in the link: {refusal}") from None
    except (ValueError, AssertionError, IndexError):
        raise ValueError(f"pin={text} in the link is not a preset name or like b-d2-w1.5-r320") from None


def _apply_url() -> list[str]:
    """Copy values from the URL into the widgets' state when the URL came from outside."""
    url = st.query_params.to_dict()
    if url == st.session_state.get(_URL_WRITTEN):
        return []
    warnings = []
    # The preset first: it sets the family, the mode and the sliders, which the link may then refine.
    for key in ("preset",) + tuple(k for k in CONTROL_KEYS if k != "preset"):
        if key in url:
            try:
                st.session_state[key] = _parse_url_value(key, url[key])
            except ValueError as error:
                warnings.append(f"{error}; kept {key} = {st.session_state.get(key, DEFAULTS[key])}")
            else:
                if key == "preset":
                    _on_preset()
    if st.session_state["mode"] == "Compound":
        st.session_state["preset"] = CUSTOM  # a preset is a manual setting (it is not on the compound curve)
    return warnings


def _write_url() -> None:
    """Put the state that differs from the defaults in the URL: a link that reopens this view."""
    mode = st.session_state["mode"]
    keys = ["preset", "family", "mode"]
    keys += ["phi", "alpha", "beta", "gamma"] if mode == "Compound" else ["depth", "width", "resolution"]
    keys += ["projector", "pin"]
    wanted = {}
    for key in keys:
        value = st.session_state[key]
        if value != DEFAULTS[key]:
            if isinstance(value, bool):
                wanted[key] = "1" if value else "0"
            else:
                wanted[key] = f"{value:g}" if isinstance(value, float) else str(value)
    # Keep parameters that are not ours (e.g. embed options).
    others = {k: v for k, v in st.query_params.to_dict().items() if k not in CONTROL_KEYS}
    wanted.update(others)
    # Also write when the state changed although the URL already matches: after an st.page_link inside a
    # session the server sees the link's query string while the address bar shows none.
    if st.query_params.to_dict() != wanted or st.session_state.get(_URL_WRITTEN) != wanted:
        st.query_params.from_dict(wanted)
    st.session_state[_URL_WRITTEN] = wanted


def take_url_param(name: str) -> str | None:
    """Remove a one-shot parameter (not a control, e.g. Learn's `focus`) from the URL and return it.

    The record of what the app last wrote drops it too: otherwise the next run would take the
    shortened URL for a new link and reset the sliders the user has just moved."""
    value = st.query_params.get(name)
    if value is None:
        return None
    del st.query_params[name]
    written = dict(st.session_state.get(_URL_WRITTEN) or {})
    written.pop(name, None)
    st.session_state[_URL_WRITTEN] = written
    return value


# ---------------------------------------------------------------------------------------------
# Callbacks: they run before the script, so they may set other widgets' values
# ---------------------------------------------------------------------------------------------
def _snap(value: float, low: float, high: float, step: float) -> float:
    return round(min(high, max(low, round(value / step) * step)), 4)


def _on_preset() -> None:
    label = st.session_state["preset"]
    if label == CUSTOM:
        return
    config = effnet.preset(label)
    st.session_state["mode"] = "Manual"
    st.session_state["family"] = PRESET_LABELS[config.name][:4] if config.is_v2 else "Lite" if config.is_lite else "B"
    st.session_state["depth"] = config.depth
    st.session_state["width"] = config.width
    st.session_state["resolution"] = config.resolution


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
    st.session_state["pin"] = encode_pin(shown)


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
    link_warnings = _apply_url()

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

    pinned = decode_pin(st.session_state["pin"]) if st.session_state["pin"] else None
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

    _write_url()
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
