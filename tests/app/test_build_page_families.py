"""Build & profile read right for every family (AppTest): a published network shown with its published
accuracy in chart ③, V2 compared with V2-S and named after the V2 paper's table, and "Same FLOPs, four
ways" working (or saying in one line what to choose) for the families and φ the sidebar offers.

References from outside the app: the papers' tables (EfficientNet Table 2: B4 82.9 %; the official
EfficientNetV2 table: V2-S 83.9 %, 8.4B), torchvision's V2 block counts.
"""

from __future__ import annotations

import json

import pytest
import torchvision
from streamlit.testing.v1 import AppTest

from app_helpers import metric, no_exception

# the `app` fixture comes from tests/app/conftest.py


def _accuracy_chart(at: AppTest) -> str:
    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id and "chart_accuracy" in c.proto.id]
    return json.dumps(json.loads(chart.proto.spec), ensure_ascii=False)


def _torchvision_blocks(name: str) -> int:
    model = getattr(torchvision.models, f"efficientnet_{name}")(weights=None)
    return sum(len(stage) for stage in model.features[1:-1])  # features: stem, the stages, the head conv


@pytest.mark.parametrize("preset, published", [("B4", "82.9 %"), ("V2-S", "83.9 %")])
def test_chart_3_shows_a_published_preset_with_its_published_accuracy(app, preset, published):
    app.selectbox(key="preset").set_value(preset).run()
    no_exception(app)
    spec = _accuracy_chart(app)
    assert "untrained" not in spec and f"{published} (published)" in spec
    assert any("published" in c.value and published.replace(" ", "") in c.value.replace(" ", "") for c in app.caption)


def test_chart_3_calls_a_custom_configuration_untrained(app):
    app.slider(key="phi").set_value(2.5).run()
    assert "(untrained)" in _accuracy_chart(app)


def test_v2_metrics_compare_with_v2_s_and_the_stage_table_names_the_v2_paper(app):
    app.selectbox(key="preset").set_value("V2-S").run()
    no_exception(app)
    depth = next(m for m in app.metric if m.label == "Depth ×")
    assert depth.proto.delta == "±0 blocks" and depth.proto.delta_description == "vs V2-S"
    assert any(s.value.startswith("Stages of EfficientNetV2-S (the EfficientNetV2 paper's Table 4)") for s in app.subheader)
    captions = " ".join(c.value for c in app.caption)
    assert "prints 8.4B for V2-S" in captions and "B0's 386 M" not in captions

    app.selectbox(key="preset").set_value("V2-M").run()
    no_exception(app)
    depth = next(m for m in app.metric if m.label == "Depth ×")
    more = _torchvision_blocks("v2_m") - _torchvision_blocks("v2_s")  # 57 - 40
    assert depth.proto.delta == f"+{more} blocks" and depth.proto.delta_description == "vs V2-S"
    assert metric(app, "Width ×") == "1.00"
    assert not any("the paper's Table 1" in s.value for s in app.subheader)


def test_the_published_flops_sentence_only_for_a_published_network(app):
    app.selectbox(key="preset").set_value("B4").run()
    assert "the paper prints 4.2B for B4" in " ".join(c.value for c in app.caption)  # Table 2: 4.2B
    app.radio(key="mode").set_value("Compound").run()
    app.slider(key="phi").set_value(2.5).run()
    assert "prints" not in " ".join(c.value for c in app.caption if "multiply-adds" in c.value)


def _same_flops_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "×" in w.value and ("network" in w.value or "base" in w.value)]


@pytest.mark.parametrize("preset", ["V2-S", "V2-M", "V2-L", "Lite0", "Lite4", "B3"])
def test_same_flops_works_at_its_default_for_every_family(app, preset):
    app.selectbox(key="preset").set_value(preset).run()
    no_exception(app)
    assert _same_flops_warnings(app) == []
    (plan,) = [t.value for t in app.table if "Network" in t.value.columns and "Layers" in t.value.columns]
    assert list(plan["Network"]) == ["baseline", "deeper", "wider", "higher resolution", "compound"]
    text = " ".join(c.value for c in app.caption)
    assert "none of these networks was trained" in text


def test_same_flops_at_phi_8_says_why_not_and_what_to_choose(app):
    app.slider(key="phi").set_value(8.0).run()
    no_exception(app)
    (warning,) = _same_flops_warnings(app)
    assert "depth ×8" in warning and "choose a multiple up to 1.7" in warning and "\n" not in warning
    app.number_input(key="same_flops_multiple").set_value(1.7).run()
    no_exception(app)
    assert _same_flops_warnings(app) == []


def test_compound_to_manual_says_what_the_slider_steps_moved(app):
    """compound(φ=3) is d = 1.2³ = 1.728, w = 1.1³ = 1.331 (paper, Eq. 3); the sliders step by 0.05."""
    app.slider(key="phi").set_value(3.0).run()
    app.radio(key="mode").set_value("Manual").run()
    no_exception(app)
    notes = [c.value for c in app.sidebar.caption if "steps of" in c.value]
    assert len(notes) == 1 and "d 1.728 → 1.75" in notes[0] and "w 1.331 → 1.35" in notes[0]
    assert app.slider(key="depth").value == 1.75
    app.slider(key="depth").set_value(2.0).run()  # said once
    assert not [c.value for c in app.sidebar.caption if "steps of" in c.value]


def test_a_compound_resolution_refusal_explains_the_manual_sliders_end(app):
    app.number_input(key="gamma").set_value(1.5).run()
    app.slider(key="phi").set_value(8.0).run()  # 224 × 1.5⁸ ≈ 5,740 px
    no_exception(app)
    (error,) = [e.value for e in app.error]
    assert "resolution" in error and "Manual slider's 1024 px, up to 2048 px" in error and "\n" not in error
