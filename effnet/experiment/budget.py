"""Is the training budget long enough? A run's networks beside a longer run of some of them.

    budget_check(document, longer, longer_folder) -> dict    # results.json's "budget_check"
    python -m effnet experiment budget results/experiment --longer results/experiment-long

The budget rule (effnet.experiment.run.BUDGET_RULE) asks that more steps add less than
STILL_RISING to the baseline's validation accuracy. A run cannot show that by itself: under a
cosine schedule the last-fifth gain is small at any budget. So the check trains the baseline (and,
to see whether the ranking moves, the best networks) again with more epochs on the same scenes from
the same seed, and compares. The longer run is usually one seed, so its ordering is described, not
given a verdict: verdicts need the replicates of effnet.experiment.stats.
"""

from __future__ import annotations

from .results import STILL_RISING

SAME_TASK = ("kind", "name", "objects", "seed", "train_size", "val_size", "test_size", "easy", "classes")


def budget_check(document: dict, longer: dict, longer_folder: str) -> dict:
    """Each network of `longer` beside the same seed of `document`; whether the rule is met and the
    order by test accuracy holds. Raises ValueError (one line) when the two are not the same task."""
    for key in SAME_TASK:
        if document["dataset"].get(key) != longer["dataset"].get(key):
            raise ValueError(f"the longer run is another task: dataset {key} is {longer['dataset'].get(key)!r} there, "
                             f"{document['dataset'].get(key)!r} here")
    if document.get("flops_multiple") != longer.get("flops_multiple") or document["base"].get("name") != longer["base"].get("name"):
        raise ValueError("the longer run has another plan (base or FLOPs multiple); accepted: the same plan, more epochs")
    steps, longer_steps = document["budget"].get("steps"), longer["budget"].get("steps")
    if not steps or not longer_steps or longer_steps <= steps:
        raise ValueError(f"the longer run must take more optimiser steps than this one ({longer_steps} against {steps})")
    by_name = {network["name"]: network for network in document["networks"]}
    rows = []
    for network in longer["networks"]:
        here = by_name.get(network["name"])
        seed = network["seeds"][0]["seed"]
        positions = [i for i, entry in enumerate(here["seeds"]) if entry["seed"] == seed] if here else []
        if not positions:
            raise ValueError(f"{network['name']} seed {seed} of the longer run is not in this run")
        position = positions[0]
        validation, validation_longer = here["validation_curves"][position][-1], network["validation_curves"][0][-1]
        rows.append({"name": network["name"], "seed": seed,
                     "test_accuracy": here["seeds"][position]["test_accuracy"],
                     "test_accuracy_longer": network["seeds"][0]["test_accuracy"],
                     "validation_accuracy": validation, "validation_accuracy_longer": validation_longer,
                     "validation_gain": None if validation is None or validation_longer is None
                     else validation_longer - validation})
    baseline = next((row for row in rows if row["name"] == "baseline"), None)
    rule_met = None if baseline is None or baseline["validation_gain"] is None else baseline["validation_gain"] < STILL_RISING
    order = [row["name"] for row in sorted(rows, key=lambda row: -row["test_accuracy"])]
    order_longer = [row["name"] for row in sorted(rows, key=lambda row: -row["test_accuracy_longer"])]
    check = {"folder": longer_folder, "steps": steps, "steps_longer": longer_steps,
             "factor": round(longer_steps / steps, 2), "networks": rows, "rule_met": rule_met,
             "order": order, "order_longer": order_longer, "order_holds": order == order_longer}
    check["sentences"] = sentences(check)
    return check


def sentences(check: dict) -> list[str]:
    """What the check says, in words computed from its figures (the page and `experiment show`)."""
    factor = f"{check['factor']:g}"
    said = []
    baseline = next((row for row in check["networks"] if row["name"] == "baseline"), None)
    if baseline is not None and baseline["validation_gain"] is not None:
        verdict = ("the budget rule is met" if check["rule_met"] else
                   "the budget rule is not met: the figures here are those of undertrained networks, and their "
                   "order may not be the order at convergence")
        said.append(f"At {factor}× the steps (seed {baseline['seed']}, same scenes), the baseline's validation accuracy "
                    f"went from {100 * baseline['validation_accuracy']:.1f}% to "
                    f"{100 * baseline['validation_accuracy_longer']:.1f}% "
                    f"({100 * baseline['validation_gain']:+.1f} points, against the rule's "
                    f"{100 * STILL_RISING:g}): {verdict}.")
    if len(check["networks"]) > 1:
        def ranked(names: list[str], key: str) -> str:
            accuracy = {row["name"]: row[key] for row in check["networks"]}
            return ", ".join(f"{name} {100 * accuracy[name]:.1f}%" for name in names)

        said.append(f"Test accuracy of the same seed, highest first: at this budget {ranked(check['order'], 'test_accuracy')}; "
                    f"at {factor}× {ranked(check['order_longer'], 'test_accuracy_longer')}: the order "
                    f"{'holds' if check['order_holds'] else 'changes'} (one seed: a description, not a verdict).")
    return said
