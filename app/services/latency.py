"""Latency on demand. effnet.measure_latency builds its own private copy of the network and
serialises measurements with its own lock, so two students never time each other's work; results are
not cached (a measurement is a fact about this moment on this machine)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import effnet
import streamlit as st
from effnet.cost.devices import cpu_name  # torch-free

if TYPE_CHECKING:
    from effnet.cost.latency import Latency
    from effnet.cost.predict import Prediction
    from effnet.cost.recorded import RecordedRun


@st.cache_resource(show_spinner=False)
def _probed_device() -> tuple[str, str, bool]:
    import torch

    from effnet.cost.latency import cuda_available

    gpu = cuda_available()
    if gpu:
        return "cuda", f"the GPU ({torch.cuda.get_device_name()})", True
    threads = torch.get_num_threads()
    return "cpu", f"the CPU ({cpu_name()}, {threads} thread{'s' if threads != 1 else ''})", False


def device() -> tuple[str, str, bool]:
    """(device, 'the CPU (model)' or 'the GPU (model)', CUDA available): GPU when present, CPU otherwise.

    Asking torch costs its import (seconds, and the server answers slowly meanwhile), so until
    torch is loaded for some other reason (a measurement, a Grad-CAM) the answer is a guess from the
    NVIDIA driver's presence, in the same words as after a measurement (one line that never changes form).
    """
    if "torch" in sys.modules:
        return _probed_device()
    if Path("/proc/driver/nvidia/version").exists():
        return "auto", "the GPU (named when measured)", True
    return "cpu", f"the CPU ({cpu_name()})", False


def run_latency(
    config: effnet.ScalingConfig, batch: int, dtype: str, progress: Callable[[float, str], None], mode: str = "eager"
) -> "Latency":
    """Time `config` (untrained: timing does not depend on weight values) on this server's device in `mode`."""
    from effnet.cost.latency import measure_latency

    name, _, _ = _probed_device()
    return measure_latency(config, batch=batch, device=name, dtype=dtype, progress=progress, mode=mode)


def prediction(config: effnet.ScalingConfig, device: str, batch: int, dtype: str) -> "Prediction":
    """effnet.cost.predict's figure for `config` on a datasheet GPU (closed form, cached by value inside effnet)."""
    from effnet.cost.predict import predict

    return predict(config, device, batch, dtype)


def recorded_runs() -> tuple["RecordedRun", ...]:
    """One recorded run per condition from benchmarks/results (effnet.cost.recorded re-reads a file only when it changes)."""
    from effnet.cost.recorded import best_runs, load_recorded

    return best_runs(load_recorded())
