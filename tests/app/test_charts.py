"""app.components.charts: what a teacher found on the projector, checked on the figures themselves.

The data are the paper's (effnet.paper, Tables 2 and 3) and effnet's profiles; the figures are plain
Plotly objects, so their ticks, legends and drawing order can be read without a browser.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import effnet  # noqa: E402
from app.components import charts  # noqa: E402
from effnet import paper  # noqa: E402


def _paper_rows():
    effnets = [{"model": r.model.removeprefix("EfficientNet-"), "flops_b": r.flops_b, "top1": r.top1}
               for r in paper.TABLE2 if r.preset]
    others = [{"model": r.model, "flops_b": r.flops_b, "top1": r.top1} for r in paper.TABLE2 if r.model == "ResNet-50"]
    table3 = [{"base": r.base, "scaling": r.scaling, "setting": r.setting, "flops_b": r.flops_b, "top1": r.top1}
              for r in paper.TABLE3]
    return effnets, others, table3


@pytest.fixture
def accuracy_figure():
    effnets, others, table3 = _paper_rows()
    return charts.accuracy_vs_flops(effnets, others, table3, effnet.profile(effnet.preset("b4")).macs / 1e9, "B4")


def test_accuracy_ticks_are_labelled_in_full(accuracy_figure):
    """Plotly's log ticks read '2 5 1 2 5 10 2 5': 0.2 and 20 both looked like 2."""
    axis = accuracy_figure.layout.xaxis
    labels = list(axis.ticktext)
    assert len(labels) == len(set(labels))
    assert {"0.2", "2", "20"} <= set(labels)
    assert [float(text.replace(",", "")) for text in labels] == pytest.approx(list(axis.tickvals))


def test_accuracy_legend_is_grouped_and_outside_the_plot(accuracy_figure):
    shown = [trace for trace in accuracy_figure.data if trace.showlegend is not False]
    table3_pairs = {(r.base, r.scaling) for r in paper.TABLE3}
    assert len(shown) < len(table3_pairs)  # was one entry per (base, scaling) pair, 16 in all
    titled = [trace.legendgrouptitle.text for trace in shown if trace.legendgrouptitle and trace.legendgrouptitle.text]
    assert len(titled) == 3  # Table 2 and yours; Table 3 colour; scaling symbol
    assert accuracy_figure.layout.legend.y < 0  # below the plot: on a phone it covered the markers


def test_resnet_table2_marker_is_not_hidden_under_table3(accuracy_figure):
    traces = list(accuracy_figure.data)
    table2 = next(i for i, t in enumerate(traces) if t.name == "ResNet-50 (Table 2)")
    table3 = next(i for i, t in enumerate(traces) if t.name == "ResNet-50 baseline (Table 3)")
    assert (traces[table2].x, traces[table2].y) == (traces[table3].x, traces[table3].y)  # the same point
    assert table2 > table3  # drawn on top ...
    assert "open" in traces[table2].marker.symbol and traces[table2].marker.size > traces[table3].marker.size  # ... around it


def test_the_current_line_is_drawn_under_the_labels(accuracy_figure):
    traces = list(accuracy_figure.data)
    assert traces[0].name.startswith("current:")  # first trace: drawn first, under every marker
    labels = {a.text: a for a in accuracy_figure.layout.annotations}
    assert {"B0", "B4", "B7", "ResNet-50"} <= set(labels)
    assert all(a.bgcolor for a in labels.values())  # the line passes under a label's box, not through its text
    assert labels["B4"].xanchor == "right" and labels["B4"].xshift < 0  # beside its marker, not on it


def test_per_stage_axes_use_si_ticks_on_raw_counts():
    """The right axis read '0.8M' under the title 'multiply-adds (M)'."""
    rows = [{"name": s.stage.index, "params": s.params, "macs": s.macs} for s in effnet.profile(effnet.preset("b0")).stages]
    figure = charts.per_stage(rows, "EfficientNet-B0")
    assert "(M)" not in figure.layout.yaxis.title.text and "(M)" not in figure.layout.yaxis2.title.text
    assert figure.layout.yaxis.tickformat == figure.layout.yaxis2.tickformat == "~s"
    assert list(figure.data[1].y) == [row["macs"] for row in rows]


