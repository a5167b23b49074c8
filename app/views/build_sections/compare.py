"""Pin and compare: the pinned configuration beside the current one, figure by figure.

The sidebar's pin (url_state.encode_pin, kept in the URL) names a configuration; this section shows
both profiles with the ratio current ÷ pinned, and both stage tables in one table. Charts ① to ③
draw the pinned configuration too (app.components.charts, `pinned` arguments).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import effnet
from app.components import projector, units


def _blocks(profile: effnet.Profile) -> int:
    return sum(s.stage.layers for s in profile.stages if s.stage.kind == "mbconv")


def figures(pinned: effnet.Profile, current: effnet.Profile) -> pd.DataFrame:
    """One row per figure: pinned, current, and current ÷ pinned, each as shown on screen."""
    rows = [
        ("Parameters", units.si(pinned.params), units.si(current.params), current.params / pinned.params),
        ("FLOPs (multiply-adds)", units.si(pinned.macs), units.si(current.macs), current.macs / pinned.macs),
        ("Activation memory", units.binary_bytes(pinned.activation_bytes), units.binary_bytes(current.activation_bytes),
         current.activation_bytes / pinned.activation_bytes),
        ("Resolution", f"{pinned.config.resolution} px", f"{current.config.resolution} px",
         current.config.resolution / pinned.config.resolution),
        ("Depth × (MBConv blocks)", f"{pinned.config.depth:.2f} ({_blocks(pinned)})",
         f"{current.config.depth:.2f} ({_blocks(current)})", _blocks(current) / _blocks(pinned)),
        ("Width ×", f"{pinned.config.width:.2f}", f"{current.config.width:.2f}", current.config.width / pinned.config.width),
    ]
    return pd.DataFrame([{"": name, "Pinned": a, "Current": b, "Current ÷ pinned": units.times(ratio)}
                         for name, a, b, ratio in rows])


def stages(pinned: effnet.Profile, current: effnet.Profile, stage_name) -> pd.DataFrame:
    """Both stage tables in one: layers, parameters and multiply-adds of each stage, pinned then current."""
    rows = []
    for old, new in zip(pinned.stages, current.stages):
        rows.append({
            "Stage": stage_name(new.stage.index),
            "Layers": f"{old.stage.layers} → {new.stage.layers}",
            "Channels out": f"{old.stage.out_channels} → {new.stage.out_channels}",
            "Parameters": f"{units.si(old.params)} → {units.si(new.params)}",
            "FLOPs (mult-adds)": f"{units.si(old.macs)} → {units.si(new.macs)}",
            "FLOPs ×": units.times(new.macs / old.macs) if old.macs else units.NOT_A_NUMBER,
        })
    return pd.DataFrame(rows)


def section(pinned: effnet.Profile, current: effnet.Profile, stage_name) -> None:
    """The comparison: a table of figures with their ratio, then the stage tables side by side."""
    st.subheader(f"Pinned {pinned.config.label} → current {current.config.label}")
    projector.table(figures(pinned, current))
    with st.expander("Stage by stage (pinned → current)", expanded=True):
        projector.table(stages(pinned, current, stage_name))
    st.caption("Charts ① to ③ draw the pinned configuration in teal. Unpin it in the sidebar.")
