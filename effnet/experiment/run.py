"""The whole experiment: plan, data, train the five networks, evaluate, write results.json.

    run_experiment(Path("out"), SyntheticSource(6000, 1500), flops_multiple=4.5, recipe=Recipe())

Writes into `out`: one plain state dict per network (`<name>.pt`; `<name>-seed<k>.pt` for further
seeds), a record per finished run (`runs/<name>-seed<k>.json`, so a rerun skips it) and
`results.json` (format in effnet.experiment.results). An interrupted run picks up where it
stopped: finished networks are kept, the one in training resumes from its last epoch.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..latency import device_description
from ..scaling import ConfigError, ScalingConfig, preset
from . import results as results_format
from .evaluate import CAM_LAYER, CAM_STRIDE, cam_grid, evaluate_network
from .plan import matched_plan, paper_rows, plan_as_dicts
from .train import Recipe, finish_checkpoint, pick_device, train_network

Progress = Callable[[float, str], None]

# The CPU-sized base of the committed run: B0's layout at depth 0.5, width 0.4, 80 px (8.2 M
# multiply-adds). Smaller bases fail the +-3% plan at 4.5x: channels and 8-px resolution steps are
# too coarse there.
BASES = {"small": ScalingConfig(depth=0.5, width=0.4, resolution=80)}
# what in a data source's description changes the training (its display name does not)
TRAINING_DATA_KEYS = ("kind", "classes", "train_size", "test_size", "seed", "easy", "has_masks", "normalisation")
TRAINING_BASE_KEYS = ("depth", "width", "resolution", "variant", "num_classes", "dropout", "stochastic_depth",
                      "batch_norm_eps", "batch_norm_momentum")
QUESTION = ("At the same cost, does the compound-scaled network classify better, and look at the object more "
            "often, than the deeper, the wider and the higher-resolution one?")


def base_config(name: str, num_classes: int) -> ScalingConfig:
    """'small', a preset ('b0'), or 'dD,wW,rR' (e.g. 'd0.5,w0.4,r80'), with `num_classes` outputs."""
    key = str(name).strip().lower()
    if key in BASES:
        config = BASES[key]
    elif key.startswith("d") and "," in key:
        try:
            parts = dict((part[0], float(part[1:])) for part in key.split(","))
            config = ScalingConfig(depth=parts["d"], width=parts["w"], resolution=int(parts["r"]))
        except (KeyError, ValueError, IndexError):
            raise ConfigError(f"base {name!r} is not understood; accepted: small, a preset (b0) or d0.5,w0.4,r80") from None
    else:
        try:
            config = preset(key)
        except ConfigError:
            raise ConfigError(f"unknown base {name!r}; accepted: small, a preset name (b0 ... b7, lite0 ... lite4) or d0.5,w0.4,r80") from None
    return ScalingConfig(depth=config.depth, width=config.width, resolution=config.resolution, variant=config.variant,
                         num_classes=num_classes, dropout=config.dropout, batch_norm_eps=config.batch_norm_eps,
                         batch_norm_momentum=config.batch_norm_momentum)


def versions() -> dict:
    import torchvision

    try:
        from importlib.metadata import version

        grad_cam = version("grad-cam")
    except Exception:  # not installed as a distribution
        grad_cam = None
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "grad-cam": grad_cam, "numpy": np.__version__, "platform": platform.platform()}


def run_experiment(
    out: Path,
    source,
    base: str = "small",
    flops_multiple: float = 4.5,
    recipe: Recipe = Recipe(),
    seeds: Sequence[int] = (0,),
    device: str = "auto",
    threads: int | None = None,
    only: Sequence[str] | None = None,
    cam_images: int | None = None,
    command: str = "",
    progress: Progress | None = None,
) -> dict:
    """Train and evaluate the plan's five networks on `source`; returns the results document."""
    out = Path(out)
    target = pick_device(device)
    if threads is not None:
        torch.set_num_threads(int(threads))
    classes = source.classes
    plan = matched_plan(base_config(base, len(classes)), flops_multiple)
    rows = {row["name"]: row for row in plan_as_dicts(plan)}
    chosen = [n for n in plan if only is None or n.name in only]
    if not chosen:
        raise ValueError(f"no network selected; accepted names: {', '.join(results_format.NAMES)}")
    (out / "runs").mkdir(parents=True, exist_ok=True)
    described = source.describe()
    base_fields = asdict(plan[0].config)
    fingerprint = {"recipe": recipe.as_dict(), "dataset": {k: described.get(k) for k in TRAINING_DATA_KEYS},
                   "base": {k: base_fields[k] for k in TRAINING_BASE_KEYS}, "flops_multiple": flops_multiple}
    total_jobs = len(chosen) * len(seeds)
    began = time.perf_counter()
    networks = []
    for position, planned in enumerate(chosen):
        config = planned.config
        resolution = config.resolution
        runs = []
        for seed_position, seed in enumerate(seeds):
            job = position * len(seeds) + seed_position
            stem = out / (planned.name if seed_position == 0 else f"{planned.name}-seed{seed}")
            record_path = out / "runs" / f"{planned.name}-seed{seed}.json"

            def report(fraction: float, message: str, job=job, name=planned.name, seed=seed) -> None:
                if progress is not None:
                    progress((job + fraction) / total_jobs, f"{name} (seed {seed}): {message}")

            record = _read_record(record_path, fingerprint)
            network_fields = {"depth": config.depth, "width": config.width, "resolution": config.resolution}
            if record is not None and record.get("network", network_fields) != network_fields:
                record = None  # the plan moved (a new solver): this network is another one
            if record is None or not Path(f"{stem}.pt").exists():
                train = source.split("train", resolution, progress=lambda f, m: report(0.0, m))
                test = source.split("test", resolution)
                model, record = train_network(config, train, test, recipe, source.mean, source.std, seed=seed,
                                              device=device, checkpoint=stem, progress=lambda f, m: report(0.9 * f, m))
                finish_checkpoint(model, stem)
                report(0.9, "measuring attention")
                record.update(evaluate_network(model, test, source.mean, source.std, cam_images=cam_images))
                record["fingerprint"] = fingerprint
                record["network"] = network_fields
                record_path.write_text(json.dumps(record, indent=1))
            runs.append(record)
        networks.append(_summarise(rows[planned.name], runs, resolution, f"{planned.name}.pt"))

    document = {
        "format": results_format.FORMAT,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "question": QUESTION,
        "flops_multiple": flops_multiple,
        "base": {"depth": plan[0].config.depth, "width": plan[0].config.width, "resolution": plan[0].config.resolution,
                 "name": base, "macs": plan[0].macs, "params": plan[0].params},
        "seeds": list(seeds),
        "device": device_description(target.type),
        "threads": torch.get_num_threads() if target.type == "cpu" else None,
        "wall_seconds": round(time.perf_counter() - began, 1),
        "versions": versions(),
        "recipe": recipe.as_dict(),
        "dataset": source.describe(),
        "cam": {"method": "gradcam", "layer": CAM_LAYER, "stride": CAM_STRIDE,
                "note": "Grad-CAM of each image's predicted class at the end of stage 6 (stride 16), upsampled "
                        "bilinearly to the input; the grid grows with the resolution (5 x 5 at 80 px, 11 x 11 at 176 px)"},
        "paper": paper_rows(),
        "networks": networks,
    }
    (out / "results.json").write_text(json.dumps(document, indent=1))
    if progress is not None:
        progress(1.0, "done")
    return document


