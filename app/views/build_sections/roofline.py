"""The roofline chart of Build & profile: each stage a point under the roof of a chosen device.

Intensity and FLOPs come from the closed form (effnet.cost.traffic), so the stage points are predictions:
the best the device could do for that stage. The whole network's measured point appears after a
latency run of the same configuration (its batch and dtype).
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st

import effnet
from app.components import charts, projector, units, url_state
from app.components.text import escape_markdown
from app.services import roofline as roofline_service
from effnet.cost.devices import DEVICES, Device
from effnet.cost.traffic import traffic

CPU = "This CPU (probe)"
# Similar ImageNet accuracy (torchvision's weights: B4 83.4%, V2-S 84.2%)
SIMILAR = ("b4", "v2_s")


def figure(device: Device, dtype: str, rows: list[dict], label: str, measured: dict | None = None) -> go.Figure:
    """Log-log roofline: the roof, one marker a stage (name, intensity, attainable), the measured point."""
    peak, ridge = device.peak_tflops[dtype] * 1e12, device.ridge(dtype)
    low = min([r["intensity"] for r in rows] + [ridge / 100]) / 2
    high = max([r["intensity"] for r in rows] + [ridge * 10]) * 2
    xs = [low * (high / low) ** (i / 60) for i in range(61)]
    fig = go.Figure()
    fig.add_scatter(x=xs, y=[device.attainable(x, dtype) for x in xs], mode="lines", name=f"roof: {device.name}",
                    line=dict(color=charts.COLORS["grey"], width=3),
                    hovertemplate="%{x:.3g} FLOP/B → %{customdata}<extra></extra>",
                    customdata=[units.si(device.attainable(x, dtype), "FLOP/s") for x in xs])
    fig.add_scatter(x=[r["intensity"] for r in rows], y=[r["attainable"] for r in rows], mode="markers+text",
                    text=[r["name"] for r in rows], textposition="top center", name=f"{label}: stages (predicted)",
                    marker=dict(size=13, color=charts.COLORS["actual"]),
                    customdata=[[units.si(r["attainable"], "FLOP/s"), units.binary_bytes(r["bytes"])] for r in rows],
                    hovertemplate="stage %{text}: %{x:.3g} FLOP/B, at most %{customdata[0]} (moves %{customdata[1]})<extra></extra>")
    if measured is not None:
        fig.add_scatter(x=[measured["intensity"]], y=[measured["flops"]], mode="markers", name="whole network (measured)",
                        marker=dict(size=16, symbol="star", color=charts.COLORS["two"]),
                        customdata=[units.si(measured["flops"], "FLOP/s")],
                        hovertemplate="measured: %{customdata} at %{x:.3g} FLOP/B<extra></extra>")
    ticks = [10.0**k for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]
    ymin = min(device.attainable(low, dtype), *(r["attainable"] for r in rows), *( [measured["flops"]] if measured else []))
    yticks = [10.0**k for k in range(math.floor(math.log10(ymin)), math.ceil(math.log10(peak)) + 1)]
    fig.update_xaxes(type="log", title="arithmetic intensity (FLOP per byte moved)",
                     tickvals=ticks, ticktext=[units.si(t) for t in ticks])
    fig.update_yaxes(type="log", title="FLOP/s", tickvals=yticks, ticktext=[units.si(t) for t in yticks])
    return charts._layout(fig, f"Roofline on {device.name}, {dtype}",
                          f"ridge at {ridge:.3g} FLOP/B · {device.source}", height=480, legend=charts.LEGEND_BELOW, bottom=110)


BATCHES = (1, 8, 32, 128)


def take_case_from_url() -> None:
    """A Learn link's case (roofline_device, roofline_dtype, roofline_batch in the URL): set the pickers
    once, before they are drawn, so the chart shows what the link's sentence describes. A value that is
    not offered is named in one line and ignored."""
    for name, offered in (("roofline_device", tuple(DEVICES)), ("roofline_dtype", None),
                          ("roofline_batch", tuple(map(str, BATCHES)))):
        if offered is None:  # the precisions of the device chosen (a T4 has no bfloat16)
            offered = tuple(DEVICES.get(st.session_state.get("roofline_device"), DEVICES["H100 SXM"]).peak_tflops)
        value = url_state.take_url_param(name)
        if value is None:
            continue
        if value in offered:
            st.session_state[name] = int(value) if name == "roofline_batch" else value
        else:
            st.warning(f"{name}={escape_markdown(value)} in the link is not one of {', '.join(offered)}; ignored")


def section(config: effnet.ScalingConfig) -> None:
    """The roofline for `config`: device, batch and dtype pickers, the chart, a sentence on what binds."""
    st.subheader("Roofline: why few FLOPs is not fast")
    take_case_from_url()
    left, middle, right = st.columns(3)
    device_name = left.selectbox("Roofline device", tuple(DEVICES) + (CPU,), key="roofline_device")
    batch = int(middle.selectbox("Roofline batch (images)", BATCHES, key="roofline_batch"))
    device = roofline_service.cpu_roof() if device_name == CPU else DEVICES[device_name]
    dtypes = tuple(device.peak_tflops)
    dtype = right.radio("Roofline precision", dtypes, key="roofline_dtype", horizontal=True) if len(dtypes) > 1 else dtypes[0]
    if dtype not in dtypes:
        dtype = dtypes[0]
    moved = traffic(config, batch, dtype)
    rows = [{"name": str(s.stage.index), "intensity": s.intensity, "attainable": device.attainable(s.intensity, dtype),
             "bytes": s.memory_bytes, "kind": s.stage.kind} for s in moved.stages]
    measured = None
    stored = st.session_state.get("latency_result")  # written by the latency panel below
    if stored and stored[0] == config.label:
        result = stored[1]
        if result.resolution == config.resolution:
            at = traffic(config, result.batch, result.dtype)
            measured = {"intensity": at.intensity, "flops": result.achieved_tflops * 1e12}
    st.plotly_chart(projector.figure(figure(device, dtype, rows, config.label, measured)), key="chart_roofline",
                    config=charts.export_config("roofline"), theme=projector.theme())
    ridge = device.ridge(dtype)
    bound = [r["name"] for r in rows if r["intensity"] < ridge]
    st.markdown(
        f"On {device.name} in {dtype} the roof turns flat at {ridge:.3g} FLOP per byte: "
        + (f"{'stage' if len(bound) == 1 else 'stages'} {', '.join(bound)} of {config.label} "
           f"{'is' if len(bound) == 1 else 'are'} memory-bound (left of the ridge), "
           if bound else f"every stage of {config.label} is compute-bound, ")
        + f"and the whole network at batch {batch} does {moved.intensity:.3g} FLOP per byte "
          f"({units.binary_bytes(moved.memory_bytes)} moved)."
    )
    similar = {name: traffic(effnet.preset(name), batch, dtype) for name in SIMILAR}
    b4, v2 = similar["b4"], similar["v2_s"]
    st.caption(
        f"At similar accuracy (torchvision's weights: B4 83.4 %, V2-S 84.2 %), EfficientNet-B4 does "
        f"{b4.intensity:.3g} FLOP/B and at most {units.si(device.attainable(b4.intensity, dtype), 'FLOP/s')}; "
        f"EfficientNetV2-S does {v2.intensity:.3g} FLOP/B, at most {units.si(device.attainable(v2.intensity, dtype), 'FLOP/s')}: "
        "Fused-MBConv trades depthwise convolutions for dense ones that do more arithmetic per byte. "
        "Stage points are predictions from the closed-form traffic (one kernel a layer, no cache reuse); "
        + ("the star is the measured latency run." if measured else
           "measure the latency below to add the whole network's measured point (same batch and dtype).")
    )
