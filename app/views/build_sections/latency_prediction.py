"""The Latency panel's GPU figures for any machine: predicted on a chosen GPU, and recorded where a GPU run exists.

Two kinds of figure, never mixed with the live measurement above them: every one says "predicted"
(effnet.cost.predict: a per-layer roofline plus launch cost, calibrated on recorded H200 runs) or
"recorded on <device>" (effnet.cost.recorded: runs made on a GPU machine, with their software and date).
The roofline chart above uses the same datasheet table and the same closed-form traffic.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import effnet
from app.components import charts, projector, units
from app.services import latency as service
from effnet.cost.devices import DEVICES
from effnet.cost.predict import Prediction
from effnet.cost.recorded import RecordedRun

PREDICTION_BATCHES = (1, 8, 32, 128)
PRESETS = tuple(f"b{i}" for i in range(8))  # the recorded family
PART_COLORS = {"launch": "#9ca3af", "memory": "#1f5fbf", "compute": "#f59e0b"}
CALIBRATED = "H200 SXM"


def prediction_options() -> tuple[str, int, str]:
    """(GPU, batch, dtype) of the prediction: widgets of their own, labelled apart from the live ones."""
    left, middle, right = st.columns(3)
    names = tuple(DEVICES)
    device = left.selectbox("Predict on GPU", names, index=names.index(CALIBRATED), key="latency_predict_device")
    batch = int(middle.selectbox("Prediction batch (images)", PREDICTION_BATCHES, index=PREDICTION_BATCHES.index(32),
                                 key="latency_predict_batch"))
    dtypes = tuple(DEVICES[device].peak_tflops)
    dtype = right.radio("Prediction precision", dtypes, key="latency_predict_dtype", horizontal=True)
    return device, batch, dtype if dtype in dtypes else dtypes[0]


def parts_figure(prediction: Prediction) -> go.Figure:
    """One horizontal bar: launch, memory-bound and compute-bound milliseconds stacked to the total."""
    figure = go.Figure()
    parts = (("launch", "launch (GPU waits for the CPU)", prediction.launch_ms),
             ("memory", "memory-bound layers", prediction.memory_ms),
             ("compute", "compute-bound layers", prediction.compute_ms))
    for key, name, value in parts:
        figure.add_bar(y=["predicted"], x=[value], orientation="h", name=f"{name}: {units.duration_ms(value)}",
                       marker_color=PART_COLORS[key], hovertemplate=f"{name}: {units.duration_ms(value)}<extra></extra>")
    figure.update_layout(barmode="stack")
    ticks = _nice_ticks(prediction.latency_ms)
    figure.update_xaxes(rangemode="tozero", tickvals=ticks, ticktext=[units.duration_ms(t) if t else "0" for t in ticks])
    figure.update_yaxes(showticklabels=False)
    figure = charts._layout(figure, "Where the time goes (predicted)",
                            f"{prediction.device.name}, batch {prediction.batch}, {prediction.dtype}, eager; ms per batch",
                            height=320, legend=dict(charts.LEGEND_BELOW, y=-0.25, traceorder="normal"), bottom=120)
    figure.update_layout(margin=dict(l=20, r=30))
    return figure


def _nice_ticks(total_ms: float) -> list[float]:
    """Three or four round ticks from 0 to about `total_ms` (1, 2 or 5 times a power of ten apart)."""
    step = 10 ** math.floor(math.log10(total_ms / 3)) if total_ms > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if total_ms / (factor * step) <= 4:
            step *= factor
            break
    return [step * i for i in range(int(total_ms // step) + 1)]


def presets_figure(device: str, batch: int, dtype: str, current: Prediction, current_label: str,
                   recorded: list[RecordedRun]) -> go.Figure:
    """B0-B7 against their multiply-adds: predicted lines, recorded H200 points, the current configuration."""
    figure = go.Figure()
    devices = [device] + ([CALIBRATED] if device != CALIBRATED and recorded else [])
    for index, name in enumerate(devices):
        rows = []
        for preset in PRESETS:
            config = effnet.preset(preset)
            rows.append((preset.upper(), effnet.profile(config).macs, service.prediction(config, name, batch, dtype).latency_ms))
        figure.add_scatter(x=[r[1] for r in rows], y=[r[2] for r in rows], mode="lines+markers", text=[r[0] for r in rows],
                           name=f"B0–B7 predicted on {name}", line=dict(color=charts.COLORS["actual"], width=3,
                                                                         dash="solid" if index == 0 else "dot"),
                           marker=dict(size=7), customdata=[units.duration_ms(r[2]) for r in rows],
                           hovertemplate="%{text}: %{customdata} (predicted)<extra></extra>")
    if recorded:
        figure.add_scatter(
            x=[effnet.profile(run.config).macs for run in recorded], y=[run.median_ms for run in recorded],
            mode="markers+text", text=[run.preset.upper() for run in recorded], textposition="middle left",
            name=f"recorded on {recorded[0].device_name} ({recorded[0].date})",
            marker=dict(size=13, symbol="diamond", color=charts.COLORS["two"]),
            customdata=[f"{units.duration_ms(r.median_ms)} (p10–p90 {units.duration_range_ms(*r.spread_ms)})" for r in recorded],
            hovertemplate="%{text}: %{customdata}, recorded<extra></extra>")
    figure.add_scatter(x=[effnet.profile(current.config).macs], y=[current.latency_ms], mode="markers",
                       name=f"current: {current_label} (predicted)",
                       marker=dict(size=18, symbol="star", color=charts.COLORS["current"]),
                       customdata=[units.duration_ms(current.latency_ms)],
                       hovertemplate="current configuration: %{customdata} (predicted)<extra></extra>")
    ticks = (0.2e9, 0.5e9, 1e9, 2e9, 5e9, 10e9, 20e9, 50e9)
    figure.update_xaxes(type="log", title="multiply-adds per image (log scale)", tickvals=ticks,
                        ticktext=[units.si(t) for t in ticks])
    values = [trace_y for trace in figure.data for trace_y in trace.y if trace_y]
    y_ticks = [v * 10**e for e in range(-2, 6) for v in (1, 2, 5) if min(values) / 2 <= v * 10**e <= max(values) * 2]
    figure.update_yaxes(type="log", title="milliseconds per batch (log scale)", tickvals=y_ticks,
                        ticktext=[units.duration_ms(t) for t in y_ticks])
    return charts._layout(figure, "B0–B7: predicted and recorded", f"batch {batch}, {dtype}, eager",
                          height=460, legend=dict(charts.LEGEND_BELOW, y=-0.28), bottom=170)


def roofline_difference(prediction: Prediction, label: str) -> str:
    """Why the roofline chart above and this prediction can disagree about what binds, in the case shown."""
    from effnet.cost.predict import tensor_core_peak

    device, dtype = prediction.device, prediction.dtype
    constants = prediction.calibration.constants
    tf32 = ""
    if dtype == "float32" and "bfloat16" in device.peak_tflops:
        tf32 = (f"; in float32 PyTorch runs convolutions as TF32 on tensor cores, up to "
                f"{units.si(tensor_core_peak(device, dtype, 'dense conv'), 'FLOP/s')}, where the roofline's float32 roof "
                f"is the CUDA cores' {units.si(device.peak_tflops['float32'] * 1e12, 'FLOP/s')}")
    none = (f" So no layer of {label} is compute-bound here (compute-bound layers: 0 µs): each one waits on memory "
            "or on the CPU's launches, although the roofline may show stages right of its ridge.") \
        if prediction.compute_ms == 0 else ""
    return ("Roofline and prediction: the roofline puts each stage (its layers together) under the datasheet roofs; "
            f"the prediction puts each layer under the roofs reached in practice, "
            f"{units.percent(constants.memory_efficiency)} of the datasheet bandwidth{tf32}.{none}")


def recorded_rows(runs: tuple[RecordedRun, ...]) -> list[dict]:
    """The recorded runs of this network as table rows, with every condition and unit."""
    return [{
        "device": run.device_name,
        "batch": run.batch,
        "precision": run.dtype + (" (TF32 allowed)" if run.dtype == "float32" and run.device == "cuda" else ""),
        "mode": run.mode + (", channels_last" if run.channels_last and run.mode != "channels_last" else ""),
        "median": units.duration_ms(run.median_ms),
        "spread (p10–p90)": units.duration_range_ms(*run.spread_ms),
        "runs": run.runs,
        "images/s": units.si(run.images_per_second),
        "software": f"torch {run.torch}" + (f", CUDA {run.cuda}" if run.cuda else ""),
        "date": run.date,
        "file": run.source,
    } for run in sorted(runs, key=lambda r: (r.device_name, r.batch, r.dtype, r.mode))]


def section(config: effnet.ScalingConfig) -> None:
    """The predicted figure on a chosen GPU with its parts, the presets beside it, and any recorded run."""
    with st.container(key="latency_prediction"):
        _section(config)


def _section(config: effnet.ScalingConfig) -> None:
    st.markdown("**Predicted on a GPU** — no GPU needed: a model of each layer, calibrated on recorded H200 runs")
    device, batch, dtype = prediction_options()
    try:
        current = service.prediction(config, device, batch, dtype)
    except ValueError as error:
        st.error(str(error))
        return
    left, right = projector.columns([2, 3])
    with left:
        st.metric("Predicted latency", units.duration_ms(current.latency_ms),
                  help="predicted, not measured: launch + memory-bound + compute-bound time of each layer")
        st.caption(f"{current.label}; {config.label}, batch {batch}, {dtype}, eager; "
                   f"{units.si(current.kernels)} kernels, {units.si(batch * 1000 / current.latency_ms)} images/s predicted.")
        st.plotly_chart(projector.figure(parts_figure(current)), key="chart_latency_parts",
                        config=charts.export_config("latency_parts"), theme=projector.theme())
    try:
        recorded_all = service.recorded_runs()
    except ValueError as error:  # a malformed results file: say which, keep the prediction
        st.warning(f"Recorded runs not shown: {error}")
        recorded_all = ()
    points = [run for run in recorded_all if run.preset in PRESETS and run.batch == batch and run.dtype == dtype
              and run.mode == "eager" and run.resolution == effnet.preset(run.preset).resolution
              and run.device_name == "NVIDIA H200"]
    with right:
        st.plotly_chart(projector.figure(presets_figure(device, batch, dtype, current, config.label, points)),
                        key="chart_latency_presets", config=charts.export_config("latency_presets"), theme=projector.theme())
    constants = current.calibration.constants
    st.caption(
        f"How: per layer, the larger of FLOPs ÷ attainable compute and bytes ÷ attainable bandwidth "
        f"({units.percent(constants.memory_efficiency)} of {device}'s datasheet {units.si(DEVICES[device].bandwidth_gb_s * 1e9, 'B/s')}; "
        f"depthwise convolutions at {units.percent(constants.depthwise_efficiency)} of its float32 CUDA-core peak), while the CPU "
        f"takes {units.duration_ms(constants.launch_us / 1000)} to issue each kernel: the GPU waits whenever it runs ahead. "
        "Same datasheet table and traffic as the roofline above. "
        + ("" if device == CALIBRATED else f"{device} is predicted with the H200's efficiencies: calibrated on the H200 only. ")
        + ("No bfloat16 run was recorded: its prediction uses the efficiencies fitted on float32 and float16. "
           if dtype == "bfloat16" else "")
        + ("No recorded H200 run at this batch and precision." if not points else "")
    )
    st.caption(roofline_difference(current, config.label))
    runs = tuple(run for run in recorded_all if run.describes(config))
    if runs:
        with st.container(key="latency_recorded"):
            st.markdown(f"**Recorded on {runs[0].device_name}** — measured on a GPU machine, not on this server")
            projector.table(pd.DataFrame(recorded_rows(runs)), keep=3)  # device, batch, precision name a row
    else:
        st.caption("No recorded GPU run of this exact network (B0–B7 at their own resolutions were recorded on "
                   "NVIDIA H200): the figures above are predictions only.")
