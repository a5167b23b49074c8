"""The whole experiment: plan, data, train the five networks per seed, evaluate, compare, write
results.json.

    run_experiment(Path("out"), SyntheticSource(5000, 1500), flops_multiple=4.5, recipe=Recipe(), seeds=(0, 1, 2))

Seed k trains every network on its own training scenes (drawn from data seed `source.seed + k`)
from its own initialisation (torch seed k); the validation and test scenes are the same for every
seed and network, so all are compared on the same images. Writes into `out`: one plain state dict
per network and seed (`<name>-seed<k>.pt`), per finished run a record (`runs/<name>-seed<k>.json`,
so a rerun skips it) and its per-image figures (`runs/<name>-seed<k>.npz`: what the paired
comparisons are computed from), and `results.json` (format in effnet.experiment.results). An
interrupted run picks up where it stopped: finished runs are kept, the one in training resumes from
its last epoch. The test split is read once per run, after its training.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..cost.latency import device_description
from ..scaling import ConfigError, ScalingConfig, preset
from . import results as results_format
from .results import STILL_RISING
from . import stats, synthetic
from .render import render_batch
from .evaluate import CAM_LAYER, CAM_STRIDE, SIZE_GROUPS, cam_grid, evaluate_network, watch_maps
from .plan import NAMES, TITLES, matched_plan, paper_rows, plan_as_dicts
from .train import Recipe, finish_checkpoint, pick_device, train_network

Progress = Callable[[float, str], None]

# The CPU-sized base of the committed run: B0's layout at depth 0.5, width 0.4, 80 px (8.2 M
# multiply-adds). Smaller bases fail the +-3% plan at 4.5x: channels and 8-px resolution steps are
# too coarse there.
BASES = {"small": ScalingConfig(depth=0.5, width=0.4, resolution=80)}
# what in a data source's description changes the training (its display name does not)
TRAINING_DATA_KEYS = ("kind", "classes", "train_size", "val_size", "test_size", "seed", "easy", "objects", "has_masks",
                      "normalisation")
TRAINING_BASE_KEYS = ("depth", "width", "resolution", "variant", "num_classes", "dropout", "stochastic_depth",
                      "batch_norm_eps", "batch_norm_momentum")
CONFIG_KEYS = ("depth", "width", "resolution", "variant", "num_classes", "dropout", "stochastic_depth",
               "batch_norm_eps", "batch_norm_momentum", "stage_table")
BUDGET_RULE = ("The same number of optimiser steps (the same images seen) for all five networks, long enough that "
               f"twice the steps add less than {100 * STILL_RISING:g} points to the baseline's validation accuracy "
               "(checked by a baseline run at twice the budget). Each network's own gain over the last fifth of "
               "training is reported beside it; under a cosine schedule that gain is small at any budget (the "
               "learning rate reaches zero), so it shows a network still learning, not one that has converged.")
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
    """Train and evaluate the plan's five networks on `source` once per seed; returns the results document.

    Under torchrun (WORLD_SIZE > 1) every process trains on its own shard of the training scenes
    with DistributedDataParallel (NCCL on GPUs, gloo on CPUs), the batch being split over them;
    process 0 alone evaluates and writes the files."""
    out = Path(out)
    rank, processes = start_processes(device)
    target = pick_device(device)
    if target.type == "cuda" and processes > 1:
        target = torch.device("cuda", torch.cuda.current_device())
    if threads is not None:
        torch.set_num_threads(int(threads))
    classes = source.classes
    plan = matched_plan(base_config(base, len(classes)), flops_multiple)
    rows = {row["name"]: row for row in plan_as_dicts(plan)}
    chosen = [n for n in plan if only is None or n.name in only]
    if not chosen:
        raise ValueError(f"no network selected; accepted: {', '.join(NAMES)}")
    (out / "runs").mkdir(parents=True, exist_ok=True)
    described = source.describe()
    base_fields = asdict(plan[0].config)
    fingerprint = {"recipe": recipe.as_dict(), "dataset": {k: described.get(k) for k in TRAINING_DATA_KEYS},
                   "base": {k: base_fields[k] for k in TRAINING_BASE_KEYS}, "flops_multiple": flops_multiple}
    common_grid = min(cam_grid(network.config.resolution) for network in plan)
    sizes = object_sizes(source)
    total_jobs = len(chosen) * len(seeds)
    began = time.perf_counter()
    records: dict[str, list[dict]] = {}
    per_image: dict[str, list[dict]] = {}
    for position, planned in enumerate(chosen):
        config = planned.config
        records[planned.name], per_image[planned.name] = [], []
        for seed_position, seed in enumerate(seeds):
            job = position * len(seeds) + seed_position
            stem = out / f"{planned.name}-seed{seed}"
            record_path = out / "runs" / f"{planned.name}-seed{seed}.json"
            arrays_path = out / "runs" / f"{planned.name}-seed{seed}.npz"

            def report(fraction: float, message: str, job=job, name=planned.name, seed=seed) -> None:
                if progress is not None:
                    progress((job + fraction) / total_jobs, f"{name} (seed {seed}): {message}")

            record = _read_record(record_path, fingerprint)
            if record is not None and record.get("config") != config_dict(config):
                record = None  # the plan moved (a new solver): this network is another one
            if processes > 1:
                record = _agree(record is not None and Path(f"{stem}.pt").exists() and arrays_path.exists(), record)
            if record is None or not Path(f"{stem}.pt").exists() or not arrays_path.exists():
                run_began = time.perf_counter()
                seeded = replicate(source, seed)
                train = shard(_split(seeded, "train", config.resolution, target, lambda f, m: report(0.0, m)), rank, processes)
                val = _split(seeded, "val", config.resolution, target)
                watched = watch_images(source, config.resolution, recipe.watch_images)
                after_epoch = None
                if watched is not None:
                    after_epoch = lambda model: {"watch": watch_maps(model, watched, source.mean, source.std)}  # noqa: E731
                model, record = train_network(config, train, val, recipe, source.mean, source.std, seed=seed,
                                              device=str(target), checkpoint=stem,
                                              progress=lambda f, m: report(0.9 * f, m), after_epoch=after_epoch)
                if rank != 0:  # process 0 evaluates and writes; the others wait for its files
                    _barrier(processes)
                    record = json.loads(record_path.read_text())
                    records[planned.name].append(record)
                    continue
                finish_checkpoint(model, stem)
                report(0.9, "measuring accuracy and attention on the test scenes")
                test = _split(seeded, "test", config.resolution, target)
                summary, arrays = evaluate_network(model, test, source.mean, source.std, common_grid=common_grid,
                                                   sizes=sizes, cam_images=cam_images)
                record.update(summary)
                record.update(seed=seed, data_seed=data_seed(source, seed), checkpoint=f"{stem.name}.pt",
                              config=config_dict(config), fingerprint=fingerprint,
                              wall_seconds=round(time.perf_counter() - run_began + record["resumed_seconds"], 1))
                record["last_fifth_validation_gain"] = last_fifth_gain(record["history"])
                np.savez_compressed(arrays_path, **arrays)
                record_path.write_text(json.dumps(record, indent=1))
                _barrier(processes)
            records[planned.name].append(record)
            with np.load(arrays_path) as stored:
                per_image[planned.name].append({key: stored[key] for key in stored.files})
    if rank != 0:
        _barrier(processes)  # process 0 writes results.json
        return json.loads((out / "results.json").read_text())
    document = results_document(out, source, base, flops_multiple, recipe, seeds, target, plan, rows, chosen,
                                records, per_image, common_grid, command)
    document["session_seconds"] = round(time.perf_counter() - began, 1)
    document["processes"] = processes
    (out / "results.json").write_text(json.dumps(document, indent=1))
    _barrier(processes)
    if progress is not None:
        progress(1.0, "done")
    return document


def _split(source, name: str, resolution: int, target: torch.device, progress=None):
    """A split of `source`; synthetic scenes are drawn straight on the training device (no copy)."""
    if getattr(source, "kind", None) == "synthetic":
        return source.split(name, resolution, progress=progress, device=target)
    return source.split(name, resolution, progress=progress)


def start_processes(device: str) -> tuple[int, int]:
    """(rank, processes): sets up torch.distributed when started by torchrun (WORLD_SIZE > 1)."""
    import os

    import torch.distributed as distributed

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1
    if not distributed.is_initialized():
        cuda = pick_device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        distributed.init_process_group("nccl" if cuda else "gloo")
    return distributed.get_rank(), distributed.get_world_size()


def shard(split, rank: int, processes: int):
    """Process `rank`'s share of a split: every `processes`-th scene from its own position."""
    if processes == 1:
        return split
    return dataclasses.replace(split, images=split.images[rank::processes], labels=split.labels[rank::processes],
                               masks=None if split.masks is None else split.masks[rank::processes])


