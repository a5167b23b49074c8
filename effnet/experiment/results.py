"""The experiment's one file format, `results.json`: written by the run, read by the page and the CLI.

Reading needs neither torch nor the training code. `read_results` checks what the page relies on
and raises ResultsError with one line naming what is wrong, so a damaged or foreign file never
shows a traceback.

Format "effnet-experiment/1" (a JSON object):
    format, created (ISO time), command, question, flops_multiple, seeds [int], device, versions {},
    base {depth, width, resolution}, recipe {...}, dataset {kind, name, classes [..], train_size,
    test_size, seed, has_masks, normalisation {mean, std}, description},
    cam {method, layer, stride, note}, paper {name: {setting, flops_b, top1, source}},
    networks: [ {name, title, depth, width, resolution, depth_ratio, width_ratio, resolution_ratio,
                 params, macs, flops_multiple, phi, layers, cam_grid, checkpoint,
                 test_accuracy, test_accuracy_ci [lo, hi], test_accuracy_sd (over seeds, or null),
                 pointing_game, pointing_game_ci, mass_inside, mass_inside_ci, object_share
                 (masked data) | faithfulness {...} (photos),
                 train_seconds, images_per_second, history [{epoch, train_loss, train_accuracy,
                 test_accuracy, learning_rate, seconds}] (first seed),
                 runs [{seed, test_accuracy, pointing_game, mass_inside, train_seconds, ...}] } ]
"""

from __future__ import annotations

import json
from pathlib import Path

FORMAT = "effnet-experiment/1"
NETWORK_KEYS = ("name", "depth", "width", "resolution", "params", "macs", "test_accuracy", "train_seconds", "history")
NAMES = ("baseline", "depth", "width", "resolution", "compound")


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
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ResultsError(f"{where} is not an experiment results file (expected \"format\": \"{FORMAT}\")")
    networks = document.get("networks")
    if not isinstance(networks, list) or not networks:
        raise ResultsError(f"{where} lists no networks")
    for position, network in enumerate(networks):
        if not isinstance(network, dict):
            raise ResultsError(f"{where}: network {position + 1} is not an object")
        missing = [key for key in NETWORK_KEYS if key not in network]
        if missing:
            raise ResultsError(f"{where}: network {network.get('name', position + 1)!s} lacks {', '.join(missing)}")
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