def test_flops_chart_legend_leaves_the_plot_for_a_manual_line():
    series = effnet.flops_growth(tuple(step / 10 for step in range(81)))
    figure = charts.flops_vs_phi(series, "1.92", None, 9980.0)
    assert figure.layout.legend.y < 0
    assert "×9,980" in figure.data[-1].name
    assert max(figure.layout.yaxis.tickvals) >= 9980


def test_every_chart_exports_a_2x_png_with_its_source_line():
    config = charts.export_config("per_stage")
    assert config["toImageButtonOptions"] == {"format": "png", "scale": 2, "filename": "effnet_per_stage"}
    rows = [{"name": "1", "params": 1, "macs": 1}]
    assert charts.per_stage(rows, "B0").layout.title.subtitle.text


def test_a_published_preset_is_shown_with_its_published_accuracy_and_a_custom_one_untrained():
    """Chart ③ with B4 selected read 'current: 4.39 G FLOPs (untrained)' beside the paper's B4 at 82.9 %."""
    effnets, others, table3 = _paper_rows()
    b4 = effnet.profile(effnet.preset("b4")).macs / 1e9
    top1, source = paper.published_top1("b4")
    assert top1 == 82.9 and "Table 2" in source  # Tan & Le, arXiv 1905.11946v5, Table 2
    figure = charts.accuracy_vs_flops(effnets, others, table3, b4, "B4", current_top1=top1)
    names = " ".join(trace.name or "" for trace in figure.data)
    assert "untrained" not in names and "current B4" in names and "82.9 %" in names
    stars = [t for t in figure.data if t.marker.symbol == "star" and t.mode == "markers" and list(t.y) == [82.9]]
    assert len(stars) == 1 and list(stars[0].x) == [b4]  # at the preset's FLOPs and its published top-1
    custom = charts.accuracy_vs_flops(effnets, others, table3, 1.0, "B custom", current_top1=None)
    assert custom.data[0].name.startswith("current:") and "untrained" in custom.data[0].name
    assert len(custom.data) == len(figure.data) - 1  # no marker at an accuracy nobody measured


@pytest.mark.parametrize("preset, top1", [("v2_s", 83.9), ("lite2", 77.6), ("b0", 77.1)])
def test_every_family_has_its_published_top1(preset, top1):
    """google/automl's EfficientNetV2 table (V2-S 83.9 %), tensorflow/tpu's Lite table (Lite2 77.6 %),
    the paper's Table 2 (B0 77.1 %, v5)."""
    assert paper.published_top1(preset)[0] == top1
    assert paper.published_top1("") is None


def test_matched_networks_of_one_cost_are_drawn_apart_in_order():
    from app.components.experiment_charts import spread

    macs = [8.2, 37.8, 36.9, 37.3, 37.2]  # the experiment's baseline and four networks at 4.5x (millions)
    moved = spread(macs)
    assert moved[0] == 8.2  # alone: not moved
    drawn = sorted(moved[1:])
    assert min(b - a for a, b in zip(drawn, drawn[1:])) >= 0.04 * (max(macs) - min(macs))  # apart
    assert sorted(range(1, 5), key=lambda i: moved[i]) == sorted(range(1, 5), key=lambda i: macs[i])  # same order
    paper_flops = [0.39, 1.8, 1.8, 1.9, 1.8]  # Table 7: depth, width and compound all at 1.8 B
    assert len({round(x, 6) for x in spread(paper_flops)}) == 5


def test_a_wide_table_splits_into_parts_that_fit_and_each_names_its_rows():
    import pandas as pd

    from app.components.projector import split_columns

    frame = pd.DataFrame([{"Network": "higher resolution", **{f"Column number {i}": "12.3 % (10.1–14.2)" for i in range(8)}}])
    parts = split_columns(frame, budget=60)
    assert len(parts) > 1
    assert all(list(part.columns)[0] == "Network" for part in parts)  # every part names its rows
    assert [c for part in parts for c in part.columns if c != "Network"] == list(frame.columns[1:])  # nothing lost
    def words(part) -> int:  # the longest piece between spaces, hyphens and dashes, plus 3 a column
        return sum(max(len(piece) for text in [str(c), *map(str, part[c])]
                       for piece in text.replace("-", "- ").replace("–", "– ").split()) + 3 for c in part.columns)

    assert all(words(part) <= 60 for part in parts)
    assert split_columns(frame[["Network", "Column number 0"]], budget=60)[0].equals(frame[["Network", "Column number 0"]])
