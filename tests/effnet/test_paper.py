"""effnet.paper: the published numbers are consistent among themselves and with the paper's own
ratio columns, and effnet's closed-form counts reproduce the published sizes."""

from __future__ import annotations

import math

import pytest

import effnet
from effnet import paper

B_PRESETS = [f"b{i}" for i in range(8)]


def significant_round(value: float, printed: float) -> float:
    """`value` rounded to the precision the paper printed `printed` with (2 significant digits,
    or one decimal for figures such as 5.3M and 13.0M)."""
    decimals = max(1 - math.floor(math.log10(printed)), 0)
    text = f"{printed}"
    if "." in text:
        decimals = max(decimals, len(text.split(".")[1]))
    return round(value, decimals)


# ---------------------------------------------------------------------------------------------
# The data on its own
# ---------------------------------------------------------------------------------------------
def test_every_row_has_a_source_and_a_unique_name() -> None:
    for table in (paper.TABLE2, paper.TABLE3, paper.TABLE7, paper.LITE):
        assert all(row.source for row in table)
    assert {row.source for row in paper.TABLE2} == {"Table 2"}
    assert {row.source for row in paper.TABLE3} == {"Table 3"}
    assert {row.source for row in paper.TABLE7} == {"Table 7"}
    assert {row.source for row in paper.LITE} == {paper.LITE_SOURCE}
    assert len({row.model for row in paper.TABLE2}) == len(paper.TABLE2)
    assert "1905.11946v5" in paper.PAPER


def test_presets_are_effnets() -> None:
    assert list(paper.table2_by_preset()) == B_PRESETS
    assert list(paper.lite_by_preset()) == [f"lite{i}" for i in range(5)]
    for row in paper.TABLE2:
        assert (row.preset is not None) == row.model.startswith("EfficientNet-")
        if row.preset:
            assert row.preset in effnet.PRESETS and effnet.preset(row.preset).label == row.model
    for row in paper.LITE:
        assert effnet.preset(row.preset).label == row.model


@pytest.mark.parametrize("field", ["flops_b", "params_m", "top1", "top5", "top1_2019", "top5_2019"])
def test_b0_to_b7_grow(field: str) -> None:
    values = [getattr(paper.table2_by_preset()[name], field) for name in B_PRESETS]
    assert all(a <= b for a, b in zip(values, values[1:])), values
    if field in ("flops_b", "params_m", "top1"):
        assert all(a < b for a, b in zip(values, values[1:])), values


@pytest.mark.parametrize("field", ["params_m", "top1", "latency_ms", "madds_b"])
def test_lite0_to_lite4_grow(field: str) -> None:
    values = [getattr(row, field) for row in paper.LITE]
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_versions_differ_as_documented() -> None:
    # v5 retrained B0-B5 (B0 76.3% -> 77.1%); Table 4 of v5 still quotes the 2019 B1 and B7
    rows = paper.table2_by_preset()
    assert (rows["b0"].top1_2019, rows["b0"].top1) == (76.3, 77.1)
    assert (rows["b1"].top1_2019, rows["b7"].top1_2019) == (78.8, 84.4)
    assert all(rows[name].top1 > rows[name].top1_2019 for name in ("b0", "b1", "b2", "b3", "b4", "b5"))


def test_accuracy_is_a_percentage() -> None:
    for row in paper.TABLE2:
        assert 50 < row.top1 < row.top5 < 100
    for row in paper.TABLE3 + paper.TABLE7 + paper.LITE:
        assert 50 < row.top1 < 100


# Table 2's "Ratio-to-EfficientNet" columns, typed from the v5 text: each other network's
# parameters and FLOPs over those of the EfficientNet it is grouped with. They are a second set of
# printed numbers, so reproducing them checks the typing of both. Ratios were computed by the authors
# from unrounded sizes: allow 6%.
RATIOS = {
    "ResNet-50": (4.9, 11), "DenseNet-169": (2.6, 8.9),
    "ResNet-152": (7.6, 16), "DenseNet-264": (4.3, 8.6), "Inception-v3": (3.0, 8.1), "Xception": (3.0, 12),
    "Inception-v4": (5.2, 13), "Inception-resnet-v2": (6.1, 13),
    "ResNeXt-101": (7.0, 18), "PolyNet": (7.7, 19),
    "SENet": (7.7, 10), "NASNet-A": (4.7, 5.7), "AmoebaNet-A": (4.6, 5.5), "PNASNet": (4.5, 6.0),
    "AmoebaNet-C": (5.2, 4.1),
}


def test_table2_sizes_reproduce_the_printed_ratios() -> None:
    effnets = paper.table2_by_preset()
    others = [row for row in paper.TABLE2 if row.preset is None]
    assert {row.model for row in others} == set(RATIOS)
    for row in others:
        reference = effnets[row.group]
        params_ratio, flops_ratio = RATIOS[row.model]
        assert row.params_m / reference.params_m == pytest.approx(params_ratio, rel=0.06), row.model
        if row.model == "PNASNet":
            # printed 23B, but 6.0x B4's 4.2B is 25B (see effnet/paper.py): the one inconsistency
            assert row.flops_b / reference.flops_b == pytest.approx(5.5, abs=0.05)
            continue
        assert row.flops_b / reference.flops_b == pytest.approx(flops_ratio, rel=0.06), row.model
    # (The caption's "up to 16x FLOPS reduction" disagrees with the table's own 18x and 19x.)


