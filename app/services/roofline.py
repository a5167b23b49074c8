"""The roofline's measured CPU roof: probed once per server and shared by every session.

effnet.cost.roofline.probe_cpu times matrix products and a large copy for about half a second. Two probes
at once would each measure half the machine, so the first caller probes under a lock (Streamlit's
cache also makes concurrent first callers wait for one computation; the lock says so in the code and
holds if the cache is ever cleared mid-probe) and every session then reads the same frozen Device
(immutable: sharing it across threads is safe).
"""

from __future__ import annotations

import threading

import streamlit as st

from effnet.cost.devices import Device
from effnet.cost.roofline import probe_cpu

_PROBE_LOCK = threading.Lock()


@st.cache_resource(show_spinner="Probing this CPU's peak and bandwidth…")
def cpu_roof() -> Device:
    """This machine's CPU roof (peak FLOP/s and bandwidth), measured once per server."""
    with _PROBE_LOCK:  # one probe at a time: a concurrent probe would halve both figures
        return probe_cpu()
