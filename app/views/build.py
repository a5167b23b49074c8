"""Build & profile: what the sliders do to the network, in numbers, tables and charts.

Everything above the latency section is the slider path: closed-form arithmetic on the stage table
(effnet.profile), no network is built, so it redraws at once for any configuration up to B7 and
beyond. The latency button is the model path: it builds a network on demand.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import effnet
from app.components import charts, controls, projector, units
from app.views.build_sections import compare, focus, latency_panel, layers, roofline, same_flops
from app.services import profiles

STAGE_NAMES = {1: "1 stem", 9: "9 head"}


def _stage_name(index: int) -> str:
    return STAGE_NAMES.get(index, str(index))


def _short(config: effnet.ScalingConfig) -> str:
    """'B4', 'Lite0', 'V2-S', or the custom configuration's label."""
    return config.label.removeprefix("EfficientNet-").removeprefix("EfficientNet")


def _multipliers(config: effnet.ScalingConfig) -> str:
    return f"d{config.depth:.3g} w{config.width:.3g} r{config.resolution}"


def preset_versus_compound(selection: controls.Selection) -> str | None:
    """One sentence on how the published preset differs from the compound rule at the same phi."""
    config = selection.config
    if config.is_v2:
        return None  # EfficientNetV2 is not on the compound curve
    if config.name:
        index = int(config.name.lstrip("blite"))
        family = "lite" if config.is_lite else "b"
        rule = effnet.compound(float(index), variant=family)
        label = config.label.removeprefix("EfficientNet-")
        if _multipliers(config) == _multipliers(rule):
            return (f"{label} is the baseline the rule starts from: compound(φ={index}) gives the same "
                    f"{_multipliers(config)}. Raise φ (Compound mode) or pick a larger preset to scale it.")
        return (
            f"{label} is {_multipliers(config)}, while compound(φ={index}) with the paper's α, β, γ is "
            f"{_multipliers(rule)}: the published presets are rounded by hand, not α^φ, β^φ, 224·γ^φ."
        )
    if selection.mode == "Compound" and config.phi is not None and 0 <= round(config.phi) <= 7:
        index = round(config.phi)
        published = effnet.preset(f"{'lite' if config.is_lite and index <= 4 else 'b'}{index}")
        if _multipliers(config) == _multipliers(published):
            return (f"compound(φ={config.phi:g}) is {_multipliers(config)}, the same as the published "
                    f"{published.label.removeprefix('EfficientNet-')}.")
        return (
            f"compound(φ={config.phi:g}) is {_multipliers(config)}; the published "
            f"{published.label.removeprefix('EfficientNet-')} is {_multipliers(published)} "
            "(pick it under Preset to compare)."
        )
    return None


def base_preset(config: effnet.ScalingConfig) -> str:
    """What the metrics compare against: the family's smallest published network (B0, Lite0, V2-S)."""
    return "v2_s" if config.is_v2 else "lite0" if config.is_lite else "b0"


def _stage_source(config: effnet.ScalingConfig) -> str:
    """Which published table the stage table scales: B0's (EfficientNet paper, Table 1) or a V2 table."""
    if not config.is_v2:
        return "the paper's Table 1"
    if config.stage_table == "v2_s":
        return "the EfficientNetV2 paper's Table 4"
    return "the official EfficientNetV2 code's table; the V2 paper's Table 4 gives V2-S"


def _published_flops(config: effnet.ScalingConfig) -> str:
    """' (the paper prints 4.2B for B4)' for a published network, '' for any other configuration."""
    from effnet import paper

    name = config.name
    if name in paper.table2_by_preset():
        published, source = paper.table2_by_preset()[name].flops_b, "the paper"
    elif name in paper.lite_by_preset() and paper.lite_by_preset()[name].madds_b is not None:
        published, source = paper.lite_by_preset()[name].madds_b, "the Lite table"
    elif name in paper.v2_by_preset():
        published, source = paper.v2_by_preset()[name].flops_b, "the official V2 table"
    else:
        return ""
    return f" ({source} prints {published:g}B for {_short(config)})"


def _arrow(change: float) -> str:
    """The metric's arrow: up for growth, down for shrinking, none for no change (never '↑ ±0')."""
    return "off" if change == 0 else ("up" if change > 0 else "down")


