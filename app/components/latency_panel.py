"""The latency section: options, a button, a progress bar, and the last measurement with its conditions."""

from __future__ import annotations

import streamlit as st

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
        low, high = result.spread_ms
        columns = st.columns(4)
        columns[0].metric("Median latency", f"{result.median_ms:.3g} ms", help="per batch, median of the timed runs")
        columns[1].metric("Spread (p10–p90)", f"{low:.3g}–{high:.3g} ms")
        columns[2].metric("Throughput", f"{result.images_per_second:,.1f} images/s")
        columns[3].metric("Achieved", f"{result.achieved_tflops:.3g} TFLOP/s",
                          help="2 × multiply-adds × batch ÷ median time")
        st.caption(f"{label}: {result.summary()}")
