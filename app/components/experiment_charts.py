"""The Experiment page's three Plotly charts, from a results document's networks (plain dicts).

1. accuracy against multiply-adds, measured here, beside the paper's Table 7 (its Figure 8 idea);
2. the attention scores on the common grid (pointing game, mass inside the object), means ± sd over
   seeds, each beside that network's own chance level; or pytorch-grad-cam's faithfulness figures on photos;
3. the training curves (loss and validation accuracy per epoch), one line per network.

Same look as the Build page's charts (app.components.charts): large type for a projector, the source
in the subtitle so that a slide export carries it.
"""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.components import units
from app.components.charts import LEGEND_BELOW, SCALING_SYMBOLS, _layout

NETWORK_COLORS = {"baseline": "#6b7280", "depth": "#d62728", "width": "#ff7f0e", "resolution": "#2ca02c",
                  "compound": "#1f5fbf"}
SHORT_NAMES = {"baseline": "baseline", "depth": "deeper", "width": "wider", "resolution": "higher resolution",
               "compound": "compound"}
PAPER_LABEL = "Paper, Table 7 (B0 on ImageNet)"


def plain(text: str) -> str:
    """Text from a results file for a Plotly label: Plotly reads a few HTML tags (<a href>, <b>, <br>) in
    titles and hover text, so angle brackets are replaced by look-alikes and nothing is interpreted."""
    return str(text).replace("<", "‹").replace(">", "›")


def short_name(name: str) -> str:
    return SHORT_NAMES.get(name) or plain(name)


def _color(name: str) -> str:
    return NETWORK_COLORS.get(name, "#111827")


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _spread(network: dict, key: str) -> tuple[float, float] | None:
    """(minus, plus) error bar in percentage points: the sd over seeds of network[key + '_mean']."""
    spread = _number(network.get(f"{key}_sd"))
    return None if spread is None else (100 * spread, 100 * spread)


def _mean(network: dict, key: str) -> float | None:
    value = _number(network.get(f"{key}_mean"))
    return _number(network.get(key)) if value is None else value


SPREAD = 0.05  # points of one cost drawn this share of the panel's x span apart


def spread(values: Sequence[float], within: float = 0.06) -> list[float]:
    """Values within `within` (relative) of each other moved apart by SPREAD of the values' span each, in
    order of cost, around their middle: the matched networks share one cost, and their markers hid each
    other (the paper's deeper behind its wider). Hover texts keep the exact figures."""
    moved = list(values)
    span = (max(values) - min(values)) or abs(max(values)) * 0.1 or 1.0
    order = sorted(range(len(values)), key=lambda i: values[i])
    groups: list[list[int]] = []
    for index in order:
        if groups and values[index] <= values[groups[-1][0]] * (1 + within):
            groups[-1].append(index)
        else:
            groups.append([index])
    for group in groups:
        for position, index in enumerate(group):  # in order of cost, ties in the networks' order
            moved[index] = values[index] + SPREAD * span * (position - (len(group) - 1) / 2)
    return moved


def _wrapped(name: str) -> str:
    """A category label on two lines ('higher<br>resolution'): the bar charts cut it at one."""
    return name.replace(" ", "<br>", 1)