def _ratio_metric(column, label: str, value: str, ratio: float, versus: str, help: str) -> None:
    column.metric(label, value, delta=units.times(ratio), delta_color="off", delta_arrow=_arrow(round(ratio, 2) - 1),
                  delta_description=versus, help=help)


def _metrics(profile: effnet.Profile, base: effnet.Profile) -> None:
    config, base_config = profile.config, base.config
    versus = f"vs {_short(base_config)}"
    columns = st.columns(3) + st.columns(3)  # two rows of three: readable on a projector
    _ratio_metric(
        columns[0], "Parameters", units.si(profile.params), profile.params / base.params, versus,
        help=f"{profile.params:,} parameters (weights, biases, batch norm); "
             f"{units.signed_si(profile.params - base.params)} {versus}",
    )
    _ratio_metric(
        columns[1], "FLOPs", units.si(profile.macs), profile.macs / base.macs, versus,
        help=f"{profile.macs:,} multiply-adds per image, the paper's 'FLOPs'; "
             f"counting a multiply-add as 2 operations: {units.si(profile.flops, 'FLOP')}",
    )
    change = config.resolution - base_config.resolution
    columns[2].metric(
        "Resolution", f"{config.resolution} px", delta=units.signed_count(change, "px"), delta_arrow=_arrow(change),
        delta_color="off", delta_description=versus, help="input side; images are square crops",
    )
    blocks = ("mbconv", "fused_mbconv")
    layers = sum(s.stage.layers for s in profile.stages if s.stage.kind in blocks)
    base_layers = sum(s.stage.layers for s in base.stages if s.stage.kind in blocks)
    table = "its own V2 table's" if config.is_v2 else "B0's"
    columns[3].metric(
        "Depth ×", f"{config.depth:.2f}", delta=units.signed_count(layers - base_layers, "blocks"),
        delta_arrow=_arrow(layers - base_layers), delta_color="off",
        delta_description=versus, help=f"{layers} blocks; each stage's layers are ceil(d × {table} layers)",
    )
    width_change = round(config.width - base_config.width, 2)
    columns[4].metric(
        "Width ×", f"{config.width:.2f}", delta="±0" if width_change == 0 else f"{width_change:+.2f}",
        delta_arrow=_arrow(width_change), delta_color="off",
        delta_description=versus, help="each layer's channels × w, rounded to a multiple of 8",
    )
    _ratio_metric(
        columns[5], "Activation memory", units.binary_bytes(profile.activation_bytes),
        profile.activation_bytes / base.activation_bytes, versus,
        help="peak float32 feature maps alive at once for one image at inference; a backward pass "
             f"(training, Grad-CAM) keeps up to {units.binary_bytes(profile.training_activation_bytes)}",
    )


def _table(frame: pd.DataFrame) -> None:
    """A static table: its cells wrap instead of being cut at 1280 px (the FLOPs column was), and it
    has no toolbar to cover the widget above it on a phone (it covered "a repeat"); split in two when too
    wide for the column (projector type at 1280 px)."""
    projector.table(frame)


def _stage_table(profile: effnet.Profile) -> None:
    rows = []
    for item in profile.stages:
        stage = item.stage
        rows.append({
            "Stage": _stage_name(stage.index),
            "Operator": stage.operator,
            "Input (H×W)": f"{stage.input_resolution}×{stage.input_resolution}",
            "Channels in → out": f"{stage.in_channels} → {stage.out_channels}",
            "Layers": stage.layers,
            "Parameters": units.si(item.params),
            "Params %": 100 * item.params / profile.params,
            "FLOPs (mult-adds)": units.si(item.macs),
            "FLOPs %": 100 * item.macs / profile.macs,
        })
    table = pd.DataFrame(rows)
    table["Params %"] = table["Params %"].map(lambda share: f"{share:.1f} %")
    table["FLOPs %"] = table["FLOPs %"].map(lambda share: f"{share:.1f} %")
    _table(table)
    st.caption(
        f"Total: {profile.params:,} parameters, {profile.macs:,} multiply-adds "
        f"({profile.flops:,} FLOPs counting a multiply-add as 2). "
        + ("Stages are numbered from 1 at the stem, like B0's Table 1 (the V2 paper numbers the stem 0)."
           if profile.config.is_v2 else "Stage numbers are the paper's Table 1.")
    )


