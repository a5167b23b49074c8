"""The roofline: device table against effnet.cost.latency's, the arithmetic, and the chart in AppTest."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import effnet
from effnet.cost import latency
from effnet.cost.roofline import DEVICES, probe_cpu


@pytest.mark.parametrize("name", ["H100 SXM", "H200 SXM", "A100 SXM 80GB", "L4", "T4"])
def test_compute_peaks_agree_with_the_latency_table(name: str) -> None:
    device = DEVICES[name]
    gpu = "NVIDIA " + name.replace(" SXM 80GB", "").replace(" SXM", "")
    assert device.peak_tflops["float16"] == latency.peak_tflops(gpu, "float16")
    assert device.peak_tflops["float32"] == latency.peak_tflops(gpu, "float32", tf32=False)
    assert device.source


def test_roof_and_ridge() -> None:
    h200 = DEVICES["H200 SXM"]
    assert h200.ridge("float16") == pytest.approx(989.4e12 / 4.8e12)
    assert h200.attainable(4.5, "float16") == pytest.approx(4.5 * 4.8e12)  # a depthwise 3x3: memory-bound
    assert h200.attainable(1e4, "float16") == pytest.approx(989.4e12)


def test_cpu_probe_gives_positive_figures() -> None:
    cpu = probe_cpu(seconds=0.2)
    assert cpu.peak_tflops["float32"] > 0 and cpu.bandwidth_gb_s > 0


@pytest.mark.parametrize("name", list(effnet.PRESETS))
def test_roofline_renders_for_every_preset(name: str) -> None:
    app = AppTest.from_file("../../../app/main.py", default_timeout=120)
    # the preset selectbox's label, as a link writes it (B0, Lite0, V2-S)
    app.query_params["preset"] = name.upper().replace("_", "-") if name.startswith("v2_") else name
    app.run()
    assert not app.exception
    sentence = [m.value for m in app.markdown if "roof turns flat" in m.value]
    assert len(sentence) == 1 and effnet.preset(name).label in sentence[0]
