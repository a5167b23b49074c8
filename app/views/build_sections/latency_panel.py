"""The latency section: options, a button, a progress bar, and the last measurement with its conditions;
then the GPU figures any machine can show (app.views.build_sections.latency_prediction): predicted and recorded."""

from __future__ import annotations

import streamlit as st

from app.components import units

from app.components.controls import Selection
from app.services import exports, latency  # torch-free until a measurement starts
from app.views.build_sections import latency_prediction
from effnet.cost.devices import GPU_ONLY_MODES, MODES  # torch-free: the options before any measurement
from effnet.cost.summary import Figures, latency_sentence

BATCH_SIZES = (1, 8, 32)
_RESULT = "latency_result"
_RUNTIME_RESULT = "latency_result_onnxruntime"
# The summary sentence's numbers as the metrics write them.
ON_SCREEN = Figures(duration_ms=units.duration_ms, duration_range_ms=units.duration_range_ms, count=units.si,
                    flop_rate=lambda value: units.si(value, "FLOP/s"))
GPU_ONLY_MESSAGE = ("CUDA graphs (the whole forward pass replayed without kernel-launch overhead) need a GPU; "
                    "this server has none, so they are not offered here.")


def latency_options(on_gpu: bool) -> tuple[int, str, str]:
    """(batch size, dtype, execution mode). float16 and CUDA graphs are offered on a GPU only."""
    left, middle, right = st.columns(3)
    batch = left.selectbox("Batch size (images)", BATCH_SIZES, key="latency_batch")
    dtypes = ("float32", "float16") if on_gpu else ("float32",)
    dtype = middle.radio("Precision", dtypes, key="latency_dtype", horizontal=True,
                         help=None if on_gpu else "float16 is offered on a GPU only")
    modes = tuple(MODES) if on_gpu else tuple(m for m in MODES if m not in GPU_ONLY_MODES)
    mode = right.selectbox("Execution mode", modes, format_func=MODES.get, key="latency_mode",
                           help="torch.compile compiles on the first pass (not timed; a minute or more on a small CPU)")
    if not on_gpu:
        right.caption(GPU_ONLY_MESSAGE)
    return int(batch), str(dtype), str(mode)


def latency_section(selection: Selection) -> None:
    """Measure the current configuration on demand; keep the last result on screen."""
    _, device_name, on_gpu = latency.device()
    st.markdown("**Measured live on this server**")
    st.caption(f"Runs on {device_name}. The network is built untrained: timing does not depend on the "
               "weights' values.")
    batch, dtype, mode = latency_options(on_gpu)
    also_runtime = False
    if not on_gpu:
        also_runtime = st.checkbox("Also time it in ONNX Runtime (same batch and threads; the network is exported "
                                   "first, 10–30 s, not timed)", value=True, key="latency_onnxruntime")
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
                    result = latency.run_latency(config, batch, dtype, progress, mode)
            except ValueError as error:  # effnet refuses with a one-line message (batch too big, dtype)
                st.error(str(error))
            else:
                st.session_state[_RESULT] = (config.label, result)
                st.session_state.pop(_RUNTIME_RESULT, None)
                if also_runtime:
                    _measure_runtime(config, batch, progress)
            bar.empty()
    stored = st.session_state.get(_RESULT)
    if stored:
        label, result = stored
        show_result(label, result)
        beside = st.session_state.get(_RUNTIME_RESULT)
        if beside and beside[0] == label:
            show_runtimes(result, beside[1])
    latency_prediction.section(config)


def _measure_runtime(config, batch: int, progress) -> None:
    """The same network, batch and threads in ONNX Runtime, stored beside the PyTorch result."""
    try:
        with st.spinner("Exporting to ONNX and timing it in ONNX Runtime…"):
            result = exports.run_onnxruntime_latency(config, batch, progress)
    except (ValueError, RuntimeError) as error:  # too large to export, or the export failed: one line
        st.error(" ".join(str(error).split()))
    else:
        st.session_state[_RUNTIME_RESULT] = (config.label, result)


def show_runtimes(pytorch, runtime) -> None:
    """PyTorch's and ONNX Runtime's medians side by side, with their ratio."""
    columns = st.columns(3)
    columns[0].metric(f"PyTorch {pytorch.mode_label}", units.duration_ms(pytorch.median_ms),
                      help="median per batch, measured above")
    columns[1].metric("ONNX Runtime (CPU)", units.duration_ms(runtime.median_ms),
                      help="median per batch: the exported network on ONNX Runtime's CPU execution provider")
    columns[2].metric("ONNX Runtime speed-up", units.times(pytorch.median_ms / runtime.median_ms),
                      help="PyTorch's median ÷ ONNX Runtime's median")
    st.caption(summary("ONNX Runtime", runtime))


def result_texts(result) -> dict[str, str]:
    """The four figures of a measurement as shown: each short enough for a quarter of a 1280 px screen."""
    low, high = result.spread_ms
    return {
        "Median latency": ON_SCREEN.duration_ms(result.median_ms),
        "Spread (p10–p90)": ON_SCREEN.duration_range_ms(low, high),
        "Throughput": f"{ON_SCREEN.count(result.images_per_second)} images/s",
        "Achieved": ON_SCREEN.flop_rate(result.achieved_tflops * 1e12),
    }


def summary(label: str, result) -> str:
    """The measurement's conditions in one line (effnet's sentence, the CLI's words), its numbers through
    the same helpers as the metrics above it."""
    return latency_sentence(result, ON_SCREEN, label)


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
