"""The latency section: options, a button, a progress bar, and the last measurement with its conditions."""

from __future__ import annotations

import streamlit as st

from app.components import units
from app.components.controls import Selection
from app.services import latency  # torch-free until a measurement starts

BATCH_SIZES = (1, 8, 32)
_RESULT = "latency_result"


def latency_options(on_gpu: bool) -> tuple[int, str]:
    """(batch size, dtype). float16 is offered on a GPU only: CPUs have no fast float16 convolutions."""
    left, right = st.columns(2)
    batch = left.selectbox("Batch size (images)", BATCH_SIZES, key="latency_batch")
    dtypes = ("float32", "float16") if on_gpu else ("float32",)
    dtype = right.radio("Precision", dtypes, key="latency_dtype", horizontal=True,
                        help=None if on_gpu else "float16 is offered on a GPU only")
    return int(batch), str(dtype)


def latency_section(selection: Selection) -> None:
    """Measure the current configuration on demand; keep the last result on screen."""
    _, device_name, on_gpu = latency.device()
    st.caption(f"Runs on {device_name}. The network is built untrained: timing does not depend on the "
               "weights' values.")
    batch, dtype = latency_options(on_gpu)
    config = selection.config
    if st.button(f"Measure latency of {config.label}", key="latency_run", type="primary"):
        if selection.build_error:
            st.error(selection.build_error)
        else:
            bar = st.progress(0.0, text="building the network…")

            def progress(fraction: float, message: str) -> None:
                bar.progress(min(1.0, max(0.0, fraction)), text=message)

            try:
                with st.spinner("Timing forward passes…"):
                    result = latency.run_latency(config, batch, dtype, progress)
            except ValueError as error:  # effnet refuses with a one-line message (batch too big, dtype)
                st.error(str(error))
            else:
                st.session_state[_RESULT] = (config.label, result)
            bar.empty()
    stored = st.session_state.get(_RESULT)
    if stored:
        label, result = stored
        show_result(label, result)


def result_texts(result) -> dict[str, str]:
    """The four figures of a measurement as shown: each short enough for a quarter of a 1280 px screen."""
    low, high = result.spread_ms
    return {
        "Median latency": units.duration_ms(result.median_ms),
        "Spread (p10–p90)": units.duration_range_ms(low, high),
        "Throughput": f"{units.si(result.images_per_second)} images/s",
        "Achieved": units.si(result.achieved_tflops * 1e12, "FLOP/s"),
    }


def summary(label: str, result) -> str:
    """The measurement's conditions in one line, its numbers through the same helpers as the metrics."""
    threads = f", {result.threads} thread{'s' if result.threads != 1 else ''}" if result.threads is not None else ""
    layout = ", channels_last" if result.channels_last else ""
    texts = result_texts(result)
    where = "the GPU" if result.device == "cuda" else "the CPU"
    text = (f"{label}: {where} ({result.device_name}{threads}), batch {result.batch}, {result.dtype}{layout}, "
            f"{result.resolution}x{result.resolution}: median {texts['Median latency']} per batch "
            f"(p10–p90 {texts['Spread (p10–p90)']}, {result.runs} run{'s' if result.runs != 1 else ''}), "
            f"{texts['Throughput']}, {texts['Achieved']}")
    if result.percent_of_peak is not None:
        text += f" ({result.percent_of_peak:.2g} % of the {units.si(result.peak_tflops * 1e12, 'FLOP/s')} peak)"
    if result.stopped_early:
        text += "; stopped early at the time budget"
    return text


def show_result(label: str, result) -> None:
    texts = result_texts(result)
    helps = {
        "Median latency": "per batch, median of the timed runs",
        "Throughput": "batch ÷ median time",
        "Achieved": "2 × multiply-adds × batch ÷ median time",
    }
    # Two rows of two: four metrics in one row cut their units at 1280 px ("199–297 …").
    columns = st.columns(2) + st.columns(2)
    for column, (name, value) in zip(columns, texts.items()):
        column.metric(name, value, help=helps.get(name))
    st.caption(summary(label, result))
