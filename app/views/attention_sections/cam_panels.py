"""Side-by-side CAM panels: overlay, target, top-5, attention figures, downloads, overlap matrix."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pandas as pd
import streamlit as st

from app.components import units
from app.components.text import escape_markdown
from app.services.cam import Panel
from effnet import cam


def panel_title(panel: Panel) -> str:
    """What distinguishes a panel in its comparison: the network, its input size and the layer."""
    result = panel.result
    return f"{result.model_label.removeprefix('EfficientNet-')} · {result.resolution} px · {result.layer}"


def figures_table(panels: list[Panel], overlap: np.ndarray | None, image_name: str, faithfulness=None) -> pd.DataFrame:
    """One row per panel: what was computed and the attention figures (the CSV download)."""
    rows = []
    for index, panel in enumerate(panels):
        result = panel.result
        row = {
            "image": image_name,
            "panel": index + 1,
            "model": result.model_label,
            "trained": result.trained,
            "resolution_px": result.resolution,
            "layer": result.layer,
            "method": result.method,
            "target": result.target_label,
            "target_probability": round(result.target_prob, 6),
            "top1": result.top5[0][0],
            "top1_probability": round(result.top5[0][1], 6),
            "half_mass_area_share": round(result.attention.mass_share_50, 4),
            "centre_x": round(result.attention.centre[0], 4),
            "centre_y": round(result.attention.centre[1], 4),
            "peak_x": round(result.attention.peak[0], 4),
            "peak_y": round(result.attention.peak[1], 4),
        }
        if overlap is not None:
            for other in range(len(panels)):
                row[f"overlap_with_panel_{other + 1}"] = round(float(overlap[index, other]), 4)
        if faithfulness is not None:
            for kind, figures in faithfulness[index].figures.items():
                prefix = "" if kind == "map" else f"{kind}_map_"
                for metric, value in figures.items():
                    if isinstance(value, dict):
                        for percentile, number in value.items():
                            row[f"{prefix}{metric}_p{percentile}"] = round(number, 4)
                    else:
                        row[f"{prefix}{metric}"] = round(value, 4)
        rows.append(row)
    return pd.DataFrame(rows)


SCREEN_SIDE = 640  # the overlay's longer side on screen (app.services.cam.maps)
SLIDE_SCALE = 2


def slide_png(result, image, title: str, caption: str) -> bytes:
    """A panel for a slide: the overlay rendered at twice the on-screen size, and its caption below it in
    type that stays readable on a projected slide. `image` is the photo the map was computed on."""
    from PIL import Image, ImageDraw, ImageFont

    screen_scale = min(1.0, SCREEN_SIDE / max(image.size))
    width = round(image.width * screen_scale * SLIDE_SCALE)
    height = round(image.height * screen_scale * SLIDE_SCALE)
    overlay = result.overlay(image, max_side=max(width, height))
    if overlay.size != (width, height):  # a photo smaller than twice the screen's size: enlarged smoothly
        overlay = overlay.resize((width, height), Image.Resampling.LANCZOS)
    title_font = ImageFont.load_default(size=max(20, width // 26))
    text_font = ImageFont.load_default(size=max(16, width // 36))
    draw = ImageDraw.Draw(overlay)
    lines = [(title, title_font)] + [(line, text_font) for line in _wrap(draw, caption, text_font, width - 40)]
    line_height = [font.getbbox("Ag")[3] + 10 for _, font in lines]
    slide = Image.new("RGB", (width, height + sum(line_height) + 30), "white")
    slide.paste(overlay, (0, 0))
    draw = ImageDraw.Draw(slide)
    y = height + 15
    for (text, font), step in zip(lines, line_height):
        draw.text((20, y), text, fill="#111827", font=font)
        y += step
    buffer = io.BytesIO()
    slide.save(buffer, format="PNG")
    return buffer.getvalue()


def _wrap(draw, text: str, font, width: int) -> list[str]:
    """`text` in lines no wider than `width` pixels in `font`."""
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and draw.textlength(candidate, font=font) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + ([line] if line else [])


def panel_caption(panel: Panel) -> str:
    """The panel's caption as on screen, in one paragraph (the slide export carries it)."""
    result = panel.result
    stats = result.attention
    trained = "" if result.trained else " Untrained (random weights): this map means nothing."
    method = cam.METHOD_LABELS.get(result.method, result.method)
    return (f"{method} of {result.model_label} at {result.resolution} px, layer {result.layer}. "
            f"Target: {result.target_label} ({units.percent(result.target_prob)}). "
            f"Half of the attention lies in {units.percent(stats.mass_share_50)} of the image.{trained}")


