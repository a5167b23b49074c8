"""The matched-FLOPs plan (closed form, no torch): Build's "Same FLOPs, four ways" and the
Experiment page's "Run it yourself".

effnet.experiment.matched_plan solves the four networks by bisection over effnet.profile (0.1-0.7 s
for a preset base on a 2-core server); the rows are cached here by value, so a rerun of a page with
the same configuration and multiple costs nothing.
"""

from __future__ import annotations

import streamlit as st

import effnet
from effnet.experiment import matched_plan, plan_as_dicts

_CONFIG_HASH = {effnet.ScalingConfig: repr}
SYNTHETIC_CLASSES = 10  # the experiment's default data: effnet.experiment.synthetic.CLASSES
# The plan's predicted GPU time (effnet.cost.predict, calibrated on these recorded H200 runs), eager float16.
PREDICTED_GPU, PREDICTED_DTYPE, PREDICTED_BATCHES = "H200 SXM", "float16", (1, 32)


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=_CONFIG_HASH)
def matched(base: effnet.ScalingConfig, flops_multiple: float, strict: bool = True) -> list[dict]:
    """plan_as_dicts(matched_plan(base, flops_multiple, strict=strict)), each row with the profile's activation
    memory added (inference peak and training total, float32, one image) and the predicted H200
    latency at batch 1 and 32 (`predicted_ms_batch1`, `predicted_ms_batch32`).

    Raises effnet.ConfigError (one line) when a network cannot be matched within the plan's 3% (with
    strict=False: only when it would leave the lab's ranges)."""
    from effnet.cost.predict import predict  # numpy, no torch

    plan = matched_plan(base, float(flops_multiple), strict=strict)
    rows = plan_as_dicts(plan)
    for row, network in zip(rows, plan):
        profile = effnet.profile(network.config)
        row["activation_bytes"] = profile.activation_bytes
        row["training_activation_bytes"] = profile.training_activation_bytes
        for batch in PREDICTED_BATCHES:  # same FLOPs, different time: the launch cost grows with the layers
            row[f"predicted_ms_batch{batch}"] = predict(network.config, PREDICTED_GPU, batch, PREDICTED_DTYPE).latency_ms
    return rows


def base_argument(config: effnet.ScalingConfig) -> str:
    """`config` as the experiment CLI's --base: a preset by name ('b0'), otherwise 'dD,wW,rR'.

    The CLI's d,w,r form is the B layout: a custom Lite configuration is passed as B (say so on screen).
    """
    if config.name:
        return config.name
    return f"d{config.depth:g},w{config.width:g},r{config.resolution}"


def experiment_base(config: effnet.ScalingConfig, num_classes: int = SYNTHETIC_CLASSES) -> effnet.ScalingConfig:
    """The base the CLI builds from `base_argument(config)`: effnet.experiment.run.base_config itself
    (the experiment's one definition of a base; importing it loads torch, which the Experiment page
    has loaded anyway)."""
    from effnet.experiment.run import base_config

    return base_config(base_argument(config), num_classes)


def run_command(config: effnet.ScalingConfig, flops_multiple: float, out: str = "results/my-experiment") -> str:
    """The command line that trains the plan of `config` at `flops_multiple` (the full recipe)."""
    return f"python -m effnet experiment run --out {out} --base {base_argument(config)} --flops {flops_multiple:g}"
