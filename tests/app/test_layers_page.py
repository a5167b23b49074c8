"""The Build page's layer section under AppTest: the table follows the kind filter and the sliders, the
top ten and the CSV are there, and the ONNX button exports a small network and refuses B7 in one line.
The layer counts are counted here from the built torch module, not taken from effnet.layers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import effnet
from effnet.model import EfficientNet

MAIN = str(Path(__file__).resolve().parents[2] / "app" / "main.py")


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=240)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _layer_table(at: AppTest):
    return next(frame for frame in at.dataframe if "Layer" in frame.value.columns and "Share %" in frame.value.columns).value


def _module_count(config: effnet.ScalingConfig, kind: type) -> int:
    with torch.device("meta"):
        model = EfficientNet(config)
    if kind is torch.nn.Conv2d:  # depthwise: a convolution with one group a channel
        return sum(isinstance(m, kind) and m.groups == m.in_channels > 1 for m in model.modules())
    return sum(isinstance(m, kind) for m in model.modules())


def test_the_layer_table_filters_by_kind_and_follows_the_preset(app):
    table = _layer_table(app)
    b0 = effnet.preset("b0")
    assert (table["Kind"] == "depthwise").sum() == _module_count(b0, torch.nn.Conv2d)  # 16 blocks, one depthwise each
    assert (table["Kind"] == "bn").sum() == _module_count(b0, torch.nn.BatchNorm2d)
    assert table["Share %"].sum() == pytest.approx(100.0, rel=1e-6)
    assert table["Params"].sum() == sum(p.numel() for p in effnet.build(b0).parameters())
    app.multiselect(key="layers_kinds").set_value(["depthwise"]).run()
    assert set(_layer_table(app)["Kind"]) == {"depthwise"}
    app.multiselect(key="layers_kinds").set_value(["conv", "depthwise", "se", "linear", "bn", "act", "pool", "scale", "add"]).run()
    app.selectbox(key="preset").set_value("V2-S").run()
    assert not app.exception
    table = _layer_table(app)
    assert (table["Kind"] == "bn").sum() == _module_count(effnet.preset("v2_s"), torch.nn.BatchNorm2d)
    top = next(t for t in app.table if "Share" in t.value.columns and "Bound" in t.value.columns).value
    assert len(top) == 10
    assert any(b.label == "Download the layer table (CSV)" for b in app.get("download_button"))


def test_the_onnx_button_refuses_b7_in_one_line(app):
    app.selectbox(key="preset").set_value("B7").run()
    app.button(key="onnx_build").click().run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert any("EfficientNet-B7" in e and "MB" in e and "\n" not in e for e in errors), errors
    assert not any("onnx" in b.label.lower() for b in app.get("download_button"))


def test_the_onnx_button_exports_the_current_configuration(app):
    app.radio(key="mode").set_value("Manual").run()
    app.slider(key="depth").set_value(0.5).run()
    app.slider(key="width").set_value(0.5).run()
    app.slider(key="resolution").set_value(96).run()
    app.button(key="onnx_build").click().run()
    assert not app.exception and not app.error
    labels = [b.label for b in app.get("download_button")]
    assert any(label.startswith("Download custom.onnx (") for label in labels), labels
    assert any("untrained" in c.value and "seed 0" in c.value for c in app.caption)


def test_the_latency_panel_shows_onnxruntime_beside_pytorch_on_the_cpu(app):
    from effnet.cost.latency import cuda_available

    if cuda_available():
        pytest.skip("ONNX Runtime is timed beside PyTorch on a CPU-only server")
    app.radio(key="mode").set_value("Manual").run()
    app.slider(key="depth").set_value(0.5).run()
    app.slider(key="resolution").set_value(64).run()
    assert app.checkbox(key="latency_onnxruntime").value  # on by default on the CPU
    app.button(key="latency_run").click().run()
    assert not app.exception and not app.error
    shown = {m.label: m.value for m in app.metric}
    assert shown["PyTorch eager"].endswith("ms") and shown["ONNX Runtime (CPU)"].endswith("ms"), shown
    assert shown["ONNX Runtime speed-up"].startswith("×")
    assert any(c.value.startswith("ONNX Runtime: the CPU") and "64x64" in c.value for c in app.caption)