def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name.rsplit(".", 1)[0])[:40] or "image"


FAITHFULNESS_ROWS = (("keep_highlighted", None, "Keep highlighted"), ("road_most_relevant_first", 80, "ROAD remove top 20 %"),
                     ("road_least_relevant_first", 20, "ROAD keep top 20 %"), ("road_combined", None, "ROAD combined"))


def faithfulness_markdown(figures) -> str:
    """One panel's faithfulness, each figure beside the random and the centred map's, with its direction."""
    from effnet.faithfulness import MEANINGS

    def value(kind: str, metric: str, percentile):
        number = figures.figures.get(kind, {}).get(metric)
        if isinstance(number, dict):
            number = number.get(percentile)
        return units.signed_points(number) if number is not None else units.NOT_A_NUMBER

    lines = ["**Faithfulness** (change in the target's confidence)", "",
             "| | this map | random | centred | better |", "|---|---|---|---|---|"]
    for metric, percentile, label in FAITHFULNESS_ROWS:
        lines.append(f"| {label} | **{value('map', metric, percentile)}** | {value('random', metric, percentile)} "
                     f"| {value('centre', metric, percentile)} | {MEANINGS[metric][1]} |")
    reading = versus_random(figures)
    return "\n".join(lines) + (f"\n\n{reading}" if reading else "")


def versus_random(figures) -> str:
    """One sentence on the table: how many of its figures the map does better on than the random map,
    and what that means when it is no better (the teacher met Grad-CAM no better than random on the cat)."""
    from effnet.faithfulness import MEANINGS

    better, compared = 0, 0
    for metric, percentile, _ in FAITHFULNESS_ROWS:
        numbers = []
        for kind in ("map", "random"):
            number = figures.figures.get(kind, {}).get(metric)
            numbers.append(number.get(percentile) if isinstance(number, dict) else number)
        if None in numbers:
            continue
        compared += 1
        better += (numbers[0] > numbers[1]) if MEANINGS[metric][1] == "higher" else (numbers[0] < numbers[1])
    if not compared:
        return ""
    if better * 2 > compared:
        return f"Better than a random map on {better} of {compared} figures: the highlighted region does drive the prediction."
    return (f"No better than a random map on {compared - better} of {compared} figures: on this image the "
            "highlighted region drives the prediction no more than a random one, so read this map as a rough hint, "
            "not as the reason for the answer.")


def faithfulness_legend(percentiles) -> str:
    """What each faithfulness figure means, one line each (shown once under the panels)."""
    from effnet.faithfulness import MEANINGS

    return "\n".join([
        f"- **Keep highlighted**: {MEANINGS['keep_highlighted'][0]}. Higher is better.",
        "- **ROAD remove top 20 %** (most relevant first, 80th percentile): the map's most relevant fifth of the pixels "
        "is removed and filled in from its neighbours. Lower is better: the network needed those pixels.",
        "- **ROAD keep top 20 %** (least relevant first, 20th percentile): only the map's most relevant fifth is kept. "
        "Higher is better.",
        f"- **ROAD combined**: {MEANINGS['road_combined'][0].removeprefix('ROAD combined: ')} "
        f"({', '.join(map(str, percentiles))}). Higher is better.",
        "- **Random / centred**: the same figures for a seeded random map as coarse as a CAM and for a centred "
        "Gaussian. A map worth trusting beats both. All figures are from pytorch-grad-cam's metrics module; the "
        "CSV has every percentile.",
    ])


