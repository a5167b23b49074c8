"""The experiment end to end on the CPU: `experiment run --quick` trains all five networks, writes
results.json and state dicts that load into effnet.build, and an interrupted training resumes."""

from __future__ import annotations

import json

import pytest
import torch

import effnet
from effnet.cli import main
from effnet.experiment import ResultsError, parse_results, read_results

REQUIRED = {"name", "depth", "width", "resolution", "params", "macs", "test_accuracy", "pointing_game", "mass_inside",
            "train_seconds", "history"}


# The five networks, shrunk below learning (a few hundred scenes, one epoch: about 30 s) for what a
# run writes; whether the recipe learns is checked on the baseline alone with the full quick sizes.
TINY = ["--train-size", "400", "--test-size", "100", "--epochs", "1"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    torch.set_num_threads(2)
    assert main(["experiment", "run", "--quick", *TINY, "--out", str(out), "--device", "cpu"]) == 0
    return out


def test_quick_run_writes_five_networks(quick_run):
    document = read_results(quick_run)
    names = [n["name"] for n in document["networks"]]
    assert names == ["baseline", "depth", "width", "resolution", "compound"]
    for network in document["networks"]:
        assert REQUIRED <= set(network)
        assert len(network["history"]) == document["recipe"]["epochs"]
        assert 0 <= network["pointing_game"] <= 1 and 0 <= network["mass_inside"] <= 1
        low, high = network["test_accuracy_ci"]
        assert low <= network["test_accuracy"] <= high
    assert document["dataset"]["classes"][0] == "horizontal stripes" and len(document["dataset"]["classes"]) == 10
    assert {"torch", "torchvision", "python"} <= set(document["versions"])
    assert document["device"].startswith("cpu")


def test_the_quick_recipe_learns_the_task(tmp_path):
    """The full --quick sizes (3000 scenes, 3 epochs) on the baseline alone, about a minute on 2 cores:
    the lower end of its 95% interval clears twice the chance level (10 classes), and its maps point
    at the object more often than a random point would."""
    torch.set_num_threads(2)
    assert main(["experiment", "run", "--quick", "--only", "baseline", "--out", str(tmp_path), "--device", "cpu"]) == 0
    document = read_results(tmp_path)
    (baseline,) = document["networks"]
    chance = 1 / len(document["dataset"]["classes"])
    assert baseline["test_accuracy_ci"][0] > 2 * chance, baseline["test_accuracy"]
    # a blind map's score is the object's share of the image (the chance level `show` prints)
    assert baseline["pointing_game"] > baseline["object_share"], (baseline["pointing_game"], baseline["object_share"])


def test_checkpoints_load_safely_into_the_planned_networks(quick_run):
    from effnet.experiment import matched_plan
    from effnet.experiment.run import base_config

    document = read_results(quick_run)
    classes = len(document["dataset"]["classes"])
    # results.json rounds d and w for reading; the exact networks come from the plan it records
    plan = {n.name: n.config for n in matched_plan(base_config(document["base"]["name"], classes), document["flops_multiple"])}
    for network in document["networks"]:
        state = torch.load(quick_run / network["checkpoint"], weights_only=True)
        config = plan[network["name"]]
        assert (round(config.depth, 3), round(config.width, 3)) == (round(network["depth"], 3), round(network["width"], 3))
        model = effnet.build(config, state_dict=state)
        assert sum(p.numel() for p in model.parameters()) == network["params"]


def test_a_rerun_reuses_finished_networks(quick_run, capsys):
    before = read_results(quick_run)
    assert main(["experiment", "run", "--quick", *TINY, "--out", str(quick_run), "--device", "cpu"]) == 0
    after = read_results(quick_run)
    assert [n["train_seconds"] for n in after["networks"]] == [n["train_seconds"] for n in before["networks"]]
    assert "compound" in capsys.readouterr().out


def test_show_prints_the_table_with_the_paper(quick_run, capsys):
    assert main(["experiment", "show", str(quick_run)]) == 0
    out = capsys.readouterr().out
    assert "compound" in out and "81.1%" in out and "Chance level" in out


def test_interrupted_training_resumes_from_its_last_epoch(tmp_path):
    from effnet.experiment.data import SyntheticSource
    from effnet.experiment.train import Recipe, train_network

    source = SyntheticSource(train_size=64, test_size=20)
    config = effnet.ScalingConfig(depth=0.25, width=0.25, resolution=32, num_classes=10)
    train, test = source.split("train", 32), source.split("test", 32)
    recipe = Recipe(epochs=2, batch_size=32)

    def stop_in_second_epoch(fraction, message):
        if message.startswith("epoch 2/"):
            raise KeyboardInterrupt

    stem = tmp_path / "net"
    with pytest.raises(KeyboardInterrupt):
        train_network(config, train, test, recipe, source.mean, source.std, checkpoint=stem, progress=stop_in_second_epoch, device="cpu")
    saved = torch.load(f"{stem}.partial.pt", weights_only=True)
    assert saved["epoch"] == 1
    _, record = train_network(config, train, test, recipe, source.mean, source.std, checkpoint=stem, device="cpu")
    assert record["resumed_from_epoch"] == 1 and [h["epoch"] for h in record["history"]] == [1, 2]
    assert record["history"][0] == saved["history"][0]
    # the same run without the interruption ends with the same weights
    fresh, _ = train_network(config, train, test, recipe, source.mean, source.std, device="cpu")
    resumed, _ = train_network(config, train, test, recipe, source.mean, source.std, checkpoint=stem, device="cpu")
    for a, b in zip(fresh.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("text, expected", [
    ("", "not valid JSON"),
    ("[]", "not an experiment results file"),
    ('{"format": "effnet-experiment/1", "networks": []}', "lists no networks"),
    ('{"format": "effnet-experiment/1", "networks": [{"name": "depth"}]}', "depth lacks"),
])
def test_bad_results_files_give_one_line(text, expected):
    with pytest.raises(ResultsError, match=expected) as caught:
        parse_results(text)
    assert "\n" not in str(caught.value)


def test_missing_results_say_how_to_make_them(tmp_path):
    with pytest.raises(ResultsError, match="experiment run"):
        read_results(tmp_path)


def test_cli_run_bad_arguments_are_one_line(tmp_path, capsys):
    assert main(["experiment", "run", "--out", str(tmp_path), "--only", "deeper"]) == 2
    assert "unknown network deeper" in capsys.readouterr().err
    assert main(["experiment", "run", "--out", str(tmp_path), "--data", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["experiment", "show", str(tmp_path)]) == 2