def _read_record(path: Path, fingerprint: dict) -> dict | None:
    """A finished run's record if it was made with the same recipe, data and plan; else None.

    Only what changes the training counts: the data's labels and names shown on screen may change
    without retraining."""
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    stored = record.get("fingerprint") or {}
    stored = {**stored, "dataset": {k: (stored.get("dataset") or {}).get(k, False if k == "easy" else None)
                                    for k in TRAINING_DATA_KEYS},
              "base": {k: (stored.get("base") or {}).get(k) for k in TRAINING_BASE_KEYS}}
    return record if stored == json.loads(json.dumps(fingerprint)) else None


def _summarise(row: dict, runs: list[dict], resolution: int, checkpoint: str) -> dict:
    """One network's entry: the plan row, the first seed's figures, and mean +- sd over seeds."""
    first = runs[0]
    entry = dict(row)
    entry.update({
        "cam_grid": cam_grid(resolution),
        "checkpoint": checkpoint,
        "train_seconds": first["train_seconds"],
        "images_per_second": first["images_per_second"],
        "history": first["history"],
        "runs": [{k: v for k, v in run.items() if k not in ("history", "fingerprint", "per_class_accuracy")} for run in runs],
    })
    for key in ("test_accuracy", "test_accuracy_ci", "pointing_game", "pointing_game_ci", "mass_inside", "mass_inside_ci",
                "object_share", "faithfulness", "per_class_accuracy", "test_images", "cam_images", "cam_layer"):
        if key in first:
            entry[key] = first[key]
    if len(runs) > 1:
        for key in ("test_accuracy", "pointing_game", "mass_inside"):
            values = [run[key] for run in runs if key in run]
            if values:
                entry[key] = float(np.mean(values))
                entry[f"{key}_sd"] = float(np.std(values, ddof=1))
    else:
        entry.update(test_accuracy_sd=None, pointing_game_sd=None, mass_inside_sd=None)
    return entry
