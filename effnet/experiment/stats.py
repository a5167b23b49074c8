"""Statistics over seeds and the one rule that turns them into words.

Every network of the experiment is trained once per seed (the seed draws its training scenes and
its initialisation) and scored on the same held-out scenes, so any two networks can be compared
image by image within a seed, and the comparison repeated in every seed.

    summary = summarise(values)                                 # mean, sd, n over seeds
    comparison = compare(a_runs, b_runs, "test_accuracy", "compound", "width")
    comparison["verdict"], sentence(comparison)                 # "a" / "b" / "none" / "no verdict"

What is compared: accuracy as it is; the attention figures (common-grid pointing game and mass
inside) as each network's excess over its own chance level, image by image (its score on the
scene's own object minus its score on another scene's object), so that a network whose map
always peaks where objects often lie gains nothing from that habit: two networks at their chance
levels are not ranked, whatever those levels are.

Tests (named beside every p-value, scipy.stats does the work):
- accuracy, 0 or 1 per image: the exact McNemar test, a two-sided binomial test on the discordant
  images (`scipy.stats.binomtest`), per seed and on the images of all seeds pooled;
- the attention figures' per-image excesses: the Wilcoxon signed-rank test on the paired
  differences (`scipy.stats.wilcoxon`), per seed and pooled.
The paired 95% interval is the normal interval of the mean per-image difference over the pooled
images of every seed. Pooling treats the seeds' images as independent, which they are not quite
(the same scene appears once per seed): hence the rule below also asks every seed to agree.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

MIN_SEEDS = 3  # below this no comparison is called, whatever the intervals say
Z95 = 1.959963984540054
BINARY = {"test_accuracy": "correct"}
ABOVE_CHANCE = {"pointing_game_common": ("hit_common", "chance_hit_common"),
                "mass_inside_common": ("mass_common", "chance_mass_common")}
METRICS = {**BINARY, **{metric: keys[0] for metric, keys in ABOVE_CHANCE.items()}}  # figure -> per-image array
PHRASES = {  # (A higher than B, the figure named for "not distinguishable")
    "test_accuracy": ("{a} is more accurate than {b}", "accuracy"),
    "pointing_game_common": ("{a}'s map peaks on the object more often than {b}'s, each above its own chance",
                             "how often the map peaks on the object above its own chance"),
    "mass_inside_common": ("{a} puts more of its map on the object than {b}, each above its own chance",
                           "how much of the map falls on the object above its own chance"),
}
UNITS = {"test_accuracy": "points", "pointing_game_common": "points", "mass_inside_common": "points"}


def summarise(values: Sequence[float]) -> dict:
    """Mean, sample sd (None for one value) and count of one figure over seeds."""
    values = [float(v) for v in values]
    return {"mean": float(np.mean(values)) if values else None,
            "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None, "n": len(values)}


def _p_value(metric: str, differences: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, str]:
    from scipy import stats

    if metric in BINARY:
        only_a = int(np.sum(a.astype(bool) & ~b.astype(bool)))
        only_b = int(np.sum(b.astype(bool) & ~a.astype(bool)))
        if only_a + only_b == 0:
            return 1.0, "exact McNemar"
        return float(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue), "exact McNemar"
    if not np.any(differences != 0):
        return 1.0, "Wilcoxon signed-rank"
    return float(stats.wilcoxon(differences, zero_method="wilcox").pvalue), "Wilcoxon signed-rank"


def compare(a_runs: Sequence[dict], b_runs: Sequence[dict], metric: str, a: str, b: str) -> dict:
    """Network `a` against `b` on `metric`, paired image by image within each seed.

    `a_runs`, `b_runs`: per seed (in the same seed order), dicts of per-image arrays as
    effnet.experiment.evaluate returns them. Returns a JSON-ready comparison: difference (a - b,
    mean over pooled images), its 95% interval, the pooled p-value and its test, per-seed
    differences and p-values, the seeds, and the verdict with its rule (`verdict`)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; accepted: {', '.join(METRICS)}")
    if len(a_runs) != len(b_runs) or not a_runs:
        raise ValueError(f"{a} and {b} need the same seeds to be compared ({len(a_runs)} against {len(b_runs)})")
    per_seed, pooled_a, pooled_b = [], [], []
    for run_a, run_b in zip(a_runs, b_runs):
        values_a, values_b = _values(run_a, metric), _values(run_b, metric)
        if values_a.shape != values_b.shape:
            raise ValueError(f"{a} and {b} were scored on different images ({values_a.shape} against {values_b.shape})")
        p, test = _p_value(metric, values_a - values_b, values_a, values_b)
        per_seed.append({"difference": float(np.mean(values_a - values_b)), "p_value": p})
        pooled_a.append(values_a)
        pooled_b.append(values_b)
    values_a, values_b = np.concatenate(pooled_a), np.concatenate(pooled_b)
    differences = values_a - values_b
    mean = float(differences.mean())
    half = Z95 * float(differences.std(ddof=1)) / math.sqrt(len(differences)) if len(differences) > 1 else float("inf")
    p_value, test = _p_value(metric, differences, values_a, values_b)
    comparison = {"a": a, "b": b, "metric": metric, "difference": mean, "interval": [mean - half, mean + half],
                  "p_value": p_value, "test": test, "seeds": len(a_runs), "images": int(len(values_a) // len(a_runs)),
                  "per_seed": per_seed}
    comparison["verdict"] = verdict(comparison)
    comparison["sentence"] = sentence(comparison)
    return comparison


def _values(run: dict, metric: str) -> np.ndarray:
    """The per-image figure compared: accuracy as is, an attention figure minus its chance."""
    if metric in BINARY:
        return np.asarray(run[BINARY[metric]], dtype=np.float64)
    own, chance = ABOVE_CHANCE[metric]
    return np.asarray(run[own], dtype=np.float64) - np.asarray(run[chance], dtype=np.float64)


def verdict(comparison: dict) -> str:
    """The one rule that decides whether a comparison may be stated: "a", "b", "none" or "no verdict".

    Rule: with fewer than MIN_SEEDS seeds, "no verdict" (a single run is an anecdote). Otherwise a
    difference is called ("a" when a is higher, "b" when b is) only when its paired 95% interval
    over the pooled seeds excludes 0 AND the difference has that same sign in every seed; else
    "none": not distinguishable at this budget."""
    if comparison["seeds"] < MIN_SEEDS:
        return "no verdict"
    low, high = comparison["interval"]
    signs = {int(np.sign(seed["difference"])) for seed in comparison["per_seed"]}
    if low > 0 and signs == {1}:
        return "a"
    if high < 0 and signs == {-1}:
        return "b"
    return "none"


def sentence(comparison: dict, titles: dict[str, str] | None = None) -> str:
    """The words a page may show for a comparison, from its verdict and nothing else."""
    titles = titles or {}
    a, b = titles.get(comparison["a"], comparison["a"]), titles.get(comparison["b"], comparison["b"])
    higher, figure = PHRASES[comparison["metric"]]
    decided = comparison["verdict"]
    seeds = comparison["seeds"]
    difference = 100 * comparison["difference"]
    low, high = (100 * v for v in comparison["interval"])
    if decided == "no verdict":
        return _capital(f"{a} against {b} in {figure}: {seeds} seed{'s' if seeds != 1 else ''} only, no verdict "
                f"(at least {MIN_SEEDS} are needed).")
    if decided == "none":
        return _capital(f"{a} and {b} are not distinguishable in {figure} at this budget ({difference:+.1f} points, "
                f"95% interval {low:+.1f} to {high:+.1f}, {seeds} seeds).")
    winner, loser = (a, b) if decided == "a" else (b, a)
    shown = difference if decided == "a" else -difference
    low, high = (low, high) if decided == "a" else (-high, -low)
    return _capital(higher.format(a=winner, b=loser)
            + f" ({shown:+.1f} points, 95% interval {low:+.1f} to {high:+.1f}, same sign in all {seeds} seeds; "
              f"{comparison['test']} p {_format_p(comparison['p_value'])}).")


def _format_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def compare_all(runs: dict[str, Sequence[dict]], names: Sequence[str], metrics: Sequence[str] = tuple(METRICS)) -> list[dict]:
    """Every pair of `names` (in that order) on every metric that all of them have per image."""
    comparisons = []
    for metric in metrics:
        keys = (BINARY[metric],) if metric in BINARY else ABOVE_CHANCE[metric]
        present = [n for n in names if runs.get(n) and all(all(k in run for k in keys) for run in runs[n])]
        for i, a in enumerate(present):
            for b in present[i + 1:]:
                comparisons.append(compare(runs[a], runs[b], metric, a, b))
    return comparisons
