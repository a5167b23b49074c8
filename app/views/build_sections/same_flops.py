"""Build & profile's "Same FLOPs, four ways": the matched-FLOPs plan of the current configuration.

The current configuration is the base; the depth-only, width-only, resolution-only and compound
networks reach the chosen multiple of its multiply-adds (within 3%), with the parameters and the
activation memory each one needs, all in closed form. Multiply-adds do not predict time (each layer
is a kernel launch; depthwise convolutions and large feature maps are limited by memory traffic), so
each row also carries effnet.cost.predict's H200 latency, labelled as a prediction; the Latency panel
measures one configuration at a time on this server.
"""

from __future__ import annotations

import streamlit as st

import effnet
from app.components import projector, units
from app.components.experiment_charts import short_name
from app.components.plan_table import plan_table
from app.services import plans
from effnet.experiment.plan import TOLERANCE

DEFAULT_MULTIPLE = 2.0
STEPS = {"depth": "depth moves in whole layers", "width": "channels move in multiples of 8",
         "resolution": "the resolution moves in multiples of 8 px",
         "compound": "layers, channels and pixels all move in steps"}


def section(config: effnet.ScalingConfig) -> None:
    st.subheader("Same FLOPs, four ways")
    left, right = st.columns([1, 3])
    multiple = left.number_input("FLOPs multiple", min_value=1.2, max_value=16.0, value=DEFAULT_MULTIPLE, step=0.5,
                                 format="%.1f", key="same_flops_multiple",
                                 help="The paper's Table 7 uses about 4.5× B0; each network lands within 3%.")
    right.caption(f"{config.label} as the base: the same multiply-adds spent on depth only, width only, resolution "
                  "only, or all three by the compound rule (α^φ, β^φ, γ^φ with φ solved). Counted in closed form: none of "
                  "these networks was trained. The Experiment page trains the same plan for its own small base on "
                  "synthetic scenes, not for this configuration.")
    try:
        rows = plans.matched(config, float(multiple), strict=False)
    except effnet.ConfigError as refusal:
        st.warning(f"{config.label} × {multiple:g}: {refusal}")
        return
    projector.table(plan_table(rows, costs=True, predicted_batches=plans.PREDICTED_BATCHES))
    missed = [row for row in rows if abs(row["error"]) > TOLERANCE]
    if missed:
        st.caption(" ".join(
            f"The {short_name(row['name'])} network lands at {units.times(row['flops_multiple'])}, the nearest step to "
            f"{units.times(multiple)}: {STEPS[row['name']]}, so no {short_name(row['name'])} network of this base comes "
            f"within {TOLERANCE:.0%}." for row in missed))
    slowest = max(rows, key=lambda row: row["predicted_ms_batch1"])
    st.caption("Activation memory: the float32 feature maps alive at once for one image at inference; training "
               "keeps them all for the backward pass. H200 columns: predicted, not measured (effnet.cost.predict, eager "
               f"{plans.PREDICTED_DTYPE}, calibrated on recorded H200 runs; the Latency panel below explains the model). "
               f"Equal multiply-adds do not mean equal time: the {short_name(slowest['name'])} network is predicted "
               f"at {units.duration_ms(slowest['predicted_ms_batch1'])} for one image, "
               f"{units.times(slowest['predicted_ms_batch1'] / rows[0]['predicted_ms_batch1'])} the baseline, "
               "because every layer is at least one kernel the CPU must launch in turn. To measure a row on this "
               "server, set its d, w, r in the sidebar (Manual mode) and use the Latency panel.")

