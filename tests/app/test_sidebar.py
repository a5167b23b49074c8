"""The sidebar's scaling controls (AppTest); the URL that keeps them: test_url_state.py."""

from __future__ import annotations

import pytest
import torchvision

from app_helpers import LITE_PARAMS, PTFLOPS_GMACS, PUBLISHED, build_metrics, exact_params, metric, no_exception, number, quantity, torchvision_params


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
