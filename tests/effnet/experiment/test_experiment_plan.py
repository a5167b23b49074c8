"""The matched-FLOPs plan: every network within 3% of its target, counted by ptflops on the built
module (the outside reference), and the B0 x 4.5 plan beside the paper's Table 7."""

from __future__ import annotations

import json
import re
import math

import pytest

import effnet
from effnet.experiment import matched_plan, paper_rows, plan_as_dicts
from effnet.experiment.plan import TOLERANCE

ptflops = pytest.importorskip("ptflops")


def ptflops_macs(config: effnet.ScalingConfig) -> int:
    import torch

    model = effnet.build(config)
    with torch.no_grad():
        macs, _ = ptflops.get_model_complexity_info(model, (3, config.resolution, config.resolution), backend="aten",
                                                    as_strings=False, print_per_layer_stat=False, verbose=False)
    return int(macs)


SMALL = effnet.ScalingConfig(depth=0.5, width=0.4, resolution=80, num_classes=10)


@pytest.mark.parametrize("base, multiple", [(SMALL, 4.5), (effnet.preset("b0"), 4.5)], ids=["small-4.5x", "b0-4.5x"])
def test_every_network_is_within_three_percent_by_ptflops(base, multiple):
    plan = matched_plan(base, multiple)
    assert [n.name for n in plan] == ["baseline", "depth", "width", "resolution", "compound"]
    base_macs = ptflops_macs(plan[0].config)
    for network in plan[1:]:
        measured = ptflops_macs(network.config)
        assert abs(measured / base_macs / multiple - 1) <= TOLERANCE, (network.name, measured / base_macs)
        # and the closed form the plan used agrees with ptflops
        assert network.macs == pytest.approx(measured, rel=1e-3)


def test_each_single_dimension_network_changes_only_its_dimension():
    base = effnet.preset("b0")
    plan = {n.name: n.config for n in matched_plan(base, 4.5)}
    assert (plan["depth"].width, plan["depth"].resolution) == (base.width, base.resolution) and plan["depth"].depth > base.depth
    assert (plan["width"].depth, plan["width"].resolution) == (base.depth, base.resolution) and plan["width"].width > base.width
    assert (plan["resolution"].depth, plan["resolution"].width) == (base.depth, base.width)
    assert plan["resolution"].resolution % 8 == 0 and plan["resolution"].resolution > base.resolution


def test_compound_follows_alpha_beta_gamma_with_one_phi():
    network = matched_plan(effnet.preset("b0"), 4.5)[-1]
    phi = network.phi
    assert network.config.depth == pytest.approx(effnet.ALPHA**phi)
    assert network.config.width == pytest.approx(effnet.BETA**phi)
    # the resolution is a multiple of 8 next to 224 * gamma**phi
    assert network.config.resolution % 8 == 0
    assert abs(network.config.resolution - 224 * effnet.GAMMA**phi) < 8


def test_b0_plan_lands_near_table_7():
    rows = {row["name"]: row for row in plan_as_dicts(matched_plan(effnet.preset("b0"), 4.5))}
    paper = paper_rows()
    assert paper["depth"]["setting"] == "d=4" and paper["compound"]["setting"] == "d=1.4, w=1.2, r=1.3"
    assert 3.5 <= rows["depth"]["depth_ratio"] <= 4.5  # paper: d=4
    assert 1.8 <= rows["width"]["width_ratio"] <= 2.3  # paper: w=2
    assert 1.9 <= rows["resolution"]["resolution_ratio"] <= 2.2  # paper: r=2
    compound = rows["compound"]
    assert compound["depth_ratio"] == pytest.approx(1.4, abs=0.05)
    assert compound["width_ratio"] == pytest.approx(1.2, abs=0.03)
    assert compound["resolution_ratio"] == pytest.approx(1.3, abs=0.05)
    # the paper's FLOPs for the scaled rows: 1.8-1.9 B multiply-adds; ours, all within 3% of 4.5 x 0.386 G
    for name in ("depth", "width", "resolution", "compound"):
        assert 1.6e9 < rows[name]["macs"] < 1.85e9