def accuracy_vs_flops(networks: Sequence[dict], paper: dict, dataset_name: str) -> go.Figure:
    """Left: test accuracy (mean ± sd over seeds) against multiply-adds, measured; right: the paper's Table 7.
    Networks of (about) the same cost are drawn slightly apart (spread), in both panels."""
    figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                           subplot_titles=("Measured here", PAPER_LABEL))
    measured_x = spread([network["macs"] / 1e6 for network in networks])
    rows = [paper.get(str(network["name"])) if isinstance(paper, dict) else None for network in networks]
    published = [isinstance(row, dict) and _number(row.get("flops_b")) is not None and _number(row.get("top1")) is not None
                 for row in rows]
    paper_x = spread([row["flops_b"] if ok else 0.0 for row, ok in zip(rows, published)])
    for index, network in enumerate(networks):
        name = str(network["name"])
        bars = _spread(network, "test_accuracy")
        accuracy = _mean(network, "test_accuracy")
        figure.add_scatter(
            x=[measured_x[index]], y=[100 * accuracy], mode="markers", name=short_name(name),
            legendgroup=name, marker=dict(size=16, color=_color(name), symbol=SCALING_SYMBOLS.get(name, "circle"),
                                          line=dict(width=1, color="#111")),
            error_y=dict(type="data", symmetric=False, array=[bars[1]], arrayminus=[bars[0]], thickness=2, width=8)
            if bars else None,
            hovertext=[f"{short_name(name)}: {units.si(network['macs'])} multiply-adds, "
                       f"{units.percent(accuracy)} test accuracy (mean over seeds)"], hoverinfo="text",
            row=1, col=1,
        )
        row = rows[index]
        if published[index]:
            figure.add_scatter(
                x=[paper_x[index]], y=[row["top1"]], mode="markers", name=short_name(name), legendgroup=name,
                showlegend=False, marker=dict(size=16, color=_color(name), symbol=SCALING_SYMBOLS.get(name, "circle"),
                                              line=dict(width=1, color="#111")),
                hovertext=[f"{short_name(name)} ({row.get('setting', '')}): {row['flops_b']:g} B FLOPs, "
                           f"{row['top1']:.1f} % top-1 (paper)"], hoverinfo="text",
                row=1, col=2,
            )
    figure.update_xaxes(title_text="multiply-adds per image (millions)", exponentformat="none", row=1, col=1)
    figure.update_yaxes(title_text="held-out accuracy (%)", exponentformat="none", row=1, col=1)
    figure.update_xaxes(title_text="FLOPs (billions of multiply-adds)", exponentformat="none", row=1, col=2)
    figure.update_yaxes(title_text="ImageNet top-1 (%)", exponentformat="none", row=1, col=2)
    figure = _layout(figure, "Accuracy against FLOPs",
                     f"Left: measured here on {plain(dataset_name)}, mean ± sd over seeds<br>Right: Tan & Le, "
                     "arXiv 1905.11946v5, Table 7 (not measured here); points of one cost drawn slightly apart",
                     height=500, legend=LEGEND_BELOW, bottom=120)
    figure.update_layout(margin=dict(t=125))  # two subtitle lines above the panels' own titles
    return figure


def attention_scores(networks: Sequence[dict], grid: int | None = None) -> go.Figure:
    """Pointing game and mass inside on the common grid per network (means ± sd over seeds), each with
    a marker at that network's own chance level (its maps scored against other scenes' masks)."""
    names = [_wrapped(short_name(n["name"])) for n in networks]
    figure = go.Figure()
    for key, label, color in (("pointing_game_common", "pointing game: the map's peak on the object", "#1f5fbf"),
                              ("mass_inside_common", "mass inside: the map's share on the object", "#f59e0b")):
        values, bars, chances = [], [], []
        for network in networks:
            value = _mean(network, key)
            values.append(None if value is None else 100 * value)
            bars.append((_spread(network, key) or (0.0, 0.0))[1])
            chance = _number(network.get(f"{key}_chance"))
            chances.append(None if chance is None else 100 * chance)
        figure.add_bar(x=names, y=values, name=label, marker_color=color, offsetgroup=key,
                       error_y=dict(type="data", array=bars, thickness=2, width=6),
                       hovertemplate="%{x}: %{y:.1f} %<extra>" + key.replace("_", " ") + "</extra>")
        figure.add_bar(x=names, y=chances, name=f"its chance level ({label.split(':')[0]})", offsetgroup=key,
                       marker=dict(color="rgba(0,0,0,0)", line=dict(color="#111827", width=2)),
                       hovertemplate="%{x}: chance %{y:.1f} %<extra></extra>", base=None)
    figure.update_layout(barmode="group")
    figure.update_yaxes(title_text="share of held-out images / of the map (%)", rangemode="tozero", exponentformat="none")
    where = f"a common {grid}×{grid} grid" if isinstance(grid, int) else "a common grid"
    figure = _layout(figure, "Does the map fall on the object?",
                     f"Grad-CAM of the predicted class against the object's mask, on {where}<br>mean ± sd over "
                     "seeds; outlined: each network's own chance",
                     height=480, legend=LEGEND_BELOW, bottom=130)
    figure.update_layout(margin=dict(t=110))
    return figure


