"""Learn: formulas, the glossary, Show me links, the roofline section (AppTest)."""

from __future__ import annotations

import torchvision
from streamlit.testing.v1 import AppTest

from app_helpers import MAIN, PTFLOPS_GMACS, TIMEOUT, metric, no_exception, torchvision_params


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
    """Seen on the projector: a section with the roofline formula, figures from effnet.cost.traffic, before the
    glossary and the experiment; its links open Build & profile on the roofline, for B0 and for V2-S."""
    from urllib.parse import parse_qsl

    import effnet
    from effnet.cost.devices import DEVICES
    from effnet.cost.traffic import traffic

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


