"""Latency on demand. effnet.measure_latency builds its own private copy of the network and
serialises measurements with its own lock, so two students never time each other's work; results are
not cached (a measurement is a fact about this moment on this machine)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import effnet
import streamlit as st

if TYPE_CHECKING:
    from effnet.latency import Latency


@st.cache_resource(show_spinner=False)
def _probed_device() -> tuple[str, str, bool]:
    from effnet.latency import cuda_available, device_description

    gpu = cuda_available()
    name = "cuda" if gpu else "cpu"
    return name, device_description(name), gpu


def device() -> tuple[str, str, bool]:
    """(device, its name, CUDA available): GPU when present, CPU otherwise.

    Asking torch costs its import (seconds, and the server answers slowly meanwhile), so until
    torch is loaded for some other reason (a measurement, a Grad-CAM) the answer is a guess from the
    NVIDIA driver's presence; the measurement itself names the device it ran on.
    """
    if "torch" in sys.modules:
        return _probed_device()
    if Path("/proc/driver/nvidia/version").exists():
        return "auto", "the GPU (NVIDIA driver found; named when measured)", True
    return "cpu", "the CPU (no NVIDIA driver found)", False


def run_latency(
    config: effnet.ScalingConfig, batch: int, dtype: str, progress: Callable[[float, str], None]
) -> "Latency":
    """Time `config` (untrained: timing does not depend on weight values) on this server's device."""
    from effnet.latency import measure_latency

    name, _, _ = _probed_device()
    return measure_latency(config, batch=batch, device=name, dtype=dtype, progress=progress)
