"""Cached results of the slider path: closed-form profiles and the FLOPs-against-phi series.

Nothing here builds a network (effnet.profile is arithmetic on the stage table), so every call is
fast; the caches only spare repeated work when thirty students sit on the same slider positions.
`st.cache_data` hands each caller its own copy, so a page may not mutate what another sees.
"""

from __future__ import annotations

import effnet
import streamlit as st

# A ScalingConfig is frozen and its repr names every field that shapes the network.
_CONFIG_HASH = {effnet.ScalingConfig: repr}


@st.cache_data(max_entries=512, show_spinner=False, hash_funcs=_CONFIG_HASH)
def profile(config: effnet.ScalingConfig) -> effnet.Profile:
    """effnet.profile(config): parameters, multiply-adds and activation memory in closed form."""
    return effnet.profile(config)


@st.cache_data(max_entries=128, show_spinner=False)
def flops_series(alpha: float, beta: float, gamma: float, variant: str, max_phi: float) -> list[dict]:
    """FLOPs(compound(phi)) / FLOPs(phi=0) on a 0.1 grid, next to 2^phi and (alpha beta^2 gamma^2)^phi.

    Coefficients for which some phi on the grid leaves effnet's ranges end the series early.
    """
    steps = int(round(max_phi * 10))
    series: list[dict] = []
    for step in range(steps + 1):
        try:
            series += effnet.flops_growth((step / 10,), alpha, beta, gamma, variant)
        except effnet.ConfigError:
            break
    return series


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=_CONFIG_HASH)
def block_steps(config: effnet.ScalingConfig, stage_index: int, first: bool) -> tuple[effnet.Step, ...]:
    """The steps of one MBConv block of stage `stage_index` (2..8) for the MBConv explainer."""
    stage = next(s for s in effnet.stages(config) if s.index == stage_index)
    return effnet.block_steps(stage, first=first)