def _barrier(processes: int) -> None:
    if processes > 1:
        import torch.distributed as distributed

        distributed.barrier()


def _agree(finished: bool, record: dict | None) -> dict | None:
    """Whether a run is finished, as process 0 sees it (the others follow, so all train or none)."""
    import torch.distributed as distributed

    flag = torch.tensor([int(finished)])
    distributed.broadcast(flag, 0)
    if not flag.item():
        return None
    return record


def results_document(out: Path, source, base: str, flops_multiple: float, recipe: Recipe, seeds: Sequence[int],
                     target: torch.device, plan, rows: dict, chosen, records: dict[str, list[dict]],
                     per_image: dict[str, list[dict]], common_grid: int, command: str) -> dict:
    """The results.json document from the finished runs' records and per-image figures."""
    networks = [summarise_network(rows[planned.name], planned.config, records[planned.name]) for planned in chosen]
    names = [planned.name for planned in chosen]
    comparisons = stats.compare_all(per_image, names)
    for comparison in comparisons:
        comparison["sentence"] = stats.sentence(comparison, TITLES)
    first = next(iter(records.values()))[0]
    described = source.describe()
    return {
        "format": results_format.FORMAT,
        "task": described.get("name", described.get("kind")),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "question": QUESTION,
        "flops_multiple": flops_multiple,
        "base": {"depth": plan[0].config.depth, "width": plan[0].config.width, "resolution": plan[0].config.resolution,
                 "name": base, "macs": plan[0].macs, "params": plan[0].params},
        "seeds": [{"seed": s, "data_seed": data_seed(source, s)} for s in seeds],
        "device": device_description(target.type),
        "threads": torch.get_num_threads() if target.type == "cpu" else None,
        "mode": first.get("mode"),
        "wall_seconds": round(sum(r.get("wall_seconds") or r["train_seconds"] for rs in records.values() for r in rs), 1),
        "versions": versions(),
        "recipe": recipe.as_dict(),
        "budget": {"steps": first.get("steps"), "epochs": recipe.epochs, "batch_size": recipe.batch_size,
                   "images_seen": first.get("steps", 0) * recipe.batch_size, "rule": BUDGET_RULE,
                   "still_rising": STILL_RISING},
        "dataset": described,
        "common_grid": common_grid,
        "alpha_beta_gamma": "the paper's (searched on ImageNet for B0), not searched for this task",
        "cam": {"method": "gradcam", "layer": CAM_LAYER, "stride": CAM_STRIDE,
                "note": "Grad-CAM of each image's predicted class at the end of stage 6 (stride 16), upsampled "
                        "bilinearly to the input; the native grid grows with the resolution (5 x 5 at 80 px, "
                        "11 x 11 at 176 px), so networks are compared on one common grid (the coarsest): maps "
                        "and masks pooled to it, a hit being a peak cell that touches the object."},
        "verdict_rule": " ".join(stats.verdict.__doc__.split("\n\n")[1].split()).replace("MIN_SEEDS", str(stats.MIN_SEEDS)),
        "paper": paper_rows(),
        "networks": networks,
        "comparisons": comparisons,
    }


