"""The experiment's one file format, `results.json`: written by the run, read by the page and the CLI.

Reading needs neither torch nor the training code. `read_results` checks what the page relies on
and raises ResultsError with one line naming what is wrong, so a damaged or foreign file never
shows a traceback.

Format "effnet-experiment/2" (a JSON object; /1, the single-seed format before it, is refused with
a line saying so):
    format, task, created (ISO time), command, question, flops_multiple, wall_seconds (the true time
    of every run, earlier interrupted parts included), session_seconds, seeds [{seed, data_seed}],
    device, threads, mode, versions {}, base {depth, width, resolution, name, macs, params},
    recipe {...}, budget {steps, epochs, batch_size, images_seen, rule}, dataset {kind, name,
    classes [..], train_size, val_size, test_size, seed, objects, has_masks, normalisation
    {mean, std}, description}, common_grid (cells per side), cam {method, layer, stride, note},
    verdict_rule, paper {name: {setting, flops_b, top1, source}},
    networks: [ {name, title, config {depth, width, resolution, variant, num_classes, dropout,
                 stochastic_depth, batch_norm_eps, batch_norm_momentum, stage_table} (exact:
                 ScalingConfig(**config) rebuilds the network), depth, width, resolution (for
                 display), params, macs, phi, layers, native_grid, checkpoint (first seed's),
                 seeds [{seed, data_seed, checkpoint (relative to the folder), test_accuracy,
                 pointing_game (common grid), pointing_game_native, mass_inside_common, ...}],
                 X_mean and X_sd over seeds for X in test_accuracy, pointing_game_native,
                 pointing_game_common, mass_inside_native, mass_inside_common and their chance
                 levels; pointing_game_native_ceiling, pointing_game_native_chance,
                 pointing_game_common_chance, mass_inside_common_chance, by_object_size {cuts,
                 groups [{group, images, test_accuracy, pointing_game_native, pointing_game_common,
                 mass_inside_common, pointing_game_native_ceiling}]}, last_fifth_validation_gain,
                 history [{epoch, train_loss, train_accuracy, val_accuracy, learning_rate, seconds,
                 watch {maps, predicted}}] (first seed), validation_curves [[..] per seed],
                 test_accuracy and pointing_game (= the means; pointing_game on the common grid)} ],
    comparisons: [ {a, b, metric, difference, interval [lo, hi], p_value, test, seeds, images,
                    per_seed [{difference, p_value}], verdict ("a", "b", "none", "no verdict"),
                    sentence} ]
"""

from __future__ import annotations

import json
from pathlib import Path

FORMAT = "effnet-experiment/2"
NETWORK_KEYS = ("name", "config", "depth", "width", "resolution", "params", "macs", "seeds", "test_accuracy",
                "test_accuracy_mean", "train_seconds", "history")
# The budget rule's threshold: a validation gain over the last fifth of training at least this large
# marks a network as still learning (the run's rule and the page's mark read it from here).
STILL_RISING = 0.02
TOP_KEYS = ("task", "wall_seconds", "common_grid", "networks", "comparisons")


class ResultsError(ValueError):
    """A results file that cannot be shown; the message names the problem in one line."""


def read_results(path: str | Path) -> dict:
    """The parsed results.json at `path` (a file, or a folder holding results.json), checked."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"no experiment results at {path}; run `python -m effnet experiment run --out {path.parent}`") from None
    except (OSError, UnicodeDecodeError):
        raise ResultsError(f"{path} could not be read as a text file") from None
    return parse_results(text, str(path))


def parse_results(text: str, where: str = "results.json") -> dict:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as bad:
        raise ResultsError(f"{where} is not valid JSON (line {bad.lineno}, column {bad.colno})") from None
    if isinstance(document, dict) and document.get("format") == "effnet-experiment/1":
        raise ResultsError(f"{where} is in the older single-seed format (effnet-experiment/1); run the experiment "
                           f"again to write {FORMAT}")
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ResultsError(f"{where} is not an experiment results file (expected \"format\": \"{FORMAT}\")")
    missing = [key for key in TOP_KEYS if key not in document]
    if missing:
        raise ResultsError(f"{where} lacks {', '.join(missing)}")
    networks = document.get("networks")
    if not isinstance(networks, list) or not networks:
        raise ResultsError(f"{where} lists no networks")
    for position, network in enumerate(networks):
        if not isinstance(network, dict):
            raise ResultsError(f"{where}: network {position + 1} is not an object")
        missing = [key for key in NETWORK_KEYS if key not in network]
        if missing:
            raise ResultsError(f"{where}: network {network.get('name', position + 1)!s} lacks {', '.join(missing)}")
        if not isinstance(network["config"], dict) or not isinstance(network["seeds"], list) or not network["seeds"]:
            raise ResultsError(f"{where}: {network['name']!s} has no exact config or no seeds")
        for key in ("test_accuracy", "params", "macs", "depth", "width", "resolution"):
            value = network[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ResultsError(f"{where}: {network['name']!s}'s {key} is not a number")
    dataset = document.get("dataset")
    if not isinstance(dataset, dict) or not isinstance(dataset.get("classes"), list):
        raise ResultsError(f"{where} does not describe its dataset (dataset.classes)")
    return document


def network(document: dict, name: str) -> dict | None:
    return next((n for n in document["networks"] if n.get("name") == name), None)


def comparisons(document: dict, metric: str | None = None) -> list[dict]:
    """The document's pairwise comparisons (of one metric, or all)."""
    return [c for c in document.get("comparisons") or [] if metric is None or c.get("metric") == metric]


def network_config_fields(network_entry: dict) -> dict:
    """The exact configuration fields of a network entry (ScalingConfig(**fields) rebuilds it)."""
    return dict(network_entry["config"])
