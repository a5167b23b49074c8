"""The four Plotly charts of the Build & profile page. Each takes plain values and returns a figure.

Large type and thick lines: the charts are read on a projector from the back of a room.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

FONT = dict(size=15)
COLORS = {"actual": "#1f5fbf", "two": "#d62728", "ratio": "#2ca02c", "current": "#7f3fbf", "grey": "#6b7280"}
SCALING_SYMBOLS = {"baseline": "circle", "depth": "triangle-up", "width": "square", "resolution": "diamond", "compound": "star"}
BASE_COLORS = {"MobileNetV1": "#ff7f0e", "MobileNetV2": "#2ca02c", "ResNet-50": "#8c564b"}


LEGEND_INSIDE_TOP_LEFT = dict(x=0.01, y=0.99, xanchor="left", yanchor="top", bgcolor="rgba(255,255,255,0.85)")
LEGEND_ABOVE = dict(orientation="h", x=0, y=1.0, xanchor="left", yanchor="bottom")
LEGEND_BELOW = dict(orientation="h", x=0, y=-0.2, xanchor="left", yanchor="top")


def _layout(figure: go.Figure, title: str, height: int = 440, legend: dict | None = None, bottom: int = 60) -> go.Figure:
    figure.update_layout(
        title=dict(text=title, font=dict(size=17), y=0.98, yanchor="top"),
        template="plotly_white",
        font=FONT,
        height=height,
        margin=dict(l=70, r=20, t=90, b=bottom),
        legend=legend or LEGEND_ABOVE,
    )
    return figure


def flops_vs_phi(series: Sequence[dict], ratio_name: str, current_phi: float | None, current_ratio: float) -> go.Figure:
    """Chart 1: FLOPs(phi) / FLOPs(0) after rounding, next to 2^phi and (alpha beta^2 gamma^2)^phi."""
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
                           name=f"current (manual) configuration: ×{current_ratio:.2f}",
                           line=dict(color=COLORS["current"], width=2, dash="dashdot"))
    ticks = [v * 10**e for e in range(4) for v in (1, 2, 5)]
    figure.update_yaxes(type="log", title="FLOPs ÷ FLOPs at φ = 0 (log scale)", tickvals=ticks,
                        ticktext=[f"{v:g}" for v in ticks])
    figure.update_xaxes(title="compound coefficient φ")
    return _layout(figure, "① FLOPs grow about 2^φ", legend=LEGEND_INSIDE_TOP_LEFT)


def per_stage(rows: Sequence[dict]) -> go.Figure:
    """Chart 2: parameters and multiply-adds of each stage (stem, MBConv stages 2-8, head)."""
    names = [row["name"] for row in rows]
    figure = go.Figure()
    figure.add_bar(x=names, y=[row["params"] / 1e6 for row in rows], name="parameters (millions)",
                   marker_color=COLORS["actual"], offsetgroup=0)
    figure.add_bar(x=names, y=[row["macs"] / 1e6 for row in rows], name="multiply-adds (millions)",
                   marker_color="#f59e0b", offsetgroup=1, yaxis="y2")
    figure.update_layout(
        yaxis=dict(title="parameters (M)"),
        yaxis2=dict(title="multiply-adds (M)", overlaying="y", side="right", showgrid=False, rangemode="tozero",
                    tickmode="auto"),
        barmode="group",
    )
    return _layout(figure, "② Parameters and FLOPs per stage")


def accuracy_vs_flops(
    effnets: Sequence[dict], others: Sequence[dict], scaling_rows: Sequence[dict], current_gmacs: float, current_label: str
) -> go.Figure:
    """Chart 3: ImageNet top-1 against FLOPs (billions of multiply-adds, log axis), from the paper.

    effnets: B0-B7 (Table 2) as a line; others: e.g. ResNet-50; scaling_rows: Table 3, one marker
    per (base network, scaling). The current configuration is a vertical line: its FLOPs are known,
    its accuracy is not (it has not been trained).
    """
    figure = go.Figure()
    figure.add_scatter(
        x=[r["flops_b"] for r in effnets], y=[r["top1"] for r in effnets], text=[r["model"] for r in effnets],
        mode="lines+markers+text", textposition="top left", name="EfficientNet B0–B7 (Table 2)",
        line=dict(color=COLORS["actual"], width=3), marker=dict(size=9),
    )
    for row in others:
        figure.add_scatter(x=[row["flops_b"]], y=[row["top1"]], text=[row["model"]], mode="markers+text",
                           textposition="bottom right", name=f"{row['model']} (Table 2)",
                           marker=dict(size=12, color=COLORS["grey"], symbol="hexagon"))
    for base in dict.fromkeys(r["base"] for r in scaling_rows):
        for scaling in dict.fromkeys(r["scaling"] for r in scaling_rows if r["base"] == base):
            rows = [r for r in scaling_rows if r["base"] == base and r["scaling"] == scaling]
            figure.add_scatter(
                x=[r["flops_b"] for r in rows], y=[r["top1"] for r in rows],
                hovertext=[f"{base}, {scaling}: {r['setting']}" for r in rows], hoverinfo="text+x+y",
                mode="markers", name=f"{base} {scaling} (Table 3)",
                marker=dict(size=11, color=BASE_COLORS.get(base, COLORS["grey"]),
                            symbol=SCALING_SYMBOLS.get(scaling, "circle"), line=dict(width=1, color="#111")),
            )
    # The current configuration as a vertical line trace (a shape on a log axis would need log10 x).
    low_y, high_y = 69.0, 86.0
    figure.add_scatter(x=[current_gmacs, current_gmacs], y=[low_y, high_y], mode="lines",
                       line=dict(color=COLORS["current"], width=2, dash="dash"),
                       name=f"current: {current_gmacs:.3g} B FLOPs (accuracy unknown: untrained)")
    flops = [r["flops_b"] for r in [*effnets, *others, *scaling_rows]] + [current_gmacs]
    figure.update_xaxes(type="log", title="FLOPs (billions of multiply-adds, log scale)",
                        range=[math.log10(min(flops) / 1.5), math.log10(max(flops) * 1.5)])
    figure.update_yaxes(title="ImageNet top-1 accuracy (%)", range=[low_y, high_y])
    return _layout(figure, "③ Accuracy against FLOPs (paper, Tables 2 and 3)", height=560,
                   legend=dict(orientation="v", y=0.5, yanchor="middle", x=1.02, font=dict(size=13)))


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
    return _layout(figure, "④ The constraint α·β²·γ² ≈ 2", height=560, legend=LEGEND_BELOW, bottom=150)