MEANS = ("test_accuracy", "pointing_game_native", "pointing_game_common", "mass_inside_native", "mass_inside_common",
         "pointing_game_native_chance", "pointing_game_common_chance", "mass_inside_native_chance",
         "mass_inside_common_chance", "pointing_game_native_ceiling", "object_share", "last_fifth_validation_gain")
SEED_KEYS = ("seed", "data_seed", "checkpoint", "test_accuracy", "test_accuracy_ci", "pointing_game_native",
             "pointing_game_common", "mass_inside_native", "mass_inside_common", "pointing_game_native_chance",
             "pointing_game_common_chance", "mass_inside_common_chance", "last_fifth_validation_gain",
             "train_seconds", "wall_seconds", "images_per_second", "mode", "steps", "resumed_from_epoch")


def summarise_network(row: dict, config: ScalingConfig, runs: list[dict]) -> dict:
    """One network's entry: the plan row, its exact configuration, every seed's figures and the
    mean and sd over seeds of each."""
    entry = dict(row)
    first = runs[0]
    entry.update({
        "config": config_dict(config),
        "native_grid": first.get("native_grid"),
        "cam_grid": first.get("native_grid"),
        "checkpoint": first["checkpoint"],
        "seeds": [dict({k: run.get(k) for k in SEED_KEYS}, pointing_game=run.get("pointing_game_common")) for run in runs],
        "history": first["history"],
        "validation_curves": [[epoch.get("val_accuracy") for epoch in run["history"]] for run in runs],
        "train_seconds": first["train_seconds"],
        "images_per_second": first["images_per_second"],
        "per_class_accuracy": [_mean_of_known(values) for values in zip(*(run["per_class_accuracy"] for run in runs))],
        "test_images": first["test_images"],
        "cam_images": first["cam_images"],
    })
    for key in MEANS:
        values = [run[key] for run in runs if run.get(key) is not None]
        if values:
            summary = stats.summarise(values)
            entry[f"{key}_mean"], entry[f"{key}_sd"] = summary["mean"], summary["sd"]
    for key in ("pointing_game_native_ceiling", "pointing_game_native_chance", "pointing_game_common_chance",
                "mass_inside_native_chance", "mass_inside_common_chance", "last_fifth_validation_gain"):
        if f"{key}_mean" in entry:
            entry[key] = entry[f"{key}_mean"]
    # the page's and older readers' headline keys: means over seeds, attention on the common grid
    entry["test_accuracy"] = entry["test_accuracy_mean"]
    entry["test_accuracy_sd"] = entry.get("test_accuracy_sd")
    if "pointing_game_common_mean" in entry:
        entry["pointing_game"] = entry["pointing_game_common_mean"]
        entry["mass_inside"] = entry["mass_inside_common_mean"]
    if all("by_object_size" in run for run in runs):
        groups = []
        for position, group in enumerate(SIZE_GROUPS):
            cells = [run["by_object_size"]["groups"][position] for run in runs]
            merged = {"group": group, "images": cells[0]["images"]}
            for key in cells[0]:
                if key not in ("group", "images"):
                    merged[key] = float(np.mean([cell[key] for cell in cells]))
            groups.append(merged)
        entry["by_object_size"] = {"cuts": first["by_object_size"]["cuts"], "groups": groups}
    return entry


