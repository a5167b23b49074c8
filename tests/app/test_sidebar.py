"""The sidebar's scaling controls and the URL that keeps them (AppTest)."""

from __future__ import annotations

import pytest
import torchvision
from streamlit.testing.v1 import AppTest

from app_helpers import LITE_PARAMS, MAIN, PTFLOPS_GMACS, PUBLISHED, TIMEOUT, build_metrics, exact_params, metric, no_exception, number, quantity, torchvision_params


# --- the scaling controls -----------------------------------------------------------------------
def test_default_is_compound_phi_zero_with_b0_size(app):
    assert app.radio(key="mode").value == "Compound"
    assert app.slider(key="phi").value == 0.0
    assert exact_params(app) == torchvision_params("b0")
    assert metric(app, "Parameters") == "5.29 M"
    assert quantity(metric(app, "FLOPs")) == pytest.approx(PTFLOPS_GMACS["B0"] * 1e9, rel=0.005)
    assert metric(app, "Resolution") == "224 px"
    assert all(build_metrics(app).values())
    assert {c.key for c in app.get("plotly_chart")} == {"chart_flops_phi", "chart_stages", "chart_accuracy", "chart_constraint", "chart_roofline",
                                                       "chart_layers_roofline", "chart_layers_groups",
                                                       "chart_latency_parts", "chart_latency_presets"}


def test_compound_mode_follows_the_papers_formula(app):
    app.slider(key="phi").set_value(3.0).run()
    no_exception(app)
    alpha, beta, gamma = 1.2, 1.1, 1.15  # paper, Section 3.3
    assert number(metric(app, "Depth ×")) == pytest.approx(alpha**3, abs=0.005)
    assert number(metric(app, "Width ×")) == pytest.approx(beta**3, abs=0.005)
    resolution = 224 * gamma**3
    assert abs(number(metric(app, "Resolution")) - resolution) <= 4  # rounded to a multiple of 8
    app.number_input(key="alpha").set_value(1.3).run()
    assert number(metric(app, "α·β²·γ² (FLOPs × per unit of φ)")) == pytest.approx(1.3 * beta**2 * gamma**2, abs=0.0005)
    assert number(metric(app, "Depth ×")) == pytest.approx(1.3**3, abs=0.005)


def test_manual_mode_matches_torchvision_at_any_multipliers(app):
    app.radio(key="mode").set_value("Manual").run()
    app.slider(key="depth").set_value(2.0).run()
    app.slider(key="width").set_value(1.5).run()
    app.slider(key="resolution").set_value(320).run()
    no_exception(app)
    from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf

    settings, last_channel = _efficientnet_conf("efficientnet_b0", width_mult=1.5, depth_mult=2.0)
    reference = sum(p.numel() for p in EfficientNet(settings, dropout=0.2, last_channel=last_channel).parameters())
    assert exact_params(app) == reference
    assert quantity(metric(app, "Parameters")) == pytest.approx(reference, rel=0.005)
    assert metric(app, "Resolution") == "320 px"
    assert app.selectbox(key="preset").value == "Custom"


@pytest.mark.parametrize("preset", list(PUBLISHED))
def test_each_preset_sets_the_sliders_and_the_metrics(app, preset):
    app.selectbox(key="preset").set_value(preset).run()
    no_exception(app)
    width, depth, resolution = PUBLISHED[preset]
    assert app.radio(key="mode").value == "Manual"
    assert app.slider(key="depth").value == pytest.approx(depth)
    assert app.slider(key="width").value == pytest.approx(width)
    assert app.slider(key="resolution").value == resolution
    assert metric(app, "Resolution") == f"{resolution} px"
    expected = LITE_PARAMS[preset] if preset.startswith("Lite") else torchvision_params(preset)
    assert exact_params(app) == expected
    if preset in PTFLOPS_GMACS:
        assert quantity(metric(app, "FLOPs")) == pytest.approx(PTFLOPS_GMACS[preset] * 1e9, rel=0.005)
    # The explicit preset-versus-compound note: B1 is d1.1 w1 r240 although 1.2^1 = 1.2.
    note = " ".join(i.value for i in app.info)
    assert f"w{width:g} r{resolution}" in note and "compound(φ=" in note


# --- the URL --------------------------------------------------------------------------------------
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


