"""Score a finished run of the older single-seed format (effnet-experiment/1) under format 2's
measurement, without training anything.

    python -m effnet experiment rescore results/experiment

Format 1 scored each network's pointing game on its own map grid (5 x 5 at 80 px, 11 x 11 at 176 px)
against one chance level for all. This reads its checkpoints (`<name>.pt`, loaded with
weights_only=True into the plan's exact configurations, checked against the recorded parameter
counts) and its test scenes (redrawn from the recorded seed), scores them like a new run (common
grid, each network's own chance level, the native grid's ceiling, by object size), and writes a
format-2 results.json beside them, with the checkpoints renamed `<name>-seed0.pt`. What the older
run did not record stays absent, and says so: it had no validation split (its per-epoch accuracy
was on the test scenes, kept as `test_accuracy` in the history), no replicates (one seed: no
verdict), and dropout and stochastic depth 0.2 (the config's own).

Run again on a folder it has rescored, it re-derives results.json from the stored per-image figures
(`runs/<name>-seed0.npz`) without running any network: the statistics may change, the scores not.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from ..weights import build
from .data import SyntheticSource
from .evaluate import cam_grid, evaluate_network
from .plan import matched_plan, plan_as_dicts
from .results import FORMAT, ResultsError
from .run import base_config, config_dict, object_sizes, results_document
from .train import Recipe, pick_device

OLD_FORMAT = "effnet-experiment/1"


def rescore(folder: str | Path, progress=None) -> dict:
    """Write a format-2 results.json for the format-1 run in `folder`; returns the document."""
    folder = Path(folder)
    try:
        old = json.loads((folder / "results.json").read_text())
    except (OSError, json.JSONDecodeError):
        raise ResultsError(f"no readable results.json in {folder}") from None
    if old.get("format") == FORMAT and old.get("rescored"):
        return _restate(folder, old, progress)
    if old.get("format") != OLD_FORMAT:
        raise ResultsError(f"{folder / 'results.json'} is not in the older format {OLD_FORMAT} (it says {old.get('format')!r})")
    dataset = old["dataset"]
    if dataset.get("kind") != "synthetic":
        raise ResultsError("only runs on the synthetic task can be rescored (they have object masks)")
    began = time.perf_counter()
    source, plan, rows, chosen = _plan_of(old)
    common_grid = min(cam_grid(network.config.resolution) for network in plan)
    sizes = object_sizes(source)
    recorded = {network["name"]: network for network in old["networks"]}
    recipe = Recipe(**{k: v for k, v in old["recipe"].items() if k in Recipe.__dataclass_fields__},
                    dropout=0.2, stochastic_depth=0.2, mode="eager", watch_images=0)
    records, per_image = {}, {}
    (folder / "runs").mkdir(exist_ok=True)
    for position, planned in enumerate(chosen):
        entry = recorded[planned.name]
        old_path, new_path = folder / entry["checkpoint"], folder / f"{planned.name}-seed0.pt"
        record_path, arrays_path = folder / "runs" / f"{planned.name}-seed0.json", folder / "runs" / f"{planned.name}-seed0.npz"
        if new_path.exists() and arrays_path.exists() and "common_grid" in json.loads(record_path.read_text()):
            # scored by an earlier, interrupted rescore: kept
            records[planned.name] = [json.loads(record_path.read_text())]
            with np.load(arrays_path) as stored:
                per_image[planned.name] = [{key: stored[key] for key in stored.files}]
            continue
        state = torch.load(old_path if old_path.exists() else new_path, weights_only=True)
        model = build(planned.config, state_dict=state)
        if sum(p.numel() for p in model.parameters()) != entry["params"]:
            raise ResultsError(f"{planned.name}: the plan's network has another parameter count than the recorded one")
        if progress is not None:
            progress(position / len(chosen), f"scoring {planned.name}")
        test = source.split("test", planned.config.resolution)
        summary, arrays = evaluate_network(model, test, source.mean, source.std, common_grid=common_grid, sizes=sizes)
        run = entry["runs"][0]
        record = dict(summary, seed=0, data_seed=dataset["seed"], checkpoint=new_path.name, config=config_dict(planned.config),
                      history=entry["history"], train_seconds=run["train_seconds"], wall_seconds=run["train_seconds"],
                      images_per_second=run["images_per_second"], mode="eager float32 (before channels_last)",
                      steps=recipe.epochs * int(np.ceil(dataset["train_size"] / recipe.batch_size)),
                      resumed_from_epoch=run.get("resumed_from_epoch", 0), last_fifth_validation_gain=None)
        np.savez_compressed(arrays_path, **arrays)
        record_path.write_text(json.dumps(record, indent=1))
        if old_path.exists() and old_path != new_path:
            old_path.rename(new_path)
        records[planned.name], per_image[planned.name] = [record], [arrays]
    document = results_document(folder, source, old["base"]["name"], old["flops_multiple"], recipe, (0,),
                                pick_device("cpu"), plan, rows, chosen, records, per_image, common_grid, old.get("command", ""))
    document.update(created=old.get("created"), device=old.get("device"), threads=old.get("threads"), versions=old.get("versions"),
                    rescored={"from_format": OLD_FORMAT, "command": "python -m effnet experiment rescore " + str(folder),
                              "seconds": round(time.perf_counter() - began, 1),
                              "note": "trained before replicates and a validation split existed: one seed (no verdict), "
                                      "per-epoch accuracy on the test scenes, dropout and stochastic depth 0.2"})
    document["dataset"]["val_size"] = 0
    document["format"] = FORMAT
    (folder / "results.json").write_text(json.dumps(document, indent=1))
    if progress is not None:
        progress(1.0, "done")
    return document


def _restate(folder: Path, document: dict, progress=None) -> dict:
    """results.json of a rescored folder made again from its records and per-image figures."""
    source, plan, rows, chosen = _plan_of(document)
    records, per_image = {}, {}
    for planned in chosen:
        records[planned.name] = [json.loads((folder / "runs" / f"{planned.name}-seed0.json").read_text())]
        with np.load(folder / "runs" / f"{planned.name}-seed0.npz") as stored:
            per_image[planned.name] = [{key: stored[key] for key in stored.files}]
    recipe = Recipe(**{k: v for k, v in document["recipe"].items() if k in Recipe.__dataclass_fields__})
    fresh = results_document(folder, source, document["base"]["name"], document["flops_multiple"], recipe, (0,),
                             pick_device("cpu"), plan, rows, chosen, records, per_image, document["common_grid"],
                             document.get("command", ""))
    for key in ("created", "device", "threads", "versions", "rescored", "task"):
        fresh[key] = document.get(key)
    fresh["dataset"]["val_size"] = 0
    (folder / "results.json").write_text(json.dumps(fresh, indent=1))
    if progress is not None:
        progress(1.0, "done")
    return fresh


def _plan_of(document: dict) -> tuple:
    """(the run's synthetic source, its matched plan, the plan's rows by name, the planned networks the
    document lists) of a results document of either format."""
    dataset = document["dataset"]
    source = SyntheticSource(dataset["train_size"], dataset["test_size"], seed=dataset["seed"], easy=dataset.get("easy", False))
    plan = matched_plan(base_config(document["base"]["name"], len(dataset["classes"])), document["flops_multiple"])
    rows = {row["name"]: row for row in plan_as_dicts(plan)}
    names = {network["name"] for network in document["networks"]}
    return source, plan, rows, [planned for planned in plan if planned.name in names]
