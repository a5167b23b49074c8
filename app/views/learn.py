"""Learn: the ideas behind compound scaling, each with a link that sets the controls to show it.

The links carry the control values in the URL (st.page_link with query_params); the sidebar reads
them, so "show me" opens the Build & profile page in the state that demonstrates the point.
"""

from __future__ import annotations

import streamlit as st

import effnet
from app.components import units
from app.components.text import escape_markdown
from app.services import experiment as experiment_results

BUILD = "views/build.py"
ATTENTION = "views/attention.py"
EXPERIMENT = "views/experiment.py"
TASK_NAMES = {"small": "small-object task", "large": "large-object task"}
B0 = {"preset": "Custom", "family": "B", "mode": "Manual", "depth": "1", "width": "1", "resolution": "224"}


def _show_me(label: str, page: str = BUILD, focus: str = "metrics", **values: str) -> None:
    """A link that sets the controls and lands on `focus` (a section of the Build page, scrolled to and outlined)."""
    query = {**B0, **values, "focus": focus} if page == BUILD else None
    st.page_link(page, label=label, icon=":material/arrow_forward:", query_params=query)


def glossary() -> None:
    """Short definitions of the words the other pages use, with B0's numbers (from effnet, not typed in)."""
    b0 = effnet.profile(effnet.preset("b0"))
    st.header("Glossary")
    st.markdown(
        f"- **Multiply-add** (MAC): one multiplication and one addition, a·x + b. Convolutions and the "
        f"classifier are made of them; B0 does {units.si(b0.macs)} per image.\n"
        f"- **FLOPs**: floating-point operations. The EfficientNet paper, like most papers on image networks, "
        f"writes *FLOPs* for multiply-adds: B0's \"0.39B FLOPs\" are {units.si(b0.macs)} multiply-adds. Counting "
        f"each multiply-add as two operations, as profilers and GPU data sheets do, gives "
        f"{units.si(b0.flops, 'FLOP')}. *FLOP/s* is a speed: operations per second.\n"
        f"- **Parameters**: the learned numbers (convolution weights, biases, batch-norm scales and shifts). "
        f"B0 has {units.si(b0.params)}; stored as float32 (4 bytes each) they take about "
        f"{units.si(4 * b0.params, 'B')} on disk.\n"
        f"- **Activation memory**: the feature maps computed for one image. Inference needs only those alive "
        f"at the same time (B0: {units.binary_bytes(b0.activation_bytes)}); training and Grad-CAM keep them all "
        f"for the backward pass (B0: up to {units.binary_bytes(b0.training_activation_bytes)}). It grows with "
        f"the square of the resolution.\n"
        "- **Resolution**: the side of the square input image in pixels (224 for B0, 600 for B7). Every "
        "feature map is this side divided by the strides so far, so FLOPs grow with its square.\n"
        "- **Grad-CAM** (gradient-weighted class activation map, Selvaraju et al., 2017): a heatmap of where "
        "the evidence for one class lies in one layer's feature maps, each map weighted by the average "
        "gradient of the class score (section 7 above).\n"
        "- **Top-1 accuracy**: the share of ImageNet's 50,000 validation images whose highest-scoring class "
        "is the right label. *Top-5* counts an image as right when the label is among the five highest."
    )


# A fixed style sheet (no user text): on a phone, long "Show me" labels wrap and a formula wider than the
# screen scrolls inside its own box instead of running off the right edge.
_NARROW_CSS = """<style>
[data-testid=stPageLink] a, [data-testid=stPageLink] span, [data-testid=stPageLink] p { white-space: normal !important;
  overflow-wrap: anywhere; height: auto !important; }
.katex-display { overflow-x: auto; overflow-y: hidden; max-width: 100%; }
</style>"""


