"""The four Plotly charts of the Build & profile page. Each takes plain values and returns a figure.

Large type and thick lines: the charts are read on a projector from the back of a room.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from app.components import units

FONT = dict(size=15)
COLORS = {"actual": "#1f5fbf", "two": "#d62728", "ratio": "#2ca02c", "current": "#7f3fbf", "grey": "#6b7280",
          "pinned": "#0f766e"}
SCALING_SYMBOLS = {"baseline": "circle", "depth": "triangle-up", "width": "square", "resolution": "diamond", "compound": "star"}
BASE_COLORS = {"MobileNetV1": "#ff7f0e", "MobileNetV2": "#2ca02c", "ResNet-50": "#8c564b"}


EXPORT_SCALE = 2  # slide exports: twice the on-screen pixels, sharp on a 4K projector


def export_config(name: str) -> dict:
    """Plotly's config for st.plotly_chart: one toolbar button, a PNG at 2x with the chart's title, legend
    and source line (the modebar's default set covered chart titles on a phone)."""
    return {
        "displaylogo": False,
        "modeBarButtons": [["toImage"]],
        "toImageButtonOptions": {"format": "png", "scale": EXPORT_SCALE, "filename": f"effnet_{name}"},
    }


LEGEND_INSIDE_TOP_LEFT = dict(x=0.01, y=0.99, xanchor="left", yanchor="top", bgcolor="rgba(255,255,255,0.85)")
LEGEND_ABOVE = dict(orientation="h", x=0, y=1.0, xanchor="left", yanchor="bottom")
LEGEND_BELOW = dict(orientation="h", x=0, y=-0.2, xanchor="left", yanchor="top")


def _layout(figure: go.Figure, title: str, subtitle: str, height: int = 440, legend: dict | None = None,
            bottom: int = 60) -> go.Figure:
    """Shared look. The subtitle says where the numbers come from: it is part of the figure, so a slide
    export (the toolbar's PNG) carries it. Titles stay short: on a phone a long one ran off the edge."""
    figure.update_layout(
        title=dict(text=title, font=dict(size=17), y=0.98, yanchor="top",
                   subtitle=dict(text=subtitle, font=dict(size=13, color="#374151"))),
        template="plotly_white",
        font=FONT,
        height=height,
        margin=dict(l=70, r=20, t=90, b=bottom),
        legend=legend or LEGEND_ABOVE,
    )
    return figure


def flops_vs_phi(series: Sequence[dict], ratio_name: str, current_phi: float | None, current_ratio: float,
                 pinned: tuple[float | None, float, str] | None = None) -> go.Figure:
    """Chart 1: FLOPs(phi) / FLOPs(0) after rounding, next to 2^phi and (alpha beta^2 gamma^2)^phi.

    pinned: (its phi or None, its FLOPs ÷ the series' FLOPs at phi = 0, its label), drawn like the current one.
    """
    phis = [row["phi"] for row in series]
    figure = go.Figure()
    figure.add_scatter(x=phis, y=[row["actual_ratio"] for row in series], name="actual network (after rounding)",
                       mode="lines", line=dict(color=COLORS["actual"], width=3, shape="hv"))
    figure.add_scatter(x=phis, y=[row["two_to_phi"] for row in series], name="2^φ",
                       mode="lines", line=dict(color=COLORS["two"], width=2, dash="dash"))
    figure.add_scatter(x=phis, y=[row["constraint_ratio"] for row in series], name=f"{ratio_name}^φ",
                       mode="lines", line=dict(color=COLORS["ratio"], width=2, dash="dot"))
    if current_phi is not None:
        figure.add_scatter(x=[current_phi], y=[current_ratio], name="current configuration", mode="markers",
                           marker=dict(color=COLORS["current"], size=14, symbol="x"))
    else:
        # A line trace, not add_hline: on a log axis plotly places hline annotations at 10**y,
        # which stretched the axis to 5000.
        figure.add_scatter(x=[phis[0], phis[-1]], y=[current_ratio, current_ratio], mode="lines",
                           name=f"current (manual) configuration: {units.times(current_ratio)}",
                           line=dict(color=COLORS["current"], width=2, dash="dashdot"))
    if pinned is not None:
        pinned_phi, pinned_ratio, pinned_label = pinned
        if pinned_phi is not None:
            figure.add_scatter(x=[pinned_phi], y=[pinned_ratio], name=f"pinned {pinned_label}", mode="markers",
                               marker=dict(color=COLORS["pinned"], size=14, symbol="diamond-open", line=dict(width=3)))
        else:
            figure.add_scatter(x=[phis[0], phis[-1]], y=[pinned_ratio, pinned_ratio], mode="lines",
                               name=f"pinned {pinned_label}: {units.times(pinned_ratio)}",
                               line=dict(color=COLORS["pinned"], width=2, dash="dot"))
    ticks = [v * 10**e for e in range(6) for v in (1, 2, 5)]
    figure.update_yaxes(type="log", title="FLOPs ÷ FLOPs at φ = 0 (log scale)", tickvals=ticks,
                        ticktext=[f"{v:,g}" for v in ticks])
    figure.update_xaxes(title="compound coefficient φ")
    # The legend below the plot: inside it, a manual configuration's line ran under it at the top edge.
    return _layout(figure, "① FLOPs grow about 2^φ", "effnet's exact count after rounding ÷ its count at φ = 0",
                   height=520, legend=LEGEND_BELOW, bottom=150)


def per_stage(rows: Sequence[dict], label: str = "", pinned_rows: Sequence[dict] | None = None,
              pinned_label: str = "") -> go.Figure:
    """Chart 2: parameters and multiply-adds of each stage (stem, MBConv stages 2-8, head)."""
    names = [row["name"] for row in rows]
    figure = go.Figure()
    # Raw counts with SI ticks ("800k", "2G"): the axis was in millions and still printed "0.8M" (0.8 M millions).
    figure.add_bar(x=names, y=[row["params"] for row in rows], name="parameters",
                   marker_color=COLORS["actual"], offsetgroup=0, hovertemplate="%{x}: %{y:.3~s} parameters<extra></extra>")
    figure.add_bar(x=names, y=[row["macs"] for row in rows], name="multiply-adds (FLOPs)",
                   marker_color="#f59e0b", offsetgroup=1, yaxis="y2",
                   hovertemplate="%{x}: %{y:.3~s} multiply-adds<extra></extra>")
    if pinned_rows:
        # The pinned configuration as open markers over the bars, on the same two axes.
        figure.add_scatter(x=[row["name"] for row in pinned_rows], y=[row["params"] for row in pinned_rows],
                           mode="markers", name=f"pinned {pinned_label}: parameters",
                           marker=dict(symbol="line-ew-open", size=26, color=COLORS["pinned"], line=dict(width=4)),
                           hovertemplate="%{x}: %{y:.3~s} parameters (pinned)<extra></extra>")
        figure.add_scatter(x=[row["name"] for row in pinned_rows], y=[row["macs"] for row in pinned_rows],
                           mode="markers", name=f"pinned {pinned_label}: multiply-adds", yaxis="y2",
                           marker=dict(symbol="diamond-open", size=12, color=COLORS["pinned"], line=dict(width=3)),
                           hovertemplate="%{x}: %{y:.3~s} multiply-adds (pinned)<extra></extra>")
    figure.update_layout(
        yaxis=dict(title="parameters", tickformat="~s", rangemode="tozero"),
        yaxis2=dict(title="multiply-adds", overlaying="y", side="right", showgrid=False, rangemode="tozero",
                    tickmode="auto", tickformat="~s"),
        barmode="group",
    )
    figure = _layout(figure, "② Parameters and FLOPs per stage", f"{label}, counted in closed form by effnet".lstrip(", "),
                     height=520, legend=LEGEND_BELOW, bottom=150)
    figure.update_layout(margin=dict(r=70))
    return figure


FLOPS_TICKS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def accuracy_vs_flops(
    effnets: Sequence[dict], others: Sequence[dict], scaling_rows: Sequence[dict], current_gmacs: float, current_label: str,
    pinned_gmacs: float | None = None, pinned_label: str = "", current_top1: float | None = None,
    pinned_top1: float | None = None,
) -> go.Figure:
    """Chart 3: ImageNet top-1 against FLOPs (billions of multiply-adds, log axis), from the paper.

    effnets: B0-B7 (Table 2) as a line; others: e.g. ResNet-50; scaling_rows: Table 3, one marker
    per (base network, scaling). The current configuration is a vertical line at its FLOPs; when it is
    a published network (current_top1: its published top-1) a marker also sits at that accuracy,
    otherwise its accuracy is unknown (it has not been trained). The pinned one likewise.

    The legend says what colour and symbol mean instead of naming all 14 (base, scaling) pairs:
    colour is the base network, the symbol is the scaling (those keys are not traces: clicking them hides nothing).
    """
    figure = go.Figure()
    # The current configuration first, so that every marker and label is drawn over it.
    low_y, high_y = 69.0, 86.0
    if current_top1 is not None:
        current_name = f"current {current_label}: {units.si(current_gmacs * 1e9)} FLOPs, {current_top1:.1f} % (published)"
    else:
        current_name = f"current: {units.si(current_gmacs * 1e9)} FLOPs (untrained)"
    figure.add_scatter(x=[current_gmacs, current_gmacs], y=[low_y, high_y], mode="lines",
                       line=dict(color=COLORS["current"], width=2, dash="dash"), legendrank=3, legendgroup="table2",
                       name=current_name)
    if pinned_gmacs is not None:
        pinned_known = f", {pinned_top1:.1f} % (published)" if pinned_top1 is not None else ""
        figure.add_scatter(x=[pinned_gmacs, pinned_gmacs], y=[low_y, high_y], mode="lines", legendrank=4,
                           legendgroup="table2", line=dict(color=COLORS["pinned"], width=3, dash="dot"),
                           name=f"pinned {pinned_label}: {units.si(pinned_gmacs * 1e9)} FLOPs{pinned_known}")
    for gmacs, top1, color, label in ((current_gmacs, current_top1, COLORS["current"], current_label),
                                      (pinned_gmacs, pinned_top1, COLORS["pinned"], pinned_label)):
        if gmacs is not None and top1 is not None:  # a published network: its accuracy is known
            figure.add_scatter(x=[gmacs], y=[top1], mode="markers", showlegend=False, hoverinfo="text",
                               hovertext=[f"{label}: {top1:.1f} % top-1 (published)"],
                               marker=dict(size=20, color=color, symbol="star", line=dict(width=1.5, color="#111")))
    figure.add_scatter(
        x=[r["flops_b"] for r in effnets], y=[r["top1"] for r in effnets], hovertext=[r["model"] for r in effnets],
        hoverinfo="text+x+y", mode="lines+markers", name="EfficientNet B0–B7 (Table 2)", legendrank=1,
        legendgroup="table2", legendgrouptitle=dict(text="Table 2 and yours:"),
        line=dict(color=COLORS["actual"], width=3), marker=dict(size=9),
    )
    bases = list(dict.fromkeys(r["base"] for r in scaling_rows))
    for base in bases:
        for scaling in dict.fromkeys(r["scaling"] for r in scaling_rows if r["base"] == base):
            rows = [r for r in scaling_rows if r["base"] == base and r["scaling"] == scaling]
            figure.add_scatter(
                x=[r["flops_b"] for r in rows], y=[r["top1"] for r in rows],
                hovertext=[f"{base}, {scaling}: {r['setting']} (Table 3)" for r in rows], hoverinfo="text+x+y",
                mode="markers", name=f"{base} {scaling} (Table 3)", legendgroup=base, showlegend=False,
                marker=dict(size=11, color=BASE_COLORS.get(base, COLORS["grey"]),
                            symbol=SCALING_SYMBOLS.get(scaling, "circle"), line=dict(width=1, color="#111")),
            )
    # Table 2's other networks: a large open hexagon around Table 3's baseline marker at the same point
    # (ResNet-50 at 4.1 B, 76.0 %), so that neither hides the other.
    for row in others:
        figure.add_scatter(x=[row["flops_b"]], y=[row["top1"]], hovertext=[f"{row['model']} (Table 2)"],
                           hoverinfo="text+x+y", mode="markers", name=f"{row['model']} (Table 2)", legendrank=2,
                           legendgroup="table2",
                           marker=dict(size=24, color=COLORS["grey"], symbol="hexagon-open", line=dict(width=3)))
    # Legend keys: colour = base network, symbol = scaling.
    for base in bases:
        figure.add_scatter(x=[None], y=[None], mode="markers", name=base, legendgroup="colour",
                           legendgrouptitle=dict(text="Table 3 (colour):") if base == bases[0] else None,
                           marker=dict(size=11, color=BASE_COLORS.get(base, COLORS["grey"]), symbol="circle"),
                           legendrank=10)
    scalings = list(dict.fromkeys(r["scaling"] for r in scaling_rows))
    for scaling in scalings:
        figure.add_scatter(x=[None], y=[None], mode="markers", name=scaling, legendgroup="scaling",
                           legendgrouptitle=dict(text="scaling (symbol):") if scaling == scalings[0] else None,
                           marker=dict(size=11, color="#ffffff", symbol=SCALING_SYMBOLS.get(scaling, "circle"),
                                       line=dict(width=1.5, color="#111")),
                           legendrank=20)
    # Labels as annotations: on a white box above-left of their marker, so the current line passes under
    # them and never through them, and no label sits on a marker.
    for row in [*effnets, *others]:
        right_side = row in others
        figure.add_annotation(x=math.log10(row["flops_b"]), y=row["top1"], text=row["model"], showarrow=False,
                              xanchor="left" if right_side else "right", yanchor="top" if right_side else "bottom",
                              xshift=14 if right_side else -7, yshift=-6 if right_side else 5,
                              bgcolor="rgba(255,255,255,0.9)", font=dict(size=14))
    flops = [r["flops_b"] for r in [*effnets, *others, *scaling_rows]] + [current_gmacs]
    flops += [pinned_gmacs] if pinned_gmacs is not None else []
    low_x, high_x = min(flops) / 1.5, max(flops) * 1.5
    ticks = [t for t in FLOPS_TICKS if low_x <= t <= high_x]
    figure.update_xaxes(type="log", title="FLOPs (billions of multiply-adds, log scale)",
                        range=[math.log10(low_x), math.log10(high_x)], tickvals=ticks,
                        ticktext=[f"{t:,g}" for t in ticks])
    figure.update_yaxes(title="ImageNet top-1 accuracy (%)", range=[low_y, high_y])
    return _layout(figure, "③ Accuracy against FLOPs", "Published top-1: Tan & Le, arXiv 1905.11946v5, Tables 2 and 3",
                   height=640,
                   legend=dict(LEGEND_BELOW, y=-0.2, groupclick="toggleitem", traceorder="grouped", font=dict(size=13),
                               tracegroupgap=6, valign="top"),
                   bottom=190)


def constraint(alpha: float, beta: float, gamma: float, paper: tuple[float, float, float]) -> go.Figure:
    """Chart 4: alpha * beta^2 * gamma^2 over (beta, gamma) at the current alpha; the line where it is 2.

    On that line FLOPs double with each unit of phi. The paper's (beta, gamma) and the current ones
    are marked; the paper's point is on the line for the paper's alpha (1.2).
    """
    upper = max(1.5, beta + 0.05, gamma + 0.05)
    betas = np.linspace(1.0, upper, int(round((upper - 1.0) / 0.01)) + 1)
    gammas = betas
    z = alpha * (betas[None, :] ** 2) * (gammas[:, None] ** 2)  # numpy: Plotly validates arrays fast
    figure = go.Figure()
    figure.add_contour(
        x=betas, y=gammas, z=z, colorscale="Blues", contours=dict(start=1.0, end=6.0, size=0.25),
        colorbar=dict(title="α·β²·γ²"), hovertemplate="β=%{x:.2f}<br>γ=%{y:.2f}<br>α·β²·γ²=%{z:.2f}<extra></extra>",
        name="α·β²·γ²", showscale=True, opacity=0.7,
    )
    line_betas = betas[alpha * betas**2 <= 2.0]
    figure.add_scatter(x=line_betas, y=np.sqrt(2.0 / (alpha * line_betas**2)), mode="lines",
                       line=dict(color="#d62728", width=4), name=f"α·β²·γ² = 2 (α = {alpha:.2f})")
    figure.add_scatter(x=[paper[1]], y=[paper[2]], mode="markers", marker=dict(size=14, color="#111", symbol="star"),
                       name=f"paper: α={paper[0]}, β={paper[1]}, γ={paper[2]}")
    figure.add_scatter(x=[beta], y=[gamma], mode="markers",
                       marker=dict(size=22, color=COLORS["current"], symbol="circle-open", line=dict(width=3)),
                       name=f"yours: α={alpha:.2f}, β={beta:.2f}, γ={gamma:.2f}")
    figure.update_xaxes(title="β (width per unit of φ)", range=[1.0, upper])
    figure.update_yaxes(title="γ (resolution per unit of φ)", range=[1.0, upper])
    return _layout(figure, "④ The constraint α·β²·γ² ≈ 2", "FLOPs grow by α·β²·γ² per unit of φ (paper, Eq. 3)",
                   height=560, legend=LEGEND_BELOW, bottom=150)
