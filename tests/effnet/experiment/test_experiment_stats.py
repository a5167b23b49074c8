"""The verdict rule and its sentences, fed constructed results: an order that flips, a difference that
vanishes, seeds that disagree, too few seeds. p-values are checked against the tests' definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from effnet.experiment.stats import MIN_SEEDS, compare, compare_all, sentence, summarise, verdict

IMAGES = 1200


def runs(accuracy_per_seed, seed=0, key="correct"):
    """Per-seed per-image 0/1 arrays with exactly the given accuracies, shuffled."""
    rng = np.random.default_rng(seed)
    made = []
    for accuracy in accuracy_per_seed:
        values = np.zeros(IMAGES, dtype=bool)
        values[: int(round(accuracy * IMAGES))] = True
        made.append({key: rng.permutation(values)})
    return made


def test_a_clear_difference_in_every_seed_is_called_for_the_higher_network():
    a, b = runs([0.90, 0.91, 0.89], seed=1), runs([0.80, 0.82, 0.81], seed=2)
    comparison = compare(a, b, "test_accuracy", "compound", "width")
    assert comparison["verdict"] == "a"
    assert comparison["sentence"].startswith("Compound is more accurate than width")
    # the order flips: the same words, the other way round
    flipped = compare(b, a, "test_accuracy", "width", "compound")
    assert flipped["verdict"] == "b"
    assert flipped["sentence"].startswith("Compound is more accurate than width")


def test_a_vanishing_difference_is_not_distinguishable():
    a, b = runs([0.85, 0.85, 0.85], seed=3), runs([0.85, 0.85, 0.85], seed=4)
    comparison = compare(a, b, "test_accuracy", "compound", "width")
    assert comparison["verdict"] == "none"
    assert "not distinguishable" in comparison["sentence"] and "more accurate" not in comparison["sentence"]


def test_seeds_that_disagree_give_no_call_even_when_the_pooled_interval_excludes_zero():
    a, b = runs([0.95, 0.95, 0.80], seed=5), runs([0.80, 0.80, 0.85], seed=6)
    comparison = compare(a, b, "test_accuracy", "compound", "width")
    assert comparison["interval"][0] > 0  # pooled, a looks better...
    assert comparison["verdict"] == "none"  # ...but one seed says the opposite


def test_fewer_seeds_than_the_minimum_give_no_verdict():
    a, b = runs([0.95, 0.96], seed=7), runs([0.50, 0.52], seed=8)
    comparison = compare(a, b, "test_accuracy", "compound", "width")
    assert comparison["seeds"] < MIN_SEEDS and comparison["verdict"] == "no verdict"
    assert "no verdict" in comparison["sentence"] and "more accurate" not in comparison["sentence"]


def test_exact_mcnemar_is_the_binomial_test_on_discordant_images():
    a = {"correct": np.array([1] * 10 + [0] * 2 + [1] * 50 + [0] * 38, dtype=bool)}
    b = {"correct": np.array([0] * 10 + [1] * 2 + [1] * 50 + [0] * 38, dtype=bool)}
    comparison = compare([a], [b], "test_accuracy", "a", "b")
    # 12 discordant images, 10 of them for a: two-sided P(X <= 2 or X >= 10), X ~ Bin(12, 1/2)
    tail = sum(math.comb(12, k) for k in (0, 1, 2)) / 2 ** 12
    assert comparison["p_value"] == pytest.approx(2 * tail)
    assert comparison["test"] == "exact McNemar"


def test_attention_is_compared_above_each_networks_own_chance_with_the_wilcoxon_test():
    rng = np.random.default_rng(9)
    chance = [rng.uniform(0.1, 0.2, IMAGES) for _ in range(3)]
    a = [{"mass_common": c + 0.30 + rng.normal(0, 0.01, IMAGES), "chance_mass_common": c} for c in chance]
    b = [{"mass_common": c + 0.25 + rng.normal(0, 0.01, IMAGES), "chance_mass_common": c} for c in chance]
    comparison = compare(a, b, "mass_inside_common", "compound", "depth")
    assert comparison["test"] == "Wilcoxon signed-rank" and comparison["verdict"] == "a"
    assert comparison["difference"] == pytest.approx(0.05, abs=0.002)
    assert "puts more of its map on the object" in comparison["sentence"] and "own chance" in comparison["sentence"]


def test_two_networks_at_their_own_chance_are_not_ranked_whatever_their_chance_levels():
    """A map that always peaks where objects often lie scores more than one that peaks in a corner,
    and knows no more: both score exactly their chance, so neither is called better."""
    rng = np.random.default_rng(10)
    centre = [{"hit_common": (h := rng.random(IMAGES) < 0.4), "chance_hit_common": rng.permutation(h)} for _ in range(3)]
    corner = [{"hit_common": (h := rng.random(IMAGES) < 0.1), "chance_hit_common": rng.permutation(h)} for _ in range(3)]
    comparison = compare(centre, corner, "pointing_game_common", "compound", "depth")
    assert comparison["verdict"] == "none", comparison["interval"]


def test_verdict_reads_only_the_interval_signs_and_seeds():
    base = {"seeds": 3, "interval": [0.01, 0.03], "per_seed": [{"difference": 0.02}] * 3}
    assert verdict(base) == "a"
    assert verdict(dict(base, interval=[-0.01, 0.03])) == "none"
    assert verdict(dict(base, interval=[-0.03, -0.01], per_seed=[{"difference": -0.02}] * 3)) == "b"
    assert verdict(dict(base, seeds=2)) == "no verdict"


def test_titles_replace_names_in_sentences_and_compare_all_covers_every_pair():
    per_network = {name: runs([0.8, 0.8, 0.8], seed=i) for i, name in enumerate(("baseline", "depth", "width"))}
    comparisons = compare_all(per_network, ["baseline", "depth", "width"], metrics=("test_accuracy",))
    assert [(c["a"], c["b"]) for c in comparisons] == [("baseline", "depth"), ("baseline", "width"), ("depth", "width")]
    worded = sentence(comparisons[0], {"baseline": "Baseline", "depth": "Deeper (depth only)"})
    assert "Baseline" in worded and "Deeper (depth only)" in worded


def test_mismatched_runs_are_refused_in_one_line():
    with pytest.raises(ValueError, match="same seeds"):
        compare(runs([0.8]), runs([0.8, 0.8]), "test_accuracy", "a", "b")
    with pytest.raises(ValueError, match="unknown metric"):
        compare(runs([0.8]), runs([0.8]), "speed", "a", "b")


def test_summarise_over_seeds():
    assert summarise([0.8, 0.9, 1.0]) == {"mean": pytest.approx(0.9), "sd": pytest.approx(0.1), "n": 3}
    assert summarise([0.8])["sd"] is None