def render() -> None:
    """The Learn page."""
    st.html(_NARROW_CSS)
    st.title("Learn: why compound scaling works")
    st.markdown(
        "A convolutional network can be made bigger in three ways. EfficientNet (Tan & Le, 2019) scales all "
        "three together with one coefficient φ, starting from a small network found by architecture search "
        "(EfficientNet-B0). Each point below links to the control or chart that shows it."
    )

    st.header("1. Depth: more layers")
    st.markdown(
        "Deeper networks combine more steps of features and see a larger part of the image with each unit. "
        "But the gain shrinks as the network grows (ResNet-1000 is about as accurate as ResNet-101), and "
        "very deep networks are harder to train. In the paper's Figure 3, depth, width and resolution each "
        "level off near 80 % top-1 when scaled alone. Cost grows **linearly**: twice the layers, twice the FLOPs."
    )
    _show_me("Show me: depth × 2 only (FLOPs × about 2)", depth="2")

    st.header("2. Width: more channels")
    st.markdown(
        "Wider layers hold more feature channels and capture finer patterns, but wide, shallow networks "
        "miss higher-level features, so gains saturate as well. A convolution's cost is "
        "(channels in) × (channels out) × kernel area per pixel, so FLOPs grow with the **square** of the width."
    )
    _show_me("Show me: width × 2 only (FLOPs × about 4)", width="2")

    st.header("3. Resolution: bigger input images")
    st.markdown(
        "Higher resolution shows smaller details (the paper goes from 224 px to 600 px for B7). Every "
        "feature map has H × W pixels, so FLOPs grow with the **square** of the resolution side, and "
        "activation memory too."
    )
    _show_me("Show me: resolution 448 px only (FLOPs × about 4)", resolution="448")

    st.header("4. The compound rule")
    st.markdown("Scale all three with one coefficient φ (paper, Eq. 3):")
    st.latex(r"\begin{gathered} d = \alpha^{\phi}, \quad w = \beta^{\phi}, \quad r = \gamma^{\phi} \\ "
             r"\text{subject to}\ \ \alpha \cdot \beta^{2} \cdot \gamma^{2} \approx 2,\quad \alpha, \beta, \gamma \ge 1"
             r"\end{gathered}")  # two lines: one ran off a phone's screen
    st.markdown(
        f"A small grid search at φ = 1 found α = {effnet.ALPHA}, β = {effnet.BETA}, γ = {effnet.GAMMA}. "
        "Then φ is raised to get B1 … B7. The paper finds that balanced scaling beats any single dimension at "
        "the same FLOPs (its Table 3 and Figure 8, on ImageNet), and explains it: a bigger image needs more layers "
        "to see it and more channels to hold its finer patterns. The published B1–B7 are rounded versions of "
        "this rule, not exactly α^φ."
    )
    st.markdown(lab_citation("test_accuracy"))
    _show_me("Show me: the α·β²·γ² chart ④ and the paper's Table 3 in chart ③", focus="constraint", mode="Compound",
             phi="3")

    st.header("5. Why FLOPs grow about 2^φ")
    st.latex(r"\begin{gathered} \text{FLOPs} \propto d \cdot w^{2} \cdot r^{2} = \left(\alpha \beta^{2} \gamma^{2}\right)^{\phi} "
             rf"\approx 2^{{\phi}} \\ ({effnet.ALPHA} \cdot {effnet.BETA}^2 \cdot {effnet.GAMMA}^2 = "
             rf"{effnet.flops_ratio_per_phi():.2f}) \end{{gathered}}")
    st.markdown(
        "Depth multiplies the cost once, width and resolution each twice. With the paper's values the factor "
        "per unit of φ is 1.92, a little under 2. The real network moves in steps, because layers are whole "
        "numbers (rounded up), channels are multiples of 8 and the resolution is a whole number of pixels."
    )
    _show_me("Show me: chart ① (FLOPs against φ) at φ = 5", focus="flops_phi", mode="Compound", phi="5")

    st.header("6. MBConv: the inverted residual block")
    st.markdown(
        "Every stage of EfficientNet is a stack of MBConv blocks (from MobileNetV2):\n"
        "1. **expand**: a 1×1 convolution widens the channels 6× (except in stage 2);\n"
        "2. **depthwise**: a 3×3 or 5×5 convolution filters each channel on its own (cheap: no mixing);\n"
        "3. **squeeze-and-excitation**: a tiny network re-weights channels from their global average "
        "(not in EfficientNet-Lite);\n"
        "4. **project**: a 1×1 convolution narrows back, with no activation (a linear bottleneck).\n\n"
        "It is *inverted* because the shortcut (residual) joins the narrow ends, while the wide part lives "
        "inside the block. Most of the parameters are in the 1×1 convolutions; the depthwise step is a "
        "small share of the FLOPs."
    )
    _show_me("Show me: the MBConv explainer and the stage table (B0)", focus="mbconv")

    st.header("7. What Grad-CAM shows, and what it does not")
    st.markdown(
        "Grad-CAM takes the gradient of one class score with respect to the last convolutional feature maps, "
        "averages it per channel into a weight, and adds the maps up with those weights (keeping the positive "
        "part). The result is a coarse heatmap of **where the evidence for that class is**, for that network.\n\n"
        "It does **not** show:\n"
        "- a segmentation or an object outline: the map is 7×7 at 224 px (19×19 at 600 px), then enlarged;\n"
        "- comparable strengths between networks: each map is scaled to 0…1 on its own;\n"
        "- why the network is right or wrong, or what it \"understands\": it is one view of one layer "
        "for one class;\n"
        "- anything meaningful for an untrained (random-weight) network: it still draws a map, which is why "
        "those panels are labelled *untrained*."
    )
    _show_me("Show me: Grad-CAM of Lite0, Lite1, Lite2 on a sample photo", page=ATTENTION)

    roofline_section()
    glossary()
    experiment_section()


