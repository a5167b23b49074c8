"""`python -m effnet`: profile a configuration, list the presets, time a network, explain a prediction.

    python -m effnet profile --preset b3 [--json]
    python -m effnet profile --phi 2.5 [--alpha 1.2 --beta 1.1 --gamma 1.15] [--variant lite] [--json]
    python -m effnet profile --depth 2 --width 1 --resolution 224 [--variant lite] [--json]
    python -m effnet profile --preset v2_s [--batch 32] [--dtype float16] --json   (memory traffic, intensity)
    python -m effnet profile --preset b0 --latency [--device auto|cpu|cuda] [--batch 8] [--dtype float16]
                             [--mode eager|channels_last|compile|cuda_graphs]
                             [--channels-last] [--runs N] [--time-budget S] [--json]
    python -m effnet profile --preset b0 --predict "H200 SXM" [--batch 32] [--dtype float16] [--json]
                             (predicted eager GPU latency, effnet.cost.predict; no GPU needed)
    python -m effnet profile --preset b0 --layers [--predict "H200 SXM" --batch 32 --dtype float16] [--json | --csv]
                             (every layer: effnet.layers)
    python -m effnet profile --preset b0 --latency --runtime onnxruntime|both [--batch 8] [--json]
                             (ONNX Runtime beside PyTorch eager on the CPU)
    python -m effnet export --preset b3 --onnx b3.onnx [--seed 0 | --untrained | --state-dict PATH]   (effnet.cli_export)
    python -m effnet presets [--json]
    python -m effnet cam ...          (when effnet.cli_cam is installed)
    python -m effnet experiment plan|run|show ...   (effnet.cli_experiment)
    python -m effnet weights list [--json] | fetch NAME... | --all   (effnet.cli_weights)

The only place in the package that prints. A mistake in the arguments exits with status 2 and one
line on stderr (no traceback); --json prints exactly one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from types import ModuleType
from typing import NoReturn

from .cli_arguments import UsageError, add_network_arguments, config_from_arguments
from .cli_format import ProgressBar, mib, milliseconds, table
from .cost.devices import MODES
from .cost.latency import Latency, measure_latency
from .cost.traffic import Traffic, traffic
from .profile import Profile, profile
from .scaling import PRESETS, ScalingConfig, preset
from .units import si


def _load_cam_module() -> ModuleType | None:
    """The Grad-CAM subcommand's module (effnet.cli_cam, written separately), or None if absent."""
    try:
        return importlib.import_module(f"{__package__}.cli_cam")
    except ModuleNotFoundError as missing:
        if missing.name != f"{__package__}.cli_cam":  # cli_cam is there but something it needs is not
            raise
        return None


USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is reported on one line (no usage block) with exit status 2."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{self.prog}: error: {message}")
        raise SystemExit(USAGE_ERROR)


def _fail(message: str) -> None:
    print(" ".join(str(message).split()), file=sys.stderr)


