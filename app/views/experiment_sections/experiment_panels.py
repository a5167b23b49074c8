"""Grad-CAM panels of the experiment's networks side by side: one row per image, one column per network.

Each panel (effnet.experiment.panels.MapPanel) is the network's own input (enlarged with its real
pixels), its map and the object's outline (white), captioned with its prediction, right or wrong,
and where its map fell on the common grid.
"""

from __future__ import annotations

import streamlit as st

from app.components import units
from app.components.experiment_charts import short_name
from app.components.text import escape_markdown


def column_headers(networks: list[dict], with_truth: bool) -> None:
    columns = st.columns(len(networks) + int(with_truth))
    if with_truth:
        columns[0].markdown("**The scene**")
    for column, network in zip(columns[int(with_truth):], networks):
        grid = network.get("native_grid")
        grid_text = f", map {grid}×{grid}" if isinstance(grid, int) else ""
        column.markdown(f"**{escape_markdown(short_name(str(network['name'])))}**")
        column.caption(f"{int(network['resolution'])} px{grid_text}")


def _caption(panel, grid: int | None) -> str:
    """The panel's network first: on a phone the columns stack and the header row is no longer above them."""
    network = f"**{escape_markdown(short_name(str(panel.network)))}**  \n"
    predicted = escape_markdown(panel.predicted)
    confidence = f" ({units.percent(panel.confidence)})" if panel.confidence is not None else ""
    if panel.correct is None and panel.peak_inside is None:
        return f"{network}predicts **{predicted}**{confidence}"
    mark = ":green[✓ right]" if panel.correct else ":red[✗ wrong]"
    where = f" on the {grid}×{grid} grid" if isinstance(grid, int) else ""
    peak = "on" if panel.peak_inside else "off"
    return (f"{network}{mark}: {predicted}{confidence}  \npeak {peak} the object{where}, "
            f"{units.percent(panel.mass_inside)} of the map inside")


def panel_row(panels: list, truth: tuple[bytes, str] | None = None, grid: int | None = None) -> None:
    """One image: (optionally) the scene with its class, then each network's panel."""
    columns = st.columns(len(panels) + int(truth is not None))
    if truth is not None:
        png, class_name = truth
        columns[0].image(png, width="stretch")
        columns[0].caption(f"class: **{escape_markdown(class_name)}** (outlined)")
    for column, panel in zip(columns[int(truth is not None):], panels):
        column.image(panel.png, width="stretch")
        column.caption(_caption(panel, grid))