def roofline_section() -> None:
    """Why few FLOPs is not fast: the roofline, depthwise convolutions and EfficientNetV2's Fused-MBConv.

    Every figure comes from effnet (the closed-form traffic and the datasheet roofs), not typed in."""
    from effnet.cost.devices import DEVICES
    from effnet.cost.traffic import traffic

    device, dtype = DEVICES["H200 SXM"], "float16"
    b0, v2_s = traffic(effnet.preset("b0"), 1, dtype), traffic(effnet.preset("v2_s"), 1, dtype)
    b0_stage2, v2_stage2 = b0.stages[1], v2_s.stages[1]  # B0's first MBConv stage, V2-S's first Fused-MBConv
    st.header("8. The roofline: why few FLOPs is not fast")
    st.markdown(
        "A layer needs two things: arithmetic (FLOPs) and memory traffic (the bytes of its inputs, outputs and "
        "weights). Its **arithmetic intensity** is FLOPs per byte moved. The roofline model (Williams, Waterman "
        "& Patterson, 2009) says how fast it can possibly run on a device:"
    )
    st.latex(r"\begin{gathered} \text{attainable FLOP/s} = \\ \min(\text{peak FLOP/s}, \\ "
             r"\text{intensity} \times \text{memory bandwidth}) \end{gathered}")  # lines that fit a phone
    st.markdown(
        f"Below the **ridge point** (peak ÷ bandwidth) a layer is *memory-bound*: a faster processor would not "
        f"help it, only fewer bytes would. On an {device.name} in {dtype} the ridge lies at "
        f"{device.ridge(dtype):.0f} FLOP per byte. A depthwise convolution filters each channel on its own, so it "
        f"does few FLOPs for every byte it reads: B0's stage 2 (a depthwise 3×3 block) does "
        f"{b0_stage2.intensity:.1f} FLOP/B at batch 1, and the whole of B0 {b0.intensity:.1f} FLOP/B, far left "
        "of any GPU's ridge. That is why B0's few FLOPs do not make it fast on a GPU.\n\n"
        "**Fused-MBConv** (EfficientNetV2, Tan & Le, 2021) acted on this: in the early, high-resolution stages "
        "it replaces the 1×1 expansion and the depthwise k×k with one ordinary k×k convolution (and drops "
        "squeeze-and-excitation). That costs more FLOPs but does much more arithmetic per byte: V2-S's stage 2 "
        f"does {v2_stage2.intensity:.1f} FLOP/B, the whole of V2-S {v2_s.intensity:.1f} FLOP/B. The later, "
        "low-resolution stages keep MBConv, where its small parameter count matters more than its intensity."
    )
    # The links set the roofline's device, precision and batch to the case these sentences describe.
    case = {"roofline_device": device.name, "roofline_dtype": dtype, "roofline_batch": "1"}
    _show_me(f"Show me: the roofline chart with B0's stages ({device.name}, {dtype}, batch 1)", focus="roofline",
             preset="B0", **case)
    st.page_link(BUILD, label="Show me: EfficientNetV2-S's Fused-MBConv stages on the same chart",
                 icon=":material/arrow_forward:", query_params={"preset": "V2-S", "focus": "roofline", **case})