def show_panels(panels: list[Panel], overlap: np.ndarray | None, image_name: str, key: str, image=None,
                faithfulness=None) -> None:
    """Draw the panels of one image side by side (at most 4 a row) and the figures below them.

    With `image` (the photo the maps were computed on), each panel also offers a slide export;
    with `faithfulness` (effnet.faithfulness.Faithfulness per panel), each shows those figures."""
    # Rows of equal panels, at most 4 wide: six stage panels are two rows of three, not 4 + 2.
    rows = math.ceil(len(panels) / 4)
    per_row = math.ceil(len(panels) / rows)
    for start in range(0, len(panels), per_row):
        columns = st.columns(per_row)
        for offset, (column, panel) in enumerate(zip(columns, panels[start:start + per_row])):
            index = start + offset
            result = panel.result
            with column:
                st.markdown(f"**{index + 1}. {escape_markdown(panel_title(panel))}**")
                if not result.trained:
                    st.warning("untrained (random weights): this map means nothing", icon=":material/warning:")
                st.image(panel.overlay_png, width="stretch")
                st.markdown(
                    f"Target: **{escape_markdown(result.target_label)}** ({units.percent(result.target_prob)})"
                )
                # Bars with their text above them: a table's cells cut "38.2 %" to "3" in a narrow panel.
                st.markdown("**Top 5**")
                for label, prob in result.top5:
                    st.progress(min(1.0, max(0.0, float(prob))),
                                text=f"{units.percent(prob)} · {escape_markdown(label)}")
                stats = result.attention
                st.caption(
                    f"Half of the attention lies in {100 * stats.mass_share_50:.1f} % of the image; "
                    f"centre at ({100 * stats.centre[0]:.0f} %, {100 * stats.centre[1]:.0f} %) of width, height; "
                    f"peak at ({100 * stats.peak[0]:.0f} %, {100 * stats.peak[1]:.0f} %)."
                )
                if faithfulness is not None:
                    st.markdown(faithfulness_markdown(faithfulness[index]))
                stem = f"{_file_stem(image_name)}_{index + 1}_{result.model_name or 'custom'}_{result.resolution}_{result.layer}"
                st.download_button(
                    "Download panel (PNG)", panel.overlay_png, file_name=f"{stem}.png",
                    mime="image/png", key=f"{key}_png_{index}", on_click="ignore",
                )
                if image is not None:
                    title = f"{index + 1}. {panel_title(panel)}"
                    st.download_button(
                        "Slide (PNG, 2×, with caption)",
                        # Rendered on click, on its own thread: nothing is computed for panels nobody exports.
                        lambda result=result, title=title, caption=panel_caption(panel): slide_png(result, image, title, caption),
                        file_name=f"{stem}_slide.png", mime="image/png", key=f"{key}_slide_{index}", on_click="ignore",
                    )
    if faithfulness is not None:
        st.markdown(faithfulness_legend(faithfulness[0].percentiles))
    table = figures_table(panels, overlap, image_name, faithfulness)
    if overlap is not None and len(panels) > 1:
        labels = [f"{i + 1}" for i in range(len(panels))]
        st.markdown("**Overlap of the top-20 % regions** (intersection over union: 1 = same region, 0 = disjoint)")
        st.dataframe(
            pd.DataFrame(np.round(overlap, 2), index=[f"panel {label}" for label in labels],
                         columns=[f"panel {label}" for label in labels]),
            width="content",
        )
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    st.download_button(
        "Download the figures (CSV)", buffer.getvalue().encode(), file_name=f"{_file_stem(image_name)}_attention.csv",
        mime="text/csv", key=f"{key}_csv", on_click="ignore",
    )
