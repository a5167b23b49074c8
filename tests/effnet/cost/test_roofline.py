"""The roofline: the arithmetic on the datasheet table, the CPU probe, and the chart in AppTest."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import effnet
from effnet.cost.devices import DEVICES
from effnet.cost.roofline import probe_cpu


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
