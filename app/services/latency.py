"""Latency on demand. effnet.measure_latency builds its own private copy of the network and
serialises measurements with its own lock, so two students never time each other's work; results are
not cached (a measurement is a fact about this moment on this machine)."""

from __future__ import annotations

from typing import Callable

import effnet
import streamlit as st
from effnet.latency import Latency, cuda_available, device_description, measure_latency


@st.cache_resource(show_spinner=False)
def device() -> tuple[str, str, bool]:
    """(device, its name, CUDA available): GPU when present, CPU otherwise. Probed once per server."""
    gpu = cuda_available()
    name = "cuda" if gpu else "cpu"
    return name, device_description(name), gpu


def run_latency(
    config: effnet.ScalingConfig, batch: int, dtype: str, progress: Callable[[float, str], None]
) -> Latency:
    """Time `config` (untrained: timing does not depend on weight values) on this server's device."""
    name, _, _ = device()
    return measure_latency(config, batch=batch, device=name, dtype=dtype, progress=progress)
