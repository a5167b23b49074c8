"""The Experiment page's answer: the five networks' measured figures beside the paper's Table 7,
and one sentence that reads them (with their intervals, whatever the outcome).

Pure functions of a results document (plain dicts from results.json): easy to test without a server.
st.table renders Markdown in its cells, so every text that comes from the file goes through
escape_markdown; the numbers are formatted here (app.components.units).
"""

from __future__ import annotations

import pandas as pd

from app.components import units
from app.components.experiment_charts import short_name
from app.components.text import escape_markdown
from effnet.experiment import TITLES, paper_rows

PAPER_FLOPS = "Paper: FLOPs (its setting)"
PAPER_TOP1 = "Paper: top-1 (ImageNet)"


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def percent_with_interval(network: dict, key: str) -> str:
    """'71.2 % (68.9–73.4)', with ', ± 1.2 sd' over seeds when there are several; '–' when missing."""
    value = _number(network.get(key))
    if value is None:
        return units.NOT_A_NUMBER
    text = units.percent(value)
    interval = network.get(f"{key}_ci")
    if isinstance(interval, list) and len(interval) == 2 and None not in (_number(interval[0]), _number(interval[1])):
        low, high = units.percent(interval[0]), units.percent(interval[1])
        text += f" ({low.removesuffix(' %')}–{high.removesuffix(' %')})"
    spread = _number(network.get(f"{key}_sd"))
    if spread is not None:
        text += f", ± {units.percent(spread).removesuffix(' %')} sd"
    return text


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


def answer_table(document: dict) -> pd.DataFrame:
    """One row per network: d, w, r, parameters, multiply-adds, accuracy, attention, chance level,
    and the paper's Table 7 row (its FLOPs and ImageNet top-1, from effnet.paper), labelled as the paper's."""
    paper = paper_rows()
    masked = any("pointing_game" in n for n in document["networks"])
    rows = []
    for network in document["networks"]:
        row = {
            "Network": network_label(network),
            "d": f"{network['depth']:.3g}",
            "w": f"{network['width']:.3g}",
            "r (px)": str(int(network["resolution"])),
            "Parameters": units.si(network["params"]),
            "Multiply-adds": units.si(network["macs"]),
            "Test accuracy (95% CI)": percent_with_interval(network, "test_accuracy"),
        }
        if masked:
            row["Pointing game (95% CI)"] = percent_with_interval(network, "pointing_game")
            row["Mass inside (95% CI)"] = percent_with_interval(network, "mass_inside")
            row["Chance level"] = units.percent(_number(network.get("object_share")))
        else:
            scores = network.get("faithfulness") or {}
            row["Keep highlighted"] = units.si(_number(scores.get("keep_highlighted")))
            row["ROAD (most relevant first)"] = units.si(_number(scores.get("road_most_relevant_first")))
        published = paper.get(str(network.get("name")), {})
        flops, top1 = _number(published.get("flops_b")), _number(published.get("top1"))
        row[PAPER_FLOPS] = f"{units.si(flops * 1e9)} ({published['setting']})" if flops is not None else units.NOT_A_NUMBER
        row[PAPER_TOP1] = f"{top1:.1f} %" if top1 is not None else units.NOT_A_NUMBER
        rows.append(row)
    return pd.DataFrame(rows)


def _overlap(a: dict, b: dict, key: str) -> bool | None:
    intervals = [n.get(f"{key}_ci") for n in (a, b)]
    if not all(isinstance(i, list) and len(i) == 2 and None not in (_number(i[0]), _number(i[1])) for i in intervals):
        return None
    (low_a, high_a), (low_b, high_b) = intervals
    return low_a <= high_b and low_b <= high_a


def verdict(document: dict) -> list[str]:
    """Sentences reading the measured answer: compound against the best single-dimension network,
    for accuracy and for the pointing game, saying when the 95% intervals overlap."""
    networks = {str(n.get("name")): n for n in document["networks"]}
    compound = networks.get("compound")
    singles = [networks[name] for name in ("depth", "width", "resolution") if name in networks]
    if compound is None or not singles:
        return []
    sentences = []
    for key, what in (("test_accuracy", "test accuracy"), ("pointing_game", "pointing game (the map's peak on the object)")):
        if _number(compound.get(key)) is None or any(_number(n.get(key)) is None for n in singles):
            continue
        best = max(singles, key=lambda n: n[key])
        ahead = compound[key] > best[key]
        relation = "ahead of" if ahead else ("level with" if compound[key] == best[key] else "behind")
        overlap = _overlap(compound, best, key)
        reading = ""
        if overlap is True:
            reading = ": their 95% intervals overlap, so this run does not separate them"
        elif overlap is False:
            reading = ": their 95% intervals do not overlap"
        sentences.append(
            f"**{what.capitalize()}**: compound {units.percent(compound[key])}, {relation} the best single dimension "
            f"({short_name(str(best['name']))}, {units.percent(best[key])}){reading}."
        )
    return sentences
