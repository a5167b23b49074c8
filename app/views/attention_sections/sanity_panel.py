"""The Attention page's "Sanity check" section: its inputs, the row of maps and the similarity chart.

Layout only: app.services.sanity runs effnet.sanity and caches what is drawn here.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app.components import charts, projector
from app.components.text import escape_markdown

MEASURE_LABELS = {
    "spearman": "Spearman rank correlation",
    "spearman_abs": "Spearman of |map|",
    "ssim": "SSIM",
    "hog": "HOG-feature correlation",
}
METHOD_COLOURS = {"gradcam": "#1f5fbf", "gradcam++": "#d62728", "hirescam": "#2ca02c", "layercam": "#ff7f0e",
                  "eigencam": "#7f3fbf", "sobel": "#6b7280"}
MEASURE_DASH = {"spearman": "solid", "spearman_abs": "dot", "ssim": "dash", "hog": "dashdot"}
PAPER = ("Adebayo, Gilmer, Muelly, Goodfellow, Hardt, Kim: \"Sanity Checks for Saliency Maps\", NeurIPS 2018 "
         "(arXiv 1810.03292)")

EXPLANATION = f"""
**What this test shows.** A heat map should explain *this* network. So destroy the network, one block at a
time from the top, and watch the map: the classifier is re-initialised first, then the head, then each stage
down to the stem, each with the network's own random initialisation. At every step the map of the same photo
for the same class (the trained network's choice) is compared with the trained map. A method that depends on
what the network learned gives a different map once the top is random, and the similarity falls. A map that
stays the same while the weights turn to noise was showing something else — the photo's edges, or a
preference of the method itself. The grey line is an edge detector (Sobel, no network at all): the
"just image structure" reference, similar to itself at every step by construction.

**What it does not show.** Passing is necessary, not sufficient: a map that changes when the weights change
can still point at the wrong place. Whether maps land on the object is the experiment's pointing game;
whether the highlighted pixels drive the prediction is the faithfulness toggle above. The random weights are
one seeded draw; and every CAM here is scaled to 0–1 on its own, so only the shapes are compared.

Source: {PAPER}, section 3 (cascading model-parameter randomisation; Spearman with and without absolute
values, SSIM and HOG similarity as in their figures).
"""


def settings(image_names: list[str], networks: dict[str, str], methods: tuple[str, ...], labels: dict[str, str]):
    """(image index, network key, the methods to run) from the section's inputs."""
    several = len(image_names) > 1
    columns = st.columns(3 if several else 2)
    image = 0
    if several:
        image = columns[0].selectbox("Image", range(len(image_names)), key="cam_sanity_image",
                                     format_func=lambda i: image_names[i])
    network = columns[-2].selectbox("Network", list(networks), format_func=networks.get, key="cam_sanity_network",
                                   help="ImageNet weights: Lite0/1/2 ship with the lab; B0–B7 and V2 appear once fetched "
                                        "(python -m effnet weights fetch). The experiment's networks were trained on "
                                        "synthetic patterns: their classes are stripes and checks.")
    choice = columns[-1].selectbox("Method", ("all",) + tuple(methods), key="cam_sanity_method",
                                  format_func=lambda m: "all (one pass per step for every method)" if m == "all" else labels[m])
    chosen = tuple(m for m in methods if m != "sobel") if choice == "all" else (choice,)
    return image, network, (chosen if "sobel" in chosen else chosen + ("sobel",))


def figure(view, methods: tuple[str, ...], measure: str | None) -> go.Figure:
    """Similarity to the trained map at each step: for one method (and Sobel) every measure, or for
    several methods one measure (`measure`)."""
    steps = view.step_labels
    fig = go.Figure()
    for method in methods:
        figures = view.figures["methods"][method]
        shown_measures = [measure] if measure else list(MEASURE_LABELS)
        for name in shown_measures:
            values = [step.get(name) for step in figures["steps"]]
            suffix = "" if len(shown_measures) == 1 else f" · {MEASURE_LABELS[name]}"
            fig.add_trace(go.Scatter(
                x=steps, y=values, mode="lines+markers", name=f"{figures['label']}{suffix}",
                line=dict(color=METHOD_COLOURS.get(method, "#111827"), width=3, dash=MEASURE_DASH[name]),
                hovertemplate="%{x}: %{y:.2f}<extra>" + figures["label"] + "</extra>",
            ))
    fig.add_hline(y=0, line=dict(color="#9ca3af", width=1))
    what = MEASURE_LABELS[measure] if measure else "every measure"
    fig = charts._layout(fig, "Similarity to the trained network's map",
                         f"{what}; x: the block re-initialised at that step (everything above it is random too)",
                         height=460, legend=charts.LEGEND_BELOW, bottom=150)
    fig.update_yaxes(title="similarity (1 = the trained map)", range=[-1.05, 1.05], tickformat=".1f")
    fig.update_xaxes(title="randomised from the top down to")
    return fig


def show(view, methods: tuple[str, ...], labels: dict[str, str], key: str) -> None:
    """The rows of maps (trained → fully random) and the chart, inside one keyed container."""
    figures = view.figures
    with st.container(key=key):
        st.markdown(
            f"**{escape_markdown(figures['label'])}**, maps at the {escape_markdown(figures['layer'])} for "
            f"**{escape_markdown(figures['target'])}** (the trained network's top class, kept at every step); "
            f"seed {figures['seed']}; computed in {figures['seconds']:.1f} s.")
        for method in methods:
            st.markdown(f"**{escape_markdown(labels[method])}**")
            columns = st.columns(len(view.step_labels))
            for column, label, png in zip(columns, view.step_labels, view.tiles[method]):
                column.image(png, width="stretch")
                column.caption(label if label != "stem" else "stem (all random)")
        measure = None
        if len(methods) > 2:  # several methods: one measure at a time keeps the chart readable
            measure = st.radio("Measure", list(MEASURE_LABELS), format_func=MEASURE_LABELS.get, horizontal=True,
                               key="cam_sanity_measure")
        st.plotly_chart(projector.figure(figure(view, methods, measure)), key=f"{key}_chart",
                        config=charts.export_config("sanity_check"), theme=projector.theme())
        for hidden, shown_on in coinciding(view, methods):
            st.caption(f"{labels[hidden]}'s line lies under {labels[shown_on]}'s: their figures are the same at every "
                       "step (at a layer followed only by global average pooling and the classifier, HiResCAM and "
                       "Grad-CAM give the same map).")


def coinciding(view, methods: tuple[str, ...], tolerance: float = 1e-4) -> list[tuple[str, str]]:
    """(earlier method, later method) pairs whose figures agree at every step and in every measure:
    the later one's line is drawn over the earlier one's."""
    def values(method: str) -> list:
        return [step.get(m) for step in view.figures["methods"][method]["steps"] for m in MEASURE_LABELS]

    pairs = []
    for position, later in enumerate(methods):
        for earlier in methods[:position]:
            a, b = values(earlier), values(later)
            if all((x is None and y is None) or (x is not None and y is not None and abs(x - y) <= tolerance)
                   for x, y in zip(a, b)):
                pairs.append((earlier, later))
    return pairs
