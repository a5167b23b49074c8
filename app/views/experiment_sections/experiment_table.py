"""The Experiment page's tables: the five networks' measured figures (means ± sd over seeds), each
attention figure beside what it must be compared with, and the paper's Table 7 for the order.

Pure functions of a results document (plain dicts from results.json, format effnet-experiment/2):
easy to test without a server. No sentence here ranks networks: those come from the document's
comparisons (effnet.experiment.stats' one rule). st.table renders Markdown in its cells, so every
text that comes from the file goes through escape_markdown; the numbers are formatted here.
"""

from __future__ import annotations

import pandas as pd

from app.components import units
from app.components.experiment_charts import short_name
from app.components.text import escape_markdown
from effnet.experiment import TITLES, paper_rows
from effnet.experiment.results import STILL_RISING

PAPER_FLOPS = "Paper: FLOPs (its setting)"
PAPER_TOP1 = "Paper: top-1 (ImageNet)"


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def mean_sd(network: dict, key: str) -> str:
    """'71.2 % ± 1.3' (the mean over seeds ± their sd, in points); '71.2 %' for one seed; '–' when missing."""
    mean = _number(network.get(f"{key}_mean"))
    if mean is None:
        mean = _number(network.get(key))
    if mean is None:
        return units.NOT_A_NUMBER
    spread = _number(network.get(f"{key}_sd"))
    return units.percent(mean) + (f" ± {100 * spread:.1f}" if spread is not None else "")


def seeds_of(network: dict) -> int:
    return len(network.get("seeds") or [])


def scaling(network: dict) -> str:
    """How far from the baseline: 'd ×4.41', 'w ×2.08', 'd ×1.22, w ×1.11, r ×1.25'; '' for the baseline."""
    parts = []
    for key, symbol in (("depth_ratio", "d"), ("width_ratio", "w"), ("resolution_ratio", "r")):
        ratio = _number(network.get(key))
        if ratio is not None and round(ratio, 3) != 1:
            parts.append(f"{symbol} {units.times(ratio)}")
    return ", ".join(parts)


def network_label(network: dict) -> str:
    """'Deeper (d ×4.41)', 'Compound (d ×1.22, w ×1.11, r ×1.25)', 'Baseline'."""
    name = str(network.get("name", ""))
    label = short_name(name).capitalize() if name in TITLES else escape_markdown(name)
    ratios = scaling(network)
    return f"{label} ({ratios})" if ratios else label


def last_fifth_gain(network: dict) -> str:
    """'+0.4 pts' or '+6.1 pts: still rising' (the budget rule's 2 points or more); '–' when unknown."""
    gain = _number(network.get("last_fifth_validation_gain"))
    if gain is None:
        return units.NOT_A_NUMBER
    text = f"{100 * gain:+.1f} pts"
    return f"{text}: still rising" if gain >= STILL_RISING else text


def accuracy_table(document: dict) -> pd.DataFrame:
    """One row per network: d, w, r, parameters, multiply-adds, test accuracy (mean ± sd over n seeds),
    the last-fifth validation gain, and the paper's Table 7 row (its FLOPs and ImageNet top-1), labelled
    as the paper's."""
    paper = paper_rows()
    rows = []
    for network in document["networks"]:
        row = {
            "Network": network_label(network),
            "d": f"{network['depth']:.3g}",
            "w": f"{network['width']:.3g}",
            "r (px)": str(int(network["resolution"])),
            "Parameters": units.si(network["params"]),
            "Multiply-adds": units.si(network["macs"]),
            "Seeds": str(seeds_of(network)),
            "Test accuracy (± sd)": mean_sd(network, "test_accuracy"),
            "Validation gain, last fifth": last_fifth_gain(network),
        }
        published = paper.get(str(network.get("name")), {})
        flops, top1 = _number(published.get("flops_b")), _number(published.get("top1"))
        row[PAPER_FLOPS] = f"{units.si(flops * 1e9)} ({published['setting']})" if flops is not None else units.NOT_A_NUMBER
        row[PAPER_TOP1] = f"{top1:.1f} %" if top1 is not None else units.NOT_A_NUMBER
        rows.append(row)
    return pd.DataFrame(rows)


def has_masks(document: dict) -> bool:
    return any(_number(n.get("pointing_game_common_mean")) is not None for n in document["networks"])


def attention_table(document: dict) -> pd.DataFrame:
    """One row per network. With masks: the common-grid pointing game and mass inside (means ± sd), each
    beside this network's own chance level; then the native grid's pointing game with its grid, its
    one-cell ceiling and its chance level (not comparable across networks). Without masks (photos):
    pytorch-grad-cam's faithfulness figures."""
    grid = document.get("common_grid")
    common = f"{grid}×{grid}" if isinstance(grid, int) else "common"
    rows = []
    for network in document["networks"]:
        row = {"Network": short_name(str(network.get("name", ""))).capitalize()}
        if has_masks(document):
            native = network.get("native_grid")
            row[f"Pointing game, common {common} (its chance)"] = (
                f"{mean_sd(network, 'pointing_game_common')} "
                f"({units.percent(_number(network.get('pointing_game_common_chance')))})")
            row[f"Mass inside, common {common} (its chance)"] = (
                f"{mean_sd(network, 'mass_inside_common')} "
                f"({units.percent(_number(network.get('mass_inside_common_chance')))})")
            grid_text = f"{native}×{native}" if isinstance(native, int) else units.NOT_A_NUMBER
            row["Pointing game, native grid (ceiling, chance)"] = (
                f"{grid_text}: {mean_sd(network, 'pointing_game_native')} "
                f"({units.percent(_number(network.get('pointing_game_native_ceiling')))}, "
                f"{units.percent(_number(network.get('pointing_game_native_chance')))})")
        else:
            scores = network.get("faithfulness") or {}
            row["Keep highlighted"] = units.si(_number(scores.get("keep_highlighted")))
            row["ROAD (most relevant first)"] = units.si(_number(scores.get("road_most_relevant_first")))
        rows.append(row)
    return pd.DataFrame(rows)


def size_table(document: dict) -> pd.DataFrame | None:
    """Per network and object-size third: test accuracy / common-grid pointing game (means over seeds);
    None when the results have no figures by size."""
    sized = [n for n in document["networks"] if isinstance(n.get("by_object_size"), dict)]
    if not sized:
        return None
    rows = []
    for network in sized:
        row = {"Network": short_name(str(network.get("name", ""))).capitalize()}
        for group in network["by_object_size"].get("groups") or []:
            row[f"{group.get('group', '?')} objects"] = (f"{units.percent(_number(group.get('test_accuracy')))} / "
                                                         f"{units.percent(_number(group.get('pointing_game_common')))}")
        rows.append(row)
    return pd.DataFrame(rows)


def size_cuts(document: dict) -> list[float] | None:
    """The two cut points between the size thirds (the target's diameter as a share of the image side)."""
    for network in document["networks"]:
        cuts = (network.get("by_object_size") or {}).get("cuts") if isinstance(network.get("by_object_size"), dict) else None
        if isinstance(cuts, list) and len(cuts) == 2 and all(_number(c) is not None for c in cuts):
            return [float(c) for c in cuts]
    return None
