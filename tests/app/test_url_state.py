"""app.components.url_state: the sidebar's state in the URL.

First the codec as plain functions, without running the app: each link parameter read, or refused
in one line; the values written back; a pin's round trip; a link that reopens the values it came
from. Then the same links in the running app (AppTest). References: the paper's presets (Tan & Le
2019, Table 2 as torchvision builds them: B4 is d1.8 w1.4 r380), torchvision's parameter counts and
ptflops' multiply-adds, and the slider ranges the sidebar draws.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import effnet
from app.components import url_state
from app.components.url_state import CUSTOM, DEFAULTS, decode_pin, encode_pin, parse_value, read_link, url_for
from app_helpers import MAIN, PTFLOPS_GMACS, TIMEOUT, exact_params, metric, no_exception, number, quantity, torchvision_params


# --- the codec, as plain functions -------------------------------------------------------------
@pytest.mark.parametrize(("key", "raw", "expected"), [
    ("mode", "manual", "Manual"), ("mode", "Compound φ", "Compound"), ("family", "lite", "Lite"),
    ("family", "v2-s", "V2-S"), ("projector", "on", True), ("projector", "0", False), ("preset", "b4", "B4"),
    ("preset", "v2-m", "V2-M"), ("phi", " 3.1 ", 3.1), ("resolution", "321.6", 322), ("alpha", "1.3", 1.3),
    ("pin", "b-d2-w1.5-r320", "b-d2-w1.5-r320"),
])
def test_each_parameter_is_read_as_its_controls_type(key, raw, expected):
    value = parse_value(key, raw)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(("key", "raw", "named"), [
    ("mode", "Sideways", "not one of Compound, Manual"), ("family", "C", "not one of B, Lite"),
    ("projector", "maybe", "not 1 or 0"), ("preset", "B9", "not one of Custom, B0"),
    ("phi", "12", "outside the slider's range 0 to 8"), ("resolution", "2048", "range 32 to 1024"),
    ("depth", "abc", "not a number"), ("width", "nan", "not a finite number"), ("gamma", "inf", "not a finite number"),
    ("pin", "b-d99-w1-r224", "pin=b-d99-w1-r224 in the link"), ("pin", "hello", "not a preset name"),
])
def test_a_refused_parameter_is_one_line_naming_it_and_what_is_accepted(key, raw, named):
    with pytest.raises(ValueError) as refusal:
        parse_value(key, raw)
    message = str(refusal.value)
    assert named in message and message.startswith(f"{key}=") and "\n" not in message


def test_a_preset_link_sets_the_papers_multipliers_in_manual_mode():
    changed, warnings = read_link({"preset": "B4"}, DEFAULTS)
    assert not warnings
    # Table 2 / torchvision's efficientnet_b4: width 1.4, depth 1.8, 380 px
    assert changed == {"preset": "B4", "mode": "Manual", "depth": 1.8, "width": 1.4, "resolution": 380}
    assert url_state.preset_values(CUSTOM) == {}
    assert url_state.preset_values("Lite2")["family"] == "Lite" and url_state.preset_values("V2-S")["family"] == "V2-S"


def test_a_link_refines_the_preset_and_a_bad_value_keeps_what_was_there():
    changed, warnings = read_link({"preset": "B2", "resolution": "300", "depth": "99"}, DEFAULTS)
    assert changed["resolution"] == 300 and changed["depth"] == 1.2  # B2's depth kept, the link's 99 refused
    assert warnings == ["depth=99 in the link is outside the slider's range 0.1 to 8; kept depth = 1.2"]


def test_compound_mode_drops_a_preset():
    changed, _ = read_link({"mode": "Compound", "phi": "2"}, {**DEFAULTS, "preset": "B1", "mode": "Manual"})
    assert changed == {"preset": CUSTOM, "mode": "Compound", "phi": 2.0}


def test_the_url_holds_only_what_differs_from_the_defaults_in_the_current_mode():
    assert url_for(DEFAULTS) == {}
    values = {**DEFAULTS, "phi": 2.5, "depth": 3.0, "projector": True, "pin": "b0"}
    assert url_for(values) == {"phi": "2.5", "projector": "1", "pin": "b0"}  # depth belongs to Manual mode
    manual = {**DEFAULTS, "mode": "Manual", "depth": 2.0, "width": 1.5, "resolution": 320, "phi": 2.5}
    assert url_for(manual) == {"mode": "Manual", "depth": "2", "width": "1.5", "resolution": "320"}


@pytest.mark.parametrize("values", [
    {**DEFAULTS, "phi": 3.1, "alpha": 1.25},
    {**DEFAULTS, "mode": "Manual", "family": "Lite", "depth": 2.05, "width": 0.35, "resolution": 612},
    {**DEFAULTS, "mode": "Manual", "preset": "B7", "depth": 3.1, "width": 2.0, "resolution": 600, "projector": True},
])
def test_a_written_link_reads_back_to_the_same_values(values):
    changed, warnings = read_link(url_for(values), DEFAULTS)
    assert not warnings and {**DEFAULTS, **changed} == values


@pytest.mark.parametrize("config", [
    effnet.preset("b4"), effnet.preset("lite2"), effnet.preset("v2_s"),
    effnet.ScalingConfig(depth=2.0, width=1.5, resolution=320),
    effnet.ScalingConfig(depth=1.25, width=0.75, resolution=196, variant="lite"),
    effnet.ScalingConfig(depth=1.5, width=1.2, resolution=384, variant="b", stage_table="v2_m"),
])
def test_a_pin_round_trips_to_a_network_with_the_same_profile(config):
    text = encode_pin(config)
    assert text.replace("-", "").replace(".", "").replace("_", "").isalnum()  # URL-safe as it stands
    decoded = decode_pin(text)
    assert effnet.profile(decoded).params == effnet.profile(config).params
    assert effnet.profile(decoded).macs == effnet.profile(config).macs
    assert decoded.resolution == config.resolution


# --- the URL in the running app (AppTest) -------------------------------------------------------
def test_a_link_opens_the_same_state():
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.query_params["phi"] = "3"
    at.run()
    no_exception(at)
    assert at.slider(key="phi").value == 3.0
    assert abs(number(metric(at, "Resolution")) - 224 * 1.15**3) <= 4

    manual = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    manual.query_params.update({"mode": "Manual", "depth": "2", "width": "1.5", "resolution": "320"})
    manual.run()
    assert manual.radio(key="mode").value == "Manual"
    assert (manual.slider(key="depth").value, manual.slider(key="width").value) == (2.0, 1.5)
    assert metric(manual, "Resolution") == "320 px"

    preset = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    preset.query_params["preset"] = "B4"
    preset.run()
    assert exact_params(preset) == torchvision_params("b4")


def test_the_url_follows_the_controls(app):
    app.slider(key="phi").set_value(2.5).run()
    assert app.query_params.get("phi") == "2.5"
    app.selectbox(key="preset").set_value("B3").run()
    assert app.query_params.get("preset") == "B3" and app.query_params.get("mode") == "Manual"


def test_projector_mode_lives_in_the_url(app):
    assert not app.get("html")  # no style sheet in the ordinary view
    app.toggle(key="projector").set_value(True).run()
    no_exception(app)
    assert app.query_params.get("projector") == "1"
    assert any("font-size: 22px" in h.proto.body for h in app.get("html"))
    link = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    link.query_params.update({"projector": "1", "phi": "2"})
    link.run()
    assert link.toggle(key="projector").value is True and link.slider(key="phi").value == 2.0
    bad = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    bad.query_params["projector"] = "maybe"
    bad.run()
    assert any("projector='maybe'" in w.value.replace("\\", "") for w in bad.warning) and bad.toggle(key="projector").value is False


def test_pin_and_compare_keeps_both_side_by_side_and_in_the_url(app):
    import json

    app.selectbox(key="preset").set_value("B0").run()
    app.button(key="pin_button").click().run()
    app.selectbox(key="preset").set_value("B4").run()
    no_exception(app)
    assert app.query_params.get("pin") == "b0" and app.query_params.get("preset") == "B4"
    figures = app.table[0].value.set_index("")
    ratio = torchvision_params("b4") / torchvision_params("b0")  # 19,341,616 / 5,288,548
    assert quantity(figures.loc["Parameters", "Current ÷ pinned"].lstrip("×")) == pytest.approx(ratio, rel=0.005)
    assert quantity(figures.loc["FLOPs (multiply-adds)", "Current ÷ pinned"].lstrip("×")) == pytest.approx(
        PTFLOPS_GMACS["B4"] / PTFLOPS_GMACS["B0"], rel=0.01)
    assert figures.loc["Resolution", "Pinned"] == "224 px" and figures.loc["Resolution", "Current"] == "380 px"
    stages = app.table[1].value
    assert list(stages["Layers"])[1:8] == ["1 → 2", "2 → 4", "2 → 4", "3 → 6", "3 → 6", "4 → 8", "1 → 2"]  # Table 1 × 1.8
    charts_with_pin = [c for c in app.get("plotly_chart") if "pinned B0" in json.dumps(json.loads(c.proto.spec))]
    assert len(charts_with_pin) == 3  # charts ① to ③

    link = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    link.query_params.update(dict(app.query_params))
    link.run()
    no_exception(link)
    assert link.table[0].value.set_index("").loc["Parameters", "Pinned"] == "5.29 M"
    link.button(key="unpin_button").click().run()
    assert "pin" not in link.query_params and not any("Pinned" in t.value.columns for t in link.table)

    bad = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    bad.query_params["pin"] = "b-d99-w1-r224"
    bad.run()
    no_exception(bad)
    assert any("pin=b-d99-w1-r224" in w.value.replace("\\", "") for w in bad.warning)


def test_an_out_of_range_link_is_named_and_ignored():
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.query_params.update({"phi": "12", "mode": "Sideways"})
    at.run()
    no_exception(at)
    warnings = [w.value.replace("\\", "") for w in at.warning]
    assert any("phi=12" in w for w in warnings) and any("Sideways" in w for w in warnings)
    assert at.slider(key="phi").value == 0.0
    assert metric(at, "Resolution") == "224 px"