def _mbconv_explainer(config: effnet.ScalingConfig) -> None:
    stages = [s for s in effnet.stages(config) if s.kind in ("mbconv", "fused_mbconv")]
    # Labels that do not depend on the sliders: a selectbox keeps showing the label it was opened with.
    labels = {s.index: f"Stage {s.index}: {s.operator}" for s in stages}
    left, right = st.columns([2, 1])
    index = left.selectbox("Stage to explain", list(labels), format_func=labels.get, key="explain_stage", index=3)
    which = right.radio("Block", ("first", "repeat"), key="explain_block", horizontal=True,
                        format_func={"first": "first (stride, new channels)", "repeat": "a repeat"}.get)
    steps = profiles.block_steps(config, index, which == "first")
    _table(pd.DataFrame([
        {
            "Step": step.name,
            "What it does": step.description,
            "Input (C×H×W)": "×".join(map(str, step.input_shape)),
            "Output (C×H×W)": "×".join(map(str, step.output_shape)),
            "Parameters": units.si(step.params),
            "FLOPs (mult-adds)": units.si(step.macs),
        }
        for step in steps
    ]))
    stage = next(s for s in stages if s.index == index)
    repeats = f"{stage.layers} block{'s' if stage.layers != 1 else ''}"
    st.caption(f"Stage {index} of {config.label} has {repeats}: the first one changes the size and the channels, "
               "the repeats keep them.")
    se = "" if config.is_lite else " Squeeze-and-excitation re-weights the channels from their global average."
    if stage.kind == "fused_mbconv":  # EfficientNetV2's early stages
        st.caption(f"Fused-MBConv: one dense {stage.kernel_size}×{stage.kernel_size} convolution does the expand and "
                   "depthwise steps at once, then a 1×1 projects back (none when the expansion is 1); no "
                   "squeeze-and-excitation. More FLOPs than MBConv, but far more arithmetic per byte moved (see the roofline).")
        return
    st.caption(
        f"Inverted residual: the block widens {stage.expand_ratio}× (expand), filters each channel on its own "
        f"(depthwise {stage.kernel_size}×{stage.kernel_size}), then narrows back (project, no activation).{se} "
        "A block that keeps its size and channels adds its input back (residual)."
    )


def _chart(figure, key: str, name: str) -> None:
    """One chart: larger in projector mode, with the toolbar's 2x PNG export named after it."""
    st.plotly_chart(projector.figure(figure), key=key, config=charts.export_config(name), theme=projector.theme())


def _published(config: effnet.ScalingConfig) -> tuple[float, str, str] | None:
    """(published top-1 %, its source, the network's name) when `config` is a published network, chosen as
    a preset or set by hand to a preset's exact depth, width, resolution and family; None otherwise."""
    from effnet import paper

    def settings(c: effnet.ScalingConfig) -> tuple:
        return (c.depth, c.width, c.resolution, c.variant, c.stage_table)

    name = config.name or next((n for n in effnet.PRESETS if settings(effnet.preset(n)) == settings(config)), "")
    published = paper.published_top1(name) if name else None
    return (*published, effnet.scaling.preset_label(name)) if published else None


def _paper_chart(profile: effnet.Profile, pinned: effnet.Profile | None = None) -> None:
    from effnet import paper

    effnets = [
        {"model": row.model.removeprefix("EfficientNet-"), "flops_b": row.flops_b, "top1": row.top1}
        for row in paper.TABLE2 if row.preset
    ]
    others = [{"model": row.model, "flops_b": row.flops_b, "top1": row.top1} for row in paper.TABLE2 if row.model == "ResNet-50"]
    scaling_rows = [
        {"base": r.base, "scaling": r.scaling, "setting": r.setting, "flops_b": r.flops_b, "top1": r.top1}
        for r in paper.TABLE3
    ]
    current = _published(profile.config)
    pinned_top1 = _published(pinned.config) if pinned else None
    current_label = current[2].removeprefix("EfficientNet-").removeprefix("EfficientNet") if current else ""
    _chart(charts.accuracy_vs_flops(effnets, others, scaling_rows, profile.macs / 1e9, current_label,
                                    pinned.macs / 1e9 if pinned else None, _short(pinned.config) if pinned else "",
                                    current[0] if current else None, pinned_top1[0] if pinned_top1 else None),
           "chart_accuracy", "accuracy_vs_flops")
    if current:
        reading = (f"The dashed line and the star are the current configuration, the published {current[2]}: "
                   f"{current[0]:.1f} % top-1 ({current[1]}).")
    else:
        reading = ("The dashed line is the current configuration's FLOPs; its accuracy is unknown: only the published "
                   "networks (the presets) were trained.")
    st.caption(f"Published top-1 from {paper.PAPER} (Table 2: EfficientNets and ResNet-50; Table 3: one "
               f"dimension at a time against compound scaling). {reading}")