def build_parser(cam_module: ModuleType | None = None) -> argparse.ArgumentParser:
    """The argument parser; `cam_module` (effnet.cli_cam) adds the 'cam' subcommand when given."""
    parser = _Parser(prog="python -m effnet", description="Build, profile and explain compound-scaled EfficientNets.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    prof = commands.add_parser("profile", help="parameters, multiply-adds, memory and (optionally) latency of one configuration")
    add_network_arguments(prof)
    timing = prof.add_argument_group("latency (random weights: timing does not depend on their values)")
    timing.add_argument("--latency", action="store_true", help="also time forward passes")
    timing.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where to time (default auto: the GPU if there is one)")
    timing.add_argument("--batch", type=int, help="images per forward pass, for memory traffic and latency (default 1)")
    timing.add_argument("--dtype", help="float32 (default), float16 or bfloat16, for memory traffic and latency "
                                         "(float16 latency: GPU only)")
    timing.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    timing.add_argument("--mode", choices=tuple(MODES), help="how to execute: eager (default), channels_last, compile "
                                                              "(torch.compile; the first pass compiles, untimed) or "
                                                              "cuda_graphs (GPU only)")
    timing.add_argument("--runs", type=int, help="timed runs (default: chosen from the warm-up time)")
    timing.add_argument("--time-budget", type=float, help="seconds the whole measurement may take")
    timing.add_argument("--runtime", choices=("pytorch", "onnxruntime", "both"),
                        help="what runs the network: pytorch (default), onnxruntime (the ONNX export on ONNX Runtime's "
                             "CPU execution provider, same batch and threads) or both, one after the other (CPU only)")
    prof.add_argument("--predict", metavar="GPU", help="also predict the eager latency on this GPU (no GPU needed): "
                                                        "H100 SXM, H200 SXM, A100 SXM 80GB, L4, T4 or RTX 4090 "
                                                        "(case and spaces do not matter); uses --batch and --dtype")
    prof.add_argument("--layers", action="store_true", help="every layer: kind, shapes, params, MACs, bytes, FLOP/B "
                                                           "(and with --predict its predicted share of the time)")
    prof.add_argument("--csv", action="store_true", help="with --layers: print the layer table as CSV")
    prof.add_argument("--json", action="store_true", help="print one JSON object instead of tables")

    listing = commands.add_parser("presets", help="the official configurations with their parameters and multiply-adds")
    listing.add_argument("--json", action="store_true", help="print one JSON object instead of a table")

    if cam_module is not None:
        cam_module.add_parser(commands)
    from . import cli_export

    cli_export.add_parser(commands)
    from . import cli_experiment

    cli_experiment.add_parser(commands)
    from . import cli_weights

    cli_weights.add_parser(commands)
    return parser


# ---------------------------------------------------------------------------------------------
# profile
# ---------------------------------------------------------------------------------------------
def _run_profile(args: argparse.Namespace) -> int:
    timing_options = {"--device": args.device, "--runs": args.runs, "--time-budget": args.time_budget, "--mode": args.mode,
                      "--runtime": args.runtime}
    stray = [name for name, value in timing_options.items() if value is not None] + (["--channels-last"] if args.channels_last else [])
    if stray and not args.latency:
        raise UsageError(f"{', '.join(stray)} {'needs' if len(stray) == 1 else 'need'} --latency")
    if args.csv and (not args.layers or args.json):
        raise UsageError("--csv prints the layer table: use it with --layers and without --json")
    config = config_from_arguments(args)
    result = profile(config)
    moved = traffic(config, batch=1 if args.batch is None else args.batch, dtype=args.dtype or "float32")
    prediction = None
    if args.predict is not None:
        from .cost.predict import predict

        prediction = predict(config, args.predict, batch=moved.batch, dtype=moved.dtype)
    latency, runtime_latency = _measure(args, config) if args.latency else (None, None)
    layers = None
    if args.layers:
        from .layers import layer_profile, to_csv

        layers = layer_profile(config, moved.batch, moved.dtype, args.predict)
        if args.csv:
            print(to_csv(layers), end="")
            return 0
    if args.json:
        document = result.as_dict()
        # memory traffic for the batch and dtype (effnet.cost.traffic): per stage and for the network
        document.update(batch=moved.batch, dtype=moved.dtype, memory_bytes=moved.memory_bytes, intensity=moved.intensity,
                        batch_macs=moved.macs)
        for row, stage in zip(document["stages"], moved.stages):
            row.update(memory_bytes=stage.memory_bytes, intensity=stage.intensity, batch_macs=stage.macs)
        if latency is not None:
            document["latency"] = latency.as_dict()
        if runtime_latency is not None:  # --runtime both: PyTorch under "latency", ONNX Runtime beside it
            document["latency_onnxruntime"] = runtime_latency.as_dict()
            document["onnxruntime_speedup"] = latency.median_ms / runtime_latency.median_ms
        if layers is not None:
            document.update(layers.as_dict())
        if prediction is not None:
            predicted = prediction.as_dict()
            document.update({key: predicted[key] for key in ("predicted_latency_ms", "launch_ms", "memory_ms", "compute_ms")})
            document["prediction"] = predicted
            for row, stage in zip(document["stages"], predicted["stages"]):
                row["predicted_latency_ms"] = stage["predicted_latency_ms"]
        print(json.dumps(document, indent=2))
    else:
        text = format_profile(result, latency, moved)
        if runtime_latency is not None:
            text += (f"\nlatency: {runtime_latency.summary()}\nONNX Runtime is {latency.median_ms / runtime_latency.median_ms:.2f}x "
                     "as fast as PyTorch eager here (ratio of the medians)")
        if layers is not None:
            text += "\n\n" + format_layers(layers)
        if prediction is not None:
            text += (f"\npredicted latency on {prediction.device.name} (eager, batch {prediction.batch}, {prediction.dtype}; "
                     f"{prediction.calibration_note}): {milliseconds(prediction.latency_ms)} = launch "
                     f"{milliseconds(prediction.launch_ms)} + memory-bound {milliseconds(prediction.memory_ms)} + "
                     f"compute-bound {milliseconds(prediction.compute_ms)}")
        print(text)
    return 0


def _measure(args: argparse.Namespace, config: ScalingConfig) -> tuple[Latency, Latency | None]:
    """(the latency asked for, ONNX Runtime's beside PyTorch's with --runtime both, else None)."""
    runtime = args.runtime or "pytorch"
    if runtime != "pytorch":
        if args.device == "cuda":
            raise UsageError("--runtime onnxruntime times on the CPU (ONNX Runtime's CPU execution provider): drop --device cuda")
        if (args.mode or "eager") != "eager" or args.channels_last:
            raise UsageError("--runtime onnxruntime compares with PyTorch eager: drop --mode and --channels-last")
    batch, dtype = 1 if args.batch is None else args.batch, args.dtype or "float32"
    measured: list[Latency] = []
    for name in (("pytorch", "onnxruntime") if runtime == "both" else (runtime,)):
        progress = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
        try:
            if name == "onnxruntime":
                from .cost.runtime_latency import measure_onnxruntime_latency

                measured.append(measure_onnxruntime_latency(config, batch=batch, runs=args.runs, dtype=dtype,
                                                            time_budget_s=args.time_budget, progress=progress))
            else:
                measured.append(measure_latency(
                    config, batch=batch, device="cpu" if runtime == "both" else args.device or "auto", dtype=dtype,
                    runs=args.runs, channels_last=args.channels_last, time_budget_s=args.time_budget,
                    progress=progress, mode=args.mode or "eager",
                ))
        finally:
            if progress is not None:
                progress.close()
    return measured[0], measured[1] if len(measured) > 1 else None


def format_layers(layers) -> str:
    """The layer table (effnet.layers) as text: one line per layer."""
    timed = layers.prediction is not None
    header = ("Layer", "Kind", "Output", "Params", "MACs", f"Bytes (batch {layers.batch})", "FLOP/B") + (
        ("Predicted", "Share") if timed else ())
    total = layers.prediction.latency_ms if timed else 1.0
    rows = []
    for row in layers.layers:
        cells = (row.name, row.kind, "x".join(map(str, row.output_shape)), si(row.params), si(row.macs),
                 si(row.bytes) + "B", f"{row.intensity:.1f}")
        if timed:
            cells += (milliseconds(row.predicted_ms), f"{100 * row.predicted_ms / total:.1f}%")
        rows.append(cells)
    lines = table(header, rows, left=(0, 1))
    if timed:
        lines.append(f"Predicted: {layers.prediction.label}; eager, batch {layers.batch}, {layers.dtype}, "
                     f"{milliseconds(layers.prediction.latency_ms)} in all")
    return "\n".join(lines)


def format_profile(result: Profile, latency: Latency | None = None, moved: Traffic | None = None) -> str:
    """The stage table laid out like the paper's Table 1, with per-stage cost, then the totals."""
    config = result.config
    moved = moved or traffic(config)
    header = ("Stage", "Operator", "Resolution", "Channels", "Layers", "Params", "MACs", f"Bytes (batch {moved.batch})", "FLOP/B")
    rows = [
        (
            str(row.stage.index),
            row.stage.operator,
            f"{row.stage.input_resolution}x{row.stage.input_resolution}",
            str(row.stage.out_channels),
            str(row.stage.layers),
            si(row.params),
            si(row.macs),
            si(stage.memory_bytes) + "B",
            f"{stage.intensity:.1f}",
        )
        for row, stage in zip(result.stages, moved.stages)
    ]
    lines = [
        f"{config.label}: variant {config.variant}, depth {config.depth:.4g}, width {config.width:.4g}, "
        f"resolution {config.resolution}x{config.resolution}",
        "",
        *table(header, rows, left=(1,)),
        "",
        f"{result.params / 1e6:.2f} M parameters ({result.params:,})",
        f"{result.macs / 1e9:.2f} G multiply-adds ({result.flops / 1e9:.2f} GFLOPs); the paper's \"FLOPs\" are multiply-adds",
        f"activation memory (float32, estimated): {mib(result.activation_bytes)} peak per image for inference, "
        f"{mib(result.training_activation_bytes)} per image kept for a backward pass",
        f"memory traffic (batch {moved.batch}, {moved.dtype}; one kernel a layer, no cache reuse): "
        f"{mib(moved.memory_bytes)}, {moved.intensity:.1f} FLOP per byte",
    ]
    if latency is not None:
        lines.append(f"latency: {latency.summary()}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# presets
# ---------------------------------------------------------------------------------------------
def _run_presets(args: argparse.Namespace) -> int:
    entries = []
    for name in PRESETS:
        config = preset(name)
        cost = profile(config)
        entries.append(
            {
                "name": name, "label": config.label, "variant": config.variant, "depth": config.depth,
                "width": config.width, "resolution": config.resolution, "dropout": config.dropout,
                "params": cost.params, "macs": cost.macs, "flops": cost.flops,
            }
        )
    if args.json:
        print(json.dumps({"presets": entries}, indent=2))
        return 0
    header = ("Preset", "Variant", "Width", "Depth", "Resolution", "Dropout", "Params", "Multiply-adds")
    rows = [
        (e["name"], e["variant"], f"{e['width']:g}", f"{e['depth']:g}", str(e["resolution"]), f"{e['dropout']:g}",
         f"{e['params'] / 1e6:.2f} M", f"{e['macs'] / 1e9:.2f} G")
        for e in entries
    ]
    print("\n".join(table(header, rows, left=(0, 1))))
    return 0


# ---------------------------------------------------------------------------------------------
# formatting helpers
# ---------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, or 2 for a usage mistake)."""
    cam_module = _load_cam_module()
    parser = build_parser(cam_module)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a parse error already reported on one line (2)
        return stop.code if isinstance(stop.code, int) else USAGE_ERROR
    try:
        if args.command == "profile":
            return _run_profile(args)
        if args.command == "presets":
            return _run_presets(args)
        if args.command == "export":
            from . import cli_export

            return int(cli_export.run(args))
        if args.command == "cam" and cam_module is not None:
            return int(cam_module.run(args))
        if args.command == "experiment":
            from . import cli_experiment

            return int(cli_experiment.run(args))
        if args.command == "weights":
            from . import cli_weights

            return int(cli_weights.run(args))
        parser.error(f"unknown command {args.command!r}")
    except ValueError as mistake:  # ConfigError, LatencyError, UsageError, ...: the user's to fix
        _fail(f"{parser.prog} {args.command}: error: {mistake}")
        return USAGE_ERROR
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else USAGE_ERROR
    except BrokenPipeError:  # `| head` closed stdout: nothing left to say
        return 0
    return 0
