"""The network out of the lab, on demand: its ONNX file, and its latency in ONNX Runtime on this CPU.

Both export the network (seconds to tens of seconds), so both run only behind a button. The file is
cached by value for every session (st.cache_resource: an immutable result, shared without copies; a
few entries at most, since a file can be 250 MB); effnet.onnx_export builds a fresh network for each
export and serialises exports with its own lock, so sessions never share a model. Timings are not
cached: a measurement is a fact about this moment on this machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import streamlit as st

import effnet

if TYPE_CHECKING:
    from effnet.cost.latency import Latency
    from effnet.onnx_export import ExportedModel


def export_limit_message(config: effnet.ScalingConfig) -> str | None:
    """One line when `config` is above the export limit, else None (closed form: nothing is built, and
    effnet.onnx_export imports torch only when it exports)."""
    from effnet.onnx_export import ExportError, check_exportable

    try:
        check_exportable(config)
    except ExportError as refusal:
        return str(refusal)
    return None


@st.cache_resource(max_entries=4, show_spinner=False)
def onnx_file(config: effnet.ScalingConfig) -> "ExportedModel":
    """The .onnx file of `config` with where its weights come from: trained weights where this machine
    has them offline, random weights from seed 0 otherwise. Shared by every session: the result is
    frozen and its bytes immutable, so it is safe to share (and not copied, which matters at 250 MB)."""
    from effnet.onnx_export import export_onnx

    return export_onnx(config)


@st.cache_resource(max_entries=4, show_spinner=False)
def _untrained_onnx(config: effnet.ScalingConfig) -> "ExportedModel":
    """The untrained export a timing runs (weights do not change the time): one export per configuration
    for the whole classroom, not one per click."""
    from effnet.onnx_export import export_onnx

    return export_onnx(config, weights="untrained", seed=0)


def run_onnxruntime_latency(config: effnet.ScalingConfig, batch: int, progress: Callable[[float, str], None]) -> "Latency":
    """`config` exported (once, cached) and timed in ONNX Runtime on the CPU, with the PyTorch measurement's recipe."""
    from effnet.cost.runtime_latency import measure_onnxruntime_latency
    from effnet.onnx_export import ExportError

    progress(0.0, "exporting the network to ONNX (once per configuration; not timed)")
    try:
        exported = _untrained_onnx(config)
    except ExportError as refusal:
        raise ValueError(str(refusal)) from None
    return measure_onnxruntime_latency(config, batch=batch, progress=progress, onnx_data=exported.data)
