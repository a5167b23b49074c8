"""`python -m effnet cam IMAGE --sanity`: the cascading randomisation test (effnet.sanity) from the command line.

    python -m effnet cam IMAGE [IMAGE ...] --sanity [--models lite0] [--method all|gradcam,sobel,...]
                         [--target "tabby"] [--layer head] [--seed 0] [--out DIR] [--json]

Per image and model: per method, one row per step from the trained network (nothing randomised,
similarity 1) to the fully random one, with the similarity of that step's map to the trained map
(Spearman with and without absolute values, SSIM, HOG correlation). With --json one object
{"model", "image", "label", "resolution", "layer", "target", "target_index", "seed", "seconds",
"methods": {METHOD: {"label", "steps": [{"randomised", "step", "target_prob", "spearman",
"spearman_abs", "ssim", "hog"}, ...]}}} for one image and one model, a list of such objects for
more. With --out, one PNG per image, model and method: the maps from trained to fully random in a row.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from . import cam, sanity, similarity
from .images import ImageError, load_image
from .scaling import ConfigError
from .weights import WeightsUnavailableError


def run(args: argparse.Namespace, fail, unique_stem) -> int:
    """Run the test for every image and model of `args`; `fail(message, status)` prints one line on
    stderr and returns the status; `unique_stem(path, used)` names output files."""
    usage, failed = 2, 1
    try:
        methods = sanity.normalise_methods(args.method)
        layer = cam.normalise_layer(args.layer)
        target = cam.resolve_target(args.target)
        names = [n.strip().lower() for n in str(args.models or "lite0").split(",") if n.strip()]
        if not names:
            raise ValueError("--models is empty; accepted: a comma-separated list such as lite0,lite1")
        models = [cam.trained_model(name) for name in dict.fromkeys(names)]
        for cam_model in models:
            sanity.check_sanity_memory(cam_model.model.config.with_resolution(cam_model.resolution))
        if args.resolution is not None:
            raise ValueError("--resolution does not apply to --sanity: each network is tested at its own size")
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
    except (ValueError, WeightsUnavailableError) as mistake:  # ConfigError too: the memory refusal
        return fail(f"python -m effnet cam: error: {mistake}", usage)
    except OSError as error:
        return fail(f"python -m effnet cam: error: cannot create the output folder {args.out}: {error.strerror or error}", usage)

    records, status, used = [], 0, set()
    for image_path in args.images:
        try:
            image = load_image(Path(image_path), name=str(image_path))
        except ImageError as refusal:
            status = fail(f"python -m effnet cam: {refusal}", failed)
            continue
        stem = unique_stem(image_path, used)
        for cam_model in models:
            try:
                result = sanity.sanity_check(cam_model, image, methods, layer, target, seed=args.seed)
            except ConfigError as refusal:
                status = fail(f"python -m effnet cam: {refusal}", failed)
                continue
            record = {"model": cam_model.name, "image": str(image_path), **result.as_dict()}
            if args.out is not None:
                record["rows"] = {}
                for method in result.methods:
                    png = args.out / f"{stem}_{cam_model.name}_sanity_{method.replace('+', 'plus')}.png"
                    _row(result, method).save(png, format="PNG")
                    record["rows"][method] = str(png)
            records.append(record)
            if not args.json:
                print(_table(record), flush=True)
    if args.json:
        print(json.dumps(records[0] if len(records) == 1 else records, indent=2))
    return status


def _row(result: sanity.SanityResult, method: str, tile: int = 160):
    """The maps of one method over the crop, from trained to fully random, side by side (a PIL image)."""
    from PIL import Image

    tiles = [np.asarray(result.overlay(number, method, side=tile)) for number in range(len(result.steps))]
    return Image.fromarray(np.concatenate(tiles, axis=1))


def _table(record: dict) -> str:
    """Text: per method, one line per step with the four measures."""
    lines = [f"{record['image']}  {record['label']} @{record['resolution']}  maps at {record['layer']} "
             f"for {record['target']!r} (the trained network's class at every step)  {record['seconds']:.1f} s"]
    header = "  ".join(f"{name:>12}" for name in similarity.MEASURES)
    for method, figures in record["methods"].items():
        lines.append(f"  {figures['label']}")
        lines.append(f"    {'randomised down to':<20}{header}")
        for step in figures["steps"]:
            values = "  ".join(f"{'n/a' if step[m] is None else format(step[m], '+.3f'):>12}" for m in similarity.MEASURES)
            lines.append(f"    {step['step']:<20}{values}")
        if method in record.get("rows", {}):
            lines.append(f"    maps -> {record['rows'][method]}")
    return "\n".join(lines)
