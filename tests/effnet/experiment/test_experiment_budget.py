"""The budget check: a run beside a longer run of some of its networks (constructed documents with
known answers, and the command on a copy of the session's tiny run)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from effnet.experiment.budget import budget_check

ROOT = Path(__file__).resolve().parents[3]


def _document(steps: int, accuracies: dict[str, float], validation: dict[str, float], seeds=(0, 1, 2)) -> dict:
    dataset = {"kind": "synthetic", "name": "scenes", "objects": "small", "seed": 0, "train_size": 100,
               "val_size": 10, "test_size": 20, "easy": False, "classes": ["a", "b"]}
    networks = []
    for name, accuracy in accuracies.items():
        networks.append({"name": name,
                         "seeds": [{"seed": seed, "test_accuracy": accuracy - 0.01 * position}
                                   for position, seed in enumerate(seeds)],
                         "validation_curves": [[0.1, validation[name] - 0.01 * position]
                                               for position, _ in enumerate(seeds)]})
    return {"dataset": dataset, "flops_multiple": 4.5, "base": {"name": "small"}, "budget": {"steps": steps},
            "networks": networks}


def test_a_baseline_still_rising_fails_the_rule_and_a_flat_one_meets_it():
    main = _document(100, {"baseline": 0.60, "width": 0.80}, {"baseline": 0.62, "width": 0.81})
    rising = _document(300, {"baseline": 0.85}, {"baseline": 0.86}, seeds=(0,))
    check = budget_check(main, rising, "long")
    assert check["factor"] == 3
    assert check["networks"][0]["validation_gain"] == pytest.approx(0.24)
    assert check["rule_met"] is False
    assert "not met" in check["sentences"][0] and "+24.0 points" in check["sentences"][0]
    flat = _document(200, {"baseline": 0.605}, {"baseline": 0.63}, seeds=(0,))
    check = budget_check(main, flat, "long")
    assert check["rule_met"] is True and "is met" in check["sentences"][0]


def test_the_order_sentence_follows_the_figures():
    main = _document(100, {"baseline": 0.60, "width": 0.80, "resolution": 0.78},
                     {"baseline": 0.6, "width": 0.8, "resolution": 0.78})
    same = _document(300, {"baseline": 0.70, "width": 0.90, "resolution": 0.85},
                     {"baseline": 0.7, "width": 0.9, "resolution": 0.85}, seeds=(0,))
    check = budget_check(main, same, "long")
    assert check["order"] == check["order_longer"] == ["width", "resolution", "baseline"]
    assert check["order_holds"] and "the order holds" in check["sentences"][1]
    flipped = _document(300, {"baseline": 0.70, "width": 0.85, "resolution": 0.90},
                        {"baseline": 0.7, "width": 0.85, "resolution": 0.9}, seeds=(0,))
    check = budget_check(main, flipped, "long")
    assert check["order_longer"] == ["resolution", "width", "baseline"]
    assert not check["order_holds"] and "the order changes" in check["sentences"][1]
    assert "not a verdict" in check["sentences"][1]


def test_another_task_or_a_shorter_run_is_refused_in_one_line():
    main = _document(100, {"baseline": 0.6}, {"baseline": 0.6})
    other = _document(300, {"baseline": 0.7}, {"baseline": 0.7}, seeds=(0,))
    other["dataset"]["objects"] = "large"
    with pytest.raises(ValueError, match="another task: dataset objects"):
        budget_check(main, other, "long")
    shorter = _document(50, {"baseline": 0.7}, {"baseline": 0.7}, seeds=(0,))
    with pytest.raises(ValueError, match="more optimiser steps"):
        budget_check(main, shorter, "long")
    unknown_seed = _document(300, {"baseline": 0.7}, {"baseline": 0.7}, seeds=(7,))
    with pytest.raises(ValueError, match="seed 7"):
        budget_check(main, unknown_seed, "long")


def test_the_command_stores_the_check_and_show_prints_it(experiment_results, tmp_path):
    main = tmp_path / "run"
    shutil.copytree(experiment_results, main)
    document = json.loads((main / "results.json").read_text())
    longer = copy.deepcopy(document)
    longer["budget"]["steps"] *= 2
    longer["networks"] = [n for n in longer["networks"] if n["name"] == "baseline"]
    longer["networks"][0]["validation_curves"] = [[curve[-1] + 0.1] for curve in longer["networks"][0]["validation_curves"]]
    (tmp_path / "long").mkdir()
    (tmp_path / "long" / "results.json").write_text(json.dumps(longer))
    command = [sys.executable, "-m", "effnet", "experiment", "budget", str(main), "--longer", str(tmp_path / "long")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "budget rule is not met" in done.stdout
    stored = json.loads((main / "results.json").read_text())["budget_check"]
    assert stored["folder"] == "../long" and stored["rule_met"] is False
    shown = subprocess.run([sys.executable, "-m", "effnet", "experiment", "show", str(main)], capture_output=True,
                           text=True, cwd=ROOT, timeout=120)
    assert shown.returncode == 0 and "Budget: At 2× the steps" in shown.stdout