def test_every_efficientnet_is_smaller_than_its_group() -> None:
    effnets = paper.table2_by_preset()
    for row in paper.TABLE2:
        if row.preset is None:
            reference = effnets[row.group]
            assert reference.params_m < row.params_m and reference.flops_b < row.flops_b, row.model


def test_table3_rows_are_complete() -> None:
    for base in ("MobileNetV1", "MobileNetV2", "ResNet-50"):
        rows = {row.scaling: row for row in paper.TABLE3 if row.base == base}
        assert {"baseline", "compound", "width", "resolution"} <= set(rows)
        # every scaled network costs more than its baseline, and compound scaling is the most accurate
        assert all(row.flops_b > rows["baseline"].flops_b for row in rows.values() if row.scaling != "baseline")
        assert rows["compound"].top1 == max(row.top1 for row in rows.values())
    # the ResNet-50 baseline is the same network as Table 2's ResNet-50
    resnet = next(row for row in paper.TABLE2 if row.model == "ResNet-50")
    baseline = next(row for row in paper.TABLE3 if row.base == "ResNet-50" and row.scaling == "baseline")
    assert (baseline.flops_b, baseline.top1) == (resnet.flops_b, resnet.top1)


# ---------------------------------------------------------------------------------------------
# effnet's counts against the published sizes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", B_PRESETS)
def test_params_round_to_table2(name: str) -> None:
    ours = effnet.profile(effnet.preset(name)).params / 1e6
    printed = paper.table2_by_preset()[name].params_m
    if name == "b2":
        # The paper prints 9.2M; B2 has 9,109,994 parameters here and in torchvision (and 9.18M in
        # Keras, which also counts batch norm's moving statistics). No count convention rounds to
        # every printed figure (Keras' would give 7.9M for B1 and 31M for B5).
        assert ours == pytest.approx(printed, rel=0.015)
        assert significant_round(ours, printed) == 9.1
        return
    assert significant_round(ours, printed) == printed


@pytest.mark.parametrize("row", paper.LITE, ids=lambda row: row.preset)
def test_lite_params_round_to_the_lite_table(row: paper.LiteModel) -> None:
    ours = effnet.profile(effnet.preset(row.preset)).params / 1e6
    assert significant_round(ours, row.params_m) == row.params_m


@pytest.mark.parametrize("row", paper.LITE, ids=lambda row: row.preset)
def test_lite_macs_below_the_lite_tables_madds(row: paper.LiteModel) -> None:
    # The Lite README's MAdds are 3-6% above the multiply-adds of convolutions and classifier
    # (ours; ptflops' aten backend agrees). They match, within 0.5% for Lite0-2, a count that adds
    # one operation per value for batch norm and activations (ptflops' `pytorch` backend: 405, 630,
    # 898 M against the README's 407, 631, 899 M), so that is most likely what the README counts.
    ours = effnet.profile(effnet.preset(row.preset)).macs / 1e9
    assert 0.93 * row.madds_b <= ours < row.madds_b


def test_compound_row_of_table7_matches_our_count() -> None:
    # Table 7's compound model, B0 at d=1.4, w=1.2, r=1.3 (224 * 1.3 = 291 px): printed 1.8B.
    # (Its single-dimension rows do not follow from their labels; see effnet/paper.py.)
    compound = next(row for row in paper.TABLE7 if row.scaling == "compound")
    config = effnet.ScalingConfig(depth=1.4, width=1.2, resolution=int(224 * 1.3))
    assert round(effnet.profile(config).macs / 1e9, 1) == compound.flops_b
    baseline = next(row for row in paper.TABLE7 if row.scaling == "baseline")
    assert round(effnet.profile(effnet.preset("b0")).macs / 1e9, 1) == baseline.flops_b


@pytest.mark.parametrize("name", ["v2_s", "v2_m", "v2_l"])
def test_v2_table_agrees_with_the_built_networks(name: str) -> None:
    # torchvision's V2 (which effnet equals) against the official table: V2-S rounds to it
    # (21.46 M, 8.37 G); V2-M and V2-L lie within 1% (54.14 M / 24.58 G vs 54.1 / 24.7; 118.52 M /
    # 56.08 G vs 119.5 / 56.3). The gap is not explained here; torchvision's V2-L has the same count.
    row = paper.v2_by_preset()[name]
    cost = effnet.profile(effnet.preset(name))
    assert effnet.preset(name).label == row.model
    assert cost.params / 1e6 == pytest.approx(row.params_m, rel=0.01)
    assert cost.macs / 1e9 == pytest.approx(row.flops_b, rel=0.01)
