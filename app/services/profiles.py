"""The slider path: the FLOPs-against-phi series and the MBConv explainer's steps.

Nothing here builds a network. Pages call effnet.profile directly: it is arithmetic on the stage
table, already cached by value inside effnet (an lru_cache, thread-safe) and returns a frozen
Profile, so sessions can share one result; wrapping it in st.cache_data only added a copy per call.
The FLOPs series (81 profiles) is cached here, keyed by the coefficients.
"""

from __future__ import annotations

import effnet
import streamlit as st


@st.cache_data(max_entries=128, show_spinner=False)
def flops_series(alpha: float, beta: float, gamma: float, variant: str, max_phi: float) -> list[dict]:
    """effnet.flops_growth on a 0.1 grid of phi (81 profiles): empty for coefficients effnet refuses."""
    try:
        phis = tuple(step / 10 for step in range(int(round(max_phi * 10)) + 1))
        return effnet.flops_growth(phis, alpha, beta, gamma, variant)
    except effnet.ConfigError:
        return []


def block_steps(config: effnet.ScalingConfig, stage_index: int, first: bool) -> tuple[effnet.Step, ...]:
    """The steps of one MBConv block of stage `stage_index` (2..8) for the MBConv explainer."""
    stage = next(s for s in effnet.stages(config) if s.index == stage_index)
    return effnet.block_steps(stage, first=first)
