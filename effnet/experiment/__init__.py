"""The scaling experiment: depth-only, width-only, resolution-only and compound scaling at the same
FLOPs, trained from scratch and measured for accuracy and for where their Grad-CAM maps fall.

    plan      matched_plan(base, flops_multiple) -> five PlannedNetwork (closed form, no network built)
    data      SyntheticSource (seeded scenes with object masks), ImageFolderSource, imagenette_source
    render    render_batch: many synthetic scenes at once, drawn on any device (torch)
    train     Recipe, train_network: one recipe for every network, resumable, CUDA when present
    evaluate  evaluate_network: accuracy with a 95% interval, pointing game, mass inside the object,
              or pytorch-grad-cam's faithfulness metrics on photos
    run       run_experiment: all of it, into results.json and one state dict per network
    results   read_results: the page's and the CLI's reader (no torch)
    panels    load_network, scene_panels, watch_panels, photo_panels: pictures of a finished run
              (networks rebuilt from their stored configurations; maps scored on the common grid)

Only `plan` and `results` import at once; the rest needs torch and is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .plan import NAMES, TITLES, PlannedNetwork, matched_plan, paper_rows, plan_as_dicts
from .results import ResultsError, parse_results, read_results

_LAZY = {
    "synthetic": (),
    "render": ("render_batch",),
    "data": ("DataError", "ImageFolderSource", "SyntheticSource", "imagenette_source"),
    "train": ("Recipe", "train_network"),
    "evaluate": ("evaluate_network", "mass_inside", "pointing_game", "wilson_interval", "faithfulness"),
    "run": ("BASES", "base_config", "run_experiment"),
    "panels": ("load_network", "scene_panels", "watch_panels", "photo_panels"),
}
_LAZY_NAMES = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'effnet.experiment' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = ["NAMES", "TITLES", "PlannedNetwork", "ResultsError", "matched_plan", "paper_rows", "parse_results",
           "plan_as_dicts", "read_results", *_LAZY_NAMES]