def lab_citation(metric: str) -> str:
    """What the lab measured on the paper's claim for `metric`, as one Markdown paragraph: the committed
    results' own sentences (app.services.experiment.lab_verdicts, the reader the Experiment page uses),
    or the one line saying why there is no verdict. Never typed here, so the pages cannot drift apart."""
    what = {"test_accuracy": "accuracy", "pointing_game_common": "where the maps point"}.get(metric, metric)
    parts = []
    for task in ("small", "large"):
        verdicts = experiment_results.lab_verdicts(task)
        if task == "large" and verdicts.seeds == 0:
            continue  # the second task has not been run: the Experiment page says so
        if verdicts.message:
            parts.append(f"{TASK_NAMES[task]}: {verdicts.message}")
        else:
            seeds = f"{verdicts.seeds} seed{'s' if verdicts.seeds != 1 else ''}"
            parts.append(f"{TASK_NAMES[task]}, {seeds}: " + " ".join(verdicts.sentences(metric)))
    return f"**What the lab measured** ({what}; Experiment page): " + escape_markdown(" ".join(parts))


def experiment_section() -> None:
    """The experiment behind the claim: Table 7 redone in the lab, with a link to the Experiment page."""
    from effnet.experiment import paper_rows

    paper = paper_rows()
    st.header("The experiment: same FLOPs, four ways")
    st.markdown(
        "The paper's Table 7 scales B0 to about 4.5× its FLOPs in four ways and trains each on ImageNet: "
        f"deeper ({paper['depth']['setting']}, {paper['depth']['top1']:.1f} % top-1), wider "
        f"({paper['width']['setting']}, {paper['width']['top1']:.1f} %), higher resolution "
        f"({paper['resolution']['setting']}, {paper['resolution']['top1']:.1f} %) or all three by the compound rule "
        f"({paper['compound']['setting']}, {paper['compound']['top1']:.1f} %). Its Figure 7 adds that the compound "
        "network's class-activation maps cover the object better, judged by eye.\n\n"
        "The lab redoes it on a small scale you can check: five networks (the baseline and the four scaled ones, "
        "matched to the same multiply-adds within 3 %) trained from scratch with one recipe, once per seed, on "
        "seeded synthetic scenes whose every image comes with the mask of its object. Attention is then measured "
        "instead of judged, on one common grid for every network: the **pointing game** (does the map's peak fall "
        "on the object?) and the **mass inside** (what share of the map lies on it), each beside that network's own "
        "chance level (its maps scored against other scenes' masks). A network is said to beat another only when "
        "one rule, applied to the paired results of every seed, allows it; the result is shown whatever it is."
    )
    st.markdown(lab_citation("test_accuracy"))
    st.markdown(lab_citation("pointing_game_common"))
    st.page_link(EXPERIMENT, label="Open the experiment: five networks at the same FLOPs, measured",
                 icon=":material/arrow_forward:")


if __name__ == "__main__":  # Streamlit runs a page file as __main__ (st.navigation / st.Page)
    render()