def faithfulness_scores(networks: Sequence[dict]) -> go.Figure:
    """Photos (no masks): pytorch-grad-cam's confidence change when only the highlighted region is kept
    (higher is better) and ROAD, most relevant pixels removed first (lower is better)."""
    names = [_wrapped(short_name(n["name"])) for n in networks]
    figure = go.Figure()
    for key, label, color in (("keep_highlighted", "keep the highlighted region (higher: better)", "#1f5fbf"),
                              ("road_most_relevant_first", "ROAD, most relevant removed (lower: better)", "#f59e0b")):
        values, minus, plus = [], [], []
        for network in networks:
            scores = network.get("faithfulness") or {}
            value = _number(scores.get(key))
            values.append(value)
            interval = scores.get(f"{key}_ci")
            if value is not None and isinstance(interval, list) and len(interval) == 2 and None not in interval:
                minus.append(max(0.0, value - interval[0]))
                plus.append(max(0.0, interval[1] - value))
            else:
                minus.append(0.0)
                plus.append(0.0)
        figure.add_bar(x=names, y=values, name=label, marker_color=color,
                       error_y=dict(type="data", symmetric=False, array=plus, arrayminus=minus, thickness=2, width=6))
    figure.update_layout(barmode="group")
    figure.update_yaxes(title_text="change in the class's confidence", exponentformat="none")
    return _layout(figure, "Are the maps faithful?", "pytorch-grad-cam's metrics module; 95% intervals",
                   height=460, legend=LEGEND_BELOW, bottom=130)


def training_curves(networks: Sequence[dict]) -> go.Figure:
    """Training loss and validation accuracy per epoch, one line per network (the first seed)."""
    figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                           subplot_titles=("training loss", "validation accuracy (%)"))
    for network in networks:
        name = str(network["name"])
        history = [h for h in network.get("history") or [] if isinstance(h, dict)]
        epochs = [h.get("epoch") for h in history]
        line = dict(color=_color(name), width=3)
        marker = dict(size=9, symbol=SCALING_SYMBOLS.get(name, "circle"))
        figure.add_scatter(x=epochs, y=[h.get("train_loss") for h in history], mode="lines+markers",
                           name=short_name(name), legendgroup=name, line=line, marker=marker,
                           hovertemplate=f"{short_name(name)}, epoch %{{x}}: loss %{{y:.3f}}<extra></extra>", row=1, col=1)
        accuracy = [None if _number(h.get("val_accuracy")) is None else 100 * h["val_accuracy"] for h in history]
        figure.add_scatter(x=epochs, y=accuracy, mode="lines+markers", name=short_name(name), legendgroup=name,
                           showlegend=False, line=line, marker=marker,
                           hovertemplate=f"{short_name(name)}, epoch %{{x}}: %{{y:.1f}} %<extra></extra>", row=1, col=2)
    figure.update_xaxes(title_text="epoch", dtick=1, exponentformat="none")
    figure.update_yaxes(exponentformat="none")
    # The legend well below the epoch axis and its title: at y=-0.2 it sat on "epoch".
    return _layout(figure, "Training curves", "One recipe for all five networks; the first seed's run",
                   height=480, legend=dict(LEGEND_BELOW, y=-0.3), bottom=150)