def render() -> None:
    """The Build & profile page."""
    selection = controls.current_selection()
    config = selection.config
    st.title("Build & profile")
    st.info("New here? Move **φ** in the sidebar and watch depth, width and resolution grow together, or open "
            "**Attention** to see where trained networks look in a photo.", icon=":material/start:")
    st.caption(f"{config.label}: everything on this page is computed from the stage table in closed form, "
               "no network is built (except for the latency button).")
    controls.show_messages(selection)

    focus.take_from_url(config.label)

    profile = effnet.profile(config)
    base = effnet.profile(effnet.preset(base_preset(config)))
    with focus.section("metrics"):
        _metrics(profile, base)
    pinned = effnet.profile(selection.pinned) if selection.pinned is not None else None
    if pinned is not None:
        compare.section(pinned, profile, _stage_name)
    st.caption(
        f"FLOPs are counted as the paper does, in multiply-adds: {units.si(profile.macs)}{_published_flops(config)}. "
        f"Counting each multiply-add as two floating-point operations gives {units.si(profile.flops, 'FLOP')}."
    )
    note = preset_versus_compound(selection)
    if note:
        st.info(note)

    left, right = projector.columns(2)  # one under the other in projector mode: half a screen is too narrow
    series = profiles.flops_series(selection.alpha, selection.beta, selection.gamma, config.variant, 8.0)
    current_phi = config.phi if selection.mode == "Compound" and not selection.error else None
    with left, focus.section("flops_phi"):
        if series:
            pin = None
            if pinned is not None:
                pin = (pinned.config.phi, pinned.macs / series[0]["macs"], pinned.config.label.removeprefix("EfficientNet-"))
            _chart(charts.flops_vs_phi(series, f"{selection.constraint:.2f}", current_phi, profile.macs / series[0]["macs"],
                                       pin), "chart_flops_phi", "flops_vs_phi")
    with right:
        stage_rows = [{"name": _stage_name(s.stage.index), "params": s.params, "macs": s.macs} for s in profile.stages]
        pinned_rows = None
        if pinned is not None:
            pinned_rows = [{"name": _stage_name(s.stage.index), "params": s.params, "macs": s.macs} for s in pinned.stages]
        _chart(charts.per_stage(stage_rows, config.label, pinned_rows,
                                pinned.config.label.removeprefix("EfficientNet-") if pinned else ""),
               "chart_stages", "per_stage")
    with focus.section("accuracy"):
        _paper_chart(profile, pinned)
    with focus.section("constraint"):
        left, right = projector.columns([3, 2])
        with left:
            _chart(charts.constraint(selection.alpha, selection.beta, selection.gamma, (effnet.ALPHA, effnet.BETA, effnet.GAMMA)),
                   "chart_constraint", "constraint")
        with right:
            st.markdown("**Reading chart ④**")
            st.markdown(
                f"Each unit of φ multiplies depth by α, width by β and resolution by γ, so FLOPs by α·β²·γ². "
                f"On the red line that factor is exactly 2 for your α = {selection.alpha:.2f}. "
                f"Your coefficients give {selection.constraint:.3f} per unit of φ, "
                f"{selection.constraint ** 7:,.0f}× the FLOPs at φ = 7 (2⁷ = 128). "
                "The paper's grid search picked its point near the line at φ = 1; "
                "change α, β, γ in the sidebar (Compound φ mode) to move yours."
            )

    st.subheader(f"Stages of {config.label} ({_stage_source(config)})")
    _stage_table(profile)
    with focus.section("mbconv"):
        st.subheader("Inside one MBConv block")
        _mbconv_explainer(config)
    same_flops.section(config)
    with focus.section("roofline"):
        roofline.section(config)
    layers.section(config, selection.build_error)
    st.subheader("Latency")
    latency_panel.latency_section(selection)
    focus.scroll()


if __name__ == "__main__":  # Streamlit runs a page file as __main__ (st.navigation / st.Page)
    render()