def _mean_of_known(values) -> float | None:
    """The mean of the values that are not None (a class absent from a small test set has none)."""
    known = [float(v) for v in values if v is not None]
    return float(np.mean(known)) if known else None


def config_dict(config: ScalingConfig) -> dict:
    """The fields that rebuild a network exactly: `effnet.ScalingConfig(**config_dict(c)) == c`."""
    fields = asdict(config)
    return {key: fields[key] for key in CONFIG_KEYS}


def last_fifth_gain(history: list[dict]) -> float | None:
    """How much the validation accuracy rose over the last fifth of training: the final epoch's
    minus that of the epoch where the last fifth began (epoch ceil(0.8 E), at least one epoch back)."""
    accuracies = [epoch.get("val_accuracy") for epoch in history]
    if len(accuracies) < 2 or any(a is None for a in accuracies):
        return None
    start = min(len(accuracies) - 1, math.ceil(0.8 * len(accuracies)))
    return float(accuracies[-1] - accuracies[start - 1])


def replicate(source, seed: int):
    """The data source for seed `seed`: its own training scenes, the shared held-out ones."""
    if hasattr(source, "train_seed"):
        return dataclasses.replace(source, train_seed=data_seed(source, seed))
    return source  # photos: the seed varies the initialisation and order alone


def data_seed(source, seed: int) -> int | None:
    """The seed of the training scenes of replicate `seed` (None for photos, whose files are fixed)."""
    return int(source.seed) + int(seed) if hasattr(source, "train_seed") else None


def object_sizes(source) -> np.ndarray | None:
    """Each test scene's target size (its circumscribed diameter as a share of the side), or None."""
    if getattr(source, "kind", None) != "synthetic":
        return None
    scenes = synthetic.scenes(source.seed, "test", source.test_size, **_scene_options(source))
    return np.array([2 * item.target.radius for item in scenes])


def watch_images(source, resolution: int, count: int) -> torch.Tensor | None:
    """The few held-out scenes ("show" split) whose maps are recorded after every epoch."""
    if getattr(source, "kind", None) != "synthetic" or count <= 0:
        return None
    images, _ = render_batch(synthetic.scenes(source.seed, "show", count, **_scene_options(source)), resolution)
    return images


def _scene_options(source) -> dict:
    options = {"easy": bool(getattr(source, "easy", False))}
    if getattr(source, "objects", "small") != "small":
        options["objects"] = source.objects
    return options


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
