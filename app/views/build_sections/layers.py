"""Every layer of the current configuration: a table, a roofline with one dot a layer, where the time
goes, and the network as an ONNX file.

The figures are effnet.layers' (closed form, cached by value inside effnet: instant up to B7 and
beyond); the times are effnet.cost.predict's, split among the layers, and labelled predicted everywhere.
The ONNX file is the model path: built only when the button is pressed (app.services.exports).
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import effnet
from app.components import charts, projector, units
from app.services import exports
from effnet.cost.devices import DEVICES
from effnet.layers import GROUP_LABELS, LayerProfile, layer_profile, to_csv

BATCHES = (1, 8, 32, 128)
DEFAULT_DEVICE = "H200 SXM"
KIND_COLORS = {"conv": "#1f5fbf", "depthwise": "#d62728", "se": "#2ca02c", "linear": "#7f3fbf", "pool": "#6b7280",
               "scale": "#f59e0b", "add": "#8c564b", "bn": "#9ca3af", "act": "#9ca3af"}
KIND_NAMES = {"conv": "convolution (1×1 or dense k×k)", "depthwise": "depthwise convolution", "se": "squeeze-excite 1×1",
              "linear": "classifier", "bn": "batch norm", "act": "activation", "pool": "pooling", "scale": "SE scale",
              "add": "residual add"}
_ONNX_READY = "onnx_ready"


def options() -> tuple[str, int, str]:
    """(GPU, batch, dtype) for the layer figures: widgets of their own, so the stage roofline keeps its own."""
    left, middle, right = st.columns(3)
    names = tuple(DEVICES)
    device = left.selectbox("Layers: GPU", names, index=names.index(DEFAULT_DEVICE), key="layers_device")
    batch = int(middle.selectbox("Layers: batch (images)", BATCHES, index=BATCHES.index(32), key="layers_batch"))
    dtypes = tuple(DEVICES[device].peak_tflops)
    dtype = right.radio("Layers: precision", dtypes, key="layers_dtype", horizontal=True)
    return device, batch, dtype if dtype in dtypes else dtypes[0]


def roofline_figure(layers: LayerProfile) -> go.Figure:
    """Log-log: the GPU's roof, and each layer that does multiply-adds at its intensity and its predicted
    FLOP/s once running (FLOPs / its predicted GPU time), coloured by kind, sized by its predicted time."""
    prediction = layers.prediction
    device, dtype = prediction.device, layers.dtype
    points = []
    for row in layers.layers:
        if row.macs == 0 or row.bytes == 0:
            continue
        share = row.predicted_ms / prediction.latency_ms
        rate = 2e3 * row.macs * row.batch / row.predicted_gpu_ms if row.predicted_gpu_ms else 0.0
        points.append((row, rate, share))
    intensities = [p[0].intensity for p in points] or [1.0]
    ridge = device.ridge(dtype)
    low, high = min(min(intensities), ridge / 100) / 2, max(max(intensities), ridge * 10) * 2
    xs = [low * (high / low) ** (i / 60) for i in range(61)]
    figure = go.Figure()
    figure.add_scatter(x=xs, y=[device.attainable(x, dtype) for x in xs], mode="lines", name=f"roof: {device.name}",
                       line=dict(color=charts.COLORS["grey"], width=3), hoverinfo="skip")
    largest = max((p[2] for p in points), default=1.0) or 1.0
    for kind in KIND_COLORS:
        chosen = [p for p in points if p[0].kind == kind]
        if not chosen:
            continue
        figure.add_scatter(
            x=[p[0].intensity for p in chosen], y=[max(p[1], 1.0) for p in chosen], mode="markers",
            name=KIND_NAMES[kind], marker=dict(color=KIND_COLORS[kind], size=[6 + 30 * math.sqrt(p[2] / largest) for p in chosen],
                                               line=dict(width=0.5, color="white")),
            text=[p[0].name for p in chosen],
            customdata=[[units.si(p[1], "FLOP/s"), units.duration_ms(p[0].predicted_ms), units.percent(p[2])] for p in chosen],
            hovertemplate="%{text}: %{x:.3g} FLOP/B, %{customdata[0]} predicted, %{customdata[1]} (%{customdata[2]})<extra></extra>",
        )
    floor = min([device.attainable(low, dtype)] + [max(p[1], 1.0) for p in points])
    xticks = [10.0**k for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]
    yticks = [10.0**k for k in range(math.floor(math.log10(floor)), math.ceil(math.log10(device.peak_tflops[dtype] * 1e12)) + 1)]
    figure.update_xaxes(type="log", title="arithmetic intensity (FLOP per byte moved)", tickvals=xticks,
                        ticktext=[units.si(t) for t in xticks])
    figure.update_yaxes(type="log", title="FLOP/s (predicted, once running)", tickvals=yticks, ticktext=[units.si(t) for t in yticks])
    return charts._layout(figure, f"Every layer under the roof of {device.name}, {dtype} (predicted)",
                          f"batch {layers.batch}; dot size: the layer's predicted time · {prediction.label}",
                          height=520, legend=charts.LEGEND_BELOW, bottom=130)


def groups_figure(layers: LayerProfile) -> go.Figure:
    """One horizontal bar a part of the network: its share of the predicted latency."""
    shares = layers.share_by_group()
    names = [GROUP_LABELS[g] for g in shares]
    figure = go.Figure(go.Bar(x=[100 * s for s in shares.values()], y=names, orientation="h",
                              marker_color=charts.COLORS["actual"], text=[units.percent(s) for s in shares.values()],
                              textposition="outside", hovertemplate="%{y}: %{text}<extra></extra>"))
    figure.update_xaxes(title="share of the predicted latency (%)", range=[0, 110 * max(max(shares.values()), 0.01)])
    figure.update_yaxes(autorange="reversed")
    figure = charts._layout(figure, "Where the time goes, by part (predicted)",
                            f"{layers.prediction.device.name}, batch {layers.batch}, {layers.dtype}, eager", height=380)
    figure.update_layout(margin=dict(l=20, r=30), showlegend=False)
    return figure


def table(layers: LayerProfile, kinds: list[str]) -> pd.DataFrame:
    """The layer table with numeric columns (so sorting is numeric), restricted to `kinds`."""
    total = layers.prediction.latency_ms
    columns = ["Layer", "Kind", "Stage", "Input (C×H×W)", "Output (C×H×W)", "Params", "MACs", "Bytes (traffic)", "FLOP/B",
               "Predicted ms", "Share %"]
    rows = [{
        "Layer": row.name, "Kind": row.kind, "Stage": row.stage,
        "Input (C×H×W)": "×".join(map(str, row.input_shape)), "Output (C×H×W)": "×".join(map(str, row.output_shape)),
        "Params": row.params, "MACs": row.macs, "Bytes (traffic)": row.bytes, "FLOP/B": round(row.intensity, 2),
        "Predicted ms": row.predicted_ms, "Share %": 100 * row.predicted_ms / total,
    } for row in layers.layers if row.kind in kinds]
    return pd.DataFrame(rows, columns=columns)


COLUMNS = {
    "Params": st.column_config.NumberColumn(format="compact", help="weights and biases (batch norm: scale and shift)"),
    "MACs": st.column_config.NumberColumn(format="compact", help="multiply-adds per image (the paper's FLOPs)"),
    "Bytes (traffic)": st.column_config.NumberColumn(
        format="compact", help="bytes read and written for the batch, one fused kernel a layer (0: folded into the layer before)"),
    "FLOP/B": st.column_config.NumberColumn(format="%.1f", help="arithmetic intensity: 2 × MACs × batch ÷ bytes"),
    "Predicted ms": st.column_config.NumberColumn(format="%.4f ms", help="predicted eager GPU time of the layer"),
    "Share %": st.column_config.NumberColumn(format="%.2f %%", help="share of the predicted latency"),
}


def section(config: effnet.ScalingConfig, build_error: str | None = None) -> None:
    """The layer section of Build & profile for `config` (in a container a browser test can find)."""
    with st.container(key="layers_section"):
        _layers(config)
    onnx_section(config, build_error)


def _layers(config: effnet.ScalingConfig) -> None:
    st.subheader("Every layer: where the time goes")
    device, batch, dtype = options()
    layers = layer_profile(config, batch, dtype, device)
    prediction = layers.prediction
    st.plotly_chart(projector.figure(roofline_figure(layers)), key="chart_layers_roofline",
                    config=charts.export_config("layers_roofline"), theme=projector.theme())
    ridge = prediction.device.ridge(dtype)
    computing = [row for row in layers.layers if row.macs]
    below = sum(row.intensity < ridge for row in computing)
    st.caption(f"{below} of {len(computing)} layers that multiply are left of the ridge ({ridge:.3g} FLOP/B): "
               f"memory-bound on {prediction.device.name} in {dtype}. Times are predicted (effnet.cost.predict, "
               f"{prediction.calibration_note}), not measured; a dot's height leaves out the launch wait.")
    left, right = projector.columns([3, 2])  # one under the other on a projector: each needs the width
    with left:
        st.markdown(f"**Top ten layers by predicted time** (of {units.duration_ms(prediction.latency_ms)} "
                    f"predicted for batch {batch})")
        top = pd.DataFrame([{"Layer": row.name, "Kind": row.kind,
                             "Predicted": units.duration_ms(row.predicted_ms),
                             "Share": units.percent(row.predicted_ms / prediction.latency_ms),
                             "Bound": row.bound or "—"} for row in layers.top(10)])
        projector.table(top)
    with right:
        st.plotly_chart(projector.figure(groups_figure(layers)), key="chart_layers_groups",
                        config=charts.export_config("layers_by_part"), theme=projector.theme())
    # every kind is always offered (Lite has no squeeze-and-excitation): options that change with the
    # sliders would reset the filter on a slider move
    kinds = st.multiselect("Show kinds", list(KIND_NAMES), default=list(KIND_NAMES), key="layers_kinds",
                           format_func=KIND_NAMES.get)
    frame = table(layers, kinds)
    st.dataframe(frame, hide_index=True, column_config=COLUMNS, key="layers_table", height=420)
    st.caption(f"{len(frame)} of {len(layers.layers)} layers shown; click a column header to sort. Sums: "
               f"{units.si(layers.params)} parameters, {units.si(layers.macs)} multiply-adds, "
               f"{units.binary_bytes(layers.memory_bytes)} moved: the stage table's figures.")
    slug = config.name or "custom"
    st.download_button("Download the layer table (CSV)", lambda: to_csv(layers), file_name=f"effnet_{slug}_layers.csv",
                       mime="text/csv", key="layers_csv", on_click="ignore")


def onnx_section(config: effnet.ScalingConfig, build_error: str | None = None) -> None:
    """Export the current configuration as ONNX on a click; offer the file once built."""
    st.markdown("**Take the network out of the lab (ONNX)**")
    st.caption("Open the file in Netron (netron.app, the desktop app, or `pip install netron`), run it in "
               "ONNX Runtime, or hand it to TensorRT. Trained weights where this server has them "
               "(Lite0–2), random weights (seed 0) otherwise: the file's metadata says which.")
    refusal = exports.export_limit_message(config) or build_error
    key = repr(config)
    if st.button(f"Build the ONNX file of {config.label}", key="onnx_build"):
        if refusal:
            st.error(refusal)
        else:
            try:
                with st.spinner(f"Exporting {config.label} to ONNX (seconds to a minute)…"):
                    exports.onnx_file(config)
            except (ValueError, RuntimeError) as error:
                st.error(" ".join(str(error).split()))
            else:
                st.session_state[_ONNX_READY] = key
    if st.session_state.get(_ONNX_READY) == key and not refusal:
        exported = exports.onnx_file(config)  # cached for every session: no second export
        slug = config.name or "custom"
        st.download_button(f"Download {slug}.onnx ({units.si(exported.size_bytes, 'B')})", lambda: exports.onnx_file(config).data,
                           file_name=f"effnet_{slug}.onnx", mime="application/octet-stream", key="onnx_download",
                           on_click="ignore")
        weights, seconds = exported.weights, exported.export_s
        st.caption(f"{config.label}: {weights}; exported in {units.duration_ms(seconds * 1000)}, "
                   "batch dimension dynamic.")