@pytest.mark.parametrize("multiple", [0.5, 1.0, 100.0, float("nan"), True])
def test_out_of_range_multiples_are_refused_in_one_line(multiple):
    with pytest.raises(effnet.ConfigError, match="FLOPs multiple must be between") as caught:
        matched_plan(effnet.preset("b0"), multiple)
    assert "\n" not in str(caught.value)


def test_a_plan_past_the_labs_range_says_so_and_what_to_choose():
    from effnet.experiment.plan import largest_multiple

    with pytest.raises(effnet.ConfigError, match="pass the lab's limit, depth ×8") as caught:
        matched_plan(effnet.preset("b4"), 8.0)  # depth-only would need d > 8
    message = str(caught.value)
    assert "\n" not in message and "choose a multiple up to" in message
    suggested = float(re.search(r"up to ([\d.]+)", message).group(1))
    assert suggested <= largest_multiple(effnet.preset("b4"))
    plan = matched_plan(effnet.preset("b4"), suggested, strict=False)  # what it suggests works
    assert all(abs(network.error) < 0.1 for network in plan)


def test_compound_phi_8_names_the_largest_multiple_and_a_full_base_only_a_smaller_base():
    with pytest.raises(effnet.ConfigError, match=r"at most 1\.\d\d×; choose a multiple up to 1\.\d"):
        matched_plan(effnet.compound(8.0), 2.0)  # d = 1.2^8 = 4.3: the deeper one needs d > 8
    with pytest.raises(effnet.ConfigError, match="choose a smaller base$"):
        matched_plan(effnet.ScalingConfig(depth=8, width=8, resolution=1024), 2.0)


def test_v2_plans_scale_the_v2_table():
    """V2-S's blocks per stage are the EfficientNetV2 paper's Table 4 (2, 4, 4, 6, 9, 15; 40 in
    torchvision's efficientnet_v2_s); its plan at 2x lands within 3%, the deeper network on whole
    layers of that table (it was solved against B0's seven stages)."""
    from effnet.experiment.plan import layer_counts

    base = effnet.preset("v2_s")
    assert layer_counts(base) == [2, 4, 4, 6, 9, 15]
    plan = matched_plan(base, 2.0)
    assert all(abs(network.error) <= 0.03 for network in plan)
    deeper = plan[1].config
    assert deeper.stage_table == "v2_s" and sum(layer_counts(deeper)) > 40
    assert [effnet.scaling.round_repeats(r, deeper.depth) for r in (2, 4, 4, 6, 9, 15)] == layer_counts(deeper)


def test_a_step_that_misses_3_percent_is_refused_strictly_and_shown_otherwise():
    """Lite0 at 2x: depth moves in whole layers and Lite keeps its first and last stage, so the
    nearest deeper network lands outside 3%; the experiment refuses it, a table may show it."""
    with pytest.raises(effnet.ConfigError, match="no deeper network within 3%"):
        matched_plan(effnet.preset("lite0"), 2.0)
    plan = matched_plan(effnet.preset("lite0"), 2.0, strict=False)
    assert abs(plan[1].error) > 0.03 and all(abs(network.error) <= 0.03 for network in plan[2:])


def test_cli_plan_json_lists_the_five(capsys):
    from effnet.cli import main

    assert main(["experiment", "plan", "--flops", "4.5", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == ["baseline", "depth", "width", "resolution", "compound"]
    for row in rows:
        assert {"name", "depth", "width", "resolution", "params", "macs"} <= set(row)
    assert rows[0]["macs"] == effnet.profile(effnet.preset("b0")).macs


def test_cli_plan_table_shows_the_paper_beside_ours(capsys):
    from effnet.cli import main

    assert main(["experiment", "plan", "--flops", "4.5"]) == 0
    out = capsys.readouterr().out
    assert "d=1.4, w=1.2, r=1.3" in out and "81.1% top-1" in out and "compound" in out


def test_cli_plan_bad_base_is_one_line(capsys):
    from effnet.cli import main

    assert main(["experiment", "plan", "--base", "b9"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown base" in err and len(err.splitlines()) == 1


def test_plan_builds_no_network(monkeypatch):
    import effnet.model

    def refuse(*args, **kwargs):
        raise AssertionError("the plan must not build a network")

    monkeypatch.setattr(effnet.model, "EfficientNet", refuse)
    assert math.isfinite(matched_plan(effnet.preset("b2"), 2.0)[-1].flops_multiple)
