"""`python -m effnet cam`: class activation maps of trained EfficientNets for image files.

    python -m effnet cam IMAGE [IMAGE ...] --out DIR [--models lite0,lite1,lite2] [--method gradcam]
                         [--target "tabby"] [--layer stage6] [--resolution R] [--faithfulness] [--json]
    python -m effnet cam IMAGE --sanity [--models lite0] [--method all] [--json]   (effnet.cli_sanity)

Writes one PNG per image and model into DIR (the heatmap over the whole photo, the part the network
did not see dimmed) and prints one line per map, or with --json one JSON list with an object per
image and model: image, model, label, trained, resolution, layer, method, target, target_index,
target_prob, top5 [{"label", "prob"}], cam (the PNG's path), crop_box and attention
(mass_share_50, centre, peak); with --faithfulness also `faithfulness` (effnet.faithfulness: keep_highlighted,
road_most_relevant_first / road_least_relevant_first per percentile, road_combined, the same for the
random and centred baselines, the seconds it took). A file that is not a usable image is reported on one line on stderr
and skipped; the others are still processed, and the exit status is 1. Option mistakes exit with 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from . import cam
from .images import FORMAT_NAMES, ImageError, load_image
from .weights import WeightsUnavailableError

PROG = "python -m effnet cam"
FAILED_IMAGE = 1
USAGE_ERROR = 2


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the 'cam' subcommand on the parser's subcommands."""
    parser = subparsers.add_parser(
        "cam",
        help="Grad-CAM heatmaps of trained EfficientNets for image files",
        description="Where do trained EfficientNets look? One heatmap PNG per image and model.",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help=f"{FORMAT_NAMES} files")
    parser.add_argument("--models", "--model", default=None,
                        help="comma-separated trained presets (default: lite0,lite1,lite2, with --sanity lite0; "
                             "b0..b7 when their weights are cached)")
    parser.add_argument("--method", default=None,
                        help=f"one of {', '.join(cam.METHODS)} (default: gradcam); with --sanity a comma-separated "
                             "list that may include sobel, or all (the default)")
    parser.add_argument("--target", default=None,
                        help="an ImageNet class name or index used for every map (default: each model's own top-1)")
    parser.add_argument("--layer", default=None, help="stem, stage2 ... stage8 or head (default: head, the last convolution)")
    parser.add_argument("--resolution", type=int, default=None, help="input size in pixels (default: each model's own)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="folder for the PNG files (created if missing; required unless --sanity)")
    parser.add_argument("--faithfulness", action="store_true",
                        help="also score each map with pytorch-grad-cam's metrics and the random/centred baselines "
                             "(about 8 extra forward passes per map)")
    parser.add_argument("--sanity", action="store_true",
                        help="cascading randomisation test (Adebayo et al. 2018): re-initialise the classifier, the head, "
                             "then each stage down to the stem, and compare each step's map with the trained one")
    parser.add_argument("--seed", type=int, default=0, help="with --sanity: the seed of the re-initialised weights (default: 0)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text lines")


def run(args: argparse.Namespace) -> int:
    """Compute and save the maps; returns 0, 1 (some image failed) or 2 (an option is wrong)."""
    if getattr(args, "sanity", False):
        from . import cli_sanity

        return cli_sanity.run(args, _fail, lambda path, used: _unique(_safe_stem(path), used))
    if args.out is None:
        return _fail(f"{PROG}: error: --out DIR is required (the folder for the PNG files)", USAGE_ERROR)
    try:
        method = cam.normalise_method(args.method or "gradcam")
        layer = cam.normalise_layer(args.layer)
        target = cam.resolve_target(args.target)
        names = [n.strip().lower() for n in str(args.models or "lite0,lite1,lite2").split(",") if n.strip()]
        if not names:
            raise ValueError("--models is empty; accepted: a comma-separated list such as lite0,lite1,lite2")
        models = [cam.trained_model(name) for name in dict.fromkeys(names)]
        if args.resolution is not None:
            for cam_model in models:
                cam.check_cam_memory(cam_model.model.config.with_resolution(args.resolution))
    except (ValueError, WeightsUnavailableError) as mistake:
        return _fail(f"{PROG}: error: {mistake}", USAGE_ERROR)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return _fail(f"{PROG}: error: cannot create the output folder {args.out}: {error.strerror or error}", USAGE_ERROR)

    records: list[dict] = []
    used_names: set[str] = set()
    status = 0
    for image_path in args.images:
        try:
            image = load_image(Path(image_path), name=str(image_path))
        except ImageError as refusal:
            status = _fail(f"{PROG}: {refusal}", FAILED_IMAGE)
            continue
        stem = _unique(_safe_stem(image_path), used_names)
        for cam_model in models:
            result = cam.compute_cam(cam_model, image, method, target, layer, args.resolution)
            png = args.out / f"{stem}_{cam_model.name}.png"
            result.overlay(image).save(png, format="PNG")
            record = {"image": str(image_path), **result.as_dict(), "cam": str(png)}
            if getattr(args, "faithfulness", False):
                from .faithfulness import for_panel

                record["faithfulness"] = for_panel(cam_model, image, result).as_dict()
            records.append(record)
            if not args.json:
                print(_summary(record, result), flush=True)
    if args.json:
        print(json.dumps(records, indent=2))
    return status


def _fail(message: str, status: int) -> int:
    print(" ".join(str(message).split()), file=sys.stderr, flush=True)
    return status


def _safe_stem(path: str) -> str:
    """A file name part made only of letters, digits, '-' and '_' (never a path, never hidden)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(str(path)).stem).strip("_-")
    return stem[:60] or "image"


def _unique(stem: str, used: set[str]) -> str:
    """`stem`, or `stem-2`, `stem-3`... when two inputs share a name (a/cat.jpg and b/cat.jpg)."""
    candidate, number = stem, 1
    while candidate in used:
        number += 1
        candidate = f"{stem}-{number}"
    used.add(candidate)
    return candidate


def _summary(record: dict, result: cam.CamResult) -> str:
    top_label, top_prob = result.top5[0]
    return (
        f"{record['image']}  {result.model_label} @{result.resolution}  {cam.METHOD_LABELS[result.method]} at {result.layer}"
        f"  target: {result.target_label} ({result.target_prob:.1%})  top-1: {top_label} ({top_prob:.1%})"
        f"  half the attention in {result.attention.mass_share_50:.1%} of the image  -> {record['cam']}"
    ) + (_faithfulness_summary(record["faithfulness"]) if "faithfulness" in record else "")


def _faithfulness_summary(figures: dict) -> str:
    p = str(figures["percentiles"][-1])
    random = figures["baselines"].get("random", {})
    return (f"\n    faithfulness: keep highlighted {figures['keep_highlighted']:+.3f} (random map {random.get('keep_highlighted', float('nan')):+.3f}; higher is better)"
            f"  ROAD most relevant first p{p} {figures['road_most_relevant_first'][p]:+.3f}"
            f" (random {random.get('road_most_relevant_first', {}).get(p, float('nan')):+.3f}; lower is better)"
            f"  in {figures['seconds']:.1f} s")
