"""The sidebar's state in the URL: what each control may hold, and the link that reopens a view.

The codec is pure (plain values in, plain values out, no Streamlit): `parse_value` reads one query
parameter as its control's type, `read_link` applies a whole link to the controls' values, `url_for`
writes the values back as query parameters, and `encode_pin` / `decode_pin` carry a pinned
configuration. Three functions connect it to the running app: `apply_url` and `write_url` (called by
the sidebar, app.components.controls, before and after it draws its widgets) and `take_url_param`
(one-shot parameters such as Learn's `focus`).

Why this is a component and not a service: it reads and writes st.query_params and the widgets'
st.session_state, which belong to one browser session; services hold what is shared and cached.

Why the URL is synchronised by hand rather than with `bind="query-params"`: in Streamlit 1.67 a bound
widget makes `st.switch_page` fail ("Cannot clear query parameters - ... bound to widgets") and
ignores the query string of an `st.page_link` inside a session, and it drops an out-of-range value
from a link silently. Here a link (shared or from the Learn page) is read whenever the URL differs
from what the app last wrote, every value is checked with a one-line message, and the current state
is written back, so the address bar always holds a link that reopens this view.
"""

from __future__ import annotations

import math
from typing import Mapping

import effnet
import streamlit as st

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
_RANGES = {"phi": PHI_RANGE, "depth": DEPTH_RANGE, "width": WIDTH_RANGE, "resolution": RESOLUTION_RANGE}

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
# The preset first: it sets the family, the mode and the sliders, which the link may then refine.
_LINK_ORDER = ("preset",) + tuple(key for key in CONTROL_KEYS if key != "preset")
_URL_WRITTEN = "_controls_url_written"  # session state: the query parameters this app wrote last


# ---------------------------------------------------------------------------------------------
# The codec: pure functions of plain values
# ---------------------------------------------------------------------------------------------
def parse_value(key: str, raw: str) -> object:
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
    if key in _RANGES:
        low, high, _ = _RANGES[key]
        if not low <= number <= high:
            raise ValueError(f"{key}={text} in the link is outside the slider's range {low:g} to {high:g}")
    if key == "resolution":
        return int(round(number))
    return number  # alpha, beta, gamma: effnet.compound checks them and explains a refusal


def preset_values(label: str) -> dict[str, object]:
    """The control values a preset sets (Manual mode, its family, d, w, r); {} for Custom."""
    if label == CUSTOM:
        return {}
    config = effnet.preset(label)
    family = PRESET_LABELS[config.name][:4] if config.is_v2 else "Lite" if config.is_lite else "B"
    return {"mode": "Manual", "family": family, "depth": config.depth, "width": config.width,
            "resolution": config.resolution}


def read_link(url: Mapping[str, str], values: Mapping[str, object]) -> tuple[dict[str, object], list[str]]:
    """The control values after following the link `url` from `values`: (the values that change, one
    warning line for each parameter that was refused, naming it and the value kept instead)."""
    result = {key: values.get(key, DEFAULTS[key]) for key in CONTROL_KEYS}
    warnings = []
    for key in _LINK_ORDER:
        if key in url:
            try:
                result[key] = parse_value(key, url[key])
            except ValueError as error:
                warnings.append(f"{error}; kept {key} = {result[key]}")
            else:
                if key == "preset":
                    result.update(preset_values(result["preset"]))
    if result["mode"] == "Compound":
        result["preset"] = CUSTOM  # a preset is a manual setting (it is not on the compound curve)
    changed = {key: value for key, value in result.items() if key not in values or values[key] != value}
    return changed, warnings


def url_for(values: Mapping[str, object]) -> dict[str, str]:
    """The query parameters of `values`: those of the current mode that differ from the defaults."""
    keys = ["preset", "family", "mode"]
    keys += ["phi", "alpha", "beta", "gamma"] if values["mode"] == "Compound" else ["depth", "width", "resolution"]
    keys += ["projector", "pin"]
    wanted = {}
    for key in keys:
        value = values[key]
        if value != DEFAULTS[key]:
            if isinstance(value, bool):
                wanted[key] = "1" if value else "0"
            else:
                wanted[key] = f"{value:g}" if isinstance(value, float) else str(value)
    return wanted


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


# ---------------------------------------------------------------------------------------------
# The running app: st.query_params and the widgets' session state
# ---------------------------------------------------------------------------------------------
def apply_url() -> list[str]:
    """Copy values from the URL into the widgets' state when the URL came from outside; the warnings."""
    url = st.query_params.to_dict()
    if url == st.session_state.get(_URL_WRITTEN):
        return []
    changed, warnings = read_link(url, {key: st.session_state[key] for key in CONTROL_KEYS if key in st.session_state})
    for key, value in changed.items():
        st.session_state[key] = value
    return warnings


def write_url() -> None:
    """Put the state that differs from the defaults in the URL: a link that reopens this view."""
    wanted = url_for({key: st.session_state[key] for key in CONTROL_KEYS})
    # Keep parameters that are not ours (e.g. embed options).
    wanted.update({k: v for k, v in st.query_params.to_dict().items() if k not in CONTROL_KEYS})
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
