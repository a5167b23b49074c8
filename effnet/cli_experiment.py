"""`python -m effnet experiment`: the matched-FLOPs plan, and training the five networks.

    python -m effnet experiment plan --flops 4.5 [--base b0] [--json]
    python -m effnet experiment run --out DIR [--data synthetic|PATH|imagenette] [--base small]
                                    [--flops 4.5] [--epochs N] [--seeds K] [--device auto|cpu|cuda]
                                    [--train-size N] [--test-size N] [--threads T] [--quick]
                                    [--mode channels_last] [--dropout P] [--stochastic-depth P]
    python -m effnet experiment show DIR [--json]
    python -m effnet experiment samples --out FILE.png [--resolution 80] [--seed 0]
    python -m effnet experiment rescore DIR
    python -m effnet experiment budget DIR --longer LONGER_DIR

`plan --json` prints a JSON list of five objects (baseline, depth, width, resolution, compound).
`run` writes DIR/results.json and DIR/<name>-seed<k>.pt; rerun the same command to resume an
interrupted run. `--seeds K` trains every network K times, seed k on its own training scenes and
from its own initialisation, all scored on the same held-out scenes. `--quick` is a small run for
tests and CI: all five networks, a few minutes on 2 CPU cores. `show --json` prints the results
document: per network the means and sds over seeds, chance levels, ceilings and figures by object
size; the pairwise comparisons with their p-values and verdicts. `budget` compares a run with a
longer run of some of its networks (same scenes and seed, more epochs) and stores the check in
DIR/results.json: whether more steps still raise the baseline's validation accuracy, and whether
the order holds.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from .experiment.plan import TITLES, matched_plan, paper_rows, plan_as_dicts
from .experiment.results import read_results
from .cli_format import LineProgress, ProgressBar, Quiet, table as _table
from .experiment.train import MODES
from .units import si

# --quick: a tiny base (d0.5 w0.25 r56) at 2.5x on 3000 scenes of the easy level for 3 epochs.
# Checked in tests: all five train, write their files and load back, and most beat chance.
QUICK = {"base": "d0.5,w0.25,r56", "flops": 2.5, "epochs": 3, "train_size": 3000, "val_size": 200, "test_size": 400,
         "easy": True}
# 12 epochs: the baseline gained 12.8 validation points from 6 to 12 epochs (docs/experiment.md)
DEFAULTS = {"base": "small", "flops": 4.5, "epochs": 12, "train_size": 5000, "val_size": 500, "test_size": 1500, "easy": False}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("experiment", help="depth-, width-, resolution-only and compound scaling at equal FLOPs",
                                   description="The paper's Table 7 experiment: four ways to spend the same FLOPs.")
    commands = parser.add_subparsers(dest="experiment_command", metavar="STEP", required=True)

    plan = commands.add_parser("plan", help="the five networks at a FLOPs multiple of the base (closed form, instant)")
    plan.add_argument("--flops", type=float, default=4.5, help="FLOPs multiple of the base (default 4.5, as Table 7)")
    plan.add_argument("--base", default="b0", help="base: a preset (default b0), 'small' or d0.5,w0.4,r80")
    plan.add_argument("--classes", type=int, help="classifier outputs (default: 1000 for a preset base, 10 as the synthetic task otherwise)")
    plan.add_argument("--json", action="store_true", help="print a JSON list instead of a table")

    run = commands.add_parser("run", help="train and evaluate the five networks; writes DIR/results.json")
    run.add_argument("--out", required=True, type=Path, help="folder for results.json and the checkpoints")
    run.add_argument("--data", default="synthetic", help="synthetic (default), imagenette, or a folder in ImageFolder layout")
    run.add_argument("--base", help=f"base network (default {DEFAULTS['base']}: d0.5 w0.4 r80; or a preset, or d0.5,w0.4,r80)")
    run.add_argument("--flops", type=float, help=f"FLOPs multiple (default {DEFAULTS['flops']})")
    run.add_argument("--epochs", type=int, help=f"epochs per network (default {DEFAULTS['epochs']})")
    run.add_argument("--seeds", type=int, default=1,
                     help="train each network this many times (seeds 0..K-1: each its own training scenes and "
                          "initialisation; mean +- sd and paired comparisons)")
    run.add_argument("--mode", choices=MODES, help="how the CPU computes (default: the recipe's, channels_last)")
    run.add_argument("--dropout", type=float, help="dropout before the classifier for all five (default: the recipe's)")
    run.add_argument("--stochastic-depth", type=float, help="stochastic depth for all five (default: the recipe's)")
    run.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto: the GPU when there is one")
    run.add_argument("--train-size", type=int, help=f"synthetic training scenes (default {DEFAULTS['train_size']})")
    run.add_argument("--test-size", type=int, help=f"synthetic held-out scenes (default {DEFAULTS['test_size']})")
    run.add_argument("--val-size", type=int, help="synthetic validation scenes, apart from the test scenes (default 500)")
    run.add_argument("--objects", default="small", choices=("small", "large"),
                     help="synthetic task: small (default; targets 12-45%% of the side) or large (35-90%%)")
    run.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic scenes (default 0)")
    run.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    run.add_argument("--only", help="comma-separated subset of baseline,depth,width,resolution,compound")
    run.add_argument("--cam-images", type=int, help="held-out images that get maps (default: all)")
    run.add_argument("--quick", action="store_true", help="a small run for tests and CI (a few minutes on a CPU)")
    run.add_argument("--json", action="store_true", help="print the results document")

    samples = commands.add_parser("samples", help="a PNG of the synthetic task: one scene per class beside its mask")
    samples.add_argument("--out", required=True, type=Path, help="the PNG file to write")
    samples.add_argument("--resolution", type=int, default=80,
                         help="pixels per scene (default 80: what the experiment's base network sees)")
    samples.add_argument("--seed", type=int, default=0)

    rescore = commands.add_parser("rescore", help="score an older single-seed run again under today's measurement")
    rescore.add_argument("folder", type=Path, help="the folder of a format-1 run (results.json and <name>.pt)")
    budget = commands.add_parser("budget", help="check the training budget against a longer run of some networks")
    budget.add_argument("folder", type=Path, help="the --out folder of a finished run")
    budget.add_argument("--longer", required=True, type=Path, help="a run of the same task with more epochs (--only a few)")
    show = commands.add_parser("show", help="the table of a finished run")
    show.add_argument("folder", type=Path, help="the --out folder of a run (or its results.json)")
    show.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    if args.experiment_command == "plan":
        return _plan(args)
    if args.experiment_command == "run":
        return _run(args)
    if args.experiment_command == "samples":
        return _samples(args)
    if args.experiment_command == "rescore":
        return _rescore(args)
    if args.experiment_command == "budget":
        return _budget(args)
    return _show(args)


def _rescore(args: argparse.Namespace) -> int:
    from .experiment.rescore import rescore

    progress = LineProgress(sys.stderr)
    document = rescore(args.folder, progress=progress)
    print(format_results(document))
    print(f"wrote {args.folder / 'results.json'}")
    return 0


def _budget(args: argparse.Namespace) -> int:
    from .experiment.budget import budget_check

    path = args.folder / "results.json" if args.folder.is_dir() else args.folder
    document, longer = read_results(path), read_results(args.longer)
    relative = os.path.relpath(args.longer.resolve(), path.parent.resolve())
    document["budget_check"] = budget_check(document, longer, relative)
    path.write_text(json.dumps(document, indent=1))
    print("\n".join(document["budget_check"]["sentences"]))
    print(f"wrote {path}")
    return 0


def _samples(args: argparse.Namespace) -> int:
    from PIL import Image

    from .experiment.synthetic import sample_grid

    if not 16 <= args.resolution <= 512:
        raise ValueError(f"--resolution must be from 16 to 512 pixels, got {args.resolution}")
    grid = sample_grid(seed=args.seed, resolution=args.resolution)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(args.out)
    print(f"wrote {args.out}: one scene per class (left) and its object mask (right), {args.resolution} px")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from .experiment.run import base_config
    from .scaling import PRESETS

    classes = args.classes if args.classes is not None else (1000 if args.base.strip().lower() in PRESETS else 10)
    base = base_config(args.base, classes)
    rows = plan_as_dicts(matched_plan(base, args.flops))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    paper = paper_rows()
    print(f"Same FLOPs, four ways: {args.flops:g}x the multiply-adds of the base (d={base.depth:g}, w={base.width:g}, "
          f"r={base.resolution}); d, w, r relative to the base.")
    header = ("Network", "d", "w", "r", "Layers", "Params", "MACs", "x base", "Paper (B0, Table 7)")
    table = []
    for row in rows:
        p = paper.get(row["name"], {})
        table.append((row["name"], f"{row['depth_ratio']:.3g}", f"{row['width_ratio']:.3g}",
                      f"{row['resolution_ratio']:.3g} ({row['resolution']} px)", str(sum(row["layers"])),
                      si(row["params"]), si(row["macs"]), f"{row['flops_multiple']:.2f}",
                      f"{p.get('setting', '')}: {p.get('flops_b', '')} B FLOPs, {p.get('top1', '')}% top-1"))
    print("\n".join(_table(header, table, left=(0, 8))))
    print("Paper: Tan & Le, EfficientNet (arXiv:1905.11946v5), Table 7, ImageNet; its FLOPs are multiply-adds.")
    return 0


def _source(args: argparse.Namespace, sizes: dict):
    from .experiment.data import ImageFolderSource, SyntheticSource, imagenette_source

    if args.data == "synthetic":
        val_size = sizes["val_size"] if args.val_size is None else args.val_size
        return SyntheticSource(sizes["train_size"], sizes["test_size"], seed=args.data_seed, easy=sizes["easy"],
                               objects=args.objects, val_size=val_size)
    if args.data == "imagenette":
        return imagenette_source(args.out / "data", seed=args.data_seed)
    return ImageFolderSource(Path(args.data), seed=args.data_seed)


def _run(args: argparse.Namespace) -> int:
    from .experiment.train import Recipe
    from .experiment.run import run_experiment

    settings = dict(QUICK if args.quick else DEFAULTS)
    for key in ("base", "flops", "epochs", "train_size", "test_size"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    if not 1 <= args.seeds <= 20:
        raise ValueError(f"--seeds must be from 1 to 20, got {args.seeds}")
    only = None
    if args.only:
        only = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in only if name not in TITLES]
        if unknown:
            raise ValueError(f"unknown network {', '.join(unknown)} in --only; accepted: {', '.join(TITLES)}")
    source = _source(args, settings)
    overrides = {key: getattr(args, key) for key in ("mode", "dropout", "stochastic_depth") if getattr(args, key) is not None}
    recipe = Recipe(epochs=settings["epochs"], **overrides)
    first_process = int(os.environ.get("RANK", "0")) == 0  # under torchrun, process 0 speaks for all
    progress = ProgressBar(sys.stderr, width=24) if sys.stderr.isatty() else LineProgress(sys.stderr)
    if not first_process:
        progress = Quiet()
    command = "python -m effnet experiment " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["experiment"] else ""
    try:
        document = run_experiment(args.out, source, base=settings["base"], flops_multiple=settings["flops"], recipe=recipe,
                                  seeds=tuple(range(args.seeds)), device=args.device, threads=args.threads, only=only,
                                  cam_images=args.cam_images, command=command, progress=progress)
    finally:
        progress.close()
    if not first_process:
        return 0
    if args.json:
        print(json.dumps(document, indent=1))
    else:
        print(format_results(document))
        print(f"wrote {args.out / 'results.json'}")
    return 0


def _show(args: argparse.Namespace) -> int:
    document = read_results(args.folder)
    print(json.dumps(document, indent=1) if args.json else format_results(document))
    return 0


def format_results(document: dict) -> str:
    """The five networks' figures (means over seeds), each beside what it must be compared with,
    and the verdicts of the pairwise comparisons."""
    grid = document.get("common_grid")
    seeds = len(document.get("seeds") or [])
    header = ("Network", "d", "w", "r", "MACs", "Test accuracy", f"Pointing game, common {grid}x{grid} (chance)",
              "Native grid: pointing (ceiling, chance)", "Mass inside, common (chance)", "Last-fifth gain")
    rows = []
    for n in document["networks"]:
        grid_native = n.get("native_grid")
        rows.append((n["name"], f"{n['depth']:.3g}", f"{n['width']:.3g}", str(n["resolution"]), si(n["macs"]),
                     _mean_sd(n, "test_accuracy"),
                     f"{_mean_sd(n, 'pointing_game_common')} ({_percent(n.get('pointing_game_common_chance'))})",
                     f"{grid_native}x{grid_native}: {_mean_sd(n, 'pointing_game_native')} "
                     f"({_percent(n.get('pointing_game_native_ceiling'))}, {_percent(n.get('pointing_game_native_chance'))})",
                     f"{_mean_sd(n, 'mass_inside_common')} ({_percent(n.get('mass_inside_common_chance'))})",
                     _points(n.get("last_fifth_validation_gain"))))
    lines = _table(header, rows, left=(0,))
    lines.append(f"Means over {seeds} seed{'s' if seeds != 1 else ''} (± sd). Chance: each network's maps scored "
                 "against other scenes' masks. Ceiling: the best a map peaking in one cell of that grid can score.")
    sized = [n for n in document["networks"] if n.get("by_object_size")]
    if sized:
        cuts = sized[0]["by_object_size"]["cuts"]
        lines.append(f"\nBy object size (thirds of the target's size; cuts at {100 * cuts[0]:.0f}% and {100 * cuts[1]:.0f}% "
                     "of the image side): accuracy / common-grid pointing game")
        size_rows = [(n["name"], *(f"{_percent(g.get('test_accuracy'))} / {_percent(g.get('pointing_game_common'))}"
                                   for g in n["by_object_size"]["groups"])) for n in sized]
        lines += _table(("Network", "small", "medium", "large"), size_rows, left=(0,))
    comparisons = document.get("comparisons") or []
    if comparisons:
        lines.append("\nComparisons (paired on the same test images). " + str(document.get("verdict_rule", "")))
        undecided = [c for c in comparisons if c["verdict"] == "no verdict"]
        if len(undecided) == len(comparisons):
            lines.append(f"- No verdict on any pair: {comparisons[0]['seeds']} seed(s), at least 3 are needed.")
        else:
            lines += [f"- {c['sentence']}" for c in comparisons]
    check = document.get("budget_check")
    lines.append("\nBudget: " + (" ".join(check["sentences"]) if check else
                                 "not checked against a longer run (python -m effnet experiment budget)."))
    lines.append(f"\nTask: {document.get('task')}; data {document['dataset'].get('train_size')} train / "
                 f"{document['dataset'].get('val_size', '-')} validation / {document['dataset'].get('test_size')} test scenes; "
                 f"device: {document.get('device')}; mode: {document.get('mode')}; wall time "
                 f"{_seconds(float(document.get('wall_seconds') or 0))}")
    return "\n".join(lines)


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _points(value) -> str:
    return "-" if value is None else f"{100 * value:+.1f} pts"


def _mean_sd(network: dict, key: str) -> str:
    mean, sd = network.get(f"{key}_mean"), network.get(f"{key}_sd")
    if mean is None:
        return "-"
    return f"{100 * mean:.1f}%" + (f" ± {100 * sd:.1f}" if sd is not None else "")


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


